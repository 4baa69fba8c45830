//! How a typed call becomes bytes for a worker, and the bytes become a typed result again.
//!
//! A chunk of tasks travels as one task frame (see `frame.rs`) naming two code addresses: a
//! monomorphised *trampoline* (`call_fn::<T, U>` or `run_job::<J>`) and, for plain functions,
//! the user's `fn(T) -> U`. The worker jumps to the trampoline, which decodes each input,
//! calls the function and encodes the result.
//!
//! # Why sending a code address is sound, and only to our own children
//!
//! A worker is created by `fork` without `exec`: its address space is a copy of the parent's,
//! the same executable and libraries mapped at the same addresses (ASLR happens at `exec`, not
//! at `fork`). So a function pointer taken in the parent names the same function in the
//! worker. That argument holds only for processes forked from this one, hence:
//!
//! - frames are built only here, as private bytes ([`Chunk`] has no public constructor or
//!   accessor), and are written only by the manager, only to the pipes it created for the
//!   workers it forked itself (`worker.rs`);
//! - every frame carries this process's random [`token`]; a worker (which inherited the token
//!   by the fork) refuses a frame that does not carry it and exits instead of jumping anywhere.
//!
//! Invariant: every task in a [`Chunk`] gets exactly one outcome through its [`Reply`].

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_channel::Sender;

use crate::error::TaskError;
use crate::frame::{self, ItemOutcome};
use crate::{Job, Wire, WireError, run_blocking};

/// The function a worker calls for each task of a chunk: decode the input from `input`, run,
/// append the encoded result to `out`.
pub(crate) type Trampoline =
    fn(func: usize, input: &[u8], out: &mut Vec<u8>) -> Result<(), WireError>;

/// This process's token; 0 until [`token`] first runs.
static TOKEN: AtomicU64 = AtomicU64::new(0);

/// The random token of this process, chosen once (the pool builder calls this before it forks,
/// so every worker inherits the value).
pub(crate) fn token() -> u64 {
    let t = TOKEN.load(Ordering::Relaxed);
    if t != 0 {
        return t;
    }
    // RandomState draws its keys from the OS's random source.
    let fresh = RandomState::new().hash_one(std::process::id()) | 1;
    match TOKEN.compare_exchange(0, fresh, Ordering::Relaxed, Ordering::Relaxed) {
        Ok(_) => fresh,
        Err(existing) => existing,
    }
}

/// The trampoline for a plain function `fn(T) -> U`.
fn call_fn<T: Wire, U: Wire>(
    func: usize,
    input: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), WireError> {
    // SAFETY: `func` was produced by `Chunk::of_fn::<T, U>` as `f as usize` for an
    // `f: fn(T) -> U`, in the process this worker was forked from, and this very
    // monomorphisation was named in the same frame; by the module's argument the address names
    // that function here, with that signature.
    let f = unsafe { std::mem::transmute::<usize, fn(T) -> U>(func) };
    let input = T::from_bytes(input)?;
    f(input).encode(out);
    Ok(())
}

/// The trampoline for a shared [`Job`]: decode it, run it with the blocking context.
fn run_job<J>(_func: usize, input: &[u8], out: &mut Vec<u8>) -> Result<(), WireError>
where
    J: Job + Wire,
    J::Output: Wire,
{
    let job = J::from_bytes(input)?;
    run_blocking(&job).encode(out);
    Ok(())
}

/// Where a chunk's outcome goes: the submitting call's channel.
pub(crate) type Reply = Sender<ChunkOutcome>;

/// A chunk of tasks on its way to a worker: the encoded frame and where to answer.
pub(crate) struct Chunk {
    /// The complete task frame.
    pub(crate) frame: Vec<u8>,
    /// How many tasks it holds.
    pub(crate) len: usize,
    /// The chunk's position in its submission (for ordered results).
    pub(crate) seq: usize,
    /// Where its outcome goes.
    pub(crate) reply: Reply,
}

/// The answer for one chunk.
pub(crate) struct ChunkOutcome {
    /// The chunk's position in its submission.
    pub(crate) seq: usize,
    /// How many tasks it held.
    pub(crate) len: usize,
    /// The result frame's body and one outcome per task, or one error for every task.
    pub(crate) result: Result<(Vec<u8>, Vec<ItemOutcome>), TaskError>,
}

