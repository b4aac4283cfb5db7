// SPDX-License-Identifier: GPL-2.0

//! Filters: what each EVFILT_* does with its knotes.
//!
//! The engine (`queue.rs`) owns the generic flags; a filter only keeps its own
//! state and answers three questions under the kqueue's lock: a change arrived
//! (`touch`), is there an event to report (`deliver`), and forget what was
//! reported (`clear`, for EV_CLEAR).

pub(crate) mod fd;
pub(crate) mod proc;
mod user;

use crate::{
    knote::Knote,
    uapi::{KEvent, EVFILT_PROC, EVFILT_READ, EVFILT_USER, EVFILT_WRITE, EV_ADD},
};
use kernel::{prelude::*, sync::Arc};

/// Where a knote's events come from when that is not a descriptor's wait queue
/// (those use the knote's poll hook): a process, a timer, a signal, an inode.
///
/// Made at allocation (may sleep), hooked by [`Source::attach`] once the knote is in
/// its kqueue's table (in flux, lock dropped), unhooked by [`Source::detach`] after
/// it left the table. Hooks report with [`crate::queue::activate`].
pub(crate) enum Source {
    /// Nothing to hook: EVFILT_USER, descriptors, and NOTE_CHILD events.
    None,
    /// EVFILT_PROC: a process.
    Proc(Pin<KBox<proc::ProcHook>>),
}

impl Source {
    /// The source a registration needs; errors are the registration's.
    pub(crate) fn new(kev: &KEvent) -> Result<Self> {
        match kev.filter {
            EVFILT_PROC => Ok(Self::Proc(proc::ProcHook::lookup(kev)?)),
            _ => Ok(Self::None),
        }
    }

    /// Starts reporting events for `kn`. May sleep.
    pub(crate) fn attach(&self, kn: &Arc<Knote>) -> Result {
        match self {
            Self::None => Ok(()),
            Self::Proc(p) => p.attach(kn),
        }
    }

    /// Stops reporting: when it returns, no hook of this source runs for `kn` or
    /// will run. May sleep.
    pub(crate) fn detach(&self, kn: &Knote) {
        match self {
            Self::None => {}
            Self::Proc(p) => p.detach(kn),
        }
    }
}

/// Per-knote state of its filter.
pub(crate) enum FilterState {
    /// EVFILT_USER.
    User(user::UserState),
    /// EVFILT_READ, EVFILT_WRITE.
    Fd(fd::FdState),
    /// EVFILT_PROC.
    Proc(proc::ProcState),
}

impl FilterState {
    /// Checks a registration and creates the filter's state for a new knote.
    ///
    /// Defined filters that are not implemented yet, like unknown ones, are EINVAL.
    pub(crate) fn new(kev: &KEvent) -> Result<Self> {
        match kev.filter {
            EVFILT_USER => Ok(Self::User(user::UserState::default())),
            EVFILT_READ | EVFILT_WRITE => Ok(Self::Fd(fd::FdState::new(kev.filter))),
            EVFILT_PROC => Ok(Self::Proc(proc::ProcState::new(kev.fflags))),
            _ => Err(EINVAL),
        }
    }

    /// Checks that `filter` names a filter this module implements.
    pub(crate) fn check(filter: i16) -> Result {
        match filter {
            EVFILT_USER | EVFILT_READ | EVFILT_WRITE | EVFILT_PROC => Ok(()),
            _ => Err(EINVAL),
        }
    }

    /// Whether `filter` works on a descriptor (the knote holds the file).
    pub(crate) fn on_fd(filter: i16) -> bool {
        matches!(filter, EVFILT_READ | EVFILT_WRITE)
    }

    /// The descriptor filter's state, if this is one.
    pub(crate) fn fd_mut(&mut self) -> Option<&mut fd::FdState> {
        match self {
            Self::Fd(f) => Some(f),
            _ => None,
        }
    }

    /// Applies a change (EV_ADD of a new knote, or any change to an existing one).
    /// Returns whether the knote's condition now holds.
    pub(crate) fn touch(&mut self, kev: &KEvent) -> bool {
        match self {
            Self::User(u) => u.touch(kev),
            Self::Fd(f) => f.touch(kev),
            Self::Proc(p) => p.touch(kev),
        }
    }

    /// Fills `fflags` and `data` of an event about to be reported.
    /// Returns false if the condition no longer holds.
    pub(crate) fn deliver(&self, ev: &mut KEvent) -> bool {
        match self {
            Self::User(u) => u.deliver(ev),
            Self::Fd(f) => f.deliver(ev),
            Self::Proc(p) => p.deliver(ev),
        }
    }

    /// Resets the state after delivery of an EV_CLEAR knote.
    pub(crate) fn clear(&mut self) {
        match self {
            Self::User(u) => u.clear(),
            // Descriptors are polled again at each scan: nothing to forget.
            Self::Fd(_) => {}
            Self::Proc(p) => p.clear(),
        }
    }

    /// Registration flags this filter does not report back (libkqueue compatibility).
    pub(crate) fn hidden_flags(&self) -> u16 {
        match self {
            // libkqueue's EVFILT_USER, like FreeBSD, drops EV_ADD from its events.
            Self::User(_) => EV_ADD,
            _ => 0,
        }
    }

    /// Flags the filter always sets in the knote's flags (EV_CLEAR for EVFILT_PROC).
    pub(crate) fn implied_flags(&self) -> u16 {
        match self {
            Self::Proc(p) => p.implied_flags(),
            _ => 0,
        }
    }
}
