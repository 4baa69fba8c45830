//! How a typed call becomes bytes for a worker, and the bytes become a typed result again.
//!
//! A chunk of tasks travels as one task frame (see `frame.rs`) naming two code addresses: a
//! monomorphised *trampoline* (`call_fn::<T, U>` or `run_job::<J>`) and, for plain functions,
//! the user's `fn(T) -> U`. The worker jumps to the trampoline, which decodes each input,
//! calls the function and encodes the result.
//!
//! # Why sending a code address is sound, and only to our own children
//!
//! A code address crosses as an `image::CodeRef`: an offset into the main executable, which
//! the worker rebases on its own copy (the same executable, forked or re-executed), or, under
//! `Fork` only, a raw address in a shared object that was loaded before the pool was built,
//! which a forked worker has at the same place (ASLR happens at `exec`, not at `fork`).
//! `image.rs` says what each start method accepts; anything else is refused with
//! [`TaskError::CodeUnavailable`] before it is sent (`Pool::submit`). That argument holds only
//! for the pool's own workers, hence:
//!
//! - frames are built only here, as private bytes ([`Chunk`] has no public constructor or
//!   accessor), and are written only by the manager, only to the pipes it created for the
//!   workers it started itself (`worker.rs`, `forkserver.rs`);
//! - every frame carries this process's random [`token`]; a worker (which inherited the token
//!   by the fork, or was given it by the fork server's handshake) refuses a frame that does
//!   not carry it and exits instead of jumping anywhere.
//!
//! Invariant: every task in a [`Chunk`] gets exactly one outcome through its [`Reply`].

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use concurrency_shared::WakeOnDrop;
use crossbeam_channel::Sender;

use crate::error::TaskError;
use crate::frame::{self, ItemOutcome};
use crate::image::{self, CodeRef};
use crate::notify::{Notify, Wake};
use crate::{Job, Wire, WireError, run_blocking};

/// The function a worker calls for each task of a chunk: decode the input from `input`, run,
/// append the encoded result to `out`.
pub(crate) type Trampoline =
    fn(func: usize, input: &[u8], out: &mut Vec<u8>) -> Result<(), WireError>;

/// This process's token; 0 until [`token`] first runs.
static TOKEN: AtomicU64 = AtomicU64::new(0);

