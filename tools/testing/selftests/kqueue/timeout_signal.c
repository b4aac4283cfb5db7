// SPDX-License-Identifier: GPL-2.0
/*
 * kevent() timeouts and signals (contract section 2, team decisions):
 * {0,0} polls, a timeout waits at least that long, NULL waits until an event
 * or a signal, a caught signal ends the wait with -1/EINTR whether or not the
 * handler has SA_RESTART, and the changes of the interrupted call stay
 * applied.
 *
 * Only lower bounds are asserted on elapsed time; upper bounds are seconds,
 * as the tests run under slow emulation with debug kernels.
 */
#include "kqueue_test.h"

static volatile sig_atomic_t nsig;

static void on_signal(int sig)
{
	(void)sig;
	nsig++;
}

static void install(int sig, int flags)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
	nsig = 0;
}

/*
 * A thread that sends @sig to @target every 50 ms until told to stop, so the
 * wait is interrupted even if the first signal arrives before the target
 * blocks.
 */
struct kicker {
	pthread_t thread;
	pthread_t target;
	int sig;
	long first_delay_ms;
	volatile int stop;
	volatile int sent;
};

static void *kicker_fn(void *arg)
{
	struct kicker *k = arg;

	sleep_ms(k->first_delay_ms);
	while (!k->stop) {
		pthread_kill(k->target, k->sig);
		k->sent++;
		sleep_ms(50);
	}
	return NULL;
}

static int kicker_start(struct kicker *k, int sig, long first_delay_ms)
{
	memset(k, 0, sizeof(*k));
	k->target = pthread_self();
	k->sig = sig;
	k->first_delay_ms = first_delay_ms;
	return pthread_create(&k->thread, NULL, kicker_fn, k);
}

static void kicker_stop(struct kicker *k)
{
	k->stop = 1;
	pthread_join(k->thread, NULL);
}

TEST(zero_timeout_returns_at_once)
{
	struct kevent ev[2];
	int kq = kq_new(_metadata);
	int64_t t0;

	watchdog(20);
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD, 0, 0, NULL));
	t0 = now_ms();
	ASSERT_EQ(0, kevent(kq, NULL, 0, ev, 2, &ts_zero));
	ASSERT_GT(2000, now_ms() - t0);
	close(kq);
}

static void timed_wait(struct __test_metadata *_metadata, time_t sec, long nsec, int64_t min_ms)
{
	struct timespec ts = { sec, nsec };
	struct kevent ev[1];
	int kq = kq_new(_metadata);
	int64_t t0, el;

	watchdog(20 + sec);
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD, 0, 0, NULL));
	t0 = now_ms();
	ASSERT_EQ(0, kevent(kq, NULL, 0, ev, 1, &ts));
	el = now_ms() - t0;
	ASSERT_LE(min_ms, el) TH_LOG("timeout {%ld,%ld} returned after %lld ms",
				     (long)sec, nsec, (long long)el);
	ASSERT_GT(min_ms + 10000, el);
	close(kq);
}

TEST(short_timeout_waits)
{
	timed_wait(_metadata, 0, 50 * 1000000L, 45);
}

TEST(timeout_seconds_part_counts)
{
	timed_wait(_metadata, 1, 100 * 1000000L, 1095);
}

static void *trigger_later(void *arg)
{
	int kq = *(int *)arg;
	struct kevent c = kev(1, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL);

	sleep_ms(100);
	return (void *)(intptr_t)kevent(kq, &c, 1, NULL, 0, NULL);
}

TEST(event_ends_timed_wait)
{
	struct timespec ts = { 30, 0 };
	struct kevent ev[2];
	pthread_t t;
	void *tr;
	int kq = kq_new(_metadata), n;
	int64_t t0;

	watchdog(25);
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, NULL));
	ASSERT_EQ(0, pthread_create(&t, NULL, trigger_later, &kq));
	t0 = now_ms();
	n = kevent(kq, NULL, 0, ev, 2, &ts);
	ASSERT_EQ(1, n) TH_LOG("errno %d", errno);
	ASSERT_GT(10000, now_ms() - t0);
	ASSERT_KEV(user_ev(1, EV_ADD | EV_CLEAR, 0, 0, NULL), &ev[0]);
	ASSERT_EQ(0, pthread_join(t, &tr));
	ASSERT_EQ(0, (intptr_t)tr);
	close(kq);
}

TEST(pending_event_returns_before_timeout)
{
	struct timespec ts = { 30, 0 };
	struct kevent ev[2];
	int kq = kq_new(_metadata);
	int64_t t0;

	watchdog(25);
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, NULL));
	kq_change(_metadata, kq, kev(1, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL));
	t0 = now_ms();
	ASSERT_EQ(1, kevent(kq, NULL, 0, ev, 2, &ts));
	ASSERT_GT(10000, now_ms() - t0);
	/* and NULL timeout also returns at once with a pending event */
	kq_change(_metadata, kq, kev(1, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL));
	ASSERT_EQ(1, kevent(kq, NULL, 0, ev, 2, NULL));
	ASSERT_KEV(user_ev(1, EV_ADD | EV_CLEAR, 0, 0, NULL), &ev[0]);
	close(kq);
}

