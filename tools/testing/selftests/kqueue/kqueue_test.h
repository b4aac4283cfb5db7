/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared helpers of the kqueue selftests.
 *
 * Conventions (see /work/shared/spec/kqueue-contract.md and the team
 * decisions):
 *  - returned events are compared as whole struct kevent (memcmp), the way
 *    programs and test suites built against libkqueue do;
 *  - a returned event carries the flags of its registration with EV_ADD and
 *    EV_RECEIPT kept and the action bits EV_ENABLE/EV_DISABLE/EV_DELETE
 *    dropped (RET_FLAGS below), on every filter, EVFILT_USER included, as
 *    libkqueue reports them;
 *  - an error or receipt entry is the change itself with EV_ERROR added and
 *    data = errno (0 for a receipt): ERR_ENTRY below.
 */
#ifndef KQUEUE_SELFTEST_H
#define KQUEUE_SELFTEST_H

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <sys/event.h>		/* libkqueue-compatible header */

#include "kselftest_harness.h"

_Static_assert(sizeof(struct kevent) == 32, "struct kevent is 32 bytes on LP64");

static const struct timespec ts_zero = { 0, 0 };

/* Flags reported in a returned event for a knote registered with @reg. */
#define RET_FLAGS(reg) \
	((unsigned short)((reg) & ~(EV_ENABLE | EV_DISABLE | EV_DELETE)))

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
	return kev(ident, EVFILT_USER, RET_FLAGS(regflags), fflags, data, udata);
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

/* Busy-waits @ns nanoseconds: a delay far shorter than a sleep can be. */
static inline void spin_ns(long ns)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do
		clock_gettime(CLOCK_MONOTONIC, &t);
	while ((t.tv_sec - t0.tv_sec) * 1000000000L + t.tv_nsec - t0.tv_nsec < ns);
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

/*
 * Poll @kq until it returns exactly one event equal to @exp, for up to @ms
 * milliseconds (delivery over loopback is asynchronous and may come in
 * pieces); fails with the last event seen. WAIT_EVENT() waits WAIT_MS, which
 * the test file defines.
 */
static inline void wait_event_eq(struct __test_metadata *_metadata, int kq, struct kevent exp,
				 long ms)
{
	struct timespec ts = { 0, 20 * 1000000L };
	struct kevent ev[4], last;
	int64_t end = now_ms() + ms;
	int n, lastn = -2;
	char b1[160], b2[160];

	memset(&last, 0, sizeof(last));
	for (;;) {
		memset(ev, 0, sizeof(ev));
		n = kevent(kq, NULL, 0, ev, 4, &ts);
		if (n == 1 && !memcmp(&exp, &ev[0], sizeof(exp)))
			return;
		lastn = n;
		if (n >= 1)
			last = ev[0];
		if (now_ms() >= end)
			break;
		sleep_ms(5);
	}
	ASSERT_EQ(1, lastn) TH_LOG("waiting for %s: kevent returned %d (errno %d)",
				   kev_str(&exp, b1, sizeof(b1)), lastn, lastn < 0 ? errno : 0);
	ASSERT_KEV(exp, &last) TH_LOG("last event %s", kev_str(&last, b2, sizeof(b2)));
}

#define WAIT_EVENT(kq, exp) wait_event_eq(_metadata, kq, exp, WAIT_MS)

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

/* Number of knotes of @filter listed in the fdinfo of @kq, or -1. */
static inline int fdinfo_knotes(int kq, int filter)
{
	char path[64], line[256], tag[32];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", kq);
	snprintf(tag, sizeof(tag), " filter=%d ", filter);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "knote:", 6) && strstr(line, tag))
			n++;
	fclose(f);
	return n;
}

/* ---- EVFILT_PROC: expected events ------------------------------------- */

/* Flags of a returned EVFILT_PROC event registered with @reg (EV_CLEAR implied). */
#define PROC_RET_FLAGS(reg) ((unsigned short)(RET_FLAGS(reg) | EV_CLEAR))

