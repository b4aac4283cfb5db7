// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
//! Thin wrappers over the C library: errno and the `KQUEUE_IOC_KEVENT` ioctl.

use core::ffi::c_int;

use crate::abi::{
    KEvent, KQUEUE_IOC_KEVENT, KQUEUE_KEVENT_ARGS_SIZE_VER0, KeventArgs, KqueueWait,
    kqueue_ioc_wait,
};

/// Reads the calling thread's errno.
pub fn errno() -> c_int {
    // SAFETY: __errno_location() always returns a valid pointer to the
    // calling thread's errno.
    unsafe { *libc::__errno_location() }
}

/// Sets the calling thread's errno.
pub fn set_errno(value: c_int) {
    // SAFETY: as in errno().
    unsafe { *libc::__errno_location() = value }
}

/// Builds the argument block of one `KQUEUE_IOC_KEVENT` call.
pub fn kevent_args(
    changes: *const KEvent,
    nchanges: c_int,
    events: *mut KEvent,
    nevents: c_int,
    flags: u32,
    timeout: *const libc::timespec,
) -> KeventArgs {
    KeventArgs {
        size: KQUEUE_KEVENT_ARGS_SIZE_VER0,
        flags,
        changelist: changes as u64,
        eventlist: events as u64,
        nchanges,
        nevents,
        timeout: timeout as u64,
        nchanges_done: 0,
        reserved: 0,
    }
}

/// Issues `KQUEUE_IOC_KEVENT`; returns the ioctl's result (entries stored,
/// or -1 with errno set by the kernel). The kernel writes
/// `args.nchanges_done` back with `KQUEUE_KEVENT_STOP_AT_LIBKQUEUE`.
///
/// # Safety
///
/// The pointers in `args` are only dereferenced by the kernel, which checks
/// them (EFAULT); they must not alias memory Rust code holds references to
/// while the call runs.
pub unsafe fn ioctl_kevent(kq: c_int, args: &mut KeventArgs) -> c_int {
    // SAFETY: the request number matches the argument type and size, and
    // `args` lives for the duration of the call.
    unsafe {
        libc::ioctl(
            kq,
            KQUEUE_IOC_KEVENT as libc::Ioctl,
            args as *mut KeventArgs,
        )
    }
}

/// Issues `KQUEUE_IOC_WAIT`: a kevent() call without changes, `nevents` at
/// most `KQUEUE_WAIT_MAX_EVENTS`. Returns the ioctl's result as
/// [`ioctl_kevent`].
///
/// # Safety
///
/// As for [`ioctl_kevent`]: the kernel alone dereferences `events` and
/// `timeout`.
pub unsafe fn ioctl_wait(
    kq: c_int,
    events: *mut KEvent,
    nevents: u32,
    timeout: *const libc::timespec,
) -> c_int {
    let args = KqueueWait {
        eventlist: events as u64,
        timeout: timeout as u64,
    };
    // SAFETY: the request number matches the argument type, and `args`
    // lives for the duration of the call.
    unsafe {
        libc::ioctl(
            kq,
            kqueue_ioc_wait(nevents) as libc::Ioctl,
            &args as *const KqueueWait,
        )
    }
}
