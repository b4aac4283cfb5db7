// SPDX-License-Identifier: GPL-2.0

//! Collecting events: taking knotes off the ready queue, deciding what each one
//! reports, and sleeping until there is something to take.

use super::{KqInner, Kqueue, Unlinked, BATCH};
use crate::{
    device,
    filter::fd,
    glue::{self, WaitEnd},
    knote::{Knote, KN_ACTIVE, KN_DETACHED, KN_DISABLED, KN_FORCED, KN_QUEUED, KN_REQUEUE},
    stackvec::StackVec,
    uapi::{KEvent, EV_CLEAR, EV_DISPATCH, EV_ONESHOT},
};
use kernel::{list::ListArc, prelude::*, sync::ArcBorrow};

/// What polling a held descriptor knote found: (mask, data, the descriptor was closed).
type Polled = (u32, fd::Measure, bool);

/// A knote taken off the ready queue by one pass.
enum Taken<'a> {
    /// Its event.
    Event(KEvent),
    /// A descriptor knote whose delivery consumes its event (EV_ONESHOT, EV_CLEAR,
    /// EV_DISPATCH), held in flux off the queue: this pass alone may report it.
    Held(ListArc<Knote>, Polled),
    /// A level-triggered descriptor knote held in flux and left on the queue: other
    /// passes may hold and report it at the same time (its event is not consumed).
    Shared(ArcBorrow<'a, Knote>, Polled),
}

impl Taken<'_> {
    /// The knote to poll without the lock, and where its result goes.
    fn poll_slot(&mut self) -> Option<(&Knote, &mut Polled)> {
        match self {
            Taken::Held(kn, polled) => Some((kn, polled)),
            Taken::Shared(kn, polled) => Some((kn, polled)),
            _ => None,
        }
    }
}

/// The events of one pass, in queue order. The caller owns it, so that the batch
/// is neither initialised nor moved on every call.
pub(crate) struct Collected {
    events: StackVec<KEvent, BATCH>,
    /// The pass stopped before a knote whose delivery consumes its event: the caller
    /// must check that the event slots are writable, then collect again.
    pub(crate) unprobed: bool,
    /// Other tasks held knotes in flux that the pass could not take: the count of
    /// ended holds then. A call that got nothing waits for it to move, then looks
    /// again (see [`Kqueue::scan`]), rather than miss those events.
    flux_seen: Option<u64>,
    /// The call slept on the kqueue's waiters: it may have taken the wake-up another
    /// sleeper needs (see [`Kqueue::pass_wake_up`]).
    pub(crate) slept: bool,
}

impl Collected {
    /// Room for one pass.
    pub(crate) fn new() -> Self {
        Self {
            events: StackVec::new(),
            unprobed: false,
            flux_seen: None,
            slept: false,
        }
    }

    /// Number of events.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.events.len()
    }

    /// The events.
    pub(crate) fn events(&self) -> &[KEvent] {
        self.events.as_slice()
    }
}

