// SPDX-License-Identifier: GPL-2.0

//! The kqueue: its knote table, its ready queue, applying changes and
//! collecting events.
//!
//! Everything mutable lives in [`KqInner`] under one irq-safe spinlock. Nothing
//! sleeps or allocates under it; wake-ups happen after it is dropped. See
//! Documentation/kqueue/design.rst for the lock order and the in-flux rule.

use crate::{
    charge::UserCharge,
    device,
    fdmap::FdMap,
    filter::{fd, FilterState},
    glue::{self, new_irq_spinlock, IrqSpinLock, Published, WaitQueue},
    knote::{
        Knote, KnoteKey, KnoteState, KN_ACTIVE, KN_DETACHED, KN_DISABLED, KN_FORCED, KN_NEW,
        KN_QUEUED, KN_REQUEUE,
    },
    nest::{self, Nest},
    uapi::*,
};
use kernel::{
    bindings,
    fs::File,
    list::{List, ListArc},
    prelude::*,
    rbtree::{Entry, RBTree, RBTreeNodeReservation},
    seq_file::SeqFile,
    seq_print,
    sync::{
        atomic::{Acquire, Atomic, Full, Relaxed},
        Arc, ArcBorrow, LockedBy,
    },
    types::Opaque,
};

mod collect;
pub(crate) use collect::Collected;

/// Most events collected under the lock before they are copied out.
pub(crate) const BATCH: usize = 16;

type Guard<'a> = kernel::sync::lock::Guard<'a, KqInner, crate::glue::IrqSpinLockBackend>;

/// The kqueue's lock, held. When released it publishes the ready count and the
/// closing state for lock-free readers: a kevent() call that finds events pending
/// (or must return at once) takes the lock only to collect.
struct Locked<'a> {
    kq: &'a Kqueue,
    guard: Guard<'a>,
}

impl core::ops::Deref for Locked<'_> {
    type Target = KqInner;
    fn deref(&self) -> &KqInner {
        &self.guard
    }
}

impl core::ops::DerefMut for Locked<'_> {
    fn deref_mut(&mut self) -> &mut KqInner {
        &mut self.guard
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        // Still under the lock; the unlock orders these stores before any wake-up that
        // follows, and waiters read them after queueing themselves (see `scan`).
        self.kq.pending.set(self.guard.nready + self.guard.held);
        self.kq.closing.set(self.guard.closing);
    }
}

/// What [`Kqueue`]'s lock protects.
pub(crate) struct KqInner {
    knotes: RBTree<KnoteKey, Arc<Knote>>,
    ready: List<Knote, 0>,
    /// Length of `ready`.
    nready: usize,
    /// Knotes scans took off `ready` and hold in flux while they poll them: pending
    /// events all the same, which another scan waits for rather than miss.
    held: usize,
    /// The last descriptor is closed: waiters leave with EBADF.
    closing: bool,
    /// Descriptors with knotes, to notice their close (see `fdmap.rs`).
    fds: FdMap,
    /// Tasks waiting on `flux` for a knote to leave flux: ending a flux wakes the
    /// queue only if there are any (counted under the lock, after queueing).
    flux_waiters: usize,
    /// Holds in flux ended so far (wrapping): a scan that found knotes held by others
    /// waits for it to move.
    flux_ends: u64,
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
    /// kevent() calls in flight holding a file reference (low 32 bits, see
    /// [`CALLS_IN_FLIGHT`]) and how often such calls entered or left (above): see
    /// [`Kqueue::flush`].
    calls: Atomic<i64>,
    /// Edges to kqueues this one watches or is watched by.
    nest: Nest,
    /// Wake-up nesting level while this kqueue wakes its pollers (see `kq_wake_nested`).
    wake_level: Opaque<i32>,
    /// Events pending (`KqInner::nready` + `KqInner::held`) as of the last unlock (see
    /// [`Locked`]).
    pending: Published<usize>,
    /// `KqInner::closing` as of the last unlock.
    closing: Published<bool>,
}

