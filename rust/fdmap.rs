// SPDX-License-Identifier: GPL-2.0

//! Which descriptors a kqueue has knotes on, to notice close(2).
//!
//! BSD drops a descriptor's knotes when it is closed. Linux gives a module no
//! hook on close, and a knote holds a reference to its file, so the kqueue
//! compares, at every kevent() call, a bitmap of the descriptors it watches
//! with the fd table's bitmap of open descriptors: one word compare per 64
//! descriptors, skipped 4096 at a time where the table is full (its
//! `full_fds_bits` summary). Knotes of closed descriptors are then dropped, which releases
//! the file. A descriptor closed and reused before that call is caught when
//! its knote would fire (it never fires for the new file) or is re-added.

use crate::glue::closed_fds;
use kernel::prelude::*;

const BITS: usize = usize::BITS as usize;

/// A bitmap of descriptors; a bit may stay set after its knotes are gone, until
/// [`FdMap::closed`] reports it.
pub(crate) struct FdMap {
    words: KVec<usize>,
}

impl FdMap {
    /// An empty map.
    pub(crate) const fn new() -> Self {
        Self { words: KVec::new() }
    }

    /// Notes a knote on descriptor `fd` (`fd` fits in u32: it was looked up).
    pub(crate) fn insert(&mut self, fd: usize) -> Result {
        let i = fd / BITS;
        while self.words.len() <= i {
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
        let mut pos = 0;
        let mut fds = [0u32; 64];
        while (pos as usize) < self.words.len() {
            let found = closed_fds(&self.words, &mut pos, &mut fds);
            if found == 0 && (pos as usize) < self.words.len() {
                // Cannot happen (a word never holds more than 64); do not spin.
                break;
            }
            for &fd in &fds[..found] {
                let fd = fd as usize;
                if !f(fd) {
                    self.words[fd / BITS] &= !(1 << (fd % BITS));
                }
            }
        }
    }
}
