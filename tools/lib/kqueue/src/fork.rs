// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
//! Fork cleanup: a kqueue is not inherited by a child of fork(2) (BSD).
//!
//! kqueue() (and kqueuex(), kqueue1()) records (fd, st_dev, st_ino) of every
//! descriptor it opens. The pthread_atfork child handler closes each
//! recorded fd that still refers to the same file, unless
//! `NOTE_FORK_CLEANUP` turned this off. An fd the user
//! closed and that was reused for another file no longer matches, so it is
//! left alone; a record is replaced when kqueue() gets the same fd again, so
//! the registry never holds more records than fd numbers ever used.
//!
//! The registry is a malloc'ed array behind a pthread mutex. The prepare
//! handler takes the mutex and the parent/child handlers release it, so the
//! child never sees it half-updated, and the child handler only calls
//! fstat() and close() (async-signal-safe, no allocation). kqueue() holds the
//! mutex from open() to the record, so no fork can copy an unrecorded kqueue.

use core::cell::UnsafeCell;
use core::ffi::c_int;
use core::mem::{MaybeUninit, size_of};
use core::ptr;
use core::sync::atomic::{AtomicBool, AtomicI32, Ordering};

/// One descriptor opened by kqueue().
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record {
    pub fd: c_int,
    pub dev: u64,
    pub ino: u64,
}

impl Record {
    /// The record of `fd` as it is now, if fstat() succeeds.
    pub fn of(fd: c_int) -> Option<Record> {
        let st = fstat(fd)?;
        Some(Record {
            fd,
            dev: st.st_dev,
            ino: st.st_ino,
        })
    }

    /// Whether `fd` still refers to the file recorded: a character device
    /// with the same device and inode numbers.
    pub fn still_matches(&self) -> bool {
        match fstat(self.fd) {
            Some(st) => {
                st.st_mode & libc::S_IFMT == libc::S_IFCHR
                    && st.st_dev == self.dev
                    && st.st_ino == self.ino
            }
            None => false,
        }
    }
}

fn fstat(fd: c_int) -> Option<libc::stat> {
    let mut st = MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstat() fills `st` when it returns 0.
    unsafe { (libc::fstat(fd, st.as_mut_ptr()) == 0).then(|| st.assume_init()) }
}

/// A growable array of records in malloc'ed memory.
pub struct Registry {
    records: *mut Record,
    len: usize,
    cap: usize,
}

impl Registry {
    pub const fn new() -> Self {
        Registry {
            records: ptr::null_mut(),
            len: 0,
            cap: 0,
        }
    }

    pub fn as_slice(&self) -> &[Record] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: records[..len] are initialised and owned by self.
        unsafe { core::slice::from_raw_parts(self.records, self.len) }
    }

    /// Adds `rec`, replacing any record of the same fd. Fails with ENOMEM.
    pub fn insert(&mut self, rec: Record) -> Result<(), c_int> {
        if let Some(i) = self.as_slice().iter().position(|r| r.fd == rec.fd) {
            // SAFETY: i < len.
            unsafe { self.records.add(i).write(rec) };
            return Ok(());
        }
        if self.len == self.cap {
            let cap = if self.cap == 0 { 16 } else { self.cap * 2 };
            // SAFETY: records is NULL or a pointer from an earlier realloc.
            let p = unsafe { libc::realloc(self.records.cast(), cap * size_of::<Record>()) };
            if p.is_null() {
                return Err(libc::ENOMEM);
            }
            self.records = p.cast();
            self.cap = cap;
        }
        // SAFETY: len < cap.
        unsafe { self.records.add(self.len).write(rec) };
        self.len += 1;
        Ok(())
    }

    /// Closes every recorded fd that still matches and forgets all records.
    /// Async-signal-safe: only fstat() and close().
    pub fn close_all(&mut self) {
        for rec in self.as_slice() {
            if rec.still_matches() {
                // SAFETY: the fd is one of our kqueues (checked just above).
                unsafe { libc::close(rec.fd) };
            }
        }
        self.len = 0;
    }
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        // SAFETY: records is NULL or from realloc.
        unsafe { libc::free(self.records.cast()) };
    }
}

/// The registry and the mutex that guards it.
struct Global {
    mutex: UnsafeCell<libc::pthread_mutex_t>,
    registry: UnsafeCell<Registry>,
}

// SAFETY: `registry` is only accessed with `mutex` held (see lock()).
unsafe impl Sync for Global {}

static GLOBAL: Global = Global {
    mutex: UnsafeCell::new(libc::PTHREAD_MUTEX_INITIALIZER),
    registry: UnsafeCell::new(Registry::new()),
};

/// Whether the child closes kqueues at fork (`NOTE_FORK_CLEANUP`).
static CLEANUP: AtomicBool = AtomicBool::new(true);

/// pthread_atfork() result: 0, or the error that stops kqueue() working.
static ATFORK_ERROR: AtomicI32 = AtomicI32::new(0);

struct OnceCell(UnsafeCell<libc::pthread_once_t>);
// SAFETY: only handed to pthread_once(), which synchronises itself.
unsafe impl Sync for OnceCell {}
static ATFORK_ONCE: OnceCell = OnceCell(UnsafeCell::new(libc::PTHREAD_ONCE_INIT));

/// Sets the `NOTE_FORK_CLEANUP` setting (process-wide).
pub fn set_cleanup(on: bool) {
    CLEANUP.store(on, Ordering::SeqCst);
}

fn lock() {
    // SAFETY: a statically initialised mutex that is never destroyed.
    unsafe { libc::pthread_mutex_lock(GLOBAL.mutex.get()) };
}

