//! Which loaded object holds a code address, at which offset, and whether a pool's workers
//! have that object: the check that keeps a worker from jumping into code it does not have.
//!
//! A task frame names two code addresses (a trampoline and the user's `fn`, see `task.rs`).
//! Each crosses as a [`CodeRef`]:
//!
//! - an address in the **main executable** crosses as its offset from the executable's load
//!   bias, and the worker adds its own bias. That is right in a forked worker (same bias) and
//!   in a fork-server worker (the same executable, `exec`uted again, placed elsewhere by ASLR);
//! - an address anywhere else (a shared library, code `dlopen`ed later) crosses as the raw
//!   address, which only a forked worker can use, and only if the object was already loaded
//!   when the worker was forked and has not been replaced since.
//!
//! What each start method accepts ([`Admission::admit`] checks it before a chunk is sent):
//!
//! | start method | main executable | object loaded before the pool was built | loaded later |
//! |---|---|---|---|
//! | `Fork` | yes | yes, unless some object was unloaded since | no: `CodeUnavailable` |
//! | `ForkServer` | yes | no: `CodeUnavailable` | no: `CodeUnavailable` |
//!
//! Invariant: a worker is never sent a code address that is not mapped, as the same code, in
//! its own address space. The main executable's bounds are computed once, before any worker
//! exists, so a worker reads them without taking the loader's lock (which another thread of
//! the parent may have held at the fork).

use std::ffi::CStr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::TaskError;
use crate::task::Chunk;
use crate::worker::StartMethod;

/// How a code address crosses to a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CodeRef {
    /// An offset from the main executable's load bias.
    Main(u64),
    /// A raw address outside the main executable (valid only in forked workers).
    Raw(usize),
}

/// The main executable as loaded in this process.
#[derive(Debug)]
struct MainImage {
    /// Its load bias (`dlpi_addr`): link-time addresses plus this are run-time addresses.
    bias: usize,
    /// Its executable segments, `[start, end)` at run time.
    text: Vec<(usize, usize)>,
    /// Its ELF build-id (`NT_GNU_BUILD_ID`), empty if it was linked without one.
    build_id: Vec<u8>,
}

/// The main executable, found once.
static MAIN: OnceLock<MainImage> = OnceLock::new();

/// Set in a fork-server worker: raw addresses are refused there.
static IN_FORK_SERVER: AtomicBool = AtomicBool::new(false);

/// One loaded object, as `dl_iterate_phdr` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Object {
    /// Its load bias.
    bias: usize,
    /// Its path ("" for the main executable).
    name: Vec<u8>,
    /// Its executable segments at run time.
    text: Vec<(usize, usize)>,
    /// Its ELF build-id (`NT_GNU_BUILD_ID`), empty if it has none.
    build_id: Vec<u8>,
}

/// Every object loaded now, the main executable first, and the loader's unload count.
fn loaded_objects() -> (Vec<Object>, u64) {
    /// What the callback fills.
    struct Walk {
        /// The objects so far.
        objects: Vec<Object>,
        /// `dlpi_subs`: how many objects were ever unloaded.
        subs: u64,
    }
    unsafe extern "C" fn visit(
        info: *mut libc::dl_phdr_info,
        size: libc::size_t,
        data: *mut libc::c_void,
    ) -> libc::c_int {
        // SAFETY: `data` is the `&mut Walk` passed below, alive for the whole walk; `info` is
        // valid for the duration of the callback, with `dlpi_phnum` program headers at
        // `dlpi_phdr` and a NUL-terminated (possibly empty) name, as dl_iterate_phdr promises;
        // a loaded object's segments (notes included) are mapped while it is listed.
        unsafe {
            let walk = &mut *data.cast::<Walk>();
            let info = &*info;
            if size >= std::mem::size_of::<libc::dl_phdr_info>() {
                walk.subs = info.dlpi_subs;
            }
            let bias = info.dlpi_addr as usize;
            let headers = std::slice::from_raw_parts(info.dlpi_phdr, usize::from(info.dlpi_phnum));
            let text = headers
                .iter()
                .filter(|h| h.p_type == libc::PT_LOAD && h.p_flags & libc::PF_X != 0)
                .map(|h| {
                    let start = bias.wrapping_add(h.p_vaddr as usize);
                    (start, start.wrapping_add(h.p_memsz as usize))
                })
                .collect();
            // Each note's sizes are bounded by its segment's before anything is read.
            let build_id = headers
                .iter()
                .filter(|h| h.p_type == libc::PT_NOTE)
                .find_map(|h| {
                    find_build_id(std::slice::from_raw_parts(
                        bias.wrapping_add(h.p_vaddr as usize) as *const u8,
                        h.p_memsz as usize,
                    ))
                })
                .unwrap_or_default()
                .to_vec();
            let name = if info.dlpi_name.is_null() {
                Vec::new()
            } else {
                CStr::from_ptr(info.dlpi_name).to_bytes().to_vec()
            };
            walk.objects.push(Object {
                bias,
                name,
                text,
                build_id,
            });
        }
        0
    }
    let mut walk = Walk {
        objects: Vec::new(),
        subs: 0,
    };
    // SAFETY: `visit` matches the callback type and only touches `walk` through `data`.
    unsafe { libc::dl_iterate_phdr(Some(visit), (&raw mut walk).cast()) };
    (walk.objects, walk.subs)
}

