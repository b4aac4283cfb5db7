// SPDX-License-Identifier: GPL-2.0

//! A vector of at most `N` items on the stack that leaves its free slots
//! uninitialised: a kevent() batch has room for 16 events and usually holds
//! one, and zeroing the rest on every call was a measurable part of its cost.

use core::{mem::MaybeUninit, slice};

/// Up to `N` items of `T`, in place.
///
/// # Invariants
///
/// The first `len` slots of `items` are initialised, the others are not.
pub(crate) struct StackVec<T, const N: usize> {
    items: [MaybeUninit<T>; N],
    len: usize,
}

impl<T, const N: usize> StackVec<T, N> {
    /// An empty vector (nothing is written).
    pub(crate) fn new() -> Self {
        Self {
            items: [const { MaybeUninit::uninit() }; N],
            len: 0,
        }
    }

    /// Number of items.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Appends `item`, or gives it back if the vector is full.
    pub(crate) fn push(&mut self, item: T) -> Result<(), T> {
        let Some(slot) = self.items.get_mut(self.len) else {
            return Err(item);
        };
        slot.write(item);
        // INVARIANT: The slot at the old `len` was just initialised.
        self.len += 1;
        Ok(())
    }

    /// Drops every item.
    pub(crate) fn clear(&mut self) {
        let len = self.len;
        // INVARIANT: Set before dropping, so a panicking drop cannot drop twice.
        self.len = 0;
        // SAFETY: The first `len` slots were initialised; they are no longer counted.
        unsafe {
            core::ptr::drop_in_place(core::ptr::slice_from_raw_parts_mut(
                self.items.as_mut_ptr().cast::<T>(),
                len,
            ))
        };
    }

    /// Empties the vector, handing each item to `f` in order.
    pub(crate) fn take_each(&mut self, mut f: impl FnMut(T)) {
        let len = self.len;
        // INVARIANT: Set first: the items are moved out below (if `f` panics, the rest
        // leak, which is safe).
        self.len = 0;
        for slot in &self.items[..len] {
            // SAFETY: The first `len` slots were initialised, and each is read once: they
            // are no longer counted.
            f(unsafe { slot.assume_init_read() });
        }
    }

    /// The items.
    pub(crate) fn as_slice(&self) -> &[T] {
        // SAFETY: The first `len` slots are initialised (type invariants); `MaybeUninit<T>`
        // has the layout of `T`.
        unsafe { slice::from_raw_parts(self.items.as_ptr().cast(), self.len) }
    }

    /// The items, mutable.
    pub(crate) fn as_mut_slice(&mut self) -> &mut [T] {
        // SAFETY: As in `as_slice`, and we hold `self` mutably.
        unsafe { slice::from_raw_parts_mut(self.items.as_mut_ptr().cast(), self.len) }
    }
}

impl<T, const N: usize> Drop for StackVec<T, N> {
    fn drop(&mut self) {
        self.clear();
    }
}
