// SPDX-License-Identifier: GPL-2.0

//! Applying a change (one `kevent` of the changelist) to the table.
//!
//! - A knote is allocated and charged with the lock dropped ([`NewKnote`]). The
//!   lock hold that inserts takes the table's entry for the key once: occupied, the
//!   change goes to the knote found; vacant, the new knote goes there. If another
//!   task inserted the same key meanwhile, the new knote is unhooked and freed after
//!   the lock is dropped ([`NewKnote::cancel`]). A descriptor the descriptor map
//!   says has no knotes gets its new knote without a first lookup
//!   ([`Kqueue::may_exist`]).
//! - A change to a knote in flux waits for its flux to end and looks it up again;
//!   a stale knote (its descriptor closed) is dropped first, and the change applied
//!   as for a missing knote ([`Kqueue::change_existing`]).
//! - A new descriptor knote is hooked into its file before it is inserted, while
//!   only the registering task has it ([`Kqueue::attach_new`]); other new knotes are
//!   inserted in flux and attach their sources with the lock dropped
//!   ([`Kqueue::finish_add`]).
//! - Which flags a later change may alter: [`Kqueue::apply`].

use super::{KqInner, Kqueue, Locked, Unlinked};
use crate::{
    device,
    filter::{fd, FilterState},
    glue,
    knote::{Knote, KnoteKey, KnoteState, KN_ACTIVE, KN_DISABLED, KN_FORCED, KN_NEW},
    nest,
    uapi::*,
};
use kernel::{
    fs::File,
    prelude::*,
    rbtree::{Entry, RBTreeNodeReservation},
    sync::{Arc, LockedBy},
};

impl Kqueue {
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
    pub(super) fn nested_child(kn: &Knote) -> Option<&Kqueue> {
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
