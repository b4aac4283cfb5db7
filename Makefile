# SPDX-License-Identifier: GPL-2.0
#
# kqueue for Linux: top-level build and test entry points.
#
#   make [modules]   build kqueue.ko against $(KDIR)
#   make run         boot the test VM, load kqueue.ko, run samples/kqdemo
#                    and then samples/kqwatch
#   make check       run the selftests in the test VM, then the library's
#                    host tests; the last line is "N passed, N failed"
#   make stress [DURATION=600] [SEED=n] [STRESS_THREADS=4]
#                    the stress and fuzz harness (selftests/kqueue/stress)
#                    alone in the test VM for DURATION seconds; prints the
#                    seed (random unless given), fails on any failed
#                    invariant or kernel warning
#   make bench       kqbench (kevent vs epoll) and procbench (EVFILT_PROC)
#                    in one VM boot on a non-debug kernel; prints the
#                    tables (not part of make check)
#   make bench-ab BASE=rev
#                    the module of revision rev against the working
#                    tree's, alternating in one boot (ratios per build)
#   make bench-insns [BASE=rev]
#                    instructions per kevent() vs epoll, counted by the
#                    emulated CPU (of rev too, if given)
#   make check-distro
#                    kqueue.ko built in a debootstrap'd Debian trixie for
#                    Debian's own kernel (tools/distro/prepare.sh), the
#                    selftests in the test VM on that kernel's unmodified
#                    vmlinuz, and DKMS; the last line is "N passed, N failed"
#   make KDIR=auto [KRELEASE=r]
#                    build against an installed distribution kernel (the
#                    running one by default): see tools/distro/prepare.sh
#   make dkms-install / dkms-remove
#                    register the module with DKMS (dkms.conf), which builds
#                    and signs it for every installed and future kernel
#   make help        everything else
#
# KDIR defaults to the debug test kernel that tools/testing/vm/kernel.sh
# builds once into ~/.cache/kqueue-linux (after tools/testing/vm/deps.sh has
# installed the host packages). It is worked out only by targets that need a
# kernel, and only once per make run.

CLIPPY		?=
PREFIX		?= /usr/local
DESTDIR		?=

VM		:= tools/testing/vm
LIBDIR		:= tools/lib/kqueue
KSFTDIR		:= tools/testing/selftests/kqueue
BUILD		:= $(CURDIR)/build
VMDIR		:= $(BUILD)/vm
CACHE		:= $(or $(KQUEUE_CACHE),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/kqueue-linux)

# rustc, cargo and bindgen from rustup, also when the caller's PATH lacks them.
ifneq ($(wildcard $(HOME)/.cargo/bin),)
export PATH := $(HOME)/.cargo/bin:$(PATH)
endif

# $(KDIR): the kernel build tree. Expanded lazily and remembered.
# KDIR=auto: the build directory tools/distro/prepare.sh makes (once, then
# cached) for the installed distribution kernel $(KRELEASE), the running one
# by default.
KRELEASE	?=
kdir-given	:= $(filter-out undefined,$(origin KDIR))
ifeq ($(kdir-given),)
KDIR = $(eval KDIR := $(test-kernel))$(KDIR)
else ifeq ($(KDIR),auto)
override KDIR = $(eval override KDIR := $(distro-kernel))$(KDIR)
endif
distro-kernel = $(shell unset MAKEFLAGS MFLAGS MAKELEVEL; \
	tools/distro/prepare.sh $(KRELEASE))$(if \
	$(filter 0,$(.SHELLSTATUS)),,$(error preparing the kernel build directory failed))
# (Without our MAKEFLAGS: "make -n" must not turn the kernel build into a dry run.)
test-kernel = $(shell unset MAKEFLAGS MFLAGS MAKELEVEL; \
	$(VM)/deps.sh >&2 && $(VM)/kernel.sh debug)$(if \
	$(filter 0,$(.SHELLSTATUS)),,$(error building the test kernel failed))

