// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
//! Contract tests: the C header, the Rust ABI and kqueue() on a host without
//! the module. The exported symbols and SONAME of the built library are
//! checked by tests/check-build.sh (`make check`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::string::{String, ToString};
use std::vec::Vec;
use std::{format, fs, vec};

use crate::abi::{self, KEvent};

/// Every constant of the contract's table (section 1), with its value.
const CONTRACT: &[(&str, i64)] = &[
    ("EVFILT_READ", -1),
    ("EVFILT_WRITE", -2),
    ("EVFILT_AIO", -3),
    ("EVFILT_VNODE", -4),
    ("EVFILT_PROC", -5),
    ("EVFILT_SIGNAL", -6),
    ("EVFILT_TIMER", -7),
    ("EVFILT_NETDEV", -8),
    ("EVFILT_FS", -9),
    ("EVFILT_LIO", -10),
    ("EVFILT_USER", -11),
    ("EVFILT_LIBKQUEUE", -12),
    ("EVFILT_SYSCOUNT", 12),
    ("EV_ADD", 0x1),
    ("EV_DELETE", 0x2),
    ("EV_ENABLE", 0x4),
    ("EV_DISABLE", 0x8),
    ("EV_ONESHOT", 0x10),
    ("EV_CLEAR", 0x20),
    ("EV_RECEIPT", 0x40),
    ("EV_DISPATCH", 0x80),
    ("EV_SYSFLAGS", 0xF000),
    ("EV_FLAG1", 0x2000),
    ("EV_ERROR", 0x4000),
    ("EV_EOF", 0x8000),
    ("NOTE_FFNOP", 0),
    ("NOTE_FFAND", 0x40000000),
    ("NOTE_FFOR", 0x80000000),
    ("NOTE_FFCOPY", 0xc0000000),
    ("NOTE_FFCTRLMASK", 0xc0000000),
    ("NOTE_FFLAGSMASK", 0x00ffffff),
    ("NOTE_TRIGGER", 0x01000000),
    ("NOTE_LOWAT", 0x1),
    ("NOTE_DELETE", 0x1),
    ("NOTE_WRITE", 0x2),
    ("NOTE_EXTEND", 0x4),
    ("NOTE_ATTRIB", 0x8),
    ("NOTE_LINK", 0x10),
    ("NOTE_RENAME", 0x20),
    ("NOTE_REVOKE", 0x40),
    ("NOTE_TRUNCATE", 0x80),
    ("NOTE_EXIT", 0x80000000),
    ("NOTE_FORK", 0x40000000),
    ("NOTE_EXEC", 0x20000000),
    ("NOTE_PCTRLMASK", 0xf0000000),
    ("NOTE_PDATAMASK", 0x000fffff),
    ("NOTE_TRACK", 0x1),
    ("NOTE_TRACKERR", 0x2),
    ("NOTE_CHILD", 0x4),
    ("NOTE_SECONDS", 0x1),
    ("NOTE_USECONDS", 0x2),
    ("NOTE_NSECONDS", 0x4),
    ("NOTE_ABSOLUTE", 0x8),
    ("NOTE_VERSION", 1),
    ("NOTE_VERSION_STR", 2),
    ("NOTE_THREAD_SAFE", 3),
    ("NOTE_FORK_CLEANUP", 4),
    ("NOTE_DEBUG", 5),
    ("NOTE_DEBUG_PREFIX", 6),
    ("NOTE_DEBUG_FUNC", 7),
    ("NOTE_FILE_POLL_INTERVAL", 8),
    ("LIBKQUEUE", 1),
];

/// Constants beyond libkqueue's header, with FreeBSD's values where libkqueue
/// does not use them (NOTE_OPEN: FreeBSD's 0x80 is libkqueue's NOTE_TRUNCATE;
/// EVFILT_PROCDESC: FreeBSD's -8 is libkqueue's EVFILT_NETDEV, -14 is free;
/// EVFILT_EXCEPT and NOTE_OOB: FreeBSD has none, these are macOS's);
/// none may collide with a flag of the contract's table.
const EXTENSIONS: &[(&str, i64)] = &[
    ("EV_FORCEONESHOT", 0x100),
    ("EV_KEEPUDATA", 0x200),
    ("KQUEUE_CLOEXEC", 0x1),
    ("NOTE_CLOSE", 0x100),
    ("NOTE_CLOSE_WRITE", 0x200),
    ("NOTE_READ", 0x400),
    ("NOTE_OPEN", 0x800),
    ("EVFILT_EMPTY", -13),
    ("EVFILT_PROCDESC", -14),
    ("EVFILT_EXCEPT", -15),
    ("NOTE_OOB", 0x2),
];

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn header() -> PathBuf {
    crate_dir().join("include/kqueue/sys/event.h")
}

