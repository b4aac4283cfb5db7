// SPDX-License-Identifier: GPL-2.0
/*
 * Bad input gets a clear error and changes nothing else (contract section
 * 4): bad pointers EFAULT through the library and through the raw ioctl, the
 * extensible argument struct (size, flags), count limits, and fdinfo (knotes
 * listed, no kernel pointers).
 */
#include <limits.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/kqueue.h>
#include <linux/time_types.h>

#include "kqueue_test.h"

#define U(x) ((void *)(uintptr_t)(x))

/* An address in a page that is not mapped. */
static void *unmapped_page(void)
{
	long ps = sysconf(_SC_PAGESIZE);
	void *p = mmap(NULL, ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	munmap(p, ps);
	return p;
}

static int raw_open(struct __test_metadata *_metadata)
{
	int fd = open("/dev/kqueue", O_RDWR | O_CLOEXEC);

	ASSERT_LE(0, fd) TH_LOG("open /dev/kqueue: %s (is the module loaded?)", strerror(errno));
	return fd;
}

static int raw_kevent(int fd, const void *changes, int nchanges, void *events, int nevents,
		      const void *timeout)
{
	struct kqueue_kevent_args a = {
		.size = sizeof(a),
		.changelist = (uintptr_t)changes,
		.eventlist = (uintptr_t)events,
		.nchanges = nchanges,
		.nevents = nevents,
		.timeout = (uintptr_t)timeout,
	};

	return ioctl(fd, KQUEUE_IOC_KEVENT, &a);
}

static const struct __kernel_timespec kts_zero;

/*
 * Checks on a raw /dev/kqueue descriptor go through the ioctl only, since a
 * libkqueue-style library may refuse descriptors it did not create.
 * struct kevent and struct kqueue_event have the same layout (abi.c).
 */
#define RAW_APPLY(fd, change) do { \
	struct kevent __c = (change); \
	ASSERT_EQ(0, raw_kevent(fd, &__c, 1, NULL, 0, NULL)) TH_LOG("errno %d", errno); \
} while (0)

#define RAW_ASSERT_CHANGE_ERR(fd, change, err) do { \
	struct kevent __c = (change), __o[2]; \
	memset(__o, 0, sizeof(__o)); \
	int __n = raw_kevent(fd, &__c, 1, __o, 2, &kts_zero); \
	ASSERT_EQ(1, __n) TH_LOG("errno %d", __n < 0 ? errno : 0); \
	ASSERT_KEV(err_entry(__c, err), &__o[0]); \
} while (0)

#define RAW_ASSERT_ONE_EVENT(fd, expected) do { \
	struct kevent __o[4]; \
	memset(__o, 0, sizeof(__o)); \
	int __n = raw_kevent(fd, NULL, 0, __o, 4, &kts_zero); \
	ASSERT_EQ(1, __n) TH_LOG("errno %d", __n < 0 ? errno : 0); \
	ASSERT_KEV(expected, &__o[0]); \
} while (0)

/* ---- through the library ---- */

TEST(lib_efault_changelist)
{
	struct kevent ev[2];
	void *bad = unmapped_page();
	int kq = kq_new(_metadata);

	ASSERT_NE(NULL, bad);
	watchdog(20);
	ASSERT_FAILS(EFAULT, kevent(kq, (void *)1, 1, ev, 2, &ts_zero));
	ASSERT_FAILS(EFAULT, kevent(kq, bad, 1, ev, 2, &ts_zero));
	ASSERT_FAILS(EFAULT, kevent(kq, bad, 1, NULL, 0, NULL));
	ASSERT_NO_EVENT(kq);
	close(kq);
}

TEST(lib_efault_changelist_partly_unmapped)
{
	long ps = sysconf(_SC_PAGESIZE);
	struct kevent *ch, ev[2];
	char *m;
	int kq = kq_new(_metadata);

	/* two changes: the first at the end of a mapped page, the second unmapped */
	m = mmap(NULL, 2 * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, m);
	ASSERT_EQ(0, munmap(m + ps, ps));
	ch = (struct kevent *)(m + ps) - 1;
	ch[0] = kev(1, EVFILT_USER, EV_ADD, 0, 0, NULL);
	errno = 0;
	ASSERT_EQ(-1, kevent(kq, ch, 2, ev, 2, &ts_zero));
	ASSERT_EQ(EFAULT, errno);
	munmap(m, ps);
	close(kq);
}