/// The descriptor of an `NT_GNU_BUILD_ID` note in a note segment's bytes.
fn find_build_id(mut notes: &[u8]) -> Option<&[u8]> {
    /// `NT_GNU_BUILD_ID`.
    const NT_GNU_BUILD_ID: u32 = 3;
    let word = |b: &[u8]| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]);
    let align4 = |n: usize| n.div_ceil(4) * 4;
    while notes.len() >= 12 {
        let (namesz, descsz, kind) = (
            word(&notes[0..]) as usize,
            word(&notes[4..]) as usize,
            word(&notes[8..]),
        );
        let desc_at = 12 + align4(namesz);
        let next = desc_at.checked_add(align4(descsz))?;
        if next > notes.len() {
            return None;
        }
        if kind == NT_GNU_BUILD_ID && &notes[12..12 + namesz] == b"GNU\0" {
            return Some(&notes[desc_at..desc_at + descsz]);
        }
        notes = &notes[next..];
    }
    None
}

/// The main executable, found on first use. The pool calls this before its first fork, so
/// that workers only ever read the finished value.
fn main_image() -> &'static MainImage {
    MAIN.get_or_init(|| {
        let (objects, _) = loaded_objects();
        let main = objects.into_iter().next();
        MainImage {
            bias: main.as_ref().map_or(0, |m| m.bias),
            text: main.as_ref().map(|m| m.text.clone()).unwrap_or_default(),
            build_id: main.map(|m| m.build_id).unwrap_or_default(),
        }
    })
}

/// Finds the main executable now (before any fork), so that no worker ever has to.
pub(crate) fn prepare() {
    main_image();
}

/// The main executable's build-id (empty if it has none).
pub(crate) fn build_id() -> &'static [u8] {
    &main_image().build_id
}

/// Whether `addr` lies in the main executable's code.
pub(crate) fn in_main_executable(addr: usize) -> bool {
    main_image()
        .text
        .iter()
        .any(|&(start, end)| (start..end).contains(&addr))
}

/// How `addr` crosses to a worker.
pub(crate) fn locate(addr: usize) -> CodeRef {
    if in_main_executable(addr) {
        CodeRef::Main((addr - main_image().bias) as u64)
    } else {
        CodeRef::Raw(addr)
    }
}

/// In a worker: the address a [`CodeRef`] names here, or `None` if this worker cannot have
/// it (a raw address in a fork-server worker, an offset outside the executable's code).
pub(crate) fn resolve(code: CodeRef) -> Option<usize> {
    match code {
        CodeRef::Main(offset) => {
            let addr = main_image()
                .bias
                .wrapping_add(usize::try_from(offset).ok()?);
            in_main_executable(addr).then_some(addr)
        }
        CodeRef::Raw(_) if IN_FORK_SERVER.load(Ordering::Relaxed) => None,
        CodeRef::Raw(addr) => Some(addr),
    }
}

/// Marks this process (the fork server, and so its workers) as one where only the main
/// executable's code may be named.
pub(crate) fn enter_fork_server() {
    IN_FORK_SERVER.store(true, Ordering::Relaxed);
    main_image();
}

/// What a pool's workers have, fixed when the pool is built.
#[derive(Debug)]
pub(crate) struct Admission {
    /// `None` under `ForkServer` (only the main executable); under `Fork`, the objects
    /// loaded when the pool was built and the loader's unload count then.
    before_pool: Option<(Vec<Object>, u64)>,
}

impl Admission {
    /// Records, before the pool's first worker exists, what its workers will have.
    pub(crate) fn new(method: StartMethod) -> Admission {
        prepare();
        if method == StartMethod::Fork {
            // A fork-server worker building a `Fork` pool of its own: its forked workers share
            // its libraries, so raw addresses are right there (its own server never sends it
            // one: that pool's admission refused them before sending).
            IN_FORK_SERVER.store(false, Ordering::Relaxed);
        }
        Admission {
            before_pool: match method {
                StartMethod::Fork => Some(loaded_objects()),
                StartMethod::ForkServer => None,
            },
        }
    }

