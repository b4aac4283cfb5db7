// SPDX-License-Identifier: GPL-2.0
/*
 * kqueue descriptors across fork/exec (contract section 2, library
 * decisions) and the EVFILT_LIBKQUEUE filter answered by the library.
 *
 * A kqueue is not inherited by a fork child: the library closes its kqueue
 * descriptors in the child unless EVFILT_LIBKQUEUE NOTE_FORK_CLEANUP was set
 * to 0.  Children report through their exit status (0 = all checks passed,
 * otherwise the number of the failing check).
 */
#include <sys/wait.h>

#include "kqueue_test.h"

#define U(x) ((void *)(uintptr_t)(x))

/* Run @fn(arg) in a fork child and return its exit status (or 100 + signal). */
static int in_child(int (*fn)(void *), void *arg)
{
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		alarm(10);
		_exit(fn(arg));
	}
	if (waitpid(pid, &status, 0) != pid)
		return -2;
	if (WIFSIGNALED(status))
		return 100 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

#define ASSERT_CHILD_OK(fn, arg) do { \
	int __st = in_child(fn, arg); \
	ASSERT_EQ(0, __st) TH_LOG("child status %d (1..99: failing check, 100+N: signal N)", \
				  __st); \
} while (0)

static int set_fork_cleanup(struct __test_metadata *_metadata, int kq, intptr_t on)
{
	struct kevent c = kev(0, EVFILT_LIBKQUEUE, EV_ADD | EV_RECEIPT, NOTE_FORK_CLEANUP, on, NULL);
	struct kevent out[2];

	memset(out, 0, sizeof(out));
	ASSERT_EQ(1, kevent(kq, &c, 1, out, 2, &ts_zero));
	ASSERT_KEV(err_entry(c, 0), &out[0]);
	return 0;
}

static int child_fd_closed(void *arg)
{
	int fd = *(int *)arg;

	errno = 0;
	if (fcntl(fd, F_GETFD) != -1)
		return 1;
	if (errno != EBADF)
		return 2;
	return 0;
}

static int child_fd_open(void *arg)
{
	int fd = *(int *)arg;

	if (fcntl(fd, F_GETFD) != FD_CLOEXEC)
		return 1;
	return 0;
}

TEST(kqueue_is_cloexec)
{
	int kq = kq_new(_metadata), kq2 = kq_new(_metadata);

	ASSERT_EQ(FD_CLOEXEC, fcntl(kq, F_GETFD));
	ASSERT_EQ(FD_CLOEXEC, fcntl(kq2, F_GETFD));
	ASSERT_NE(kq, kq2);
	/* O_RDWR, not O_NONBLOCK */
	ASSERT_EQ(O_RDWR, fcntl(kq, F_GETFL) & (O_ACCMODE | O_NONBLOCK));
	close(kq);
	close(kq2);
}

TEST(child_copy_closed_by_default)
{
	int kq = kq_new(_metadata), kq2 = kq_new(_metadata);

	ASSERT_CHILD_OK(child_fd_closed, &kq);
	ASSERT_CHILD_OK(child_fd_closed, &kq2);
	/* the parent's descriptor and kqueue are untouched */
	ASSERT_EQ(FD_CLOEXEC, fcntl(kq, F_GETFD));
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD, 0, 0, NULL));
	kq_change(_metadata, kq, kev(1, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL));
	ASSERT_ONE_EVENT(kq, user_ev(1, EV_ADD, 0, 0, NULL));
	close(kq);
	close(kq2);
}

/* With fork cleanup off the child shares the parent's kqueue. */
static int child_triggers(void *arg)
{
	int kq = *(int *)arg;
	struct kevent c = kev(5, EVFILT_USER, 0, NOTE_TRIGGER, 0, U(5));

	if (fcntl(kq, F_GETFD) != FD_CLOEXEC)
		return 1;
	if (kevent(kq, &c, 1, NULL, 0, NULL) != 0)
		return 2;
	return 0;
}

TEST(fork_cleanup_disabled_keeps_fd)
{
	int kq = kq_new(_metadata), kq2;

	kq_change(_metadata, kq, kev(5, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, U(5)));
	set_fork_cleanup(_metadata, kq, 0);
	ASSERT_CHILD_OK(child_triggers, &kq);
	ASSERT_ONE_EVENT(kq, user_ev(5, EV_ADD | EV_CLEAR, 0, 0, U(5)));
	/* process-wide: also a kqueue created afterwards */
	kq2 = kq_new(_metadata);
	ASSERT_CHILD_OK(child_fd_open, &kq2);
	close(kq2);
	close(kq);
}

