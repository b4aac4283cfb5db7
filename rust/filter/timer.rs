// SPDX-License-Identifier: GPL-2.0

//! EVFILT_TIMER: periodic and one-shot timers on hrtimers.
//!
//! Each knote owns one CLOCK_MONOTONIC hrtimer (in its own pinned allocation,
//! [`TimerHook`]) that expires in hard-irq context. The callback counts the
//! expirations under the kqueue's lock (`hrtimer_forward` gives the number of
//! periods that passed, so a slow reader sees them all in `data`) and re-arms
//! a periodic timer. An idle timer is one node in the hrtimer tree: no per-tick
//! work at all.
//!
//! The timer is (re)started, stopped and re-enabled by [`TimerState::touch`]
//! under the kqueue's lock: `hrtimer_start_range_ns` and `hrtimer_try_to_cancel`
//! never wait for the callback, which itself takes that lock. A callback that
//! lost the race against such a change sees it under the lock (the timer is
//! queued again, or no longer armed) and does nothing. `hrtimer_cancel`, which
//! waits, runs only in [`TimerHook::detach`], after the knote left its kqueue.

use super::{activate, Filter, Tally};
use crate::ffi::kq_hrtimer_queued;
use crate::{
    knote::Knote,
    uapi::{
        KEvent, EVFILT_TIMER, EV_ADD, EV_CLEAR, EV_DISABLE, EV_ENABLE, EV_ONESHOT, NOTE_ABSOLUTE,
        NOTE_NSECONDS, NOTE_SECONDS, NOTE_USECONDS,
    },
};
use core::ptr;
use kernel::{
    bindings,
    fs::File,
    prelude::*,
    sync::atomic::{Acquire, Atomic, Release},
    sync::Arc,
    time::{ClockSource, Monotonic, RealTime},
    types::Opaque,
};

/// The unit flags; none means milliseconds.
const UNIT_MASK: u32 = NOTE_SECONDS | NOTE_USECONDS | NOTE_NSECONDS;

/// Shortest period of a periodic timer. Shorter ones are raised to it, so that a
/// nanosecond period cannot keep a CPU in the hrtimer interrupt.
pub(crate) const MIN_PERIOD_NS: i64 = 10_000;

/// Nanoseconds per unit selected by `fflags`, or EINVAL for more than one unit.
fn unit_ns(fflags: u32) -> Result<i64> {
    Ok(match fflags & UNIT_MASK {
        0 => 1_000_000,
        NOTE_SECONDS => 1_000_000_000,
        NOTE_USECONDS => 1_000,
        NOTE_NSECONDS => 1,
        _ => return Err(EINVAL),
    })
}

/// The hrtimer of one EVFILT_TIMER knote.
#[pin_data]
#[repr(C)]
pub(crate) struct TimerHook {
    /// First field: the callback gets back to the hook by a cast.
    #[pin]
    timer: Opaque<bindings::hrtimer>,
    /// The knote, set by [`TimerHook::attach`] before the timer is first started.
    kn: Atomic<*const Knote>,
}

// SAFETY: The hrtimer is made to be used from any CPU (its base lock serialises it); `kn`
// is an atomic pointer to a `Sync` knote.
unsafe impl Send for TimerHook {}
// SAFETY: As above.
unsafe impl Sync for TimerHook {}

impl TimerHook {
    /// A new, stopped timer, in its own allocation (charged to the caller's cgroup).
    fn new() -> Result<Pin<KBox<Self>>> {
        KBox::pin_init(
            pin_init!(Self {
                // SAFETY: `slot` is valid for writes; the callback matches the hrtimer ABI
                // and the mode/clock are valid. Setting up does not start the timer.
                timer <- unsafe {
                    Opaque::ffi_init(|slot: *mut bindings::hrtimer| {
                        bindings::hrtimer_setup(
                            slot,
                            Some(timer_fired),
                            Monotonic::ID,
                            bindings::hrtimer_mode_HRTIMER_MODE_ABS,
                        )
                    })
                },
                kn: Atomic::new(ptr::null()),
            }),
            GFP_KERNEL_ACCOUNT,
        )
    }

    /// Records the knote the callback reports to. Called before any start.
    fn attach(&self, kn: &Knote) {
        self.kn.store(kn, Release);
    }

