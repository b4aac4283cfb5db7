// SPDX-License-Identifier: GPL-2.0
/*
 * EVFILT_SIGNAL (contract section 3): counts every attempt to deliver a
 * signal to the registering process (ignored, blocked, handled, thread
 * directed, from a POSIX timer), never consumes it (handlers, sigwait and
 * default actions happen as without the knote), data = count since the last
 * delivery, EV_CLEAR implied, several kqueues at once, invalid numbers
 * EINVAL, and signals sent while knotes are deleted.
 */
#include <pthread.h>
#include <sys/wait.h>

#include "kqueue_test.h"

#define U(x) ((void *)(uintptr_t)(x))

static struct kevent sadd(int sig, unsigned short flags, void *ud)
{
	return kev(sig, EVFILT_SIGNAL, EV_ADD | flags, 0, 0, ud);
}

static struct kevent sev(int sig, unsigned short flags, intptr_t count, void *ud)
{
	return kev(sig, EVFILT_SIGNAL, RET_FLAGS(EV_ADD | flags) | EV_CLEAR, 0, count, ud);
}

static void block(int sig)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_BLOCK, &set, NULL);
}

static int is_pending(int sig)
{
	sigset_t set;

	sigpending(&set);
	return sigismember(&set, sig);
}

TEST(ignored_signals_counted)
{
	int kq = kq_new(_metadata);

	signal(SIGUSR1, SIG_IGN);
	kq_change(_metadata, kq, sadd(SIGUSR1, 0, U(1)));
	ASSERT_NO_EVENT(kq);
	ASSERT_EQ(0, kill(getpid(), SIGUSR1));
	ASSERT_EQ(0, kill(getpid(), SIGUSR1));
	ASSERT_EQ(0, raise(SIGUSR1));
	ASSERT_ONE_EVENT(kq, sev(SIGUSR1, 0, 3, U(1)));
	/* EV_CLEAR: counted again from zero */
	ASSERT_NO_EVENT(kq);
	ASSERT_EQ(0, kill(getpid(), SIGUSR1));
	ASSERT_ONE_EVENT(kq, sev(SIGUSR1, 0, 1, U(1)));
	/* other signals are not counted */
	signal(SIGUSR2, SIG_IGN);
	ASSERT_EQ(0, kill(getpid(), SIGUSR2));
	ASSERT_NO_EVENT(kq);
	close(kq);
}

/* A blocked signal stays pending for sigwait; every attempt is counted. */
TEST(blocked_not_consumed)
{
	int kq = kq_new(_metadata);
	siginfo_t si;
	sigset_t set;
	struct timespec ts = { 5, 0 };

	block(SIGUSR2);
	kq_change(_metadata, kq, sadd(SIGUSR2, 0, NULL));
	ASSERT_EQ(0, kill(getpid(), SIGUSR2));
	ASSERT_EQ(0, kill(getpid(), SIGUSR2));	/* already pending: still an attempt */
	ASSERT_ONE_EVENT(kq, sev(SIGUSR2, 0, 2, NULL));
	ASSERT_TRUE(is_pending(SIGUSR2));
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	ASSERT_EQ(SIGUSR2, sigtimedwait(&set, &si, &ts));
	ASSERT_EQ(getpid(), si.si_pid);
	ASSERT_FALSE(is_pending(SIGUSR2));
	ASSERT_NO_EVENT(kq);
	close(kq);
}

/* Queued real-time signals: each sigqueue() is one attempt. */
TEST(realtime_queued)
{
	int kq = kq_new(_metadata), sig = SIGRTMIN + 1, i;
	union sigval v = { .sival_int = 7 };
	siginfo_t si;
	sigset_t set;
	struct timespec ts = { 5, 0 };

	block(sig);
	kq_change(_metadata, kq, sadd(sig, 0, NULL));
	for (i = 0; i < 5; i++)
		ASSERT_EQ(0, sigqueue(getpid(), sig, v));
	ASSERT_ONE_EVENT(kq, sev(sig, 0, 5, NULL));
	/* all five are still queued */
	sigemptyset(&set);
	sigaddset(&set, sig);
	for (i = 0; i < 5; i++) {
		ASSERT_EQ(sig, sigtimedwait(&set, &si, &ts));
		ASSERT_EQ(7, si.si_value.sival_int);
	}
	ASSERT_FALSE(is_pending(sig));
	close(kq);
}

static volatile sig_atomic_t handled;

static void handler(int sig)
{
	handled++;
}

TEST(handler_still_runs)
{
	int kq = kq_new(_metadata);
	struct sigaction sa = { .sa_handler = handler };

	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	handled = 0;
	kq_change(_metadata, kq, sadd(SIGUSR1, 0, NULL));
	ASSERT_EQ(0, kill(getpid(), SIGUSR1));
	ASSERT_EQ(1, handled);
	ASSERT_EQ(0, raise(SIGUSR1));
	ASSERT_EQ(2, handled);
	ASSERT_ONE_EVENT(kq, sev(SIGUSR1, 0, 2, NULL));
	signal(SIGUSR1, SIG_DFL);
	close(kq);
}