TEST(fork_cleanup_reenabled)
{
	int kq = kq_new(_metadata);

	set_fork_cleanup(_metadata, kq, 0);
	ASSERT_CHILD_OK(child_fd_open, &kq);
	set_fork_cleanup(_metadata, kq, 1);
	ASSERT_CHILD_OK(child_fd_closed, &kq);
	close(kq);
}

TEST(fork_cleanup_without_receipt_returns_nothing)
{
	struct kevent c = kev(0, EVFILT_LIBKQUEUE, EV_ADD, NOTE_FORK_CLEANUP, 0, NULL), out[2];
	int kq = kq_new(_metadata);

	ASSERT_EQ(0, kevent(kq, &c, 1, out, 2, &ts_zero));
	ASSERT_CHILD_OK(child_fd_open, &kq);
	close(kq);
}

static int child_new_kqueue(void *arg)
{
	struct kevent ch[2], ev[2];
	int kq, st;

	(void)arg;
	kq = kqueue();
	if (kq < 0)
		return 1;
	ch[0] = kev(3, EVFILT_USER, EV_ADD, 0, 0, NULL);
	ch[1] = kev(3, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL);
	if (kevent(kq, ch, 2, NULL, 0, NULL) != 0)
		return 2;
	if (kq_poll(kq, ev, 2) != 1 || ev[0].ident != 3 || ev[0].filter != EVFILT_USER)
		return 3;
	/* a fork of the child closes the child's kqueue too */
	if (fork() == 0)
		_exit(fcntl(kq, F_GETFD) == -1 && errno == EBADF ? 0 : 1);
	if (wait(&st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
		return 4;
	return 0;
}

TEST(child_can_create_own_kqueue)
{
	int kq = kq_new(_metadata);

	ASSERT_CHILD_OK(child_new_kqueue, NULL);
	close(kq);
}

/* A descriptor that reuses a closed kqueue's number is not closed in the child. */
TEST(reused_fd_number_not_closed)
{
	int kq = kq_new(_metadata), nul;

	ASSERT_EQ(0, close(kq));
	nul = open("/dev/null", O_RDONLY);
	ASSERT_LE(0, nul);
	if (nul != kq) {
		ASSERT_EQ(kq, dup2(nul, kq));
		close(nul);
	}
	ASSERT_EQ(0, fcntl(kq, F_GETFD));
	/* child_fd_open expects FD_CLOEXEC */
	ASSERT_EQ(0, fcntl(kq, F_SETFD, FD_CLOEXEC));
	ASSERT_CHILD_OK(child_fd_open, &kq);
	close(kq);
}

/* A child closing its copy must not disturb a thread of the parent waiting on it. */
struct waiter {
	int kq;
	int ret;
	int err;
	volatile pid_t tid;
	struct kevent ev[2];
};

static void *waiter_fn(void *arg)
{
	struct waiter *w = arg;

	w->tid = sys_gettid();
	errno = 0;
	w->ret = kevent(w->kq, NULL, 0, w->ev, 2, NULL);
	w->err = errno;
	return NULL;
}

static int child_nothing(void *arg)
{
	(void)arg;
	return 0;
}

TEST(child_close_does_not_disturb_parent_waiter)
{
	struct waiter w = { 0 };
	pthread_t t;
	int64_t end;

	watchdog(25);
	w.kq = kq_new(_metadata);
	kq_change(_metadata, w.kq, kev(1, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, U(1)));
	ASSERT_EQ(0, pthread_create(&t, NULL, waiter_fn, &w));
	end = now_ms() + 5000;
	while (!w.tid && now_ms() < end)
		sleep_ms(5);
	ASSERT_TRUE(wait_thread_sleeping(w.tid, 5000));
	ASSERT_CHILD_OK(child_fd_closed, &w.kq);
	ASSERT_CHILD_OK(child_nothing, NULL);
	/* still waiting */
	sleep_ms(100);
	ASSERT_TRUE(wait_thread_sleeping(w.tid, 1000));
	kq_change(_metadata, w.kq, kev(1, EVFILT_USER, 0, NOTE_TRIGGER, 0, U(1)));
	ASSERT_EQ(0, join_within(t, NULL, 10000));
	ASSERT_EQ(1, w.ret) TH_LOG("waiter: ret %d errno %d", w.ret, w.err);
	ASSERT_KEV(user_ev(1, EV_ADD | EV_CLEAR, 0, 0, U(1)), &w.ev[0]);
	close(w.kq);
}

/* ---- EVFILT_LIBKQUEUE ---- */

TEST(libkqueue_version)
{
	struct kevent c = kev(0, EVFILT_LIBKQUEUE, EV_ADD, NOTE_VERSION, 0, NULL), out[2];
	int kq = kq_new(_metadata);

	memset(out, 0, sizeof(out));
	ASSERT_EQ(1, kevent(kq, &c, 1, out, 2, &ts_zero));
	ASSERT_KEV(kev(0, EVFILT_LIBKQUEUE, EV_ADD, NOTE_VERSION, 0x02070000, NULL), &out[0]);
	/* with a NULL timeout and no room left: answered at once */
	watchdog(20);
	memset(out, 0, sizeof(out));
	ASSERT_EQ(1, kevent(kq, &c, 1, out, 1, NULL));
	ASSERT_EQ(0x02070000, out[0].data);
	close(kq);
}

TEST(libkqueue_version_str)
{
	struct kevent c = kev(0, EVFILT_LIBKQUEUE, EV_ADD, NOTE_VERSION_STR, 0, NULL), out[2];
	int kq = kq_new(_metadata);

	memset(out, 0, sizeof(out));
	ASSERT_EQ(1, kevent(kq, &c, 1, out, 2, &ts_zero));
	ASSERT_EQ(0, out[0].ident);
	ASSERT_EQ(EVFILT_LIBKQUEUE, out[0].filter);
	ASSERT_EQ(EV_ADD, out[0].flags);
	ASSERT_EQ(NOTE_VERSION_STR, out[0].fflags);
	ASSERT_EQ(0, out[0].data);
	ASSERT_NE(NULL, out[0].udata);
	ASSERT_STREQ("2.7.0", (const char *)out[0].udata);
	close(kq);
}

TEST(libkqueue_accepted_notes)
{
	static const unsigned int notes[] = {
		NOTE_THREAD_SAFE, NOTE_DEBUG, NOTE_DEBUG_PREFIX, NOTE_DEBUG_FUNC,
	};
	struct kevent ch[4], out[5];
	int kq = kq_new(_metadata), i;

	for (i = 0; i < 4; i++)
		ch[i] = kev(0, EVFILT_LIBKQUEUE, EV_ADD | EV_RECEIPT, notes[i], 0, NULL);
	memset(out, 0, sizeof(out));
	ASSERT_EQ(4, kevent(kq, ch, 4, out, 5, &ts_zero));
	for (i = 0; i < 4; i++)
		ASSERT_KEV(err_entry(ch[i], 0), &out[i]);
	/* without EV_RECEIPT: accepted silently */
	for (i = 0; i < 4; i++)
		ch[i].flags = EV_ADD;
	ASSERT_EQ(0, kevent(kq, ch, 4, out, 5, &ts_zero));
	close(kq);
}

/* NOTE_FILE_POLL_INTERVAL: ENOSYS, as in libkqueue's Linux backend. */
TEST(libkqueue_file_poll_interval_enosys)
{
	struct kevent c = kev(0, EVFILT_LIBKQUEUE, EV_ADD, NOTE_FILE_POLL_INTERVAL, 100, NULL);
	struct kevent out[2];
	int kq = kq_new(_metadata);

	ASSERT_CHANGE_ERR(kq, c, ENOSYS);
	c.flags |= EV_RECEIPT;
	ASSERT_CHANGE_ERR(kq, c, ENOSYS);
	/* no room for the entry: the call fails */
	ASSERT_FAILS(ENOSYS, kevent(kq, &c, 1, out, 0, &ts_zero));
	close(kq);
}

TEST(libkqueue_unknown_note_einval)
{
	struct kevent ch[2], out[2];
	int kq = kq_new(_metadata);

	ch[0] = kev(0, EVFILT_LIBKQUEUE, EV_ADD, 99, 0, NULL);
	ch[1] = kev(0, EVFILT_LIBKQUEUE, EV_ADD, 0, 0, NULL);
	memset(out, 0, sizeof(out));
	ASSERT_EQ(2, kevent(kq, ch, 2, out, 2, &ts_zero));
	ASSERT_KEV(err_entry(ch[0], EINVAL), &out[0]);
	ASSERT_KEV(err_entry(ch[1], EINVAL), &out[1]);
	ASSERT_FAILS(EINVAL, kevent(kq, ch, 1, NULL, 0, NULL));
	close(kq);
}

TEST(libkqueue_entries_in_order)
{
	struct kevent ch[5], out[6];
	int kq = kq_new(_metadata);

	ch[0] = kev(1, EVFILT_USER, EV_ADD | EV_RECEIPT, 0, 0, U(1));
	ch[1] = kev(0, EVFILT_LIBKQUEUE, EV_ADD, NOTE_VERSION, 0, NULL);
	ch[2] = kev(2, EVFILT_USER, EV_DELETE, 0, 0, U(2));		/* ENOENT */
	ch[3] = kev(0, EVFILT_LIBKQUEUE, EV_ADD | EV_RECEIPT, NOTE_THREAD_SAFE, 0, NULL);
	ch[4] = kev(3, EVFILT_USER, EV_ADD | EV_RECEIPT, 0, 0, U(3));
	memset(out, 0, sizeof(out));
	ASSERT_EQ(5, kevent(kq, ch, 5, out, 6, &ts_zero));
	ASSERT_KEV(err_entry(ch[0], 0), &out[0]);
	ASSERT_KEV(kev(0, EVFILT_LIBKQUEUE, EV_ADD, NOTE_VERSION, 0x02070000, NULL), &out[1]);
	ASSERT_KEV(err_entry(ch[2], ENOENT), &out[2]);
	ASSERT_KEV(err_entry(ch[3], 0), &out[3]);
	ASSERT_KEV(err_entry(ch[4], 0), &out[4]);
	/* the USER changes around the LIBKQUEUE ones were applied */
	kq_change(_metadata, kq, kev(3, EVFILT_USER, 0, NOTE_TRIGGER, 0, U(3)));
	ASSERT_ONE_EVENT(kq, user_ev(3, EV_ADD | EV_RECEIPT, 0, 0, U(3)));
	close(kq);
}

TEST(libkqueue_change_with_pending_event)
{
	struct kevent c, out[2];
	int kq = kq_new(_metadata);

	/* an accepted LIBKQUEUE change without receipt leaves collection alone */
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, NULL));
	kq_change(_metadata, kq, kev(1, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL));
	c = kev(0, EVFILT_LIBKQUEUE, EV_ADD, NOTE_THREAD_SAFE, 0, NULL);
	memset(out, 0, sizeof(out));
	ASSERT_EQ(1, kevent(kq, &c, 1, out, 2, &ts_zero));
	ASSERT_KEV(user_ev(1, EV_ADD | EV_CLEAR, 0, 0, NULL), &out[0]);
	close(kq);
}

