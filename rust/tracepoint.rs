// SPDX-License-Identifier: GPL-2.0

//! Probes on the kernel's own tracepoints (`sched_process_fork`, ...).
//!
//! `kernel::tracepoint` only declares new tracepoints; existing ones are found
//! by name with `for_each_kernel_tracepoint` and probed with
//! `tracepoint_probe_register`. Probes run in an SRCU (or RCU) read-side
//! section: atomic context, they must not sleep. Dropping a [`Probe`]
//! unregisters it and waits until no call of it is running, so the module's
//! code may go away afterwards.

use crate::ffi::kq_tracepoint_sync;
use kernel::{bindings, error::to_result, ffi::c_void, prelude::*, str::CStr};

/// A registered probe.
pub(crate) struct Probe {
    tp: *mut bindings::tracepoint,
    func: *mut c_void,
}

// SAFETY: The tracepoint is a static kernel object; unregistering works from any thread.
unsafe impl Send for Probe {}
// SAFETY: `&Probe` gives no access to anything.
unsafe impl Sync for Probe {}

impl Probe {
    /// Registers `func` on the tracepoint `name`, with a NULL data pointer.
    ///
    /// # Safety
    ///
    /// `func` must be an `extern "C"` function whose signature is that of the
    /// tracepoint's probes (`void (*)(void *data, TP_PROTO)`), and safe to call in
    /// atomic context at any time until the [`Probe`] is dropped.
    pub(crate) unsafe fn register(name: &CStr, func: *mut c_void) -> Result<Self> {
        struct Lookup<'a> {
            name: &'a CStr,
            found: *mut bindings::tracepoint,
        }
        /// `for_each_kernel_tracepoint` callback: remembers the tracepoint named `name`.
        ///
        /// # Safety
        ///
        /// Called with a live tracepoint and the `Lookup` passed below.
        unsafe extern "C" fn find(tp: *mut bindings::tracepoint, data: *mut c_void) {
            // SAFETY: `data` is our `Lookup`; `tp` is a live tracepoint with a C-string name.
            unsafe {
                let lookup = &mut *data.cast::<Lookup<'_>>();
                if CStr::from_char_ptr((*tp).name) == lookup.name {
                    lookup.found = tp;
                }
            }
        }
        let mut lookup = Lookup {
            name,
            found: core::ptr::null_mut(),
        };
        // SAFETY: `find` matches the callback type; `lookup` outlives the call.
        unsafe { bindings::for_each_kernel_tracepoint(Some(find), (&raw mut lookup).cast()) };
        if lookup.found.is_null() {
            pr_err!("tracepoint {} not found\n", name.to_str().unwrap_or("?"));
            return Err(ENOENT);
        }
        // SAFETY: `found` is a live tracepoint; the caller vouches for `func`.
        to_result(unsafe {
            bindings::tracepoint_probe_register(lookup.found, func, core::ptr::null_mut())
        })?;
        Ok(Self {
            tp: lookup.found,
            func,
        })
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        // SAFETY: Registered in `register` with the same function and data.
        unsafe { bindings::tracepoint_probe_unregister(self.tp, self.func, core::ptr::null_mut()) };
        // SAFETY: Plain wait for running probes to finish; we may sleep here.
        unsafe { kq_tracepoint_sync() };
    }
}
