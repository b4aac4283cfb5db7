// SPDX-License-Identifier: GPL-2.0

//! EVFILT_VNODE: changes to a file or directory, through fsnotify.
//!
//! Each knote puts one fsnotify mark on the inode of its descriptor (the
//! group and the marks live in `helpers/vnode.c`, as fsnotify's structures are not
//! in the Rust bindings). The mark pins the inode but neither the file nor the
//! dentry: the knote never delays a deletion, and the watch follows the inode,
//! not the descriptor (as libkqueue's inotify watches do). fsnotify calls
//! [`vnode_event`] with the event mask and the inode's link count and size before
//! and after; it maps them to NOTE_* flags, ORs those the registration asked for
//! into the knote, and activates it.
//!
//! When the inode goes away (deleted and no longer referenced, or its file
//! system unmounted) fsnotify frees the mark: the knote reports EV_EOF and
//! EV_ONESHOT (FreeBSD's end of a vnode knote) and is gone after that event.

use super::{activate, fd, Filter};
use crate::ffi::{
    kq_file_is_pipe, kq_vnode_ask, kq_vnode_attach, kq_vnode_attach_pipe, kq_vnode_detach,
    kq_vnode_exit, kq_vnode_fd_moved, kq_vnode_init, kq_vnode_new, kq_vnode_put, KqVnode,
};
use crate::{knote::Knote, uapi::*};
use core::ptr::NonNull;
use kernel::{
    ffi::{c_uint, c_void},
    fs::File,
    prelude::*,
    sync::Arc,
};

/// Every event EVFILT_VNODE reports.
const NOTE_ALL: u32 = NOTE_DELETE
    | NOTE_WRITE
    | NOTE_EXTEND
    | NOTE_ATTRIB
    | NOTE_LINK
    | NOTE_RENAME
    | NOTE_REVOKE
    | NOTE_TRUNCATE
    | NOTE_OPEN
    | NOTE_CLOSE
    | NOTE_CLOSE_WRITE
    | NOTE_READ;

// fsnotify event bits (include/linux/fsnotify_backend.h, not in the bindings).
const FS_ACCESS: u32 = 0x1;
const FS_MODIFY: u32 = 0x2;
const FS_ATTRIB: u32 = 0x4;
const FS_CLOSE_WRITE: u32 = 0x8;
const FS_CLOSE_NOWRITE: u32 = 0x10;
const FS_OPEN: u32 = 0x20;

/// The access notes and the fsnotify events they come from: opens, closes (of the last
/// reference to a file description) and reads with data.
const ACCESS_NOTES: [(u32, u32); 4] = [
    (FS_OPEN, NOTE_OPEN),
    (FS_CLOSE_NOWRITE, NOTE_CLOSE),
    (FS_CLOSE_WRITE, NOTE_CLOSE_WRITE),
    (FS_ACCESS, NOTE_READ),
];
const FS_MOVED_FROM: u32 = 0x40;
const FS_MOVED_TO: u32 = 0x80;
const FS_CREATE: u32 = 0x100;
const FS_DELETE: u32 = 0x200;
const FS_DELETE_SELF: u32 = 0x400;
const FS_MOVE_SELF: u32 = 0x800;
const FS_UNMOUNT: u32 = 0x2000;
/// Sent by the glue when fsnotify frees the mark: the watch is over.
const FS_IN_IGNORED: u32 = 0x8000;

/// Creates the module's fsnotify group.
pub(crate) fn init() -> Result {
    // SAFETY: Called once at module init; `vnode_event` has the expected signature.
    let r = unsafe { kq_vnode_init(vnode_event) };
    if r < 0 {
        return Err(Error::from_errno(r));
    }
    Ok(())
}

/// Waits until fsnotify has freed every mark, then drops the group. Called at module
/// exit, when no knote is left.
pub(crate) fn exit() {
    // SAFETY: `init` succeeded (the module would not be loaded otherwise).
    unsafe { kq_vnode_exit() };
}

/// Whether `file` is a pipe or FIFO (whose EVFILT_EMPTY knotes watch its reads).
pub(crate) fn is_pipe(file: &File) -> bool {
    // SAFETY: `file` is a live file; this only reads its inode's mode.
    unsafe { kq_file_is_pipe(file.as_ptr().cast()) }
}

/// The fsnotify mark of one EVFILT_VNODE knote, or of an EVFILT_EMPTY knote on a pipe.
///
/// # Invariants
///
/// `v` is a `kq_vnode` from `kq_vnode_new` whose reference this hook owns.
pub(crate) struct VnodeHook {
    v: NonNull<KqVnode>,
}

// SAFETY: The mark is made to be used from any thread; its fields are locked in C.
unsafe impl Send for VnodeHook {}
// SAFETY: As above.
unsafe impl Sync for VnodeHook {}

