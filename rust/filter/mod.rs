// SPDX-License-Identifier: GPL-2.0

//! Filters: what each EVFILT_* does with its knotes.
//!
//! The engine (`queue.rs`) owns the generic flags; a filter only keeps its own
//! state and answers three questions under the kqueue's lock: a change arrived
//! (`touch`), is there an event to report (`deliver`), and forget what was
//! reported (`clear`, for EV_CLEAR). Its event source, outside the lock, reports
//! events with [`activate`].
//!
//! Each filter is one [`Filter`] impl in its own file, on its per-knote state type,
//! and one line in the [`filters!`] list at the end of this file, which generates the
//! [`FilterState`] and [`Source`] enums and their dispatch.

pub(crate) mod fd;
mod proc;
mod signal;
mod timer;
mod user;
mod vnode;

use crate::{
    knote::{Knote, KnoteState, KN_DISABLED},
    queue,
    uapi::{KEvent, EV_ADD, EV_EOF, EV_ONESHOT},
};
use kernel::{fs::File, prelude::*, sync::Arc};

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

/// One filter: its per-knote state (the implementing type), under the kqueue's lock,
/// and its event source ([`Filter::Source`]), outside it.
///
/// The rules, for every filter:
/// - Under the kqueue's lock (an irq-safe spinlock): [`Filter::touch`],
///   [`Filter::deliver`], [`Filter::clear`], [`Filter::implied_flags`],
///   [`Filter::hidden_flags`], [`Filter::source_file`] and [`Filter::fd_moved`]. They
///   must not sleep, allocate, or take a lock that may be held while a hook reports
///   an event (lock order: a source's locks, then the kqueue's).
/// - In the registering task, without the kqueue's lock, and they may sleep and
///   allocate (`GFP_KERNEL_ACCOUNT`): [`Filter::validate`], [`Filter::new`],
///   [`Filter::source`], [`Filter::attach`] (the knote is in its table, in flux, or
///   not inserted yet) and [`Filter::detach`] (the knote left its table, or never
///   entered it; also at the kqueue's last close).
/// - The source's hooks run in any context (hard irq, tracepoint probes, with their own
///   locks held) between `attach` and the return of `detach`, and report events with
///   [`activate`], which takes the kqueue's lock.
///
/// Operations most filters do not need have defaults that do nothing.
pub(crate) trait Filter: Sized {
    /// The EVFILT_* values the filter serves (each value is served by one filter).
    const FILTERS: &'static [i16];

    /// Those of [`Filter::FILTERS`] whose knotes watch descriptor `ident` of the
    /// registering task and end when it is closed (the close sweep looks them up).
    const ON_DESCRIPTOR: &'static [i16] = &[];

    /// The knotes hold their descriptor's file and hook into its wait queues
    /// (`poll.rs`); the scan polls the file again and reports through
    /// [`FilterState::fd_mut`].
    const POLLED: bool = false;

    /// Where the events come from, outside the kqueue's lock: a process, a timer, a
    /// signal, an inode. [`NoSource`] for none.
    type Source: Send + Sync;

    /// Checks the filter-specific arguments of an EV_ADD, before anything is allocated
    /// or changed.
    fn validate(_kev: &KEvent) -> Result {
        Ok(())
    }

    /// The state of a new knote for the registration `kev`.
    fn new(kev: &KEvent) -> Self;

    /// The source a registration needs, if any; `file` is the descriptor's of a
    /// [`Filter::POLLED`] filter. Errors are the registration's.
    fn source(_kev: &KEvent, _file: Option<&File>) -> Result<Option<Self::Source>> {
        Ok(None)
    }

    /// Starts reporting events for `kn`, whose source this is.
    fn attach(_source: &Self::Source, _kn: &Arc<Knote>) -> Result {
        Ok(())
    }

    /// Stops reporting: when it returns, no hook of `source` runs for `kn` or will run.
    fn detach(_source: &Self::Source, _kn: &Knote) {}

    /// The descriptor's file `source` holds, whose close ends the knote (see
    /// [`Filter::ON_DESCRIPTOR`]).
    fn source_file(_source: &Self::Source) -> Option<&File> {
        None
    }

