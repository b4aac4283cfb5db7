// SPDX-License-Identifier: GPL-2.0
/*
 * EVFILT_PROCDESC: FreeBSD's process-descriptor filter, on Linux's pidfds.
 *
 * ident is a pidfd; NOTE_EXIT is the only note (FreeBSD's filt_procdesc);
 * the event carries EV_CLEAR (implied), EV_EOF|EV_ONESHOT and the wait(2)
 * status in data, also when the process was a zombie at registration.
 * The knote ends with the descriptor: closed (or its number reused) before
 * the event is collected, nothing is reported. Errors: EBADF for a closed
 * descriptor, EINVAL for one that is not a process's pidfd.
 */
#include <sys/syscall.h>

#include "kqueue_test.h"

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif

#define U(x) ((void *)(uintptr_t)(x))
#define WAIT_MS 10000	/* an event that must come */
#define QUIET_MS 300	/* an event that must not come */

static int pidfd_open(pid_t pid, unsigned int flags)
{
	return syscall(SYS_pidfd_open, pid, flags);
}

/* The event of a pidfd knote registered with EV_ADD: exit with status @st. */
static struct kevent exit_ev(int pidfd, intptr_t st, void *udata)
{
	return kev(pidfd, EVFILT_PROCDESC, EV_ADD | EV_CLEAR | EV_EOF | EV_ONESHOT, NOTE_EXIT,
		   st, udata);
}

static void watch(struct __test_metadata *_metadata, int kq, int pidfd, unsigned int fflags,
		  void *udata)
{
	kq_change(_metadata, kq, kev(pidfd, EVFILT_PROCDESC, EV_ADD, fflags, 0, udata));
}

/* A child that exits with @code once it reads a byte from @in. */
static int exit_on_cmd(int in, int out, void *arg)
{
	(void)out;
	if (kid_cmd(in) < 0)
		return 99;
	return (int)(intptr_t)arg;
}

/* A kid waiting for 'g' before it exits with @code, and a pidfd on it. */
static int spawn(struct __test_metadata *_metadata, struct kid *k, int code)
{
	int pidfd;

	kid_spawn(_metadata, k, exit_on_cmd, (void *)(intptr_t)code);
	pidfd = pidfd_open(k->pid, 0);
	if (pidfd < 0)
		kill(k->pid, SIGKILL);
	EXPECT_LE(0, pidfd) TH_LOG("pidfd_open: %s", strerror(errno));
	return pidfd;
}

TEST(exit_status)
{
	int kq = kq_new(_metadata), pidfd, st;
	struct kevent ev;
	struct kid k;

	watchdog(60);
	pidfd = spawn(_metadata, &k, 7);
	ASSERT_LE(0, pidfd);
	watch(_metadata, kq, pidfd, NOTE_EXIT, U(0x71));
	ASSERT_NO_EVENT(kq);
	ASSERT_EQ(1, fdinfo_knotes(kq, EVFILT_PROCDESC));
	kid_send(_metadata, &k, 'g');
	ev = proc_one(_metadata, kq, WAIT_MS);
	/* NOTE_EXIT comes once the process is reapable, with the status wait(2) gives */
	ASSERT_EQ(k.pid, waitpid(k.pid, &st, WNOHANG));
	ASSERT_TRUE(WIFEXITED(st));
	ASSERT_EQ(7, WEXITSTATUS(st));
	ASSERT_KEV(exit_ev(pidfd, st, U(0x71)), &ev);
	/* EV_ONESHOT: the knote is gone */
	ASSERT_EQ(0, fdinfo_knotes(kq, EVFILT_PROCDESC));
	ASSERT_CHANGE_ERR(kq, kev(pidfd, EVFILT_PROCDESC, EV_DELETE, 0, 0, NULL), ENOENT);
	ASSERT_NO_EVENT(kq);
	kid_close(&k);
	close(pidfd);
	close(kq);
}

