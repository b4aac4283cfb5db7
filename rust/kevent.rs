// SPDX-License-Identifier: GPL-2.0

//! One kevent() call: KQUEUE_IOC_KEVENT, from the user's arguments to the
//! events written back.

use crate::{
    glue::{monotonic_ns, read_user, read_user_and_pointee, write_user_slice},
    queue::{Collected, Kqueue, BATCH},
    uapi::*,
};
use kernel::{
    prelude::*,
    uaccess::{UserPtr, UserSlice},
};

const KEV_SIZE: usize = core::mem::size_of::<KEvent>();
/// Largest args.size accepted (E2BIG above), as for clone3().
const MAX_ARGS_SIZE: usize = 4096;

/// The 64-bit word of [`KeventArgs`] that holds the timeout pointer.
const TIMEOUT_WORD: u32 = (core::mem::offset_of!(KeventArgs, timeout) / 8) as u32;

/// Reads `struct kqueue_kevent_args` with extensible-struct rules (at least version 0,
/// unknown trailing bytes must be zero), and the timeout it names, if it names one:
/// `Err(EFAULT)` there is reported once the arguments are found valid.
fn read_args(arg: usize) -> Result<(KeventArgs, Option<Result<Timespec>>)> {
    // Version 0 is the smallest valid size: read it whole at once, with the timeout.
    let (args, timeout) = read_user_and_pointee::<KeventArgs, Timespec>(arg, TIMEOUT_WORD)?;
    let size = args.size as usize;
    if size < KEVENT_ARGS_SIZE_VER0 {
        return Err(EINVAL);
    }
    if size > MAX_ARGS_SIZE {
        return Err(E2BIG);
    }
    if size > KEVENT_ARGS_SIZE_VER0 {
        check_zero_tail(arg + KEVENT_ARGS_SIZE_VER0, size - KEVENT_ARGS_SIZE_VER0)?;
    }
    Ok((args, timeout))
}

/// Checks that the `len` bytes at user address `addr`, a newer caller's part of the
/// arguments, are zero (E2BIG otherwise). Out of line: today's callers have none.
#[cold]
#[inline(never)]
fn check_zero_tail(addr: usize, len: usize) -> Result {
    let mut reader = UserSlice::new(UserPtr::from_addr(addr), len).reader();
    let mut tail = [0u8; 64];
    while !reader.is_empty() {
        let len = reader.len().min(tail.len());
        reader.read_slice(&mut tail[..len])?;
        if tail[..len].iter().any(|&b| b != 0) {
            return Err(E2BIG);
        }
    }
    Ok(())
}

/// Turns the optional user timespec into an absolute monotonic deadline in ns.
/// `Some(0)` means "do not wait".
fn deadline_of(timeout: Option<Result<Timespec>>) -> Result<Option<i64>> {
    let Some(ts) = timeout else {
        return Ok(None);
    };
    let ts = ts?;
    if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
        return Err(EINVAL);
    }
    if ts.tv_sec == 0 && ts.tv_nsec == 0 {
        return Ok(Some(0));
    }
    let rel = ts
        .tv_sec
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec);
    Ok(Some(monotonic_ns().saturating_add(rel)))
}

/// The user's event buffer, filled front to back.
struct EventOut {
    base: usize,
    room: usize,
    written: usize,
}

impl EventOut {
    /// User address of the `i`-th free slot.
    fn addr(&self, i: usize) -> usize {
        self.base.wrapping_add((self.written + i) * KEV_SIZE)
    }

    /// The next `n` free slots.
    fn slot(&self, n: usize) -> UserSlice {
        UserSlice::new(UserPtr::from_addr(self.addr(0)), n * KEV_SIZE)
    }

    /// Copies `evs` out, in one user-access window; the caller made sure they fit.
    fn push(&mut self, evs: &[KEvent]) -> Result {
        write_user_slice(self.addr(0), evs)?;
        self.written += evs.len();
        self.room -= evs.len();
        Ok(())
    }

    /// Checks the next `n` slots are writable before events are taken off the queue,
    /// so that a bad buffer fails with EFAULT without losing events.
    fn probe(&self, n: usize) -> Result {
        static ZERO: [u8; BATCH * KEV_SIZE] = [0; BATCH * KEV_SIZE];
        self.slot(n).writer().write_slice(&ZERO[..n * KEV_SIZE])
    }
}

/// Runs one KQUEUE_IOC_WAIT call: a kevent() call without changes, room for `nevents`
/// events (from the command), the rest of its arguments in the user's
/// `struct kqueue_wait` at `arg`. Returns the number of events written.
pub(crate) fn wait(kq: &Kqueue, arg: usize, nevents: usize) -> Result<usize> {
    let (args, timeout) = read_user_and_pointee::<WaitArgs, Timespec>(arg, WAIT_TIMEOUT_WORD)?;
    if nevents == 0 {
        return Err(EINVAL);
    }
    let deadline = deadline_of(timeout)?;
    let base = args.eventlist as usize;
    if base.checked_add(nevents * KEV_SIZE).is_none() {
        return Err(EFAULT);
    }
    let mut out = EventOut {
        base,
        room: nevents,
        written: 0,
    };
    if let Err(e) = collect_events(kq, deadline, &mut out) {
        // The call's close check, if collecting stopped before it.
        kq.sweep_closed();
        return Err(e);
    }
    Ok(out.written)
}