// SAFETY: `wake_level` is only written under the pollers' queue lock; the rest is Sync.
unsafe impl Sync for Kqueue {}
// SAFETY: As above; nothing is tied to a thread.
unsafe impl Send for Kqueue {}

/// The part of [`Kqueue`]'s `calls` that counts calls in flight.
const CALLS_IN_FLIGHT: i64 = (1 << 32) - 1;
/// Added to `calls` by every entry and exit: a change [`Kqueue::flush`] can see.
const CALL_MOVED: i64 = 1 << 32;

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
                    held: 0,
                    closing: false,
                    fds: FdMap::new(),
                    flux_waiters: 0,
                    flux_ends: 0,
                },
                "kqueue::inner"
            ),
            waiters <- WaitQueue::new(kernel::c_str!("kqueue::waiters"), kernel::static_lock_class!()),
            pollers <- WaitQueue::new(kernel::c_str!("kqueue::pollers"), kernel::static_lock_class!()),
            flux <- WaitQueue::new(kernel::c_str!("kqueue::flux"), kernel::static_lock_class!()),
            charge,
            max_knotes,
            calls: Atomic::new(0),
            nest: nest::new(),
            wake_level: Opaque::new(0),
            pending: Published::new(0),
            closing: Published::new(false),
        })
    }

    /// This kqueue's place among nested kqueues.
    pub(crate) fn nest(&self) -> &Nest {
        &self.nest
    }

    /// Number of events pending, queued or held by a scan: `data` of EVFILT_READ on a
    /// kqueue descriptor.
    pub(crate) fn pending(&self) -> usize {
        self.pending.get()
    }

    /// Takes the kqueue's lock.
    fn lock(&self) -> Locked<'_> {
        Locked {
            kq: self,
            guard: self.inner.lock(),
        }
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
        // An EV_ADD always sets udata (FreeBSD: EINVAL, whether the knote exists or not).
        if kev.flags & (EV_ADD | EV_KEEPUDATA) == EV_ADD | EV_KEEPUDATA {
            return Err(EINVAL);
        }
        FilterState::check(kev.filter)?;
        FilterState::validate(kev)?;
        let key = KnoteKey::new(kev.ident, kev.filter);
        let mut new: Option<NewKnote> = None;
        loop {
            let mut guard = self.lock();
            let inner = &mut *guard;
            if new.is_none() && kev.flags & EV_ADD != 0 && !Self::may_exist(inner, kev) {
                // Surely new (a batch of new descriptors): make it without a lookup.
                drop(guard);
                new = Some(self.make_new(kev)?);
                continue;
            }
            // One walk of the table per lock hold: a new knote goes where it ends.
            let slot = match inner.knotes.entry(key) {
                Entry::Vacant(slot) => slot,
                Entry::Occupied(found) => {
                    let kn = found.get().clone();
                    match self.change_existing(guard, kn, kev, &mut new) {
                        Some(res) => return res,
                        None => continue,
                    }
                }
            };
            if kev.flags & EV_ADD == 0 {
                return Err(ENOENT);
            }
            let Some(n) = new.take() else {
                drop(guard);
                new = Some(self.make_new(kev)?);
                continue;
            };
            let fd = n.knote.fd_file().is_some().then_some(kev.ident as usize);
            if let Some(fd) = fd.filter(|&fd| !inner.fds.covers(fd)) {
                let words = inner.fds.words();
                drop(guard);
                if let Err(e) = self.grow_fds(fd, words) {
                    n.cancel(self);
                    return Err(e);
                }
                new = Some(n);
                continue;
            }
            let kn = n.knote.clone();
            slot.insert(n.knote, n.reservation);
            kn.state.access_mut(inner).status &= !KN_NEW;
            if let Some(fd) = fd {
                // Covered, checked above; the map never shrinks.
                inner.fds.insert(fd);
            }
            if let Some(polled) = n.polled {
                // A descriptor knote, hooked into its file already: one lock hold.
                self.apply(guard, &kn, kev, true, Some(polled));
                return Ok(());
            }
            // Insert in flux: the filter's source attaches with the lock dropped.
            kn.state.access_mut(inner).influx = 1;
            drop(guard);
            return self.finish_add(&kn, kev);
        }
    }

    /// Whether the table may hold a knote for `kev`: false only for a descriptor filter
    /// on a descriptor the map has no knotes on.
    fn may_exist(inner: &KqInner, kev: &KEvent) -> bool {
        !FilterState::on_fd(kev.filter) || inner.fds.may_have(kev.ident as usize)
    }

    /// A new knote for `kev`, hooked into its file if it watches a descriptor (see
    /// [`Kqueue::attach_new`]); made with the lock dropped.
    fn make_new(&self, kev: &KEvent) -> Result<NewKnote> {
        let mut n = NewKnote::alloc(self, kev)?;
        if let Err(e) = self.attach_new(&mut n, kev) {
            n.cancel(self);
            return Err(e);
        }
        Ok(n)
    }

    /// Applies `kev` to the existing knote `kn`, found under `guard`. Returns the result,
    /// or None if the table must be looked up again: after waiting out another task's
    /// flux, or dropping `kn` for a closed descriptor. `new`, a knote the caller made in
    /// the meantime, is cancelled once the change is done.
    fn change_existing(
        &self,
        mut guard: Locked<'_>,
        kn: Arc<Knote>,
        kev: &KEvent,
        new: &mut Option<NewKnote>,
    ) -> Option<Result> {
        if kn.state.access(&guard).influx > 0 {
            drop(guard);
            self.wait_flux(|inner| kn.state.access(inner).influx == 0);
            return None;
        }
        if Self::is_stale(&kn) {
            // The descriptor was closed (and maybe reused): BSD dropped this knote at
            // close(); do it now and treat the change as for a missing knote.
            let mut gone = Unlinked::new();
            Self::unlink(&mut guard, &kn, &mut gone);
            drop(guard);
            self.free_unlinked(gone);
            return None;
        }
        let res = self.modify(guard, &kn, kev);
        // Somebody added the knote while we made ours: modified theirs.
        if let Some(n) = new.take() {
            n.cancel(self);
        }
        Some(res)
    }

    /// Hooks a new descriptor knote into its file before it is in the table, so that
    /// inserting it and applying the change take one lock hold. Wake-ups until then
    /// only mark it active (KN_NEW keeps it off the ready queue). Other knotes attach
    /// their sources in flux, after insertion ([`Kqueue::finish_add`]).
    fn attach_new(&self, n: &mut NewKnote, kev: &KEvent) -> Result {
        let Some(file) = &n.knote.file else {
            return Ok(());
        };
        let side = fd::Side::of(kev.filter);
        glue::fd_filter_check(file, side)?;
        // A pipe's EMPTY knote also watches its reads: before the measure below, so that
        // a read after it is seen.
        n.knote.source.attach(&n.knote)?;
        let mask = self
            .attach(&n.knote, file)
            .inspect_err(|_| n.knote.source.detach(&n.knote))?;
        // `data` is measured again at delivery; for READ and WRITE it matters now only for
        // a low-water mark, EMPTY and EXCEPT are decided by it.
        let data =
            if kev.fflags & NOTE_LOWAT != 0 || !matches!(side, fd::Side::Read | fd::Side::Write) {
                measure(file, kev.filter)
            } else {
                fd::Measure::NONE
            };
        n.polled = Some((mask, data));
        Ok(())
    }

    /// Drops the knotes of descriptors the caller has closed since the last call, so
    /// that they release their files (BSD drops them at close()).
    pub(crate) fn sweep_closed(&self) {
        let mut gone = Unlinked::new();
        Self::sweep_locked(&mut self.lock(), &mut gone);
        self.free_unlinked(gone);
    }

    /// [`Kqueue::sweep_closed`] under the lock: the knotes go to `gone`.
    #[inline]
    fn sweep_locked(inner: &mut KqInner, gone: &mut Unlinked) {
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
    fn grow_fds(&self, fd: usize, words: usize) -> Result {
        let len = FdMap::words_for(fd).max(words.saturating_mul(2));
        let room = KVec::with_capacity(len, GFP_KERNEL_ACCOUNT)?;
        let old = self.lock().fds.grow(room);
        drop(old);
        Ok(())
    }

    /// Whether `kn`'s descriptor no longer names its file in the registering task
    /// (it was closed, maybe reused; for EVFILT_VNODE, which holds no file: reused for
    /// another inode). Other tasks cannot tell, and keep the knote.
    fn is_stale(kn: &Knote) -> bool {
        match kn.fd_file() {
            Some(file) => glue::fd_stale(kn.owner_files, kn.key.ident, file),
            None => kn.source.fd_moved(kn.key.ident) && kn.owner_files == glue::current_files(),
        }
    }

    /// Second half of adding a knote that is not on a descriptor: hook its source
    /// unlocked, then leave flux and apply the change.
    fn finish_add(&self, kn: &Arc<Knote>, kev: &KEvent) -> Result {
        if let Err(e) = kn.source.attach(kn) {
            let mut guard = self.lock();
            let waiters = Self::leave_flux(&mut guard, kn);
            let mut gone = Unlinked::new();
            Self::unlink(&mut guard, kn, &mut gone);
            drop(guard);
            self.wake_flux(waiters);
            // Nothing is hooked: just give the charge back.
            while let Some(kn) = gone.pop_front() {
                self.charge.uncharge();
                drop(kn);
            }
            return Err(e);
        }
        let mut guard = self.lock();
        let waiters = Self::leave_flux(&mut guard, kn);
        self.apply(guard, kn, kev, true, None);
        self.wake_flux(waiters);
        Ok(())
    }

    /// Hooks `kn` into `file`'s wait queues (and records a kqueue-in-kqueue edge).
    #[inline]
    fn attach(&self, kn: &Knote, file: &File) -> Result<u32> {
        if kn.key.filter != EVFILT_READ && device::kqueue_of_file(file).is_some() {
            // A kqueue is readable or nothing (FreeBSD's kqueue_kqfilter). A WRITE knote
            // would hold its file outside the nesting graph: one on itself, or in a
            // loop, would keep the kqueue open after its last close, for good.
            return Err(EINVAL);
        }
        let child = Self::nested_child(kn);
        if let Some(child) = child {
            nest::link(self, child)?;
        }
        kn.hook.attach(kn, file).inspect_err(|_| {
            if let Some(child) = child {
                nest::unlink(self, child);
            }
        })
    }

    /// The kqueue `kn` watches for readability, if it watches one.
    fn nested_child(kn: &Knote) -> Option<&Kqueue> {
        if kn.key.filter != EVFILT_READ {
            return None;
        }
        kn.file.as_deref().and_then(device::kqueue_of_file)
    }

    /// Applies a change to an existing knote that is not in flux.
    fn modify(&self, mut guard: Locked<'_>, kn: &Arc<Knote>, kev: &KEvent) -> Result {
        if kev.flags & EV_DELETE != 0 {
            let mut gone = Unlinked::new();
            Self::unlink(&mut guard, kn, &mut gone);
            drop(guard);
            self.free_unlinked(gone);
            return Ok(());
        }
        self.apply(guard, kn, kev, false, None);
        Ok(())
    }

    /// Applies `kev` to `kn` (`new`: the EV_ADD that created it), queues it if its
    /// condition holds, and wakes waiters after dropping the lock. `polled` is a fresh
    /// poll of a new descriptor knote (mask, data).
    ///
    /// The knote's flags were set when it was made: a later EV_ADD changes udata and the
    /// filter's parameters, not EV_ONESHOT, EV_CLEAR, EV_DISPATCH or EV_RECEIPT
    /// (`kqueue_register` of every BSD). EV_FORCEONESHOT on an existing knote is the
    /// exception: it adds EV_ONESHOT and triggers the knote whatever its filter says, so
    /// that its next delivery, once it is enabled, reports it and deletes it (FreeBSD;
    /// on a knote that EV_ADD creates it does nothing, as there).
    fn apply(
        &self,
        mut guard: Locked<'_>,
        kn: &Arc<Knote>,
        kev: &KEvent,
        new: bool,
        polled: Option<(u32, fd::Measure)>,
    ) {
        let inner = &mut *guard;
        let st = kn.state.access_mut(inner);
        if kev.flags & EV_KEEPUDATA == 0 {
            st.kev.udata = kev.udata;
        }
        if kev.flags & EV_FORCEONESHOT != 0 && !new {
            st.kev.flags |= EV_ONESHOT;
            st.status |= KN_ACTIVE | KN_FORCED;
        }
        let mut active = st.filter.touch(kev, &kn.source, st.kev.flags, new);
        if let (Some((mask, data)), Some(f)) = (polled, st.filter.fd_mut()) {
            f.polled(mask, data);
            active = f.ready();
        }
        if active {
            st.status |= KN_ACTIVE;
        }
        if kev.flags & EV_DISABLE != 0 {
            st.status |= KN_DISABLED;
            Self::dequeue(inner, kn);
        } else if kev.flags & (EV_ENABLE | EV_ADD) != 0 {
            st.status &= !KN_DISABLED;
        }
        let woke = Self::enqueue(inner, kn.as_arc_borrow());
        drop(guard);
        if woke {
            self.wake(0);
        }
    }

    /// Puts `kn` on the ready queue if it is active, enabled and not queued yet.
    /// Returns whether it was queued.
    fn enqueue(inner: &mut KqInner, kn: ArcBorrow<'_, Knote>) -> bool {
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
    fn requeue(inner: &mut KqInner, kn: ListArc<Knote>) {
        kn.state.access_mut(inner).status |= KN_QUEUED;
        inner.ready.push_back(kn);
        inner.nready += 1;
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
    fn unlink(inner: &mut KqInner, kn: &Knote, gone: &mut Unlinked) {
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
    fn free_unlinked(&self, gone: Unlinked) {
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

    /// Sleeps until `over` holds under the lock, checked each time a hold in flux ends.
    /// Uninterruptible, as in FreeBSD: holds are short, and ending a kevent() call with
    /// EINTR for another thread's hold would be an error nothing asked for.
    fn wait_flux(&self, mut over: impl FnMut(&KqInner) -> bool) {
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
    fn wait_flux_end(&self, seen: u64) {
        self.wait_flux(|inner| inner.flux_ends != seen);
    }

    /// Ends one hold of `kn` in flux; returns whether tasks wait for a flux to end
    /// (pass it to [`Kqueue::wake_flux`] once the lock is dropped).
    #[inline]
    fn leave_flux(inner: &mut KqInner, kn: &Knote) -> bool {
        kn.state.access_mut(inner).influx -= 1;
        inner.flux_ends = inner.flux_ends.wrapping_add(1);
        inner.flux_waiters > 0
    }

    /// Wakes the tasks waiting for a flux to end, if [`Kqueue::leave_flux`] saw any.
    #[inline]
    fn wake_flux(&self, waiters: bool) {
        if waiters {
            self.flux.wake(0);
        }
    }

    /// Wakes kevent() sleepers and pollers of this kqueue, from wake-up nesting `level`
    /// (0 unless called from another queue's wake-up).
    fn wake(&self, level: i32) {
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
    fn delivered(inner: &mut KqInner, kn: ListArc<Knote>, gone: &mut Unlinked) {
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
    fn put_back(inner: &mut KqInner, kn: ListArc<Knote>, level: bool) {
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

    /// Allocates, without sleeping, a knote a hook adds to this kqueue (NOTE_TRACK):
    /// `key`, reporting `kev`, with filter state `filter` and event source `source`.
    pub(crate) fn new_hook_knote(
        &self,
        key: KnoteKey,
        kev: KEvent,
        filter: FilterState,
        source: crate::filter::Source,
    ) -> Result<HookKnote> {
        let state = KnoteState {
            kev,
            status: 0,
            influx: 0,
            filter,
        };
        let knote = Arc::pin_init(
            Knote::new(key, self, None, source, LockedBy::new(&self.inner, state)),
            GFP_ATOMIC,
        )?;
        let reservation = RBTreeNodeReservation::new(GFP_ATOMIC)?;
        Ok(HookKnote { knote, reservation })
    }

    /// Charges `n` knotes a hook is about to add to the kqueue's user, all or none:
    /// ENOMEM past the user's cap.
    pub(crate) fn charge_hook_knotes(&self, n: usize) -> Result {
        for i in 0..n {
            if let Err(e) = self.charge.charge(self.max_knotes) {
                (0..i).for_each(|_| self.charge.uncharge());
                return Err(e);
            }
        }
        Ok(())
    }

    /// Returns the charge of a hook knote that will not be added after all.
    pub(crate) fn uncharge_hook_knote(&self) {
        self.charge.uncharge();
    }

    /// Adds a knote made by [`Kqueue::new_hook_knote`], from any context, using one
    /// charge taken by [`Kqueue::charge_hook_knotes`]. If its filter has an event it is
    /// queued at once. With `in_flux` it stays in flux: the caller hooks it up and then
    /// calls [`Kqueue::end_flux`]. Nothing is added on error, and the charge is
    /// returned: EEXIST if the key is taken, EBADF if the kqueue is being released.
    pub(crate) fn add_hook_knote(&self, new: HookKnote, in_flux: bool) -> Result<Arc<Knote>> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let refused = if inner.closing {
            Some(EBADF)
        } else if inner.knotes.get(&new.knote.key).is_some() {
            Some(EEXIST)
        } else {
            None
        };
        if let Some(e) = refused {
            drop(guard);
            self.charge.uncharge();
            return Err(e);
        }
        let kn = new.knote.clone();
        let st = kn.state.access_mut(inner);
        st.influx = u32::from(in_flux);
        let mut ev = st.kev;
        if st.filter.deliver(&mut ev) {
            st.status |= KN_ACTIVE;
        }
        inner
            .knotes
            .insert(new.reservation.into_node(kn.key, new.knote));
        let woke = Self::enqueue(inner, kn.as_arc_borrow());
        drop(guard);
        if woke {
            self.wake(0);
        }
        Ok(kn)
    }

    /// Ends the flux of a knote added with [`Kqueue::add_hook_knote`].
    pub(crate) fn end_flux(&self, kn: &Knote) {
        let waiters = Self::leave_flux(&mut self.lock(), kn);
        self.wake_flux(waiters);
    }

    /// poll() of the kqueue descriptor: readable while events are pending.
    pub(crate) fn poll_mask(&self) -> u32 {
        if self.pending() > 0 {
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
    /// Counted after the reference is taken (fully ordered after it).
    pub(crate) fn enter_call(&self, holds_ref: bool) {
        if holds_ref {
            self.calls.fetch_add(CALL_MOVED + 1, Full);
        }
    }

    /// Ends what [`Kqueue::enter_call`] began, before the reference is dropped.
    pub(crate) fn leave_call(&self, holds_ref: bool) {
        if holds_ref {
            self.calls.fetch_add(CALL_MOVED - 1, Full);
        }
    }

    /// close() of a descriptor; `refs()` reads the file's reference count (between
    /// read barriers). When only the closer and kevent() calls in flight still hold
    /// the file, the last descriptor is gone: sleepers return EBADF instead of
    /// waiting forever.
    ///
    /// The count of calls must be the one of the moment `refs()` was read: a call
    /// that entered after that (its reference not counted, the call counted) made
    /// a kqueue that another process still had open look closed. A call counts
    /// itself only while it holds its reference, so a snapshot taken while no call
    /// entered or left can only overestimate the other references (never a wrong
    /// EBADF; at worst no early wake-up).
    pub(crate) fn flush(&self, refs: impl Fn() -> i64) {
        let others = loop {
            let calls = self.calls.load(Acquire);
            let refs = refs();
            if self.calls.load(Relaxed) == calls {
                break refs - 1 - (calls & CALLS_IN_FLIGHT);
            }
        };
        if others > 0 {
            return;
        }
        self.lock().closing = true;
        self.waiters.wake_everyone();
    }

    /// Last close: frees every knote.
    pub(crate) fn release(&self) {
        let mut gone = Unlinked::new();
        let mut guard = self.lock();
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
        self.waiters.wake_everyone();
    }

    /// /proc/<pid>/fdinfo: one line per knote, no kernel addresses.
    pub(crate) fn show_fdinfo(&self, m: &SeqFile) {
        let guard = self.lock();
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

/// What a descriptor knote reports: `data` where the kernel can tell, and a pending
/// socket error. May sleep.
fn measure(file: &File, filter: i16) -> fd::Measure {
    if let Some(kq) = device::kqueue_of_file(file) {
        let pending = (filter == EVFILT_READ).then(|| kq.pending() as i64);
        return fd::Measure {
            data: pending,
            error: 0,
        };
    }
    let (data, error) = glue::file_data(file, fd::Side::of(filter));
    fd::Measure { data, error }
}

/// A knote a hook allocated in atomic context, before insertion.
pub(crate) struct HookKnote {
    knote: Arc<Knote>,
    reservation: RBTreeNodeReservation<KnoteKey, Arc<Knote>>,
}

/// A knote allocated (and charged) with the lock dropped, before insertion.
struct NewKnote {
    knote: Arc<Knote>,
    reservation: RBTreeNodeReservation<KnoteKey, Arc<Knote>>,
    /// What the file's poll found (mask, data) when [`Kqueue::attach_new`] hooked the
    /// knote into it: `Some` exactly while it is hooked.
    polled: Option<(u32, fd::Measure)>,
}

impl NewKnote {
    fn alloc(kq: &Kqueue, kev: &KEvent) -> Result<Self> {
        let filter = FilterState::new(kev)?;
        let file = if FilterState::on_fd(kev.filter) {
            Some(fd::fget(kev.ident)?)
        } else {
            None
        };
        let source = crate::filter::Source::new(kev, file.as_deref())?;
        kq.charge.charge(kq.max_knotes)?;
        let state = KnoteState {
            kev: KEvent {
                ident: kev.ident,
                filter: kev.filter,
                flags: (kev.flags & EV_PERSISTENT) | filter.implied_flags(),
                fflags: 0,
                data: 0,
                udata: kev.udata,
            },
            status: KN_NEW,
            influx: 0,
            filter,
        };
        let key = KnoteKey::new(kev.ident, kev.filter);
        let alloc = || -> Result<Self> {
            let knote = Arc::pin_init(
                Knote::new(key, kq, file, source, LockedBy::new(&kq.inner, state)),
                GFP_KERNEL_ACCOUNT,
            )?;
            let reservation = RBTreeNodeReservation::new(GFP_KERNEL_ACCOUNT)?;
            Ok(Self {
                knote,
                reservation,
                polled: None,
            })
        };
        alloc().inspect_err(|_| kq.charge.uncharge())
    }

    /// Gives back a knote that is not inserted after all: unhooks it if it was hooked.
    /// Called without the kqueue's lock.
    fn cancel(self, kq: &Kqueue) {
        if self.polled.is_some() {
            self.knote.hook.detach();
            self.knote.source.detach(&self.knote);
            if let Some(child) = Kqueue::nested_child(&self.knote) {
                nest::unlink(kq, child);
            }
        }
        kq.charge.uncharge();
    }
}