TEST(killed_by_signal)
{
	int kq = kq_new(_metadata), pidfd, st;
	struct kevent ev;
	struct kid k;

	watchdog(60);
	pidfd = spawn(_metadata, &k, 3);
	ASSERT_LE(0, pidfd);
	watch(_metadata, kq, pidfd, NOTE_EXIT, U(9));
	ASSERT_EQ(0, syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0));
	ev = proc_one(_metadata, kq, WAIT_MS);
	ASSERT_EQ(k.pid, waitpid(k.pid, &st, WNOHANG));
	ASSERT_TRUE(WIFSIGNALED(st));
	ASSERT_EQ(SIGKILL, WTERMSIG(st));
	ASSERT_KEV(exit_ev(pidfd, st, U(9)), &ev);
	kid_close(&k);
	close(pidfd);
	close(kq);
}

/* Registered on a zombie: NOTE_EXIT at once, with its status. */
TEST(zombie_before_registration)
{
	int kq = kq_new(_metadata), pidfd, st;
	struct kid k;

	watchdog(60);
	pidfd = spawn(_metadata, &k, 42);
	ASSERT_LE(0, pidfd);
	kid_send(_metadata, &k, 'g');
	ASSERT_EQ(0, proc_wait_zombie(k.pid, WAIT_MS));
	watch(_metadata, kq, pidfd, NOTE_EXIT, U(13));
	ASSERT_ONE_EVENT(kq, exit_ev(pidfd, 42 << 8, U(13)));
	ASSERT_EQ(k.pid, waitpid(k.pid, &st, WNOHANG));
	ASSERT_EQ(42 << 8, st);
	kid_close(&k);
	close(pidfd);
	close(kq);
}

/*
 * Registered after the process was reaped: NOTE_EXIT at once, but its status
 * is gone (pidfs keeps it where a module cannot read it): data is 0.
 */
TEST(reaped_before_registration)
{
	int kq = kq_new(_metadata), pidfd, st;
	struct kid k;

	watchdog(60);
	pidfd = spawn(_metadata, &k, 5);
	ASSERT_LE(0, pidfd);
	kid_send(_metadata, &k, 'g');
	st = proc_reap(k.pid, WAIT_MS);
	ASSERT_EQ(5 << 8, st);
	watch(_metadata, kq, pidfd, NOTE_EXIT, U(14));
	ASSERT_ONE_EVENT(kq, exit_ev(pidfd, 0, U(14)));
	ASSERT_EQ(0, fdinfo_knotes(kq, EVFILT_PROCDESC));
	kid_close(&k);
	close(pidfd);
	close(kq);
}

/* Without NOTE_EXIT nothing is reported (FreeBSD drops the event: EV_DROP). */
TEST(exit_not_asked)
{
	int kq = kq_new(_metadata), pidfd;
	struct kid k;

	watchdog(60);
	pidfd = spawn(_metadata, &k, 1);
	ASSERT_LE(0, pidfd);
	/* notes other than NOTE_EXIT mean nothing here */
	watch(_metadata, kq, pidfd, NOTE_FORK | NOTE_EXEC, U(15));
	kid_send(_metadata, &k, 'g');
	ASSERT_EQ(1 << 8, proc_reap(k.pid, WAIT_MS));
	ASSERT_QUIET(kq, QUIET_MS);
	kq_change(_metadata, kq, kev(pidfd, EVFILT_PROCDESC, EV_DELETE, 0, 0, NULL));
	kid_close(&k);
	close(pidfd);
	close(kq);
}

/* The knote ends with the pidfd: an exit pending at close() is not reported. */
TEST(close_ends_knote)
{
	int kq = kq_new(_metadata), pidfd, again;
	struct kid k;

	watchdog(60);
	pidfd = spawn(_metadata, &k, 2);
	ASSERT_LE(0, pidfd);
	watch(_metadata, kq, pidfd, NOTE_EXIT, U(16));
	kid_send(_metadata, &k, 'g');
	ASSERT_EQ(0, proc_wait_zombie(k.pid, WAIT_MS));
	/* the exit is queued; the pidfd goes before anybody collects it */
	ASSERT_EQ(1, fdinfo_knotes(kq, EVFILT_PROCDESC));
	ASSERT_EQ(0, close(pidfd));
	ASSERT_NO_EVENT(kq);
	ASSERT_EQ(0, fdinfo_knotes(kq, EVFILT_PROCDESC));
	/* the number is free again: a new pidfd there is a new knote */
	again = pidfd_open(k.pid, 0);
	ASSERT_EQ(pidfd, again);
	watch(_metadata, kq, again, NOTE_EXIT, U(17));
	ASSERT_ONE_EVENT(kq, exit_ev(again, 2 << 8, U(17)));
	ASSERT_EQ(2 << 8, proc_reap(k.pid, WAIT_MS));
	kid_close(&k);
	close(again);
	close(kq);
}