impl VnodeHook {
    /// A mark not attached to anything yet.
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: Allocates and initialises a mark of the module's group (created at init).
        let v = unsafe { kq_vnode_new() };
        NonNull::new(v).map(|v| Self { v }).ok_or(ENOMEM)
    }

    /// Watches the inode of descriptor `kn.key.ident` for `kn`. Runs in the registering
    /// task; may sleep.
    fn attach(&self, kn: &Knote) -> Result {
        let file = fd::fget(kn.key.ident)?;
        let kn: *const Knote = kn;
        // SAFETY: `v` is valid (invariant) and attached once; `file` is a live file.
        // The knote outlives the mark's use of it: `detach` clears it before the knote
        // is freed.
        let r =
            unsafe { kq_vnode_attach(self.v.as_ptr(), file.as_ptr().cast(), kn as *mut c_void) };
        if r < 0 {
            return Err(Error::from_errno(r));
        }
        Ok(())
    }

    /// Watches the reads of `kn`'s pipe (EVFILT_EMPTY), whose file the knote holds.
    /// Runs in the registering task; may sleep.
    pub(crate) fn attach_pipe(&self, kn: &Knote) -> Result {
        let Some(file) = &kn.file else {
            return Err(EINVAL);
        };
        let knp: *const Knote = kn;
        // SAFETY: As in `attach`: `v` is valid and attached once, `file` is live, and
        // `detach` clears the knote before it is freed.
        let r = unsafe {
            kq_vnode_attach_pipe(self.v.as_ptr(), file.as_ptr().cast(), knp as *mut c_void)
        };
        if r < 0 {
            return Err(Error::from_errno(r));
        }
        Ok(())
    }

    /// Stops reporting: when it returns, no fsnotify handler uses the knote.
    pub(crate) fn detach(&self) {
        // SAFETY: `v` is valid and was attached (detach only follows a successful attach).
        unsafe { kq_vnode_detach(self.v.as_ptr()) };
    }

    /// Reports the opens, closes and reads that `sfflags` ask for from now on: the
    /// handler drops the others before it takes any lock (every read of a watched
    /// file reaches it).
    fn ask(&self, sfflags: u32) {
        let access = ACCESS_NOTES
            .iter()
            .filter(|(_, note)| sfflags & note != 0)
            .fold(0, |mask, (fs, _)| mask | fs);
        // SAFETY: `v` is valid (invariant); this is one word written for the handler.
        unsafe { kq_vnode_ask(self.v.as_ptr(), access) };
    }

    /// Whether descriptor `ident` of the current task now names another inode (closed
    /// and reused): a new EV_ADD on it replaces this knote.
    fn fd_moved(&self, ident: u64) -> bool {
        let Ok(fd) = u32::try_from(ident) else {
            return false;
        };
        // SAFETY: `v` is valid; this only compares pointers under RCU.
        unsafe { kq_vnode_fd_moved(self.v.as_ptr(), fd) }
    }
}

impl Drop for VnodeHook {
    fn drop(&mut self) {
        // SAFETY: `v` is valid and this hook owns one reference (invariant); fsnotify
        // frees the mark once every reference is gone and an SRCU grace period passed.
        unsafe { kq_vnode_put(self.v.as_ptr()) };
    }
}

/// Maps one fsnotify event to NOTE_* flags. `nlink`/`size` are the inode's link count
/// and size after the event, `*_before` at the previous event.
fn notes(mask: u32, nlink_before: u32, nlink: u32, size_before: i64, size: i64, dir: bool) -> u32 {
    let mut notes = 0;
    let linked = nlink != nlink_before;
    if mask & FS_MODIFY != 0 {
        // A write, or a truncate (notify_change with ATTR_SIZE): told apart by the size.
        notes |= if size < size_before {
            NOTE_TRUNCATE
        } else {
            NOTE_WRITE
        };
        if size > size_before {
            notes |= NOTE_EXTEND;
        }
    }
    if dir && mask & (FS_CREATE | FS_DELETE | FS_MOVED_FROM | FS_MOVED_TO) != 0 {
        // An entry came or went (BSD: NOTE_WRITE on the directory; NOTE_LINK too when
        // it was a subdirectory, which changes the directory's link count).
        notes |= NOTE_WRITE;
        if linked {
            notes |= NOTE_LINK;
        }
    }
    if mask & FS_ATTRIB != 0 {
        // Link count changes (link, unlink, rename over the file) come as FS_ATTRIB too.
        notes |= if !linked {
            NOTE_ATTRIB
        } else if nlink == 0 {
            NOTE_DELETE
        } else {
            NOTE_LINK
        };
    }
    if mask & FS_DELETE_SELF != 0 {
        notes |= NOTE_DELETE;
    }
    if mask & FS_MOVE_SELF != 0 {
        notes |= NOTE_RENAME;
    }
    if mask & FS_UNMOUNT != 0 {
        notes |= NOTE_REVOKE;
    }
    for (fs, note) in ACCESS_NOTES {
        if mask & fs != 0 {
            notes |= note;
        }
    }
    notes
}