# $(BENCH_KDIR): the non-debug benchmark kernel (make bench only), same idea.
ifeq ($(origin BENCH_KDIR),undefined)
BENCH_KDIR = $(eval BENCH_KDIR := $(bench-kernel))$(BENCH_KDIR)
endif
bench-kernel = $(shell unset MAKEFLAGS MFLAGS MAKELEVEL; \
	$(VM)/deps.sh >&2 && $(VM)/kernel.sh bench)$(if \
	$(filter 0,$(.SHELLSTATUS)),,$(error building the bench kernel failed))

# $(KSRC): kernel source tree (the selftests use its kselftest headers).
# O= builds link it as $(KDIR)/source; without a KDIR of your own, the cached
# source is used directly, so building the selftests needs no kernel build.
ifeq ($(origin KSRC),undefined)
KSRC = $(eval KSRC := $(kernel-source))$(KSRC)
endif
kernel-source = $(or \
	$(if $(kdir-given),,$(firstword $(wildcard $(CACHE)/src/linux-source-*))), \
	$(realpath $(KDIR)/source), \
	$(if $(wildcard $(KDIR)/tools/testing/selftests/kselftest_harness.h),$(KDIR)), \
	$(error no kernel source found for KDIR=$(KDIR); set KSRC=))

# $(LLVM): how the kernel at hand was built, read from its .config: a clang
# kernel takes modules built with LLVM=-<clang major> (-19), a gcc kernel
# (most distributions') LLVM unset. LLVM=... on the command line wins.
llvm-given	:= $(filter-out undefined default,$(origin LLVM))
kernel-llvm	= $(shell v=$$(sed -n 's/^CONFIG_CLANG_VERSION=//p' $(1)/.config 2>/dev/null); \
	[ -n "$$v" ] && [ "$$v" != 0 ] && echo -$$((v / 10000)))
ifeq ($(llvm-given),)
LLVM = $(eval LLVM := $(call kernel-llvm,$(KDIR)))$(LLVM)
BENCH_LLVM = $(call kernel-llvm,$(BENCH_KDIR))
else
BENCH_LLVM = $(LLVM)
endif

# The VM boots the kernel of $(KDIR).
BZIMAGE		?= $(KDIR)/arch/x86/boot/bzImage

kbuild		= $(MAKE) -C $(KDIR) M=$(CURDIR) LLVM=$(LLVM) $(if $(CLIPPY),CLIPPY=1)
rustfmt		= rustfmt --edition 2021 --config newline_style=Unix
rust-sources	= $(shell find rust -name '*.rs')

.PHONY: all modules modules_install lib selftests samples deps run check stress \
	bench bench-ab bench-insns clippy fmt fmtcheck install clean help \
	check-distro distro-prepare dkms-install dkms-remove

all: modules

modules:
	$(kbuild) modules

modules_install:
	$(kbuild) modules_install

lib:
	$(MAKE) -C $(LIBDIR)

selftests: lib
	$(MAKE) -C $(KSFTDIR) KSRC=$(KSRC) OUTPUT=$(BUILD)/selftests

samples: lib
	$(MAKE) -C samples OUTPUT=$(BUILD)/samples

deps:
	$(VM)/deps.sh

# make run / make check / make bench set up the host first.
ifneq ($(filter run check check-distro stress bench bench-ab bench-insns,$(MAKECMDGOALS)),)
modules lib selftests samples: deps
endif

run: modules samples
	$(VM)/initramfs.sh --module kqueue.ko --demo $(BUILD)/samples/kqdemo \
		--demo $(BUILD)/samples/kqwatch $(VMDIR)/run.cpio.gz
	$(VM)/run.sh demo $(BZIMAGE) $(VMDIR)/run.cpio.gz

check: modules selftests
	$(VM)/initramfs.sh --module kqueue.ko --selftests $(BUILD)/selftests \
		$(VMDIR)/check.cpio.gz
	$(VM)/run.sh check $(BZIMAGE) $(VMDIR)/check.cpio.gz -- \
		$(MAKE) -C $(LIBDIR) test

# Debian's own kernel: tools/testing/vm/check-distro.sh does it all (a
# trixie system in the cache builds the module; its selftests, the same as
# above, are built here).
check-distro: deps lib
	$(VM)/check-distro.sh

distro-prepare:
	@tools/distro/prepare.sh $(KRELEASE)

