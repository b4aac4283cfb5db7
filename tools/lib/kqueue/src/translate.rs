// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
//! kevent(): from the BSD call to `KQUEUE_IOC_KEVENT` ioctls.
//!
//! The library never reads the caller's changelist on its own: only the
//! kernel does, and it checks the pointer (EFAULT). Every ioctl with changes
//! carries `KQUEUE_KEVENT_STOP_AT_LIBKQUEUE`, so the kernel applies changes
//! in order and stops before the first `EVFILT_LIBKQUEUE` change, telling
//! how many it consumed. That change, which the kernel has just read, is the
//! only one the library reads; it answers it and the walk resumes after it.
//!
//! Common case (no library change): one ioctl with the caller's arrays,
//! which also collects events. Otherwise, once any entry is stored the later
//! ioctls carry `KQUEUE_KEVENT_NO_COLLECT` (FreeBSD: errors and receipts are
//! returned instead of events); if none is, the ioctl that consumes the end
//! of the list collects events with the caller's timeout (one with no
//! changes if the list ends with a library change).
//!
//! BSD allows `eventlist == changelist`, so both are raw pointers and a
//! change is copied out before anything is stored. This is safe because each
//! consumed change stores at most one entry: entry `k` is written only after
//! changes `0..=k` were read, so `stored <= i` throughout the walk.

use core::ffi::c_int;
use core::ptr;
use core::sync::atomic::{AtomicBool, Ordering};

use crate::abi::{
    EVFILT_LIBKQUEUE, KEvent, KQUEUE_KEVENT_NO_COLLECT, KQUEUE_KEVENT_STOP_AT_LIBKQUEUE,
    KQUEUE_WAIT_MAX_EVENTS,
};
use crate::{fork, libkq, sys};

/// Where changes go: the kernel, or a fake in the tests.
pub trait Backend {
    /// One `KQUEUE_IOC_KEVENT` call: `(entries stored, changes consumed)`,
    /// or errno. Changes consumed is `nchanges` unless `flags` has
    /// `KQUEUE_KEVENT_STOP_AT_LIBKQUEUE` and the call stopped before an
    /// `EVFILT_LIBKQUEUE` change (a call that stops collects no events).
    ///
    /// # Safety
    ///
    /// The pointers are the caller's (offset within its arrays) and are only
    /// dereferenced by the kernel, which checks them; `events` may overlap
    /// `changes` as in kevent().
    unsafe fn call(
        &mut self,
        changes: *const KEvent,
        nchanges: usize,
        events: *mut KEvent,
        nevents: usize,
        flags: u32,
        timeout: *const libc::timespec,
    ) -> Result<(usize, usize), c_int>;

    /// Applies a `NOTE_FORK_CLEANUP` setting.
    fn set_fork_cleanup(&mut self, on: bool);
}

/// The real backend: a kqueue descriptor.
pub struct Device(pub c_int);

impl Backend for Device {
    unsafe fn call(
        &mut self,
        changes: *const KEvent,
        nchanges: usize,
        events: *mut KEvent,
        nevents: usize,
        flags: u32,
        timeout: *const libc::timespec,
    ) -> Result<(usize, usize), c_int> {
        // Counts never exceed the caller's c_int counts.
        let mut args = sys::kevent_args(
            changes,
            nchanges as c_int,
            events,
            nevents as c_int,
            flags,
            timeout,
        );
        // SAFETY: the kernel checks the user pointers; no Rust reference
        // covers the arrays while it runs.
        let n = unsafe { sys::ioctl_kevent(self.0, &mut args) };
        if n < 0 {
            return Err(match sys::errno() {
                // The descriptor is open but no kqueue (its file has no such
                // ioctl): EBADF, as on FreeBSD and in libkqueue.
                libc::ENOTTY => libc::EBADF,
                e => e,
            });
        }
        let done = if flags & KQUEUE_KEVENT_STOP_AT_LIBKQUEUE != 0 {
            // A negative count is nonsense; walk() rejects it as too large.
            usize::try_from(args.nchanges_done).unwrap_or(usize::MAX)
        } else {
            nchanges
        };
        Ok((n as usize, done))
    }

    fn set_fork_cleanup(&mut self, on: bool) {
        fork::set_cleanup(on);
    }
}

