//! What the compare program does when it is interrupted (`SIGINT` from a Ctrl-C, `SIGTERM`,
//! `SIGHUP`): it removes the scratch directories it made for CPython's script
//! (`scratch::remove_all`), then dies of the same signal, as it would have without this.
//!
//! The signals are blocked in every thread of the program and taken by one thread with
//! `sigwait`, so the clean-up runs as ordinary code, not in a signal handler. Children start
//! with an empty signal mask (Rust's `Command` resets it before `exec`), so they are not
//! affected; they die with the program through `PR_SET_PDEATHSIG` (`child.rs`).
//!
//! Invariant: [`install`] is called before the program starts any other thread, so that no
//! thread can take these signals with their default action and skip the clean-up.

use crate::scratch;

/// The signals that end the program from outside and are worth a clean-up.
const SIGNALS: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// Blocks [`SIGNALS`] in this thread (and so in every thread it starts from now on) and
/// starts the thread that takes them. If any step fails, the signals keep their default
/// action: the program then dies without the clean-up, as it did before.
pub fn install() {
    // SAFETY: `set` is a local sigset_t, initialised by sigemptyset before any other use;
    // `sigaction` with no new action only reads the current one into `old`.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for signal in SIGNALS {
            let mut old: libc::sigaction = std::mem::zeroed();
            let ignored = libc::sigaction(signal, std::ptr::null(), &mut old) == 0
                && old.sa_sigaction == libc::SIG_IGN;
            // A signal ignored from the start (`nohup`, a background job of a script) stays
            // ignored: blocked, Linux would queue it for `sigwait` instead of dropping it.
            if !ignored {
                libc::sigaddset(&mut set, signal);
            }
        }
        set
    };
    // SAFETY: `set` is a valid signal set; the old mask is not wanted.
    if unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) } != 0 {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("signals".to_owned())
        .spawn(move || take_signal(set));
    if spawned.is_err() {
        // No thread to take them: give the signals back their default action.
        // SAFETY: as above.
        unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut()) };
    }
}

/// Waits for one of the signals in `set`, cleans up, and ends the process with it.
fn take_signal(set: libc::sigset_t) {
    let mut signal: libc::c_int = 0;
    // SAFETY: `set` is a valid signal set and `signal` a writable int.
    while unsafe { libc::sigwait(&set, &mut signal) } != 0 {}
    scratch::remove_all();
    // SAFETY: restoring the default action installs no handler; unblocking it in this thread
    // and raising it here delivers it with that action, which ends the process.
    unsafe {
        libc::signal(signal, libc::SIG_DFL);
        let mut one: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut one);
        libc::sigaddset(&mut one, signal);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &one, std::ptr::null_mut());
        libc::raise(signal);
    }
}
