// SPDX-License-Identifier: GPL-2.0

//! EVFILT_PROC: exit, fork and exec of any process, and NOTE_TRACK; and
//! EVFILT_PROCDESC: the exit of the process of a pidfd (FreeBSD's process
//! descriptors), which uses the exit hook alone.
//!
//! Three hooks, none of them a patch to the kernel:
//! - exit: a wait entry on the `struct pid`'s `wait_pidfd` queue, woken (with
//!   `tasklist_lock` held) when the process becomes reapable — what pidfd poll
//!   reports. NOTE_EXIT can therefore never come before waitpid(WNOHANG) could
//!   reap the process, and its `data` is the status wait(2) will return.
//! - fork and exec: probes on the `sched_process_fork` and `sched_process_exec`
//!   tracepoints. They find the knotes of a process in a global registry keyed by
//!   its `struct pid`; while no EVFILT_PROC knote exists they return after one
//!   atomic load. `sched_process_fork` runs before the child is first woken, so
//!   NOTE_TRACK hooks the child's knote up before the child can run, exit or fork.
//!
//! Lock order: registry -> `wait_pidfd` lock -> kqueue lock.

use super::{activate, Filter, Listed, Source};
use crate::ffi::{kq_get_pid, kq_may_watch, kq_pid_is_process, kq_pidfd_pid, kq_proc_exit_status};
use crate::{
    knote::{Knote, KnoteKey},
    poll::wait_remove,
    queue::Kqueue,
    tracepoint::Probe,
    uapi::*,
};
use core::{cell::UnsafeCell, ptr};
use kernel::{
    bindings,
    ffi::{c_int, c_uint, c_void},
    fs::File,
    list::{List, ListArc},
    pid_namespace::PidNamespace,
    prelude::*,
    rbtree::{RBTree, RBTreeNodeReservation},
    sync::{
        aref::ARef,
        atomic::{Atomic, Relaxed},
        Arc,
    },
    types::Opaque,
};

/// State of one EVFILT_PROC knote.
pub(crate) struct ProcState {
    /// The registered notes (FreeBSD's `kn_sfflags`).
    sfflags: u32,
    /// Notes that happened since the last delivery.
    fflags: u32,
    /// The wait status once NOTE_EXIT is recorded; the parent's pid for NOTE_CHILD.
    data: i64,
    /// The process is dead: the event carries EV_EOF|EV_ONESHOT.
    exited: bool,
}

/// The source of an EVFILT_PROC knote (its process), or of an EVFILT_PROCDESC one (the
/// process of its pidfd, and the pidfd's file, held so that the descriptor's close is
/// noticed as for the descriptor filters).
pub(crate) struct ProcSource {
    hook: Pin<KBox<ProcHook>>,
    /// EVFILT_PROCDESC: the pidfd.
    pidfd: Option<ARef<File>>,
}

impl Filter for ProcState {
    const FILTERS: &'static [i16] = &[EVFILT_PROC, EVFILT_PROCDESC];
    const ON_DESCRIPTOR: &'static [i16] = &[EVFILT_PROCDESC];
    type Source = ProcSource;

    fn new(kev: &KEvent) -> Self {
        if kev.filter == EVFILT_PROCDESC {
            // FreeBSD's filt_procdesc knows NOTE_EXIT alone (NOTE_PCTRLMASK).
            Self::watching(kev.fflags & NOTE_EXIT)
        } else {
            Self::watching(kev.fflags)
        }
    }

    fn source(kev: &KEvent, _file: Option<&File>) -> Result<Option<ProcSource>> {
        let source = if kev.filter == EVFILT_PROCDESC {
            let (hook, pidfd) = ProcHook::from_pidfd(kev)?;
            ProcSource {
                hook,
                pidfd: Some(pidfd),
            }
        } else {
            ProcSource {
                hook: ProcHook::lookup(kev)?,
                pidfd: None,
            }
        };
        Ok(Some(source))
    }

    /// EVFILT_PROCDESC hooks the exit of the process alone.
    fn attach(source: &ProcSource, kn: &Arc<Knote>) -> Result {
        if source.pidfd.is_some() {
            source.hook.attach_exit(kn);
            Ok(())
        } else {
            source.hook.attach(kn)
        }
    }

