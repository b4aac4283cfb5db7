// SPDX-License-Identifier: GPL-2.0

//! EVFILT_READ and EVFILT_WRITE: any descriptor, through its poll method;
//! EVFILT_EMPTY (the write side of a pipe or socket is drained) and
//! EVFILT_EXCEPT (out-of-band data on a socket) on the descriptors that have them.
//!
//! The knote holds a reference to the file and hooks into its wait queues
//! (`poll.rs`); wake-ups only mark it active, and the scan polls the file
//! again (without the kqueue lock) to decide and to measure `data`.
//!
//! EVFILT_EMPTY needs wake-ups the wait queues do not all give: a reader that
//! empties a pipe wakes its writers only if the pipe was full, and an ACK
//! wakes a TCP socket's writers only if one asked for room. Measuring asks
//! for the TCP one (`SOCK_NOSPACE`, see `helpers/fd.c`); a pipe knote also
//! watches the pipe's reads through fsnotify ([`PipeRead`]).

use super::{vnode, Filter};
use crate::{
    knote::Knote,
    uapi::{
        KEvent, EVFILT_EMPTY, EVFILT_EXCEPT, EVFILT_READ, EVFILT_WRITE, EV_ADD, EV_EOF, NOTE_LOWAT,
        NOTE_OOB,
    },
};
use kernel::{
    bindings,
    fs::{file::LocalFile, File},
    prelude::*,
    sync::{aref::ARef, Arc},
};

const POLLIN: u32 = bindings::POLLIN;
const POLLOUT: u32 = bindings::POLLOUT;
const POLLERR: u32 = bindings::POLLERR;
const POLLHUP: u32 = bindings::POLLHUP;
const POLLRDNORM: u32 = bindings::POLLRDNORM;
const POLLWRNORM: u32 = bindings::POLLWRNORM;
/// `POLLPRI`: urgent data (not in bindings).
const POLLPRI: u32 = 0x2;
/// `POLLWRBAND` (not in bindings).
const POLLWRBAND: u32 = 0x200;
/// `POLLRDHUP` (not in bindings).
const POLLRDHUP: u32 = 0x2000;

/// Poll bits that make a READ knote ready, and that wake it.
const READ_MASK: u32 = POLLIN | POLLRDNORM | POLLRDHUP | POLLHUP | POLLERR;
/// Poll bits that make a WRITE knote ready, and that wake it.
const WRITE_MASK: u32 = POLLOUT | POLLWRNORM | POLLHUP | POLLERR;
/// Poll bits of the wake-ups that may concern an EMPTY knote: room was made.
const EMPTY_WAKE: u32 = WRITE_MASK | POLLWRBAND;
/// Poll bits of the wake-ups that may concern an EXCEPT knote.
const EXCEPT_WAKE: u32 = POLLPRI | POLLHUP | POLLERR;

/// Which side of a descriptor a knote watches; its code is what `helpers/fd.c` measures.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum Side {
    /// EVFILT_READ: readable bytes.
    Read = 0,
    /// EVFILT_WRITE: room for writing.
    Write = 1,
    /// EVFILT_EMPTY: bytes not yet drained from the write side.
    Empty = 2,
    /// EVFILT_EXCEPT: out-of-band data.
    Except = 3,
}

impl Side {
    /// The side a descriptor filter watches.
    pub(crate) fn of(filter: i16) -> Self {
        match filter {
            EVFILT_WRITE => Self::Write,
            EVFILT_EMPTY => Self::Empty,
            EVFILT_EXCEPT => Self::Except,
            _ => Self::Read,
        }
    }
}

/// Looks up the descriptor named by a registration's ident.
pub(crate) fn fget(ident: u64) -> Result<ARef<File>> {
    let fd = u32::try_from(ident).map_err(|_| EBADF)?;
    let file = LocalFile::fget(fd).map_err(|_| EBADF)?;
    // SAFETY: The knote never uses the file position (no fdget_pos users here).
    Ok(unsafe { LocalFile::assume_no_fdget_pos(file) })
}

/// Poll bits a wake-up must carry to concern a knote of `filter` (0 means unknown: all do).
pub(crate) fn wakes(filter: i16, mask: u32) -> bool {
    let interest = match Side::of(filter) {
        Side::Read => READ_MASK,
        Side::Write => WRITE_MASK,
        Side::Empty => EMPTY_WAKE,
        Side::Except => EXCEPT_WAKE,
    };
    mask == 0 || mask & interest != 0
}

/// What a poll of the file measured besides its poll mask.
#[derive(Clone, Copy)]
pub(crate) struct Measure {
    /// `data` where the kernel can tell.
    pub(crate) data: Option<i64>,
    /// A pending socket error (errno), reported in `fflags` with EV_EOF; for EMPTY,
    /// non-zero if the write side has nobody left to drain it (a pipe without readers).
    pub(crate) error: u32,
}

impl Measure {
    /// Nothing measured.
    pub(crate) const NONE: Self = Self {
        data: None,
        error: 0,
    };
}

