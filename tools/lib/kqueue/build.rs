// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
//! Link settings for libkqueue.so.0.

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR is set by cargo");
    // Same SONAME as libkqueue, so programs built against it run unchanged.
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libkqueue.so.0");
    // Export exactly the three libkqueue entry points (rustc's own export
    // list for a cdylib is the same set; this makes it explicit).
    println!("cargo:rustc-cdylib-link-arg=-Wl,--version-script={dir}/libkqueue.map");
    println!("cargo:rerun-if-changed=libkqueue.map");
    println!("cargo:rerun-if-changed=build.rs");
}