    fn detach(source: &ProcSource, kn: &Knote) {
        if source.pidfd.is_some() {
            source.hook.detach_exit();
        } else {
            source.hook.detach(kn);
        }
    }

    fn source_file(source: &ProcSource) -> Option<&File> {
        source.pidfd.as_deref()
    }

    /// EV_ADD of an existing knote replaces the registered notes; what happened stays.
    fn touch(&mut self, kev: &KEvent, _: Option<&ProcSource>, _kn_flags: u16, _new: bool) -> bool {
        self.sfflags = kev.fflags;
        self.fflags != 0
    }

    /// Reports the notes that happened.
    fn deliver(&self, ev: &mut KEvent) -> bool {
        ev.fflags = self.fflags;
        ev.data = self.data;
        self.fflags != 0
    }

    /// EV_CLEAR (always implied): forget what was reported.
    fn clear(&mut self) {
        self.fflags = 0;
        self.data = 0;
    }

    /// EV_CLEAR always; EV_EOF|EV_ONESHOT once the process is dead.
    fn implied_flags(&self) -> u16 {
        if self.exited {
            EV_CLEAR | EV_EOF | EV_ONESHOT
        } else {
            EV_CLEAR
        }
    }
}

impl ProcState {
    /// A registration watching for `fflags`.
    fn watching(fflags: u32) -> Self {
        Self {
            sfflags: fflags,
            fflags: 0,
            data: 0,
            exited: false,
        }
    }

    /// The pending event of a tracked child: NOTE_CHILD, `data` = its parent's pid.
    fn child_note(parent: i64) -> Self {
        Self {
            sfflags: NOTE_CHILD,
            fflags: NOTE_CHILD,
            data: parent,
            exited: false,
        }
    }

    /// Records `note` if it was asked for. Returns whether there is an event.
    fn note(&mut self, note: u32) -> bool {
        self.fflags |= note & self.sfflags;
        self.fflags != 0
    }

    /// Records the death of the process with wait status `status`.
    fn exited(&mut self, status: i32) -> bool {
        self.exited = true;
        if self.sfflags & NOTE_EXIT != 0 {
            self.fflags |= NOTE_EXIT;
            self.data = status.into();
        }
        self.fflags != 0
    }
}

/// Records `note` on `kn`, an EVFILT_PROC knote.
fn fire(kn: &Knote, note: u32) {
    activate::<ProcState>(kn, |p, _| p.note(note));
}

/// A reference on a `struct pid`.
struct PidRef(*mut bindings::pid);

impl Drop for PidRef {
    fn drop(&mut self) {
        // SAFETY: We own one reference.
        unsafe { bindings::put_pid(self.0) };
    }
}

/// `task_tgid()` (inline in C): the `struct pid` of the process of `task`.
///
/// # Safety
///
/// `task` must be a live task.
pub(crate) unsafe fn task_tgid(task: *mut bindings::task_struct) -> *mut bindings::pid {
    // SAFETY: A live task has its `signal_struct`, as `task_tgid()` assumes.
    unsafe { (*(*task).signal).pids[bindings::pid_type_PIDTYPE_TGID as usize] }
}

/// `thread_group_leader()` (inline in C): whether `task`, new from fork or clone,
/// is a process and not a thread.
///
/// # Safety
///
/// `task` must be a live task.
unsafe fn task_is_process(task: *mut bindings::task_struct) -> bool {
    // SAFETY: `task` is live; a plain read, as in `thread_group_leader()`.
    unsafe { (*task).exit_signal >= 0 }
}

/// A counted reference on the current task's pid namespace; ESRCH if it has none
/// (only after `release_task()`, which no caller here is past).
fn current_pid_ns() -> Result<ARef<PidNamespace>> {
    Ok(kernel::current!().active_pid_ns().ok_or(ESRCH)?.into())
}