fn contract() -> BTreeMap<String, i64> {
    CONTRACT.iter().map(|&(n, v)| (n.to_string(), v)).collect()
}

/// The contract's constants and the extensions.
fn all_constants() -> impl Iterator<Item = &'static (&'static str, i64)> {
    CONTRACT.iter().chain(EXTENSIONS)
}

/// Parses a value such as `0x0040`, `(-12)` or `12`.
fn parse_value(s: &str) -> Option<i64> {
    let s = s.trim().trim_start_matches('(').trim_end_matches(')');
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let v = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => i64::from_str_radix(hex, 16).ok()?,
        None => s.parse().ok()?,
    };
    Some(if neg { -v } else { v })
}

/// Object-like `#define NAME VALUE` lines of the library's header with a number.
fn header_defines() -> BTreeMap<String, i64> {
    defines_of(&header())
}

/// Object-like `#define NAME VALUE` lines of the C header `path` with a number.
fn defines_of(path: &Path) -> BTreeMap<String, i64> {
    let text = fs::read_to_string(path).expect("header is readable");
    let mut defs = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("#define") else {
            continue;
        };
        let code = rest.split("/*").next().unwrap_or("");
        let mut words = code.split_whitespace();
        let Some(name) = words.next() else { continue };
        if name.contains('(') {
            continue; // EV_SET
        }
        let value: String = words.collect();
        if let Some(v) = parse_value(&value) {
            assert!(
                defs.insert(name.to_string(), v).is_none(),
                "{name} defined twice"
            );
        }
    }
    defs
}

/// `pub(crate) const NAME: TYPE = VALUE;` lines of the module's `rust/uapi.rs` whose value
/// is a number (not an expression).
fn module_constants() -> BTreeMap<String, i64> {
    let path = crate_dir().join("../../../rust/uapi.rs");
    let text = fs::read_to_string(path).expect("rust/uapi.rs is readable");
    let mut consts = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.trim().strip_prefix("pub(crate) const ") else {
            continue;
        };
        let Some((name, rest)) = rest.split_once(':') else {
            continue;
        };
        let Some((_, value)) = rest.split_once('=') else {
            continue;
        };
        let value = value.trim().trim_end_matches(';').replace('_', "");
        if let Some(v) = parse_value(&value) {
            consts.insert(name.trim().to_string(), v);
        }
    }
    consts
}

/// The ABI's values are defined in include/uapi/linux/kqueue.h; rust/uapi.rs writes them
/// again by hand. Every filter, flag and note of rust/uapi.rs must have kqueue.h's value,
/// every one of kqueue.h the library header's (so the library and the selftests agree),
/// and every ioctl constant of rust/uapi.rs the value of its `KQUEUE_` name in kqueue.h.
#[test]
fn module_constants_match_the_headers() {
    let module = module_constants();
    let lib = header_defines();
    let uapi = defines_of(&crate_dir().join("../../../include/uapi/linux/kqueue.h"));
    let is_event_name =
        |n: &str| n.starts_with("EVFILT_") || n.starts_with("EV_") || n.starts_with("NOTE_");
    assert!(module.len() > 50, "rust/uapi.rs not parsed: {module:?}");
    for (name, v) in &module {
        if is_event_name(name) {
            assert_eq!(
                uapi.get(name),
                Some(v),
                "{name}: rust/uapi.rs against <linux/kqueue.h>"
            );
        } else if let Some(u) = uapi.get(&format!("KQUEUE_{name}")) {
            assert_eq!(u, v, "{name}: rust/uapi.rs against <linux/kqueue.h>");
        }
    }
    let event_names: Vec<_> = uapi.iter().filter(|(n, _)| is_event_name(n)).collect();
    assert!(
        event_names.len() > 60,
        "kqueue.h not parsed: {event_names:?}"
    );
    for (name, v) in event_names {
        assert_eq!(
            lib.get(name),
            Some(v),
            "{name}: <linux/kqueue.h> against <sys/event.h>"
        );
    }
    assert_eq!(module.get("ABI_VERSION"), uapi.get("KQUEUE_ABI_VERSION"));
    assert_eq!(
        module.get("KEVENT_ARGS_SIZE_VER0"),
        uapi.get("KQUEUE_KEVENT_ARGS_SIZE_VER0")
    );
}