/// Runs one kevent() call described by the user's `struct kqueue_kevent_args` at `arg`.
/// Returns the number of events written.
pub(crate) fn kevent(kq: &Kqueue, arg: usize) -> Result<usize> {
    let (args, timeout) = read_args(arg)?;
    if args.flags & !(KEVENT_NO_COLLECT | KEVENT_STOP_AT_LIBKQUEUE) != 0 || args.reserved != 0 {
        return Err(EINVAL);
    }
    let valid = 0..=MAX_EVENTS;
    if !valid.contains(&args.nchanges) || !valid.contains(&args.nevents) {
        return Err(EINVAL);
    }
    let deadline = deadline_of(timeout)?;
    let mut out = EventOut {
        base: args.eventlist as usize,
        room: args.nevents as usize,
        written: 0,
    };
    // One close check per call: collecting does it in its first lock hold (see
    // `Kqueue::scan`), every other outcome here.
    match changes_then_collect(kq, &args, arg, deadline, &mut out) {
        Ok(true) => {}
        res => {
            kq.sweep_closed();
            res?;
        }
    }
    Ok(out.written)
}

/// Applies the changes of the call at `arg`, then collects events into `out` unless the
/// call only applies changes. Returns whether it collected.
fn changes_then_collect(
    kq: &Kqueue,
    args: &KeventArgs,
    arg: usize,
    deadline: Option<i64>,
    out: &mut EventOut,
) -> Result<bool> {
    let nchanges = args.nchanges as usize;
    let ends_wrap =
        |base: u64, n: i32| (base as usize).checked_add(n as usize * KEV_SIZE).is_none();
    if ends_wrap(args.changelist, args.nchanges) || ends_wrap(args.eventlist, args.nevents) {
        return Err(EFAULT);
    }
    let stop_at_libkqueue = args.flags & KEVENT_STOP_AT_LIBKQUEUE != 0;
    let (done, answered) = if nchanges > 0 {
        apply_changes(
            kq,
            args.changelist as usize,
            nchanges,
            stop_at_libkqueue,
            out,
        )?
    } else {
        (0, 0)
    };
    if stop_at_libkqueue {
        let mut w = UserSlice::new(UserPtr::from_addr(arg + KEVENT_ARGS_DONE_OFFSET), 4).writer();
        w.write(&(done as i32))?;
    }
    if done < nchanges || answered > 0 || out.room == 0 || args.flags & KEVENT_NO_COLLECT != 0 {
        return Ok(false);
    }
    collect_events(kq, deadline, out)?;
    Ok(true)
}

/// Applies the changes at user address `changes`, in order, writing error and receipt
/// entries to `out`. Returns (changes applied, entries written).
// Kept apart from the collect path: with `Kqueue::scan` inlined in the same function,
// this loop ran 10% slower.
#[inline(never)]
fn apply_changes(
    kq: &Kqueue,
    changes: usize,
    nchanges: usize,
    stop_at_libkqueue: bool,
    out: &mut EventOut,
) -> Result<(usize, usize)> {
    let mut answered = 0;
    let mut done = 0;
    while done < nchanges {
        let kev = read_user::<KEvent>(changes + done * KEV_SIZE)?;
        if stop_at_libkqueue && kev.filter == EVFILT_LIBKQUEUE {
            break;
        }
        done += 1;
        let res = kq.register(&kev);
        if res.is_ok() && kev.flags & EV_RECEIPT == 0 {
            continue;
        }
        if out.room == 0 {
            // No room to report it: a failure ends the call (FreeBSD).
            res?;
            continue;
        }
        let errno = res.err().map_or(0, |e| -e.to_errno());
        let entry = KEvent {
            flags: kev.flags | EV_ERROR,
            data: i64::from(errno),
            ..kev
        };
        out.push(core::slice::from_ref(&entry))?;
        answered += 1;
    }
    Ok((done, answered))
}

/// Collects events into `out`, waiting until the absolute monotonic `deadline` (None:
/// forever; `Some(0)`: not at all) if none is pending.
#[inline(never)]
fn collect_events(kq: &Kqueue, deadline: Option<i64>, out: &mut EventOut) -> Result {
    let mut got = Collected::new();
    let res = collect_into(kq, deadline, out, &mut got);
    if got.slept {
        kq.pass_wake_up();
    }
    res
}

/// [`collect_events`], with the passes' room `got`.
#[inline(always)]
fn collect_into(
    kq: &Kqueue,
    deadline: Option<i64>,
    out: &mut EventOut,
    got: &mut Collected,
) -> Result {
    let mut budget = None;
    let mut take = out.room.min(BATCH);
    kq.scan(take, deadline, &mut budget, |n| out.probe(n), got)?;
    loop {
        let n = got.len();
        out.push(got.events())?;
        // More pending than one batch (or a pass stopped to probe): keep collecting,
        // without sleeping.
        if (n < take && !got.unprobed) || out.room == 0 {
            break;
        }
        take = out.room.min(BATCH).min(kq.pending());
        if take == 0 || budget == Some(0) {
            break;
        }
        // Probe only when the pass meets a knote that delivery consumes, as `scan`.
        kq.collect(take, &mut budget, got, false);
        if got.unprobed && got.len() == 0 {
            out.probe(take)?;
            kq.collect(take, &mut budget, got, true);
        }
    }
    Ok(())
}