/* Expected EVFILT_PROC event; NOTE_EXIT in @fflags adds EV_EOF|EV_ONESHOT. */
static inline struct kevent proc_ev(pid_t pid, unsigned short regflags, unsigned int fflags,
				    intptr_t data, void *udata)
{
	unsigned short f = PROC_RET_FLAGS(regflags);

	if (fflags & NOTE_EXIT)
		f |= EV_EOF | EV_ONESHOT;
	return kev((uintptr_t)pid, EVFILT_PROC, f, fflags, data, udata);
}

/*
 * The NOTE_CHILD event of a tracked fork: ident = child, data = parent,
 * udata and flags of the parent's knote, plus EV_ONESHOT.
 */
static inline struct kevent proc_child_ev(pid_t child, pid_t parent, unsigned short regflags,
					  void *udata)
{
	return kev((uintptr_t)child, EVFILT_PROC, PROC_RET_FLAGS(regflags) | EV_ONESHOT,
		   NOTE_CHILD, parent, udata);
}

/* EV_ADD an EVFILT_PROC knote; must succeed. */
static inline void proc_watch(struct __test_metadata *_metadata, int kq, pid_t pid,
			      unsigned int fflags, void *udata)
{
	kq_change(_metadata, kq, kev((uintptr_t)pid, EVFILT_PROC, EV_ADD, fflags, 0, udata));
}

/* kevent() collecting up to @n events, waiting up to @ms milliseconds. */
static inline int proc_wait(int kq, struct kevent *ev, int n, long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	return kevent(kq, NULL, 0, ev, n, &ts);
}

/*
 * Collect events into @ev (room for @max) until @want have arrived or @ms
 * passed, then go on collecting for @quiet_ms more (events beyond @want
 * are collected too, so that a test sees them). Returns the number
 * collected, or -1 if kevent() failed.
 */
static inline int proc_collect(int kq, struct kevent *ev, int max, int want, long ms,
			       long quiet_ms)
{
	int64_t end = now_ms() + ms;
	int n = 0, r;

	while (n < max) {
		int64_t left = n < want ? end - now_ms() : quiet_ms;

		if (left <= 0)
			break;
		r = proc_wait(kq, ev + n, max - n, left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0 && n >= want)
			break;
		n += r;
	}
	return n;
}

/* Exactly one event within @ms (more than one pending is a failure); returned. */
static inline struct kevent proc_one(struct __test_metadata *_metadata, int kq, long ms)
{
	struct kevent ev[4];
	int n;

	memset(ev, 0, sizeof(ev));
	n = proc_wait(kq, ev, 4, ms);
	ASSERT_EQ(1, n) TH_LOG("expected 1 event within %ld ms, kevent returned %d (errno %d)",
			       ms, n, n < 0 ? errno : 0);
	return ev[0];
}

/* No event within @ms. */
#define ASSERT_QUIET(kq, ms) do { \
	struct kevent __qev[4]; \
	int __qn = proc_wait(kq, __qev, 4, ms); \
	char __qb[160]; \
	ASSERT_EQ(0, __qn) TH_LOG("expected no event for %d ms, kevent returned %d (errno %d)%s%s", \
				  (int)(ms), __qn, __qn < 0 ? errno : 0, __qn > 0 ? ": first " : "", \
				  __qn > 0 ? kev_str(&__qev[0], __qb, sizeof(__qb)) : ""); \
} while (0)

/* waitpid(@pid) within @ms: the status, or -1 (not reapable in time, or error). */
static inline int proc_reap(pid_t pid, long ms)
{
	int64_t end = now_ms() + ms;
	int st;
	pid_t r;

	for (;;) {
		r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return st;
		if (r < 0 && errno != EINTR)
			return -1;
		if (now_ms() >= end)
			return -1;
		sleep_ms(5);
	}
}

