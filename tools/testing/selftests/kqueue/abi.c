// SPDX-License-Identifier: GPL-2.0
/*
 * The userspace ABI of <sys/event.h> and <linux/kqueue.h> must match
 * libkqueue's byte for byte (contract section 1).  These tests need no
 * module: they check the numbers every program is compiled with.
 */
#include <stddef.h>
#include <linux/kqueue.h>

#include "kqueue_test.h"

TEST(kevent_layout)
{
	ASSERT_EQ(32, sizeof(struct kevent));
	ASSERT_EQ(0, offsetof(struct kevent, ident));
	ASSERT_EQ(8, offsetof(struct kevent, filter));
	ASSERT_EQ(10, offsetof(struct kevent, flags));
	ASSERT_EQ(12, offsetof(struct kevent, fflags));
	ASSERT_EQ(16, offsetof(struct kevent, data));
	ASSERT_EQ(24, offsetof(struct kevent, udata));
	ASSERT_EQ(2, sizeof(((struct kevent *)0)->filter));
	ASSERT_EQ(2, sizeof(((struct kevent *)0)->flags));
	ASSERT_EQ(4, sizeof(((struct kevent *)0)->fflags));
	ASSERT_EQ(8, sizeof(((struct kevent *)0)->data));
	/* filter is signed, flags and fflags unsigned */
	ASSERT_TRUE(((struct kevent){ .filter = -1 }).filter < 0);
	ASSERT_TRUE(((struct kevent){ .flags = 0xffff }).flags > 0);
	ASSERT_EQ(1, LIBKQUEUE);
}

TEST(uapi_layout_matches_kevent)
{
	ASSERT_EQ(sizeof(struct kevent), sizeof(struct kqueue_event));
	ASSERT_EQ(offsetof(struct kevent, ident), offsetof(struct kqueue_event, ident));
	ASSERT_EQ(offsetof(struct kevent, filter), offsetof(struct kqueue_event, filter));
	ASSERT_EQ(offsetof(struct kevent, flags), offsetof(struct kqueue_event, flags));
	ASSERT_EQ(offsetof(struct kevent, fflags), offsetof(struct kqueue_event, fflags));
	ASSERT_EQ(offsetof(struct kevent, data), offsetof(struct kqueue_event, data));
	ASSERT_EQ(offsetof(struct kevent, udata), offsetof(struct kqueue_event, udata));
	ASSERT_EQ(48, sizeof(struct kqueue_kevent_args));
	ASSERT_EQ(KQUEUE_KEVENT_ARGS_SIZE_VER0, sizeof(struct kqueue_kevent_args));
	ASSERT_EQ(0, offsetof(struct kqueue_kevent_args, size));
	ASSERT_EQ(4, offsetof(struct kqueue_kevent_args, flags));
	ASSERT_EQ(8, offsetof(struct kqueue_kevent_args, changelist));
	ASSERT_EQ(16, offsetof(struct kqueue_kevent_args, eventlist));
	ASSERT_EQ(24, offsetof(struct kqueue_kevent_args, nchanges));
	ASSERT_EQ(28, offsetof(struct kqueue_kevent_args, nevents));
	ASSERT_EQ(32, offsetof(struct kqueue_kevent_args, timeout));
	ASSERT_EQ(40, offsetof(struct kqueue_kevent_args, nchanges_done));
	ASSERT_EQ(44, offsetof(struct kqueue_kevent_args, __reserved));
	ASSERT_EQ(0x1, KQUEUE_KEVENT_NO_COLLECT);
	ASSERT_EQ(0x2, KQUEUE_KEVENT_STOP_AT_LIBKQUEUE);
	ASSERT_EQ(2, KQUEUE_ABI_VERSION);
	ASSERT_EQ(16, sizeof(struct kqueue_wait));
	ASSERT_EQ(0, offsetof(struct kqueue_wait, eventlist));
	ASSERT_EQ(8, offsetof(struct kqueue_wait, timeout));
	ASSERT_EQ(16383, KQUEUE_WAIT_MAX_EVENTS);
	ASSERT_EQ(0x8005be02u, KQUEUE_IOC_WAIT(5));
	ASSERT_EQ(1 << 20, KQUEUE_MAX_EVENTS);
}

TEST(ev_set_macro)
{
	struct kevent k;
	int x;

	memset(&k, 0xa5, sizeof(k));
	EV_SET(&k, 42, EVFILT_USER, EV_ADD | EV_CLEAR, NOTE_TRIGGER, -7, &x);
	ASSERT_EQ(42, k.ident);
	ASSERT_EQ(EVFILT_USER, k.filter);
	ASSERT_EQ(EV_ADD | EV_CLEAR, k.flags);
	ASSERT_EQ(NOTE_TRIGGER, k.fflags);
	ASSERT_EQ(-7, k.data);
	ASSERT_EQ(&x, k.udata);
}

