// SPDX-License-Identifier: GPL-2.0

//! /dev/kqueue: the misc device and its file operations.
//!
//! `MiscDevice` of the kernel crate has no poll and does not set `.owner`, so
//! the device registers its own `file_operations` (as Rust Binder does). This
//! file is the unsafe edge between the VFS and [`Kqueue`].

use crate::{
    charge,
    glue::{file_count, files_shared},
    kevent,
    queue::Kqueue,
    uapi::{ioc_wait_nevents, is_ioc_kevent, ABI_VERSION, IOC_VERSION},
    THIS_MODULE,
};
use core::{marker::PhantomPinned, mem::MaybeUninit};
use kernel::{
    bindings,
    error::to_result,
    ffi::{c_int, c_long, c_uint, c_ulong},
    fs::File,
    prelude::*,
    seq_file::SeqFile,
    sync::Arc,
    types::{ForeignOwnable, Opaque},
};

/// The registered misc device.
#[pin_data(PinnedDrop)]
pub(crate) struct KqDevice {
    #[pin]
    misc: Opaque<bindings::miscdevice>,
    #[pin]
    _pin: PhantomPinned,
}

// SAFETY: misc_deregister may be called from any thread.
unsafe impl Send for KqDevice {}
// SAFETY: No `&self` method touches the miscdevice.
unsafe impl Sync for KqDevice {}

impl KqDevice {
    /// Registers /dev/kqueue, mode 0666.
    pub(crate) fn register() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            misc <- Opaque::try_ffi_init(|slot: *mut bindings::miscdevice| {
                // SAFETY: All zeroes is a valid `miscdevice`.
                let mut md: bindings::miscdevice = unsafe { MaybeUninit::zeroed().assume_init() };
                md.minor = bindings::MISC_DYNAMIC_MINOR as c_int;
                md.name = kernel::c_str!("kqueue").as_char_ptr();
                md.fops = &KQUEUE_FOPS.0;
                md.mode = 0o666;
                // SAFETY: `slot` is valid for writes and pinned; it is deregistered in drop.
                unsafe {
                    slot.write(md);
                    to_result(bindings::misc_register(slot))
                }
            }),
            _pin: PhantomPinned,
        })
    }
}

#[pinned_drop]
impl PinnedDrop for KqDevice {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: Registered in `register`, which is the only way to build a `KqDevice`.
        unsafe { bindings::misc_deregister(self.misc.get()) };
    }
}

/// `file_operations` in a static.
struct AssertSync<T>(T);
// SAFETY: Only read, by the VFS.
unsafe impl<T> Sync for AssertSync<T> {}

static KQUEUE_FOPS: AssertSync<bindings::file_operations> = {
    // SAFETY: All zeroes is a valid `file_operations`.
    let zeroed: bindings::file_operations = unsafe { MaybeUninit::zeroed().assume_init() };
    AssertSync(bindings::file_operations {
        owner: THIS_MODULE.as_ptr(),
        open: Some(kq_open),
        release: Some(kq_release),
        flush: Some(kq_flush),
        poll: Some(kq_poll),
        unlocked_ioctl: Some(kq_ioctl),
        // The ABI is identical for 32-bit callers; compat_ptr_ioctl converts `arg`.
        compat_ioctl: bindings::compat_ptr_ioctl,
        show_fdinfo: Some(kq_show_fdinfo),
        llseek: Some(bindings::noop_llseek),
        ..zeroed
    })
};

/// The kqueue behind `file`, if it is a /dev/kqueue file.
pub(crate) fn kqueue_of_file(file: &File) -> Option<&Kqueue> {
    let f = file.as_ptr();
    // SAFETY: `file` is live; `f_op` never changes after open.
    if !core::ptr::eq(unsafe { (*f).f_op }, &KQUEUE_FOPS.0) {
        return None;
    }
    // SAFETY: A /dev/kqueue file holds its `Arc<Kqueue>` from open to release, and release
    // cannot run while the caller holds `file`; the reference lives no longer than `file`.
    let kq = unsafe { kqueue_of(f) };
    let ptr: *const Kqueue = &*kq;
    // SAFETY: As above: valid for as long as `file` is borrowed.
    Some(unsafe { &*ptr })
}

