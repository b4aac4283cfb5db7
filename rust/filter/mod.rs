// SPDX-License-Identifier: GPL-2.0

//! Filters: what each EVFILT_* does with its knotes.
//!
//! The engine (`queue.rs`) owns the generic flags; a filter only keeps its own
//! state and answers three questions under the kqueue's lock: a change arrived
//! (`touch`), is there an event to report (`deliver`), and forget what was
//! reported (`clear`, for EV_CLEAR).

pub(crate) mod fd;
mod proc;
mod signal;
mod timer;
mod user;
mod vnode;

use crate::{
    knote::Knote,
    uapi::{
        KEvent, EVFILT_EMPTY, EVFILT_EXCEPT, EVFILT_PROC, EVFILT_PROCDESC, EVFILT_READ,
        EVFILT_SIGNAL, EVFILT_TIMER, EVFILT_USER, EVFILT_VNODE, EVFILT_WRITE, EV_ADD, EV_CLEAR,
        EV_ONESHOT, NOTE_EXIT,
    },
};
use kernel::{
    fs::File,
    prelude::*,
    sync::{aref::ARef, Arc},
};

/// What the filters share while the module is loaded (the tracepoint probes of
/// EVFILT_PROC and EVFILT_SIGNAL, the fsnotify group of EVFILT_VNODE); dropped at module exit, once no
/// kqueue (hence no knote) is left.
pub(crate) struct Filters {
    _proc: proc::Hooks,
    _signal: signal::Hooks,
}

impl Filters {
    /// Sets up the shared parts.
    pub(crate) fn new() -> Result<Self> {
        let proc = proc::Hooks::register()?;
        let signal = signal::Hooks::register()?;
        vnode::init()?;
        Ok(Self {
            _proc: proc,
            _signal: signal,
        })
    }
}

impl Drop for Filters {
    fn drop(&mut self) {
        vnode::exit();
    }
}

/// What a counting filter (EVFILT_SIGNAL, EVFILT_TIMER) reports: how many times its
/// event happened since the last delivery, with the registration's fflags (as
/// libkqueue reports them).
#[derive(Default)]
pub(crate) struct Tally {
    /// The registration's fflags.
    pub(crate) fflags: u32,
    /// Occurrences since the last delivery.
    pub(crate) count: i64,
}

impl Tally {
    /// Counts `n` more occurrences.
    pub(crate) fn add(&mut self, n: i64) {
        self.count = self.count.saturating_add(n);
    }

    /// `data` is the count; there is an event while it is not zero.
    pub(crate) fn deliver(&self, ev: &mut KEvent) -> bool {
        ev.fflags = self.fflags;
        ev.data = self.count;
        self.count > 0
    }

    /// After delivery (EV_CLEAR is implied): start counting again.
    pub(crate) fn clear(&mut self) {
        self.count = 0;
    }
}

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
    /// EVFILT_PROCDESC: the process of a pidfd, and the pidfd's file (held, so that the
    /// descriptor's close is noticed as for the descriptor filters).
    Procdesc(Pin<KBox<proc::ProcHook>>, ARef<File>),
    /// EVFILT_SIGNAL: the registering process.
    Signal(signal::SignalHook),
    /// EVFILT_TIMER: the knote's hrtimer.
    Timer(Pin<KBox<timer::TimerHook>>),
    /// EVFILT_VNODE: the knote's fsnotify mark.
    Vnode(vnode::VnodeHook),
    /// EVFILT_EMPTY on a pipe or FIFO: an fsnotify mark that sees its reads (a read
    /// that empties a pipe which was not full wakes none of its wait queues).
    PipeRead(vnode::VnodeHook),
}

impl Source {
    /// The source a registration needs, `file` the descriptor's of a filter on one;
    /// errors are the registration's.
    pub(crate) fn new(kev: &KEvent, file: Option<&File>) -> Result<Self> {
        match (kev.filter, file) {
            (EVFILT_PROC, _) => Ok(Self::Proc(proc::ProcHook::lookup(kev)?)),
            (EVFILT_PROCDESC, _) => {
                let (hook, pidfd) = proc::ProcHook::from_pidfd(kev)?;
                Ok(Self::Procdesc(hook, pidfd))
            }
            (EVFILT_SIGNAL, _) => Ok(Self::Signal(signal::SignalHook::new())),
            (EVFILT_TIMER, _) => Ok(Self::Timer(timer::TimerHook::new()?)),
            (EVFILT_VNODE, _) => Ok(Self::Vnode(vnode::VnodeHook::new()?)),
            (EVFILT_EMPTY, Some(file)) if vnode::is_pipe(file) => {
                Ok(Self::PipeRead(vnode::VnodeHook::new()?))
            }
            _ => Ok(Self::None),
        }
    }

