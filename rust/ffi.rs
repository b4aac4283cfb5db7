// SPDX-License-Identifier: GPL-2.0

//! The C helpers of `helpers/*.c`, declared once: what Rust cannot reach (inline
//! functions, macros, structure fields the kernel crate does not wrap).
//! Kernel types that bindgen gives with fields a caller must not touch pass as
//! `c_void` pointers.

use kernel::{
    bindings,
    ffi::{c_int, c_long, c_uint, c_void},
};

// kqueue core (glue.rs): locks, fd table, user copies, wake-ups.
extern "C" {
    #[cfg(CONFIG_INLINE_SPIN_LOCK_IRQSAVE)]
    pub(crate) fn kq_spin_lock_irqsave(lock: *mut bindings::spinlock_t) -> kernel::ffi::c_ulong;
    #[cfg(CONFIG_INLINE_SPIN_UNLOCK_IRQRESTORE)]
    pub(crate) fn kq_spin_unlock_irqrestore(
        lock: *mut bindings::spinlock_t,
        flags: kernel::ffi::c_ulong,
    );
    pub(crate) fn kq_file_count(file: *mut c_void) -> c_long;
    pub(crate) fn kq_files_shared() -> bool;
    pub(crate) fn kq_timer_slack_ns() -> u64;
    pub(crate) fn kq_wake_nested(
        head: *mut bindings::wait_queue_head,
        key: u32,
        subclass: i32,
        level: *mut i32,
    );
    pub(crate) fn kq_fd_stale(owner: usize, fd: u32, file: *mut c_void) -> bool;
    pub(crate) fn kq_file_data(file: *mut c_void, side: u32, err: *mut i32) -> i64;
    pub(crate) fn kq_fd_filter_check(file: *mut c_void, side: u32) -> i32;
    pub(crate) fn kq_current_files() -> usize;
    pub(crate) fn kq_poll_held(
        owner: usize,
        fd: u32,
        file: *mut c_void,
        side: u32,
        data: *mut i64,
        err: *mut i32,
    ) -> i32;
    pub(crate) fn kq_closed_word(
        ours: *const usize,
        nwords: u32,
        from: u32,
        gone: *mut usize,
    ) -> u32;
    pub(crate) fn kq_wake_if_waiters(head: *mut bindings::wait_queue_head, key: u32);
    pub(crate) fn kq_read_user_words(dst: *mut u64, src: *const c_void, words: u32) -> i32;
    pub(crate) fn kq_read_user_words_and_pointee(
        dst: *mut u64,
        src: *const c_void,
        words: u32,
        ptr_word: u32,
        pdst: *mut u64,
        pwords: u32,
    ) -> i32;
    pub(crate) fn kq_write_user_words(dst: *mut c_void, src: *const u64, words: u32) -> i32;
}

// descriptor knotes' wait-queue hooks (poll.rs).
extern "C" {
    // `poll_table *` as an opaque pointer, like the file: `poll_table_struct` reaches (through
    // its callback's `struct file *`) `lock_class_key`, which has no fields without lockdep,
    // and older rustc (1.85) then warns that it is not FFI-safe.
    pub(crate) fn kq_vfs_poll(file: *mut c_void, pt: *mut c_void) -> c_uint;
    pub(crate) fn kq_wait_pollfree(
        entry: *mut bindings::wait_queue_entry,
        headp: *mut *mut bindings::wait_queue_head,
    );
}

// tracepoints (tracepoint.rs).
extern "C" {
    pub(crate) fn kq_tracepoint_sync();
}

// EVFILT_PROC and EVFILT_PROCDESC (filter/proc.rs); kernel types as `c_void`.
extern "C" {
    pub(crate) fn kq_pid_is_process(pid: *mut c_void) -> bool;
    pub(crate) fn kq_get_pid(pid: *mut c_void) -> *mut c_void;
    pub(crate) fn kq_proc_exit_status(pid: *mut c_void, status: *mut c_int) -> c_int;
    pub(crate) fn kq_may_watch(pid: *mut c_void) -> bool;
    pub(crate) fn kq_pidfd_pid(file: *mut c_void) -> *mut c_void;
}

// EVFILT_TIMER (filter/timer.rs).
extern "C" {
    pub(crate) fn kq_hrtimer_queued(timer: *mut bindings::hrtimer) -> bool;
}

/// `struct kq_vnode` of `helpers/vnode.c`: a mark and the knote it reports to.
#[repr(C)]
pub(crate) struct KqVnode {
    _opaque: [u8; 0],
}

/// The callback through which `helpers/vnode.c` reports an fsnotify event of a mark.
pub(crate) type EventFn = unsafe extern "C" fn(*mut c_void, u32, c_uint, c_uint, i64, i64, bool);

// EVFILT_VNODE and pipe reads (filter/vnode.rs).
extern "C" {
    pub(crate) fn kq_vnode_init(report: EventFn) -> c_int;
    pub(crate) fn kq_vnode_exit();
    pub(crate) fn kq_vnode_new() -> *mut KqVnode;
    pub(crate) fn kq_vnode_attach(v: *mut KqVnode, file: *mut c_void, kn: *mut c_void) -> c_int;
    pub(crate) fn kq_vnode_attach_pipe(
        v: *mut KqVnode,
        file: *mut c_void,
        kn: *mut c_void,
    ) -> c_int;
    pub(crate) fn kq_file_is_pipe(file: *mut c_void) -> bool;
    pub(crate) fn kq_vnode_detach(v: *mut KqVnode);
    pub(crate) fn kq_vnode_ask(v: *mut KqVnode, access: u32);
    pub(crate) fn kq_vnode_put(v: *mut KqVnode);
    pub(crate) fn kq_vnode_fd_moved(v: *mut KqVnode, fd: c_uint) -> bool;
}