# DKMS (dkms.conf): the tree goes to /usr/src/kqueue-<version>, from where
# dkms builds it with "make KDIR=auto KRELEASE=<kernel>" for each kernel.
DKMS_VERSION	= $(shell sed -n 's/^PACKAGE_VERSION="\{0,1\}\([^"]*\)"\{0,1\}$$/\1/p' dkms.conf)
DKMS_SRC	= /usr/src/kqueue-$(DKMS_VERSION)
DKMS_KERNEL	= $(or $(KRELEASE),$(shell uname -r))

dkms-install:
	rm -rf $(DKMS_SRC)
	mkdir -p $(DKMS_SRC)
	cp dkms.conf Makefile Kbuild $(DKMS_SRC)/
	find rust include tools/distro -type f \( -name '*.rs' -o -name '*.[ch]' -o -name '*.sh' \) \
		-exec cp --parents -t $(DKMS_SRC) {} +
	dkms add -m kqueue -v $(DKMS_VERSION)
	dkms build -m kqueue -v $(DKMS_VERSION) -k $(DKMS_KERNEL)
	dkms install -m kqueue -v $(DKMS_VERSION) -k $(DKMS_KERNEL)

dkms-remove:
	dkms remove -m kqueue -v $(DKMS_VERSION) --all
	rm -rf $(DKMS_SRC)

# The stress harness alone, for as long as asked: a tests.list of its own
# with the seed and duration, a per-program limit and a QEMU limit that
# leave room for the harness's own hang detection (STRESS_HANG seconds) and
# the end of the run (joining threads, draining, rmmod, kmemleak scan).
DURATION	?= 600
SEED		?=
STRESS_THREADS	?= 4
STRESS_HANG	?= 120
STRESSDIR	:= $(BUILD)/stress

