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

#define KQUEUE_ABI_VERSION	2

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
 * The values of kqueue_event.filter, .flags and .fflags: libkqueue's
 * <sys/event.h>, and beyond it FreeBSD's (macOS's where FreeBSD has none, a
 * free value where FreeBSD's collides with libkqueue's). Spelled token for
 * token as in the library's <sys/event.h>, so that both may be included;
 * the library's tests check the module's rust/uapi.rs against this table.
 */
#define EVFILT_READ		(-1)
#define EVFILT_WRITE		(-2)
#define EVFILT_AIO		(-3)	/* defined, not implemented */
#define EVFILT_VNODE		(-4)
#define EVFILT_PROC		(-5)
#define EVFILT_SIGNAL		(-6)
#define EVFILT_TIMER		(-7)
#define EVFILT_NETDEV		(-8)	/* defined, not implemented */
#define EVFILT_FS		(-9)	/* defined, not implemented */
#define EVFILT_LIO		(-10)	/* defined, not implemented */
#define EVFILT_USER		(-11)
#define EVFILT_LIBKQUEUE	(-12)	/* answered by the library, never applied */
#define EVFILT_EMPTY		(-13)	/* write side drained (FreeBSD) */
#define EVFILT_PROCDESC		(-14)	/* a pidfd's process (FreeBSD's -8 is EVFILT_NETDEV) */
#define EVFILT_EXCEPT		(-15)	/* exceptional conditions (macOS) */

#define EV_ADD		0x0001	/* add the knote, or modify it */
#define EV_DELETE	0x0002	/* delete it */
#define EV_ENABLE	0x0004	/* enable it */
#define EV_DISABLE	0x0008	/* disable it */
#define EV_ONESHOT	0x0010	/* delete it after its first delivery */
#define EV_CLEAR	0x0020	/* reset its state after each delivery */
#define EV_RECEIPT	0x0040	/* answer the change with an EV_ERROR entry */
#define EV_DISPATCH	0x0080	/* disable it after each delivery */
#define EV_FORCEONESHOT	0x0100	/* report once now, then delete (FreeBSD) */
#define EV_KEEPUDATA	0x0200	/* change leaves udata as it is (FreeBSD) */
#define EV_SYSFLAGS	0xF000	/* ignored in changes */
#define EV_FLAG1	0x2000
#define EV_ERROR	0x4000	/* an error entry: data is the errno */
#define EV_EOF		0x8000	/* end of file or process */

/* EVFILT_USER */
#define NOTE_FFNOP	0x00000000
#define NOTE_FFAND	0x40000000
#define NOTE_FFOR	0x80000000
#define NOTE_FFCOPY	0xc0000000
#define NOTE_FFCTRLMASK	0xc0000000
#define NOTE_FFLAGSMASK	0x00ffffff
#define NOTE_TRIGGER	0x01000000
/* EVFILT_READ, EVFILT_WRITE */
#define NOTE_LOWAT	0x0001
/* EVFILT_EXCEPT (macOS) */
#define NOTE_OOB	0x0002
/* EVFILT_VNODE; NOTE_OPEN moved (FreeBSD's 0x0080 is NOTE_TRUNCATE here) */
#define NOTE_DELETE	0x0001
#define NOTE_WRITE	0x0002
#define NOTE_EXTEND	0x0004
#define NOTE_ATTRIB	0x0008
#define NOTE_LINK	0x0010
#define NOTE_RENAME	0x0020
#define NOTE_REVOKE	0x0040
#define NOTE_TRUNCATE	0x0080
#define NOTE_CLOSE	0x0100
#define NOTE_CLOSE_WRITE 0x0200
#define NOTE_READ	0x0400
#define NOTE_OPEN	0x0800
/* EVFILT_PROC, EVFILT_PROCDESC (NOTE_EXIT only) */
#define NOTE_EXIT	0x80000000
#define NOTE_FORK	0x40000000
#define NOTE_EXEC	0x20000000
#define NOTE_PCTRLMASK	0xf0000000
#define NOTE_PDATAMASK	0x000fffff
#define NOTE_TRACK	0x00000001
#define NOTE_TRACKERR	0x00000002
#define NOTE_CHILD	0x00000004
/* EVFILT_TIMER */
#define NOTE_SECONDS	0x0001
#define NOTE_USECONDS	0x0002
#define NOTE_NSECONDS	0x0004
#define NOTE_ABSOLUTE	0x0008

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

/*
 * KQUEUE_IOC_WAIT(nevents): a kevent() call without changes (the usual wait
 * of an event loop), with fewer arguments to read and check.  nevents (1 to
 * KQUEUE_WAIT_MAX_EVENTS) travels in the command's size field, arg points
 * to a struct kqueue_wait.  Results and errors are those of
 * KQUEUE_IOC_KEVENT with nchanges 0.  Since KQUEUE_ABI_VERSION 2; older
 * modules answer ENOTTY.
 */
struct kqueue_wait {
	__u64 eventlist;	/* struct kqueue_event * */
	__u64 timeout;		/* const struct __kernel_timespec *, 0 = wait forever */
};

#define KQUEUE_WAIT_MAX_EVENTS	((1 << _IOC_SIZEBITS) - 1)
#define KQUEUE_IOC_WAIT(nevents)	_IOC(_IOC_READ, KQUEUE_IOC_MAGIC, 2, (nevents))

#endif /* _UAPI_LINUX_KQUEUE_H */
