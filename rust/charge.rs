// SPDX-License-Identifier: GPL-2.0

//! Per-user accounting of knotes, capped by the `max_user_knotes` parameter
//! (like epoll's `max_user_watches`). Memory itself is charged to the
//! caller's memory cgroup through `GFP_KERNEL_ACCOUNT`.

use kernel::{
    bindings,
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc,
    },
    task::Kuid,
};

/// The knote count of one user, shared by all kqueues that user opened.
pub(crate) struct UserCharge {
    uid: bindings::kuid_t,
    knotes: Atomic<i64>,
    /// Number of open kqueues holding this entry; protected by the registry mutex.
    kqueues: Atomic<i64>,
}

impl UserCharge {
    /// Counts one more knote, or ENOMEM past `max`.
    pub(crate) fn charge(&self, max: i64) -> Result {
        if self.knotes.fetch_add(1, Relaxed) >= max {
            self.knotes.fetch_add(-1, Relaxed);
            return Err(ENOMEM);
        }
        Ok(())
    }

    /// Returns one knote's charge.
    pub(crate) fn uncharge(&self) {
        self.knotes.fetch_add(-1, Relaxed);
    }
}

/// The users that have a kqueue open.
pub(crate) struct UserRegistry {
    users: KVec<Arc<UserCharge>>,
}

kernel::sync::global_lock! {
    // SAFETY: Initialised by `init` in the module initialiser, before the device exists.
    unsafe(uninit) static USERS: Mutex<UserRegistry> = UserRegistry { users: KVec::new() };
}

/// Initialises the registry; called once at module load.
pub(crate) fn init() {
    // SAFETY: Called once, from the module initialiser, before any use.
    unsafe { USERS.init() };
}

/// Frees the registry's storage; called at module unload, when no kqueue is open.
pub(crate) fn exit() {
    USERS.lock().users = KVec::new();
}

/// Finds or creates the entry of the current effective user, for a new kqueue.
pub(crate) fn get_current() -> Result<Arc<UserCharge>> {
    let uid = Kuid::current_euid().into_raw();
    let mut reg = USERS.lock();
    if let Some(u) = reg.users.iter().find(|u| u.uid.val == uid.val) {
        u.kqueues.fetch_add(1, Relaxed);
        return Ok(u.clone());
    }
    let u = Arc::new(
        UserCharge {
            uid,
            knotes: Atomic::new(0),
            kqueues: Atomic::new(1),
        },
        GFP_KERNEL,
    )?;
    reg.users.push(u.clone(), GFP_KERNEL)?;
    Ok(u)
}

/// Drops a kqueue's hold on its user's entry, forgetting the user after its last kqueue.
pub(crate) fn put(charge: &Arc<UserCharge>) {
    let mut reg = USERS.lock();
    if charge.kqueues.fetch_add(-1, Relaxed) == 1 {
        reg.users.retain(|u| !Arc::ptr_eq(u, charge));
    }
}
