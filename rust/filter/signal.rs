// SPDX-License-Identifier: GPL-2.0

//! EVFILT_SIGNAL: attempts to deliver a signal to the registering process.
//!
//! A probe on the `signal_generate` tracepoint sees every signal sent, with
//! the target's siglock held: also ignored, blocked (already pending) and
//! thread-directed ones, and from hard irq (POSIX timers). It never changes
//! what happens to the signal; it only counts. Knotes sit in a global registry,
//! one list per signal number, each remembering the registering process (its
//! thread-group `struct pid`, counted); the probe bumps the count of those of
//! the target's process. While no EVFILT_SIGNAL knote exists the probe returns
//! after one atomic load.
//!
//! Lock order: siglock -> registry (irq-safe) -> kqueue lock. Attach and detach
//! take the registry lock alone, so once detach returns no probe can be
//! running for the knote: a signal sent meanwhile is counted for every other
//! knote and never reaches a freed one.

use super::proc::task_tgid;
use super::{activate, Filter, Listed, Tally};
use crate::ffi::kq_get_pid;
use crate::{
    glue::IrqSpinLockBackend,
    knote::Knote,
    tracepoint::Probe,
    uapi::{KEvent, EVFILT_SIGNAL, EV_ADD, EV_CLEAR},
};
use core::pin::Pin;
use kernel::{
    bindings,
    ffi::{c_int, c_void},
    fs::File,
    list::{List, ListArc},
    prelude::*,
    str::CStr,
    sync::{
        atomic::{Atomic, Relaxed},
        lock::{GlobalLock, GlobalLockBackend},
        Arc, LockClassKey,
    },
};

/// Highest signal number (`_NSIG`); valid signals are 1..=NSIG.
const NSIG: usize = bindings::_NSIG as usize;

/// Knotes by signal number (index = signal - 1).
type Registry = [List<Knote, 2>; NSIG];

/// Marker type of the registry's global lock.
struct RegistryLock;

impl GlobalLockBackend for RegistryLock {
    const NAME: &'static CStr = c"kqueue::signal_registry";
    type Item = Registry;
    type Backend = IrqSpinLockBackend;
    fn get_lock_class() -> Pin<&'static LockClassKey> {
        kernel::static_lock_class!()
    }
}

// SAFETY: `RegistryLock` is used by this lock only; `Hooks::register` calls `init` at module
// load, before the device exists (so before any other use).
static REGISTRY: GlobalLock<RegistryLock> =
    unsafe { GlobalLock::new([const { List::new() }; NSIG]) };

/// Number of knotes in the registry: the probe's one check while there are none.
static WATCHED: Atomic<i64> = Atomic::new(0);

/// A counted reference on the thread-group `struct pid` of a process.
struct TgidRef(*mut c_void);

impl Drop for TgidRef {
    fn drop(&mut self) {
        // SAFETY: We own one reference.
        unsafe { bindings::put_pid(self.0.cast()) };
    }
}

/// The source of one EVFILT_SIGNAL knote: the registering process.
pub(crate) struct SignalHook {
    tgid: TgidRef,
}

// SAFETY: The pid is a counted reference, usable from any thread.
unsafe impl Send for SignalHook {}
// SAFETY: As above; it is only compared.
unsafe impl Sync for SignalHook {}

impl SignalHook {
    /// The process of the registering (current) task.
    fn new() -> Self {
        let task = kernel::current!().as_ptr();
        // SAFETY: `current` is alive; its tgid pid is live while it runs and we count it.
        let tgid = unsafe { kq_get_pid(task_tgid(task).cast()) };
        Self {
            tgid: TgidRef(tgid),
        }
    }

    /// Puts `kn` (whose source this is) in the registry: counting starts.
    fn attach(&self, kn: &Arc<Knote>) -> Result {
        let item = ListArc::try_from_arc(kn.clone()).map_err(|_| EINVAL)?;
        let sig = kn.key.ident as usize;
        let mut reg = REGISTRY.lock();
        reg[sig - 1].push_back(item);
        WATCHED.fetch_add(1, Relaxed);
        Ok(())
    }

