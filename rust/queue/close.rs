// SPDX-License-Identifier: GPL-2.0

//! Knotes of closed descriptors.
//!
//! BSD drops a descriptor's knotes at close(). A module has no hook on close and
//! the knote holds the file, so (the map and its compare are in `fdmap.rs`):
//!
//! - at every kevent() call, the knotes of the descriptors the caller's fd table
//!   no longer has open (of the filters in [`crate::filter::ON_DESCRIPTOR`]) are
//!   unlinked, releasing their files (a pipe's other end then sees EOF/EPIPE). A
//!   call that collects does this in the lock hold that takes knotes off the
//!   ready queue ([`Kqueue::sweep_locked`]); a call that sleeps, finds nothing, or
//!   only applies changes does it on its own ([`Kqueue::sweep_closed`]) before it
//!   sleeps or returns;
//! - a knote in flux is left to its holders: its bit stays set, and a later sweep
//!   looks again;
//! - a descriptor closed *and reused* before that is caught when its knote would
//!   fire (the fd table no longer names the knote's file, [`Kqueue::is_stale`]: it
//!   is dropped, never reported) or when the number is registered again (the
//!   stale knote is replaced);
//! - only the registering process's fd table is consulted; a kqueue used from
//!   another process keeps such knotes until they are deleted or it is closed;
//! - the map grows only by a vector allocated with the lock dropped
//!   ([`Kqueue::grow_fds`]), and never shrinks.

use super::{KqInner, Kqueue, Unlinked};
use crate::{
    fdmap::FdMap,
    glue,
    knote::{Knote, KnoteKey},
};
use kernel::prelude::*;

impl Kqueue {
    /// Drops the knotes of descriptors the caller has closed since the last call, so
    /// that they release their files (BSD drops them at close()).
    pub(crate) fn sweep_closed(&self) {
        let mut gone = Unlinked::new();
        Self::sweep_locked(&mut self.lock(), &mut gone);
        self.free_unlinked(gone);
    }

    /// [`Kqueue::sweep_closed`] under the lock: the knotes go to `gone`.
    #[inline]
    pub(super) fn sweep_locked(inner: &mut KqInner, gone: &mut Unlinked) {
        // The common case, inline: nothing closed.
        if let Some(first) = inner.fds.first_closed() {
            Self::sweep_from(inner, first, gone);
        }
    }

    /// [`Kqueue::sweep_locked`] from `first`, the first word of the map that names
    /// closed descriptors: (its index, their bits).
    #[inline(never)]
    fn sweep_from(inner: &mut KqInner, first: (usize, usize), gone: &mut Unlinked) {
        let mut fds = core::mem::take(&mut inner.fds);
        fds.closed(first, |fd| {
            let mut remain = false;
            for filter in crate::filter::ON_DESCRIPTOR {
                let key = KnoteKey::new(fd as u64, filter);
                let Some(kn) = inner.knotes.get(&key).cloned() else {
                    continue;
                };
                if kn.state.access(inner).influx == 0 && Self::is_stale(&kn) {
                    Self::unlink(inner, &kn, gone);
                } else {
                    remain = true;
                }
            }
            remain
        });
        inner.fds = fds;
    }

    /// Grows the descriptor map, of `words` words when the caller looked, to hold `fd`.
    pub(super) fn grow_fds(&self, fd: usize, words: usize) -> Result {
        let len = FdMap::words_for(fd).max(words.saturating_mul(2));
        let room = KVec::with_capacity(len, GFP_KERNEL_ACCOUNT)?;
        let old = self.lock().fds.grow(room);
        drop(old);
        Ok(())
    }

    /// Whether `kn`'s descriptor no longer names its file in the registering task
    /// (it was closed, maybe reused; for EVFILT_VNODE, which holds no file: reused for
    /// another inode). Other tasks cannot tell, and keep the knote.
    pub(super) fn is_stale(kn: &Knote) -> bool {
        match kn.fd_file() {
            Some(file) => glue::fd_stale(kn.owner_files, kn.key.ident, file),
            None => kn.source.fd_moved(kn.key.ident) && kn.owner_files == glue::current_files(),
        }
    }
}