/* The pidfd's number reused by dup2() (no close seen): still no event. */
TEST(number_reused_no_event)
{
	int kq = kq_new(_metadata), pidfd, p[2];
	struct kid k;

	watchdog(60);
	pidfd = spawn(_metadata, &k, 3);
	ASSERT_LE(0, pidfd);
	make_pipe(_metadata, p);
	watch(_metadata, kq, pidfd, NOTE_EXIT, U(18));
	kid_send(_metadata, &k, 'g');
	ASSERT_EQ(0, proc_wait_zombie(k.pid, WAIT_MS));
	ASSERT_EQ(pidfd, dup2(p[0], pidfd));
	ASSERT_NO_EVENT(kq);
	ASSERT_EQ(0, fdinfo_knotes(kq, EVFILT_PROCDESC));
	ASSERT_CHANGE_ERR(kq, kev(pidfd, EVFILT_PROCDESC, EV_DELETE, 0, 0, NULL), ENOENT);
	ASSERT_EQ(3 << 8, proc_reap(k.pid, WAIT_MS));
	kid_close(&k);
	close(pidfd);
	close(p[0]);
	close(p[1]);
	close(kq);
}

TEST(attach_errors)
{
	int kq = kq_new(_metadata), p[2], tfd;

	make_pipe(_metadata, p);
	/* not open */
	ASSERT_CHANGE_ERR(kq, kev(1000, EVFILT_PROCDESC, EV_ADD, NOTE_EXIT, 0, NULL), EBADF);
	ASSERT_CHANGE_ERR(kq, kev(1ULL << 40, EVFILT_PROCDESC, EV_ADD, NOTE_EXIT, 0, NULL),
			  EBADF);
	/* open, but no pidfd: a pipe, the kqueue itself */
	ASSERT_CHANGE_ERR(kq, kev(p[0], EVFILT_PROCDESC, EV_ADD, NOTE_EXIT, 0, NULL), EINVAL);
	ASSERT_CHANGE_ERR(kq, kev(kq, EVFILT_PROCDESC, EV_ADD, NOTE_EXIT, 0, NULL), EINVAL);
	/* a thread's pidfd: processes only, as FreeBSD's process descriptors */
	tfd = pidfd_open(getpid(), PIDFD_THREAD);
	ASSERT_LE(0, tfd) TH_LOG("pidfd_open(PIDFD_THREAD): %s", strerror(errno));
	ASSERT_CHANGE_ERR(kq, kev(tfd, EVFILT_PROCDESC, EV_ADD, NOTE_EXIT, 0, NULL), EINVAL);
	ASSERT_EQ(0, fdinfo_knotes(kq, EVFILT_PROCDESC));
	close(tfd);
	close(p[0]);
	close(p[1]);
	close(kq);
}

/* Watching oneself; EV_ADD again modifies; EV_DISABLE/EV_ENABLE; udata. */
TEST(modify_and_delete)
{
	int kq = kq_new(_metadata), pidfd = pidfd_open(getpid(), 0);

	ASSERT_LE(0, pidfd);
	watch(_metadata, kq, pidfd, NOTE_EXIT, U(1));
	watch(_metadata, kq, pidfd, NOTE_EXIT, U(2));
	ASSERT_EQ(1, fdinfo_knotes(kq, EVFILT_PROCDESC));
	kq_change(_metadata, kq, kev(pidfd, EVFILT_PROCDESC, EV_DISABLE, 0, 0, NULL));
	kq_change(_metadata, kq, kev(pidfd, EVFILT_PROCDESC, EV_ENABLE, 0, 0, NULL));
	ASSERT_NO_EVENT(kq);
	kq_change(_metadata, kq, kev(pidfd, EVFILT_PROCDESC, EV_DELETE, 0, 0, NULL));
	ASSERT_EQ(0, fdinfo_knotes(kq, EVFILT_PROCDESC));
	close(pidfd);
	close(kq);
}