/// State of one descriptor knote (EVFILT_READ, WRITE, EMPTY or EXCEPT).
pub(crate) struct FdState {
    side: Side,
    /// NOTE_LOWAT threshold (0: any data), READ and WRITE only.
    lowat: i64,
    /// EXCEPT: the registration asked for NOTE_OOB.
    oob: bool,
    /// Poll mask and data measured by the last poll.
    revents: u32,
    data: i64,
    known: bool,
    error: u32,
}

/// The source of an EVFILT_EMPTY knote on a pipe or FIFO: an fsnotify mark that sees
/// its reads (a read that empties a pipe which was not full wakes none of its wait
/// queues).
pub(crate) struct PipeRead(vnode::VnodeHook);

impl Filter for FdState {
    const FILTERS: &'static [i16] = &[EVFILT_READ, EVFILT_WRITE, EVFILT_EMPTY, EVFILT_EXCEPT];
    const ON_DESCRIPTOR: &'static [i16] = Self::FILTERS;
    const POLLED: bool = true;
    type Source = PipeRead;

    fn new(kev: &KEvent) -> Self {
        Self {
            side: Side::of(kev.filter),
            lowat: 0,
            oob: false,
            revents: 0,
            data: 0,
            known: false,
            error: 0,
        }
    }

    /// A pipe's EMPTY knote also watches the pipe's reads.
    fn source(kev: &KEvent, file: Option<&File>) -> Result<Option<PipeRead>> {
        match file {
            Some(file) if kev.filter == EVFILT_EMPTY && vnode::is_pipe(file) => {
                Ok(Some(PipeRead(vnode::VnodeHook::new()?)))
            }
            _ => Ok(None),
        }
    }

    fn attach(source: &PipeRead, kn: &Arc<Knote>) -> Result {
        source.0.attach_pipe(kn)
    }

    fn detach(source: &PipeRead, _kn: &Knote) {
        source.0.detach();
    }

    /// A change: NOTE_LOWAT takes `data` as the threshold (READ, WRITE); an EV_ADD sets
    /// the conditions an EXCEPT knote reports (NOTE_OOB; other bits are ignored, as
    /// OpenBSD does); EMPTY ignores fflags and data (FreeBSD's filt_soempty, NOTE_LOWAT
    /// included). The file is polled again at the next scan, so report "maybe active".
    fn touch(&mut self, kev: &KEvent, _: Option<&PipeRead>, _kn_flags: u16, _new: bool) -> bool {
        match self.side {
            Side::Read | Side::Write => {
                self.lowat = if kev.fflags & NOTE_LOWAT != 0 {
                    kev.data
                } else {
                    0
                };
            }
            Side::Except if kev.flags & EV_ADD != 0 => self.oob = kev.fflags & NOTE_OOB != 0,
            Side::Except | Side::Empty => {}
        }
        true
    }

    fn deliver(&self, ev: &mut KEvent) -> bool {
        // The inherent method, also called by the scan.
        FdState::deliver(self, ev)
    }

    // Descriptors are polled again at each scan: nothing to `clear`.
}

impl FdState {
    /// Records a poll of the file.
    #[inline]
    pub(crate) fn polled(&mut self, revents: u32, m: Measure) {
        self.revents = revents;
        self.data = m.data.unwrap_or(0);
        self.known = m.data.is_some();
        self.error = m.error;
    }

    /// Whether the last poll makes the knote ready. READ, WRITE: the poll bits, and
    /// NOTE_LOWAT where `data` is known (EOF is always reported). EMPTY: nothing left
    /// to drain, or nobody left to drain it. EXCEPT: POLLPRI, if NOTE_OOB was asked for.
    #[inline]
    pub(crate) fn ready(&self) -> bool {
        let mask = match self.side {
            Side::Read => READ_MASK,
            Side::Write => WRITE_MASK,
            Side::Empty => return self.eof() || (self.known && self.data == 0),
            Side::Except => return self.oob && self.revents & POLLPRI != 0,
        };
        if self.revents & mask == 0 {
            return false;
        }
        self.eof() || !self.known || self.lowat <= 0 || self.data >= self.lowat
    }

    #[inline]
    fn eof(&self) -> bool {
        match self.side {
            Side::Read => self.revents & (POLLHUP | POLLRDHUP) != 0,
            Side::Write => self.revents & (POLLHUP | POLLERR) != 0,
            Side::Empty => self.error != 0,
            Side::Except => false,
        }
    }

    /// Fills an event from the last poll.
    #[inline]
    pub(crate) fn deliver(&self, ev: &mut KEvent) -> bool {
        ev.data = self.data;
        ev.fflags = 0;
        match self.side {
            Side::Read | Side::Write if self.eof() => {
                ev.flags |= EV_EOF;
                ev.fflags = self.error;
            }
            Side::Empty if self.eof() => ev.flags |= EV_EOF,
            Side::Except => ev.fflags = NOTE_OOB,
            _ => {}
        }
        self.ready()
    }
}