/* The default action still happens: a child watching SIGTERM dies of it. */
TEST(default_action_still_happens)
{
	int status, p[2];
	pid_t pid;
	char c;

	ASSERT_EQ(0, pipe(p));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int kq = kqueue();
		struct kevent ch = sadd(SIGTERM, 0, NULL);

		close(p[0]);
		if (kq < 0 || kevent(kq, &ch, 1, NULL, 0, NULL))
			_exit(2);
		if (write(p[1], "r", 1) != 1)
			_exit(3);
		for (;;)
			pause();
	}
	close(p[1]);
	ASSERT_EQ(1, read(p[0], &c, 1));
	ASSERT_EQ(0, kill(pid, SIGTERM));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFSIGNALED(status));
	ASSERT_EQ(SIGTERM, WTERMSIG(status));
	close(p[0]);
}

static void *sleeper(void *arg)
{
	int *tid = arg;

	*tid = sys_gettid();
	for (;;)
		pause();
	return NULL;
}

/* A signal directed at another thread of the process counts. */
TEST(thread_directed)
{
	int kq = kq_new(_metadata), tid = 0;
	pthread_t t;
	int i;

	signal(SIGUSR1, SIG_IGN);
	ASSERT_EQ(0, pthread_create(&t, NULL, sleeper, &tid));
	for (i = 0; i < 500 && !tid; i++)
		sleep_ms(2);
	ASSERT_NE(0, tid);
	kq_change(_metadata, kq, sadd(SIGUSR1, 0, NULL));
	ASSERT_EQ(0, syscall(SYS_tgkill, getpid(), tid, SIGUSR1));
	ASSERT_EQ(0, pthread_kill(pthread_self(), SIGUSR1));
	ASSERT_ONE_EVENT(kq, sev(SIGUSR1, 0, 2, NULL));
	pthread_cancel(t);
	pthread_join(t, NULL);
	close(kq);
}

/* Only signals for the registering process count. */
TEST(other_process_not_counted)
{
	int kq = kq_new(_metadata), status;
	pid_t pid;

	signal(SIGUSR1, SIG_IGN);
	kq_change(_metadata, kq, sadd(SIGUSR1, 0, NULL));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		/* the child inherits the ignored disposition, not the kqueue's interest */
		kill(getpid(), SIGUSR1);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_NO_EVENT(kq);
	ASSERT_EQ(0, kill(getpid(), SIGUSR1));
	ASSERT_ONE_EVENT(kq, sev(SIGUSR1, 0, 1, NULL));
	close(kq);
}

TEST(several_kqueues)
{
	int kq1 = kq_new(_metadata), kq2 = kq_new(_metadata);

	signal(SIGUSR2, SIG_IGN);
	kq_change(_metadata, kq1, sadd(SIGUSR2, 0, U(1)));
	ASSERT_EQ(0, kill(getpid(), SIGUSR2));
	kq_change(_metadata, kq2, sadd(SIGUSR2, EV_DISPATCH, U(2)));
	ASSERT_EQ(0, kill(getpid(), SIGUSR2));
	ASSERT_ONE_EVENT(kq1, sev(SIGUSR2, 0, 2, U(1)));
	ASSERT_ONE_EVENT(kq2, sev(SIGUSR2, EV_DISPATCH, 1, U(2)));
	ASSERT_EQ(0, kill(getpid(), SIGUSR2));
	ASSERT_ONE_EVENT(kq1, sev(SIGUSR2, 0, 1, U(1)));
	/* disabled by EV_DISPATCH: counted, reported at EV_ENABLE */
	ASSERT_NO_EVENT(kq2);
	kq_change(_metadata, kq2, kev(SIGUSR2, EVFILT_SIGNAL, EV_ENABLE, 0, 0, U(2)));
	ASSERT_ONE_EVENT(kq2, sev(SIGUSR2, EV_DISPATCH, 1, U(2)));
	close(kq1);
	close(kq2);
}

TEST(oneshot_and_delete)
{
	int kq = kq_new(_metadata);

	signal(SIGUSR1, SIG_IGN);
	kq_change(_metadata, kq, sadd(SIGUSR1, EV_ONESHOT, NULL));
	ASSERT_EQ(0, kill(getpid(), SIGUSR1));
	ASSERT_ONE_EVENT(kq, sev(SIGUSR1, EV_ONESHOT, 1, NULL));
	ASSERT_EQ(0, kill(getpid(), SIGUSR1));
	ASSERT_NO_EVENT(kq);
	ASSERT_CHANGE_ERR(kq, kev(SIGUSR1, EVFILT_SIGNAL, EV_DELETE, 0, 0, NULL), ENOENT);
	/* a pending count goes with its knote */
	kq_change(_metadata, kq, sadd(SIGUSR1, 0, NULL));
	ASSERT_EQ(0, kill(getpid(), SIGUSR1));
	kq_change(_metadata, kq, kev(SIGUSR1, EVFILT_SIGNAL, EV_DELETE, 0, 0, NULL));
	ASSERT_NO_EVENT(kq);
	close(kq);
}

