// SPDX-License-Identifier: GPL-2.0

//! In-flux knotes: work on a knote with the kqueue's lock dropped.
//!
//! Some work on a knote must be done with the lock dropped: attaching a filter's
//! source (which may take wait-queue locks or sleep), polling a descriptor, or
//! detaching. As in FreeBSD and NetBSD, such a knote is marked *in flux*
//! (`influx` > 0) while the lock is dropped:
//!
//! - a change to an in-flux knote (modify, delete) sleeps on `flux` until the
//!   count drops to zero, then looks the knote up again;
//! - a scan polls a level-triggered descriptor knote in flux but leaves it on
//!   the ready queue (moved to the tail): a scan of another thread that meets
//!   it holds it too (`influx` counts holders), polls it and reports it
//!   itself, so a level-triggered event is reported to every call that looks
//!   for it, also while another thread is reporting it (NetBSD PR kern/50094
//!   is the bug this avoids). The last holder decides whether it leaves the
//!   queue: only if its condition no longer holds and no wake-up came while it
//!   was held (`KN_REQUEUE`), or drops it if its descriptor was closed;
//! - a scan holds a descriptor knote whose delivery consumes its event
//!   (EV_ONESHOT, EV_CLEAR, EV_DISPATCH) off the queue: only that scan may
//!   report it. It is still pending, counted in `held`, and the published
//!   count of pending events (`nready + held`) includes it, so a blocking
//!   waiter does not go to sleep while another thread holds it;
//! - a scan that finds another queued knote in flux (a NOTE_TRACK child being
//!   hooked up) skips it; a scan that skipped one, or that could not see
//!   knotes other scans hold, and has nothing to report, waits on `flux`
//!   until a hold ends (`flux_ends` moves) and looks again, whatever its
//!   timeout, rather than return 0 (FreeBSD's "kqflxwt" wait);
//! - whoever ends a flux wakes `flux` if a task waits there
//!   ([`Kqueue::leave_flux`], then [`Kqueue::wake_flux`] once the lock is
//!   dropped): a waiter checks its condition under the lock after queueing on
//!   `flux` and, if it is going to sleep, counts itself in `flux_waiters`
//!   there, once; it uncounts itself when it finds the condition met. A flux
//!   that ends before it is counted is seen by its own check;
//! - flux waits are uninterruptible (why: [`Kqueue::wait_flux`]).

use super::{KqInner, Kqueue};
use crate::knote::Knote;

impl Kqueue {
    /// Sleeps until `over` holds under the lock, checked each time a hold in flux ends.
    /// Uninterruptible, as in FreeBSD: holds are short, and ending a kevent() call with
    /// EINTR for another thread's hold would be an error nothing asked for.
    pub(super) fn wait_flux(&self, mut over: impl FnMut(&KqInner) -> bool) {
        let mut counted = false;
        self.flux.wait_uninterruptible(|| {
            let mut g = self.lock();
            if over(&g) {
                if counted {
                    g.flux_waiters -= 1;
                }
                return Some(());
            }
            if !counted {
                // Queued on `flux` already: whoever ends a flux from now on wakes us.
                g.flux_waiters += 1;
                counted = true;
            }
            None
        })
    }

    /// Sleeps until a hold in flux ends, if none has since the count was `seen`.
    pub(super) fn wait_flux_end(&self, seen: u64) {
        self.wait_flux(|inner| inner.flux_ends != seen);
    }

    /// Ends one hold of `kn` in flux; returns whether tasks wait for a flux to end
    /// (pass it to [`Kqueue::wake_flux`] once the lock is dropped).
    #[inline]
    pub(super) fn leave_flux(inner: &mut KqInner, kn: &Knote) -> bool {
        kn.state.access_mut(inner).influx -= 1;
        inner.flux_ends = inner.flux_ends.wrapping_add(1);
        inner.flux_waiters > 0
    }

    /// Wakes the tasks waiting for a flux to end, if [`Kqueue::leave_flux`] saw any.
    #[inline]
    pub(super) fn wake_flux(&self, waiters: bool) {
        if waiters {
            self.flux.wake(0);
        }
    }

    /// Ends the flux of a knote added with [`Kqueue::add_hook_knote`].
    pub(crate) fn end_flux(&self, kn: &Knote) {
        let waiters = Self::leave_flux(&mut self.lock(), kn);
        self.wake_flux(waiters);
    }
}
