// SPDX-License-Identifier: GPL-2.0

//! The kqueue: its knote table, its ready queue, applying changes and
//! collecting events.
//!
//! Everything mutable lives in [`KqInner`] under one irq-safe spinlock. Nothing
//! sleeps or allocates under it; wake-ups happen after it is dropped. See
//! Documentation/kqueue/design.rst for the lock order and the in-flux rule.

use crate::{
    charge::UserCharge,
    filter::FilterState,
    glue::{new_irq_spinlock, IrqSpinLock, WaitEnd, WaitQueue},
    knote::{Knote, KnoteKey, KnoteState, KN_ACTIVE, KN_DETACHED, KN_DISABLED, KN_QUEUED},
    uapi::*,
};
use kernel::{
    bindings,
    list::{List, ListArc},
    prelude::*,
    rbtree::{RBTree, RBTreeNodeReservation},
    seq_file::SeqFile,
    seq_print,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc, LockedBy,
    },
};

/// What [`Kqueue`]'s lock protects.
pub(crate) struct KqInner {
    knotes: RBTree<KnoteKey, Arc<Knote>>,
    ready: List<Knote, 0>,
    /// Length of `ready`.
    nready: usize,
    /// The last descriptor is closed: waiters leave with EBADF.
    closing: bool,
}

/// One kqueue: what one open of /dev/kqueue gives.
#[pin_data]
pub(crate) struct Kqueue {
    #[pin]
    inner: IrqSpinLock<KqInner>,
    /// Threads sleeping in kevent().
    #[pin]
    waiters: WaitQueue,
    /// poll/select/epoll (and later other kqueues) watching this kqueue's descriptor.
    #[pin]
    pollers: WaitQueue,
    /// Threads waiting for a knote to leave flux.
    #[pin]
    flux: WaitQueue,
    charge: Arc<UserCharge>,
    max_knotes: i64,
    /// kevent() calls in flight holding a file reference (see [`Kqueue::flush`]).
    ioctl_refs: Atomic<i64>,
}

/// Knotes unlinked under the lock, to be detached and freed after it is dropped.
type Unlinked = List<Knote, 1>;

impl Kqueue {
    /// A new, empty kqueue charging its knotes to `charge`, at most `max_knotes` per user.
    pub(crate) fn new(charge: Arc<UserCharge>, max_knotes: i64) -> impl PinInit<Self> {
        pin_init!(Self {
            inner <- new_irq_spinlock!(
                KqInner {
                    knotes: RBTree::new(),
                    ready: List::new(),
                    nready: 0,
                    closing: false,
                },
                "kqueue::inner"
            ),
            waiters <- WaitQueue::new(kernel::c_str!("kqueue::waiters"), kernel::static_lock_class!()),
            pollers <- WaitQueue::new(kernel::c_str!("kqueue::pollers"), kernel::static_lock_class!()),
            flux <- WaitQueue::new(kernel::c_str!("kqueue::flux"), kernel::static_lock_class!()),
            charge,
            max_knotes,
            ioctl_refs: Atomic::new(0),
        })
    }

    /// The user charge of this kqueue.
    pub(crate) fn charge(&self) -> &Arc<UserCharge> {
        &self.charge
    }

    /// Applies one change.
    pub(crate) fn register(&self, kev: &KEvent) -> Result {
        if kev.flags & !EV_VALID != 0 {
            return Err(EINVAL);
        }
        if kev.flags & (EV_ONESHOT | EV_DISPATCH) == EV_ONESHOT | EV_DISPATCH {
            return Err(EINVAL);
        }
        FilterState::check(kev.filter)?;
        let key = KnoteKey {
            ident: kev.ident,
            filter: kev.filter,
        };
        let mut new: Option<NewKnote> = None;
        loop {
            let mut guard = self.inner.lock();
            let inner = &mut *guard;
            if let Some(kn) = inner.knotes.get(&key) {
                let kn = kn.clone();
                if kn.state.access(inner).influx > 0 {
                    drop(guard);
                    self.wait_out_of_flux(&kn)?;
                    continue;
                }
                if let Some(n) = new.take() {
                    n.cancel(self);
                }
                return self.modify(guard, &kn, kev);
            }
            if kev.flags & EV_ADD == 0 {
                return Err(ENOENT);
            }
            let Some(n) = new.take() else {
                drop(guard);
                new = Some(NewKnote::alloc(self, kev)?);
                continue;
            };
            // Insert in flux: the filter attaches with the lock dropped.
            let kn = n.knote.clone();
            kn.state.access_mut(inner).influx = 1;
            inner.knotes.insert(n.reservation.into_node(key, n.knote));
            drop(guard);
            return self.finish_add(&kn, kev);
        }
    }