    /// Whether the registering task's descriptor `ident` no longer names what `source`
    /// watches through it (closed and reused): the knote is stale.
    fn fd_moved(_source: &Self::Source, _ident: u64) -> bool {
        false
    }

    /// Applies a change (EV_ADD of a `new` knote, or any change to an existing one);
    /// `source` is the knote's and `kn_flags` its flags (those set at creation: a
    /// change does not alter EV_ONESHOT, EV_CLEAR or EV_DISPATCH). Returns whether the
    /// knote's condition now holds.
    fn touch(
        &mut self,
        kev: &KEvent,
        source: Option<&Self::Source>,
        kn_flags: u16,
        new: bool,
    ) -> bool;

    /// Fills `fflags` and `data` of an event about to be reported. Returns false if
    /// the condition no longer holds.
    fn deliver(&self, ev: &mut KEvent) -> bool;

    /// Resets the state after delivery of an EV_CLEAR knote.
    fn clear(&mut self) {}

    /// Flags the filter always sets in the knote's flags (e.g. EV_CLEAR for the
    /// counting filters, EV_EOF|EV_ONESHOT once a process or file is gone).
    fn implied_flags(&self) -> u16 {
        0
    }

    /// Flags the knote keeps for itself but does not report.
    fn hidden_flags(&self) -> u16 {
        0
    }
}

/// The source of a filter that has none.
pub(crate) enum NoSource {}

/// What an event source's hook may see and change of its knote, besides its filter's
/// state, in [`activate`].
pub(crate) struct Activation<'a> {
    kev: &'a mut KEvent,
    status: u32,
}

impl Activation<'_> {
    /// The knote's registration as it is reported (ident, filter, flags, udata).
    pub(crate) fn kev(&self) -> &KEvent {
        self.kev
    }

    /// Whether the knote is disabled (EV_DISABLE, or EV_DISPATCH after a delivery).
    pub(crate) fn disabled(&self) -> bool {
        self.status & KN_DISABLED != 0
    }

    /// What the source watches is gone: the knote reports EV_EOF, and is deleted after
    /// that event (EV_ONESHOT).
    pub(crate) fn end(&mut self) {
        self.kev.flags |= EV_EOF | EV_ONESHOT;
    }
}