    /// Stops the timer and waits for a running callback: afterwards none runs.
    /// The knote is detached, so a callback that was running did not re-arm it.
    fn detach(&self) {
        // SAFETY: The timer was set up in `new`; this is process context.
        unsafe { bindings::hrtimer_cancel(self.timer.get()) };
    }

    /// (Re)starts the timer to expire at absolute CLOCK_MONOTONIC time `expires`.
    fn start(&self, expires: i64) {
        // SAFETY: The timer was set up in `new` and lives until `detach` cancelled it.
        unsafe {
            bindings::hrtimer_start_range_ns(
                self.timer.get(),
                expires,
                0,
                bindings::hrtimer_mode_HRTIMER_MODE_ABS,
            )
        };
    }

    /// Dequeues the timer unless its callback is running (which then sees the change).
    fn try_stop(&self) {
        // SAFETY: The timer was set up in `new`; this never waits for the callback.
        unsafe { bindings::hrtimer_try_to_cancel(self.timer.get()) };
    }

    /// Whether the timer is queued (started again while its callback ran).
    fn queued(&self) -> bool {
        // SAFETY: The timer was set up in `new`; this only reads its state.
        unsafe { kq_hrtimer_queued(self.timer.get()) }
    }

    /// Moves the expiry of a timer whose callback runs past now by whole `period`s;
    /// returns how many periods passed.
    fn forward(&self, period: i64) -> i64 {
        let timer = self.timer.get();
        // SAFETY: Called from the callback, the timer is not queued (checked under the
        // kqueue lock, the only place it is started from).
        let n = unsafe {
            bindings::hrtimer_forward(timer, bindings::hrtimer_cb_get_time(timer), period)
        };
        i64::try_from(n).unwrap_or(i64::MAX)
    }
}

/// The hrtimer callback (hard irq): counts the expiration and re-arms a periodic timer.
///
/// # Safety
///
/// Called by the hrtimer core only, for a timer set up by [`TimerHook::new`].
unsafe extern "C" fn timer_fired(timer: *mut bindings::hrtimer) -> bindings::hrtimer_restart {
    // SAFETY: `timer` is the first field of a `TimerHook` (`repr(C)`), alive until
    // `detach` has cancelled the timer and waited for this callback.
    let hook = unsafe { &*timer.cast::<TimerHook>() };
    let kn = hook.kn.load(Acquire);
    if kn.is_null() {
        return bindings::hrtimer_restart_HRTIMER_NORESTART;
    }
    // SAFETY: The knote outlives its hook's timer: `detach` runs before it is freed.
    let kn = unsafe { &*kn };
    let mut restart = false;
    activate::<TimerState>(kn, |t, a| {
        if hook.queued() {
            // A change restarted the timer while this expiry waited for the lock.
            return false;
        }
        if a.disabled() || !t.armed {
            // EV_DISABLE, or EV_DISPATCH after a delivery: the timer stops until EV_ENABLE.
            t.armed = false;
            return false;
        }
        if t.periodic {
            t.tally.add(hook.forward(t.period));
            restart = true;
        } else {
            t.tally.add(1);
            t.armed = false;
            t.fired = true;
        }
        true
    });
    if restart {
        bindings::hrtimer_restart_HRTIMER_RESTART
    } else {
        bindings::hrtimer_restart_HRTIMER_NORESTART
    }
}

/// State of one EVFILT_TIMER knote, under the kqueue's lock.
pub(crate) struct TimerState {
    /// Expirations since the last delivery, and the registration's fflags.
    tally: Tally,
    /// Period in ns (periodic), or delay (one-shot relative).
    period: i64,
    /// NOTE_ABSOLUTE: the CLOCK_MONOTONIC time it fires at.
    deadline: Option<i64>,
    /// Re-armed after each expiration (neither EV_ONESHOT nor NOTE_ABSOLUTE).
    periodic: bool,
    /// The timer is meant to run (started and not stopped since).
    armed: bool,
    /// A one-shot timer expired: it is not started again by EV_ENABLE.
    fired: bool,
}

impl Filter for TimerState {
    const FILTERS: &'static [i16] = &[EVFILT_TIMER];
    type Source = Pin<KBox<TimerHook>>;

