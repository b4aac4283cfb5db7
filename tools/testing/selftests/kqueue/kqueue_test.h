/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared helpers of the kqueue selftests.
 *
 * Conventions (see /work/shared/spec/kqueue-contract.md and the team
 * decisions):
 *  - returned events are compared as whole struct kevent (memcmp), the way
 *    programs and test suites built against libkqueue do;
 *  - a returned event carries the flags of its registration with EV_ADD kept
 *    and the action bits EV_ENABLE/EV_DISABLE/EV_DELETE/EV_RECEIPT dropped
 *    (RET_FLAGS below); EVFILT_USER events drop EV_ADD too, as libkqueue's
 *    user filter (and FreeBSD) do (USER_RET_FLAGS);
 *  - an error or receipt entry is the change itself with EV_ERROR added and
 *    data = errno (0 for a receipt): ERR_ENTRY below.
 */
#ifndef KQUEUE_SELFTEST_H
#define KQUEUE_SELFTEST_H

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/types.h>

#include <sys/event.h>		/* libkqueue-compatible header */

#include "kselftest_harness.h"

_Static_assert(sizeof(struct kevent) == 32, "struct kevent is 32 bytes on LP64");

static const struct timespec ts_zero = { 0, 0 };

/* Flags reported in a returned event for a knote registered with @reg. */
#define RET_FLAGS(reg) \
	((unsigned short)((reg) & ~(EV_ENABLE | EV_DISABLE | EV_DELETE | EV_RECEIPT)))
#define USER_RET_FLAGS(reg) ((unsigned short)(RET_FLAGS(reg) & ~EV_ADD))

static inline struct kevent kev(uintptr_t ident, short filter, unsigned short flags,
				unsigned int fflags, intptr_t data, void *udata)
{
	struct kevent k;

	memset(&k, 0, sizeof(k));
	EV_SET(&k, ident, filter, flags, fflags, data, udata);
	return k;
}

/* The entry kevent() writes for change @c that failed with @err (0: receipt). */
static inline struct kevent err_entry(struct kevent c, int err)
{
	c.flags |= EV_ERROR;
	c.data = err;
	return c;
}

/* Event expected for a triggered EVFILT_USER knote. */
static inline struct kevent user_ev(uintptr_t ident, unsigned short regflags,
				    unsigned int fflags, intptr_t data, void *udata)
{
	return kev(ident, EVFILT_USER, USER_RET_FLAGS(regflags), fflags, data, udata);
}

static inline const char *kev_str(const struct kevent *k, char *buf, size_t len)
{
	snprintf(buf, len, "{ident=%#" PRIxPTR " filter=%d flags=%#x fflags=%#x data=%" PRIdPTR
		 " udata=%p}", k->ident, k->filter, k->flags, k->fflags, k->data, k->udata);
	return buf;
}

#define __KEV_CMP(_exp, _got, _assert) do { \
	struct kevent __kexp = (_exp); \
	const struct kevent *__kgot = (_got); \
	if (memcmp(&__kexp, __kgot, sizeof(struct kevent))) { \
		char __b1[160], __b2[160]; \
		__TH_LOG("kevent mismatch\n#   expected %s\n#   got      %s", \
			 kev_str(&__kexp, __b1, sizeof(__b1)), \
			 kev_str(__kgot, __b2, sizeof(__b2))); \
		_metadata->exit_code = KSFT_FAIL; \
		_metadata->trigger = 1; \
	} \
} while (0); OPTIONAL_HANDLER(_assert)

/* Compare a returned struct kevent (pointer) with the expected one (value). */
#define ASSERT_KEV(expected, gotp) __KEV_CMP(expected, gotp, 1)
#define EXPECT_KEV(expected, gotp) __KEV_CMP(expected, gotp, 0)

/* Expect kevent() to fail with -1 and @err. */
#define ASSERT_FAILS(err, call) do { \
	errno = 0; \
	int __r = (call); \
	int __e = errno; \
	ASSERT_EQ(-1, __r) TH_LOG("%s returned %d, expected -1/%s", #call, __r, strerror(err)); \
	ASSERT_EQ(err, __e) TH_LOG("%s: errno %d (%s), expected %d (%s)", #call, \
				   __e, strerror(__e), err, strerror(err)); \
} while (0)

static inline int kq_new(struct __test_metadata *_metadata)
{
	int kq = kqueue();

	ASSERT_LE(0, kq) TH_LOG("kqueue(): %s (is the kqueue module loaded?)", strerror(errno));
	return kq;
}

/* Apply changes with nevents = 0: must return 0. */
static inline void kq_apply(struct __test_metadata *_metadata, int kq,
			    const struct kevent *ch, int n)
{
	int r = kevent(kq, ch, n, NULL, 0, NULL);

	ASSERT_EQ(0, r) TH_LOG("kevent(apply %d changes): %s", n, strerror(errno));
}

static inline void kq_change(struct __test_metadata *_metadata, int kq, struct kevent c)
{
	kq_apply(_metadata, kq, &c, 1);
}