/// In a fork server: adopts the token of the pool it serves, before forking any worker.
pub(crate) fn adopt_token(token: u64) {
    TOKEN.store(token, Ordering::Relaxed);
}

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
    // SAFETY: `func` was produced by `Chunk::of_fn::<T, U>` from an `f: fn(T) -> U` in the
    // pool's process, and this very monomorphisation was named in the same frame; by the
    // module's argument (`image::resolve`) the address names that function here, with that
    // signature.
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
    /// The awaiting [`AsyncResult`](crate::AsyncResult)'s link, if any: woken when the chunk
    /// is gone (declared after `reply`, so it drops after the sender, see `notify.rs`).
    pub(crate) wake: Option<Wake>,
    /// The code addresses it names outside the main executable (trampoline, function), each
    /// to check before sending (`image::Admission`); both `None` in the common case.
    pub(crate) foreign: [Option<usize>; 2],
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
        let mut out = Vec::with_capacity(38 + items.len() * (8 + T::MIN_ENCODED_LEN));
        let at = frame::begin_frame(&mut out);
        out.extend_from_slice(&token().to_le_bytes());
        let trampoline = image::locate(trampoline as usize);
        // A job names no function (0): nothing to locate.
        let func = if func == 0 {
            CodeRef::Raw(0)
        } else {
            image::locate(func)
        };
        let mut foreign = [None; 2];
        for (code, slot) in [trampoline, func].into_iter().zip(&mut foreign) {
            match code {
                CodeRef::Main(offset) => {
                    out.push(CODE_MAIN);
                    out.extend_from_slice(&offset.to_le_bytes());
                }
                CodeRef::Raw(addr) => {
                    out.push(CODE_RAW);
                    out.extend_from_slice(&(addr as u64).to_le_bytes());
                    if addr != 0 {
                        *slot = Some(addr);
                    }
                }
            }
        }
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
            wake: None,
            foreign,
        }
    }

    /// Links the chunk to an awaitable result.
    pub(crate) fn with_wake(mut self, notify: Arc<Notify>) -> Chunk {
        self.wake = Some(WakeOnDrop(notify));
        self
    }

    /// Whether its awaitable result was dropped before the chunk was sent to a worker.
    pub(crate) fn is_cancelled(&self) -> bool {
        self.wake.as_ref().is_some_and(|w| w.0.is_cancelled())
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

/// Tag of a code reference sent as an offset into the main executable.
const CODE_MAIN: u8 = 0;
/// Tag of a code reference sent as a raw address (forked workers only).
const CODE_RAW: u8 = 1;

/// Reads one tagged code reference.
fn code_ref(cur: &mut frame::Cursor<'_>) -> Result<CodeRef, BadFrame> {
    let tag = cur.u8().map_err(|_| BadFrame::Malformed)?;
    let value = cur.u64().map_err(|_| BadFrame::Malformed)?;
    match tag {
        CODE_MAIN => Ok(CodeRef::Main(value)),
        CODE_RAW => Ok(CodeRef::Raw(
            usize::try_from(value).map_err(|_| BadFrame::Malformed)?,
        )),
        _ => Err(BadFrame::Malformed),
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
        let trampoline = code_ref(&mut cur)?;
        let func = code_ref(&mut cur)?;
        let n = cur.u32().map_err(|_| BadFrame::Malformed)? as usize;
        let mut inputs = Vec::with_capacity(n.min(body.len() / 8));
        for _ in 0..n {
            inputs.push(cur.sized().map_err(|_| BadFrame::Malformed)?);
        }
        if !cur.is_empty() {
            return Err(BadFrame::Malformed);
        }
        // A reference this worker cannot have was refused before sending; one arriving anyway
        // is not jumped to.
        let trampoline = match image::resolve(trampoline) {
            Some(addr) if addr != 0 => addr,
            _ => return Err(BadFrame::Malformed),
        };
        let func = match func {
            CodeRef::Raw(0) => 0,
            code => image::resolve(code).ok_or(BadFrame::Malformed)?,
        };
        // SAFETY: the token matched, so the frame was built by `Chunk::build` in the process
        // this worker was forked from or serves (see the module documentation), where
        // `trampoline` was the address of a `Trampoline`; `image::resolve` maps it to the same
        // code here.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StartMethod;
    use crate::image::Admission;

    /// Defect 4 under `Fork`: a chunk names two code references, and a library function
    /// accepted for the first (a trampoline in a library loaded before the pool) does not
    /// wave through the second (a function no worker has): the chunk is refused unsent.
    #[test]
    fn every_foreign_reference_is_checked() {
        let admission = Admission::new(StartMethod::Fork);
        let in_libc = libc::getpid as *const () as usize;
        // SAFETY: only the address travels; the pool never calls it (the chunk is refused).
        let trampoline = unsafe { std::mem::transmute::<usize, Trampoline>(in_libc) };
        // Heap memory: no loaded object holds it, so no worker has code there.
        let nowhere = Box::new(0u64);
        let func = &raw const *nowhere as usize;
        let (reply, outcomes) = crossbeam_channel::unbounded();
        let chunk = Chunk::build(trampoline, func, &[1u64], 0, reply);
        assert_eq!(chunk.foreign, [Some(in_libc), Some(func)]);
        assert!(admission.admit(vec![chunk]).is_empty());
        let outcome = outcomes.try_recv().unwrap();
        assert!(
            matches!(outcome.result, Err(TaskError::CodeUnavailable { .. })),
            "{:?}",
            outcome.result.err()
        );
    }
}
