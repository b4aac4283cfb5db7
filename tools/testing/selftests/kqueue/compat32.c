// SPDX-License-Identifier: GPL-2.0
/*
 * The ioctl ABI from a 32-bit process (compat_ioctl): built with -m32 and
 * talking to /dev/kqueue directly, as a 32-bit libkqueue would. Pointers
 * travel zero-extended in __u64 fields; struct kqueue_event and the
 * timeout keep their 64-bit layout.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/kqueue.h>
#include <linux/time_types.h>

#include "kselftest_harness.h"

static int kev(int fd, struct kqueue_event *ch, int nch, struct kqueue_event *ev, int nev,
	       const struct __kernel_timespec *ts)
{
	struct kqueue_kevent_args a;

	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.changelist = (uintptr_t)ch;
	a.nchanges = nch;
	a.eventlist = (uintptr_t)ev;
	a.nevents = nev;
	a.timeout = (uintptr_t)ts;
	return ioctl(fd, KQUEUE_IOC_KEVENT, &a);
}

FIXTURE(kq32) {
	int fd;
};

FIXTURE_SETUP(kq32)
{
	ASSERT_EQ(4, sizeof(void *));
	self->fd = open("/dev/kqueue", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(kq32)
{
	close(self->fd);
}

TEST_F(kq32, version)
{
	ASSERT_EQ(KQUEUE_ABI_VERSION, ioctl(self->fd, KQUEUE_IOC_VERSION));
}

TEST_F(kq32, user_event_round_trip)
{
	const struct __kernel_timespec zero = { 0, 0 };
	struct kqueue_event ch[2], ev[2];

	memset(ch, 0, sizeof(ch));
	ch[0].ident = 0x1122334455667788ULL;
	ch[0].filter = EVFILT_USER;
	ch[0].flags = EV_ADD | EV_CLEAR;
	ch[0].udata = 0xaabbccddeeff0011ULL;
	ch[1] = ch[0];
	ch[1].flags = 0;
	ch[1].fflags = NOTE_TRIGGER | NOTE_FFCOPY | 0x123;
	ch[1].data = -42;
	ASSERT_EQ(0, kev(self->fd, ch, 2, NULL, 0, NULL));
	memset(ev, 0xff, sizeof(ev));
	ASSERT_EQ(1, kev(self->fd, NULL, 0, ev, 2, &zero));
	ASSERT_EQ(0x1122334455667788ULL, ev[0].ident);
	ASSERT_EQ(EVFILT_USER, ev[0].filter);
	ASSERT_EQ(EV_ADD | EV_CLEAR, ev[0].flags);
	ASSERT_EQ(0x123, ev[0].fflags);
	ASSERT_EQ(-42, ev[0].data);
	ASSERT_EQ(0xaabbccddeeff0011ULL, ev[0].udata);
	/* EV_CLEAR: gone after delivery */
	ASSERT_EQ(0, kev(self->fd, NULL, 0, ev, 2, &zero));
}

/* KQUEUE_IOC_WAIT from a 32-bit process: the same struct, pointers zero-extended. */
TEST_F(kq32, wait_command)
{
	const struct __kernel_timespec zero = { 0, 0 };
	struct kqueue_event ch, ev[2];
	struct kqueue_wait w;

	memset(&ch, 0, sizeof(ch));
	ch.ident = 9;
	ch.filter = EVFILT_USER;
	ch.flags = EV_ADD | EV_CLEAR;
	ch.udata = 0x99;
	ASSERT_EQ(0, kev(self->fd, &ch, 1, NULL, 0, NULL));
	ch.flags = 0;
	ch.fflags = NOTE_TRIGGER;
	ASSERT_EQ(0, kev(self->fd, &ch, 1, NULL, 0, NULL));
	memset(&w, 0, sizeof(w));
	w.eventlist = (uintptr_t)ev;
	w.timeout = (uintptr_t)&zero;
	memset(ev, 0xff, sizeof(ev));
	ASSERT_EQ(1, ioctl(self->fd, KQUEUE_IOC_WAIT(2), &w));
	ASSERT_EQ(9, ev[0].ident);
	ASSERT_EQ(EVFILT_USER, ev[0].filter);
	ASSERT_EQ(EV_ADD | EV_CLEAR, ev[0].flags);
	ASSERT_EQ(0x99, ev[0].udata);
	ASSERT_EQ(0, ioctl(self->fd, KQUEUE_IOC_WAIT(2), &w));
	/* nothing is mapped above 4 GiB in a 32-bit process: EFAULT, event kept */
	ASSERT_EQ(0, kev(self->fd, &ch, 1, NULL, 0, NULL));
	w.eventlist = 0x100000000ULL;
	ASSERT_EQ(-1, ioctl(self->fd, KQUEUE_IOC_WAIT(2), &w));
	ASSERT_EQ(EFAULT, errno);
	w.eventlist = (uintptr_t)ev;
	ASSERT_EQ(1, ioctl(self->fd, KQUEUE_IOC_WAIT(2), &w));
	ASSERT_EQ(9, ev[0].ident);
}

