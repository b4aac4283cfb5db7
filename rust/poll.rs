// SPDX-License-Identifier: GPL-2.0

//! Hooking knotes into other files' wait queues, as fs/eventpoll.c does.
//!
//! Attaching calls the target's `poll` with our own `poll_table`; each wait
//! queue it registers gets a wait entry whose callback activates the knote.
//! Entries are added and removed without the kqueue lock held: the queue's
//! lock comes first (see Documentation/kqueue/design.rst).

use crate::ffi::{kq_vfs_poll, kq_wait_pollfree};
use crate::knote::Knote;
use core::{cell::UnsafeCell, mem::MaybeUninit, ptr};
use kernel::{
    bindings,
    ffi::{c_int, c_uint, c_void},
    fs::File,
    prelude::*,
    sync::{
        atomic::{Acquire, Atomic},
        rcu,
    },
};

/// `init_waitqueue_func_entry` (inline in C), also setting `private`.
///
/// # Safety
///
/// `entry` must be valid for writes and not on any queue.
pub(crate) unsafe fn init_wait_entry(
    entry: *mut bindings::wait_queue_entry,
    func: bindings::wait_queue_func_t,
    private: *mut c_void,
) {
    // SAFETY: The caller guarantees `entry` is writable and unqueued.
    unsafe {
        (*entry).flags = 0;
        (*entry).private = private;
        (*entry).func = func;
    }
}

/// Unhooks `entry` from the queue `*headp`, unless POLLFREE already did (see
/// `ep_remove_wait_queue()`): `kq_wait_pollfree` clears `*headp` with a release store
/// under the queue's lock, and the queue is freed only after an RCU grace period, so
/// under the RCU read lock a queue read with acquire is still there to take the entry
/// off.
///
/// # Safety
///
/// `entry` must have been hooked on the queue `*headp` (or `*headp` be NULL), and no one
/// but `kq_wait_pollfree` may write `*headp` meanwhile.
pub(crate) unsafe fn wait_remove(
    entry: *mut bindings::wait_queue_entry,
    headp: *mut *mut bindings::wait_queue_head,
) {
    let _rcu = rcu::read_lock();
    // SAFETY: `headp` is valid and aligned; its only concurrent writer is the release
    // store of `kq_wait_pollfree` (per the safety requirements).
    let head = unsafe { Atomic::from_ptr(headp) }.load(Acquire);
    if !head.is_null() {
        // SAFETY: `entry` is on `head`, which the RCU read lock keeps alive.
        unsafe { bindings::remove_wait_queue(head, entry) };
    }
}

/// `POLLFREE`: the queue is going away (not in bindings).
const POLLFREE: u32 = 0x4000;

/// Most wait queues one file's poll registers (pipes and ttys use two).
const MAX_QUEUES: usize = 2;

#[repr(C)]
struct WaitSlot {
    /// First field: the wake callback gets back to the slot by a cast.
    entry: bindings::wait_queue_entry,
    /// The queue `entry` is on; NULL once POLLFREE unhooked it.
    head: *mut bindings::wait_queue_head,
}

/// The first `used` slots are initialised (hooked), the others are not: a knote is
/// made for every registration, and zeroing entries it may never use was a
/// measurable part of that.
struct Slots {
    slots: [MaybeUninit<WaitSlot>; MAX_QUEUES],
    used: usize,
    overflow: bool,
}

/// The wait entries of one knote.
///
/// # Invariants
///
/// Only `attach` and `detach` change `used` and the entries; the kqueue calls
/// them for a knote not in its table yet (only the registering task has it),
/// or unlinked, so never concurrently. The wake
/// callback only touches its own slot's `head`, under that queue's lock.
#[pin_data]
pub(crate) struct PollHook {
    #[pin]
    slots: UnsafeCell<Slots>,
}

// SAFETY: See the invariants: accesses are serialised by the in-flux protocol and queue locks.
unsafe impl Send for PollHook {}
// SAFETY: As above.
unsafe impl Sync for PollHook {}