    /// Takes `kn` out of the registry: afterwards no probe runs for it.
    fn detach(&self, kn: &Knote) {
        let sig = kn.key.ident as usize;
        let mut reg = REGISTRY.lock();
        // SAFETY: A signal knote is only ever on the registry list of its signal.
        let item = unsafe { reg[sig - 1].remove(kn) };
        if item.is_some() {
            WATCHED.fetch_add(-1, Relaxed);
        }
        drop(reg);
        drop(item);
    }
}

/// The `signal_generate` probe: counts the attempt for the knotes of the target's
/// process. Atomic context (the target's siglock is held, maybe in hard irq).
///
/// # Safety
///
/// Called by the tracepoint with its `TP_PROTO` arguments.
unsafe extern "C" fn signal_probe(
    _data: *mut c_void,
    sig: c_int,
    _info: *mut c_void,
    task: *mut c_void,
    _group: c_int,
    _result: c_int,
) {
    if WATCHED.load(Relaxed) == 0 {
        return;
    }
    let Some(i) = usize::try_from(sig).ok().filter(|s| (1..=NSIG).contains(s)) else {
        return;
    };
    // SAFETY: `task` is the live target; its siglock is held.
    let tgid = unsafe { task_tgid(task.cast()) }.cast::<c_void>();
    let reg = REGISTRY.lock();
    for kn in reg[i - 1].iter() {
        let Some(hook) = SignalState::source_of(&kn.source) else {
            continue;
        };
        if hook.tgid.0 != tgid {
            continue;
        }
        activate::<SignalState>(&kn, |s, _| {
            s.0.add(1);
            true
        });
    }
}

/// State of one EVFILT_SIGNAL knote, under the kqueue's lock: the attempts to
/// deliver the signal since the last delivery.
#[derive(Default)]
pub(crate) struct SignalState(Tally);

impl Filter for SignalState {
    const FILTERS: &'static [i16] = &[EVFILT_SIGNAL];
    type Source = SignalHook;

    /// The ident must be a signal number, 1..=_NSIG.
    fn validate(kev: &KEvent) -> Result {
        if (1..=NSIG as u64).contains(&kev.ident) {
            Ok(())
        } else {
            Err(EINVAL)
        }
    }

    fn new(_kev: &KEvent) -> Self {
        Self::default()
    }

    fn source(_kev: &KEvent, _file: Option<&File>) -> Result<Option<SignalHook>> {
        Ok(Some(SignalHook::new()))
    }

    fn attach(source: &SignalHook, kn: &Arc<Knote>) -> Result {
        source.attach(kn)
    }

    fn detach(source: &SignalHook, kn: &Knote) {
        source.detach(kn);
    }

    /// A change: EV_ADD takes the fflags; signals counted so far stay.
    fn touch(&mut self, kev: &KEvent, _: Option<&SignalHook>, _kn_flags: u16, _new: bool) -> bool {
        if kev.flags & EV_ADD != 0 {
            self.0.fflags = kev.fflags;
        }
        self.0.count > 0
    }

    fn deliver(&self, ev: &mut KEvent) -> bool {
        self.0.deliver(ev)
    }

    fn clear(&mut self) {
        self.0.clear();
    }

    /// EV_CLEAR, as FreeBSD and libkqueue set it.
    fn implied_flags(&self) -> u16 {
        EV_CLEAR
    }
}

/// The tracepoint probe; dropping it unhooks EVFILT_SIGNAL from the kernel.
pub(crate) struct Hooks {
    _generate: Probe,
}

impl Hooks {
    /// Initialises the registry and registers the probe; called at module load.
    pub(crate) fn register() -> Result<Self> {
        // SAFETY: Called once, from the module initialiser, before any use.
        unsafe { REGISTRY.init() };
        // SAFETY: The probe has the tracepoint's signature and never sleeps.
        let generate = unsafe { Probe::register(c"signal_generate", signal_probe as *mut c_void)? };
        Ok(Self {
            _generate: generate,
        })
    }
}