/*
 * kqueuex() and kqueue1() (FreeBSD, NetBSD): close-on-exec only as asked,
 * O_NONBLOCK accepted and ignored, other flags EINVAL (FreeBSD 15's
 * KQUEUE_CPONFORK, 2, included); the kqueue works like any other.
 */
TEST(kqueuex_and_kqueue1_flags)
{
	static const struct { int x, flags, cloexec; } calls[] = {
		{ 1, 0, 0 },
		{ 1, KQUEUE_CLOEXEC, FD_CLOEXEC },
		{ 0, 0, 0 },
		{ 0, O_CLOEXEC, FD_CLOEXEC },
		{ 0, O_NONBLOCK, 0 },
		{ 0, O_CLOEXEC | O_NONBLOCK, FD_CLOEXEC },
	};
	unsigned int i;
	int kq;

	for (i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		kq = calls[i].x ? kqueuex(calls[i].flags) : kqueue1(calls[i].flags);
		ASSERT_LE(0, kq) TH_LOG("call %u: %s", i, strerror(errno));
		ASSERT_EQ(calls[i].cloexec, fcntl(kq, F_GETFD)) TH_LOG("call %u", i);
		ASSERT_EQ(O_RDWR, fcntl(kq, F_GETFL) & (O_ACCMODE | O_NONBLOCK)) TH_LOG("call %u", i);
		kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD, NOTE_TRIGGER, 0, U(i)));
		ASSERT_ONE_EVENT(kq, user_ev(1, EV_ADD, 0, 0, U(i)));
		close(kq);
	}
	errno = 0;
	ASSERT_FAILS(EINVAL, kqueuex(2));
	ASSERT_FAILS(EINVAL, kqueuex(KQUEUE_CLOEXEC | 2));
	ASSERT_FAILS(EINVAL, kqueuex(0x80000000u));
	ASSERT_FAILS(EINVAL, kqueue1(O_APPEND));
	ASSERT_FAILS(EINVAL, kqueue1(O_CLOEXEC | O_DIRECTORY));
	ASSERT_FAILS(EINVAL, kqueue1(-1));
}

/* Their descriptors are closed in a fork child as kqueue()'s are. */
TEST(kqueuex_and_kqueue1_child_copies_closed)
{
	int kqs[4] = { kqueuex(0), kqueuex(KQUEUE_CLOEXEC), kqueue1(0), kqueue1(O_CLOEXEC) };
	unsigned int i;

	for (i = 0; i < 4; i++) {
		ASSERT_LE(0, kqs[i]) TH_LOG("kqueue %u: %s", i, strerror(errno));
		ASSERT_CHILD_OK(child_fd_closed, &kqs[i]);
	}
	/* NOTE_FORK_CLEANUP 0 keeps them, as for kqueue(). */
	set_fork_cleanup(_metadata, kqs[0], 0);
	ASSERT_CHILD_OK(child_fd_open, &kqs[1]);
	ASSERT_CHILD_OK(child_fd_open, &kqs[3]);
	for (i = 0; i < 4; i++)
		close(kqs[i]);
}

TEST_HARNESS_MAIN