    /// Starts reporting events for `kn`. May sleep.
    pub(crate) fn attach(&self, kn: &Arc<Knote>) -> Result {
        match self {
            Self::None => Ok(()),
            Self::Proc(p) => p.attach(kn),
            Self::Procdesc(p, _) => {
                p.attach_exit(kn);
                Ok(())
            }
            Self::Signal(s) => s.attach(kn),
            // Started by the EV_ADD that `FilterState::touch` applies next.
            Self::Timer(t) => {
                t.attach(kn);
                Ok(())
            }
            Self::Vnode(v) => v.attach(kn),
            Self::PipeRead(v) => v.attach_pipe(kn),
        }
    }

    /// Stops reporting: when it returns, no hook of this source runs for `kn` or
    /// will run. May sleep.
    pub(crate) fn detach(&self, kn: &Knote) {
        match self {
            Self::None => {}
            Self::Proc(p) => p.detach(kn),
            Self::Procdesc(p, _) => p.detach_exit(),
            Self::Signal(s) => s.detach(kn),
            Self::Timer(t) => t.detach(),
            Self::Vnode(v) | Self::PipeRead(v) => v.detach(),
        }
    }

    /// The descriptor's file this source holds (EVFILT_PROCDESC's pidfd): its close ends
    /// the knote.
    pub(crate) fn file(&self) -> Option<&File> {
        match self {
            Self::Procdesc(_, file) => Some(file),
            _ => None,
        }
    }

    /// Whether the registering task's descriptor `ident` no longer names what this
    /// source watches (closed and reused): the knote is stale. Only EVFILT_VNODE
    /// sources watch through a descriptor (they hold no file).
    pub(crate) fn fd_moved(&self, ident: u64) -> bool {
        match self {
            Self::Vnode(v) => v.fd_moved(ident),
            _ => false,
        }
    }
}

/// Per-knote state of its filter.
pub(crate) enum FilterState {
    /// EVFILT_USER.
    User(user::UserState),
    /// EVFILT_READ, EVFILT_WRITE, EVFILT_EMPTY, EVFILT_EXCEPT.
    Fd(fd::FdState),
    /// EVFILT_PROC and EVFILT_PROCDESC.
    Proc(proc::ProcState),
    /// EVFILT_SIGNAL.
    Signal(signal::SignalState),
    /// EVFILT_TIMER.
    Timer(timer::TimerState),
    /// EVFILT_VNODE.
    Vnode(vnode::VnodeState),
}

impl FilterState {
    /// Checks a registration and creates the filter's state for a new knote.
    ///
    /// Defined filters that are not implemented yet, like unknown ones, are EINVAL.
    pub(crate) fn new(kev: &KEvent) -> Result<Self> {
        match kev.filter {
            EVFILT_USER => Ok(Self::User(user::UserState::default())),
            EVFILT_READ | EVFILT_WRITE | EVFILT_EMPTY | EVFILT_EXCEPT => {
                Ok(Self::Fd(fd::FdState::new(kev.filter)))
            }
            EVFILT_PROC => Ok(Self::Proc(proc::ProcState::new(kev.fflags))),
            // FreeBSD's filt_procdesc knows NOTE_EXIT alone (NOTE_PCTRLMASK).
            EVFILT_PROCDESC => Ok(Self::Proc(proc::ProcState::new(kev.fflags & NOTE_EXIT))),
            EVFILT_SIGNAL => Ok(Self::Signal(signal::SignalState::new())),
            EVFILT_TIMER => Ok(Self::Timer(timer::TimerState::new())),
            EVFILT_VNODE => Ok(Self::Vnode(vnode::VnodeState::new(kev))),
            _ => Err(EINVAL),
        }
    }

    /// Checks that `filter` names a filter this module implements.
    pub(crate) fn check(filter: i16) -> Result {
        match filter {
            EVFILT_USER | EVFILT_READ | EVFILT_WRITE | EVFILT_PROC | EVFILT_SIGNAL
            | EVFILT_TIMER | EVFILT_VNODE | EVFILT_EMPTY | EVFILT_EXCEPT | EVFILT_PROCDESC => {
                Ok(())
            }
            _ => Err(EINVAL),
        }
    }

