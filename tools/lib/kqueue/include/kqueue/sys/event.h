/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * <sys/event.h> of the kqueue-for-Linux library: the same API and ABI as
 * libkqueue's header, so programs built against libkqueue build and run
 * unchanged against libkqueue.so.0 on top of /dev/kqueue.  Beyond it, with
 * FreeBSD's values: EV_FORCEONESHOT, EV_KEEPUDATA, kqueuex() and kqueue1(),
 * EVFILT_EMPTY; EVFILT_PROCDESC at -14 (FreeBSD's -8 is EVFILT_NETDEV here);
 * with macOS's: EVFILT_EXCEPT and NOTE_OOB.
 *
 * Installed as <includedir>/kqueue/sys/event.h; use
 * `pkg-config --cflags libkqueue` (-I<includedir>/kqueue).
 */
#ifndef _SYS_EVENT_H_
#define _SYS_EVENT_H_

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define LIBKQUEUE	1

#ifdef __cplusplus
extern "C" {
#endif

/* Filters. */
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
#define EVFILT_LIBKQUEUE	(-12)	/* answered by the library */
#define EVFILT_SYSCOUNT		12
/*
 * Beyond libkqueue's filters, at the values other BSDs give them (none
 * collides with libkqueue's). EVFILT_SYSCOUNT keeps libkqueue's 12: it
 * counts -1..-12 only, so code sizing tables by it must range-check these.
 */
#define EVFILT_EMPTY		(-13)	/* write side drained (FreeBSD's value) */
#define EVFILT_PROCDESC		(-14)	/* a pidfd's process (FreeBSD's is -8) */
#define EVFILT_EXCEPT		(-15)	/* exceptional conditions (macOS's value) */

struct kevent {
	uintptr_t	ident;		/* identifier for this event */
	short		filter;		/* filter for event */
	unsigned short	flags;		/* action flags for kqueue */
	unsigned int	fflags;		/* filter flag value */
	intptr_t	data;		/* filter data value */
	void		*udata;		/* opaque user data identifier */
};

/* Evaluates each argument exactly once. */
#define EV_SET(kevp_, a, b, c, d, e, f) do {		\
	struct kevent *__kq_kevp = (kevp_);		\
	__kq_kevp->ident = (a);				\
	__kq_kevp->filter = (b);			\
	__kq_kevp->flags = (c);				\
	__kq_kevp->fflags = (d);			\
	__kq_kevp->data = (e);				\
	__kq_kevp->udata = (f);				\
} while (0)

/* Actions. */
#define EV_ADD		0x0001	/* add event to kq (implies enable) */
#define EV_DELETE	0x0002	/* delete event from kq */
#define EV_ENABLE	0x0004	/* enable event */
#define EV_DISABLE	0x0008	/* disable event (not reported) */
#define EV_FORCEONESHOT	0x0100	/* report once now, then delete */
#define EV_KEEPUDATA	0x0200	/* change leaves udata as it is */

/* Flags. */
#define EV_ONESHOT	0x0010	/* only report one occurrence */
#define EV_CLEAR	0x0020	/* clear event state after reporting */
#define EV_RECEIPT	0x0040	/* force EV_ERROR on success, data=0 */
#define EV_DISPATCH	0x0080	/* disable event after reporting */

#define EV_SYSFLAGS	0xF000	/* reserved by system */
#define EV_FLAG1	0x2000	/* filter-specific flag */

/* Returned values. */
#define EV_EOF		0x8000	/* EOF detected */
#define EV_ERROR	0x4000	/* error, data contains errno */

/* EVFILT_USER: fflags control and data. */
#define NOTE_FFNOP	0x00000000	/* ignore input fflags */
#define NOTE_FFAND	0x40000000	/* AND fflags */
#define NOTE_FFOR	0x80000000	/* OR fflags */
#define NOTE_FFCOPY	0xc0000000	/* copy fflags */
#define NOTE_FFCTRLMASK	0xc0000000	/* masks for operations */
#define NOTE_FFLAGSMASK	0x00ffffff
#define NOTE_TRIGGER	0x01000000	/* cause the event to be triggered */

/* EVFILT_READ / EVFILT_WRITE. */
#define NOTE_LOWAT	0x0001	/* low water mark */

/* EVFILT_EXCEPT. */
#define NOTE_OOB	0x0002	/* out-of-band (urgent) data (macOS's value) */

/* EVFILT_VNODE. */
#define NOTE_DELETE	0x0001	/* vnode was removed */
#define NOTE_WRITE	0x0002	/* data contents changed */
#define NOTE_EXTEND	0x0004	/* size increased */
#define NOTE_ATTRIB	0x0008	/* attributes changed */
#define NOTE_LINK	0x0010	/* link count changed */
#define NOTE_RENAME	0x0020	/* vnode was renamed */
#define NOTE_REVOKE	0x0040	/* vnode access was revoked */
#define NOTE_TRUNCATE	0x0080	/* vnode was truncated */
/* FreeBSD 11's access notes; NOTE_OPEN is 0x0080 there (NOTE_TRUNCATE here). */
#define NOTE_CLOSE	0x0100	/* file closed, fd did not allow write */
#define NOTE_CLOSE_WRITE 0x0200	/* file closed, fd did allow write */
#define NOTE_READ	0x0400	/* file was read */
#define NOTE_OPEN	0x0800	/* vnode was opened */

/* EVFILT_PROC. */
#define NOTE_EXIT	0x80000000	/* process exited */
#define NOTE_FORK	0x40000000	/* process forked */
#define NOTE_EXEC	0x20000000	/* process exec'd */
#define NOTE_PCTRLMASK	0xf0000000	/* mask for hint bits */
#define NOTE_PDATAMASK	0x000fffff	/* mask for pid */
#define NOTE_TRACK	0x00000001	/* follow across forks */
#define NOTE_TRACKERR	0x00000002	/* could not track child */
#define NOTE_CHILD	0x00000004	/* am a child process */

/* EVFILT_TIMER: unit of data (none: milliseconds). */
#define NOTE_SECONDS	0x0001
#define NOTE_USECONDS	0x0002
#define NOTE_NSECONDS	0x0004
#define NOTE_ABSOLUTE	0x0008	/* data is an absolute CLOCK_REALTIME time */

/* EVFILT_LIBKQUEUE: fflags select a library setting or query. */
#define NOTE_VERSION		1	/* data = version as MMmmpprr */
#define NOTE_VERSION_STR	2	/* udata = version string */
#define NOTE_THREAD_SAFE	3	/* accepted; always thread safe */
#define NOTE_FORK_CLEANUP	4	/* data != 0: close kqueues in fork children */
#define NOTE_DEBUG		5	/* accepted, no effect */
#define NOTE_DEBUG_PREFIX	6	/* accepted, no effect */
#define NOTE_DEBUG_FUNC		7	/* accepted, no effect */
#define NOTE_FILE_POLL_INTERVAL	8	/* accepted, no effect */

/* kqueuex() flags. */
#define KQUEUE_CLOEXEC	0x00000001	/* descriptor is close-on-exec */

/* Strict C89/C99 modes have no struct timespec in <time.h>. */
struct timespec;

int kqueue(void);
int kqueuex(unsigned int flags);
int kqueue1(int flags);
int kevent(int kq, const struct kevent *changelist, int nchanges,
	   struct kevent *eventlist, int nevents,
	   const struct timespec *timeout);
void libkqueue_drain_pending_close(void);

#ifdef __cplusplus
}
#endif

#endif /* _SYS_EVENT_H_ */
