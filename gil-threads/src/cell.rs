//! [`GilCell`]: plain data shared by an interpreter's threads, guarded by its GIL.
//!
//! Invariant: a `&T` exists only while a `&Gil` of the cell's interpreter is borrowed, and a
//! `&mut T` only while a `&mut Gil` is; since a thread has at most one token and only the GIL
//! holder has a usable one, at most one thread touches the value at a time, and no borrow
//! survives a point where the GIL may be released ([`Gil::checkpoint`] and
//! [`Gil::allow_threads`] take `&mut Gil`).
//!
//! ```compile_fail
//! // A borrow cannot be kept across allow_threads, where other threads run.
//! use gil_threads::{GilCell, Interpreter};
//! let interp = Interpreter::new();
//! let cell = GilCell::new(interp.id(), 1u32);
//! interp.with_gil(|gil| {
//!     let value = cell.borrow(gil).unwrap();
//!     gil.allow_threads(|| ());
//!     println!("{value}");
//! });
//! ```
//!
//! ```compile_fail
//! // Nor across a checkpoint, where the GIL may change hands.
//! use gil_threads::{GilCell, Interpreter};
//! let interp = Interpreter::new();
//! let cell = GilCell::new(interp.id(), 1u32);
//! interp.with_gil(|gil| {
//!     let value = cell.borrow_mut(gil).unwrap();
//!     gil.checkpoint();
//!     *value += 1;
//! });
//! ```

use std::cell::UnsafeCell;
use std::fmt;

use crate::error::BorrowError;
use crate::interpreter::InterpreterId;
use crate::token::Gil;

/// A value that an interpreter's threads share without a lock of its own: the GIL is the
/// lock. Put it in an `Arc` to share it.
///
/// ```
/// use std::sync::Arc;
/// use gil_threads::{GilCell, Interpreter};
///
/// let interp = Interpreter::new();
/// let names = Arc::new(GilCell::new(interp.id(), Vec::<String>::new()));
/// let names2 = Arc::clone(&names);
/// interp
///     .spawn(move |gil| names2.borrow_mut(gil).unwrap().push("hello".into()))
///     .join()
///     .unwrap();
/// let n = interp.with_gil(|gil| names.borrow(gil).unwrap().len()).unwrap();
/// assert_eq!(n, 1);
/// ```
pub struct GilCell<T> {
    /// The interpreter whose GIL guards the value.
    owner: InterpreterId,
    /// The value; accessed only through a token of `owner`.
    value: UnsafeCell<T>,
}

// SAFETY: every access to `value` goes through a `&Gil`/`&mut Gil` of `owner` (checked at run
// time by id), and only the thread holding that GIL has a usable token, so the value is used
// by one thread at a time, handed over through the GIL's mutex (a happens-before edge). That
// is exactly what `T: Send` allows; `T: Sync` is not needed since no two threads ever use it
// at once.
unsafe impl<T: Send> Sync for GilCell<T> {}

impl<T> GilCell<T> {
    /// A cell guarded by the GIL of interpreter `owner` ([`Interpreter::id`] or
    /// [`Gil::interpreter_id`]).
    ///
    /// [`Interpreter::id`]: crate::Interpreter::id
    pub fn new(owner: InterpreterId, value: T) -> Self {
        Self {
            owner,
            value: UnsafeCell::new(value),
        }
    }

    /// The interpreter whose GIL guards the cell.
    pub fn owner(&self) -> InterpreterId {
        self.owner
    }

    /// Checks that `gil` is the owner's token.
    fn check(&self, gil: &Gil) -> Result<(), BorrowError> {
        if gil.interpreter_id() == self.owner {
            Ok(())
        } else {
            Err(BorrowError::WrongInterpreter {
                cell: self.owner,
                gil: gil.interpreter_id(),
            })
        }
    }

    /// Borrows the value for as long as `gil` is borrowed.
    ///
    /// # Errors
    ///
    /// [`BorrowError::WrongInterpreter`] if `gil` belongs to another interpreter.
    pub fn borrow<'a>(&'a self, gil: &'a Gil) -> Result<&'a T, BorrowError> {
        self.check(gil)?;
        // SAFETY: `gil` proves this thread holds the owner's GIL, and it stays borrowed for
        // 'a, so no `&mut Gil` (hence no `borrow_mut` of any cell of this interpreter, no
        // release of the GIL) can happen on this thread during 'a; other threads have no usable
        // token of this interpreter while we hold its GIL.
        Ok(unsafe { &*self.value.get() })
    }

    /// Borrows the value mutably for as long as `gil` is borrowed.
    ///
    /// # Errors
    ///
    /// [`BorrowError::WrongInterpreter`] if `gil` belongs to another interpreter.
    pub fn borrow_mut<'a>(&'a self, gil: &'a mut Gil) -> Result<&'a mut T, BorrowError> {
        self.check(gil)?;
        // SAFETY: as in `borrow`, and `gil` is borrowed mutably for 'a, so no other borrow of
        // any cell of this interpreter can be made on this thread during 'a.
        Ok(unsafe { &mut *self.value.get() })
    }

    /// Borrows two cells mutably at once (they must be different cells of the same
    /// interpreter).
    ///
    /// ```
    /// use gil_threads::{GilCell, Interpreter};
    ///
    /// let interp = Interpreter::new();
    /// let from = GilCell::new(interp.id(), 10i64);
    /// let to = GilCell::new(interp.id(), 0i64);
    /// interp.with_gil(|gil| {
    ///     let (a, b) = GilCell::borrow_pair_mut(&from, &to, gil).unwrap();
    ///     *a -= 3;
    ///     *b += 3;
    /// }).unwrap();
    /// assert_eq!((from.into_inner(), to.into_inner()), (7, 3));
    /// ```
    ///
    /// # Errors
    ///
    /// [`BorrowError::WrongInterpreter`] if either cell belongs to another interpreter than
    /// `gil`, [`BorrowError::SameCell`] if `a` and `b` are the same cell.
    pub fn borrow_pair_mut<'a, U>(
        a: &'a GilCell<T>,
        b: &'a GilCell<U>,
        gil: &'a mut Gil,
    ) -> Result<(&'a mut T, &'a mut U), BorrowError> {
        a.check(gil)?;
        b.check(gil)?;
        // Distinct live objects that are not zero-sized (a cell holds its owner id) have
        // distinct addresses.
        if std::ptr::eq(
            a as *const GilCell<T> as *const u8,
            b as *const GilCell<U> as *const u8,
        ) {
            return Err(BorrowError::SameCell);
        }
        // SAFETY: as in `borrow_mut`, for two cells that are not the same object, so the two
        // `&mut` do not alias.
        Ok(unsafe { (&mut *a.value.get(), &mut *b.value.get()) })
    }

    /// The value, through exclusive access to the cell (no GIL needed).
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }

    /// The value, consuming the cell.
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

impl<T> fmt::Debug for GilCell<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GilCell")
            .field("owner", &self.owner)
            .finish_non_exhaustive()
    }
}