impl Kqueue {
    /// Collects up to `max` (at most [`BATCH`]) events without sleeping.
    ///
    /// Level-triggered knotes go back to the tail, so one kevent() call looks at no
    /// more knotes than were queued when it started: `budget`, set on the first batch.
    ///
    /// Knotes on descriptors are polled again without the lock: they are taken off
    /// the queue in flux (phase 1), polled (phase 2), and reported or dropped under
    /// the lock again (phase 3), in queue order.
    ///
    /// Unless the caller `probed` that the event slots are writable, the pass stops
    /// before the first knote that EV_ONESHOT, EV_CLEAR or EV_DISPATCH would consume
    /// (see [`Collected::unprobed`]): a level-triggered event whose copy-out fails is
    /// still pending, those would be lost.
    /// The events replace what `got` held.
    pub(crate) fn collect(
        &self,
        max: usize,
        budget: &mut Option<usize>,
        got: &mut Collected,
        probed: bool,
    ) {
        let max = max.min(BATCH);
        got.events.clear();
        got.unprobed = false;
        let mut skipped = false;
        let mut taken = StackVec::<Taken<'_>, BATCH>::new();
        let mut gone = Unlinked::new();
        // Knotes this pass polls, and of those the ones held off the queue.
        let mut polls = 0;
        let mut held = 0;

        let mut guard = self.lock();
        let inner = &mut *guard;
        // The close check of this call, where it costs no lock of its own.
        Self::sweep_locked(inner, &mut gone);
        let budget = budget.get_or_insert(inner.nready);
        while taken.len() < max && *budget > 0 {
            *budget -= 1;
            let Some(kn) = inner.ready.pop_front() else {
                break;
            };
            inner.nready -= 1;
            let st = kn.state.access_mut(inner);
            st.status &= !KN_QUEUED;
            let level = st.kev.flags & (EV_ONESHOT | EV_CLEAR | EV_DISPATCH) == 0;
            if kn.file.is_some() && level && st.status & KN_DISABLED == 0 {
                // Polled in flux but left queued (at the tail, for the budget): a pass
                // of another thread meanwhile holds and reports it too.
                st.influx += 1;
                polls += 1;
                // SAFETY: `kn` is the content of the `Arc` in the table, and a knote in
                // flux stays there until its flux ends (see `KnoteState::influx`), which
                // this pass does in phase 3, before it returns.
                let shared = unsafe { ArcBorrow::from_raw(core::ptr::from_ref::<Knote>(&kn)) };
                Self::requeue(inner, kn);
                // `taken` has room: its length is below `max`.
                let _ = taken.push(Taken::Shared(shared, (0, fd::Measure::NONE, false)));
                continue;
            }
            if st.influx > 0 {
                // Somebody works on it unlocked; look again once they are done.
                skipped = true;
                Self::requeue(inner, kn);
                continue;
            }
            if st.status & KN_DISABLED != 0 {
                continue;
            }
            if kn.source.file().is_some() && Self::is_stale(&kn) {
                // A pidfd closed (or its number reused) since the sweep: no event.
                Self::unlink(inner, &kn.clone_arc(), &mut gone);
                continue;
            }
            let st = kn.state.access_mut(inner);
            if !probed && st.kev.flags & (EV_ONESHOT | EV_CLEAR | EV_DISPATCH) != 0 {
                st.status |= KN_QUEUED;
                inner.ready.push_front(kn);
                inner.nready += 1;
                *budget += 1;
                got.unprobed = true;
                break;
            }
            if kn.file.is_some() {
                st.influx += 1;
                polls += 1;
                held += 1;
                inner.held += 1;
                let _ = taken.push(Taken::Held(kn, (0, fd::Measure::NONE, false)));
                continue;
            }
            let mut ev = st.kev;
            ev.flags &= !st.filter.hidden_flags();
            if !st.filter.deliver(&mut ev) && st.status & KN_FORCED == 0 {
                st.status &= !KN_ACTIVE;
                Self::put_back(inner, kn, false);
                continue;
            }
            let _ = taken.push(Taken::Event(ev));
            Self::delivered(inner, kn, &mut gone);
        }
        got.flux_seen = (skipped || inner.held > held).then_some(inner.flux_ends);
        drop(guard);

        if polls > 0 {
            for t in taken.as_mut_slice() {
                if let Some((kn, polled)) = t.poll_slot() {
                    *polled = Self::poll_held(kn);
                }
            }
            let mut guard = self.lock();
            let inner = &mut *guard;
            let mut flux_waiters = false;
            taken.take_each(|t| {
                let ev = match t {
                    Taken::Event(ev) => Some(ev),
                    Taken::Shared(kn, polled) => {
                        flux_waiters |= Self::leave_flux(inner, &kn);
                        Self::end_shared(inner, &kn, polled, &mut gone)
                    }
                    Taken::Held(kn, polled) => {
                        flux_waiters |= Self::leave_flux(inner, &kn);
                        Self::end_held(inner, kn, polled, &mut gone)
                    }
                };
                if let Some(ev) = ev {
                    // As many events as knotes taken, at most `BATCH`.
                    let _ = got.events.push(ev);
                }
            });
            drop(guard);
            self.wake_flux(flux_waiters);
        } else {
            taken.take_each(|t| {
                if let Taken::Event(ev) = t {
                    let _ = got.events.push(ev);
                }
            });
        }
        self.free_unlinked(gone);
    }

    /// Phase 3 for a knote this pass held off the queue, out of flux already: its event,
    /// if it has one, consumed as delivery says ([`Kqueue::delivered`]); otherwise it
    /// goes back as [`Kqueue::put_back`] decides, or is dropped if its descriptor was
    /// closed.
    fn end_held(
        inner: &mut KqInner,
        kn: ListArc<Knote>,
        (mask, data, stale): Polled,
        gone: &mut Unlinked,
    ) -> Option<KEvent> {
        inner.held -= 1;
        if kn.state.access(inner).status & KN_DETACHED != 0 {
            return None;
        }
        if stale {
            Self::unlink(inner, &kn.into_arc(), gone);
            return None;
        }
        let Some(ev) = Self::polled_event(inner, &kn, mask, data) else {
            kn.state.access_mut(inner).status &= !KN_ACTIVE;
            Self::put_back(inner, kn, false);
            return None;
        };
        Self::delivered(inner, kn, gone);
        Some(ev)
    }

    /// Phase 3 for a level-triggered knote this pass polled on the queue, out of flux
    /// for this pass already: its event, if it has one. The last of the passes that
    /// held it at once takes it off the queue if its condition no longer holds and no
    /// wake-up came meanwhile, or drops it if its descriptor was closed.
    fn end_shared(
        inner: &mut KqInner,
        kn: &Knote,
        (mask, data, stale): Polled,
        gone: &mut Unlinked,
    ) -> Option<KEvent> {
        let st = kn.state.access_mut(inner);
        let last = st.influx == 0;
        if st.status & KN_DETACHED != 0 {
            return None;
        }
        if stale {
            if last {
                Self::unlink(inner, kn, gone);
            }
            return None;
        }
        let event = Self::polled_event(inner, kn, mask, data);
        let st = kn.state.access_mut(inner);
        if last {
            let woken = st.status & KN_REQUEUE != 0;
            st.status &= !KN_REQUEUE;
            if event.is_none() && !woken {
                st.status &= !KN_ACTIVE;
                Self::dequeue(inner, kn);
            }
        }
        event
    }