    /// Second half of adding a knote: attach the filter, then leave flux and apply the change.
    fn finish_add(&self, kn: &Arc<Knote>, kev: &KEvent) -> Result {
        // EVFILT_USER has nothing to hook; filters with hooks attach here, unlocked.
        let mut guard = self.inner.lock();
        let inner = &mut *guard;
        let st = kn.state.access_mut(inner);
        st.influx -= 1;
        self.apply(guard, kn, kev, true);
        self.flux.wake_all(0);
        Ok(())
    }

    /// Applies a change to an existing knote that is not in flux.
    fn modify(
        &self,
        mut guard: kernel::sync::lock::Guard<'_, KqInner, crate::glue::IrqSpinLockBackend>,
        kn: &Arc<Knote>,
        kev: &KEvent,
    ) -> Result {
        if kev.flags & EV_DELETE != 0 {
            let mut gone = Unlinked::new();
            Self::unlink(&mut guard, kn, &mut gone);
            drop(guard);
            self.free_unlinked(gone);
            return Ok(());
        }
        self.apply(guard, kn, kev, kev.flags & EV_ADD != 0);
        Ok(())
    }

    /// Applies `kev` to `kn` (EV_ADD when `add`), queues it if its condition holds,
    /// and wakes waiters after dropping the lock.
    fn apply(
        &self,
        mut guard: kernel::sync::lock::Guard<'_, KqInner, crate::glue::IrqSpinLockBackend>,
        kn: &Arc<Knote>,
        kev: &KEvent,
        add: bool,
    ) {
        let inner = &mut *guard;
        let st = kn.state.access_mut(inner);
        st.kev.udata = kev.udata;
        if add {
            st.kev.flags = kev.flags & EV_PERSISTENT;
        }
        if st.filter.touch(kev) {
            st.status |= KN_ACTIVE;
        }
        if kev.flags & EV_DISABLE != 0 {
            st.status |= KN_DISABLED;
            Self::dequeue(inner, kn);
        } else if kev.flags & (EV_ENABLE | EV_ADD) != 0 {
            st.status &= !KN_DISABLED;
        }
        let woke = Self::enqueue(inner, kn);
        drop(guard);
        if woke {
            self.wake();
        }
    }

    /// Puts `kn` on the ready queue if it is active, enabled and not queued yet.
    /// Returns whether it was queued.
    fn enqueue(inner: &mut KqInner, kn: &Arc<Knote>) -> bool {
        let st = kn.state.access_mut(inner);
        if st.status & (KN_ACTIVE | KN_DISABLED | KN_QUEUED | KN_DETACHED) != KN_ACTIVE {
            return false;
        }
        let Some(item) = ListArc::try_from_arc_or_drop(kn.clone()) else {
            return false;
        };
        st.status |= KN_QUEUED;
        inner.ready.push_back(item);
        inner.nready += 1;
        true
    }