/*
 * kevent(NULL timeout) with a change in the same call, interrupted by a
 * caught signal: -1/EINTR, and the change stays applied.
 */
static void interrupted_wait(struct __test_metadata *_metadata, int sa_flags,
			     const struct timespec *timeout)
{
	struct kevent c = kev(7, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, (void *)0x77), ev[1];
	struct kicker k;
	int kq = kq_new(_metadata), r, e;

	/* SIGALRM keeps its default action: the watchdog kills a hung wait */
	watchdog(20);
	install(SIGUSR1, sa_flags);
	ASSERT_EQ(0, kicker_start(&k, SIGUSR1, 200));
	errno = 0;
	r = kevent(kq, &c, 1, ev, 1, timeout);
	e = errno;
	kicker_stop(&k);
	ASSERT_EQ(-1, r) TH_LOG("kevent returned %d", r);
	ASSERT_EQ(EINTR, e) TH_LOG("errno %d (%s)", e, strerror(e));
	ASSERT_LE(1, nsig);
	/* the change applied before the wait stays applied */
	kq_change(_metadata, kq, kev(7, EVFILT_USER, 0, NOTE_TRIGGER, 0, (void *)0x77));
	ASSERT_ONE_EVENT(kq, user_ev(7, EV_ADD | EV_CLEAR, 0, 0, (void *)0x77));
	close(kq);
}

TEST(signal_interrupts_wait)
{
	interrupted_wait(_metadata, 0, NULL);
}

TEST(signal_interrupts_wait_sa_restart)
{
	/* kevent is never restarted (decisions: like epoll_wait) */
	interrupted_wait(_metadata, SA_RESTART, NULL);
}

TEST(signal_interrupts_timed_wait)
{
	struct timespec ts = { 60, 0 };

	interrupted_wait(_metadata, SA_RESTART, &ts);
}

TEST(timer_signal_interrupts_wait)
{
	struct itimerspec its = { { 0, 100 * 1000000L }, { 0, 100 * 1000000L } };
	struct sigevent sev;
	struct kevent ev[1];
	timer_t tid;
	int kq = kq_new(_metadata), r, e;

	watchdog(20);
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD, 0, 0, NULL));
	install(SIGRTMIN, SA_RESTART);
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGRTMIN;
	ASSERT_EQ(0, timer_create(CLOCK_MONOTONIC, &sev, &tid));
	ASSERT_EQ(0, timer_settime(tid, 0, &its, NULL));
	errno = 0;
	r = kevent(kq, NULL, 0, ev, 1, NULL);
	e = errno;
	timer_delete(tid);
	ASSERT_EQ(-1, r);
	ASSERT_EQ(EINTR, e);
	ASSERT_LE(1, nsig);
	close(kq);
}

TEST(blocked_signal_does_not_interrupt)
{
	struct timespec ts = { 0, 300 * 1000000L };
	struct kevent ev[1];
	struct kicker k;
	sigset_t set;
	int kq = kq_new(_metadata), r;
	int64_t t0;

	watchdog(20);
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD, 0, 0, NULL));
	install(SIGUSR1, 0);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	ASSERT_EQ(0, pthread_sigmask(SIG_BLOCK, &set, NULL));
	ASSERT_EQ(0, kicker_start(&k, SIGUSR1, 0));
	t0 = now_ms();
	r = kevent(kq, NULL, 0, ev, 1, &ts);
	ASSERT_EQ(0, r) TH_LOG("errno %d", errno);
	ASSERT_LE(295, now_ms() - t0);
	kicker_stop(&k);
	ASSERT_LE(1, k.sent);
	ASSERT_EQ(0, nsig);
	/* unblocking delivers the pending signal */
	ASSERT_EQ(0, pthread_sigmask(SIG_UNBLOCK, &set, NULL));
	ASSERT_EQ(1, nsig);
	close(kq);
}

TEST(ignored_signal_does_not_interrupt)
{
	struct timespec ts = { 0, 300 * 1000000L };
	struct kevent ev[1];
	struct kicker k;
	int kq = kq_new(_metadata), r;
	int64_t t0;

	watchdog(20);
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD, 0, 0, NULL));
	signal(SIGUSR2, SIG_IGN);
	ASSERT_EQ(0, kicker_start(&k, SIGUSR2, 0));
	t0 = now_ms();
	r = kevent(kq, NULL, 0, ev, 1, &ts);
	kicker_stop(&k);
	ASSERT_EQ(0, r) TH_LOG("errno %d", errno);
	ASSERT_LE(295, now_ms() - t0);
	ASSERT_LE(1, k.sent);
	close(kq);
}

TEST_HARNESS_MAIN
