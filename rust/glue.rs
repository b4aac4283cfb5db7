// SPDX-License-Identifier: GPL-2.0

//! The unsafe edge towards C: an irq-safe spinlock backend and a wait queue
//! with nanosecond timeouts, built on the C helpers in `helpers/`.

use crate::ffi::{
    kq_closed_word, kq_current_files, kq_fd_filter_check, kq_fd_stale, kq_file_count, kq_file_data,
    kq_files_shared, kq_poll_held, kq_read_user_words, kq_read_user_words_and_pointee,
    kq_timer_slack_ns, kq_wake_if_waiters, kq_wake_nested, kq_write_user_words,
};
use crate::filter::fd::Side;
use core::{marker::PhantomPinned, pin::Pin};
use kernel::{
    bindings,
    ffi::c_ulong,
    prelude::*,
    str::CStr,
    sync::{
        lock::{Backend, Lock},
        LockClassKey,
    },
    types::Opaque,
};

/// Number of 64-bit words of `T`, a block read or written by the word helpers below.
const fn words_of<T>() -> u32 {
    assert!(core::mem::size_of::<T>() % 8 == 0 && core::mem::size_of::<T>() <= 64);
    assert!(core::mem::align_of::<T>() >= 8);
    (core::mem::size_of::<T>() / 8) as u32
}

/// Reads a `T` from user address `addr`: a small block of 64-bit words (an argument
/// block, a timeout, a change), read in one user-access window, which costs much
/// less than a `UserSlice` copy. EFAULT on a fault.
pub(crate) fn read_user<T: kernel::transmute::FromBytes>(addr: usize) -> Result<T> {
    let words = const { words_of::<T>() };
    let mut out = core::mem::MaybeUninit::<T>::uninit();
    // SAFETY: `out` is valid for `words` aligned u64 writes; `addr` is a user address,
    // checked by the helper.
    let res = unsafe { kq_read_user_words(out.as_mut_ptr().cast(), addr as *const c_void, words) };
    if res != 0 {
        return Err(EFAULT);
    }
    // SAFETY: All of `out` was written, and any bit pattern is a valid `T` (FromBytes).
    Ok(unsafe { out.assume_init() })
}

/// [`read_user`] of a `T` and, if its 64-bit word `ptr_word` is not null, of the `U`
/// that word points to, in one call (a kevent() call's arguments and its timeout).
/// The `U` is `Err(EFAULT)` if it cannot be read, for the caller to report once it
/// has checked the `T`.
pub(crate) fn read_user_and_pointee<T, U>(
    addr: usize,
    ptr_word: u32,
) -> Result<(T, Option<Result<U>>)>
where
    T: kernel::transmute::FromBytes,
    U: kernel::transmute::FromBytes,
{
    let (words, pwords) = const { (words_of::<T>(), words_of::<U>()) };
    if ptr_word >= words {
        return Err(EINVAL);
    }
    let mut out = core::mem::MaybeUninit::<T>::uninit();
    let mut pointee = core::mem::MaybeUninit::<U>::uninit();
    // SAFETY: Both outputs are valid for their word counts of aligned u64 writes, and
    // `ptr_word` is within `T`; the user addresses are checked by the helper.
    let res = unsafe {
        kq_read_user_words_and_pointee(
            out.as_mut_ptr().cast(),
            addr as *const c_void,
            words,
            ptr_word,
            pointee.as_mut_ptr().cast(),
            pwords,
        )
    };
    if res < 0 {
        return Err(EFAULT);
    }
    // SAFETY: All of `out` was written; any bit pattern is a valid `T` (FromBytes).
    let out = unsafe { out.assume_init() };
    // SAFETY: As above: `T` is whole 64-bit words, `ptr_word` one of them.
    let ptr = unsafe {
        core::ptr::from_ref(&out)
            .cast::<u64>()
            .add(ptr_word as usize)
            .read()
    };
    let pointee = (ptr != 0).then(|| {
        if res == 0 {
            // SAFETY: Written whole when the pointer is not null and the result is 0.
            Ok(unsafe { pointee.assume_init() })
        } else {
            Err(EFAULT)
        }
    });
    Ok((out, pointee))
}