TEST(lib_efault_eventlist)
{
	struct kevent c;
	void *bad = unmapped_page();
	int kq = kq_new(_metadata);

	ASSERT_NE(NULL, bad);
	/* a pending (level-triggered) event that must be copied out */
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD, 0, 0, NULL));
	kq_change(_metadata, kq, kev(1, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL));
	ASSERT_FAILS(EFAULT, kevent(kq, NULL, 0, bad, 1, &ts_zero));
	ASSERT_FAILS(EFAULT, kevent(kq, NULL, 0, (void *)1, 1, &ts_zero));
	/* an error entry that must be copied out */
	c = kev(2, -100, EV_ADD, 0, 0, NULL);
	ASSERT_FAILS(EFAULT, kevent(kq, &c, 1, bad, 1, &ts_zero));
	/* level-triggered: still there for a valid eventlist */
	ASSERT_ONE_EVENT(kq, user_ev(1, EV_ADD, 0, 0, NULL));
	close(kq);
}

/* The event of @ident and @filter among @n events, or NULL. */
static const struct kevent *find_ev(const struct kevent *ev, int n, uintptr_t ident, short filter)
{
	for (int i = 0; i < n; i++)
		if (ev[i].ident == ident && ev[i].filter == filter)
			return &ev[i];
	return NULL;
}

/*
 * Events that delivery consumes (EV_CLEAR, EV_ONESHOT, EV_DISPATCH) queued
 * behind a level-triggered one, and a buffer whose first slot is valid and
 * the second unmapped: the calls fail with EFAULT, and every event is still
 * there, exact, for a valid buffer.
 */
TEST(efault_keeps_consumed_events)
{
	long ps = sysconf(_SC_PAGESIZE);
	struct kevent *slots, ev[8];
	const struct kevent *e;
	unsigned short f[] = { 0, EV_CLEAR, EV_ONESHOT, EV_DISPATCH };
	int kq = kq_new(_metadata);
	int p[2], i, n;
	char *m;

	m = mmap(NULL, 2 * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, m);
	ASSERT_EQ(0, munmap(m + ps, ps));
	slots = (struct kevent *)(m + ps) - 1;

	/* USER 1 (level) becomes ready first, then 2, 3, 4 and the pipe */
	for (i = 0; i < 4; i++) {
		kq_change(_metadata, kq, kev(i + 1, EVFILT_USER, EV_ADD | f[i], 0, 0, NULL));
		kq_change(_metadata, kq, kev(i + 1, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL));
	}
	make_pipe(_metadata, p);
	ASSERT_EQ(3, write(p[1], "abc", 3));
	kq_change(_metadata, kq, kev(p[0], EVFILT_READ, EV_ADD | EV_CLEAR, 0, 0, NULL));

	for (i = 0; i < 2; i++)
		ASSERT_FAILS(EFAULT, kevent(kq, NULL, 0, slots, 5, &ts_zero));

	n = kevent(kq, NULL, 0, ev, 8, &ts_zero);
	ASSERT_EQ(5, n);
	for (i = 0; i < 4; i++) {
		e = find_ev(ev, n, i + 1, EVFILT_USER);
		ASSERT_NE(NULL, e) TH_LOG("USER %d lost", i + 1);
		ASSERT_KEV(user_ev(i + 1, EV_ADD | f[i], 0, 0, NULL), e);
	}
	e = find_ev(ev, n, p[0], EVFILT_READ);
	ASSERT_NE(NULL, e) TH_LOG("the pipe's EV_CLEAR event was lost");
	ASSERT_KEV(kev(p[0], EVFILT_READ, EV_ADD | EV_CLEAR, 0, 3, NULL), e);

	/* consumed now: only the level-triggered one is left */
	ASSERT_ONE_EVENT(kq, user_ev(1, EV_ADD, 0, 0, NULL));
	munmap(m, ps);
	close(p[0]);
	close(p[1]);
	close(kq);
}

TEST(lib_efault_timeout)
{
	struct kevent ev[1];
	void *bad = unmapped_page();
	int kq = kq_new(_metadata);

	ASSERT_NE(NULL, bad);
	watchdog(20);
	ASSERT_FAILS(EFAULT, kevent(kq, NULL, 0, ev, 1, bad));
	ASSERT_FAILS(EFAULT, kevent(kq, NULL, 0, ev, 1, (void *)1));
	close(kq);
}