/// An event source of filter `F` fired for `kn`: `update` records the event in the
/// knote's state (and its [`Activation`]) under the kqueue's lock and says whether the
/// knote's condition now holds; if so the knote is queued and waiters are woken once
/// the lock is dropped. Nothing happens if `kn` is not a knote of `F`.
///
/// Callable from any context, by a hook of `kn`'s source while it is attached (see
/// [`crate::queue::activate`]).
#[inline]
pub(crate) fn activate<F: Listed>(
    kn: &Knote,
    update: impl FnOnce(&mut F, &mut Activation<'_>) -> bool,
) {
    queue::activate(kn, |st: &mut KnoteState| {
        let Some(state) = F::state_mut(&mut st.filter) else {
            return false;
        };
        let mut a = Activation {
            kev: &mut st.kev,
            status: st.status,
        };
        update(state, &mut a)
    });
}

/// A filter of the [`filters!`] list: where its state and source sit in the generated
/// [`FilterState`] and [`Source`]. Implemented by the list.
pub(crate) trait Listed: Filter {
    /// The state, if `state` is one of this filter's.
    fn state_mut(state: &mut FilterState) -> Option<&mut Self>;
    /// The source, if `source` is one of this filter's.
    fn source_of(source: &Source) -> Option<&Self::Source>;
    /// `source` as a knote's [`Source`].
    fn into_source(source: Self::Source) -> Source;
}

/// Whether `filters` holds `filter`.
#[inline(always)]
const fn serves(filters: &[i16], filter: i16) -> bool {
    let mut i = 0;
    while i < filters.len() {
        if filters[i] == filter {
            return true;
        }
        i += 1;
    }
    false
}

/// The number of values in `lists`.
const fn total(lists: &[&[i16]]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < lists.len() {
        n += lists[i].len();
        i += 1;
    }
    n
}

/// The values of `lists`, one list after the other; `N` is their [`total`].
const fn concat<const N: usize>(lists: &[&[i16]]) -> [i16; N] {
    let mut out = [0; N];
    let mut n = 0;
    let mut i = 0;
    while i < lists.len() {
        let mut j = 0;
        while j < lists[i].len() {
            out[n] = lists[i][j];
            n += 1;
            j += 1;
        }
        i += 1;
    }
    out
}

/// Whether no value is in `values` twice.
const fn distinct(values: &[i16]) -> bool {
    let mut i = 0;
    while i < values.len() {
        let mut j = i + 1;
        while j < values.len() {
            if values[i] == values[j] {
                return false;
            }
            j += 1;
        }
        i += 1;
    }
    true
}

/// Generates, from the list of filters (`Variant(state type)`, each type a [`Filter`]):
/// [`FilterState`] and [`Source`] with one variant per filter, their dispatch (a `match`
/// per operation, no `dyn`), [`Listed`] for each filter, and [`ON_DESCRIPTOR`].
macro_rules! filters {
    ($($(#[$doc:meta])* $name:ident($ty:ty),)*) => {
        /// Per-knote state of its filter, under the kqueue's lock.
        pub(crate) enum FilterState {
            $($(#[$doc])* $name($ty),)*
        }

        /// Where a knote's events come from when that is not a descriptor's wait queue
        /// (those use the knote's poll hook): the [`Filter::Source`] of its filter.
        ///
        /// Made at allocation (may sleep), hooked by [`Source::attach`] once the knote
        /// is in its kqueue's table (in flux, lock dropped), unhooked by
        /// [`Source::detach`] after it left the table. Hooks report with [`activate`].
        pub(crate) enum Source {
            /// Nothing to hook (e.g. EVFILT_USER, descriptors, NOTE_CHILD events).
            None,
            $($(#[$doc])* $name(<$ty as Filter>::Source),)*
        }

        $(
            impl Listed for $ty {
                #[inline]
                fn state_mut(state: &mut FilterState) -> Option<&mut Self> {
                    match state {
                        FilterState::$name(s) => Some(s),
                        #[allow(unreachable_patterns)]
                        _ => None,
                    }
                }

                #[inline]
                fn source_of(source: &Source) -> Option<&Self::Source> {
                    match source {
                        Source::$name(s) => Some(s),
                        _ => None,
                    }
                }

                fn into_source(source: Self::Source) -> Source {
                    Source::$name(source)
                }
            }

            impl From<$ty> for FilterState {
                fn from(state: $ty) -> Self {
                    Self::$name(state)
                }
            }
        )*

        /// The EVFILT_* values whose knotes end when their descriptor is closed
        /// ([`Filter::ON_DESCRIPTOR`] of every filter).
        pub(crate) const ON_DESCRIPTOR: [i16; total(&[$(<$ty as Filter>::ON_DESCRIPTOR),*])] =
            concat(&[$(<$ty as Filter>::ON_DESCRIPTOR),*]);

        const _: () = assert!(
            distinct(&concat::<{ total(&[$(<$ty as Filter>::FILTERS),*]) }>(
                &[$(<$ty as Filter>::FILTERS),*]
            )),
            "an EVFILT_* value is served by two filters"
        );

        impl FilterState {
            /// Checks a registration and creates the filter's state for a new knote.
            ///
            /// Defined filters that are not implemented yet, like unknown ones, are EINVAL.
            pub(crate) fn new(kev: &KEvent) -> Result<Self> {
                $(
                    if serves(<$ty as Filter>::FILTERS, kev.filter) {
                        return Ok(Self::$name(<$ty as Filter>::new(kev)));
                    }
                )*
                Err(EINVAL)
            }

            /// Checks that `filter` names a filter this module implements.
            pub(crate) fn check(filter: i16) -> Result {
                if $(serves(<$ty as Filter>::FILTERS, filter))||* {
                    Ok(())
                } else {
                    Err(EINVAL)
                }
            }

            /// Checks the filter-specific arguments of a change (those of an EV_ADD),
            /// before anything is allocated or changed.
            pub(crate) fn validate(kev: &KEvent) -> Result {
                if kev.flags & EV_ADD == 0 {
                    return Ok(());
                }
                $(
                    if serves(<$ty as Filter>::FILTERS, kev.filter) {
                        return <$ty as Filter>::validate(kev);
                    }
                )*
                Ok(())
            }

            /// Whether `filter` works on a descriptor (the knote holds the file).
            #[inline]
            pub(crate) fn on_fd(filter: i16) -> bool {
                $((<$ty as Filter>::POLLED && serves(<$ty as Filter>::FILTERS, filter)))||*
            }

            /// Applies a change (see [`Filter::touch`]), under the kqueue's lock;
            /// `source` is the knote's.
            #[inline]
            pub(crate) fn touch(
                &mut self,
                kev: &KEvent,
                source: &Source,
                kn_flags: u16,
                new: bool,
            ) -> bool {
                match self {
                    $(Self::$name(s) => s.touch(kev, <$ty>::source_of(source), kn_flags, new),)*
                }
            }

            /// Fills `fflags` and `data` of an event about to be reported.
            /// Returns false if the condition no longer holds.
            #[inline]
            pub(crate) fn deliver(&self, ev: &mut KEvent) -> bool {
                match self {
                    $(Self::$name(s) => s.deliver(ev),)*
                }
            }

            /// Resets the state after delivery of an EV_CLEAR knote.
            #[inline]
            pub(crate) fn clear(&mut self) {
                match self {
                    $(Self::$name(s) => s.clear(),)*
                }
            }

            /// Flags the knote keeps for itself but does not report (see
            /// [`Filter::hidden_flags`]).
            #[inline]
            pub(crate) fn hidden_flags(&self) -> u16 {
                match self {
                    $(Self::$name(s) => s.hidden_flags(),)*
                }
            }

            /// Flags the filter always sets in the knote's flags (see
            /// [`Filter::implied_flags`]).
            #[inline]
            pub(crate) fn implied_flags(&self) -> u16 {
                match self {
                    $(Self::$name(s) => s.implied_flags(),)*
                }
            }
        }

        impl Source {
            /// The source a registration needs, `file` the descriptor's of a filter on
            /// one; errors are the registration's.
            pub(crate) fn new(kev: &KEvent, file: Option<&File>) -> Result<Self> {
                $(
                    if serves(<$ty as Filter>::FILTERS, kev.filter) {
                        return Ok(<$ty as Filter>::source(kev, file)?
                            .map_or(Self::None, Self::$name));
                    }
                )*
                Ok(Self::None)
            }

            /// Starts reporting events for `kn`. May sleep.
            pub(crate) fn attach(&self, kn: &Arc<Knote>) -> Result {
                match self {
                    Self::None => Ok(()),
                    $(Self::$name(s) => <$ty as Filter>::attach(s, kn),)*
                }
            }

            /// Stops reporting: when it returns, no hook of this source runs for `kn` or
            /// will run. May sleep.
            pub(crate) fn detach(&self, kn: &Knote) {
                match self {
                    Self::None => {}
                    $(Self::$name(s) => <$ty as Filter>::detach(s, kn),)*
                }
            }

            /// The descriptor's file this source holds (EVFILT_PROCDESC's pidfd): its
            /// close ends the knote.
            pub(crate) fn file(&self) -> Option<&File> {
                match self {
                    Self::None => None,
                    $(Self::$name(s) => <$ty as Filter>::source_file(s),)*
                }
            }

            /// Whether the registering task's descriptor `ident` no longer names what
            /// this source watches (closed and reused): the knote is stale.
            pub(crate) fn fd_moved(&self, ident: u64) -> bool {
                match self {
                    Self::None => false,
                    $(Self::$name(s) => <$ty as Filter>::fd_moved(s, ident),)*
                }
            }
        }
    };
}

filters! {
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
    /// The descriptor filter's state, if this is one.
    #[inline]
    pub(crate) fn fd_mut(&mut self) -> Option<&mut fd::FdState> {
        <fd::FdState as Listed>::state_mut(self)
    }
}