/// Writes the values of `v` (each whole 64-bit words: events) to user address `addr`
/// on, in one user-access window. EFAULT on a fault.
pub(crate) fn write_user_slice<T: kernel::transmute::AsBytes>(addr: usize, v: &[T]) -> Result {
    let words = const { words_of::<T>() };
    let total = u32::try_from(v.len()).map_err(|_| EINVAL)? * words;
    // SAFETY: `v` is valid for `total` aligned u64 reads; `addr` is a user address,
    // checked by the helper.
    let res = unsafe { kq_write_user_words(addr as *mut c_void, v.as_ptr().cast(), total) };
    if res != 0 {
        return Err(EFAULT);
    }
    Ok(())
}

/// A `spin_lock_irqsave` backend for [`Lock`]: usable from hard-irq hooks.
pub(crate) struct IrqSpinLockBackend;

/// A spinlock that disables local interrupts while held.
pub(crate) type IrqSpinLock<T> = Lock<T, IrqSpinLockBackend>;

/// Creates an [`IrqSpinLock`] initialiser with its own lockdep class.
macro_rules! new_irq_spinlock {
    ($inner:expr, $name:literal) => {
        kernel::sync::lock::Lock::<_, $crate::glue::IrqSpinLockBackend>::new(
            $inner,
            kernel::c_str!($name),
            kernel::static_lock_class!(),
        )
    };
}
pub(crate) use new_irq_spinlock;

// SAFETY: The lock is initialised by `__spin_lock_init` before use, `lock` and `unlock` pair
// `spin_lock_irqsave`/`spin_unlock_irqrestore` with the saved flags as guard state, so the
// lock provides mutual exclusion.
unsafe impl Backend for IrqSpinLockBackend {
    type State = bindings::spinlock_t;
    type GuardState = c_ulong;

    unsafe fn init(
        ptr: *mut Self::State,
        name: *const kernel::ffi::c_char,
        key: *mut bindings::lock_class_key,
    ) {
        // SAFETY: The caller guarantees `ptr` is valid for writes and `name`/`key` live forever.
        unsafe { bindings::__spin_lock_init(ptr, name, key) }
    }

    unsafe fn lock(ptr: *mut Self::State) -> Self::GuardState {
        // SAFETY: The caller guarantees `ptr` points to an initialised spinlock; its
        // `rlock` is at offset 0 (what `spin_lock_irqsave` passes on, without PREEMPT_RT).
        #[cfg(not(CONFIG_INLINE_SPIN_LOCK_IRQSAVE))]
        unsafe {
            bindings::_raw_spin_lock_irqsave(ptr.cast())
        }
        // SAFETY: As above.
        #[cfg(CONFIG_INLINE_SPIN_LOCK_IRQSAVE)]
        unsafe {
            crate::ffi::kq_spin_lock_irqsave(ptr)
        }
    }

    unsafe fn try_lock(_ptr: *mut Self::State) -> Option<Self::GuardState> {
        // Never used by this module; refusing is always correct for a try-lock.
        None
    }

    unsafe fn unlock(ptr: *mut Self::State, guard_state: &Self::GuardState) {
        // SAFETY: The caller owns the lock and `guard_state` holds the flags saved by `lock`.
        #[cfg(not(CONFIG_INLINE_SPIN_UNLOCK_IRQRESTORE))]
        unsafe {
            bindings::_raw_spin_unlock_irqrestore(ptr.cast(), *guard_state)
        }
        // SAFETY: As above.
        #[cfg(CONFIG_INLINE_SPIN_UNLOCK_IRQRESTORE)]
        unsafe {
            crate::ffi::kq_spin_unlock_irqrestore(ptr, *guard_state)
        }
    }

    unsafe fn assert_is_held(ptr: *mut Self::State) {
        // Only lockdep can tell; without it the helper is an empty out-of-line call on
        // every lock taken.
        #[cfg(CONFIG_LOCKDEP)]
        // SAFETY: The caller guarantees `ptr` points to an initialised spinlock.
        unsafe {
            bindings::spin_assert_is_held(ptr)
        }
        #[cfg(not(CONFIG_LOCKDEP))]
        let _ = ptr;
    }
}