/// The source of an EVFILT_PROC knote: the process, the watcher's pid namespace,
/// and the wait entry on the process's `wait_pidfd` queue.
///
/// # Invariants
///
/// `head` is written by `hang` before the entry is queued and read by `detach`;
/// the kqueue calls them one after the other (attach, then detach).
#[pin_data]
pub(crate) struct ProcHook {
    pid: PidRef,
    /// Pids in events (NOTE_CHILD's ident and data) are numbers of this namespace.
    ns: ARef<PidNamespace>,
    #[pin]
    entry: Opaque<bindings::wait_queue_entry>,
    /// The queue `entry` is on, or NULL.
    head: UnsafeCell<*mut bindings::wait_queue_head>,
}

// SAFETY: The raw pointers are counted references; `head` follows the type invariants.
unsafe impl Send for ProcHook {}
// SAFETY: As above.
unsafe impl Sync for ProcHook {}

impl ProcHook {
    fn new(
        pid: PidRef,
        ns: ARef<PidNamespace>,
        flags: kernel::alloc::Flags,
    ) -> Result<Pin<KBox<Self>>> {
        KBox::pin_init(
            pin_init!(Self {
                pid,
                ns,
                entry: Opaque::uninit(),
                head: UnsafeCell::new(ptr::null_mut()),
            }),
            flags,
        )
    }

    /// The source of a registration: the process `kev.ident` names in the caller's pid
    /// namespace. ESRCH if there is none (or it names a thread), EPERM if the
    /// `proc_restrict` parameter forbids watching it.
    pub(crate) fn lookup(kev: &KEvent) -> Result<Pin<KBox<Self>>> {
        let nr = i32::try_from(kev.ident)
            .ok()
            .filter(|&nr| nr > 0)
            .ok_or(ESRCH)?;
        // SAFETY: Plain lookup in the current task's pid namespace.
        let pid = unsafe { bindings::find_get_pid(nr) };
        if pid.is_null() {
            return Err(ESRCH);
        }
        let pid = PidRef(pid);
        // SAFETY: `pid` is a live, counted `struct pid`.
        if !unsafe { kq_pid_is_process(pid.0.cast()) } {
            return Err(ESRCH);
        }
        let restricted = *crate::module_parameters::proc_restrict.value() != 0;
        // SAFETY: As above; called in the registering task.
        if restricted && !unsafe { kq_may_watch(pid.0.cast()) } {
            return Err(EPERM);
        }
        let ns = current_pid_ns()?;
        Self::new(pid, ns, GFP_KERNEL_ACCOUNT)
    }

    /// The source of an EVFILT_PROCDESC registration: the process of the pidfd
    /// `kev.ident`, and that descriptor's file. The knote holds the file, so that the
    /// descriptor's close ends the knote, as FreeBSD drops a process descriptor's
    /// knotes at close. EBADF if the descriptor is not open, EINVAL if it is no
    /// process's pidfd. Holding the pidfd is the permission: no `proc_restrict` check.
    pub(crate) fn from_pidfd(kev: &KEvent) -> Result<(Pin<KBox<Self>>, ARef<File>)> {
        let file = super::fd::fget(kev.ident)?;
        // SAFETY: `file` is a live file; the helper takes a reference on the pid.
        let pid = unsafe { kq_pidfd_pid(file.as_ptr().cast()) };
        if pid.is_null() {
            return Err(EINVAL);
        }
        let pid = PidRef(pid.cast());
        let ns = current_pid_ns()?;
        Ok((Self::new(pid, ns, GFP_KERNEL_ACCOUNT)?, file))
    }

    /// Hooks `kn` (EVFILT_PROCDESC) to the exit of the process alone. If the process is
    /// dead already, NOTE_EXIT fires now; if it was reaped before, its wait status is
    /// gone (pidfs keeps it where no module can read it) and `data` is 0.
    pub(crate) fn attach_exit(&self, kn: &Knote) {
        self.hang(kn);
        let mut status = 0;
        // SAFETY: `pid` is counted.
        if unsafe { kq_proc_exit_status(self.pid.0.cast(), &mut status) } != 0 {
            exited(kn, status);
        }
    }

