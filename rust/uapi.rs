// SPDX-License-Identifier: GPL-2.0

//! The userspace ABI: libkqueue's `<sys/event.h>` values and the ioctl
//! structures of `include/uapi/linux/kqueue.h`.

use kernel::{
    ioctl::{_IO, _IOC_DIR, _IOC_NR, _IOC_SIZE, _IOC_TYPE},
    transmute::{AsBytes, FromBytes},
};

/// EVFILT_READ.
pub(crate) const EVFILT_READ: i16 = -1;
/// EVFILT_WRITE.
pub(crate) const EVFILT_WRITE: i16 = -2;
/// EVFILT_PROC.
pub(crate) const EVFILT_PROC: i16 = -5;
/// EVFILT_LIBKQUEUE, the last of libkqueue's filters (answered by the library).
pub(crate) const EVFILT_LIBKQUEUE: i16 = -12;
/// EVFILT_USER.
pub(crate) const EVFILT_USER: i16 = -11;
/// EVFILT_TIMER.
pub(crate) const EVFILT_TIMER: i16 = -7;
/// EVFILT_VNODE.
pub(crate) const EVFILT_VNODE: i16 = -4;
/// EVFILT_SIGNAL.
pub(crate) const EVFILT_SIGNAL: i16 = -6;
/// EVFILT_EMPTY (FreeBSD's value; not in libkqueue): a descriptor's write side is empty.
pub(crate) const EVFILT_EMPTY: i16 = -13;
/// EVFILT_PROCDESC (FreeBSD's -8 is libkqueue's EVFILT_NETDEV): the process of a pidfd.
pub(crate) const EVFILT_PROCDESC: i16 = -14;
/// EVFILT_EXCEPT (macOS's value; FreeBSD has none): exceptional conditions (NOTE_OOB).
pub(crate) const EVFILT_EXCEPT: i16 = -15;

/// Add the event (or modify it).
pub(crate) const EV_ADD: u16 = 0x1;
/// Delete the event.
pub(crate) const EV_DELETE: u16 = 0x2;
/// Enable the event.
pub(crate) const EV_ENABLE: u16 = 0x4;
/// Disable the event.
pub(crate) const EV_DISABLE: u16 = 0x8;
/// Delete after the first delivery.
pub(crate) const EV_ONESHOT: u16 = 0x10;
/// Reset the state after delivery.
pub(crate) const EV_CLEAR: u16 = 0x20;
/// Always answer the change with an EV_ERROR entry.
pub(crate) const EV_RECEIPT: u16 = 0x40;
/// Disable after delivery.
pub(crate) const EV_DISPATCH: u16 = 0x80;
/// Queue an existing knote as triggered, to be deleted after that delivery (FreeBSD).
pub(crate) const EV_FORCEONESHOT: u16 = 0x100;
/// A change without EV_ADD leaves the knote's udata as it is (FreeBSD).
pub(crate) const EV_KEEPUDATA: u16 = 0x200;
/// Reserved system flags; ignored on input so returned events can be resubmitted.
pub(crate) const EV_SYSFLAGS: u16 = 0xf000;
/// Error entry.
pub(crate) const EV_ERROR: u16 = 0x4000;
/// End of file.
pub(crate) const EV_EOF: u16 = 0x8000;

/// Flags a change may carry.
pub(crate) const EV_VALID: u16 = EV_ADD
    | EV_DELETE
    | EV_ENABLE
    | EV_DISABLE
    | EV_ONESHOT
    | EV_CLEAR
    | EV_RECEIPT
    | EV_DISPATCH
    | EV_FORCEONESHOT
    | EV_KEEPUDATA
    | EV_SYSFLAGS;
/// Flags that describe a registration (reported back with its events, EV_RECEIPT
/// included, as FreeBSD and libkqueue keep it).
pub(crate) const EV_PERSISTENT: u16 = EV_ADD | EV_ONESHOT | EV_CLEAR | EV_RECEIPT | EV_DISPATCH;