/// How a wait on a [`WaitQueue`] ended.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum WaitEnd {
    /// The deadline passed.
    TimedOut,
    /// A signal is pending.
    Interrupted,
}

/// A Linux `wait_queue_head`.
#[pin_data]
pub(crate) struct WaitQueue {
    #[pin]
    head: Opaque<bindings::wait_queue_head>,
    #[pin]
    _pin: PhantomPinned,
}

// SAFETY: A wait queue head is designed to be used from any thread.
unsafe impl Send for WaitQueue {}
// SAFETY: A wait queue head is designed to be used from any thread.
unsafe impl Sync for WaitQueue {}

impl WaitQueue {
    /// Creates a wait queue initialiser.
    pub(crate) fn new(name: &'static CStr, key: Pin<&'static LockClassKey>) -> impl PinInit<Self> {
        pin_init!(Self {
            // SAFETY: `slot` is valid for writes; `name` and `key` live forever.
            head <- unsafe {
                Opaque::ffi_init(|slot| bindings::__init_waitqueue_head(slot, name.as_char_ptr(), key.as_ptr()))
            },
            _pin: PhantomPinned,
        })
    }

    /// The raw head, for `poll_wait`.
    pub(crate) fn as_ptr(&self) -> *mut bindings::wait_queue_head {
        self.head.get()
    }

    /// Wakes every waiter from nesting level `subclass` of other wake-ups (the lockdep
    /// subclass of this queue's lock); callbacks run meanwhile see `subclass + 1` in `level`.
    pub(crate) fn wake_nested(&self, key: u32, subclass: i32, level: &Opaque<i32>) {
        // SAFETY: The head is initialised; `level` is only written under the queue's lock;
        // the subclass stays below MAX_LOCKDEP_SUBCLASSES as nesting is bounded.
        unsafe { kq_wake_nested(self.head.get(), key, subclass, level.get()) };
    }

    /// Wakes every waiter that waits in common and one that waits alone (see
    /// [`WaitQueue::wait_alone_until`]), if there is any; `key` is the poll mask handed
    /// to wake callbacks. The caller changed the condition before (under a lock or with
    /// a barrier implied by dropping it); `wq_has_sleeper` orders that against the check.
    pub(crate) fn wake(&self, key: u32) {
        // SAFETY: The head is initialised; a poll mask as key is what poll waiters expect.
        unsafe { kq_wake_if_waiters(self.head.get(), key) };
    }

    /// Wakes every waiter, those that wait alone included: the condition changed for
    /// all of them (the kqueue is closing).
    pub(crate) fn wake_everyone(&self) {
        // SAFETY: The head is initialised; nr_exclusive 0 wakes all, no key.
        unsafe {
            bindings::__wake_up(
                self.head.get(),
                bindings::TASK_NORMAL,
                0,
                core::ptr::null_mut(),
            )
        };
    }

    /// Sleeps interruptibly until `ready()` holds, a signal arrives or the absolute
    /// CLOCK_MONOTONIC `deadline` (nanoseconds; `None` = forever) passes, woken alone:
    /// a [`WaitQueue::wake`] wakes one such waiter, not all (Linux's exclusive waits).
    /// A waiter woken so owes the others a wake-up if it leaves what woke it to them.
    ///
    /// `ready` is evaluated after queueing, so a wake-up between the check and the sleep is
    /// never lost. It returns `Some(x)` to stop waiting with `x`.
    pub(crate) fn wait_alone_until<R>(
        &self,
        deadline: Option<i64>,
        ready: impl FnMut() -> Option<R>,
    ) -> Result<R, WaitEnd> {
        self.wait_in(bindings::TASK_INTERRUPTIBLE, true, deadline, ready)
    }

    /// Sleeps until `ready()` holds, deaf to signals: for waits that end soon by
    /// construction (another task's short hold), evaluated like
    /// [`WaitQueue::wait_alone_until`], but woken with every other waiter.
    pub(crate) fn wait_uninterruptible<R>(&self, mut ready: impl FnMut() -> Option<R>) -> R {
        loop {
            // Without a deadline and deaf to signals, only `ready` ends the wait: one turn.
            if let Ok(r) = self.wait_in(bindings::TASK_UNINTERRUPTIBLE, false, None, &mut ready) {
                return r;
            }
        }
    }