/// kevent() as seen by the C caller: -1 with errno on failure.
///
/// # Safety
///
/// As for kevent(2); the library itself only reads a change the kernel has
/// read successfully, and writes only eventlist slots the kernel could.
pub unsafe fn kevent(
    kq: c_int,
    changes: *const KEvent,
    nchanges: c_int,
    events: *mut KEvent,
    nevents: c_int,
    timeout: *const libc::timespec,
) -> c_int {
    if nchanges < 0 || nevents < 0 {
        sys::set_errno(libc::EINVAL);
        return -1;
    }
    let mut no_wait_ioctl = false;
    if nchanges == 0 {
        // SAFETY: forwarded from the caller.
        if let Some(n) = unsafe { wait(kq, events, nevents, timeout, &mut no_wait_ioctl) } {
            return n;
        }
    }
    let mut dev = Device(kq);
    let r = if nchanges == 0 {
        // Nothing to walk (the usual wait of an event loop): one call that collects.
        // SAFETY: forwarded from the caller.
        unsafe { dev.call(changes, 0, events, nevents as usize, 0, timeout) }.and_then(|(n, _)| {
            if n <= nevents as usize {
                if no_wait_ioctl {
                    // A kqueue without KQUEUE_IOC_WAIT: a module of ABI version 1.
                    WAIT_IOCTL.store(false, Ordering::Relaxed);
                }
                Ok(n)
            } else {
                Err(libc::EIO)
            }
        })
    } else {
        // SAFETY: forwarded from the caller.
        unsafe {
            walk(
                &mut dev,
                changes,
                nchanges as usize,
                events,
                nevents as usize,
                timeout,
            )
        }
    };
    match r {
        Ok(n) => n as c_int,
        Err(e) => {
            sys::set_errno(e);
            -1
        }
    }
}

/// Whether the module has `KQUEUE_IOC_WAIT` (ABI version 2): cleared the
/// first time a kqueue answers ENOTTY to it and not to `KQUEUE_IOC_KEVENT`.
static WAIT_IOCTL: AtomicBool = AtomicBool::new(true);

/// kevent() without changes through `KQUEUE_IOC_WAIT`, the usual wait of an
/// event loop: its result, or None where the general call must answer (no
/// room for events, more than one such ioctl can ask for, or no such ioctl:
/// then `no_ioctl` is set).
///
/// # Safety
///
/// As for kevent(2); the pointers are only dereferenced by the kernel.
unsafe fn wait(
    kq: c_int,
    events: *mut KEvent,
    nevents: c_int,
    timeout: *const libc::timespec,
    no_ioctl: &mut bool,
) -> Option<c_int> {
    let room = u32::try_from(nevents).ok()?;
    if room == 0 || room > KQUEUE_WAIT_MAX_EVENTS || !WAIT_IOCTL.load(Ordering::Relaxed) {
        return None;
    }
    // SAFETY: forwarded from the caller.
    let n = unsafe { sys::ioctl_wait(kq, events, room, timeout) };
    if n > nevents {
        sys::set_errno(libc::EIO);
        return Some(-1);
    }
    if n >= 0 || sys::errno() != libc::ENOTTY {
        return Some(n);
    }
    // No such ioctl: an older module, or no kqueue at all; the general call
    // tells which (EBADF for the latter).
    *no_ioctl = true;
    None
}

