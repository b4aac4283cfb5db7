// SPDX-License-Identifier: GPL-2.0

//! Knotes: one registered (ident, filter) pair of a kqueue.
//!
//! A knote is shared (`Arc`) between the kqueue's table, its ready queue and,
//! for filters with hooks, the hook that activates it. Its mutable state is
//! [`LockedBy`] the kqueue's lock: no other lock protects it.

use crate::{
    filter::{FilterState, Source},
    poll::PollHook,
    queue::{KqInner, Kqueue},
    uapi::KEvent,
};
use core::ptr::NonNull;
use kernel::{
    fs::File,
    list::{AtomicTracker, ListLinks, TryNewListArc},
    prelude::*,
    sync::{aref::ARef, LockedBy},
};

/// (ident, filter): what identifies a knote within one kqueue.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(crate) struct KnoteKey {
    /// The ident of the registration.
    pub(crate) ident: u64,
    /// The filter of the registration.
    pub(crate) filter: i16,
    /// 0 for registrations; a unique number for event-only knotes a hook adds
    /// beside a registration with the same ident (NOTE_CHILD).
    pub(crate) sub: u32,
}

impl KnoteKey {
    /// The key of the registration of (`ident`, `filter`).
    pub(crate) fn new(ident: u64, filter: i16) -> Self {
        Self {
            ident,
            filter,
            sub: 0,
        }
    }
}

/// The condition of the knote holds (it has an event to report).
pub(crate) const KN_ACTIVE: u32 = 0x1;
/// The knote sits in the ready queue.
pub(crate) const KN_QUEUED: u32 = 0x2;
/// EV_DISABLE (or EV_DISPATCH after delivery): never queued.
pub(crate) const KN_DISABLED: u32 = 0x4;
/// Removed from the table: hooks must leave it alone.
pub(crate) const KN_DETACHED: u32 = 0x8;
/// Activated while a scan held it (off the queue, or polled on it): keep it queued.
pub(crate) const KN_REQUEUE: u32 = 0x10;
/// Not in the table yet (hooked before insertion): wake-ups only mark it active.
pub(crate) const KN_NEW: u32 = 0x20;
/// EV_FORCEONESHOT: reported at its next delivery whether its condition holds or not.
pub(crate) const KN_FORCED: u32 = 0x40;

/// The part of a knote protected by the kqueue's lock.
pub(crate) struct KnoteState {
    /// The registration as reported back: ident, filter, persistent flags, udata;
    /// fflags and data are filled in by the filter at delivery.
    pub(crate) kev: KEvent,
    /// KN_* bits.
    pub(crate) status: u32,
    /// In-flux count: while non-zero somebody works on the knote with the kqueue
    /// lock dropped, and nobody else may change or free it (see Documentation).
    /// Only a holder unlinks a knote in flux, so it stays in the table (which holds
    /// an `Arc` of it) at least until its holders end their flux.
    pub(crate) influx: u32,
    /// Filter-specific state.
    pub(crate) filter: FilterState,
}

/// The kqueue a knote belongs to, as its hooks reach it.
///
/// # Invariants
///
/// Points to the kqueue the knote was made for. That kqueue outlives every hook of the
/// knote: before it goes away it unlinks all its knotes and detaches their sources and
/// poll hooks (and so their EVFILT_PROC registry entries), waiting for running ones.
pub(crate) struct KqRef(NonNull<Kqueue>);

impl KqRef {
    /// The kqueue.
    ///
    /// # Safety
    ///
    /// The caller runs in a hook of the knote (or finds the knote in the EVFILT_PROC
    /// registry under its lock), so that, by the type invariants, the kqueue is alive.
    pub(crate) unsafe fn get(&self) -> &Kqueue {
        // SAFETY: Alive per the caller's guarantee and the type invariants.
        unsafe { self.0.as_ref() }
    }
}

/// A registered event.
#[pin_data]
pub(crate) struct Knote {
    /// Table key.
    pub(crate) key: KnoteKey,
    /// The kqueue this knote belongs to.
    pub(crate) kq: KqRef,
    /// The descriptor's file, for filters on descriptors.
    pub(crate) file: Option<ARef<File>>,
    /// Address of the registering task's fd table (compared, never dereferenced).
    pub(crate) owner_files: usize,
    /// Where events come from, for filters not on descriptors.
    pub(crate) source: Source,
    /// Wait entries in the file's queues.
    #[pin]
    pub(crate) hook: PollHook,
    /// Links of the ready queue.
    #[pin]
    links: ListLinks<0>,
    #[pin]
    links_track: AtomicTracker<0>,
    /// Links of a private list of knotes to detach once the lock is dropped.
    #[pin]
    detach_links: ListLinks<1>,
    #[pin]
    detach_track: AtomicTracker<1>,
    /// Links of the list of its event source's knotes (the EVFILT_PROC registry).
    #[pin]
    source_links: ListLinks<2>,
    #[pin]
    source_track: AtomicTracker<2>,
    /// State under the kqueue's lock.
    pub(crate) state: LockedBy<KnoteState, KqInner>,
}

kernel::list::impl_list_arc_safe! {
    impl ListArcSafe<0> for Knote { tracked_by links_track: AtomicTracker<0>; }
    impl ListArcSafe<1> for Knote { tracked_by detach_track: AtomicTracker<1>; }
    impl ListArcSafe<2> for Knote { tracked_by source_track: AtomicTracker<2>; }
}
kernel::list::impl_list_item! {
    impl ListItem<0> for Knote { using ListLinks { self.links }; }
    impl ListItem<1> for Knote { using ListLinks { self.detach_links }; }
    impl ListItem<2> for Knote { using ListLinks { self.source_links }; }
}

impl Knote {
    /// Creates a knote for `key` in `kq`, whose lock also locks `state`.
    pub(crate) fn new(
        key: KnoteKey,
        kq: &Kqueue,
        file: Option<ARef<File>>,
        source: Source,
        state: LockedBy<KnoteState, KqInner>,
    ) -> impl PinInit<Self> {
        // INVARIANT: `kq` is the knote's kqueue, which detaches every hook before it goes.
        let kq = KqRef(NonNull::from(kq));
        pin_init!(Self {
            key,
            kq,
            file,
            owner_files: crate::glue::current_files(),
            source,
            hook <- PollHook::new(),
            links <- ListLinks::new(),
            links_track <- AtomicTracker::new(),
            detach_links <- ListLinks::new(),
            detach_track <- AtomicTracker::new(),
            source_links <- ListLinks::new(),
            source_track <- AtomicTracker::new(),
            state,
        })
    }

    /// The file of the descriptor whose close ends this knote: a descriptor filter's,
    /// or the pidfd of an EVFILT_PROCDESC knote.
    pub(crate) fn fd_file(&self) -> Option<&File> {
        self.file.as_deref().or_else(|| self.source.file())
    }
}

// SAFETY: `kq` is only dereferenced while the knote is attached to that kqueue (see `KqRef`);
// everything else is `Send`/`Sync` or locked.
unsafe impl Send for Knote {}
// SAFETY: As above.
unsafe impl Sync for Knote {}
