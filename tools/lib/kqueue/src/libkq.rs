// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
//! `EVFILT_LIBKQUEUE`: changes the library answers itself.
//!
//! Everything here is pure; the caller writes the entry and applies the
//! fork-cleanup setting.

use core::ffi::{c_char, c_int, c_void};

use crate::abi::{
    EV_ERROR, EV_RECEIPT, KEvent, NOTE_DEBUG, NOTE_DEBUG_FUNC, NOTE_DEBUG_PREFIX,
    NOTE_FILE_POLL_INTERVAL, NOTE_FORK_CLEANUP, NOTE_THREAD_SAFE, NOTE_VERSION, NOTE_VERSION_STR,
};

/// libkqueue version this library is compatible with, as `MMmmpprr`.
pub const VERSION: isize = 0x0207_0000;
/// The same version as a NUL-terminated string (`NOTE_VERSION_STR`).
pub static VERSION_STR: &[u8; 6] = b"2.7.0\0";

/// What the library does for one `EVFILT_LIBKQUEUE` change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reply {
    /// Entry to store in the eventlist, if any.
    pub entry: Option<KEvent>,
    /// New process-wide fork-cleanup setting (`NOTE_FORK_CLEANUP`).
    pub fork_cleanup: Option<bool>,
}

impl Reply {
    /// The errno this reply reports, if its entry is a failure.
    pub fn error(&self) -> Option<c_int> {
        match self.entry {
            Some(e) if e.flags & EV_ERROR != 0 && e.data != 0 => Some(e.data as c_int),
            _ => None,
        }
    }
}

/// The change itself with `EV_ERROR` added and `data = errno` (0: receipt).
pub fn error_entry(change: &KEvent, errno: c_int) -> KEvent {
    KEvent {
        flags: change.flags | EV_ERROR,
        data: errno as isize,
        ..*change
    }
}

/// An `EV_RECEIPT` answer if the change asked for one, else nothing.
fn receipt(change: &KEvent) -> Option<KEvent> {
    (change.flags & EV_RECEIPT != 0).then(|| error_entry(change, 0))
}

/// Answers one `EVFILT_LIBKQUEUE` change (see /tmp/decisions.md):
/// `NOTE_VERSION` and `NOTE_VERSION_STR` always produce an entry (the change
/// with `data` = version or `udata` = version string); `NOTE_FORK_CLEANUP`
/// (data != 0 enables) and the accepted no-op settings answer only an
/// `EV_RECEIPT`; `NOTE_FILE_POLL_INTERVAL` is `ENOSYS`, as in libkqueue's
/// Linux backend; anything else is an `EINVAL` error entry.
pub fn answer(change: &KEvent) -> Reply {
    let (entry, fork_cleanup) = match change.fflags {
        NOTE_VERSION => (
            Some(KEvent {
                data: VERSION,
                ..*change
            }),
            None,
        ),
        NOTE_VERSION_STR => (
            Some(KEvent {
                udata: VERSION_STR.as_ptr() as *const c_char as *mut c_void,
                ..*change
            }),
            None,
        ),
        NOTE_FORK_CLEANUP => (receipt(change), Some(change.data != 0)),
        NOTE_THREAD_SAFE | NOTE_DEBUG | NOTE_DEBUG_PREFIX | NOTE_DEBUG_FUNC => {
            (receipt(change), None)
        }
        // libkqueue's Linux backend has no file polling to tune.
        NOTE_FILE_POLL_INTERVAL => (Some(error_entry(change, libc::ENOSYS)), None),
        _ => (Some(error_entry(change, libc::EINVAL)), None),
    };
    Reply {
        entry,
        fork_cleanup,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::EVFILT_LIBKQUEUE;

    const EV_ADD: u16 = 0x1;

    fn change(flags: u16, fflags: u32, data: isize) -> KEvent {
        KEvent {
            ident: 7,
            filter: EVFILT_LIBKQUEUE,
            flags,
            fflags,
            data,
            udata: 0x1234 as *mut c_void,
        }
    }

    #[test]
    fn version_is_the_change_with_data() {
        let c = change(EV_ADD, NOTE_VERSION, 5);
        let r = answer(&c);
        let e = r.entry.expect("NOTE_VERSION answers");
        assert_eq!(e.data, 0x0207_0000);
        assert_eq!(
            e,
            KEvent {
                data: 0x0207_0000,
                ..c
            }
        );
        assert_eq!(r.fork_cleanup, None);
        assert_eq!(r.error(), None);
    }

    #[test]
    fn version_str_points_to_static_string() {
        let c = change(EV_ADD | EV_RECEIPT, NOTE_VERSION_STR, 0);
        let e = answer(&c).entry.expect("NOTE_VERSION_STR answers");
        assert_eq!(
            (e.ident, e.filter, e.flags, e.fflags, e.data),
            (7, -12, 0x41, 2, 0)
        );
        // SAFETY: the library returns a pointer to a static C string.
        let s = unsafe { core::ffi::CStr::from_ptr(e.udata as *const c_char) };
        assert_eq!(s.to_bytes(), b"2.7.0");
    }

    #[test]
    fn fork_cleanup_sets_and_receipts() {
        let off = answer(&change(EV_ADD, NOTE_FORK_CLEANUP, 0));
        assert_eq!(
            off,
            Reply {
                entry: None,
                fork_cleanup: Some(false)
            }
        );
        let c = change(EV_ADD | EV_RECEIPT, NOTE_FORK_CLEANUP, 1);
        let on = answer(&c);
        assert_eq!(on.fork_cleanup, Some(true));
        let e = on.entry.expect("receipt");
        assert_eq!(e.flags, EV_ADD | EV_RECEIPT | EV_ERROR);
        assert_eq!(e.data, 0);
        assert_eq!(on.error(), None);
    }

    #[test]
    fn accepted_settings_are_silent_without_receipt() {
        for f in [
            NOTE_THREAD_SAFE,
            NOTE_DEBUG,
            NOTE_DEBUG_PREFIX,
            NOTE_DEBUG_FUNC,
        ] {
            assert_eq!(
                answer(&change(EV_ADD, f, 3)),
                Reply {
                    entry: None,
                    fork_cleanup: None
                }
            );
            let r = answer(&change(EV_ADD | EV_RECEIPT, f, 3))
                .entry
                .expect("receipt");
            assert_eq!((r.flags, r.data, r.fflags), (0x4041, 0, f));
        }
    }

    #[test]
    fn file_poll_interval_is_enosys() {
        let c = change(EV_ADD, NOTE_FILE_POLL_INTERVAL, 100);
        let r = answer(&c);
        assert_eq!(
            r.entry,
            Some(KEvent {
                flags: EV_ADD | EV_ERROR,
                data: libc::ENOSYS as isize,
                ..c
            })
        );
        assert_eq!(r.error(), Some(libc::ENOSYS));
    }

    #[test]
    fn unknown_fflags_are_einval() {
        for f in [0, 9, 0x100, u32::MAX] {
            let c = change(EV_ADD, f, 3);
            let r = answer(&c);
            assert_eq!(
                r.entry,
                Some(KEvent {
                    flags: EV_ADD | EV_ERROR,
                    data: 22,
                    ..c
                })
            );
            assert_eq!(r.error(), Some(libc::EINVAL));
            assert_eq!(r.fork_cleanup, None);
        }
    }
}