impl PollHook {
    /// An unhooked set of entries.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            slots: UnsafeCell::new(Slots {
                slots: [const { MaybeUninit::uninit() }; MAX_QUEUES],
                used: 0,
                overflow: false,
            })
        })
    }

    /// Polls `file`, hooking `knote` into every queue it registers. Returns the poll mask,
    /// or EINVAL (nothing left hooked) if the file uses more queues than we hold.
    pub(crate) fn attach(&self, knote: &Knote, file: &File) -> Result<u32> {
        #[repr(C)]
        struct Ctx {
            pt: bindings::poll_table_struct,
            slots: *mut Slots,
            knote: *const Knote,
        }
        /// `poll_table` callback: hooks the knote into `head`.
        ///
        /// # Safety
        ///
        /// Called by the file's poll with the `Ctx` of `attach`.
        unsafe extern "C" fn queue_proc(
            _file: *mut bindings::file,
            head: *mut bindings::wait_queue_head,
            pt: *mut bindings::poll_table_struct,
        ) {
            // SAFETY: `pt` is the first field of the `Ctx` that `attach` passed to poll.
            let ctx = unsafe { &*pt.cast::<Ctx>() };
            // SAFETY: `attach` has exclusive use of the slots (type invariants).
            let slots = unsafe { &mut *ctx.slots };
            if slots.used == MAX_QUEUES {
                slots.overflow = true;
                return;
            }
            let slot = slots.slots[slots.used].as_mut_ptr();
            slots.used += 1;
            // SAFETY: The slot is ours and unhooked; these writes and `add_wait_queue`
            // (which links the entry) initialise every field. The entry is pinned in the
            // knote, which outlives its hooks; `head` is a live queue handed to us by the
            // file's poll.
            unsafe {
                (&raw mut (*slot).head).write(head);
                let entry = &raw mut (*slot).entry;
                init_wait_entry(entry, Some(wake), ctx.knote.cast_mut().cast());
                bindings::add_wait_queue(head, entry);
            }
        }

        let mut ctx = Ctx {
            // `init_poll_funcptr`: our callback, all events.
            pt: bindings::poll_table_struct {
                _qproc: Some(queue_proc),
                _key: !0,
            },
            slots: self.slots.get(),
            knote,
        };
        // SAFETY: `file` is a live file we hold; `ctx` outlives the call.
        let mask = unsafe { kq_vfs_poll(file.as_ptr().cast(), ptr::from_mut(&mut ctx.pt).cast()) };
        // SAFETY: Exclusive use (type invariants).
        if unsafe { (*self.slots.get()).overflow } {
            self.detach();
            return Err(EINVAL);
        }
        Ok(mask)
    }

    /// Unhooks every entry; afterwards no callback runs for this knote.
    pub(crate) fn detach(&self) {
        // SAFETY: Exclusive use (type invariants).
        let slots = unsafe { &mut *self.slots.get() };
        for slot in &mut slots.slots[..slots.used] {
            let slot = slot.as_mut_ptr();
            // SAFETY: The first `used` slots were hooked by `attach`; `wait_remove`
            // copes with a queue POLLFREE already unhooked the entry from.
            unsafe { wait_remove(&raw mut (*slot).entry, &raw mut (*slot).head) };
        }
        slots.used = 0;
        slots.overflow = false;
    }
}

/// The wake callback of our entries: runs with the queue's lock held, maybe in hard irq.
///
/// # Safety
///
/// Called by the wait queue code for an entry hooked by `attach`.
unsafe extern "C" fn wake(
    entry: *mut bindings::wait_queue_entry,
    _mode: c_uint,
    _sync: c_int,
    key: *mut c_void,
) -> c_int {
    let mask = key as usize as u32;
    // SAFETY: `private` is the knote set by `attach`; it lives while the entry is hooked.
    let knote = unsafe { &*(*entry).private.cast::<Knote>() };
    crate::queue::hook_fired(knote, mask);
    if mask & POLLFREE != 0 {
        let slot = entry.cast::<WaitSlot>();
        // SAFETY: `entry` is the first field of its `WaitSlot`; we hold the queue's lock.
        unsafe { kq_wait_pollfree(entry, &raw mut (*slot).head) };
    }
    0
}
