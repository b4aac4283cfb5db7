// SPDX-License-Identifier: GPL-2.0

//! The ready queue, and the event sources' way onto it.
//!
//! - A knote is on `ready` (its list 0, through a [`ListArc`]) exactly while
//!   `KN_QUEUED` is set, and `nready` is the length of the list. It is queued only
//!   if active, enabled, not detached and not `KN_NEW` ([`Kqueue::enqueue`]).
//! - A knote a scan holds off the queue cannot be queued (its [`ListArc`] is taken):
//!   a wake-up then sets `KN_REQUEUE`, and the scan puts it back when it ends its
//!   hold ([`Kqueue::put_back`]), so no edge is lost under EV_CLEAR.
//! - Sources report through [`activate`] (and wait-queue hooks through
//!   [`hook_fired`]), from any context: they update the knote under the lock and
//!   queue it, and waiters are woken only after the lock is dropped.
//! - A knote is *unlinked* (off the table and the ready queue, marked
//!   `KN_DETACHED`) under the lock, onto a private list ([`Unlinked`], list 1),
//!   and only then detached and freed outside it ([`Kqueue::free_unlinked`]);
//!   hooks that still hold a reference see `KN_DETACHED` and do nothing.

use super::{KqInner, Kqueue, Unlinked};
use crate::{
    filter::fd,
    knote::{
        Knote, KnoteState, KN_ACTIVE, KN_DETACHED, KN_DISABLED, KN_NEW, KN_QUEUED, KN_REQUEUE,
    },
    nest,
    uapi::{EV_CLEAR, EV_DISPATCH, EV_ONESHOT},
};
use kernel::{bindings, list::ListArc, sync::ArcBorrow};

impl Kqueue {
    /// Puts `kn` on the ready queue if it is active, enabled and not queued yet.
    /// Returns whether it was queued.
    pub(super) fn enqueue(inner: &mut KqInner, kn: ArcBorrow<'_, Knote>) -> bool {
        let st = kn.state.access_mut(inner);
        if st.status & (KN_ACTIVE | KN_DISABLED | KN_QUEUED | KN_DETACHED | KN_NEW) != KN_ACTIVE {
            return false;
        }
        let Some(item) = ListArc::try_from_arc_borrow(kn) else {
            // A scanner holds it off the queue right now: it re-queues it when done.
            st.status |= KN_REQUEUE;
            return false;
        };
        st.status |= KN_QUEUED;
        inner.ready.push_back(item);
        inner.nready += 1;
        true
    }

    /// Puts a knote this scan took off the queue back at the tail.
    pub(super) fn requeue(inner: &mut KqInner, kn: ListArc<Knote>) {
        kn.state.access_mut(inner).status |= KN_QUEUED;
        inner.ready.push_back(kn);
        inner.nready += 1;
    }

    /// Takes `kn` off the ready queue if it is on it.
    pub(super) fn dequeue(inner: &mut KqInner, kn: &Knote) {
        let st = kn.state.access_mut(inner);
        if st.status & KN_QUEUED == 0 {
            return;
        }
        st.status &= !KN_QUEUED;
        // SAFETY: KN_QUEUED is set exactly while the knote is on this kqueue's ready list,
        // the only list with ID 0 a knote is ever put on.
        drop(unsafe { inner.ready.remove(kn) });
        inner.nready -= 1;
    }

    /// Removes `kn` from the table and the ready queue, onto `gone`.
    pub(super) fn unlink(inner: &mut KqInner, kn: &Knote, gone: &mut Unlinked) {
        Self::dequeue(inner, kn);
        kn.state.access_mut(inner).status |= KN_DETACHED;
        if let Some(arc) = inner.knotes.remove(&kn.key) {
            if let Some(item) = ListArc::try_from_arc_or_drop(arc) {
                gone.push_back(item);
            }
        }
    }

    /// Detaches and frees knotes unlinked under the lock. Called without the lock.
    #[inline]
    pub(super) fn free_unlinked(&self, gone: Unlinked) {
        if !gone.is_empty() {
            self.free_unlinked_slow(gone);
        } else {
            // An empty list owns nothing: skip its out-of-line drop glue.
            core::mem::forget(gone);
        }
    }

    #[inline(never)]
    fn free_unlinked_slow(&self, mut gone: Unlinked) {
        while let Some(kn) = gone.pop_front() {
            kn.hook.detach();
            kn.source.detach(&kn);
            if let Some(child) = Self::nested_child(&kn) {
                nest::unlink(self, child);
            }
            self.charge.uncharge();
            drop(kn);
        }
    }