    /// Unhooks `kn` from the exit of the process (all that EVFILT_PROCDESC hooks).
    pub(crate) fn detach_exit(&self) {
        // SAFETY: The entry was queued by `hang` (or `head` is NULL); `wait_pidfd` never
        // POLLFREEs, `wait_remove` copes with both.
        unsafe { wait_remove(self.entry.get(), self.head.get()) };
    }

    /// `pid`'s number in the watcher's namespace (0 if it has none there).
    fn nr(&self, pid: *mut bindings::pid) -> i32 {
        // SAFETY: `pid` is live (the caller holds it); `ns` is counted.
        unsafe { bindings::pid_nr_ns(pid, self.ns.as_ptr()) }
    }

    /// Hooks `kn` (whose source this is) to the process: registry, then exit wake-ups.
    /// If the process is already dead, NOTE_EXIT fires now; ESRCH if it is reaped.
    pub(crate) fn attach(&self, kn: &Arc<Knote>) -> Result {
        let node = RBTreeNodeReservation::new(GFP_KERNEL_ACCOUNT)?;
        let item = ListArc::try_from_arc(kn.clone()).map_err(|_| EINVAL)?;
        let mut reg = REGISTRY.lock();
        let tree = reg.get_or_insert_with(RBTree::new);
        register(tree, self.pid.0, item, node);
        drop(reg);
        self.hang(kn);
        let mut status = 0;
        // SAFETY: `pid` is counted.
        match unsafe { kq_proc_exit_status(self.pid.0.cast(), &mut status) } {
            1 => exited(kn, status),
            0 => {}
            _ => {
                self.detach(kn);
                return Err(ESRCH);
            }
        }
        Ok(())
    }

    /// Puts the wait entry on the process's `wait_pidfd` queue.
    fn hang(&self, kn: &Knote) {
        // SAFETY: `pid` is counted, so its queue lives; the entry is pinned in this hook,
        // which the knote keeps until `detach` took it off again.
        unsafe {
            let head = &raw mut (*self.pid.0).wait_pidfd;
            crate::poll::init_wait_entry(
                self.entry.get(),
                Some(exit_wake),
                ptr::from_ref(kn).cast_mut().cast(),
            );
            *self.head.get() = head;
            bindings::add_wait_queue(head, self.entry.get());
        }
    }

    /// Unhooks `kn`: after this no hook of this source runs for it.
    pub(crate) fn detach(&self, kn: &Knote) {
        let key = self.pid.0 as usize;
        let mut reg = REGISTRY.lock();
        if let Some(tree) = reg.as_mut() {
            if let Some(list) = tree.get_mut(&key) {
                // SAFETY: A knote is only ever on the registry list of its own process.
                if unsafe { list.remove(kn) }.is_some() {
                    WATCHED.fetch_add(-1, Relaxed);
                }
                if list.is_empty() {
                    tree.remove(&key);
                }
            }
        }
        drop(reg);
        self.detach_exit();
    }
}

/// Knotes by process (`struct pid` address); `None` until the first EVFILT_PROC knote.
type Registry = Option<RBTree<usize, List<Knote, 2>>>;

kernel::sync::global_lock! {
    // SAFETY: Initialised by `init` in the module initialiser, before the device exists.
    unsafe(uninit) static REGISTRY: SpinLock<Registry> = None;
}

/// Number of knotes in the registry: the probes' one check.
static WATCHED: Atomic<i64> = Atomic::new(0);

/// Numbers of NOTE_CHILD knotes (the `sub` of their keys).
static CHILD_NOTES: Atomic<u32> = Atomic::new(0);

/// Adds `item` to the list of `pid`, making it with `node` if it has none yet.
fn register(
    tree: &mut RBTree<usize, List<Knote, 2>>,
    pid: *mut bindings::pid,
    item: ListArc<Knote, 2>,
    node: RBTreeNodeReservation<usize, List<Knote, 2>>,
) {
    let key = pid as usize;
    WATCHED.fetch_add(1, Relaxed);
    if let Some(list) = tree.get_mut(&key) {
        list.push_back(item);
    } else {
        let mut list = List::new();
        list.push_back(item);
        tree.insert(node.into_node(key, list));
    }
}