TEST(lib_count_limit)
{
	size_t len = ((size_t)KQUEUE_MAX_EVENTS + 1) * sizeof(struct kevent);
	struct kevent *big, ev[1];
	int kq = kq_new(_metadata);

	/* zero pages: valid memory, so only the count can be refused */
	big = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, big);
	ASSERT_FAILS(EINVAL, kevent(kq, big, KQUEUE_MAX_EVENTS + 1, ev, 1, &ts_zero));
	ASSERT_FAILS(EINVAL, kevent(kq, big, INT_MAX, ev, 1, &ts_zero));
	ASSERT_FAILS(EINVAL, kevent(kq, NULL, 0, big, KQUEUE_MAX_EVENTS + 1, &ts_zero));
	ASSERT_FAILS(EINVAL, kevent(kq, NULL, 0, big, INT_MAX, &ts_zero));
	/* exactly KQUEUE_MAX_EVENTS events is allowed */
	ASSERT_EQ(0, kevent(kq, NULL, 0, big, KQUEUE_MAX_EVENTS, &ts_zero));
	munmap(big, len);
	close(kq);
}

/* ---- raw ioctl ---- */

TEST(ioctl_version)
{
	int fd = raw_open(_metadata);

	ASSERT_EQ(KQUEUE_ABI_VERSION, ioctl(fd, KQUEUE_IOC_VERSION));
	ASSERT_EQ(2, ioctl(fd, KQUEUE_IOC_VERSION, 0));
	close(fd);
}

TEST(ioctl_unknown_cmd)
{
	int fd = raw_open(_metadata);

	ASSERT_FAILS(ENOTTY, ioctl(fd, _IO(KQUEUE_IOC_MAGIC, 2)));
	ASSERT_FAILS(ENOTTY, ioctl(fd, _IO(KQUEUE_IOC_MAGIC, 0xff), 0));
	/* same number, other direction or size: a different command */
	ASSERT_FAILS(ENOTTY, ioctl(fd, _IO(KQUEUE_IOC_MAGIC, 1), 0));
	ASSERT_FAILS(ENOTTY, ioctl(fd, _IOW(KQUEUE_IOC_MAGIC, 1, __u32), 0));
	ASSERT_FAILS(ENOTTY, ioctl(fd, _IOW(KQUEUE_IOC_MAGIC, 1, struct kqueue_kevent_args), 0));
	ASSERT_FAILS(ENOTTY, ioctl(fd, _IO('T', 1), 0));
	close(fd);
}

TEST(ioctl_args_size)
{
	struct {
		struct kqueue_kevent_args a;
		unsigned char tail[24];
	} big;
	struct kqueue_event c = { .ident = 1, .filter = EVFILT_USER, .flags = EV_ADD };
	struct kevent d = kev(1, EVFILT_USER, EV_DELETE, 0, 0, NULL);
	int fd = raw_open(_metadata);
	unsigned int sz;

	/* smaller than version 0: EINVAL, nothing applied */
	for (sz = 0; sz < KQUEUE_KEVENT_ARGS_SIZE_VER0; sz += 8) {
		memset(&big, 0, sizeof(big));
		big.a.size = sz;
		big.a.changelist = (uintptr_t)&c;
		big.a.nchanges = 1;
		ASSERT_FAILS(EINVAL, ioctl(fd, KQUEUE_IOC_KEVENT, &big.a));
	}
	memset(&big, 0, sizeof(big));
	big.a.size = KQUEUE_KEVENT_ARGS_SIZE_VER0 - 1;
	ASSERT_FAILS(EINVAL, ioctl(fd, KQUEUE_IOC_KEVENT, &big.a));

	/* larger with a non-zero tail: E2BIG, nothing applied */
	memset(&big, 0, sizeof(big));
	big.a.size = sizeof(big);
	big.a.changelist = (uintptr_t)&c;
	big.a.nchanges = 1;
	big.tail[23] = 1;
	ASSERT_FAILS(E2BIG, ioctl(fd, KQUEUE_IOC_KEVENT, &big.a));
	big.tail[23] = 0;
	big.tail[0] = 0x80;
	ASSERT_FAILS(E2BIG, ioctl(fd, KQUEUE_IOC_KEVENT, &big.a));
	RAW_ASSERT_CHANGE_ERR(fd, d, ENOENT);

	/* larger with a zero tail: accepted, the change is applied */
	big.tail[0] = 0;
	ASSERT_EQ(0, ioctl(fd, KQUEUE_IOC_KEVENT, &big.a));
	RAW_APPLY(fd, d);

	/* exactly version 0 */
	big.a.size = KQUEUE_KEVENT_ARGS_SIZE_VER0;
	ASSERT_EQ(0, ioctl(fd, KQUEUE_IOC_KEVENT, &big.a));
	RAW_APPLY(fd, d);
	close(fd);
}

