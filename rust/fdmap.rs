// SPDX-License-Identifier: GPL-2.0

//! Which descriptors a kqueue has knotes on, to notice close(2).
//!
//! BSD drops a descriptor's knotes when it is closed. Linux gives a module no
//! hook on close, and a knote holds a reference to its file, so the kqueue
//! compares, at every kevent() call, a bitmap of the descriptors it watches
//! with the fd table's bitmap of open descriptors: one word compare per 64
//! descriptors, from the table's `next_fd` on (all below it are open), and
//! skipped 4096 at a time where the table is full (its `full_fds_bits`
//! summary). Knotes of closed descriptors are then dropped, which releases
//! the file. A descriptor closed and reused before that call is caught when
//! its knote would fire (it never fires for the new file) or is re-added.
//!
//! The map lives under the kqueue's spinlock, so that the check costs no lock
//! of its own when a call collects events; it only grows, by a vector
//! allocated with the lock dropped ([`FdMap::grow`]).

use crate::glue::closed_word;
use kernel::prelude::*;

const BITS: usize = usize::BITS as usize;

/// A bitmap of descriptors; a bit may stay set after its knotes are gone, until
/// [`FdMap::closed`] reports it.
#[derive(Default)]
pub(crate) struct FdMap {
    words: KVec<usize>,
    /// Words up to the highest one ever noted: the rest is room, not checked.
    used: usize,
}

impl FdMap {
    /// An empty map.
    pub(crate) const fn new() -> Self {
        Self {
            words: KVec::new(),
            used: 0,
        }
    }

    /// Words needed to hold descriptor `fd`.
    pub(crate) fn words_for(fd: usize) -> usize {
        fd / BITS + 1
    }

    /// Size of the map in words.
    pub(crate) fn words(&self) -> usize {
        self.words.len()
    }

    /// Whether the map has room for descriptor `fd`.
    pub(crate) fn covers(&self, fd: usize) -> bool {
        fd / BITS < self.words.len()
    }

    /// Whether descriptor `fd` may have knotes: false means it has none.
    pub(crate) fn may_have(&self, fd: usize) -> bool {
        self.words
            .get(fd / BITS)
            .is_some_and(|word| word & (1 << (fd % BITS)) != 0)
    }

    /// Notes a knote on descriptor `fd`; false (nothing noted) if the map must grow
    /// first.
    pub(crate) fn insert(&mut self, fd: usize) -> bool {
        let i = fd / BITS;
        let Some(word) = self.words.get_mut(i) else {
            return false;
        };
        *word |= 1 << (fd % BITS);
        self.used = self.used.max(i + 1);
        true
    }

    /// Grows the map into `room`, an empty vector with capacity for the new size,
    /// if it still needs to. Does not allocate. Returns the vector to free (with
    /// the lock dropped).
    pub(crate) fn grow(&mut self, mut room: KVec<usize>) -> KVec<usize> {
        let len = room.capacity();
        if len <= self.words.len() {
            return room;
        }
        // Within `room`'s capacity: these never allocate.
        let copied = room.extend_from_slice(&self.words, GFP_NOWAIT);
        let zeroed = room.resize(len, 0, GFP_NOWAIT);
        if copied.is_err() || zeroed.is_err() {
            return room;
        }
        core::mem::replace(&mut self.words, room)
    }

    /// The used words (`used` only counts words that exist).
    fn used_words(&self) -> &[usize] {
        &self.words[..self.words.len().min(self.used)]
    }

    /// The first word naming descriptors the current task has closed, if any: (its
    /// index, those descriptors' bits). Does not sleep.
    #[inline]
    pub(crate) fn first_closed(&self) -> Option<(usize, usize)> {
        if self.used == 0 {
            return None;
        }
        closed_word(self.used_words(), 0)
    }

    /// Calls `f` for each descriptor in the map that the current task has closed, from
    /// `first` on, what [`FdMap::first_closed`] found; `f` returns whether knotes remain
    /// on it (else its bit is cleared). Does not sleep.
    pub(crate) fn closed(&mut self, first: (usize, usize), mut f: impl FnMut(usize) -> bool) {
        let mut next = Some(first);
        while let Some((i, mut gone)) = next {
            while gone != 0 {
                let bit = gone.trailing_zeros() as usize;
                gone &= gone - 1;
                if !f(i * BITS + bit) {
                    self.words[i] &= !(1 << bit);
                }
            }
            next = closed_word(self.used_words(), i + 1);
        }
    }
}