/// The `wait_pidfd` wake callback: NOTE_EXIT once the process is reapable.
///
/// # Safety
///
/// Called by the wait queue code for an entry hooked by [`ProcHook::hang`].
unsafe extern "C" fn exit_wake(
    entry: *mut bindings::wait_queue_entry,
    _mode: c_uint,
    _sync: c_int,
    _key: *mut c_void,
) -> c_int {
    // SAFETY: `private` is the knote set by `hang`; it lives while the entry is queued.
    let kn = unsafe { &*(*entry).private.cast::<Knote>() };
    if let Some(source) = ProcState::source_of(&kn.source) {
        let mut status = 0;
        // SAFETY: The hook holds `pid`.
        if unsafe { kq_proc_exit_status(source.hook.pid.0.cast(), &mut status) } == 1 {
            exited(kn, status);
        }
    }
    0
}

/// The process of `kn` is dead with wait status `status`.
fn exited(kn: &Knote, status: i32) {
    activate::<ProcState>(kn, |p, a| {
        a.end();
        p.exited(status)
    });
}

/// `sched_process_fork` probe.
///
/// # Safety
///
/// Called by the tracepoint with live tasks.
unsafe extern "C" fn fork_probe(
    _data: *mut c_void,
    parent: *mut bindings::task_struct,
    child: *mut bindings::task_struct,
) {
    if WATCHED.load(Relaxed) == 0 {
        return;
    }
    // SAFETY: Live tasks, per the tracepoint.
    unsafe {
        if task_is_process(child) {
            forked(task_tgid(parent), task_tgid(child));
        }
    }
}

/// `sched_process_exec` probe.
///
/// # Safety
///
/// Called by the tracepoint with the live task that executed a program.
unsafe extern "C" fn exec_probe(
    _data: *mut c_void,
    task: *mut bindings::task_struct,
    _old_pid: bindings::pid_t,
    _bprm: *mut bindings::linux_binprm,
) {
    if WATCHED.load(Relaxed) == 0 {
        return;
    }
    // SAFETY: A live task.
    let key = unsafe { task_tgid(task) } as usize;
    let reg = REGISTRY.lock();
    if let Some(list) = reg.as_ref().and_then(|tree| tree.get(&key)) {
        for kn in list.iter() {
            fire(&kn, NOTE_EXEC);
        }
    }
}

/// Process `parent` forked process `child` (not running yet): NOTE_FORK, and for
/// NOTE_TRACK knotes a NOTE_CHILD event and a knote on the child.
fn forked(parent: *mut bindings::pid, child: *mut bindings::pid) {
    let mut reg = REGISTRY.lock();
    let Some(tree) = reg.as_mut() else { return };
    let Some(list) = tree.get(&(parent as usize)) else {
        return;
    };
    let mut tracked = List::<Knote, 2>::new();
    let mut node = None;
    let child_listed = tree.get(&(child as usize)).is_some();
    for kn in list.iter() {
        let mut seen = None;
        activate::<ProcState>(&kn, |p, a| {
            seen = Some((*a.kev(), p.sfflags));
            p.note(NOTE_FORK)
        });
        let Some((kev, sfflags)) = seen else { continue };
        if sfflags & NOTE_TRACK == 0 {
            continue;
        }
        if node.is_none() && !child_listed {
            node = RBTreeNodeReservation::new(GFP_ATOMIC).ok();
        }
        let added = if node.is_some() || child_listed {
            track(&kn, &kev, sfflags, parent, child, &mut tracked)
        } else {
            Err(ENOMEM)
        };
        if added.is_err() {
            fire_trackerr(&kn);
        }
    }
    if !tracked.is_empty() {
        let key = child as usize;
        if let Some(list) = tree.get_mut(&key) {
            list.push_all_back(&mut tracked);
        } else if let Some(node) = node {
            tree.insert(node.into_node(key, tracked));
        }
    }
}

/// NOTE_TRACKERR on `kn`: a child could not be tracked.
fn fire_trackerr(kn: &Knote) {
    activate::<ProcState>(kn, |p, _| {
        p.fflags |= NOTE_TRACKERR;
        true
    });
}