TEST(ioctl_stop_at_libkqueue)
{
	struct kqueue_event c[4] = {
		{ .ident = 1, .filter = EVFILT_USER, .flags = EV_ADD },
		{ .ident = 9, .filter = EVFILT_USER, .flags = EV_DELETE },
		{ .ident = 0, .filter = EVFILT_LIBKQUEUE, .flags = EV_ADD, .fflags = NOTE_VERSION },
		{ .ident = 2, .filter = EVFILT_USER, .flags = EV_ADD },
	}, ev[4];
	struct kqueue_kevent_args a;
	struct kevent d = kev(2, EVFILT_USER, EV_DELETE, 0, 0, NULL);
	int fd = raw_open(_metadata);

	/* stops before the EVFILT_LIBKQUEUE change: 2 consumed, 1 error entry */
	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.flags = KQUEUE_KEVENT_STOP_AT_LIBKQUEUE;
	a.changelist = (uintptr_t)c;
	a.nchanges = 4;
	a.eventlist = (uintptr_t)ev;
	a.nevents = 4;
	a.nchanges_done = -7;
	ASSERT_EQ(1, ioctl(fd, KQUEUE_IOC_KEVENT, &a));
	ASSERT_EQ(2, a.nchanges_done);
	ASSERT_EQ(9, ev[0].ident);
	ASSERT_EQ(EV_DELETE | EV_ERROR, ev[0].flags);
	ASSERT_EQ(ENOENT, ev[0].data);
	/* change 3 was not applied */
	RAW_ASSERT_CHANGE_ERR(fd, d, ENOENT);

	/* without a library change everything is consumed */
	a.changelist = (uintptr_t)&c[3];
	a.nchanges = 1;
	a.nevents = 0;
	ASSERT_EQ(0, ioctl(fd, KQUEUE_IOC_KEVENT, &a));
	ASSERT_EQ(1, a.nchanges_done);
	RAW_APPLY(fd, d);

	/* without the flag EVFILT_LIBKQUEUE is an unknown filter: EINVAL */
	a.flags = 0;
	a.changelist = (uintptr_t)&c[2];
	a.nevents = 4;
	ASSERT_EQ(1, ioctl(fd, KQUEUE_IOC_KEVENT, &a));
	ASSERT_EQ(EV_ADD | EV_ERROR, ev[0].flags);
	ASSERT_EQ(EINVAL, ev[0].data);

	/* the reserved word must be zero */
	a.__reserved = 1;
	ASSERT_FAILS(EINVAL, ioctl(fd, KQUEUE_IOC_KEVENT, &a));
	close(fd);
}

TEST(ioctl_unknown_flags)
{
	static const __u32 bad[] = { 0x4, 0x8, 0x80000000, 0xfffffffe, 0xffffffff };
	struct kqueue_event c = { .ident = 1, .filter = EVFILT_USER, .flags = EV_ADD };
	struct kqueue_kevent_args a;
	unsigned int i;
	int fd = raw_open(_metadata);

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		memset(&a, 0, sizeof(a));
		a.size = sizeof(a);
		a.flags = bad[i];
		a.changelist = (uintptr_t)&c;
		a.nchanges = 1;
		errno = 0;
		ASSERT_EQ(-1, ioctl(fd, KQUEUE_IOC_KEVENT, &a)) TH_LOG("flags %#x", bad[i]);
		ASSERT_EQ(EINVAL, errno) TH_LOG("flags %#x", bad[i]);
	}
	RAW_ASSERT_CHANGE_ERR(fd, kev(1, EVFILT_USER, EV_DELETE, 0, 0, NULL), ENOENT);
	close(fd);
}

