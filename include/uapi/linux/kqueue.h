/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * /dev/kqueue ioctl ABI.
 *
 * Every open() of /dev/kqueue is one kqueue.  One KQUEUE_IOC_KEVENT call
 * carries one whole BSD kevent() call.
 *
 * The ABI is the same for 64-bit and 32-bit (compat) callers: every pointer
 * travels as a __u64 and struct kqueue_event has the LP64 layout of BSD's
 * struct kevent (32 bytes), so a 64-bit libkqueue passes its struct kevent
 * arrays straight through and a 32-bit one converts.
 *
 * Extensibility: struct kqueue_kevent_args starts with its own size.  The
 * kernel accepts any size >= KQUEUE_KEVENT_ARGS_SIZE_VER0 (up to 4096); fields it does not
 * know must be zero (else E2BIG), fields the caller did not pass are taken
 * as zero, as for clone3() and openat2().  Unknown bits in args.flags are
 * EINVAL.  KQUEUE_IOC_VERSION returns KQUEUE_ABI_VERSION.
 */
#ifndef _UAPI_LINUX_KQUEUE_H
#define _UAPI_LINUX_KQUEUE_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define KQUEUE_ABI_VERSION	1

/* One change or one event: the LP64 layout of BSD struct kevent. */
struct kqueue_event {
	__u64 ident;
	__s16 filter;
	__u16 flags;
	__u32 fflags;
	__s64 data;
	__u64 udata;
};

/*
 * kqueue_event.flags takes the EV_* values of libkqueue's <sys/event.h>,
 * and these beyond them, with FreeBSD's values (spelled as in the library's
 * header, so that both may be included).
 */
#define EV_FORCEONESHOT	0x0100	/* report once now, then delete */
#define EV_KEEPUDATA	0x0200	/* change leaves udata as it is */

/*
 * kqueue_event.filter takes the EVFILT_* values of libkqueue's
 * <sys/event.h>, and these beyond them (spelled as in the library's header),
 * at FreeBSD's value where FreeBSD has the filter, else macOS's.
 */
#define EVFILT_EMPTY	(-13)	/* write side drained (FreeBSD) */
#define EVFILT_PROCDESC	(-14)	/* a pidfd's process (FreeBSD's -8 is EVFILT_NETDEV) */
#define EVFILT_EXCEPT	(-15)	/* exceptional conditions (macOS) */
#define NOTE_OOB	0x0002	/* EVFILT_EXCEPT: out-of-band data (macOS) */

/* Arguments of one kevent() call. */
struct kqueue_kevent_args {
	__u32 size;		/* sizeof(struct kqueue_kevent_args) */
	__u32 flags;		/* KQUEUE_KEVENT_*; unknown bits are EINVAL */
	__u64 changelist;	/* const struct kqueue_event *, may be 0 if nchanges == 0 */
	__u64 eventlist;	/* struct kqueue_event *, may be 0 if nevents == 0 */
	__s32 nchanges;
	__s32 nevents;
	__u64 timeout;		/* const struct __kernel_timespec *, 0 = wait forever */
	__s32 nchanges_done;	/* out, with KQUEUE_KEVENT_STOP_AT_LIBKQUEUE */
	__u32 __reserved;	/* must be 0 */
};

#define KQUEUE_KEVENT_ARGS_SIZE_VER0	48

/* args.flags: apply changes and report errors/receipts, collect no events. */
#define KQUEUE_KEVENT_NO_COLLECT	0x1
/*
 * args.flags: stop before the first EVFILT_LIBKQUEUE (-12) change, which the
 * library answers itself; nchanges_done tells how many changes were
 * consumed.  A call that stops collects no events.  Without a stop,
 * nchanges_done = nchanges and the call behaves as usual.
 */
#define KQUEUE_KEVENT_STOP_AT_LIBKQUEUE	0x2

#define KQUEUE_IOC_MAGIC	0xbe
/* Returns KQUEUE_ABI_VERSION. */
#define KQUEUE_IOC_VERSION	_IO(KQUEUE_IOC_MAGIC, 0)
/* Returns the number of events stored in eventlist, or -1 with errno. */
#define KQUEUE_IOC_KEVENT	_IOWR(KQUEUE_IOC_MAGIC, 1, struct kqueue_kevent_args)

/* Largest nchanges / nevents accepted in one call (EINVAL above). */
#define KQUEUE_MAX_EVENTS	(1 << 20)

#endif /* _UAPI_LINUX_KQUEUE_H */