/// NOTE_TRACK for the knote `parent_kn` (reporting `kev`, watching `sfflags`) at a fork
/// of `parent` into `child`: adds the child's own knote to the same kqueue, hooked up
/// in flux and put on `tracked`, and then the NOTE_CHILD event. On an error
/// (NOTE_TRACKERR) neither is added.
///
/// Runs in atomic context with the registry locked, which keeps `parent_kn`'s kqueue
/// alive (its release detaches `parent_kn` under the same lock) and serialises with it:
/// a kqueue being released refuses new knotes (EBADF).
fn track(
    parent_kn: &Knote,
    kev: &KEvent,
    sfflags: u32,
    parent: *mut bindings::pid,
    child: *mut bindings::pid,
    tracked: &mut List<Knote, 2>,
) -> Result {
    let Some(ProcSource { hook, .. }) = ProcState::source_of(&parent_kn.source) else {
        return Err(EINVAL);
    };
    // SAFETY: `parent_kn` is in the registry, whose lock we hold (see above).
    let kq: &Kqueue = unsafe { parent_kn.kq.get() };
    let ident = u64::try_from(hook.nr(child)).map_err(|_| ESRCH)?;
    if ident == 0 {
        return Err(ESRCH);
    }
    let event = |flags, fflags| KEvent {
        ident,
        filter: EVFILT_PROC,
        flags,
        fflags,
        data: 0,
        udata: kev.udata,
    };
    let sub = CHILD_NOTES.fetch_add(1, Relaxed).wrapping_add(1).max(1);
    let note = kq.new_hook_knote(
        KnoteKey {
            ident,
            filter: EVFILT_PROC,
            sub,
        },
        event(kev.flags | EV_ONESHOT, 0),
        ProcState::child_note(hook.nr(parent).into()).into(),
        Source::None,
    )?;
    // SAFETY: `child` is live: it is being forked.
    let pid = PidRef(unsafe { kq_get_pid(child.cast()) }.cast());
    let ns = hook.ns.clone();
    let child_hook = ProcHook::new(pid, ns, GFP_ATOMIC)?;
    let knote = kq.new_hook_knote(
        KnoteKey::new(ident, EVFILT_PROC),
        event(kev.flags & EV_PERSISTENT, 0),
        ProcState::watching(sfflags).into(),
        ProcState::into_source(ProcSource {
            hook: child_hook,
            pidfd: None,
        }),
    )?;
    // Both or neither: a NOTE_CHILD event is queued exactly for a tracked child.
    kq.charge_hook_knotes(2)?;
    let kn = match kq.add_hook_knote(knote, true) {
        Ok(kn) => kn,
        // Somebody registered the child first: that knote reports its events.
        Err(e) if e == EEXIST => return kq.add_hook_knote(note, false).map(|_| ()),
        Err(e) => {
            kq.uncharge_hook_knote();
            return Err(e);
        }
    };
    if let Some(source) = ProcState::source_of(&kn.source) {
        source.hook.hang(&kn);
    }
    if let Ok(item) = ListArc::try_from_arc(kn.clone()) {
        WATCHED.fetch_add(1, Relaxed);
        tracked.push_back(item);
    }
    let noted = kq.add_hook_knote(note, false).map(|_| ());
    kq.end_flux(&kn);
    noted
}

/// The tracepoint probes; dropping them unhooks EVFILT_PROC from the kernel.
pub(crate) struct Hooks {
    _fork: Probe,
    _exec: Probe,
}

impl Hooks {
    /// Initialises the registry and registers the probes; called at module load.
    pub(crate) fn register() -> Result<Self> {
        // SAFETY: Called once, from the module initialiser, before any use.
        unsafe { REGISTRY.init() };
        // SAFETY: The probes have the tracepoints' signatures and never sleep.
        unsafe {
            Ok(Self {
                _fork: Probe::register(c"sched_process_fork", fork_probe as *mut c_void)?,
                _exec: Probe::register(c"sched_process_exec", exec_probe as *mut c_void)?,
            })
        }
    }
}