    /// Wakes kevent() sleepers and pollers of this kqueue, from wake-up nesting `level`
    /// (0 unless called from another queue's wake-up).
    pub(super) fn wake(&self, level: i32) {
        // One sleeper: it wakes the next if it leaves events pending (see `scan`).
        self.waiters.wake(0);
        self.pollers.wake_nested(
            bindings::POLLIN | bindings::POLLRDNORM,
            level,
            &self.wake_level,
        );
    }

    /// The wake-up nesting level of callbacks run from this kqueue's pollers' wake-up.
    fn wake_level(&self) -> i32 {
        // SAFETY: Read by callbacks that run under the pollers' lock, where it is written.
        unsafe { core::ptr::read_volatile(self.wake_level.get()) }
    }

    /// After `kn`'s event was reported: EV_ONESHOT unlinks it, EV_CLEAR resets the
    /// filter, EV_DISPATCH disables it, anything else goes back to the tail (level).
    pub(super) fn delivered(inner: &mut KqInner, kn: ListArc<Knote>, gone: &mut Unlinked) {
        let st = kn.state.access_mut(inner);
        let flags = st.kev.flags;
        if flags & EV_ONESHOT != 0 {
            let arc = kn.into_arc();
            Self::unlink(inner, &arc, gone);
            return;
        }
        if flags & EV_CLEAR != 0 {
            st.filter.clear();
            st.status &= !KN_ACTIVE;
        }
        if flags & EV_DISPATCH != 0 {
            st.status |= KN_DISABLED;
        }
        Self::put_back(inner, kn, flags & (EV_CLEAR | EV_DISPATCH) == 0);
    }

    /// Ends a scan's hold on `kn`: back on the queue if `level`, or if a wake-up came
    /// while the scan held it (and it is still enabled).
    pub(super) fn put_back(inner: &mut KqInner, kn: ListArc<Knote>, level: bool) {
        let st = kn.state.access_mut(inner);
        let requeue = st.status & KN_REQUEUE != 0;
        st.status &= !KN_REQUEUE;
        if requeue {
            st.status |= KN_ACTIVE;
        }
        if (level || requeue) && st.status & (KN_DISABLED | KN_DETACHED) == 0 {
            Self::requeue(inner, kn);
        }
    }
}

/// A wake-up on a queue `kn` is hooked into, with poll mask `mask` (0: unknown).
/// Runs with that queue's lock held, maybe in hard irq: marks the knote active and
/// queues it; the scan polls the file again to decide.
pub(crate) fn hook_fired(kn: &Knote, mask: u32) {
    if !fd::wakes(kn.key.filter, mask) {
        return;
    }
    // A kqueue watching a kqueue: one level deeper than the waking kqueue's wake-up.
    let level = match Kqueue::nested_child(kn) {
        Some(child) => child.wake_level(),
        None => 1,
    };
    activate_at(kn, level, |_| true);
}

/// An event source fired for `kn`: `update` records the event in the knote's state
/// (normally its filter's; also its flags, e.g. EV_EOF) under the kqueue's lock and
/// says whether the knote's condition now holds; if so the knote is queued and
/// waiters are woken after the lock is dropped.
///
/// Callable from any context (hard irq, tracepoint probes, with the source's own
/// locks held), by a hook of `kn`'s [`crate::filter::Source`] while it is attached.
pub(crate) fn activate(kn: &Knote, update: impl FnOnce(&mut KnoteState) -> bool) {
    activate_at(kn, 0, update)
}

/// [`activate`] from wake-up nesting `level` (see [`Kqueue::wake`]).
fn activate_at(kn: &Knote, level: i32, update: impl FnOnce(&mut KnoteState) -> bool) {
    // SAFETY: Called by a hook of `kn` (see above).
    let kq = unsafe { kn.kq.get() };
    // SAFETY: `kn` is the content of an `Arc<Knote>` (hooks get `&*arc`), alive while hooked.
    let arc = unsafe { ArcBorrow::from_raw(kn) };
    let mut guard = kq.lock();
    let inner = &mut *guard;
    let st = kn.state.access_mut(inner);
    if st.status & KN_DETACHED != 0 || !update(st) {
        return;
    }
    st.status |= KN_ACTIVE;
    if st.influx > 0 && kn.file.is_some() {
        // A scan polls it right now, maybe from before this event: it must keep it.
        st.status |= KN_REQUEUE;
    }
    let woke = Kqueue::enqueue(inner, arc);
    drop(guard);
    if woke {
        kq.wake(level);
    }
}