    /// Takes `kn` off the ready queue if it is on it.
    fn dequeue(inner: &mut KqInner, kn: &Knote) {
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
    fn unlink(inner: &mut KqInner, kn: &Arc<Knote>, gone: &mut Unlinked) {
        Self::dequeue(inner, kn);
        kn.state.access_mut(inner).status |= KN_DETACHED;
        if let Some(arc) = inner.knotes.remove(&kn.key) {
            if let Some(item) = ListArc::try_from_arc_or_drop(arc) {
                gone.push_back(item);
            }
        }
    }

    /// Detaches and frees knotes unlinked under the lock. Called without the lock.
    fn free_unlinked(&self, mut gone: Unlinked) {
        while let Some(kn) = gone.pop_front() {
            // EVFILT_USER has no hook to detach; hooked filters detach here.
            self.charge.uncharge();
            drop(kn);
        }
    }

    /// Sleeps until `kn` leaves flux (or is gone).
    fn wait_out_of_flux(&self, kn: &Knote) -> Result {
        self.flux
            .wait_until(None, || {
                let g = self.inner.lock();
                (kn.state.access(&g).influx == 0).then_some(())
            })
            .map_err(|_| EINTR)
    }

    /// Wakes kevent() sleepers and pollers of this kqueue.
    fn wake(&self) {
        self.waiters.wake_all(0);
        self.pollers
            .wake_all(bindings::POLLIN | bindings::POLLRDNORM);
    }

    /// Moves up to `out.len()` events into `out`, applying ONESHOT, CLEAR and DISPATCH.
    /// Knotes deleted by EV_ONESHOT go to `gone`. Returns the number of events.
    ///
    /// Level-triggered knotes go back to the tail, so one kevent() call looks at no more
    /// knotes than were queued when it started: `budget`, set on the first batch.
    fn collect(
        inner: &mut KqInner,
        out: &mut [KEvent],
        gone: &mut Unlinked,
        budget: &mut Option<usize>,
    ) -> usize {
        let mut n = 0;
        let budget = budget.get_or_insert(inner.nready);
        while n < out.len() && *budget > 0 {
            *budget -= 1;
            let Some(kn) = inner.ready.pop_front() else {
                break;
            };
            inner.nready -= 1;
            let st = kn.state.access_mut(inner);
            st.status &= !KN_QUEUED;
            if st.influx > 0 {
                // Somebody works on it unlocked; it will be looked at next time.
                st.status |= KN_QUEUED;
                inner.ready.push_back(kn);
                inner.nready += 1;
                continue;
            }
            let mut ev = st.kev;
            ev.flags &= !st.filter.hidden_flags();
            if !st.filter.deliver(&mut ev) {
                st.status &= !KN_ACTIVE;
                continue;
            }
            out[n] = ev;
            n += 1;
            let flags = st.kev.flags;
            if flags & EV_ONESHOT != 0 {
                let arc = kn.into_arc();
                Self::unlink(inner, &arc, gone);
                continue;
            }
            if flags & EV_CLEAR != 0 {
                st.filter.clear();
                st.status &= !KN_ACTIVE;
            }
            if flags & EV_DISPATCH != 0 {
                st.status |= KN_DISABLED;
            } else if flags & EV_CLEAR == 0 {
                st.status |= KN_QUEUED;
                inner.ready.push_back(kn);
                inner.nready += 1;
            }
        }
        n
    }

    /// Collects up to `out.len()` events, sleeping until one is ready, the absolute
    /// monotonic `deadline` (None: forever) passes, or a signal arrives.
    /// `budget` carries the pass over to [`Kqueue::collect_more`].
    pub(crate) fn scan(
        &self,
        out: &mut [KEvent],
        deadline: Option<i64>,
        budget: &mut Option<usize>,
    ) -> Result<usize> {
        let mut gone = Unlinked::new();
        let res = self.waiters.wait_until(deadline, || {
            let mut guard = self.inner.lock();
            if guard.closing {
                return Some(Err(EBADF));
            }
            if guard.nready == 0 && deadline != Some(0) {
                return None;
            }
            let n = Self::collect(&mut guard, out, &mut gone, budget);
            if n == 0 && deadline != Some(0) {
                // Everything queued was stale: start a fresh pass after the next wake-up.
                *budget = None;
                return None;
            }
            Some(Ok(n))
        });
        self.free_unlinked(gone);
        match res {
            Ok(r) => r,
            Err(WaitEnd::TimedOut) => Ok(0),
            Err(WaitEnd::Interrupted) => Err(EINTR),
        }
    }

    /// Collects ready events without sleeping (after a first batch was returned).
    pub(crate) fn collect_more(&self, out: &mut [KEvent], budget: &mut Option<usize>) -> usize {
        let mut gone = Unlinked::new();
        let n = Self::collect(&mut self.inner.lock(), out, &mut gone, budget);
        self.free_unlinked(gone);
        n
    }

    /// poll() of the kqueue descriptor: readable while events are pending.
    pub(crate) fn poll_mask(&self) -> u32 {
        if self.inner.lock().nready > 0 {
            bindings::POLLIN | bindings::POLLRDNORM
        } else {
            0
        }
    }

    /// The wait queue poll() registers on.
    pub(crate) fn poll_queue(&self) -> *mut bindings::wait_queue_head {
        self.pollers.as_ptr()
    }

    /// Notes a kevent() call that holds (`true`) or does not hold a file reference.
    pub(crate) fn enter_call(&self, holds_ref: bool) {
        if holds_ref {
            self.ioctl_refs.fetch_add(1, Relaxed);
        }
    }

    /// Ends what [`Kqueue::enter_call`] began.
    pub(crate) fn leave_call(&self, holds_ref: bool) {
        if holds_ref {
            self.ioctl_refs.fetch_add(-1, Relaxed);
        }
    }

    /// close() of a descriptor: `refs` is the file's reference count seen by flush.
    /// When only the closer and kevent() calls in flight still hold the file, the
    /// last descriptor is gone: sleepers return EBADF instead of waiting forever.
    pub(crate) fn flush(&self, refs: i64) {
        if refs > 1 + self.ioctl_refs.load(Relaxed) {
            return;
        }
        self.inner.lock().closing = true;
        self.waiters.wake_all(0);
    }

    /// Last close: frees every knote.
    pub(crate) fn release(&self) {
        let mut gone = Unlinked::new();
        let mut guard = self.inner.lock();
        guard.closing = true;
        while let Some(kn) = guard.ready.pop_front() {
            let arc = kn.into_arc();
            arc.state.access_mut(&mut guard).status &= !KN_QUEUED;
        }
        guard.nready = 0;
        while let Some(cursor) = guard.knotes.cursor_front_mut() {
            let (_, node) = cursor.remove_current();
            let (_, kn) = node.to_key_value();
            kn.state.access_mut(&mut guard).status |= KN_DETACHED;
            if let Some(item) = ListArc::try_from_arc_or_drop(kn) {
                gone.push_back(item);
            }
        }
        drop(guard);
        self.free_unlinked(gone);
        self.waiters.wake_all(0);
    }

    /// /proc/<pid>/fdinfo: one line per knote, no kernel addresses.
    pub(crate) fn show_fdinfo(&self, m: &SeqFile) {
        let guard = self.inner.lock();
        for (key, kn) in guard.knotes.iter() {
            let st = kn.state.access(&guard);
            let mut ev = st.kev;
            st.filter.deliver(&mut ev);
            let active = if st.status & KN_ACTIVE != 0 {
                "active"
            } else {
                "idle"
            };
            let queued = if st.status & KN_QUEUED != 0 {
                ",queued"
            } else {
                ""
            };
            let disabled = if st.status & KN_DISABLED != 0 {
                ",disabled"
            } else {
                ""
            };
            seq_print!(
                m,
                "knote: ident={} filter={} flags=0x{:x} fflags=0x{:x} data={} state={}{}{}\n",
                key.ident,
                key.filter,
                st.kev.flags,
                ev.fflags,
                ev.data,
                active,
                queued,
                disabled,
            );
        }
    }
}

/// A knote allocated (and charged) with the lock dropped, before insertion.
struct NewKnote {
    knote: Arc<Knote>,
    reservation: RBTreeNodeReservation<KnoteKey, Arc<Knote>>,
}

impl NewKnote {
    fn alloc(kq: &Kqueue, kev: &KEvent) -> Result<Self> {
        let filter = FilterState::new(kev)?;
        kq.charge.charge(kq.max_knotes)?;
        let state = KnoteState {
            kev: KEvent {
                ident: kev.ident,
                filter: kev.filter,
                flags: kev.flags & EV_PERSISTENT,
                fflags: 0,
                data: 0,
                udata: kev.udata,
            },
            status: 0,
            influx: 0,
            filter,
        };
        let key = KnoteKey {
            ident: kev.ident,
            filter: kev.filter,
        };
        let alloc = || -> Result<Self> {
            let knote = Arc::pin_init(
                Knote::new(key, LockedBy::new(&kq.inner, state)),
                GFP_KERNEL_ACCOUNT,
            )?;
            let reservation = RBTreeNodeReservation::new(GFP_KERNEL_ACCOUNT)?;
            Ok(Self { knote, reservation })
        };
        alloc().inspect_err(|_| kq.charge.uncharge())
    }

    /// Gives back an allocation that turned out not to be needed.
    fn cancel(self, kq: &Kqueue) {
        kq.charge.uncharge();
    }
}
