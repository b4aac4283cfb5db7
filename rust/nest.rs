// SPDX-License-Identifier: GPL-2.0

//! kqueues watching kqueues (EVFILT_READ on a kqueue descriptor).
//!
//! The edges form a graph kept under one global mutex, as epoll does with
//! `epnested_mutex`: adding an edge that closes a loop is ELOOP, and so is a
//! chain longer than [`MAX_NEST`] edges, which bounds the recursion of nested
//! wake-ups (and keeps lockdep subclasses in range).

use crate::queue::Kqueue;
use kernel::{bindings, prelude::*, sync::lock::GlobalLockedBy};

/// ELOOP (not among the kernel crate's error codes).
fn eloop() -> Error {
    Error::from_errno(-(bindings::ELOOP as i32))
}

/// Longest chain of kqueues watching kqueues, in edges.
pub(crate) const MAX_NEST: usize = 4;

kernel::sync::global_lock! {
    // SAFETY: Initialised by `init` in the module initialiser, before the device exists.
    pub(crate) unsafe(uninit) static NEST: Mutex<()> = ();
}

/// Initialises the graph lock; called once at module load.
pub(crate) fn init() {
    // SAFETY: Called once, from the module initialiser, before any use.
    unsafe { NEST.init() };
}

/// One kqueue's edges. Entries are addresses of live kqueues: an edge exists
/// only while the parent's knote holds the child's file, and it is removed
/// (under [`NEST`]) before that knote lets the file go.
pub(crate) struct NestInfo {
    parents: KVec<usize>,
    children: KVec<usize>,
}

/// A kqueue's place in the graph.
pub(crate) type Nest = GlobalLockedBy<NestInfo, NEST>;

/// A kqueue with no edges.
pub(crate) fn new() -> Nest {
    GlobalLockedBy::new(NestInfo {
        parents: KVec::new(),
        children: KVec::new(),
    })
}

type Guard = kernel::sync::lock::GlobalGuard<NEST>;

fn addr(kq: &Kqueue) -> usize {
    core::ptr::from_ref(kq) as usize
}

fn at<'a>(addr: usize) -> &'a Kqueue {
    // SAFETY: Graph entries are live kqueues while `NEST` is held (see `NestInfo`).
    unsafe { &*(addr as *const Kqueue) }
}

/// Longest path from `kq` along `edges`: its height (children) or depth (parents).
fn longest(g: &Guard, kq: &Kqueue, edges: fn(&NestInfo) -> &KVec<usize>) -> usize {
    edges(kq.nest().as_ref(g))
        .iter()
        .map(|&k| 1 + longest(g, at(k), edges))
        .max()
        .unwrap_or(0)
}

fn reaches(g: &Guard, from: &Kqueue, to: &Kqueue) -> bool {
    core::ptr::eq(from, to)
        || from
            .nest()
            .as_ref(g)
            .children
            .iter()
            .any(|&c| reaches(g, at(c), to))
}

/// Records that `parent` watches `child`: EINVAL for itself, ELOOP for a loop or a
/// chain past [`MAX_NEST`].
pub(crate) fn link(parent: &Kqueue, child: &Kqueue) -> Result {
    if core::ptr::eq(parent, child) {
        return Err(EINVAL);
    }
    let mut g = NEST.lock();
    let depth = longest(&g, parent, |n| &n.parents);
    let height = longest(&g, child, |n| &n.children);
    if reaches(&g, child, parent) || depth + 1 + height > MAX_NEST {
        return Err(eloop());
    }
    let (p, c) = (addr(parent), addr(child));
    parent.nest().as_mut(&mut g).children.push(c, GFP_KERNEL)?;
    if let Err(e) = child.nest().as_mut(&mut g).parents.push(p, GFP_KERNEL) {
        parent.nest().as_mut(&mut g).children.pop();
        return Err(e.into());
    }
    Ok(())
}

/// Removes one `parent` -> `child` edge recorded by [`link`].
pub(crate) fn unlink(parent: &Kqueue, child: &Kqueue) {
    let (p, c) = (addr(parent), addr(child));
    let mut g = NEST.lock();
    remove_one(&mut parent.nest().as_mut(&mut g).children, c);
    remove_one(&mut child.nest().as_mut(&mut g).parents, p);
}

fn remove_one(v: &mut KVec<usize>, x: usize) {
    if let Some(i) = v.iter().position(|&y| y == x) {
        // The index was just found, so removal cannot fail.
        let _ = v.remove(i);
    }
}