    /// Records what polling descriptor knote `kn` found (`mask`, `data`) in its filter;
    /// returns its event if it is enabled and its condition holds (or EV_FORCEONESHOT
    /// forced it).
    #[inline]
    fn polled_event(
        inner: &mut KqInner,
        kn: &Knote,
        mask: u32,
        data: fd::Measure,
    ) -> Option<KEvent> {
        let st = kn.state.access_mut(inner);
        let mut ev = st.kev;
        // Only descriptor knotes are polled.
        let f = st.filter.fd_mut()?;
        f.polled(mask, data);
        let ready = f.deliver(&mut ev) || st.status & KN_FORCED != 0;
        (st.status & KN_DISABLED == 0 && ready).then_some(ev)
    }

    /// Phase 2 for a held descriptor knote: (poll mask, data, closed), no lock held.
    fn poll_held(kn: &Knote) -> (u32, fd::Measure, bool) {
        let Some(file) = &kn.file else {
            return (0, fd::Measure::NONE, false);
        };
        let side = fd::Side::of(kn.key.filter);
        match glue::poll_held(kn.owner_files, kn.key.ident, file, side) {
            None => (0, fd::Measure::NONE, true),
            Some((mask, data, error)) => {
                let measure = match device::kqueue_of_file(file) {
                    // A kqueue's data is its number of pending events.
                    Some(kq) => fd::Measure {
                        data: (side == fd::Side::Read).then(|| kq.pending() as i64),
                        error: 0,
                    },
                    None => fd::Measure { data, error },
                };
                (mask, measure, false)
            }
        }
    }

    /// Ends a call that slept: sleepers are woken one at a time (an event wakes one), so
    /// one that leaves events pending, however it ends, wakes the next.
    pub(crate) fn pass_wake_up(&self) {
        if self.pending() > 0 {
            self.waiters.wake(0);
        }
    }

    /// Collects up to `max` events, sleeping until one is ready, the absolute
    /// monotonic `deadline` (None: forever) passes, or a signal arrives.
    /// `budget` carries the pass over to later [`Kqueue::collect`] calls. `probe(n)` is
    /// called before `n` events that delivery consumes are taken off the queue (the
    /// caller checks it can store them, so that a bad buffer loses nothing). The events
    /// go to `got`.
    #[inline(always)]
    pub(crate) fn scan(
        &self,
        max: usize,
        deadline: Option<i64>,
        budget: &mut Option<usize>,
        mut probe: impl FnMut(usize) -> Result,
        got: &mut Collected,
    ) -> Result {
        // Lock-free: waiters run it after queueing themselves, and whoever queues an
        // event publishes it under the lock before waking them (see `Locked`).
        let ready = || -> Option<Result<usize>> {
            if self.closing.get() {
                return Some(Err(EBADF));
            }
            let pending = self.pending();
            (pending > 0 || deadline == Some(0)).then_some(Ok(pending))
        };
        loop {
            // Events pending (or a poll): no need to queue on `waiters` at all.
            let woke = match ready() {
                Some(r) => Ok(r),
                None => {
                    // Nothing to collect: check for closed descriptors before sleeping.
                    self.sweep_closed();
                    got.slept = true;
                    self.waiters.wait_alone_until(deadline, ready)
                }
            };
            let pending = match woke {
                Ok(r) => r?,
                Err(WaitEnd::TimedOut) => return Ok(()),
                Err(WaitEnd::Interrupted) => return Err(EINTR),
            };
            let take = max.min(pending);
            if take == 0 {
                self.sweep_closed();
                return Ok(());
            }
            self.collect(take, budget, got, false);
            if got.unprobed && got.len() == 0 {
                probe(take)?;
                self.collect(take, budget, got, true);
            }
            if got.len() > 0 {
                return Ok(());
            }
            if got.flux_seen.is_none() && budget.is_some_and(|left| left > 0) {
                // The pass took `max` knotes and none had an event: look at the rest
                // of those queued when the call began before giving up or sleeping.
                continue;
            }
            // Nothing to report yet: a fresh pass follows.
            *budget = None;
            if let Some(seen) = got.flux_seen {
                // Other threads hold pending knotes in flux: wait for them, whatever
                // the deadline (FreeBSD's "kqflxwt"); a zero timeout must not miss them.
                self.wait_flux_end(seen);
                continue;
            }
            if deadline.is_some_and(|d| d <= glue::monotonic_ns()) {
                return Ok(());
            }
            // Everything queued was stale: wait again.
        }
    }
}
