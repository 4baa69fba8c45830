//! A private scratch directory in the shared temporary directory, for the file CPython runs.
//!
//! The temporary directory is writable by every user, so nothing in it is trusted: the
//! directory is created fresh under a random name (never one that already exists, so a
//! directory or symlink planted by someone else is never used), with mode 0700, and the files
//! in it are created new (never opened through a name that already exists). The parent of the
//! directory is not created: a `TMPDIR` that names no directory is an error, not a chain of new
//! directories.
//!
//! Nobody else can write in a private directory, so everything in it was put there by this
//! program or the Python it runs (CPython's own temporary files included: its `TMPDIR` is set
//! to this directory), and it is removed whole. Every live directory is listed in this
//! process, so that an interrupted program can remove them ([`remove_all`], see
//! `interrupt.rs`) before it dies.
//!
//! Invariant: dropping a [`ScratchDir`], or [`remove_all`], removes the directory it created
//! and what is in it, nothing else; a directory is listed from the moment it exists (created
//! and listed under one lock).

use std::fs::{DirBuilder, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// The scratch directories alive in this process.
static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// The list, even if a panic poisoned it (every change to it is a single push or removal).
fn live() -> MutexGuard<'static, Vec<PathBuf>> {
    LIVE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Removes every live scratch directory now: for a program about to die of a signal. Later
/// drops of their [`ScratchDir`]s find nothing left to remove.
pub fn remove_all() {
    for dir in live().drain(..) {
        // `remove_dir_all` does not follow symlinks inside the directory.
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// How many random names are tried before giving up: a clash is already one chance in 2^64.
const ATTEMPTS: u32 = 16;

/// A directory this process created, removed with what is in it when dropped.
#[derive(Debug)]
pub struct ScratchDir {
    dir: PathBuf,
}

impl ScratchDir {
    /// Creates a new directory named `<prefix>-<random>` in `parent`, readable by this user
    /// only.
    pub fn create(parent: &Path, prefix: &str) -> io::Result<Self> {
        Self::create_with(parent, || Ok(format!("{prefix}-{:016x}", random_u64()?)))
    }

    /// Creates a new directory in `parent` under the first of `next_name`'s names that is
    /// free, trying at most [`ATTEMPTS`].
    fn create_with(
        parent: &Path,
        mut next_name: impl FnMut() -> io::Result<String>,
    ) -> io::Result<Self> {
        for _ in 0..ATTEMPTS {
            let dir = parent.join(next_name()?);
            let mut live = live();
            // Not recursive: fails on any existing name, a symlink included.
            match DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => {
                    live.push(dir.clone());
                    return Ok(Self { dir });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{ATTEMPTS} random names were all taken"),
        ))
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Writes a new file `name` (mode 0600) holding `contents`; fails if the name exists.
    pub fn write(&mut self, name: &str, contents: &[u8]) -> io::Result<PathBuf> {
        let path = self.dir.join(name);
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        file.write_all(contents)?;
        Ok(path)
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let mut live = live();
        if let Some(i) = live.iter().position(|dir| *dir == self.dir) {
            let _ = std::fs::remove_dir_all(live.swap_remove(i));
        }
    }
}

/// Eight random bytes from the kernel.
fn random_u64() -> io::Result<u64> {
    let mut bytes = [0u8; 8];
    let mut filled = 0;
    while filled < bytes.len() {
        // SAFETY: the pointer and length describe the unfilled, writable part of `bytes`.
        let n = unsafe {
            libc::getrandom(bytes[filled..].as_mut_ptr().cast(), bytes.len() - filled, 0)
        };
        match usize::try_from(n) {
            Ok(n) => filled += n,
            Err(_) => {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
        }
    }
    Ok(u64::from_ne_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A private directory for the test itself, so that it plants nothing in the shared one.
    fn test_parent(name: &str) -> PathBuf {
        let parent = std::env::temp_dir().join(format!(
            "concurrency-scratch-test-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&parent);
        std::fs::create_dir(&parent).expect("a test directory");
        parent
    }

    /// Names already taken by someone else (a directory holding a symlink to a victim's
    /// file, a symlink to a victim's directory) are never used or written through; the new
    /// directory is private, and dropping it leaves nothing.
    #[test]
    fn never_uses_an_existing_name_and_removes_only_its_own() {
        let parent = test_parent("plant");
        let victim = parent.join("victim");
        std::fs::create_dir(&victim).expect("victim dir");
        std::fs::write(victim.join("precious"), b"precious").expect("victim file");
        let planted = parent.join("taken-dir");
        std::fs::create_dir(&planted).expect("planted dir");
        std::os::unix::fs::symlink(victim.join("precious"), planted.join("f.py"))
            .expect("planted link");
        std::os::unix::fs::symlink(&victim, parent.join("taken-link")).expect("planted link");
        let mut names = ["taken-dir", "taken-link", "free"].into_iter();
        let mut scratch =
            ScratchDir::create_with(&parent, || Ok(names.next().expect("a name").to_owned()))
                .expect("a scratch dir");
        let dir = scratch.path().to_owned();
        assert_eq!(dir, parent.join("free"));
        let mode = std::fs::metadata(&dir)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
        let file = scratch.write("f.py", b"x").expect("write");
        // A second file of the same name is refused, not written over.
        assert!(scratch.write("f.py", b"y").is_err());
        assert_eq!(std::fs::read(&file).expect("read"), b"x");
        drop(scratch);
        assert!(!dir.exists());
        assert_eq!(
            std::fs::read(victim.join("precious")).expect("victim file"),
            b"precious"
        );
        assert!(planted.join("f.py").symlink_metadata().is_ok());
        // A random name is a fresh one.
        let random = ScratchDir::create(&parent, "p").expect("a scratch dir");
        assert!(random.path().file_name().is_some_and(|n| n.len() == 2 + 16));
        drop(random);
        std::fs::remove_dir_all(&parent).expect("cleanup");
    }

    /// A parent that does not exist is an error: no chain of directories is created.
    #[test]
    fn a_missing_parent_is_not_created() {
        let parent = test_parent("missing");
        let missing = parent.join("a/b");
        let err = ScratchDir::create(&missing, "p").expect_err("no parent");
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(!parent.join("a").exists());
        std::fs::remove_dir_all(&parent).expect("cleanup");
    }
}