/* ---- races ---------------------------------------------------------------- */

struct race {
	int kq;
	volatile int stop;
	int events, wrong;
};

/* Collects events; each must be a NOTE_EXIT whose data is its pid's exit code. */
static void *collector(void *arg)
{
	struct race *r = arg;
	struct kevent ev[8];

	while (!r->stop) {
		int n = kevent(r->kq, NULL, 0, ev, 8, &ts_zero);

		for (int i = 0; i < n; i++) {
			pid_t pid = (pid_t)(uintptr_t)ev[i].udata;
			struct kevent want = exit_ev(ev[i].ident, (pid & 0x7f) << 8, U(pid));

			__atomic_add_fetch(&r->events, 1, __ATOMIC_RELAXED);
			if (memcmp(&want, &ev[i], sizeof(want)))
				__atomic_add_fetch(&r->wrong, 1, __ATOMIC_RELAXED);
		}
	}
	return NULL;
}

/*
 * Children exit while the pidfd knote is deleted, or its pidfd closed, and a
 * second thread collects: the exit hook and the knote's end meet. Each event
 * seen must be the right one; at the end no knote is left (kmemleak and
 * KASAN watch the rest).
 */
FIXTURE(race) {
	int unused;
};

FIXTURE_SETUP(race)
{
}

FIXTURE_TEARDOWN(race)
{
}

TEST_F_TIMEOUT(race, end_while_exiting, 120)
{
	struct race r = { 0 };
	pthread_t t;
	long window = 2000000;
	int64_t end;
	int rounds = 0, seen;

	watchdog(110);
	r.kq = kq_new(_metadata);
	ASSERT_EQ(0, pthread_create(&t, NULL, collector, &r));
	end = now_ms() + 5000;
	while (rounds < 300 && (rounds < 100 || now_ms() < end)) {
		struct kevent ev;
		pid_t pid;
		int pidfd;

		pid = fork();
		ASSERT_LE(0, pid);
		if (pid == 0) {
			spin_ns(random() % 200000);
			_exit(getpid() & 0x7f);
		}
		pidfd = pidfd_open(pid, 0);
		ASSERT_LE(0, pidfd);
		watch(_metadata, r.kq, pidfd, NOTE_EXIT, U(pid));
		/*
		 * End the knote at a random moment before its exit hook could have run,
		 * within a window that adapts so that about half the exits beat it.
		 */
		seen = __atomic_load_n(&r.events, __ATOMIC_RELAXED);
		spin_ns(random() % window);
		if (rounds & 1) {
			ASSERT_EQ(0, close(pidfd));
		} else {
			ev = kev(pidfd, EVFILT_PROCDESC, EV_DELETE, 0, 0, NULL);
			/* ENOENT if the other thread took the event (EV_ONESHOT) */
			kevent(r.kq, &ev, 1, NULL, 0, NULL);
		}
		ASSERT_EQ((pid & 0x7f) << 8, proc_reap(pid, WAIT_MS));
		/* deleted or closed: never reported after that */
		ASSERT_EQ(0, kevent(r.kq, NULL, 0, &ev, 1, &ts_zero))
			TH_LOG("round %d: event after the knote ended", rounds);
		if (!(rounds & 1))
			close(pidfd);
		if (__atomic_load_n(&r.events, __ATOMIC_RELAXED) != seen)
			window = window * 9 / 10 + 1;
		else
			window = window * 11 / 10;
		rounds++;
	}
	r.stop = 1;
	ASSERT_EQ(0, pthread_join(t, NULL));
	ASSERT_EQ(0, r.wrong);
	ASSERT_NO_EVENT(r.kq);
	ASSERT_EQ(0, fdinfo_knotes(r.kq, EVFILT_PROCDESC));
	TH_LOG("%d rounds, %d events taken by the other thread, window %ld us", rounds,
	       r.events, window / 1000);
	close(r.kq);
}

TEST_HARNESS_MAIN