TEST_F(kq32, error_entry_and_timeout)
{
	const struct __kernel_timespec ms = { 0, 20 * 1000 * 1000 };
	struct kqueue_event ch, ev;

	memset(&ch, 0, sizeof(ch));
	ch.ident = 7;
	ch.filter = EVFILT_USER;
	ch.flags = 0x0002; /* EV_DELETE of a missing knote */
	ASSERT_EQ(1, kev(self->fd, &ch, 1, &ev, 1, NULL));
	ASSERT_EQ(7, ev.ident);
	ASSERT_EQ(0x0002 | EV_ERROR, ev.flags);
	ASSERT_EQ(ENOENT, ev.data);
	ASSERT_EQ(0, kev(self->fd, NULL, 0, &ev, 1, &ms));
}

/* The filters beyond libkqueue's, from <linux/kqueue.h> (no <sys/event.h> here). */
TEST_F(kq32, empty_and_except_uapi_names)
{
	const struct __kernel_timespec zero = { 0, 0 };
	struct kqueue_event ch, ev[2];
	char buf[5] = "abcd";
	int p[2];

	ASSERT_EQ(0, pipe2(p, O_CLOEXEC | O_NONBLOCK));
	memset(&ch, 0, sizeof(ch));
	ch.ident = p[1];
	ch.filter = EVFILT_EMPTY;
	ch.flags = EV_ADD;
	ch.udata = 0x1234567890ULL;
	ASSERT_EQ(0, kev(self->fd, &ch, 1, NULL, 0, NULL));
	ASSERT_EQ(1, kev(self->fd, NULL, 0, ev, 2, &zero));
	ASSERT_EQ((uint64_t)p[1], ev[0].ident);
	ASSERT_EQ(EVFILT_EMPTY, ev[0].filter);
	ASSERT_EQ(EV_ADD, ev[0].flags);
	ASSERT_EQ(0, ev[0].fflags);
	ASSERT_EQ(0, ev[0].data);
	ASSERT_EQ(0x1234567890ULL, ev[0].udata);
	ASSERT_EQ(5, write(p[1], buf, 5));
	ASSERT_EQ(0, kev(self->fd, NULL, 0, ev, 2, &zero));
	ASSERT_EQ(5, read(p[0], buf, 5));
	ASSERT_EQ(1, kev(self->fd, NULL, 0, ev, 2, &zero));
	/* EXCEPT is for sockets: a pipe is EINVAL */
	ch.filter = EVFILT_EXCEPT;
	ch.fflags = NOTE_OOB;
	ASSERT_EQ(1, kev(self->fd, &ch, 1, ev, 1, NULL));
	ASSERT_EQ(EV_ADD | EV_ERROR, ev[0].flags);
	ASSERT_EQ(EINVAL, ev[0].data);
	close(p[0]);
	close(p[1]);
}

TEST_F(kq32, bad_pointers_efault)
{
	struct kqueue_event ch;
	void *page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_TRUE(page != MAP_FAILED);
	memset(&ch, 0, sizeof(ch));
	ch.ident = 1;
	ch.filter = EVFILT_USER;
	ch.flags = EV_ADD;
	ch.fflags = NOTE_TRIGGER;
	ASSERT_EQ(0, kev(self->fd, &ch, 1, NULL, 0, NULL));
	errno = 0;
	ASSERT_EQ(-1, kev(self->fd, page, 1, NULL, 0, NULL));
	ASSERT_EQ(EFAULT, errno);
	errno = 0;
	ASSERT_EQ(-1, kev(self->fd, NULL, 0, page, 1, NULL));
	ASSERT_EQ(EFAULT, errno);
	errno = 0;
	ASSERT_EQ(-1, ioctl(self->fd, KQUEUE_IOC_KEVENT, page));
	ASSERT_EQ(EFAULT, errno);
	munmap(page, 4096);
}

TEST_HARNESS_MAIN