    /// Checks the filter-specific arguments of a change (those of an EV_ADD), before
    /// anything is allocated or changed.
    pub(crate) fn validate(kev: &KEvent) -> Result {
        if kev.flags & EV_ADD == 0 {
            return Ok(());
        }
        match kev.filter {
            EVFILT_SIGNAL => signal::validate(kev),
            EVFILT_TIMER => timer::validate(kev),
            EVFILT_VNODE => vnode::validate(kev),
            _ => Ok(()),
        }
    }

    /// Whether `filter` works on a descriptor (the knote holds the file).
    pub(crate) fn on_fd(filter: i16) -> bool {
        matches!(
            filter,
            EVFILT_READ | EVFILT_WRITE | EVFILT_EMPTY | EVFILT_EXCEPT
        )
    }

    /// The descriptor filter's state, if this is one.
    pub(crate) fn fd_mut(&mut self) -> Option<&mut fd::FdState> {
        match self {
            Self::Fd(f) => Some(f),
            _ => None,
        }
    }

    /// Applies a change (EV_ADD of a `new` knote, or any change to an existing one), under
    /// the kqueue's lock; `source` is the knote's and `kn_flags` its flags (those set at
    /// creation: a change does not alter EV_ONESHOT, EV_CLEAR or EV_DISPATCH). Returns
    /// whether the knote's condition now holds.
    pub(crate) fn touch(
        &mut self,
        kev: &KEvent,
        source: &Source,
        kn_flags: u16,
        new: bool,
    ) -> bool {
        match (self, source) {
            (Self::User(u), _) => u.touch(kev, new),
            (Self::Fd(f), _) => f.touch(kev),
            (Self::Proc(p), _) => p.touch(kev),
            (Self::Signal(s), _) => s.touch(kev),
            (Self::Timer(t), Source::Timer(hook)) => t.touch(kev, hook, kn_flags & EV_ONESHOT != 0),
            (Self::Timer(_), _) => false,
            (Self::Vnode(v), Source::Vnode(hook)) => v.touch(kev, hook),
            (Self::Vnode(_), _) => false,
        }
    }

    /// Fills `fflags` and `data` of an event about to be reported.
    /// Returns false if the condition no longer holds.
    pub(crate) fn deliver(&self, ev: &mut KEvent) -> bool {
        match self {
            Self::User(u) => u.deliver(ev),
            Self::Fd(f) => f.deliver(ev),
            Self::Proc(p) => p.deliver(ev),
            Self::Signal(s) => s.0.deliver(ev),
            Self::Timer(t) => t.tally.deliver(ev),
            Self::Vnode(v) => v.deliver(ev),
        }
    }

    /// Resets the state after delivery of an EV_CLEAR knote.
    pub(crate) fn clear(&mut self) {
        match self {
            Self::User(u) => u.clear(),
            // Descriptors are polled again at each scan: nothing to forget.
            Self::Fd(_) => {}
            Self::Proc(p) => p.clear(),
            Self::Signal(s) => s.0.clear(),
            Self::Timer(t) => t.tally.clear(),
            Self::Vnode(v) => v.clear(),
        }
    }

    /// Flags the knote keeps for itself but does not report: the EV_CLEAR a VNODE knote
    /// implies (neither FreeBSD nor libkqueue reports it).
    pub(crate) fn hidden_flags(&self) -> u16 {
        match self {
            Self::Vnode(v) => v.hidden_flags(),
            _ => 0,
        }
    }

    /// Flags the filter always sets in the knote's flags: EV_CLEAR for the counting
    /// filters (PROC, SIGNAL, TIMER), as FreeBSD and libkqueue set it, and for VNODE,
    /// whose events are reported once (not shown, see [`FilterState::hidden_flags`]);
    /// PROC and VNODE add EV_EOF|EV_ONESHOT once their process or file is gone.
    pub(crate) fn implied_flags(&self) -> u16 {
        match self {
            Self::Proc(p) => p.implied_flags(),
            Self::Signal(_) | Self::Timer(_) => EV_CLEAR,
            Self::Vnode(v) => v.implied_flags(),
            _ => 0,
        }
    }
}