    /// [`WaitQueue::wait_alone_until`] sleeping in task `state`, `alone` or not; only an
    /// interruptible state ends the wait for a signal.
    fn wait_in<R>(
        &self,
        state: u32,
        alone: bool,
        deadline: Option<i64>,
        mut ready: impl FnMut() -> Option<R>,
    ) -> Result<R, WaitEnd> {
        let entry = Opaque::<bindings::wait_queue_entry>::uninit();
        let entry = entry.get();
        // SAFETY: `entry` is valid for writes and stays in place until `finish_wait` below.
        unsafe { bindings::init_wait_entry(entry, 0) };
        let result = loop {
            // SAFETY: Head and entry are initialised; the entry is removed by `finish_wait`.
            unsafe {
                if alone {
                    bindings::prepare_to_wait_exclusive(self.head.get(), entry, state as i32);
                } else {
                    bindings::prepare_to_wait(self.head.get(), entry, state as i32);
                }
            }
            if let Some(r) = ready() {
                break Ok(r);
            }
            if state == bindings::TASK_INTERRUPTIBLE && kernel::current!().signal_pending() {
                break Err(WaitEnd::Interrupted);
            }
            match deadline {
                None => {
                    // SAFETY: Plain sleep in process context, the task state is set above.
                    unsafe { bindings::schedule() };
                }
                Some(mut expires) => {
                    // SAFETY: Sleeping in process context on an absolute monotonic deadline.
                    let left = unsafe {
                        bindings::schedule_hrtimeout_range(
                            &mut expires,
                            kq_timer_slack_ns(),
                            bindings::hrtimer_mode_HRTIMER_MODE_ABS,
                        )
                    };
                    if left == 0 {
                        // One last look: an event that raced with the deadline still counts.
                        // SAFETY: The entry is on the queue; set the state like prepare_to_wait.
                        unsafe { bindings::finish_wait(self.head.get(), entry) };
                        return ready().ok_or(WaitEnd::TimedOut);
                    }
                }
            }
        };
        // SAFETY: The entry was queued by `prepare_to_wait` (or already removed by a wake-up).
        unsafe { bindings::finish_wait(self.head.get(), entry) };
        result
    }
}

/// Current CLOCK_MONOTONIC time in nanoseconds.
pub(crate) fn monotonic_ns() -> i64 {
    // SAFETY: `ktime_get` has no preconditions.
    unsafe { bindings::ktime_get() }
}

/// Number of references to `file`, read between read barriers (see `Kqueue::flush`).
pub(crate) fn file_count(file: *mut bindings::file) -> i64 {
    // SAFETY: The caller passes a file it holds a reference to.
    unsafe { kq_file_count(file.cast()) as i64 }
}

/// Whether `fdget` in the current task takes a file reference (a shared fd table).
pub(crate) fn files_shared() -> bool {
    // SAFETY: Called from process context, where `current->files` is valid.
    unsafe { kq_files_shared() }
}

/// Whether descriptor `fd` of fd table `owner` no longer names `file` (closed, maybe
/// reused). Only the owner's threads can tell; other tasks get false.
pub(crate) fn fd_stale(owner: usize, fd: u64, file: &kernel::fs::File) -> bool {
    match u32::try_from(fd) {
        // SAFETY: Only compares pointers under RCU; `file` is a live file.
        Ok(fd) => unsafe { kq_fd_stale(owner, fd, file.as_ptr().cast()) },
        // No descriptor has that number.
        Err(_) => owner == current_files(),
    }
}

/// The data of a descriptor knote watching `side` of `file` where the kernel can tell.
/// EVFILT_READ (EVFILT_WRITE): bytes to EOF for a regular file, buffered bytes (or room)
/// for a pipe, FIFO or socket, the accept queue of a listening socket; and a socket's
/// pending error. EVFILT_EMPTY: bytes not drained yet, and non-zero for a pipe without
/// readers. EVFILT_EXCEPT: bytes before the urgent mark of a TCP socket. May sleep.
pub(crate) fn file_data(file: &kernel::fs::File, side: Side) -> (Option<i64>, u32) {
    let mut err = 0i32;
    // SAFETY: `file` is a live file; called in process context without spinlocks.
    let data = unsafe { kq_file_data(file.as_ptr().cast(), side as u32, &mut err) };
    ((data >= 0).then_some(data), err.unsigned_abs())
}

