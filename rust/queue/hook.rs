// SPDX-License-Identifier: GPL-2.0

//! Knotes a hook adds from atomic context (EVFILT_PROC's NOTE_TRACK).
//!
//! The hook charges them beforehand, all or none ([`Kqueue::charge_hook_knotes`]),
//! allocates them without sleeping ([`Kqueue::new_hook_knote`]) and adds them under
//! the lock ([`Kqueue::add_hook_knote`]), maybe in flux: scans skip such a knote
//! until [`Kqueue::end_flux`] (see `flux.rs`).
//!
//! Serialisation with close: `release` marks the kqueue closing and unlinks every
//! knote in one lock hold, and [`Kqueue::add_hook_knote`] refuses a closing kqueue,
//! so no knote is added after it.

use super::Kqueue;
use crate::{
    filter::FilterState,
    knote::{Knote, KnoteKey, KnoteState, KN_ACTIVE},
    uapi::KEvent,
};
use kernel::{
    prelude::*,
    rbtree::RBTreeNodeReservation,
    sync::{Arc, LockedBy},
};

impl Kqueue {
    /// Allocates, without sleeping, a knote a hook adds to this kqueue (NOTE_TRACK):
    /// `key`, reporting `kev`, with filter state `filter` and event source `source`.
    pub(crate) fn new_hook_knote(
        &self,
        key: KnoteKey,
        kev: KEvent,
        filter: FilterState,
        source: crate::filter::Source,
    ) -> Result<HookKnote> {
        let state = KnoteState {
            kev,
            status: 0,
            influx: 0,
            filter,
        };
        let knote = Arc::pin_init(
            Knote::new(key, self, None, source, LockedBy::new(&self.inner, state)),
            GFP_ATOMIC,
        )?;
        let reservation = RBTreeNodeReservation::new(GFP_ATOMIC)?;
        Ok(HookKnote { knote, reservation })
    }

    /// Charges `n` knotes a hook is about to add to the kqueue's user, all or none:
    /// ENOMEM past the user's cap.
    pub(crate) fn charge_hook_knotes(&self, n: usize) -> Result {
        for i in 0..n {
            if let Err(e) = self.charge.charge(self.max_knotes) {
                (0..i).for_each(|_| self.charge.uncharge());
                return Err(e);
            }
        }
        Ok(())
    }

    /// Returns the charge of a hook knote that will not be added after all.
    pub(crate) fn uncharge_hook_knote(&self) {
        self.charge.uncharge();
    }

    /// Adds a knote made by [`Kqueue::new_hook_knote`], from any context, using one
    /// charge taken by [`Kqueue::charge_hook_knotes`]. If its filter has an event it is
    /// queued at once. With `in_flux` it stays in flux: the caller hooks it up and then
    /// calls [`Kqueue::end_flux`]. Nothing is added on error, and the charge is
    /// returned: EEXIST if the key is taken, EBADF if the kqueue is being released.
    pub(crate) fn add_hook_knote(&self, new: HookKnote, in_flux: bool) -> Result<Arc<Knote>> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let refused = if inner.closing {
            Some(EBADF)
        } else if inner.knotes.get(&new.knote.key).is_some() {
            Some(EEXIST)
        } else {
            None
        };
        if let Some(e) = refused {
            drop(guard);
            self.charge.uncharge();
            return Err(e);
        }
        let kn = new.knote.clone();
        let st = kn.state.access_mut(inner);
        st.influx = u32::from(in_flux);
        let mut ev = st.kev;
        if st.filter.deliver(&mut ev) {
            st.status |= KN_ACTIVE;
        }
        inner
            .knotes
            .insert(new.reservation.into_node(kn.key, new.knote));
        let woke = Self::enqueue(inner, kn.as_arc_borrow());
        drop(guard);
        if woke {
            self.wake(0);
        }
        Ok(kn)
    }
}

/// A knote a hook allocated in atomic context, before insertion.
pub(crate) struct HookKnote {
    knote: Arc<Knote>,
    reservation: RBTreeNodeReservation<KnoteKey, Arc<Knote>>,
}