fn unlock() {
    // SAFETY: as in lock(); called by the thread that locked (the child of
    // fork is a copy of that thread).
    unsafe { libc::pthread_mutex_unlock(GLOBAL.mutex.get()) };
}

extern "C" fn prepare() {
    lock();
}

extern "C" fn parent() {
    unlock();
}

extern "C" fn child() {
    if CLEANUP.load(Ordering::SeqCst) {
        // SAFETY: prepare() holds the mutex for this (now only) thread.
        unsafe { (*GLOBAL.registry.get()).close_all() };
    }
    unlock();
}

extern "C" fn install() {
    // SAFETY: the handlers are plain functions that live forever.
    let err = unsafe { libc::pthread_atfork(Some(prepare), Some(parent), Some(child)) };
    ATFORK_ERROR.store(err, Ordering::SeqCst);
}

/// Runs `open` (which returns a new kqueue fd or -1) with the registry
/// locked and records the fd. The handlers are installed on first use,
/// before taking the mutex (fork() holds glibc's atfork lock while it takes
/// ours, so the other order could deadlock). Returns the fd, or errno.
pub fn open_tracked(open: impl FnOnce() -> c_int) -> Result<c_int, c_int> {
    // SAFETY: a static once-control and a function that lives forever.
    unsafe { libc::pthread_once(ATFORK_ONCE.0.get(), install) };
    match ATFORK_ERROR.load(Ordering::SeqCst) {
        0 => {}
        err => return Err(err),
    }
    lock();
    let fd = open();
    let result = if fd < 0 {
        Err(crate::sys::errno())
    } else {
        // SAFETY: the mutex is held.
        let registry = unsafe { &mut *GLOBAL.registry.get() };
        let recorded = match Record::of(fd) {
            Some(rec) => registry.insert(rec),
            None => Err(crate::sys::errno()),
        };
        match recorded {
            Ok(()) => Ok(fd),
            Err(e) => {
                // SAFETY: fd was just opened by us and is not shared yet.
                unsafe { libc::close(fd) };
                Err(e)
            }
        }
    };
    unlock();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A character device to stand in for /dev/kqueue.
    fn open_null() -> c_int {
        // SAFETY: plain open of a NUL-terminated path.
        let fd = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
        assert!(fd >= 0);
        fd
    }

    fn is_open(fd: c_int) -> bool {
        // SAFETY: F_GETFD on any number is harmless.
        unsafe { libc::fcntl(fd, libc::F_GETFD) >= 0 }
    }

    #[test]
    fn insert_replaces_same_fd_and_grows() {
        let mut reg = Registry::new();
        for fd in 0..40 {
            reg.insert(Record {
                fd,
                dev: 1,
                ino: fd as u64,
            })
            .unwrap();
        }
        reg.insert(Record {
            fd: 5,
            dev: 9,
            ino: 9,
        })
        .unwrap();
        assert_eq!(reg.as_slice().len(), 40);
        assert_eq!(
            reg.as_slice()[5],
            Record {
                fd: 5,
                dev: 9,
                ino: 9
            }
        );
        assert_eq!(
            reg.as_slice()[39],
            Record {
                fd: 39,
                dev: 1,
                ino: 39
            }
        );
    }

    #[test]
    fn close_all_spares_reused_descriptors() {
        let kq = open_null();
        let stale = open_null();
        let mut reg = Registry::new();
        reg.insert(Record::of(kq).unwrap()).unwrap();
        reg.insert(Record::of(stale).unwrap()).unwrap();
        // The user closes `stale` and the number is reused by a pipe
        // (dup2 closes and reuses it in one step).
        let mut p = [0; 2];
        // SAFETY: stale is ours; pipe fills p.
        unsafe {
            assert_eq!(libc::pipe(p.as_mut_ptr()), 0);
            assert_eq!(libc::dup2(p[0], stale), stale);
        }
        assert!(
            !Record {
                fd: stale,
                ..Record::of(kq).unwrap()
            }
            .still_matches()
        );
        reg.close_all();
        assert!(!is_open(kq), "recorded fd is closed");
        assert!(is_open(stale), "reused fd is left open");
        assert!(reg.as_slice().is_empty());
        // SAFETY: our descriptors.
        unsafe {
            libc::close(stale);
            libc::close(p[0]);
            libc::close(p[1]);
        }
    }

    /// Forks and reports whether `fd` is open in the child.
    fn open_in_child(fd: c_int) -> bool {
        // SAFETY: the child only calls fcntl() and _exit().
        unsafe {
            let pid = libc::fork();
            assert!(pid >= 0);
            if pid == 0 {
                libc::_exit(if is_open(fd) { 1 } else { 0 });
            }
            let mut status = 0;
            assert_eq!(libc::waitpid(pid, &mut status, 0), pid);
            assert!(libc::WIFEXITED(status));
            libc::WEXITSTATUS(status) == 1
        }
    }

    #[test]
    fn atfork_child_closes_tracked_fds_unless_disabled() {
        let fd = open_tracked(open_null).unwrap();
        assert!(!open_in_child(fd), "closed in the child");
        assert!(is_open(fd), "still open in the parent");
        set_cleanup(false);
        assert!(open_in_child(fd), "kept with NOTE_FORK_CLEANUP 0");
        set_cleanup(true);
        // SAFETY: our fd.
        unsafe { libc::close(fd) };
    }

    #[test]
    fn open_failure_reports_errno() {
        let r = open_tracked(|| {
            crate::sys::set_errno(libc::EACCES);
            -1
        });
        assert_eq!(r, Err(libc::EACCES));
    }
}