/// EVFILT_READ/WRITE: `data` is the low-water mark.
pub(crate) const NOTE_LOWAT: u32 = 0x1;
/// EVFILT_USER: AND the input fflags into the stored ones.
pub(crate) const NOTE_FFAND: u32 = 0x4000_0000;
/// EVFILT_USER: OR the input fflags into the stored ones.
pub(crate) const NOTE_FFOR: u32 = 0x8000_0000;
/// EVFILT_USER: copy the input fflags.
pub(crate) const NOTE_FFCOPY: u32 = 0xc000_0000;
/// EVFILT_USER: control part of fflags.
pub(crate) const NOTE_FFCTRLMASK: u32 = 0xc000_0000;
/// EVFILT_USER: user-defined part of fflags.
pub(crate) const NOTE_FFLAGSMASK: u32 = 0x00ff_ffff;
/// EVFILT_USER: trigger the event.
pub(crate) const NOTE_TRIGGER: u32 = 0x0100_0000;
/// EVFILT_PROC: the process exited (`data` is its wait status).
pub(crate) const NOTE_EXIT: u32 = 0x8000_0000;
/// EVFILT_PROC: the process forked a new process.
pub(crate) const NOTE_FORK: u32 = 0x4000_0000;
/// EVFILT_PROC: the process executed a new program.
pub(crate) const NOTE_EXEC: u32 = 0x2000_0000;
/// EVFILT_PROC: follow forks with knotes on the children.
pub(crate) const NOTE_TRACK: u32 = 0x1;
/// EVFILT_PROC: a child could not be tracked.
pub(crate) const NOTE_TRACKERR: u32 = 0x2;
/// EVFILT_PROC: the event of a tracked child (`data` is the parent's pid).
pub(crate) const NOTE_CHILD: u32 = 0x4;
/// EVFILT_TIMER: `data` is in seconds.
pub(crate) const NOTE_SECONDS: u32 = 0x1;
/// EVFILT_TIMER: `data` is in microseconds.
pub(crate) const NOTE_USECONDS: u32 = 0x2;
/// EVFILT_TIMER: `data` is in nanoseconds.
pub(crate) const NOTE_NSECONDS: u32 = 0x4;
/// EVFILT_TIMER: `data` is an absolute CLOCK_REALTIME time (in the unit): fire once then.
pub(crate) const NOTE_ABSOLUTE: u32 = 0x8;
/// EVFILT_VNODE: the file was removed (its last link, or the file itself).
pub(crate) const NOTE_DELETE: u32 = 0x1;
/// EVFILT_VNODE: the contents changed (a directory: an entry was added, removed or renamed).
pub(crate) const NOTE_WRITE: u32 = 0x2;
/// EVFILT_VNODE: the file grew.
pub(crate) const NOTE_EXTEND: u32 = 0x4;
/// EVFILT_VNODE: attributes changed (mode, owner, times, extended attributes).
pub(crate) const NOTE_ATTRIB: u32 = 0x8;
/// EVFILT_VNODE: the link count changed (a directory: a subdirectory came or went).
pub(crate) const NOTE_LINK: u32 = 0x10;
/// EVFILT_VNODE: the file was renamed.
pub(crate) const NOTE_RENAME: u32 = 0x20;
/// EVFILT_VNODE: access was revoked: the file system was unmounted.
pub(crate) const NOTE_REVOKE: u32 = 0x40;
/// EVFILT_VNODE: the file shrank (truncate).
pub(crate) const NOTE_TRUNCATE: u32 = 0x80;
/// EVFILT_VNODE: a file description opened without write access was closed (FreeBSD 11).
pub(crate) const NOTE_CLOSE: u32 = 0x100;
/// EVFILT_VNODE: a file description opened for writing was closed (FreeBSD 11).
pub(crate) const NOTE_CLOSE_WRITE: u32 = 0x200;
/// EVFILT_VNODE: the file was read, or the directory listed (FreeBSD 11).
pub(crate) const NOTE_READ: u32 = 0x400;
/// EVFILT_VNODE: the file was opened (FreeBSD 11). FreeBSD's value is 0x80, which is
/// libkqueue's NOTE_TRUNCATE: here it takes the next free bit.
pub(crate) const NOTE_OPEN: u32 = 0x800;
/// EVFILT_EXCEPT: out-of-band (urgent) data is pending (macOS's value).
pub(crate) const NOTE_OOB: u32 = 0x2;

/// One change or event: the LP64 layout of BSD `struct kevent`.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct KEvent {
    /// Identifier (descriptor, pid, signal, or any number).
    pub(crate) ident: u64,
    /// Filter.
    pub(crate) filter: i16,
    /// EV_* flags.
    pub(crate) flags: u16,
    /// Filter flags.
    pub(crate) fflags: u32,
    /// Filter data.
    pub(crate) data: i64,
    /// Opaque user data.
    pub(crate) udata: u64,
}

