//! The message of a caught panic, for runtimes that catch panics at a thread, task or worker
//! boundary and hand them back as a value (`JoinError::Panicked`, `TaskError::Panicked`).
//!
//! It only downcasts and copies: no lock, no I/O. That keeps it usable in a forked worker,
//! where touching a lock another thread may have held is forbidden.

use std::any::Any;

/// The text of a panic payload: the `&str` or `String` that `panic!` carries, or a fixed
/// placeholder for any other payload (`std::panic::panic_any` with a non-string value).
///
/// ```
/// use concurrency_shared::panic_message;
///
/// let payload = std::panic::catch_unwind(|| panic!("boom {}", 7)).unwrap_err();
/// assert_eq!(panic_message(&*payload), "boom 7");
/// ```
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Literal, formatted and non-string payloads each give their text or the placeholder.
    #[test]
    fn every_payload_kind() {
        let literal = std::panic::catch_unwind(|| panic!("plain")).unwrap_err();
        assert_eq!(panic_message(&*literal), "plain");
        let formatted = std::panic::catch_unwind(|| panic!("n = {}", 3)).unwrap_err();
        assert_eq!(panic_message(&*formatted), "n = 3");
        let other = std::panic::catch_unwind(|| std::panic::panic_any(42u8)).unwrap_err();
        assert_eq!(panic_message(&*other), "a panic with a non-string payload");
    }
}