/// Borrows the kqueue of an open file.
///
/// # Safety
///
/// `file` must be an open /dev/kqueue file whose `kq_open` succeeded and whose
/// `kq_release` has not run.
unsafe fn kqueue_of<'a>(
    file: *mut bindings::file,
) -> <Arc<Kqueue> as ForeignOwnable>::Borrowed<'a> {
    // SAFETY: `private_data` holds the `Arc<Kqueue>` stored by `kq_open` (caller's promise).
    unsafe { Arc::<Kqueue>::borrow((*file).private_data) }
}

/// `open` of /dev/kqueue: a new kqueue in `private_data`.
///
/// # Safety
///
/// Called by the VFS only, with valid arguments for this file operation.
unsafe extern "C" fn kq_open(_inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
    let open = || -> Result<Arc<Kqueue>> {
        let user = charge::get_current()?;
        let max = *crate::module_parameters::max_user_knotes.value();
        Arc::pin_init(Kqueue::new(user.clone(), max), GFP_KERNEL_ACCOUNT)
            .inspect_err(|_| charge::put(&user))
    };
    match open() {
        Ok(kq) => {
            // SAFETY: The VFS hands us a valid file being opened; misc_open's pointer in
            // `private_data` is not needed any more.
            unsafe { (*file).private_data = kq.into_foreign() };
            0
        }
        Err(e) => e.to_errno(),
    }
}

/// `release`: the last reference to the file is gone.
///
/// # Safety
///
/// Called by the VFS only, with valid arguments for this file operation.
unsafe extern "C" fn kq_release(_inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
    // SAFETY: Last reference to a file `kq_open` set up; nobody uses `private_data` after.
    let kq = unsafe { Arc::<Kqueue>::from_foreign((*file).private_data) };
    kq.release();
    charge::put(kq.charge());
    0
}

/// `flush`: called at every close() of a descriptor of the file.
///
/// # Safety
///
/// Called by the VFS only, with valid arguments for this file operation.
unsafe extern "C" fn kq_flush(file: *mut bindings::file, _id: bindings::fl_owner_t) -> c_int {
    // SAFETY: The VFS calls flush on an open file.
    let kq = unsafe { kqueue_of(file) };
    kq.flush(|| file_count(file));
    0
}

/// `poll`: readable while events are pending.
///
/// # Safety
///
/// Called by the VFS only, with valid arguments for this file operation.
unsafe extern "C" fn kq_poll(
    file: *mut bindings::file,
    table: *mut bindings::poll_table_struct,
) -> bindings::__poll_t {
    // SAFETY: The VFS calls poll on an open file.
    let kq = unsafe { kqueue_of(file) };
    // SAFETY: `file` and `table` come from the VFS; the queue lives as long as the kqueue,
    // which outlives every poller (they hold the file, or epoll unhooks before release).
    unsafe { bindings::poll_wait(file, kq.poll_queue(), table) };
    kq.poll_mask()
}

/// `unlocked_ioctl` (and, through `compat_ptr_ioctl`, `compat_ioctl`).
///
/// # Safety
///
/// Called by the VFS only, with valid arguments for this file operation.
unsafe extern "C" fn kq_ioctl(file: *mut bindings::file, cmd: c_uint, arg: c_ulong) -> c_long {
    // SAFETY: The VFS calls ioctl on an open file.
    let kq = unsafe { kqueue_of(file) };
    // The wait of an event loop first.
    let nevents = ioc_wait_nevents(cmd);
    if nevents.is_none() {
        if cmd == IOC_VERSION {
            return ABI_VERSION as c_long;
        }
        if !is_ioc_kevent(cmd) {
            return ENOTTY.to_errno() as c_long;
        }
    }
    let holds_ref = files_shared();
    kq.enter_call(holds_ref);
    let res = match nevents {
        Some(nevents) => kevent::wait(&kq, arg, nevents),
        None => kevent::kevent(&kq, arg),
    };
    kq.leave_call(holds_ref);
    match res {
        Ok(n) => n as c_long,
        Err(e) => e.to_errno() as c_long,
    }
}

/// `show_fdinfo`: the knotes in /proc/<pid>/fdinfo.
///
/// # Safety
///
/// Called by the VFS only, with valid arguments for this file operation.
unsafe extern "C" fn kq_show_fdinfo(m: *mut bindings::seq_file, file: *mut bindings::file) {
    // SAFETY: The VFS calls show_fdinfo on an open file.
    let kq = unsafe { kqueue_of(file) };
    // SAFETY: `m` is a valid seq_file for the duration of the call.
    kq.show_fdinfo(unsafe { SeqFile::from_raw(m) });
}
