// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
//! libkqueue-compatible userspace library for the `/dev/kqueue` module.
//!
//! A drop-in replacement for libkqueue (`libkqueue.so.0`, `<sys/event.h>`):
//! kqueue() opens `/dev/kqueue`, kevent() is one `KQUEUE_IOC_KEVENT` ioctl,
//! and the library itself only answers `EVFILT_LIBKQUEUE` changes and closes
//! kqueues in the child of fork(). See shared/spec/kqueue-contract.md.
//!
//! The library is `no_std` (no Rust runtime, panics abort) so that
//! `libkqueue.a` links into C programs with nothing but the C library.

#![cfg_attr(not(test), no_std)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod abi;
pub mod fork;
pub mod libkq;
pub mod sys;
pub mod translate;

#[cfg(test)]
mod tests;

use core::ffi::{c_int, c_uint};

use abi::{KEvent, KQUEUE_CLOEXEC, KQUEUE_DEVICE, KQUEUE_OPEN_FLAGS};

/// Creates a kqueue: a new close-on-exec descriptor on `/dev/kqueue`.
///
/// Fails with ENOSYS when the module is not loaded (no `/dev/kqueue`).
#[unsafe(no_mangle)]
pub extern "C" fn kqueue() -> c_int {
    open_kqueue(KQUEUE_OPEN_FLAGS)
}

/// FreeBSD's kqueuex(): a kqueue whose descriptor is close-on-exec with
/// `KQUEUE_CLOEXEC`, and not without it. Any other bit is EINVAL, FreeBSD
/// 15's `KQUEUE_CPONFORK` (2) included: the kqueue is never copied into a
/// fork child; the library closes it there as for kqueue().
#[unsafe(no_mangle)]
pub extern "C" fn kqueuex(flags: c_uint) -> c_int {
    if flags & !KQUEUE_CLOEXEC != 0 {
        sys::set_errno(libc::EINVAL);
        return -1;
    }
    let cloexec = if flags & KQUEUE_CLOEXEC != 0 {
        libc::O_CLOEXEC
    } else {
        0
    };
    open_kqueue(libc::O_RDWR | cloexec)
}

/// NetBSD's kqueue1(), as FreeBSD's libc has it: `O_CLOEXEC` makes the
/// descriptor close-on-exec, `O_NONBLOCK` is accepted and ignored (kevent()
/// takes its timeout), anything else is EINVAL.
#[unsafe(no_mangle)]
pub extern "C" fn kqueue1(flags: c_int) -> c_int {
    if flags & !(libc::O_CLOEXEC | libc::O_NONBLOCK) != 0 {
        sys::set_errno(libc::EINVAL);
        return -1;
    }
    kqueuex(if flags & libc::O_CLOEXEC != 0 {
        KQUEUE_CLOEXEC
    } else {
        0
    })
}

/// Opens `/dev/kqueue` with `oflags` and records the descriptor for the
/// fork cleanup; -1 with errno on failure.
fn open_kqueue(oflags: c_int) -> c_int {
    // SAFETY: a NUL-terminated path and plain flags.
    let open = || unsafe { libc::open(KQUEUE_DEVICE.as_ptr(), oflags) };
    match fork::open_tracked(open) {
        Ok(fd) => fd,
        Err(e) => {
            sys::set_errno(open_errno(e));
            -1
        }
    }
}

/// The errno kqueue() reports for a failure with `e`: a missing device
/// means the module is not loaded, which libkqueue users know as ENOSYS.
pub fn open_errno(e: c_int) -> c_int {
    match e {
        libc::ENOENT | libc::ENODEV | libc::ENXIO => libc::ENOSYS,
        e => e,
    }
}

/// Applies `changelist` to kqueue `kq` and collects up to `nevents` events
/// into `eventlist`, waiting as `timeout` says (NULL: forever).
///
/// # Safety
///
/// As for BSD kevent(2): `changelist` holds `nchanges` entries and
/// `eventlist` has room for `nevents` (they may be the same array), and
/// `timeout` is NULL or points to a timespec.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kevent(
    kq: c_int,
    changelist: *const KEvent,
    nchanges: c_int,
    eventlist: *mut KEvent,
    nevents: c_int,
    timeout: *const libc::timespec,
) -> c_int {
    // SAFETY: the caller's guarantees are those translate::kevent needs.
    unsafe { translate::kevent(kq, changelist, nchanges, eventlist, nevents, timeout) }
}

/// libkqueue API: waits for kqueues being closed in the background. Closing
/// a kqueue is synchronous in the kernel, so there is nothing to wait for.
#[unsafe(no_mangle)]
pub extern "C" fn libkqueue_drain_pending_close() {}

#[cfg(not(test))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    // SAFETY: abort() is always safe to call.
    unsafe { libc::abort() }
}