TEST(ioctl_no_collect)
{
	struct kqueue_event ch[2] = {
		{ .ident = 1, .filter = EVFILT_USER, .flags = EV_ADD, .udata = 0x11 },
		{ .ident = 1, .filter = EVFILT_USER, .fflags = NOTE_TRIGGER, .udata = 0x11 },
	};
	struct kqueue_event r = { .ident = 2, .filter = EVFILT_USER, .flags = EV_ADD | EV_RECEIPT };
	struct kqueue_event ev[4];
	struct kqueue_kevent_args a;
	int fd = raw_open(_metadata);

	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.flags = KQUEUE_KEVENT_NO_COLLECT;
	a.changelist = (uintptr_t)ch;
	a.nchanges = 2;
	a.eventlist = (uintptr_t)ev;
	a.nevents = 4;
	a.timeout = (uintptr_t)&kts_zero;
	/* changes applied, the now pending event is not collected */
	ASSERT_EQ(0, ioctl(fd, KQUEUE_IOC_KEVENT, &a));
	a.nchanges = 0;
	ASSERT_EQ(0, ioctl(fd, KQUEUE_IOC_KEVENT, &a));
	/* NO_COLLECT with a NULL timeout does not wait either */
	watchdog(20);
	a.timeout = 0;
	ASSERT_EQ(0, ioctl(fd, KQUEUE_IOC_KEVENT, &a));
	/* receipts are still written */
	a.changelist = (uintptr_t)&r;
	a.nchanges = 1;
	memset(ev, 0, sizeof(ev));
	ASSERT_EQ(1, ioctl(fd, KQUEUE_IOC_KEVENT, &a));
	ASSERT_EQ(2, ev[0].ident);
	ASSERT_EQ(EVFILT_USER, ev[0].filter);
	ASSERT_EQ(EV_ADD | EV_RECEIPT | EV_ERROR, ev[0].flags);
	ASSERT_EQ(0, ev[0].data);
	/* a normal call collects the event */
	RAW_ASSERT_ONE_EVENT(fd, user_ev(1, EV_ADD, 0, 0, U(0x11)));
	close(fd);
}

TEST(ioctl_efault)
{
	struct kqueue_event c = { .ident = 1, .filter = EVFILT_USER, .flags = EV_ADD };
	struct kqueue_event t = { .ident = 1, .filter = EVFILT_USER, .fflags = NOTE_TRIGGER };
	struct kqueue_event ev[2];
	void *bad = unmapped_page();
	int fd = raw_open(_metadata);

	ASSERT_NE(NULL, bad);
	watchdog(20);
	ASSERT_FAILS(EFAULT, ioctl(fd, KQUEUE_IOC_KEVENT, (void *)1));
	ASSERT_FAILS(EFAULT, ioctl(fd, KQUEUE_IOC_KEVENT, bad));
	ASSERT_FAILS(EFAULT, raw_kevent(fd, (void *)1, 1, ev, 2, &kts_zero));
	ASSERT_FAILS(EFAULT, raw_kevent(fd, bad, 1, ev, 2, &kts_zero));
	ASSERT_FAILS(EFAULT, raw_kevent(fd, NULL, 0, ev, 2, bad));
	ASSERT_FAILS(EFAULT, raw_kevent(fd, NULL, 0, ev, 2, (void *)1));
	/* a kernel address is not a user address */
	ASSERT_FAILS(EFAULT, raw_kevent(fd, (void *)0xffffffff81000000UL, 1, ev, 2, &kts_zero));
	ASSERT_EQ(0, raw_kevent(fd, &c, 1, NULL, 0, NULL));
	ASSERT_EQ(0, raw_kevent(fd, &t, 1, NULL, 0, NULL));
	ASSERT_FAILS(EFAULT, raw_kevent(fd, NULL, 0, bad, 2, &kts_zero));
	ASSERT_FAILS(EFAULT, raw_kevent(fd, NULL, 0, (void *)0xffffffff81000000UL, 2, &kts_zero));
	/* level-triggered, still pending */
	ASSERT_EQ(1, raw_kevent(fd, NULL, 0, ev, 2, &kts_zero));
	close(fd);
}

