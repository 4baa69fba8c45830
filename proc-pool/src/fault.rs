//! Fault injection for the pool's own tests (cargo feature `fault-injection`, off by default):
//! a task running in a worker asks the worker to spoil the answer of its current chunk (garble
//! it, break its framing, stop before writing it, or panic outside any `catch_unwind`), and a
//! test can hide `close_range` from workers forked later, as a kernel before 5.9 would. So the
//! tests can prove what each fault costs: only that chunk's tasks, never a hang.
//!
//! Invariant: without the feature none of this is compiled, and the worker's answer path has
//! no extra check. With it, the request is a per-process flag that the worker reads and clears
//! once per chunk, right before the answer is written.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use crate::frame;

/// How the worker should spoil its next answer: [`INTACT`], [`GARBLE_BODY`] or
/// [`GARBLE_LENGTH`]. Each worker has its own copy of this flag after the fork.
static SPOIL_NEXT_ANSWER: AtomicU8 = AtomicU8::new(INTACT);
/// Send the answer as it is.
const INTACT: u8 = 0;
/// Send a well-delimited frame whose body is garbage.
const GARBLE_BODY: u8 = 1;
/// Send a length prefix no frame can have.
const GARBLE_LENGTH: u8 = 2;
/// Stop (`SIGSTOP`) after the chunk completed, before writing its answer.
const STOP: u8 = 3;
/// Panic in the worker's loop, outside any `catch_unwind`.
const UNWIND: u8 = 4;

/// Set in the parent: workers forked from now on see `close_range` fail with `ENOSYS`.
static HIDE_CLOSE_RANGE: AtomicBool = AtomicBool::new(false);

/// Called in the parent before building a pool: its workers then find no `close_range` (as on
/// Linux 5.4 to 5.8, or under a seccomp profile that refuses it) and must close their
/// inherited descriptors another way. Under `Fork` only: a fork server is a fresh image of the
/// executable and never sees this process's globals.
pub fn hide_close_range(hidden: bool) {
    HIDE_CLOSE_RANGE.store(hidden, Ordering::Relaxed);
}

/// Whether `close_range` should fail with `ENOSYS` (see [`hide_close_range`]).
pub(crate) fn close_range_hidden() -> bool {
    HIDE_CLOSE_RANGE.load(Ordering::Relaxed)
}

/// Called from inside a task: the worker stops itself (`SIGSTOP`) once the chunk has completed
/// and before it writes the answer, as a debugger or a job-control stop could.
pub fn stop_before_answering() {
    SPOIL_NEXT_ANSWER.store(STOP, Ordering::Relaxed);
}

/// Called from inside a task: once the chunk has completed, the worker panics in its own loop,
/// where no `catch_unwind` is, as a bug in the pool's worker code would.
pub fn unwind_out_of_the_worker() {
    SPOIL_NEXT_ANSWER.store(UNWIND, Ordering::Relaxed);
}

/// Called from inside a task: the worker sends a malformed answer for the current chunk (a
/// well-delimited frame whose body is garbage). The caller sees `TaskError::Codec` for the
/// chunk's tasks; the worker and the pool go on.
pub fn garble_next_answer() {
    SPOIL_NEXT_ANSWER.store(GARBLE_BODY, Ordering::Relaxed);
}

/// Called from inside a task: the worker sends an absurd length prefix for the current chunk's
/// answer, so the rest of its stream cannot be framed. The pool must give up on that worker
/// (its chunk fails, it is replaced) rather than trust the length.
pub fn break_answer_framing() {
    SPOIL_NEXT_ANSWER.store(GARBLE_LENGTH, Ordering::Relaxed);
}

/// Spoils `answer` (one complete result frame) as a task of this chunk asked, if it did.
pub(crate) fn spoil_if_asked(answer: &mut Vec<u8>) {
    match SPOIL_NEXT_ANSWER.swap(INTACT, Ordering::Relaxed) {
        GARBLE_BODY => {
            answer.truncate(8);
            answer.extend_from_slice(b"not a result frame");
            frame::finish_frame(answer, 0);
        }
        GARBLE_LENGTH => answer[..8].copy_from_slice(&[0xff; 8]),
        // SAFETY: raise has no preconditions; SIGSTOP cannot be caught, so no handler runs.
        STOP => unsafe {
            libc::raise(libc::SIGSTOP);
        },
        UNWIND => panic!("a fault injected outside any catch_unwind"),
        _ => {}
    }
}