/// fsnotify handler (process context, under the mark's lock).
///
/// # Safety
///
/// `kn` is the knote of an attached [`VnodeHook`], not detached yet.
unsafe extern "C" fn vnode_event(
    kn: *mut c_void,
    mask: u32,
    nlink_before: c_uint,
    nlink: c_uint,
    size_before: i64,
    size: i64,
    dir: bool,
) {
    // SAFETY: The caller guarantees the knote is alive and hooked.
    let kn = unsafe { &*kn.cast::<Knote>() };
    if kn.key.filter == EVFILT_EMPTY {
        // A read of its pipe (the only event its mark asks for): poll it again.
        activate::<fd::FdState>(kn, |_, _| true);
        return;
    }
    let happened = notes(mask, nlink_before, nlink, size_before, size, dir);
    let ended = mask & (FS_IN_IGNORED | FS_UNMOUNT) != 0;
    activate::<VnodeState>(kn, |v, a| {
        v.fflags |= happened & v.sfflags;
        if ended {
            v.ended = true;
            a.end();
        }
        v.fflags != 0 || v.ended
    });
}

/// State of one EVFILT_VNODE knote, under the kqueue's lock.
pub(crate) struct VnodeState {
    /// The events the registration asked for.
    sfflags: u32,
    /// Events seen since the last delivery.
    fflags: u32,
    /// The watch is over (EV_EOF): reported even without any event flag.
    ended: bool,
    /// The registration gave EV_CLEAR, so it is reported.
    clear_asked: bool,
}

impl Filter for VnodeState {
    const FILTERS: &'static [i16] = &[EVFILT_VNODE];
    type Source = VnodeHook;

    /// The ident must be a descriptor number. Whether it is open is checked when the
    /// knote is attached (EBADF).
    fn validate(kev: &KEvent) -> Result {
        u32::try_from(kev.ident).map(|_| ()).map_err(|_| EBADF)
    }

    fn new(kev: &KEvent) -> Self {
        Self {
            sfflags: 0,
            fflags: 0,
            ended: false,
            clear_asked: kev.flags & EV_CLEAR != 0,
        }
    }

    fn source(_kev: &KEvent, _file: Option<&File>) -> Result<Option<VnodeHook>> {
        Ok(Some(VnodeHook::new()?))
    }

    fn attach(source: &VnodeHook, kn: &Arc<Knote>) -> Result {
        source.attach(kn)
    }

    fn detach(source: &VnodeHook, _kn: &Knote) {
        source.detach();
    }

    /// Only EVFILT_VNODE watches through a descriptor without holding its file.
    fn fd_moved(source: &VnodeHook, ident: u64) -> bool {
        source.fd_moved(ident)
    }

    /// EV_ADD sets the events to report (unknown bits are ignored), and tells `hook`
    /// which accesses to pass on; events already seen stay pending.
    fn touch(
        &mut self,
        kev: &KEvent,
        hook: Option<&VnodeHook>,
        _kn_flags: u16,
        _new: bool,
    ) -> bool {
        let Some(hook) = hook else {
            return false;
        };
        if kev.flags & EV_ADD != 0 {
            self.sfflags = kev.fflags & NOTE_ALL;
            hook.ask(self.sfflags);
        }
        self.fflags != 0 || self.ended
    }

    /// Flags the knote carries besides its registration's: EV_CLEAR always (each change
    /// is reported once, as libkqueue's inotify watches do), and EV_EOF|EV_ONESHOT once
    /// the watch is over.
    fn implied_flags(&self) -> u16 {
        if self.ended {
            EV_CLEAR | EV_EOF | EV_ONESHOT
        } else {
            EV_CLEAR
        }
    }

    /// The implied EV_CLEAR is not reported unless the registration gave it: neither
    /// FreeBSD nor libkqueue adds it to vnode events.
    fn hidden_flags(&self) -> u16 {
        if self.clear_asked {
            0
        } else {
            EV_CLEAR
        }
    }

    /// `fflags` are the events seen since the last delivery.
    fn deliver(&self, ev: &mut KEvent) -> bool {
        ev.fflags = self.fflags;
        ev.data = 0;
        self.fflags != 0 || self.ended
    }

    /// After delivery (EV_CLEAR is implied): forget the events.
    fn clear(&mut self) {
        self.fflags = 0;
    }
}
