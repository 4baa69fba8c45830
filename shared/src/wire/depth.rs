//! The depth guard: how deeply decoding may nest on one thread, so that a recursive type fed
//! deep input fails with [`WireError::TooDeep`] instead of overflowing the stack (which aborts
//! the process, and would break the promise that no input makes `decode` panic or crash).
//!
//! A type can only contain itself behind a pointer, and the pointers `Wire` supports are
//! `Box<T>` and `Vec<T>`: their `decode` enters one level here. A hand-written impl that
//! decodes a recursive field some other way (through an `Rc`, say) calls [`decode_nested`].
//!
//! Two limits, whichever comes first: [`MAX_DEPTH`] levels, and [`STACK_BUDGET`] bytes of
//! stack used by the levels under way, measured from the address of a local in the outermost
//! level's frame (the stack grows down on every Linux target). A count alone is not enough: a
//! type that holds a 16 KiB array inline uses that much stack per level, so 128 levels of it
//! would need 2 MiB or more, a spawned thread's whole default stack.
//!
//! Invariant: the per-thread depth is the number of guarded decodes under way on this thread;
//! every level entered is left when its guard drops, on success, error or unwind alike. The
//! base address is the outermost level's while the depth is above 0.

use std::cell::Cell;

use super::{Wire, WireError};

/// The deepest nesting of `Box` and `Vec` that decodes: 128 levels, as serde_json allows,
/// while real data types nest a handful of levels deep. A type with large levels stops
/// earlier, at [`STACK_BUDGET`].
pub const MAX_DEPTH: usize = 128;

/// The most stack the levels of one decode may use, measured from the outermost level:
/// 512 KiB, a quarter of a spawned thread's default 2 MiB. The check is made on entering each
/// level, so decoding uses at most this plus one level's own frame (the largest a type's
/// `decode` makes) beyond what its caller had used: a caller needs that much stack free.
pub const STACK_BUDGET: usize = 512 * 1024;

thread_local! {
    /// Guarded decodes under way on this thread.
    static DEPTH: Cell<usize> = const { Cell::new(0) };
    /// The stack address of the outermost guarded decode under way on this thread.
    static BASE: Cell<usize> = const { Cell::new(0) };
}

/// Leaves one level when dropped.
struct Level;

impl Drop for Level {
    fn drop(&mut self) {
        DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
    }
}

/// Runs `decode` one level deeper, or fails with [`WireError::TooDeep`] past [`MAX_DEPTH`]
/// levels or past [`STACK_BUDGET`] bytes of stack.
pub(super) fn nested<T>(decode: impl FnOnce() -> Result<T, WireError>) -> Result<T, WireError> {
    let marker = 0u8;
    let here = std::hint::black_box(&marker) as *const u8 as usize;
    let depth = DEPTH.with(|d| {
        let depth = d.get() + 1;
        d.set(depth);
        depth
    });
    let _level = Level;
    if depth == 1 {
        BASE.with(|b| b.set(here));
    }
    if depth > MAX_DEPTH {
        return Err(WireError::TooDeep { max: MAX_DEPTH });
    }
    let used = BASE.with(Cell::get).saturating_sub(here);
    if used > STACK_BUDGET {
        return Err(WireError::TooDeep { max: depth - 1 });
    }
    decode()
}

/// Decodes a `T` one level deeper: what `Box<T>` and `Vec<T>` do for each value they hold.
/// Call it from a hand-written [`Wire::decode`] for a field through which a type contains
/// itself other than by `Box` or `Vec`, so that deep input is refused instead of overflowing
/// the stack.
///
/// # Errors
///
/// [`WireError::TooDeep`] past [`MAX_DEPTH`] levels or [`STACK_BUDGET`] bytes of stack, or
/// what `T::decode` reports.
///
/// ```
/// use std::rc::Rc;
/// use concurrency_shared::wire::{Wire, WireError, decode_nested};
///
/// /// A list that shares its tails.
/// struct List(Option<Rc<List>>);
///
/// impl Wire for List {
///     fn encode(&self, out: &mut Vec<u8>) {
///         match &self.0 {
///             None => 0u8.encode(out),
///             Some(next) => { 1u8.encode(out); next.encode(out) }
///         }
///     }
///     fn decode(input: &mut &[u8]) -> Result<Self, WireError> {
///         match u8::decode(input)? {
///             0 => Ok(List(None)),
///             1 => Ok(List(Some(Rc::new(decode_nested(input)?)))),
///             tag => Err(WireError::InvalidTag { type_name: "List", tag: tag.into() }),
///         }
///     }
/// }
///
/// let deep = vec![1u8; 100_000];
/// assert!(matches!(List::from_bytes(&deep), Err(WireError::TooDeep { .. })));
/// ```
pub fn decode_nested<T: Wire>(input: &mut &[u8]) -> Result<T, WireError> {
    nested(|| T::decode(input))
}