/* Wait (up to @ms) until @pid is a zombie, without reaping it: 0 or -1. */
static inline int proc_wait_zombie(pid_t pid, long ms)
{
	int64_t end = now_ms() + ms;
	siginfo_t si;

	for (;;) {
		memset(&si, 0, sizeof(si));
		if (waitid(P_PID, pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid)
			return 0;
		if (now_ms() >= end)
			return -1;
		sleep_ms(5);
	}
}

/* Orphaned descendants of the test are reparented to it (and reapable). */
static inline void proc_subreaper(struct __test_metadata *_metadata)
{
	ASSERT_EQ(0, prctl(PR_SET_CHILD_SUBREAPER, 1)) TH_LOG("PR_SET_CHILD_SUBREAPER: %s",
							      strerror(errno));
}

/* ---- EVFILT_PROC: child processes driven through pipes ----------------- */

/*
 * A "kid" is a forked child process running @fn(in, out, arg), whose exit
 * status is @fn's return value. The test writes command bytes to kid.to
 * (the kid's @in) and reads replies from kid.from (the kid's @out). Kids
 * exit on SIGALRM after KID_ALARM seconds, so that a failed test leaves
 * nothing behind for long. Checks inside a kid use KID_CHECK, which prints
 * the failed condition and makes the kid exit with status 1.
 */
#define KID_ALARM 120

struct kid {
	pid_t pid;
	int to;		/* test -> kid */
	int from;	/* kid -> test */
};

typedef int (*kid_fn)(int in, int out, void *arg);

#define KID_CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "# %s:%d: check failed in pid %d: %s (errno %d: %s)\n", \
			__FILE__, __LINE__, getpid(), #cond, errno, strerror(errno)); \
		return 1; \
	} \
} while (0)

static inline void kid_spawn(struct __test_metadata *_metadata, struct kid *k, kid_fn fn,
			     void *arg)
{
	int a[2], b[2];

	ASSERT_EQ(0, pipe2(a, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(b, O_CLOEXEC));
	fflush(NULL);
	k->pid = fork();
	ASSERT_LE(0, k->pid) TH_LOG("fork: %s", strerror(errno));
	if (k->pid == 0) {
		close(a[1]);
		close(b[0]);
		signal(SIGALRM, SIG_DFL);
		alarm(KID_ALARM);
		_exit(fn(a[0], b[1], arg));
	}
	close(a[0]);
	close(b[1]);
	k->to = a[1];
	k->from = b[0];
}

static inline void kid_close(struct kid *k)
{
	if (k->to >= 0)
		close(k->to);
	if (k->from >= 0)
		close(k->from);
	k->to = k->from = -1;
}

/* Read exactly @len bytes from @fd within @ms: 0, or -1 (timeout, EOF, error). */
static inline int read_within(int fd, void *buf, size_t len, long ms)
{
	int64_t end = now_ms() + ms;
	size_t got = 0;

	while (got < len) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = end - now_ms();
		ssize_t r;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return -1;
		r = read(fd, (char *)buf + got, len - got);
		if (r <= 0)
			return -1;
		got += r;
	}
	return 0;
}

static inline void kid_send(struct __test_metadata *_metadata, struct kid *k, char c)
{
	ASSERT_EQ(1, write(k->to, &c, 1)) TH_LOG("write to kid %d: %s", k->pid, strerror(errno));
}

/* Read @len bytes the kid sends, within @ms. */
static inline void kid_recv(struct __test_metadata *_metadata, struct kid *k, void *buf,
			    size_t len, long ms)
{
	ASSERT_EQ(0, read_within(k->from, buf, len, ms))
		TH_LOG("no reply from kid %d within %ld ms", k->pid, ms);
}

/* The kid's next reply byte must be @c (within @ms). */
static inline void kid_expect(struct __test_metadata *_metadata, struct kid *k, char c, long ms)
{
	char got = 0;

	kid_recv(_metadata, k, &got, 1, ms);
	ASSERT_EQ(c, got) TH_LOG("kid %d replied '%c', expected '%c'", k->pid, got, c);
}