/* Poll (timeout {0,0}) for up to @n events. */
static inline int kq_poll(int kq, struct kevent *ev, int n)
{
	return kevent(kq, NULL, 0, ev, n, &ts_zero);
}

#define ASSERT_NO_EVENT(kq) do { \
	struct kevent __ev[4]; \
	int __n = kq_poll(kq, __ev, 4); \
	ASSERT_EQ(0, __n) TH_LOG("expected no pending event, kevent returned %d (errno %d)", \
				 __n, __n < 0 ? errno : 0); \
} while (0)

/* Exactly one pending event, equal to @expected. */
#define ASSERT_ONE_EVENT(kq, expected) do { \
	struct kevent __ev[4]; \
	memset(__ev, 0, sizeof(__ev)); \
	int __n = kq_poll(kq, __ev, 4); \
	ASSERT_EQ(1, __n) TH_LOG("expected 1 event, kevent returned %d (errno %d)", \
				 __n, __n < 0 ? errno : 0); \
	ASSERT_KEV(expected, &__ev[0]); \
} while (0)

/* Submit one change with room for one entry; expect the error entry @err. */
#define ASSERT_CHANGE_ERR(kq, change, err) do { \
	struct kevent __c = (change), __out[2]; \
	memset(__out, 0, sizeof(__out)); \
	int __n = kevent(kq, &__c, 1, __out, 2, &ts_zero); \
	ASSERT_EQ(1, __n) TH_LOG("expected one error entry, kevent returned %d (errno %d)", \
				 __n, __n < 0 ? errno : 0); \
	ASSERT_KEV(err_entry(__c, err), &__out[0]); \
} while (0)

static inline int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/*
 * Watchdog: SIGALRM with its default action kills the test process, which
 * the harness reports as a failure ("terminated unexpectedly by signal 14")
 * instead of hanging until the harness timeout.
 */
static inline void watchdog(unsigned int seconds)
{
	signal(SIGALRM, SIG_DFL);
	alarm(seconds);
}

static inline pid_t sys_gettid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

/*
 * Wait (up to @max_ms) until thread @tid of this process is sleeping
 * (state S in /proc/self/task/<tid>/stat), i.e. blocked in its wait.
 * Returns 1 if it was seen sleeping, 0 otherwise.
 */
static inline int wait_thread_sleeping(pid_t tid, long max_ms)
{
	char path[64], buf[512], *p;
	int64_t end = now_ms() + max_ms;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	while (now_ms() < end) {
		FILE *f = fopen(path, "r");

		if (f) {
			size_t n = fread(buf, 1, sizeof(buf) - 1, f);

			fclose(f);
			buf[n] = 0;
			p = strrchr(buf, ')');
			if (p && p[1] == ' ' && p[2] == 'S')
				return 1;
		}
		sleep_ms(10);
	}
	return 0;
}

/* Join @t within @ms milliseconds; returns 0 on success (ETIMEDOUT else). */
static inline int join_within(pthread_t t, void **ret, long ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return pthread_timedjoin_np(t, ret, &ts);
}


/* A non-blocking, close-on-exec pipe. */
static inline void make_pipe(struct __test_metadata *_metadata, int p[2])
{
	ASSERT_EQ(0, pipe2(p, O_CLOEXEC | O_NONBLOCK)) TH_LOG("pipe2: %s", strerror(errno));
}

/* A FIFO in /tmp named after @tag, opened non-blocking at both ends, unlinked. */
static inline void make_fifo(struct __test_metadata *_metadata, const char *tag,
			     int *rfd, int *wfd)
{
	char path[64];

	snprintf(path, sizeof(path), "/tmp/kq-%s-%d", tag, getpid());
	unlink(path);
	ASSERT_EQ(0, mkfifo(path, 0600)) TH_LOG("mkfifo %s: %s", path, strerror(errno));
	*rfd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	ASSERT_LE(0, *rfd);
	*wfd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	ASSERT_LE(0, *wfd);
	unlink(path);
}


/* Writes @len bytes (at most 70000) to @fd in one call, which must take them all. */
static char kq_test_buf[70000];

static inline void write_n(struct __test_metadata *_metadata, int fd, size_t len)
{
	ssize_t r;

	ASSERT_GE(sizeof(kq_test_buf), len);
	memset(kq_test_buf, 'd', len);
	r = write(fd, kq_test_buf, len);
	ASSERT_EQ((ssize_t)len, r) TH_LOG("write(%d, %zu): %s", fd, len, strerror(errno));
}

/* Reads exactly @len bytes (at most 70000) from @fd in one call. */
static inline void read_n(struct __test_metadata *_metadata, int fd, size_t len)
{
	ssize_t r;

	ASSERT_GE(sizeof(kq_test_buf), len);
	r = read(fd, kq_test_buf, len);
	ASSERT_EQ((ssize_t)len, r) TH_LOG("read(%d, %zu): %s", fd, len, strerror(errno));
}

#endif /* KQUEUE_SELFTEST_H */