TEST(ioctl_counts_and_timeout)
{
	struct kqueue_event c[2] = {
		{ .ident = 1, .filter = EVFILT_USER, .flags = EV_ADD },
		{ .ident = 2, .filter = EVFILT_USER, .flags = EV_ADD },
	};
	struct kqueue_event ev[2];
	struct __kernel_timespec bad[] = { { 0, -1 }, { 0, 1000000000 }, { -1, 0 } };
	unsigned int i;
	int fd = raw_open(_metadata);

	watchdog(20);
	ASSERT_FAILS(EINVAL, raw_kevent(fd, c, -1, ev, 2, &kts_zero));
	ASSERT_FAILS(EINVAL, raw_kevent(fd, c, 1, ev, -1, &kts_zero));
	/* the count is checked before any change is read or applied */
	ASSERT_FAILS(EINVAL, raw_kevent(fd, c, KQUEUE_MAX_EVENTS + 1, ev, 2, &kts_zero));
	ASSERT_FAILS(EINVAL, raw_kevent(fd, c, 2, ev, KQUEUE_MAX_EVENTS + 1, &kts_zero));
	for (i = 0; i < ARRAY_SIZE(bad); i++)
		ASSERT_FAILS(EINVAL, raw_kevent(fd, NULL, 0, ev, 2, &bad[i]));
	RAW_ASSERT_CHANGE_ERR(fd, kev(1, EVFILT_USER, EV_DELETE, 0, 0, NULL), ENOENT);
	RAW_ASSERT_CHANGE_ERR(fd, kev(2, EVFILT_USER, EV_DELETE, 0, 0, NULL), ENOENT);
	close(fd);
}

static int raw_wait(int fd, void *events, unsigned int nevents, const void *timeout)
{
	struct kqueue_wait w = {
		.eventlist = (uintptr_t)events, .timeout = (uintptr_t)timeout,
	};

	return ioctl(fd, KQUEUE_IOC_WAIT(nevents), &w);
}

/* KQUEUE_IOC_WAIT: KQUEUE_IOC_KEVENT's results and errors with no changes. */
TEST(ioctl_wait)
{
	struct kqueue_event c = { .ident = 7, .filter = EVFILT_USER, .flags = EV_ADD,
				  .udata = 0x77 };
	struct kqueue_event t = { .ident = 7, .filter = EVFILT_USER, .fflags = NOTE_TRIGGER,
				  .udata = 0x77 };
	struct __kernel_timespec bad_ts[] = { { 0, -1 }, { 0, 1000000000 }, { -1, 0 } };
	struct __kernel_timespec short_ts = { 0, 20000000 };
	struct kqueue_event ev[3], *big;
	struct kqueue_wait w = { .eventlist = (uintptr_t)ev };
	void *bad = unmapped_page();
	int64_t t0;
	unsigned int i;
	int fd = raw_open(_metadata);

	ASSERT_NE(NULL, bad);
	watchdog(20);
	ASSERT_EQ(0, raw_wait(fd, ev, 3, &kts_zero));
	t0 = now_ms();
	ASSERT_EQ(0, raw_wait(fd, ev, 3, &short_ts));
	ASSERT_LE(15, now_ms() - t0);
	/* no room is EINVAL; so is a bad timeout, before anything is collected */
	ASSERT_FAILS(EINVAL, raw_wait(fd, ev, 0, &kts_zero));
	for (i = 0; i < ARRAY_SIZE(bad_ts); i++)
		ASSERT_FAILS(EINVAL, raw_wait(fd, ev, 3, &bad_ts[i]));
	ASSERT_FAILS(EFAULT, ioctl(fd, KQUEUE_IOC_WAIT(3), bad));
	ASSERT_FAILS(EFAULT, ioctl(fd, KQUEUE_IOC_WAIT(3), (void *)1));
	ASSERT_FAILS(EFAULT, raw_wait(fd, ev, 3, bad));
	/* the event list wraps around the address space */
	w.eventlist = ~0ULL - 40;
	w.timeout = (uintptr_t)&kts_zero;
	ASSERT_FAILS(EFAULT, ioctl(fd, KQUEUE_IOC_WAIT(3), &w));
	/* other directions or numbers are not this command */
	ASSERT_FAILS(ENOTTY, ioctl(fd, _IOC(_IOC_WRITE, KQUEUE_IOC_MAGIC, 2, 3), &w));
	ASSERT_FAILS(ENOTTY, ioctl(fd, _IOC(_IOC_READ, KQUEUE_IOC_MAGIC, 3, 3), &w));

	ASSERT_EQ(0, raw_kevent(fd, &c, 1, NULL, 0, NULL));
	ASSERT_EQ(0, raw_kevent(fd, &t, 1, NULL, 0, NULL));
	/* an unwritable list fails and loses nothing (the event is level-triggered) */
	ASSERT_FAILS(EFAULT, raw_wait(fd, bad, 3, &kts_zero));
	memset(ev, 0, sizeof(ev));
	ASSERT_EQ(1, raw_wait(fd, ev, 3, NULL));
	ASSERT_EQ(7, ev[0].ident);
	ASSERT_EQ(EVFILT_USER, ev[0].filter);
	ASSERT_EQ(EV_ADD, ev[0].flags);
	ASSERT_EQ(0, ev[0].fflags);
	ASSERT_EQ(0, ev[0].data);
	ASSERT_EQ(0x77, ev[0].udata);
	ASSERT_EQ(0, ev[1].ident);
	/* the most events one command can ask for */
	big = calloc(KQUEUE_WAIT_MAX_EVENTS, sizeof(*big));
	ASSERT_NE(NULL, big);
	ASSERT_EQ(1, raw_wait(fd, big, KQUEUE_WAIT_MAX_EVENTS, &kts_zero));
	ASSERT_EQ(7, big[0].ident);
	free(big);
	close(fd);
}

