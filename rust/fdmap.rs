// SPDX-License-Identifier: GPL-2.0

//! Which descriptors a kqueue has knotes on, to notice close(2).
//!
//! BSD drops a descriptor's knotes when it is closed. Linux gives a module no
//! hook on close, and a knote holds a reference to its file, so the kqueue
//! compares, at every kevent() call, a bitmap of the descriptors it watches
//! with the fd table's bitmap of open descriptors: one word compare per 64
//! descriptors. Knotes of closed descriptors are then dropped, which releases
//! the file. A descriptor closed and reused before that call is caught when
//! its knote would fire (it never fires for the new file) or is re-added.

use crate::glue::closed_fds;
use kernel::prelude::*;

const BITS: usize = usize::BITS as usize;

/// A bitmap of descriptors; a bit may stay set after its knotes are gone, until
/// [`FdMap::closed`] reports it.
pub(crate) struct FdMap {
    words: KVec<usize>,
    /// Scratch of [`FdMap::closed`], as long as `words` (so a sweep fills no array on
    /// the stack).
    closed: KVec<usize>,
}

impl FdMap {
    /// An empty map.
    pub(crate) const fn new() -> Self {
        Self {
            words: KVec::new(),
            closed: KVec::new(),
        }
    }

    /// Notes a knote on descriptor `fd` (`fd` fits in u32: it was looked up).
    pub(crate) fn insert(&mut self, fd: usize) -> Result {
        let i = fd / BITS;
        while self.words.len() <= i {
            self.closed.push(0, GFP_KERNEL_ACCOUNT)?;
            self.words.push(0, GFP_KERNEL_ACCOUNT)?;
        }
        self.words[i] |= 1 << (fd % BITS);
        Ok(())
    }

    /// Whether no descriptor was ever noted.
    pub(crate) fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Calls `f` for each descriptor in the map that the current task has closed;
    /// `f` returns whether knotes remain on it (else its bit is cleared).
    pub(crate) fn closed(&mut self, mut f: impl FnMut(usize) -> bool) {
        if !closed_fds(&self.words, &mut self.closed) {
            return;
        }
        for (i, word) in self.words.iter_mut().enumerate() {
            let mut gone = self.closed[i];
            while gone != 0 {
                let bit = gone.trailing_zeros() as usize;
                gone &= gone - 1;
                if !f(i * BITS + bit) {
                    *word &= !(1 << bit);
                }
            }
        }
    }
}
