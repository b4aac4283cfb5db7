// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
//! ABI types and constants: libkqueue's `<sys/event.h>` and the
//! `/dev/kqueue` ioctl interface (`include/uapi/linux/kqueue.h`).

use core::ffi::c_void;
use core::mem::{offset_of, size_of};

#[cfg(not(target_pointer_width = "64"))]
compile_error!("only LP64 targets are supported: struct kevent is passed to the kernel as is");

/// BSD `struct kevent` as libkqueue lays it out; on LP64 it is also the
/// kernel's `struct kqueue_event`, so arrays of it go to the kernel as is.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KEvent {
    pub ident: usize,
    pub filter: i16,
    pub flags: u16,
    pub fflags: u32,
    pub data: isize,
    pub udata: *mut c_void,
}

/// `struct kqueue_kevent_args`: one kevent() call for `KQUEUE_IOC_KEVENT`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeventArgs {
    pub size: u32,
    pub flags: u32,
    pub changelist: u64,
    pub eventlist: u64,
    pub nchanges: i32,
    pub nevents: i32,
    pub timeout: u64,
    /// Out: changes consumed, with `KQUEUE_KEVENT_STOP_AT_LIBKQUEUE`.
    pub nchanges_done: i32,
    /// `__reserved`, must be 0.
    pub reserved: u32,
}

// The layout the kernel expects (struct kqueue_event, kqueue_kevent_args).
const _: () = {
    assert!(size_of::<KEvent>() == 32);
    assert!(offset_of!(KEvent, ident) == 0);
    assert!(offset_of!(KEvent, filter) == 8);
    assert!(offset_of!(KEvent, flags) == 10);
    assert!(offset_of!(KEvent, fflags) == 12);
    assert!(offset_of!(KEvent, data) == 16);
    assert!(offset_of!(KEvent, udata) == 24);
    assert!(size_of::<KeventArgs>() == KQUEUE_KEVENT_ARGS_SIZE_VER0 as usize);
    assert!(offset_of!(KeventArgs, changelist) == 8);
    assert!(offset_of!(KeventArgs, eventlist) == 16);
    assert!(offset_of!(KeventArgs, nchanges) == 24);
    assert!(offset_of!(KeventArgs, nevents) == 28);
    assert!(offset_of!(KeventArgs, timeout) == 32);
    assert!(offset_of!(KeventArgs, nchanges_done) == 40);
    assert!(offset_of!(KeventArgs, reserved) == 44);
    // The timeout pointer is handed over as a struct __kernel_timespec *.
    assert!(size_of::<libc::timespec>() == 16);
};

/// `KQUEUE_KEVENT_ARGS_SIZE_VER0`.
pub const KQUEUE_KEVENT_ARGS_SIZE_VER0: u32 = 48;
/// `KQUEUE_KEVENT_NO_COLLECT`: apply changes, report errors, collect nothing.
pub const KQUEUE_KEVENT_NO_COLLECT: u32 = 0x1;
/// `KQUEUE_KEVENT_STOP_AT_LIBKQUEUE`: stop before the first
/// `EVFILT_LIBKQUEUE` change; `nchanges_done` tells how many were consumed.
/// A call that stops collects no events.
pub const KQUEUE_KEVENT_STOP_AT_LIBKQUEUE: u32 = 0x2;

/// `_IOWR(type, nr, size)` in the asm-generic encoding (x86, arm64, riscv...).
const fn iowr(ty: u32, nr: u32, size: u32) -> u32 {
    const IOC_READ_WRITE: u32 = 3;
    (IOC_READ_WRITE << 30) | (size << 16) | (ty << 8) | nr
}

/// `struct kqueue_wait`: a `KQUEUE_IOC_WAIT` call's arguments besides nevents.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KqueueWait {
    pub eventlist: u64,
    /// `const struct __kernel_timespec *`, 0 = wait forever.
    pub timeout: u64,
}

const _: () = assert!(size_of::<KqueueWait>() == 16 && offset_of!(KqueueWait, timeout) == 8);

/// `KQUEUE_WAIT_MAX_EVENTS`: the most events one `KQUEUE_IOC_WAIT` asks for.
pub const KQUEUE_WAIT_MAX_EVENTS: u32 = (1 << 14) - 1;

/// `KQUEUE_IOC_WAIT(nevents) = _IOC(_IOC_READ, 0xbe, 2, nevents)`; `nevents` is at
/// most [`KQUEUE_WAIT_MAX_EVENTS`].
pub const fn kqueue_ioc_wait(nevents: u32) -> u32 {
    const IOC_READ: u32 = 2;
    (IOC_READ << 30) | (nevents << 16) | (KQUEUE_IOC_MAGIC << 8) | 2
}

/// `KQUEUE_IOC_MAGIC`.
pub const KQUEUE_IOC_MAGIC: u32 = 0xbe;
/// `KQUEUE_IOC_KEVENT = _IOWR(0xbe, 1, struct kqueue_kevent_args)`.
pub const KQUEUE_IOC_KEVENT: u32 = iowr(KQUEUE_IOC_MAGIC, 1, KQUEUE_KEVENT_ARGS_SIZE_VER0);

/// The device every kqueue is opened from.
pub const KQUEUE_DEVICE: &core::ffi::CStr = c"/dev/kqueue";
/// How kqueue() opens it: one open file is one kqueue, close-on-exec.
pub const KQUEUE_OPEN_FLAGS: core::ffi::c_int = libc::O_RDWR | libc::O_CLOEXEC;

// The subset of <sys/event.h> the library itself needs; the header carries
// the full table and the tests check both against the contract.

/// `EVFILT_LIBKQUEUE`: answered by the library; the kernel stops before it
/// (`KQUEUE_KEVENT_STOP_AT_LIBKQUEUE`) and never applies it.
pub const EVFILT_LIBKQUEUE: i16 = -12;
/// `EVFILT_EMPTY`, `EVFILT_PROCDESC` and `EVFILT_EXCEPT` (with its `NOTE_OOB`): filters beyond
/// libkqueue's, passed through to the kernel like every filter but
/// `EVFILT_LIBKQUEUE`.
pub const EVFILT_EMPTY: i16 = -13;
pub const EVFILT_PROCDESC: i16 = -14;
pub const EVFILT_EXCEPT: i16 = -15;
pub const NOTE_OOB: u32 = 0x2;
/// `EV_RECEIPT`.
pub const EV_RECEIPT: u16 = 0x40;
/// `EV_FORCEONESHOT` (FreeBSD's value; the kernel applies it).
pub const EV_FORCEONESHOT: u16 = 0x100;
/// `EV_KEEPUDATA` (FreeBSD's value; the kernel applies it).
pub const EV_KEEPUDATA: u16 = 0x200;
/// `KQUEUE_CLOEXEC`, the one flag of kqueuex() (FreeBSD's value).
pub const KQUEUE_CLOEXEC: core::ffi::c_uint = 0x1;
/// `EV_ERROR`.
pub const EV_ERROR: u16 = 0x4000;

/// `EVFILT_LIBKQUEUE` fflags.
pub const NOTE_VERSION: u32 = 1;
pub const NOTE_VERSION_STR: u32 = 2;
pub const NOTE_THREAD_SAFE: u32 = 3;
pub const NOTE_FORK_CLEANUP: u32 = 4;
pub const NOTE_DEBUG: u32 = 5;
pub const NOTE_DEBUG_PREFIX: u32 = 6;
pub const NOTE_DEBUG_FUNC: u32 = 7;
pub const NOTE_FILE_POLL_INTERVAL: u32 = 8;
