// SPDX-License-Identifier: GPL-2.0

//! The kqueue: its knote table and ready queue, under one lock.
//!
//! Everything mutable lives in [`KqInner`] under one irq-safe spinlock, taken
//! through [`Locked`]. Nothing sleeps or allocates under it; wake-ups happen after
//! it is dropped. Its place in the module's lock order is in
//! Documentation/kqueue/design.rst. Each protocol on top of it is in its own file,
//! its rules at its head:
//!
//! - `ready.rs`: the ready queue, event sources queueing knotes, unlinking;
//! - `change.rs`: applying a change (register, modify, delete);
//! - `flux.rs`: knotes in flux, worked on with the lock dropped;
//! - `close.rs`: dropping the knotes of closed descriptors;
//! - `hook.rs`: knotes a hook adds from atomic context (NOTE_TRACK);
//! - `collect.rs`: collecting events.

use crate::{
    charge::UserCharge,
    fdmap::FdMap,
    glue::{new_irq_spinlock, IrqSpinLock, Published, WaitQueue},
    knote::{Knote, KnoteKey, KN_ACTIVE, KN_DETACHED, KN_DISABLED, KN_QUEUED},
    nest::{self, Nest},
};
use kernel::{
    bindings,
    list::{List, ListArc},
    prelude::*,
    rbtree::RBTree,
    seq_file::SeqFile,
    seq_print,
    sync::{
        atomic::{Acquire, Atomic, Full, Relaxed},
        Arc,
    },
    types::Opaque,
};

mod change;
mod close;
mod collect;
mod flux;
mod hook;
mod ready;
pub(crate) use collect::Collected;
pub(crate) use ready::{activate, hook_fired};

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