/* Signals from a POSIX timer, sent from the timer interrupt. */
TEST(posix_timer)
{
	int kq = kq_new(_metadata);
	struct sigevent sev_ = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGRTMIN };
	struct itimerspec its = { { 0, 5000000 }, { 0, 5000000 } };
	struct kevent ev;
	struct timespec ts = { 5, 0 };
	timer_t t;

	block(SIGRTMIN);
	kq_change(_metadata, kq, sadd(SIGRTMIN, 0, NULL));
	ASSERT_EQ(0, timer_create(CLOCK_MONOTONIC, &sev_, &t));
	ASSERT_EQ(0, timer_settime(t, 0, &its, NULL));
	ASSERT_EQ(1, kevent(kq, NULL, 0, &ev, 1, &ts));
	ASSERT_EQ(SIGRTMIN, ev.ident);
	ASSERT_EQ(EVFILT_SIGNAL, ev.filter);
	ASSERT_EQ(EV_ADD | EV_CLEAR, ev.flags);
	ASSERT_LE(1, ev.data);
	ASSERT_EQ(0, timer_delete(t));
	close(kq);
}

TEST(invalid_numbers)
{
	int kq = kq_new(_metadata);

	ASSERT_CHANGE_ERR(kq, sadd(0, 0, NULL), EINVAL);
	ASSERT_CHANGE_ERR(kq, sadd(65, 0, NULL), EINVAL);
	ASSERT_CHANGE_ERR(kq, kev(-1, EVFILT_SIGNAL, EV_ADD, 0, 0, NULL), EINVAL);
	ASSERT_CHANGE_ERR(kq, kev(1ULL << 32 | SIGUSR1, EVFILT_SIGNAL, EV_ADD, 0, 0, NULL),
			  EINVAL);
	/* the extremes are valid */
	kq_change(_metadata, kq, sadd(1, 0, NULL));
	kq_change(_metadata, kq, sadd(64, 0, NULL));
	kq_change(_metadata, kq, sadd(SIGKILL, 0, NULL));
	ASSERT_NO_EVENT(kq);
	close(kq);
}

struct sender {
	volatile int stop;
	long sent;
};

static void *send_thread(void *arg)
{
	struct sender *s = arg;

	while (!s->stop) {
		kill(getpid(), SIGUSR2);
		s->sent++;
	}
	return NULL;
}

/*
 * Signals sent while other knotes of the same signal are added and deleted
 * over and over (and their kqueues closed): no crash, and the steady knote
 * counts every single one. It is registered behind FRONT others, deleted one
 * by one while signals are sent: a probe that walked the list without the
 * registry lock would stop at a knote deleted under it and miss the steady
 * one (about 1/FRONT per deletion, added up over FRONT deletions).
 */
#define FRONT 30

TEST(sent_while_deleting)
{
	struct sender s = { 0 };
	int kq = kq_new(_metadata);
	struct kevent ev[4];
	int front[FRONT];
	long total = 0;
	pthread_t t;
	int i, n;

	signal(SIGUSR2, SIG_IGN);
	for (i = 0; i < FRONT; i++) {
		front[i] = kq_new(_metadata);
		kq_change(_metadata, front[i], sadd(SIGUSR2, 0, NULL));
	}
	kq_change(_metadata, kq, sadd(SIGUSR2, 0, NULL));
	ASSERT_EQ(0, pthread_create(&t, NULL, send_thread, &s));
	for (i = 0; i < 300; i++) {
		int kq2 = kq_new(_metadata);

		kq_change(_metadata, kq2, sadd(SIGUSR2, 0, NULL));
		kq_change(_metadata, kq2, sadd(SIGUSR1, 0, NULL));
		kq_change(_metadata, kq2, kev(SIGUSR2, EVFILT_SIGNAL, EV_DELETE, 0, 0, NULL));
		kq_change(_metadata, kq2, sadd(SIGUSR2, 0, NULL));
		if (i < FRONT)
			kq_change(_metadata, front[i],
				  kev(SIGUSR2, EVFILT_SIGNAL, EV_DELETE, 0, 0, NULL));
		n = kq_poll(kq, ev, 4);
		ASSERT_LE(0, n);
		if (n == 1)
			total += ev[0].data;
		close(kq2);
	}
	s.stop = 1;
	ASSERT_EQ(0, pthread_join(t, NULL));
	n = kq_poll(kq, ev, 4);
	ASSERT_LE(0, n);
	if (n == 1)
		total += ev[0].data;
	ASSERT_LT(0, s.sent);
	ASSERT_EQ(s.sent, total);
	for (i = 0; i < FRONT; i++)
		close(front[i]);
	close(kq);
}

TEST_HARNESS_MAIN