    /// Whether a worker of this pool has the object holding `addr`; if not, the error.
    fn check(&self, addr: usize) -> Result<(), TaskError> {
        if in_main_executable(addr) {
            return Ok(());
        }
        let (now, subs_now) = loaded_objects();
        let holder = now
            .into_iter()
            .find(|o| o.text.iter().any(|&(s, e)| (s..e).contains(&addr)));
        let accepted = match (&self.before_pool, &holder) {
            // Same unload count: nothing was replaced, so an object with the same name and
            // place as one loaded before the pool is that very object, in every worker.
            (Some((before, subs)), Some(holder)) => *subs == subs_now && before.contains(holder),
            _ => false,
        };
        if accepted {
            return Ok(());
        }
        Err(TaskError::CodeUnavailable {
            object: match holder {
                Some(o) => String::from_utf8_lossy(&o.name).into_owned(),
                None => format!("no loaded object holds address {addr:#x}"),
            },
        })
    }

    /// Keeps the chunks whose code every worker of the pool has; fails the others with
    /// [`TaskError::CodeUnavailable`] without sending them.
    pub(crate) fn admit(&self, chunks: Vec<Chunk>) -> Vec<Chunk> {
        if chunks.iter().all(|c| c.foreign == [None; 2]) {
            return chunks;
        }
        let mut kept = Vec::with_capacity(chunks.len());
        for chunk in chunks {
            // Every reference, not only the first: a trampoline in a library loaded before the
            // pool may carry a user function from one loaded after it.
            match chunk
                .foreign
                .iter()
                .flatten()
                .try_for_each(|&addr| self.check(addr))
            {
                Ok(()) => kept.push(chunk),
                Err(e) => chunk.fail(e),
            }
        }
        kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(x: u64) -> u64 {
        x + 1
    }

    /// A function of this executable crosses as an offset that resolves back to it.
    #[test]
    fn main_executable_round_trips() {
        let addr = local as fn(u64) -> u64 as usize;
        let code = locate(addr);
        assert!(matches!(code, CodeRef::Main(_)), "{code:?}");
        assert_eq!(resolve(code), Some(addr));
    }

    /// A libc function is not in the main executable: it crosses raw, the fork server
    /// refuses it, and `Fork` accepts it (libc was loaded before the pool).
    #[test]
    fn shared_library_is_raw() {
        let addr = libc::getpid as *const () as usize;
        assert_eq!(locate(addr), CodeRef::Raw(addr));
        assert!(Admission::new(StartMethod::Fork).check(addr).is_ok());
        let err = Admission::new(StartMethod::ForkServer)
            .check(addr)
            .unwrap_err();
        assert!(
            matches!(&err, TaskError::CodeUnavailable { object } if object.contains("libc")),
            "{err:?}"
        );
    }

    /// Under `Fork`, once any object has been unloaded since the pool was built, code outside
    /// the main executable is refused: an object at the same place may be another one now.
    #[test]
    fn an_unload_since_the_pool_refuses_libraries() {
        let admission = Admission::new(StartMethod::Fork);
        let libc_fn = libc::getpid as *const () as usize;
        assert!(admission.check(libc_fn).is_ok());
        // SAFETY: dlopen/dlclose of a system library this test binary does not link; nothing
        // from it is used.
        let unloaded = unsafe {
            let handle = libc::dlopen(c"libm.so.6".as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL);
            assert!(!handle.is_null());
            libc::dlclose(handle) == 0
        };
        assert!(unloaded);
        if loaded_objects().1 == admission.before_pool.as_ref().map_or(0, |b| b.1) {
            // This loader kept the object (no unload happened): nothing to check.
            return;
        }
        assert!(matches!(
            admission.check(libc_fn),
            Err(TaskError::CodeUnavailable { .. })
        ));
        assert!(admission.check(local as fn(u64) -> u64 as usize).is_ok());
    }

    /// An offset past the executable's code resolves to nothing.
    #[test]
    fn offset_outside_code_is_refused() {
        assert_eq!(resolve(CodeRef::Main(u64::MAX)), None);
    }

    /// The build-id note parser finds the id and rejects truncated notes.
    #[test]
    fn build_id_note_parses() {
        let mut note = Vec::new();
        note.extend_from_slice(&4u32.to_ne_bytes());
        note.extend_from_slice(&3u32.to_ne_bytes());
        note.extend_from_slice(&3u32.to_ne_bytes());
        note.extend_from_slice(b"GNU\0");
        note.extend_from_slice(&[1, 2, 3, 0]);
        assert_eq!(find_build_id(&note), Some(&[1u8, 2, 3][..]));
        assert_eq!(find_build_id(&note[..17]), None);
        assert!(!build_id().is_empty(), "this test binary has a build-id");
    }
}