// SAFETY: Plain integers, no padding (8 + 2 + 2 + 4 + 8 + 8 = 32 bytes).
unsafe impl FromBytes for KEvent {}
// SAFETY: Plain integers, no padding.
unsafe impl AsBytes for KEvent {}

/// `struct kqueue_kevent_args`: one kevent() call.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct KeventArgs {
    /// Size of the structure as the caller knows it.
    pub(crate) size: u32,
    /// KQUEUE_KEVENT_* flags.
    pub(crate) flags: u32,
    /// User pointer to the changes.
    pub(crate) changelist: u64,
    /// User pointer to the event buffer.
    pub(crate) eventlist: u64,
    /// Number of changes.
    pub(crate) nchanges: i32,
    /// Room in the event buffer.
    pub(crate) nevents: i32,
    /// User pointer to a `__kernel_timespec`, 0 for no timeout.
    pub(crate) timeout: u64,
    /// Out: changes consumed, with [`KEVENT_STOP_AT_LIBKQUEUE`].
    pub(crate) nchanges_done: i32,
    /// Must be zero.
    pub(crate) reserved: u32,
}

// SAFETY: Plain integers, no padding (4 + 4 + 8 + 8 + 4 + 4 + 8 + 4 + 4 = 48 bytes).
unsafe impl FromBytes for KeventArgs {}
// SAFETY: Plain integers, no padding.
unsafe impl AsBytes for KeventArgs {}

/// `struct __kernel_timespec`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct Timespec {
    /// Seconds.
    pub(crate) tv_sec: i64,
    /// Nanoseconds.
    pub(crate) tv_nsec: i64,
}

// SAFETY: Plain integers, no padding.
unsafe impl FromBytes for Timespec {}

/// `struct kqueue_wait`: a KQUEUE_IOC_WAIT call's arguments besides nevents.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct WaitArgs {
    /// User pointer to the event buffer.
    pub(crate) eventlist: u64,
    /// User pointer to a `__kernel_timespec`, 0 for no timeout.
    pub(crate) timeout: u64,
}

// SAFETY: Plain integers, no padding.
unsafe impl FromBytes for WaitArgs {}

/// The 64-bit word of [`WaitArgs`] that holds the timeout pointer.
pub(crate) const WAIT_TIMEOUT_WORD: u32 = 1;

/// Size of the first version of [`KeventArgs`].
pub(crate) const KEVENT_ARGS_SIZE_VER0: usize = 48;
/// Offset of `nchanges_done` in [`KeventArgs`].
pub(crate) const KEVENT_ARGS_DONE_OFFSET: usize = 40;
/// args.flags: apply changes only, collect no events.
pub(crate) const KEVENT_NO_COLLECT: u32 = 0x1;
/// args.flags: stop before the first EVFILT_LIBKQUEUE change (answered by the library).
pub(crate) const KEVENT_STOP_AT_LIBKQUEUE: u32 = 0x2;
/// Largest nchanges or nevents of one call.
pub(crate) const MAX_EVENTS: i32 = 1 << 20;
/// ABI version returned by [`IOC_VERSION`].
pub(crate) const ABI_VERSION: i32 = 2;

const IOC_MAGIC: u32 = 0xbe;
/// KQUEUE_IOC_VERSION.
pub(crate) const IOC_VERSION: u32 = _IO(IOC_MAGIC, 0);

/// Whether `cmd` is KQUEUE_IOC_KEVENT, whatever argument size it encodes (the size
/// travels in `args.size`, so a later, larger structure keeps the same command).
pub(crate) fn is_ioc_kevent(cmd: u32) -> bool {
    _IOC_TYPE(cmd) == IOC_MAGIC
        && _IOC_NR(cmd) == 1
        && _IOC_DIR(cmd) == kernel::uapi::_IOC_READ | kernel::uapi::_IOC_WRITE
}

/// The nevents of a KQUEUE_IOC_WAIT command (from its size field), or None if `cmd`
/// is not one.
#[inline]
pub(crate) fn ioc_wait_nevents(cmd: u32) -> Option<usize> {
    let wait = _IOC_TYPE(cmd) == IOC_MAGIC
        && _IOC_NR(cmd) == 2
        && _IOC_DIR(cmd) == kernel::uapi::_IOC_READ;
    wait.then(|| _IOC_SIZE(cmd))
}

const _: () = assert!(core::mem::size_of::<KEvent>() == 32);
const _: () = assert!(core::mem::size_of::<WaitArgs>() == 16);
const _: () = assert!(core::mem::size_of::<KeventArgs>() == KEVENT_ARGS_SIZE_VER0);