TEST(ioctl_matches_library)
{
	struct kqueue_event c = {
		.ident = 0x1122334455667788ULL, .filter = EVFILT_USER,
		.flags = EV_ADD | EV_CLEAR, .fflags = NOTE_FFCOPY | 0x123, .data = -42,
		.udata = 0xaabbccddeeff0011ULL,
	}, ev[2];
	int fd = kq_new(_metadata);

	/* add through the ioctl on a library kqueue, trigger through kevent() */
	ASSERT_EQ(0, raw_kevent(fd, &c, 1, NULL, 0, NULL));
	kq_change(_metadata, fd, kev((uintptr_t)c.ident, EVFILT_USER, 0, NOTE_TRIGGER, -42,
				     (void *)(uintptr_t)c.udata));
	memset(ev, 0, sizeof(ev));
	ASSERT_EQ(1, raw_kevent(fd, NULL, 0, ev, 2, &kts_zero));
	ASSERT_EQ(c.ident, ev[0].ident);
	ASSERT_EQ(EVFILT_USER, ev[0].filter);
	ASSERT_EQ(EV_ADD | EV_CLEAR, ev[0].flags);
	ASSERT_EQ(0x123, ev[0].fflags);
	ASSERT_EQ(-42, ev[0].data);
	ASSERT_EQ(c.udata, ev[0].udata);
	close(fd);
}

/* ---- fdinfo ---- */

struct knote_line {
	unsigned long long ident;
	int filter;
	unsigned int flags, fflags;
	long long data;
	char state[32];
};

/* Parse the knote: lines of /proc/self/fdinfo/<fd>; returns their count. */
static int read_fdinfo(int fd, char *buf, size_t len, struct knote_line *k, int max)
{
	char path[64], *line, *save, *copy;
	int fdi, n = 0;
	ssize_t r;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	fdi = open(path, O_RDONLY | O_CLOEXEC);
	if (fdi < 0)
		return -1;
	for (r = 0; (size_t)r < len - 1; ) {
		ssize_t m = read(fdi, buf + r, len - 1 - r);

		if (m < 0) {
			close(fdi);
			return -1;
		}
		if (m == 0)
			break;
		r += m;
	}
	close(fdi);
	buf[r] = 0;
	copy = strdup(buf);
	if (!copy)
		return -1;
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "knote:", 6))
			continue;
		if (n >= max || sscanf(line, "knote: ident=%llu filter=%d flags=0x%x fflags=0x%x "
				       "data=%lld state=%31s", &k[n].ident, &k[n].filter,
				       &k[n].flags, &k[n].fflags, &k[n].data, k[n].state) != 6) {
			n = -2;	/* too many, or a line not in the documented format */
			break;
		}
		n++;
	}
	free(copy);
	return n;
}