TEST(filter_values)
{
	ASSERT_EQ(-1, EVFILT_READ);
	ASSERT_EQ(-2, EVFILT_WRITE);
	ASSERT_EQ(-3, EVFILT_AIO);
	ASSERT_EQ(-4, EVFILT_VNODE);
	ASSERT_EQ(-5, EVFILT_PROC);
	ASSERT_EQ(-6, EVFILT_SIGNAL);
	ASSERT_EQ(-7, EVFILT_TIMER);
	ASSERT_EQ(-8, EVFILT_NETDEV);
	ASSERT_EQ(-9, EVFILT_FS);
	ASSERT_EQ(-10, EVFILT_LIO);
	ASSERT_EQ(-11, EVFILT_USER);
	ASSERT_EQ(-12, EVFILT_LIBKQUEUE);
	ASSERT_EQ(12, EVFILT_SYSCOUNT);
	/* beyond libkqueue's: FreeBSD's EMPTY and PROCDESC (moved), macOS's EXCEPT (also in <linux/kqueue.h>) */
	ASSERT_EQ(-13, EVFILT_EMPTY);
	ASSERT_EQ(-14, EVFILT_PROCDESC);
	ASSERT_EQ(-15, EVFILT_EXCEPT);
	ASSERT_EQ(0x2, NOTE_OOB);
}

TEST(flag_values)
{
	ASSERT_EQ(0x1, EV_ADD);
	ASSERT_EQ(0x2, EV_DELETE);
	ASSERT_EQ(0x4, EV_ENABLE);
	ASSERT_EQ(0x8, EV_DISABLE);
	ASSERT_EQ(0x10, EV_ONESHOT);
	ASSERT_EQ(0x20, EV_CLEAR);
	ASSERT_EQ(0x40, EV_RECEIPT);
	ASSERT_EQ(0x80, EV_DISPATCH);
	ASSERT_EQ(0xF000, EV_SYSFLAGS);
	ASSERT_EQ(0x2000, EV_FLAG1);
	ASSERT_EQ(0x4000, EV_ERROR);
	ASSERT_EQ(0x8000, EV_EOF);
}

/* Beyond libkqueue's header, FreeBSD's values; the uapi header agrees. */
TEST(extension_values)
{
	ASSERT_EQ(0x100, EV_FORCEONESHOT);
	ASSERT_EQ(0x200, EV_KEEPUDATA);
	ASSERT_EQ(0, (EV_FORCEONESHOT | EV_KEEPUDATA) &
		     (EV_ADD | EV_DELETE | EV_ENABLE | EV_DISABLE | EV_ONESHOT | EV_CLEAR |
		      EV_RECEIPT | EV_DISPATCH | EV_SYSFLAGS | EV_ERROR | EV_EOF));
	ASSERT_EQ(0x1, KQUEUE_CLOEXEC);
#ifdef KQUEUE_CPONFORK
	ASSERT_TRUE(0) TH_LOG("KQUEUE_CPONFORK is defined but not supported");
#endif
}

TEST(note_values)
{
	/* USER */
	ASSERT_EQ(0, NOTE_FFNOP);
	ASSERT_EQ(0x40000000, NOTE_FFAND);
	ASSERT_EQ(0x80000000, NOTE_FFOR);
	ASSERT_EQ(0xc0000000, NOTE_FFCOPY);
	ASSERT_EQ(0xc0000000, NOTE_FFCTRLMASK);
	ASSERT_EQ(0x00ffffff, NOTE_FFLAGSMASK);
	ASSERT_EQ(0x01000000, NOTE_TRIGGER);
	/* READ/WRITE */
	ASSERT_EQ(0x1, NOTE_LOWAT);
	/* VNODE */
	ASSERT_EQ(0x1, NOTE_DELETE);
	ASSERT_EQ(0x2, NOTE_WRITE);
	ASSERT_EQ(0x4, NOTE_EXTEND);
	ASSERT_EQ(0x8, NOTE_ATTRIB);
	ASSERT_EQ(0x10, NOTE_LINK);
	ASSERT_EQ(0x20, NOTE_RENAME);
	ASSERT_EQ(0x40, NOTE_REVOKE);
	ASSERT_EQ(0x80, NOTE_TRUNCATE);
	/* PROC */
	ASSERT_EQ(0x80000000, NOTE_EXIT);
	ASSERT_EQ(0x40000000, NOTE_FORK);
	ASSERT_EQ(0x20000000, NOTE_EXEC);
	ASSERT_EQ(0xf0000000, NOTE_PCTRLMASK);
	ASSERT_EQ(0x000fffff, NOTE_PDATAMASK);
	ASSERT_EQ(0x1, NOTE_TRACK);
	ASSERT_EQ(0x2, NOTE_TRACKERR);
	ASSERT_EQ(0x4, NOTE_CHILD);
	/* TIMER */
	ASSERT_EQ(0x1, NOTE_SECONDS);
	ASSERT_EQ(0x2, NOTE_USECONDS);
	ASSERT_EQ(0x4, NOTE_NSECONDS);
	ASSERT_EQ(0x8, NOTE_ABSOLUTE);
	/* LIBKQUEUE */
	ASSERT_EQ(1, NOTE_VERSION);
	ASSERT_EQ(2, NOTE_VERSION_STR);
	ASSERT_EQ(3, NOTE_THREAD_SAFE);
	ASSERT_EQ(4, NOTE_FORK_CLEANUP);
	ASSERT_EQ(5, NOTE_DEBUG);
	ASSERT_EQ(6, NOTE_DEBUG_PREFIX);
	ASSERT_EQ(7, NOTE_DEBUG_FUNC);
	ASSERT_EQ(8, NOTE_FILE_POLL_INTERVAL);
}

TEST_HARNESS_MAIN
