// SPDX-License-Identifier: GPL-2.0

//! EVFILT_READ and EVFILT_WRITE: any descriptor, through its poll method.
//!
//! The knote holds a reference to the file and hooks into its wait queues
//! (`poll.rs`); wake-ups only mark it active, and the scan polls the file
//! again (without the kqueue lock) to decide and to measure `data`.

use crate::uapi::{KEvent, EVFILT_WRITE, EV_EOF, NOTE_LOWAT};
use kernel::{
    bindings,
    fs::{file::LocalFile, File},
    prelude::*,
    sync::aref::ARef,
};

const POLLIN: u32 = bindings::POLLIN;
const POLLOUT: u32 = bindings::POLLOUT;
const POLLERR: u32 = bindings::POLLERR;
const POLLHUP: u32 = bindings::POLLHUP;
const POLLRDNORM: u32 = bindings::POLLRDNORM;
const POLLWRNORM: u32 = bindings::POLLWRNORM;
/// `POLLRDHUP` (not in bindings).
const POLLRDHUP: u32 = 0x2000;

/// Poll bits that make a READ knote ready, and that wake it.
const READ_MASK: u32 = POLLIN | POLLRDNORM | POLLRDHUP | POLLHUP | POLLERR;
/// Poll bits that make a WRITE knote ready, and that wake it.
const WRITE_MASK: u32 = POLLOUT | POLLWRNORM | POLLHUP | POLLERR;

/// Looks up the descriptor named by a registration's ident.
pub(crate) fn fget(ident: u64) -> Result<ARef<File>> {
    let fd = u32::try_from(ident).map_err(|_| EBADF)?;
    let file = LocalFile::fget(fd).map_err(|_| EBADF)?;
    // SAFETY: The knote never uses the file position (no fdget_pos users here).
    Ok(unsafe { LocalFile::assume_no_fdget_pos(file) })
}

/// Poll bits a wake-up must carry to concern a knote of `filter` (0 means unknown: all do).
pub(crate) fn wakes(filter: i16, mask: u32) -> bool {
    let interest = if filter == EVFILT_WRITE {
        WRITE_MASK
    } else {
        READ_MASK
    };
    mask == 0 || mask & interest != 0
}

/// What a poll of the file measured besides its poll mask.
#[derive(Clone, Copy)]
pub(crate) struct Measure {
    /// `data` where the kernel can tell.
    pub(crate) data: Option<i64>,
    /// A pending socket error (errno), reported in `fflags` with EV_EOF.
    pub(crate) error: u32,
}

impl Measure {
    /// Nothing measured.
    pub(crate) const NONE: Self = Self {
        data: None,
        error: 0,
    };
}

/// State of one EVFILT_READ / EVFILT_WRITE knote.
pub(crate) struct FdState {
    write: bool,
    /// NOTE_LOWAT threshold (0: any data).
    lowat: i64,
    /// Poll mask and data measured by the last poll.
    revents: u32,
    data: i64,
    known: bool,
    error: u32,
}

impl FdState {
    /// State of a new knote of `filter`.
    pub(crate) fn new(filter: i16) -> Self {
        Self {
            write: filter == EVFILT_WRITE,
            lowat: 0,
            revents: 0,
            data: 0,
            known: false,
            error: 0,
        }
    }

    /// A change: NOTE_LOWAT takes `data` as the threshold. The file is polled again
    /// at the next scan, so report "maybe active".
    pub(crate) fn touch(&mut self, kev: &KEvent) -> bool {
        self.lowat = if kev.fflags & NOTE_LOWAT != 0 {
            kev.data
        } else {
            0
        };
        true
    }

    /// Records a poll of the file.
    pub(crate) fn polled(&mut self, revents: u32, m: Measure) {
        self.revents = revents;
        self.data = m.data.unwrap_or(0);
        self.known = m.data.is_some();
        self.error = m.error;
    }

    /// Whether the last poll makes the knote ready: the poll bits, and NOTE_LOWAT
    /// where `data` is known (EOF is always reported).
    pub(crate) fn ready(&self) -> bool {
        let mask = if self.write { WRITE_MASK } else { READ_MASK };
        if self.revents & mask == 0 {
            return false;
        }
        self.eof() || !self.known || self.lowat <= 0 || self.data >= self.lowat
    }

    fn eof(&self) -> bool {
        if self.write {
            self.revents & (POLLHUP | POLLERR) != 0
        } else {
            self.revents & (POLLHUP | POLLRDHUP) != 0
        }
    }

    /// Fills an event from the last poll.
    pub(crate) fn deliver(&self, ev: &mut KEvent) -> bool {
        ev.data = self.data;
        ev.fflags = 0;
        if self.eof() {
            ev.flags |= EV_EOF;
            ev.fflags = self.error;
        }
        self.ready()
    }
}