static const struct knote_line *find_knote(const struct knote_line *k, int n,
					   unsigned long long ident)
{
	int i;

	for (i = 0; i < n; i++)
		if (k[i].ident == ident)
			return &k[i];
	return NULL;
}

TEST(fdinfo_lists_knotes)
{
	char buf[8192];
	struct knote_line k[8];
	const struct knote_line *p;
	int kq = kq_new(_metadata), n, flags_oct = 0;
	char *fl;

	n = read_fdinfo(kq, buf, sizeof(buf), k, 8);
	ASSERT_EQ(0, n) TH_LOG("fdinfo:\n%s", buf);
	/* the usual fdinfo header is there, with O_CLOEXEC in flags (octal) */
	fl = strstr(buf, "flags:");
	ASSERT_NE(NULL, fl);
	ASSERT_EQ(1, sscanf(fl, "flags: %o", &flags_oct));
	ASSERT_TRUE(flags_oct & O_CLOEXEC);

	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD, 0, 0, U(0xffff888012345678ULL)));
	kq_change(_metadata, kq, kev(2, EVFILT_USER, EV_ADD | EV_CLEAR, NOTE_FFCOPY | 0x5, 7,
				     U(0xffffffff81000000ULL)));
	kq_change(_metadata, kq, kev(123456789012ULL, EVFILT_USER, EV_ADD | EV_DISPATCH, 0, 0,
				     NULL));
	kq_change(_metadata, kq, kev(2, EVFILT_USER, 0, NOTE_TRIGGER, 7,
				     U(0xffffffff81000000ULL)));
	n = read_fdinfo(kq, buf, sizeof(buf), k, 8);
	ASSERT_EQ(3, n) TH_LOG("fdinfo:\n%s", buf);

	p = find_knote(k, n, 1);
	ASSERT_NE(NULL, p) TH_LOG("fdinfo:\n%s", buf);
	ASSERT_EQ(EVFILT_USER, p->filter);
	ASSERT_EQ(EV_ADD, p->flags);
	ASSERT_EQ(0, p->fflags);
	ASSERT_EQ(0, p->data);
	ASSERT_NE(0, p->state[0]);

	p = find_knote(k, n, 2);
	ASSERT_NE(NULL, p) TH_LOG("fdinfo:\n%s", buf);
	ASSERT_EQ(EVFILT_USER, p->filter);
	ASSERT_EQ(EV_ADD | EV_CLEAR, p->flags);
	ASSERT_EQ(0x5, p->fflags);
	ASSERT_EQ(7, p->data);
	/* triggered and untriggered knotes are told apart */
	ASSERT_STRNE(find_knote(k, n, 1)->state, p->state);

	p = find_knote(k, n, 123456789012ULL);
	ASSERT_NE(NULL, p) TH_LOG("fdinfo:\n%s", buf);
	ASSERT_EQ(EV_ADD | EV_DISPATCH, p->flags);

	/* no kernel pointer, and udata (a user pointer) is not shown either */
	ASSERT_EQ(NULL, strstr(buf, "0xffff")) TH_LOG("fdinfo:\n%s", buf);
	ASSERT_EQ(NULL, strstr(buf, "ffff8880")) TH_LOG("fdinfo:\n%s", buf);
	ASSERT_EQ(NULL, strstr(buf, "ffffffff81")) TH_LOG("fdinfo:\n%s", buf);

	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_DELETE, 0, 0, NULL));
	n = read_fdinfo(kq, buf, sizeof(buf), k, 8);
	ASSERT_EQ(2, n) TH_LOG("fdinfo:\n%s", buf);
	ASSERT_EQ(NULL, find_knote(k, n, 1));
	close(kq);
}

TEST(fdinfo_many_knotes)
{
	enum { N = 300 };
	static char buf[1 << 16];
	static struct knote_line k[N];
	struct kevent ch[N];
	int kq = kq_new(_metadata), n, i;

	for (i = 0; i < N; i++)
		ch[i] = kev(i, EVFILT_USER, EV_ADD, 0, 0, NULL);
	kq_apply(_metadata, kq, ch, N);
	n = read_fdinfo(kq, buf, sizeof(buf), k, N);
	ASSERT_EQ(N, n);
	for (i = 0; i < N; i++)
		ASSERT_NE(NULL, find_knote(k, n, i));
	close(kq);
}

TEST_HARNESS_MAIN