impl Chunk {
    /// Encodes `items` as one chunk calling `f`.
    pub(crate) fn of_fn<T: Wire, U: Wire>(
        f: fn(T) -> U,
        items: &[T],
        seq: usize,
        reply: Reply,
    ) -> Chunk {
        Self::build(call_fn::<T, U>, f as usize, items, seq, reply)
    }

    /// Encodes `jobs` as one chunk of shared jobs.
    pub(crate) fn of_jobs<J>(jobs: &[J], seq: usize, reply: Reply) -> Chunk
    where
        J: Job + Wire,
        J::Output: Wire,
    {
        Self::build(run_job::<J>, 0, jobs, seq, reply)
    }

    /// Lays out the task frame.
    fn build<T: Wire>(
        trampoline: Trampoline,
        func: usize,
        items: &[T],
        seq: usize,
        reply: Reply,
    ) -> Chunk {
        let mut out = Vec::with_capacity(36 + items.len() * (8 + T::MIN_ENCODED_LEN));
        let at = frame::begin_frame(&mut out);
        out.extend_from_slice(&token().to_le_bytes());
        out.extend_from_slice(&(trampoline as usize as u64).to_le_bytes());
        out.extend_from_slice(&(func as u64).to_le_bytes());
        out.extend_from_slice(&(items.len() as u32).to_le_bytes());
        for item in items {
            frame::put_sized(&mut out, |o| item.encode(o));
        }
        frame::finish_frame(&mut out, at);
        Chunk {
            frame: out,
            len: items.len(),
            seq,
            reply,
        }
    }

    /// Answers every task of the chunk with `err`.
    pub(crate) fn fail(self, err: TaskError) {
        let Chunk {
            len, seq, reply, ..
        } = self;
        // A caller that stopped listening (a dropped iterator) is not an error.
        let _ = reply.send(ChunkOutcome {
            seq,
            len,
            result: Err(err),
        });
    }
}

/// A task frame as the worker sees it.
pub(crate) struct TaskFrame<'a> {
    /// The trampoline to call for each input.
    pub(crate) trampoline: Trampoline,
    /// The user function's address (0 for jobs).
    pub(crate) func: usize,
    /// The encoded inputs.
    pub(crate) inputs: Vec<&'a [u8]>,
}

/// Why a worker refused a task frame.
#[derive(Debug)]
pub(crate) enum BadFrame {
    /// The token is not this process family's: never jump to its addresses.
    ForeignToken,
    /// The frame does not parse.
    Malformed,
}

impl<'a> TaskFrame<'a> {
    /// Parses a task frame's body, in the worker.
    pub(crate) fn parse(body: &'a [u8]) -> Result<TaskFrame<'a>, BadFrame> {
        let mut cur = frame::Cursor::new(body);
        let token_in_frame = cur.u64().map_err(|_| BadFrame::Malformed)?;
        if token_in_frame != TOKEN.load(Ordering::Relaxed) {
            return Err(BadFrame::ForeignToken);
        }
        let trampoline = cur.u64().map_err(|_| BadFrame::Malformed)? as usize;
        let func = cur.u64().map_err(|_| BadFrame::Malformed)? as usize;
        let n = cur.u32().map_err(|_| BadFrame::Malformed)? as usize;
        let mut inputs = Vec::with_capacity(n.min(body.len() / 8));
        for _ in 0..n {
            inputs.push(cur.sized().map_err(|_| BadFrame::Malformed)?);
        }
        if trampoline == 0 || !cur.is_empty() {
            return Err(BadFrame::Malformed);
        }
        // SAFETY: the token matched, so the frame was built by `Chunk::build` in the process
        // this worker was forked from (see the module documentation), where `trampoline` was
        // the address of a `Trampoline`; the fork keeps it valid here.
        let trampoline = unsafe { std::mem::transmute::<usize, Trampoline>(trampoline) };
        Ok(TaskFrame {
            trampoline,
            func,
            inputs,
        })
    }
}

/// Decodes one chunk's outcome into typed results, appending them to `out`.
pub(crate) fn decode_outcome<U: Wire>(outcome: ChunkOutcome, out: &mut Vec<Result<U, TaskError>>) {
    match outcome.result {
        Err(e) => out.extend(std::iter::repeat_n(e, outcome.len).map(Err)),
        Ok((body, items)) => out.extend(items.into_iter().map(|item| match item {
            ItemOutcome::Ok(range) => U::from_bytes(&body[range]).map_err(TaskError::Codec),
            ItemOutcome::Err(e) => Err(e),
        })),
    }
}