/* Kid side: the next command byte, or -1 at EOF (the test went away). */
static inline int kid_cmd(int in)
{
	char c;

	return read(in, &c, 1) == 1 ? (unsigned char)c : -1;
}

static inline int kid_reply(int out, const void *buf, size_t len)
{
	return write(out, buf, len) == (ssize_t)len ? 0 : -1;
}

static inline void *kid_thread_nop(void *arg)
{
	return arg;
}

/*
 * One command of the generic kid server; returns 1 to go on, 0 to exit 0,
 * or -1 for an unknown command. Commands:
 *   'f'  fork a child that exits 0 at once, reap it, reply 'd'
 *   'F'  fork a child that exits 0 at once, do not reap it, reply its pid
 *   'v'  vfork a child that exits 0 at once, reap it, reply 'd'
 *   't'  create and join a thread (no new process), reply 'd'
 *   'c'  followed by a byte N: exit with status N
 *   'x'  exit 0
 */
static inline int kid_server_cmd(int cmd, int in, int out)
{
	pthread_t t;
	pid_t p;
	int st;

	switch (cmd) {
	case 'f':
	case 'F':
		p = fork();
		if (p == 0)
			_exit(0);
		if (p < 0)
			return -1;
		if (cmd == 'F')
			return kid_reply(out, &p, sizeof(p)) ? -1 : 1;
		if (waitpid(p, &st, 0) != p)
			return -1;
		return kid_reply(out, "d", 1) ? -1 : 1;
	case 'v':
		p = vfork();
		if (p == 0)
			_exit(0);
		if (p < 0 || waitpid(p, &st, 0) != p)
			return -1;
		return kid_reply(out, "d", 1) ? -1 : 1;
	case 't':
		if (pthread_create(&t, NULL, kid_thread_nop, NULL) || pthread_join(t, NULL))
			return -1;
		return kid_reply(out, "d", 1) ? -1 : 1;
	case 'c':
		st = kid_cmd(in);
		if (st < 0)
			return -1;
		_exit(st);
	case 'x':
		return 0;
	}
	return -1;
}

/*
 * A kid (kid_fn) that forks until told to stop: after 'g' it forks children
 * that exit at once and reaps them, until any byte arrives on @in (polled);
 * with *(int *)@arg set, each child first forks and reaps a grandchild. It
 * then replies the number of forks (an int) and exits 0 on 'x'.
 */
static inline int forker(int in, int out, void *arg)
{
	int grandchild = *(int *)arg, forks = 0, st;
	char b;

	if (kid_cmd(in) != 'g')
		return 99;
	KID_CHECK(fcntl(in, F_SETFL, O_NONBLOCK) == 0);
	while (read(in, &b, 1) != 1) {
		pid_t c = fork();

		KID_CHECK(c >= 0);
		if (c == 0) {
			pid_t g = grandchild ? fork() : -1;

			if (g == 0)
				_exit(0);
			if (g > 0)
				waitpid(g, &st, 0);
			_exit(0);
		}
		KID_CHECK(waitpid(c, &st, 0) == c);
		forks++;
	}
	KID_CHECK(kid_reply(out, &forks, sizeof(forks)) == 0);
	KID_CHECK(fcntl(in, F_SETFL, 0) == 0);
	return kid_cmd(in) == 'x' ? 0 : 3;
}

/* The generic kid server (kid_fn): runs kid_server_cmd commands until 'x'. */
static inline int kid_server(int in, int out, void *arg)
{
	int r;

	(void)arg;
	for (;;) {
		r = kid_server_cmd(kid_cmd(in), in, out);
		if (r == 0)
			return 0;
		if (r < 0)
			return 2;
	}
}

/* Drop to uid/gid 65534 (nobody) for good: 0 or -1. */
static inline int drop_to_nobody(void)
{
	if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) ||
	    setresuid(65534, 65534, 65534))
		return -1;
	return 0;
}

#endif /* KQUEUE_SELFTEST_H */