stress: modules selftests
	@set -e; seed=$(or $(SEED),$$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')); \
	echo "stress: seed $$seed, $(DURATION) s, $(STRESS_THREADS) threads" \
		"(again: make stress SEED=$$seed DURATION=$(DURATION))"; \
	rm -rf $(STRESSDIR) && mkdir -p $(STRESSDIR)/bin; \
	cp $(BUILD)/selftests/stress $(STRESSDIR)/bin/; \
	echo "stress --seed $$seed --duration $(DURATION) --threads $(STRESS_THREADS)" \
		"--hang $(STRESS_HANG)" >$(STRESSDIR)/bin/tests.list; \
	$(VM)/initramfs.sh --module kqueue.ko --selftests $(STRESSDIR)/bin \
		--timeout $$(($(DURATION) + $(STRESS_HANG) + 150)) $(STRESSDIR)/stress.cpio.gz; \
	KQUEUE_VM_DIR=$(STRESSDIR) KQUEUE_TIMEOUT=$$(($(DURATION) + $(STRESS_HANG) + 900)) \
		$(VM)/run.sh check $(BZIMAGE) $(STRESSDIR)/stress.cpio.gz || \
		{ echo "stress: FAILED with seed $$seed"; exit 1; }; \
	echo "stress: passed with seed $$seed"

# The benchmark: kqueue.ko built against the bench kernel from a copy of
# the module's sources in build/bench/src (so it does not clash with the
# debug build in the tree), samples/bench/kqbench, and a VM that runs it.
# tsc=reliable: no clocksource watchdog switching clocks in mid-run.
BENCHDIR	:= $(BUILD)/bench

bench: deps lib
	$(VM)/module-build.sh $(BENCH_KDIR) '$(BENCH_LLVM)' $(BENCHDIR)/src
	$(MAKE) -C samples/bench OUTPUT=$(BENCHDIR)
	$(VM)/initramfs.sh --module $(BENCHDIR)/src/kqueue.ko --timeout 900 \
		--demo $(BENCHDIR)/kqbench --demo $(BENCHDIR)/procbench \
		$(BENCHDIR)/bench.cpio.gz
	KQUEUE_VM_DIR=$(BENCHDIR) KQUEUE_APPEND="tsc=reliable $(KQUEUE_APPEND)" \
		KQUEUE_TIMEOUT=$${KQUEUE_TIMEOUT:-1500} \
		$(VM)/run.sh demo $(BENCH_KDIR)/arch/x86/boot/bzImage \
		$(BENCHDIR)/bench.cpio.gz

# A/B: the module of git revision $(BASE) against the working tree's, in one
# boot of the bench kernel (tools/testing/vm/ab-bench.sh).
BASE		?= HEAD

bench-ab: deps lib
	$(MAKE) -C samples/bench OUTPUT=$(BENCHDIR)
	$(VM)/ab-bench.sh $(BENCH_KDIR) '$(BENCH_LLVM)' $(BENCHDIR)/kqab $(BENCHDIR)/ab $(BASE)

# Instruction counts (tools/testing/vm/insn-bench.sh): the working tree's
# module, and revision $(BASE)'s only if BASE is given.
bench-insns: deps lib
	$(MAKE) -C samples/bench OUTPUT=$(BENCHDIR)
	$(VM)/insn-bench.sh $(BENCH_KDIR) '$(BENCH_LLVM)' $(BENCHDIR)/kqinsn $(BENCHDIR)/insn \
		$(if $(filter-out file,$(origin BASE)),$(BASE))

clippy:
	$(MAKE) modules CLIPPY=1
	$(MAKE) -C $(LIBDIR) clippy

fmt:
	$(rustfmt) $(rust-sources)
	cargo fmt --manifest-path $(LIBDIR)/Cargo.toml

fmtcheck:
	$(rustfmt) --check $(rust-sources)
	$(MAKE) -C $(LIBDIR) fmt-check

install:
	$(MAKE) -C $(LIBDIR) install PREFIX=$(PREFIX) DESTDIR=$(DESTDIR)

# What Kbuild leaves in an external module's tree, then everything else.
clean:
	find . \( -path ./.git -o -path ./tools \) -prune -o \
		\( -name '*.o' -o -name '*.ko' -o -name '*.mod' -o -name '*.mod.c' \
		-o -name '.*.cmd' -o -name '*.rmeta' -o -name '*.rsi' \
		-o -name modules.order -o -name Module.symvers \) -type f -print | xargs rm -f
	rm -rf $(BUILD)
	$(MAKE) -C $(LIBDIR) clean

help:
	@echo 'Targets:'
	@echo '  modules (default)  kqueue.ko for KDIR (default: the cached debug test kernel)'
	@echo '  lib                $(LIBDIR)/build/: libkqueue.so.0, libkqueue.a, libkqueue.pc'
	@echo '  selftests          kselftests into build/selftests'
	@echo '  samples            build/samples/kqdemo, build/samples/kqwatch'
	@echo '  run                boot the test VM, run kqdemo then kqwatch (exit status:'
	@echo '                     the first failure)'
	@echo '  check              boot the test VM, run the selftests, then the host tests'
	@echo '  stress [DURATION=600] [SEED=n] [STRESS_THREADS=4]'
	@echo '                     the stress/fuzz harness alone in the test VM for DURATION s'
	@echo '  bench              kqbench and procbench in the VM on the non-debug bench kernel'
	@echo '  bench-ab BASE=rev  kqueue.ko of git revision rev against the working tree, in one boot'
	@echo '  bench-insns [BASE=rev]  instructions per kevent() vs epoll (INSN_TOP=n: by function)'
	@echo '  check-distro       the selftests on Debian'"'"'s own kernel, module built in a trixie chroot'
	@echo '  distro-prepare [KRELEASE=r]  print (and make once) the build dir for a distribution kernel'
	@echo '  dkms-install dkms-remove [KRELEASE=r]  the module under DKMS (dkms.conf)'
	@echo '  clippy fmt fmtcheck install modules_install clean'
	@echo 'Variables: KDIR (auto: a distribution kernel, KRELEASE=r) KSRC LLVM (default: as KDIR'
	@echo '           was built) CLIPPY=1 PREFIX=$(PREFIX) DESTDIR'
	@echo 'VM knobs (environment): KQUEUE_ACCEL=kvm KQUEUE_TIMEOUT=1200 KQUEUE_VERBOSE=1'