/// The changelist walk (see the module doc).
///
/// # Safety
///
/// `changes` holds `nchanges` changes and `events` has room for `nevents`
/// entries as kevent(2) requires (they may be the same array); pointers
/// are handed to the backend unchecked.
pub unsafe fn walk<B: Backend>(
    backend: &mut B,
    changes: *const KEvent,
    nchanges: usize,
    events: *mut KEvent,
    nevents: usize,
    timeout: *const libc::timespec,
) -> Result<usize, c_int> {
    let mut stored = 0;
    let mut i = 0;
    loop {
        let rest = nchanges - i;
        let room = nevents - stored;
        let mut flags = if rest > 0 {
            KQUEUE_KEVENT_STOP_AT_LIBKQUEUE
        } else {
            0
        };
        let mut wait = timeout;
        if stored > 0 {
            // Library entries were stored: no events this call.
            flags |= KQUEUE_KEVENT_NO_COLLECT;
            wait = ptr::null();
        }
        // Offsets within the caller's arrays (or one past the end): no
        // dereference here, so wrapping arithmetic on unchecked pointers.
        // SAFETY: the kernel checks the pointers; it reads at most `rest`
        // changes from i and writes at most `room` entries from `stored`.
        let (n, done) = unsafe {
            backend.call(
                changes.wrapping_add(i),
                rest,
                events.wrapping_add(stored),
                room,
                flags,
                wait,
            )?
        };
        // A sane answer: within the counts given, and at most one entry per
        // consumed change unless the call collected events.
        let entries_only = done < rest || flags & KQUEUE_KEVENT_NO_COLLECT != 0;
        if done > rest || n > room || (entries_only && n > done) {
            return Err(libc::EIO);
        }
        stored += n;
        i += done;
        if i == nchanges {
            // That call collected events unless entries were stored.
            return Ok(stored);
        }
        // The kernel stopped before changes[i], a library change.
        // SAFETY: the kernel has just read changes[i] successfully, so it
        // is readable, and it is not overwritten yet: stored <= i (module
        // doc). The caller's array need not be aligned for Rust.
        let change = unsafe { changes.add(i).read_unaligned() };
        if change.filter != EVFILT_LIBKQUEUE {
            return Err(libc::EIO);
        }
        i += 1;
        let reply = libkq::answer(&change);
        if let Some(on) = reply.fork_cleanup {
            backend.set_fork_cleanup(on);
        }
        match reply.entry {
            Some(entry) if stored < nevents => {
                // SAFETY: stored < nevents and stored < i (module doc).
                unsafe { events.add(stored).write_unaligned(entry) };
                stored += 1;
            }
            // No room: a failure fails the call, as the kernel does; a
            // successful answer is dropped.
            _ => {
                if let Some(err) = reply.error() {
                    return Err(err);
                }
            }
        }
        if i == nchanges && stored > 0 {
            return Ok(stored);
        }
        // Otherwise the next call applies the rest, or with no changes left
        // collects events with the caller's timeout.
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::{
        EV_ERROR, EV_RECEIPT, NOTE_FORK_CLEANUP, NOTE_THREAD_SAFE, NOTE_VERSION, NOTE_VERSION_STR,
    };
    use core::ffi::c_void;
    use std::vec::Vec;

    const EV_ADD: u16 = 0x1;
    const EVFILT_USER: i16 = -11;
    /// A filter the fake kernel rejects with EINVAL.
    const BAD: i16 = -99;
    const STOP: u32 = KQUEUE_KEVENT_STOP_AT_LIBKQUEUE;
    const NOCOL: u32 = KQUEUE_KEVENT_NO_COLLECT;
    /// A changelist address nothing is mapped at.
    const UNMAPPED: *const KEvent = ptr::without_provenance(16);

    fn ev(ident: usize, filter: i16, flags: u16, fflags: u32) -> KEvent {
        KEvent {
            ident,
            filter,
            flags,
            fflags,
            data: 0,
            udata: ident as *mut c_void,
        }
    }

    /// One recorded ioctl.
    #[derive(Debug, PartialEq, Eq)]
    struct Call {
        /// Idents of the changes the fake kernel consumed.
        applied: Vec<usize>,
        nchanges: usize,
        nevents: usize,
        flags: u32,
        timeout: bool,
    }

    fn call(applied: &[usize], nchanges: usize, nevents: usize, flags: u32, timeout: bool) -> Call {
        Call {
            applied: applied.to_vec(),
            nchanges,
            nevents,
            flags,
            timeout,
        }
    }

    /// A kernel that fails BAD changes, answers EV_RECEIPT, stops before
    /// library changes when asked, faults on a changelist in the first page
    /// and has `pending` events to collect. It reads changes one at a time
    /// as the kernel does, never past a stop.
    #[derive(Default)]
    struct Fake {
        calls: Vec<Call>,
        pending: Vec<KEvent>,
        fail_with: Option<c_int>,
        /// Replaces the answer of every successful call (a broken kernel).
        reply: Option<(usize, usize)>,
        fork_cleanup: Vec<bool>,
    }

    impl Backend for Fake {
        unsafe fn call(
            &mut self,
            changes: *const KEvent,
            nchanges: usize,
            events: *mut KEvent,
            nevents: usize,
            flags: u32,
            timeout: *const libc::timespec,
        ) -> Result<(usize, usize), c_int> {
            let mut rec = call(&[], nchanges, nevents, flags, !timeout.is_null());
            let r = self.apply(&mut rec, changes, nchanges, events, nevents, flags);
            self.calls.push(rec);
            r
        }

        fn set_fork_cleanup(&mut self, on: bool) {
            self.fork_cleanup.push(on);
        }
    }

    impl Fake {
        fn apply(
            &mut self,
            rec: &mut Call,
            changes: *const KEvent,
            nchanges: usize,
            events: *mut KEvent,
            nevents: usize,
            flags: u32,
        ) -> Result<(usize, usize), c_int> {
            if let Some(e) = self.fail_with {
                return Err(e);
            }
            let mut n = 0;
            let mut done = 0;
            while done < nchanges {
                if (changes as usize) < 4096 {
                    return Err(libc::EFAULT);
                }
                // SAFETY: the walk's caller passes nchanges readable changes.
                let c = unsafe { changes.add(done).read() };
                if flags & STOP != 0 && c.filter == EVFILT_LIBKQUEUE {
                    break;
                }
                done += 1;
                rec.applied.push(c.ident);
                let err = if c.filter == BAD { libc::EINVAL } else { 0 };
                if err == 0 && c.flags & EV_RECEIPT == 0 {
                    continue;
                }
                if n == nevents {
                    if err != 0 {
                        return Err(err);
                    }
                    continue;
                }
                // SAFETY: n < nevents.
                unsafe { events.add(n).write(libkq::error_entry(&c, err)) };
                n += 1;
            }
            if let Some(r) = self.reply {
                return Ok(r);
            }
            if flags & NOCOL == 0 && n == 0 && done == nchanges {
                for p in self.pending.iter().take(nevents) {
                    // SAFETY: n < nevents.
                    unsafe { events.add(n).write(*p) };
                    n += 1;
                }
            }
            Ok((n, done))
        }
    }

    fn with_pending() -> Fake {
        Fake {
            pending: vec![ev(42, EVFILT_USER, EV_ADD, 0)],
            ..Fake::default()
        }
    }

    fn run(
        fake: &mut Fake,
        changes: &[KEvent],
        nevents: usize,
    ) -> (Result<usize, c_int>, Vec<KEvent>) {
        let mut out = vec![ev(0, 0, 0, 0); nevents];
        let ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: the slices have the lengths passed.
        let r = unsafe {
            walk(
                fake,
                changes.as_ptr(),
                changes.len(),
                out.as_mut_ptr(),
                nevents,
                &ts,
            )
        };
        (r, out)
    }

    fn idents(out: &[KEvent]) -> Vec<usize> {
        out.iter().map(|e| e.ident).collect()
    }

    #[test]
    fn common_case_is_one_ioctl() {
        let mut fake = with_pending();
        let changes = [ev(1, EVFILT_USER, EV_ADD, 0), ev(2, BAD, EV_ADD, 0)];
        let (r, out) = run(&mut fake, &changes, 4);
        assert_eq!(r, Ok(1));
        assert_eq!((out[0].ident, out[0].data), (2, 22));
        assert_eq!(fake.calls, vec![call(&[1, 2], 2, 4, STOP, true)]);

        let mut fake = with_pending();
        let (r, out) = run(&mut fake, &[ev(1, EVFILT_USER, EV_ADD, 0)], 4);
        assert_eq!((r, out[0].ident), (Ok(1), 42));
        assert_eq!(fake.calls, vec![call(&[1], 1, 4, STOP, true)]);

        // No changes: a plain collect.
        let mut fake = with_pending();
        let (r, _) = run(&mut fake, &[], 4);
        assert_eq!(r, Ok(1));
        assert_eq!(fake.calls, vec![call(&[], 0, 4, 0, true)]);
    }

    #[test]
    fn library_change_in_the_middle_then_collect() {
        let mut fake = with_pending();
        let changes = [
            ev(1, EVFILT_USER, EV_ADD, 0),
            ev(2, EVFILT_USER, EV_ADD, 0),
            ev(0, EVFILT_LIBKQUEUE, EV_ADD, NOTE_FORK_CLEANUP),
            ev(3, EVFILT_USER, EV_ADD, 0),
        ];
        let (r, out) = run(&mut fake, &changes, 4);
        assert_eq!(r, Ok(1));
        assert_eq!(out[0].ident, 42);
        assert_eq!(fake.fork_cleanup, vec![false]);
        assert_eq!(
            fake.calls,
            vec![
                call(&[1, 2], 4, 4, STOP, true), // stops before the library change
                call(&[3], 1, 4, STOP, true),    // the rest, collecting
            ]
        );
    }

    #[test]
    fn library_change_first() {
        let mut fake = with_pending();
        let changes = [
            ev(1, EVFILT_LIBKQUEUE, EV_ADD, NOTE_VERSION),
            ev(2, EVFILT_USER, EV_ADD, 0),
        ];
        let (r, out) = run(&mut fake, &changes, 4);
        assert_eq!(r, Ok(1));
        assert_eq!((out[0].ident, out[0].data), (1, 0x0207_0000));
        assert_eq!(
            fake.calls,
            vec![
                call(&[], 2, 4, STOP, true),
                call(&[2], 1, 3, STOP | NOCOL, false),
            ]
        );
    }

    #[test]
    fn library_change_last() {
        // Nothing stored: a last call without changes collects.
        let mut fake = with_pending();
        let changes = [
            ev(1, EVFILT_USER, EV_ADD, 0),
            ev(2, EVFILT_LIBKQUEUE, EV_ADD, NOTE_FORK_CLEANUP),
        ];
        let (r, out) = run(&mut fake, &changes, 4);
        assert_eq!((r, out[0].ident), (Ok(1), 42));
        assert_eq!(
            fake.calls,
            vec![call(&[1], 2, 4, STOP, true), call(&[], 0, 4, 0, true)]
        );

        // An entry stored: returned without another call.
        let mut fake = with_pending();
        let changes = [
            ev(1, EVFILT_USER, EV_ADD, 0),
            ev(2, EVFILT_LIBKQUEUE, EV_ADD, NOTE_VERSION_STR),
        ];
        let (r, out) = run(&mut fake, &changes, 4);
        assert_eq!(r, Ok(1));
        assert_eq!(out[0].ident, 2);
        assert_eq!(out[0].udata as *const u8, libkq::VERSION_STR.as_ptr());
        assert_eq!(fake.calls, vec![call(&[1], 2, 4, STOP, true)]);
    }

    #[test]
    fn only_library_changes() {
        let mut fake = with_pending();
        let changes = [
            ev(1, EVFILT_LIBKQUEUE, EV_ADD, NOTE_VERSION),
            ev(2, EVFILT_LIBKQUEUE, EV_ADD | EV_RECEIPT, NOTE_THREAD_SAFE),
        ];
        let (r, out) = run(&mut fake, &changes, 4);
        assert_eq!(r, Ok(2));
        assert_eq!(idents(&out[..2]), vec![1, 2]);
        assert_eq!(
            (out[1].flags, out[1].data),
            (EV_ADD | EV_RECEIPT | EV_ERROR, 0)
        );
        assert_eq!(
            fake.calls,
            vec![
                call(&[], 2, 4, STOP, true),
                call(&[], 1, 3, STOP | NOCOL, false),
            ]
        );

        // Answers without entries: events are collected at the end.
        let mut fake = with_pending();
        let changes = [
            ev(1, EVFILT_LIBKQUEUE, EV_ADD, NOTE_THREAD_SAFE),
            ev(2, EVFILT_LIBKQUEUE, EV_ADD, NOTE_FORK_CLEANUP),
        ];
        let (r, out) = run(&mut fake, &changes, 4);
        assert_eq!((r, out[0].ident), (Ok(1), 42));
        assert_eq!(
            fake.calls,
            vec![
                call(&[], 2, 4, STOP, true),
                call(&[], 1, 4, STOP, true),
                call(&[], 0, 4, 0, true),
            ]
        );
    }

    #[test]
    fn entries_are_returned_in_change_order_without_collecting() {
        let mut fake = with_pending();
        let changes = [
            ev(1, BAD, EV_ADD, 0),
            ev(2, EVFILT_LIBKQUEUE, EV_ADD, NOTE_VERSION),
            ev(3, EVFILT_USER, EV_ADD | EV_RECEIPT, 0),
            ev(4, EVFILT_LIBKQUEUE, EV_ADD, 99),
        ];
        let (r, out) = run(&mut fake, &changes, 8);
        assert_eq!(r, Ok(4));
        let got: Vec<(usize, u16, isize)> = out[..4]
            .iter()
            .map(|e| (e.ident, e.flags, e.data))
            .collect();
        assert_eq!(
            got,
            vec![
                (1, EV_ADD | EV_ERROR, 22),
                (2, EV_ADD, 0x0207_0000),
                (3, EV_ADD | EV_RECEIPT | EV_ERROR, 0),
                (4, EV_ADD | EV_ERROR, 22),
            ]
        );
        // The second call gets the room left after two entries, no collect.
        assert_eq!(
            fake.calls,
            vec![
                call(&[1], 4, 8, STOP, true),
                call(&[3], 2, 6, STOP | NOCOL, false),
            ]
        );
    }

    #[test]
    fn library_change_when_eventlist_is_full() {
        // A successful answer without room is dropped, the walk goes on.
        let mut fake = with_pending();
        let changes = [
            ev(1, EVFILT_USER, EV_ADD | EV_RECEIPT, 0),
            ev(2, EVFILT_LIBKQUEUE, EV_ADD, NOTE_VERSION),
            ev(3, EVFILT_USER, EV_ADD, 0),
        ];
        let (r, out) = run(&mut fake, &changes, 1);
        assert_eq!(r, Ok(1));
        assert_eq!((out[0].ident, out[0].flags & EV_ERROR), (1, EV_ERROR));
        assert_eq!(
            fake.calls,
            vec![
                call(&[1], 3, 1, STOP, true),
                call(&[3], 1, 0, STOP | NOCOL, false),
            ]
        );

        // A failure without room fails the call; later changes are not applied.
        let mut fake = Fake::default();
        let changes = [
            ev(1, EVFILT_LIBKQUEUE, EV_ADD, NOTE_VERSION),
            ev(2, EVFILT_LIBKQUEUE, EV_ADD, 1000),
            ev(3, EVFILT_USER, EV_ADD, 0),
        ];
        let (r, out) = run(&mut fake, &changes, 1);
        assert_eq!(r, Err(libc::EINVAL));
        assert_eq!(out[0].data, 0x0207_0000);
        assert_eq!(
            fake.calls,
            vec![
                call(&[], 3, 1, STOP, true),
                call(&[], 2, 0, STOP | NOCOL, false),
            ]
        );
    }

    #[test]
    fn success_without_room_is_dropped() {
        let mut fake = Fake::default();
        let changes = [ev(1, EVFILT_LIBKQUEUE, EV_ADD, NOTE_VERSION)];
        let (r, _) = run(&mut fake, &changes, 0);
        assert_eq!(r, Ok(0));
        assert_eq!(
            fake.calls,
            vec![call(&[], 1, 0, STOP, true), call(&[], 0, 0, 0, true)]
        );
    }

    #[test]
    fn bad_descriptor_answers_nothing() {
        let mut fake = Fake {
            fail_with: Some(libc::EBADF),
            ..Fake::default()
        };
        let changes = [ev(
            1,
            EVFILT_LIBKQUEUE,
            EV_ADD | EV_RECEIPT,
            NOTE_FORK_CLEANUP,
        )];
        let (r, out) = run(&mut fake, &changes, 1);
        assert_eq!(r, Err(libc::EBADF));
        assert_eq!(out[0].ident, 0);
        assert!(fake.fork_cleanup.is_empty());
        assert_eq!(fake.calls, vec![call(&[], 1, 1, STOP, true)]);
    }

    #[test]
    fn bad_changelist_is_left_to_the_kernel() {
        // The library would crash if it read the changelist itself.
        for bad in [UNMAPPED, ptr::null()] {
            let mut fake = Fake::default();
            let mut out = [ev(0, 0, 0, 0)];
            // SAFETY: only the fake "kernel" sees the bad pointer, and it
            // checks it.
            let r = unsafe { walk(&mut fake, bad, 3, out.as_mut_ptr(), 1, ptr::null()) };
            assert_eq!(r, Err(libc::EFAULT));
            assert_eq!(fake.calls, vec![call(&[], 3, 1, STOP, false)]);
            assert_eq!(out[0].ident, 0);
        }
    }

    #[test]
    fn nonsense_from_the_kernel_is_eio() {
        let changes = [ev(1, EVFILT_USER, EV_ADD, 0), ev(2, EVFILT_USER, EV_ADD, 0)];
        // More consumed than given, more stored than room, a stop before a
        // change that is not a library change, more entries than changes.
        for reply in [(0, 3), (5, 2), (0, 1), (2, 1)] {
            let mut fake = Fake {
                reply: Some(reply),
                ..Fake::default()
            };
            let (r, _) = run(&mut fake, &changes, 4);
            assert_eq!(r, Err(libc::EIO), "{reply:?}");
        }
    }

    #[test]
    fn eventlist_may_be_the_changelist() {
        let mut fake = Fake::default();
        let mut list = [
            ev(1, EVFILT_LIBKQUEUE, EV_ADD, NOTE_VERSION),
            ev(2, BAD, EV_ADD, 0),
            ev(3, EVFILT_LIBKQUEUE, EV_ADD, NOTE_VERSION),
        ];
        let p = list.as_mut_ptr();
        // SAFETY: the array has 3 entries; aliasing is what is tested.
        let r = unsafe { walk(&mut fake, p, 3, p, 3, ptr::null()) };
        assert_eq!(r, Ok(3));
        let got: Vec<(usize, i16, isize)> =
            list.iter().map(|e| (e.ident, e.filter, e.data)).collect();
        assert_eq!(
            got,
            vec![(1, -12, 0x0207_0000), (2, BAD, 22), (3, -12, 0x0207_0000)]
        );
    }

    #[test]
    fn negative_counts_are_einval() {
        sys::set_errno(0);
        // SAFETY: nothing is dereferenced for negative counts.
        let r = unsafe { kevent(-1, ptr::null(), -1, ptr::null_mut(), 0, ptr::null()) };
        assert_eq!((r, sys::errno()), (-1, libc::EINVAL));
        sys::set_errno(0);
        // SAFETY: as above.
        let r = unsafe { kevent(-1, ptr::null(), 0, ptr::null_mut(), -5, ptr::null()) };
        assert_eq!((r, sys::errno()), (-1, libc::EINVAL));
    }

    #[test]
    fn ioctl_errors_keep_errno() {
        let changes = [ev(1, EVFILT_LIBKQUEUE, EV_ADD, NOTE_VERSION)];
        let mut out = [ev(0, 0, 0, 0)];
        // SAFETY: valid arrays; -1 is not a descriptor.
        let r = unsafe { kevent(-1, changes.as_ptr(), 1, out.as_mut_ptr(), 1, ptr::null()) };
        assert_eq!((r, sys::errno()), (-1, libc::EBADF));
        assert_eq!(out[0].ident, 0);
        // SAFETY: as above, without changes.
        let r = unsafe { kevent(-1, ptr::null(), 0, out.as_mut_ptr(), 1, ptr::null()) };
        assert_eq!((r, sys::errno()), (-1, libc::EBADF));
    }

    /// kevent() on an open descriptor that is no kqueue (a pipe): EBADF.
    #[test]
    fn not_a_kqueue_is_ebadf() {
        let mut p = [0 as c_int; 2];
        // SAFETY: `p` has room for two descriptors.
        assert_eq!(unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        let mut out = [ev(0, 0, 0, 0)];
        for fd in p {
            sys::set_errno(0);
            // SAFETY: valid arrays; nothing is read or written for a non-kqueue.
            let r = unsafe { kevent(fd, ptr::null(), 0, out.as_mut_ptr(), 1, ptr::null()) };
            assert_eq!((r, sys::errno()), (-1, libc::EBADF));
            // SAFETY: our descriptor.
            unsafe { libc::close(fd) };
        }
    }

    /// Real calls with a changelist pointer nothing is mapped at: -1, never
    /// a crash, whatever the descriptor.
    #[test]
    fn real_bad_changelist_is_not_dereferenced() {
        let mut out = [ev(0, 0, 0, 0)];
        let mut try_fd = |fd: c_int| {
            sys::set_errno(0);
            // SAFETY: the library must not dereference UNMAPPED itself; the
            // kernel checks it.
            let r = unsafe { kevent(fd, UNMAPPED, 1, out.as_mut_ptr(), 1, ptr::null()) };
            (r, sys::errno())
        };
        assert_eq!(try_fd(-1), (-1, libc::EBADF));
        // SAFETY: a NUL-terminated path; the descriptor is closed below.
        let null = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
        assert!(null >= 0);
        // Not a kqueue: EBADF, as on FreeBSD (the ioctl itself says ENOTTY).
        assert_eq!(try_fd(null), (-1, libc::EBADF));
        // SAFETY: our descriptor.
        unsafe { libc::close(null) };
        let kq = crate::kqueue();
        if kq >= 0 {
            assert_eq!(try_fd(kq), (-1, libc::EFAULT));
            // SAFETY: our descriptor.
            unsafe { libc::close(kq) };
        }
        assert_eq!(out[0].ident, 0);
    }
}
