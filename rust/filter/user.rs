// SPDX-License-Identifier: GPL-2.0

//! EVFILT_USER: events triggered by the program itself.

use super::{Filter, NoSource};
use crate::uapi::{
    KEvent, EVFILT_USER, EV_CLEAR, NOTE_FFAND, NOTE_FFCOPY, NOTE_FFCTRLMASK, NOTE_FFLAGSMASK,
    NOTE_FFOR, NOTE_TRIGGER,
};

/// State of one EVFILT_USER knote.
#[derive(Default)]
pub(crate) struct UserState {
    triggered: bool,
    fflags: u32,
    data: i64,
}

impl Filter for UserState {
    const FILTERS: &'static [i16] = &[EVFILT_USER];
    type Source = NoSource;

    fn new(_kev: &KEvent) -> Self {
        Self::default()
    }

    /// NOTE_TRIGGER fires; the control bits combine the low 24 bits into the stored
    /// fflags; `data` is taken from the change (FreeBSD's `kn_sdata`). EV_CLEAR in a
    /// change to an existing knote (`new` false) untriggers it, after NOTE_TRIGGER, as
    /// FreeBSD's `filt_usertouch` does; the fflags stay.
    fn touch(&mut self, kev: &KEvent, _: Option<&NoSource>, _kn_flags: u16, new: bool) -> bool {
        if kev.fflags & NOTE_TRIGGER != 0 {
            self.triggered = true;
        }
        let ff = kev.fflags & NOTE_FFLAGSMASK;
        match kev.fflags & NOTE_FFCTRLMASK {
            NOTE_FFAND => self.fflags &= ff,
            NOTE_FFOR => self.fflags |= ff,
            NOTE_FFCOPY => self.fflags = ff,
            // NOTE_FFNOP: keep the stored fflags.
            _ => {}
        }
        self.data = kev.data;
        if !new && kev.flags & EV_CLEAR != 0 {
            self.triggered = false;
        }
        self.triggered
    }

    /// Reports the stored fflags and data while triggered.
    fn deliver(&self, ev: &mut KEvent) -> bool {
        ev.fflags = self.fflags;
        ev.data = self.data;
        self.triggered
    }

    /// EV_CLEAR: back to untriggered. The stored fflags and data stay: FreeBSD reports
    /// `kn_sfflags` and `kn_sdata`, which delivery does not reset, and libkqueue clears
    /// only NOTE_TRIGGER.
    fn clear(&mut self) {
        self.triggered = false;
    }
}