#[test]
fn header_defines_exactly_the_contract_constants() {
    let defs = header_defines();
    let want: BTreeMap<_, _> = all_constants().map(|&(n, v)| (n.to_string(), v)).collect();
    for (name, v) in &want {
        assert_eq!(defs.get(name), Some(v), "{name} in the header");
    }
    let extra: Vec<_> = defs.keys().filter(|n| !want.contains_key(*n)).collect();
    assert!(
        extra.is_empty(),
        "header defines more than the contract and its extensions: {extra:?}"
    );
    // FreeBSD 15's KQUEUE_CPONFORK is not supported: programs test for it.
    assert!(!defs.contains_key("KQUEUE_CPONFORK"));
}

#[test]
fn extension_flags_do_not_collide() {
    let c = contract();
    let taken = [
        "EV_ADD",
        "EV_DELETE",
        "EV_ENABLE",
        "EV_DISABLE",
        "EV_ONESHOT",
        "EV_CLEAR",
    ]
    .into_iter()
    .chain([
        "EV_RECEIPT",
        "EV_DISPATCH",
        "EV_SYSFLAGS",
        "EV_FLAG1",
        "EV_ERROR",
    ])
    .chain(["EV_EOF"])
    .fold(0, |acc, n| acc | c[n]);
    let ext = abi::EV_FORCEONESHOT | abi::EV_KEEPUDATA;
    assert_eq!(i64::from(ext) & taken, 0);
    assert_eq!(abi::EV_FORCEONESHOT & abi::EV_KEEPUDATA, 0);
}

#[test]
fn rust_constants_match_the_contract() {
    let c = contract();
    assert_eq!(abi::EVFILT_LIBKQUEUE as i64, c["EVFILT_LIBKQUEUE"]);
    assert_eq!(abi::EV_RECEIPT as i64, c["EV_RECEIPT"]);
    assert_eq!(abi::EV_ERROR as i64, c["EV_ERROR"]);
    for (name, v) in [
        ("EV_FORCEONESHOT", i64::from(abi::EV_FORCEONESHOT)),
        ("EV_KEEPUDATA", i64::from(abi::EV_KEEPUDATA)),
        ("KQUEUE_CLOEXEC", i64::from(abi::KQUEUE_CLOEXEC)),
        ("EVFILT_EMPTY", i64::from(abi::EVFILT_EMPTY)),
        ("EVFILT_PROCDESC", i64::from(abi::EVFILT_PROCDESC)),
        ("EVFILT_EXCEPT", i64::from(abi::EVFILT_EXCEPT)),
        ("NOTE_OOB", i64::from(abi::NOTE_OOB)),
    ] {
        assert!(EXTENSIONS.contains(&(name, v)), "{name}");
    }
    for (name, v) in [
        ("NOTE_VERSION", abi::NOTE_VERSION),
        ("NOTE_VERSION_STR", abi::NOTE_VERSION_STR),
        ("NOTE_THREAD_SAFE", abi::NOTE_THREAD_SAFE),
        ("NOTE_FORK_CLEANUP", abi::NOTE_FORK_CLEANUP),
        ("NOTE_DEBUG", abi::NOTE_DEBUG),
        ("NOTE_DEBUG_PREFIX", abi::NOTE_DEBUG_PREFIX),
        ("NOTE_DEBUG_FUNC", abi::NOTE_DEBUG_FUNC),
        ("NOTE_FILE_POLL_INTERVAL", abi::NOTE_FILE_POLL_INTERVAL),
    ] {
        assert_eq!(v as i64, c[name], "{name}");
    }
}

