// SPDX-License-Identifier: GPL-2.0

//! kqueue for Linux: BSD kqueue/kevent semantics behind `/dev/kqueue`.
//!
//! Every open of `/dev/kqueue` is one kqueue; `KQUEUE_IOC_KEVENT` carries one
//! kevent() call (see `include/uapi/linux/kqueue.h`). The library in
//! `tools/lib/kqueue` turns this into libkqueue's API.

use kernel::prelude::*;

mod charge;
mod device;
mod fdmap;
mod ffi;
mod filter;
mod glue;
mod kevent;
mod knote;
mod nest;
mod poll;
mod queue;
mod stackvec;
mod tracepoint;
mod uapi;

module! {
    type: KqueueModule,
    name: "kqueue",
    authors: ["kqueue for Linux developers"],
    description: "BSD kqueue/kevent for Linux (/dev/kqueue)",
    license: "GPL",
    params: {
        max_user_knotes: i64 {
            default: 1048576,
            description: "Most knotes one user may have registered at once (ENOMEM past it)",
        },
        proc_restrict: u32 {
            default: 0,
            description: "1: EVFILT_PROC watches only processes of the same user, unless CAP_SYS_PTRACE",
        },
    },
}

#[pin_data(PinnedDrop)]
struct KqueueModule {
    #[pin]
    device: device::KqDevice,
    /// Dropped after the device: no kqueue (so no knote with a hook) is left.
    _filters: filter::Filters,
}

#[pinned_drop]
impl PinnedDrop for KqueueModule {
    fn drop(self: Pin<&mut Self>) {
        // No kqueue is open (the module is unloading): the registry is empty.
        charge::exit();
    }
}

impl kernel::InPlaceModule for KqueueModule {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        charge::init();
        nest::init();
        try_pin_init!(Self {
            // Before the device: a knote may need them as soon as it can be opened.
            _filters: filter::Filters::new()?,
            device <- device::KqDevice::register(),
        })
    }
}