    /// `data` must not be negative, at most one unit flag. Other fflags bits are
    /// ignored, as libkqueue does.
    fn validate(kev: &KEvent) -> Result {
        unit_ns(kev.fflags)?;
        if kev.data < 0 {
            return Err(EINVAL);
        }
        Ok(())
    }

    /// The timer starts at the EV_ADD that [`Filter::touch`] applies.
    fn new(_kev: &KEvent) -> Self {
        Self {
            tally: Tally::default(),
            period: 0,
            deadline: None,
            periodic: false,
            armed: false,
            fired: false,
        }
    }

    fn source(_kev: &KEvent, _file: Option<&File>) -> Result<Option<Self::Source>> {
        Ok(Some(TimerHook::new()?))
    }

    /// Only records the knote: the timer is started by the EV_ADD that
    /// [`Filter::touch`] applies next.
    fn attach(source: &Self::Source, kn: &Arc<Knote>) -> Result {
        source.attach(kn);
        Ok(())
    }

    fn detach(source: &Self::Source, _kn: &Knote) {
        source.detach();
    }

    /// A change, under the kqueue's lock. EV_ADD (re)configures and restarts the timer
    /// and forgets expirations not yet reported (FreeBSD); EV_DISABLE stops it;
    /// EV_ENABLE starts a stopped timer again (a full period from now; an absolute
    /// or one-shot timer that already fired stays stopped). The knote's EV_ONESHOT,
    /// set at its creation, makes it fire once.
    fn touch(
        &mut self,
        kev: &KEvent,
        hook: Option<&Self::Source>,
        kn_flags: u16,
        _new: bool,
    ) -> bool {
        let Some(hook) = hook else {
            return false;
        };
        let oneshot = kn_flags & EV_ONESHOT != 0;
        if kev.flags & EV_ADD != 0 {
            self.configure(kev, oneshot);
            if kev.flags & EV_DISABLE == 0 {
                self.arm(hook);
            } else {
                self.stop(hook);
            }
        } else if kev.flags & EV_DISABLE != 0 {
            self.stop(hook);
        } else if kev.flags & EV_ENABLE != 0 && !self.armed && !self.fired {
            self.arm(hook);
        }
        self.tally.count > 0
    }

    fn deliver(&self, ev: &mut KEvent) -> bool {
        self.tally.deliver(ev)
    }

    fn clear(&mut self) {
        self.tally.clear();
    }

    /// EV_CLEAR, as FreeBSD and libkqueue set it.
    fn implied_flags(&self) -> u16 {
        EV_CLEAR
    }
}

impl TimerState {
    /// Takes the period (or absolute time) of an EV_ADD, already validated; a `oneshot`
    /// knote fires once.
    fn configure(&mut self, kev: &KEvent, oneshot: bool) {
        // `validate` accepted the unit and a non-negative `data`.
        let unit = unit_ns(kev.fflags).unwrap_or(1_000_000);
        let ns = kev.data.saturating_mul(unit);
        self.tally = Tally {
            fflags: kev.fflags,
            count: 0,
        };
        self.fired = false;
        if kev.fflags & NOTE_ABSOLUTE != 0 {
            // Converted to CLOCK_MONOTONIC now, as FreeBSD does: a later clock_settime()
            // does not move it. A time in the past fires at once.
            let offset = RealTime::ktime_get() - Monotonic::ktime_get();
            self.deadline = Some(ns.saturating_sub(offset).max(0));
            self.periodic = false;
            self.period = 0;
        } else {
            self.deadline = None;
            self.periodic = !oneshot;
            // FreeBSD: a periodic timer of 0 means one unit.
            self.period = if self.periodic {
                ns.max(unit).max(MIN_PERIOD_NS)
            } else {
                ns
            };
        }
    }

    /// Starts the timer: at the absolute time, or one period from now.
    fn arm(&mut self, hook: &TimerHook) {
        let expires = self
            .deadline
            .unwrap_or_else(|| Monotonic::ktime_get().saturating_add(self.period));
        hook.start(expires);
        self.armed = true;
    }

    /// Stops the timer (a callback already running sees `armed` false).
    fn stop(&mut self, hook: &TimerHook) {
        hook.try_stop();
        self.armed = false;
    }
}
