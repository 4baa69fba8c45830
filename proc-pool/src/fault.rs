//! Fault injection for the pool's own tests (cargo feature `fault-injection`, off by default):
//! a task running in a worker asks the worker to spoil the answer of its current chunk, so the
//! tests can prove that a garbled or unframeable answer fails only that chunk's tasks.
//!
//! Invariant: without the feature none of this is compiled, and the worker's answer path has
//! no extra check. With it, the request is a per-process flag that the worker reads and clears
//! once per chunk, right before the answer is written.

use std::sync::atomic::{AtomicU8, Ordering};

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
        _ => {}
    }
}