#[test]
fn rust_layout_matches_the_contract() {
    use core::mem::{offset_of, size_of};
    assert_eq!(size_of::<KEvent>(), 32);
    let offsets = [
        offset_of!(KEvent, ident),
        offset_of!(KEvent, filter),
        offset_of!(KEvent, flags),
        offset_of!(KEvent, fflags),
        offset_of!(KEvent, data),
        offset_of!(KEvent, udata),
    ];
    assert_eq!(offsets, [0, 8, 10, 12, 16, 24]);
    assert_eq!(size_of::<abi::KeventArgs>(), 48);
    assert_eq!(offset_of!(abi::KeventArgs, nchanges_done), 40);
    assert_eq!(offset_of!(abi::KeventArgs, reserved), 44);
    // _IOWR(0xbe, 1, 48 bytes)
    assert_eq!(abi::KQUEUE_IOC_KEVENT, 0xc030_be01);
    assert_eq!(abi::KQUEUE_KEVENT_STOP_AT_LIBKQUEUE, 0x2);
    assert_eq!(abi::KQUEUE_OPEN_FLAGS, libc::O_RDWR | libc::O_CLOEXEC);
}

/// Compiles `source` with the C (or C++) compiler; `run` also links and
/// runs it. Panics with the compiler's output on failure.
fn compile(name: &str, lang: &str, source: &str, extra: &[&str], run: bool) {
    let dir = Path::new(env!("OUT_DIR")).join("c-tests");
    fs::create_dir_all(&dir).unwrap();
    let ext = if lang == "c" { "c" } else { "cc" };
    let src = dir.join(format!("{name}.{ext}"));
    let bin = dir.join(name);
    fs::write(&src, source).unwrap();
    let cc = if lang == "c" { "cc" } else { "c++" };
    let include = format!("-I{}", crate_dir().join("include/kqueue").display());
    let mut cmd = Command::new(cc);
    cmd.args(["-Wall", "-Wextra", "-Werror", "-pedantic", &include])
        .args(extra)
        .arg(&src);
    if run {
        cmd.arg("-o").arg(&bin);
    } else {
        cmd.arg("-fsyntax-only");
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cc}: {e}"));
    assert!(
        out.status.success(),
        "{cc} {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    if run {
        let out = Command::new(&bin).output().unwrap();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

/// C static assertions for the layout, every contract constant and the
/// prototypes.
fn header_checks() -> String {
    let mut s = String::from(
        "#include <stddef.h>\n#include <sys/event.h>\n\
         #ifdef __cplusplus\n#define SA static_assert\n#else\n#define SA _Static_assert\n#endif\n\
         SA(sizeof(struct kevent) == 32, \"size\");\n\
         SA(offsetof(struct kevent, ident) == 0, \"ident\");\n\
         SA(offsetof(struct kevent, filter) == 8, \"filter\");\n\
         SA(offsetof(struct kevent, flags) == 10, \"flags\");\n\
         SA(offsetof(struct kevent, fflags) == 12, \"fflags\");\n\
         SA(offsetof(struct kevent, data) == 16, \"data\");\n\
         SA(offsetof(struct kevent, udata) == 24, \"udata\");\n\
         SA(sizeof(((struct kevent *)0)->filter) == 2, \"filter size\");\n\
         int (*p_kqueue)(void) = kqueue;\n\
         int (*p_kevent)(int, const struct kevent *, int, struct kevent *, int,\n\
                         const struct timespec *) = kevent;\n\
         void (*p_drain)(void) = libkqueue_drain_pending_close;\n\
         int (*p_kqueuex)(unsigned int) = kqueuex;\n\
         int (*p_kqueue1)(int) = kqueue1;\n",
    );
    for (name, v) in all_constants() {
        s += &format!("SA((long long){name} == {v}LL, \"{name}\");\n");
    }
    s += "#ifdef KQUEUE_CPONFORK\n#error KQUEUE_CPONFORK\n#endif\n";
    s
}

#[test]
fn header_compiles_as_c_and_cxx_with_contract_values() {
    let checks = header_checks();
    compile("header_c11", "c", &checks, &["-std=c11"], false);
    // The host deps install gcc but not necessarily g++.
    if Command::new("c++").arg("--version").output().is_ok() {
        compile("header_cxx", "c++", &checks, &["-std=c++11"], false);
    } else {
        std::eprintln!("no c++ compiler: C++ check of the header skipped");
    }
    let c89 = "#include <sys/event.h>\n\
               int f(struct kevent *k, const struct timespec *t);\n\
               int f(struct kevent *k, const struct timespec *t)\n\
               {\n\
               \tEV_SET(k, 1, EVFILT_READ, EV_ADD, 0, 0, 0);\n\
               \treturn kevent(kqueue(), k, 1, k, 1, t);\n\
               }\n";
    compile("header_c89", "c", c89, &["-std=c89"], false);
}

#[test]
fn ev_set_evaluates_each_argument_once() {
    let prog = r#"
#include <stdio.h>
#include <sys/event.h>
int main(void)
{
	struct kevent kev[1] = {{0}};
	int i = 0;
	EV_SET(&kev[i++], 7, EVFILT_USER, EV_ADD | EV_CLEAR, NOTE_FFCOPY | 5,
	       -3, (void *)&kev);
	if (i != 1 || kev[0].ident != 7 || kev[0].filter != -11 ||
	    kev[0].flags != 0x21 || kev[0].fflags != 0xc0000005u ||
	    kev[0].data != -3 || kev[0].udata != (void *)&kev) {
		printf("EV_SET stored the wrong values\n");
		return 1;
	}
	return 0;
}
"#;
    compile("ev_set", "c", prog, &["-std=c99"], true);
}

#[test]
fn kernel_uapi_and_library_header_agree() {
    let uapi = crate_dir().join("../../../include/uapi");
    assert!(
        uapi.join("linux/kqueue.h").exists(),
        "uapi header at {uapi:?}"
    );
    let mut s = header_checks();
    s += "#include <linux/kqueue.h>\n\
        SA(sizeof(struct kqueue_event) == sizeof(struct kevent), \"event size\");\n\
        SA(offsetof(struct kqueue_event, filter) == offsetof(struct kevent, filter), \"f\");\n\
        SA(offsetof(struct kqueue_event, flags) == offsetof(struct kevent, flags), \"fl\");\n\
        SA(offsetof(struct kqueue_event, fflags) == offsetof(struct kevent, fflags), \"ff\");\n\
        SA(offsetof(struct kqueue_event, data) == offsetof(struct kevent, data), \"d\");\n\
        SA(offsetof(struct kqueue_event, udata) == offsetof(struct kevent, udata), \"u\");\n\
        SA(sizeof(struct kqueue_kevent_args) == KQUEUE_KEVENT_ARGS_SIZE_VER0, \"args\");\n\
        SA(offsetof(struct kqueue_kevent_args, timeout) == 32, \"timeout\");\n\
        SA(offsetof(struct kqueue_kevent_args, nchanges_done) == 40, \"done\");\n\
        SA(offsetof(struct kqueue_kevent_args, __reserved) == 44, \"reserved\");\n\
        SA(sizeof(((struct kqueue_kevent_args *)0)->nchanges_done) == 4, \"done size\");\n\
        SA(sizeof(struct kqueue_wait) == 16, \"wait\");\n\
        SA(offsetof(struct kqueue_wait, timeout) == 8, \"wait timeout\");\n";
    s += &format!(
        "SA(KQUEUE_IOC_KEVENT == {}u, \"ioctl\");\n\
         SA(KQUEUE_KEVENT_NO_COLLECT == {}, \"no collect\");\n\
         SA(KQUEUE_KEVENT_STOP_AT_LIBKQUEUE == {}, \"stop\");\n\
         SA(KQUEUE_KEVENT_ARGS_SIZE_VER0 == {}, \"size\");\n\
         SA(KQUEUE_WAIT_MAX_EVENTS == {}, \"wait max\");\n\
         SA(KQUEUE_IOC_WAIT(1) == {}u, \"wait 1\");\n\
         SA(KQUEUE_IOC_WAIT(KQUEUE_WAIT_MAX_EVENTS) == {}u, \"wait max ioctl\");\n",
        abi::KQUEUE_IOC_KEVENT,
        abi::KQUEUE_KEVENT_NO_COLLECT,
        abi::KQUEUE_KEVENT_STOP_AT_LIBKQUEUE,
        abi::KQUEUE_KEVENT_ARGS_SIZE_VER0,
        abi::KQUEUE_WAIT_MAX_EVENTS,
        abi::kqueue_ioc_wait(1),
        abi::kqueue_ioc_wait(abi::KQUEUE_WAIT_MAX_EVENTS)
    );
    let inc = format!("-I{}", uapi.display());
    compile("uapi", "c", &s, &["-std=gnu11", &inc], false);
}

#[test]
fn kqueue_without_module_is_enosys() {
    let present = Path::new("/dev/kqueue").exists();
    crate::sys::set_errno(0);
    let fd = crate::kqueue();
    if present {
        assert!(fd >= 0, "kqueue() with /dev/kqueue present");
        // SAFETY: our descriptor.
        unsafe { libc::close(fd) };
    } else {
        assert_eq!((fd, crate::sys::errno()), (-1, libc::ENOSYS));
    }
}

/// kqueuex() and kqueue1(): the flags each accepts, and close-on-exec as
/// they ask (with the module loaded), or ENOSYS (without).
#[test]
fn kqueuex_and_kqueue1_flags() {
    let present = Path::new("/dev/kqueue").exists();
    /// A call, and the close-on-exec it must give (None: EINVAL).
    type Call = (&'static str, fn() -> libc::c_int, Option<bool>);
    let calls: [Call; 9] = [
        ("kqueuex(0)", || crate::kqueuex(0), Some(false)),
        ("kqueuex(CLOEXEC)", || crate::kqueuex(1), Some(true)),
        ("kqueuex(CPONFORK)", || crate::kqueuex(2), None),
        ("kqueuex(CLOEXEC|CPONFORK)", || crate::kqueuex(3), None),
        ("kqueuex(0x100)", || crate::kqueuex(0x100), None),
        ("kqueue1(0)", || crate::kqueue1(0), Some(false)),
        (
            "kqueue1(O_CLOEXEC)",
            || crate::kqueue1(libc::O_CLOEXEC),
            Some(true),
        ),
        (
            "kqueue1(O_NONBLOCK)",
            || crate::kqueue1(libc::O_NONBLOCK),
            Some(false),
        ),
        (
            "kqueue1(O_CLOEXEC|O_APPEND)",
            || crate::kqueue1(libc::O_CLOEXEC | libc::O_APPEND),
            None,
        ),
    ];
    for (what, call, cloexec) in calls {
        crate::sys::set_errno(0);
        let fd = call();
        let errno = crate::sys::errno();
        match (cloexec, present) {
            (None, _) => assert_eq!((fd, errno), (-1, libc::EINVAL), "{what}"),
            (Some(_), false) => assert_eq!((fd, errno), (-1, libc::ENOSYS), "{what}"),
            (Some(cloexec), true) => {
                assert!(fd >= 0, "{what}: errno {errno}");
                // SAFETY: F_GETFD/F_GETFL on our descriptor, then close it.
                let (fdflags, flflags) = unsafe {
                    (
                        libc::fcntl(fd, libc::F_GETFD),
                        libc::fcntl(fd, libc::F_GETFL),
                    )
                };
                // SAFETY: our descriptor.
                unsafe { libc::close(fd) };
                assert_eq!(fdflags == libc::FD_CLOEXEC, cloexec, "{what}");
                assert_eq!(
                    flflags & libc::O_NONBLOCK,
                    0,
                    "{what}: O_NONBLOCK is ignored"
                );
            }
        }
    }
}

#[test]
fn open_errors_map_missing_device_to_enosys() {
    let got: Vec<_> = [
        libc::ENOENT,
        libc::ENODEV,
        libc::ENXIO,
        libc::EACCES,
        libc::EMFILE,
    ]
    .into_iter()
    .map(crate::open_errno)
    .collect();
    assert_eq!(
        got,
        vec![
            libc::ENOSYS,
            libc::ENOSYS,
            libc::ENOSYS,
            libc::EACCES,
            libc::EMFILE
        ]
    );
}

#[test]
fn drain_pending_close_is_a_no_op() {
    crate::sys::set_errno(1234);
    crate::libkqueue_drain_pending_close();
    assert_eq!(crate::sys::errno(), 1234);
}