/// Whether `file` has the `side` a descriptor filter watches (EINVAL otherwise, as
/// FreeBSD's kqfilter methods answer): EVFILT_EMPTY takes the writable end of a pipe
/// or FIFO and TCP, UDP and AF_UNIX sockets, EVFILT_EXCEPT any socket.
pub(crate) fn fd_filter_check(file: &kernel::fs::File, side: Side) -> Result {
    // SAFETY: `file` is a live file; this only reads its type.
    let r = unsafe { kq_fd_filter_check(file.as_ptr().cast(), side as u32) };
    if r < 0 {
        return Err(Error::from_errno(r));
    }
    Ok(())
}

/// What polling a held descriptor knote finds, in one call: `None` if descriptor `fd`
/// of fd table `owner` no longer names `file` (only the owner's threads can tell),
/// else (poll mask, data as [`file_data`], error). May sleep.
pub(crate) fn poll_held(
    owner: usize,
    fd: u64,
    file: &kernel::fs::File,
    side: Side,
) -> Option<(u32, Option<i64>, u32)> {
    let fd = u32::try_from(fd).ok()?;
    let (mut data, mut err) = (0i64, 0i32);
    // SAFETY: `file` is a live file; called in process context without spinlocks.
    let mask = unsafe {
        kq_poll_held(
            owner,
            fd,
            file.as_ptr().cast(),
            side as u32,
            &mut data,
            &mut err,
        )
    };
    let mask = u32::try_from(mask).ok()?;
    Some((mask, (data >= 0).then_some(data), err.unsigned_abs()))
}

/// The current task's fd table, as an address to compare.
pub(crate) fn current_files() -> usize {
    // SAFETY: Called in process context.
    unsafe { kq_current_files() }
}

/// The first word of bitmap `ours`, from word `from` on, naming descriptors the current
/// task has closed: (its index, those descriptors' bits), or None.
pub(crate) fn closed_word(ours: &[usize], from: usize) -> Option<(usize, usize)> {
    let n = u32::try_from(ours.len()).unwrap_or(u32::MAX);
    let from = u32::try_from(from).ok()?;
    let mut gone = 0;
    // SAFETY: `ours` holds at least `n` words; called in process context (reads the fd
    // table under RCU; does not sleep).
    let i = unsafe { kq_closed_word(ours.as_ptr(), n, from, &mut gone) };
    (i < n).then_some((i as usize, gone))
}

/// A value written under a lock and read without it, as C's `WRITE_ONCE` and
/// `READ_ONCE` do. Plain volatile accesses: unlike `kernel::sync::atomic`, whose
/// operations are out-of-line C calls, they cost nothing on the hot path.
pub(crate) struct Published<T: Copy>(Opaque<T>);

impl<T: Copy> Published<T> {
    /// A cell holding `v`.
    pub(crate) const fn new(v: T) -> Self {
        Self(Opaque::new(v))
    }

    /// Stores `v`; the caller serialises writers (holds the lock).
    pub(crate) fn set(&self, v: T) {
        // SAFETY: The cell is valid; writers are serialised by the caller's lock, and a
        // word-sized volatile store is not torn (WRITE_ONCE).
        unsafe { core::ptr::write_volatile(self.0.get(), v) }
    }

    /// Loads the value last stored (READ_ONCE); may be stale by the time it is used.
    pub(crate) fn get(&self) -> T {
        // SAFETY: The cell is valid; a word-sized volatile load is not torn.
        unsafe { core::ptr::read_volatile(self.0.get()) }
    }
}

// SAFETY: Only `Copy` values of at most a word are stored (see the users), with
// serialised writers; readers accept any value once stored.
unsafe impl<T: Copy + Send> Sync for Published<T> {}
