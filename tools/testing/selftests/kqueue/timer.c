// SPDX-License-Identifier: GPL-2.0
/*
 * EVFILT_TIMER (contract section 3): units, periodic and one-shot timers,
 * data = expirations since the last delivery, NOTE_ABSOLUTE, EV_ADD
 * restarting a timer, EV_DISABLE/EV_ENABLE, EV_DISPATCH, EV_DELETE and close
 * cancelling timers, many timers in one kqueue.
 *
 * Timing assertions are one-sided or generous (the VM is emulated and
 * noisy): a timer never fires early, counts never exceed the elapsed
 * periods, and a slow reader sees (almost) every period that passed.
 * Returned events carry EV_CLEAR (implied, as on FreeBSD and libkqueue) and
 * the registration's fflags.
 */
#include <sched.h>
#include <sys/epoll.h>

#include "kqueue_test.h"

#define U(x) ((void *)(uintptr_t)(x))
#define MS 1000000LL

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The event a timer registered with @flags/@fflags reports with @count. */
static struct kevent tev(uintptr_t id, unsigned short flags, unsigned int fflags,
			 intptr_t count, void *ud)
{
	return kev(id, EVFILT_TIMER, RET_FLAGS(flags) | EV_CLEAR, fflags, count, ud);
}

static struct kevent tadd(uintptr_t id, unsigned short flags, unsigned int fflags,
			  intptr_t data, void *ud)
{
	return kev(id, EVFILT_TIMER, EV_ADD | flags, fflags, data, ud);
}

/* Wait up to @ms for one event; returns the number of events (0 or 1). */
static int wait_one(int kq, struct kevent *ev, long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	memset(ev, 0, sizeof(*ev));
	return kevent(kq, NULL, 0, ev, 1, &ts);
}

/* A timer registered at @t0 with @unit_ns * @data fires no earlier than that. */
static void check_fires_after(struct __test_metadata *_metadata, unsigned int fflags,
			      intptr_t data, int64_t delay_ns)
{
	int kq = kq_new(_metadata);
	struct kevent ev;
	int64_t t0 = mono_ns(), t1;

	kq_change(_metadata, kq, tadd(7, EV_ONESHOT, fflags, data, U(7)));
	ASSERT_EQ(1, wait_one(kq, &ev, 10000));
	t1 = mono_ns();
	ASSERT_KEV(tev(7, EV_ADD | EV_ONESHOT, fflags, 1, U(7)), &ev);
	ASSERT_LE(delay_ns, t1 - t0) TH_LOG("fired after %lld ns, before %lld ns",
					    (long long)(t1 - t0), (long long)delay_ns);
	/* one-shot: gone after delivery */
	ASSERT_CHANGE_ERR(kq, kev(7, EVFILT_TIMER, EV_DELETE, 0, 0, NULL), ENOENT);
	close(kq);
}

TEST(unit_milliseconds_default)
{
	check_fires_after(_metadata, 0, 150, 150 * MS);
}

TEST(unit_seconds)
{
	check_fires_after(_metadata, NOTE_SECONDS, 1, 1000 * MS);
}

TEST(unit_microseconds)
{
	check_fires_after(_metadata, NOTE_USECONDS, 150000, 150 * MS);
}

TEST(unit_nanoseconds)
{
	check_fires_after(_metadata, NOTE_NSECONDS, 150000000, 150 * MS);
}

TEST(oneshot_zero_fires_at_once)
{
	int kq = kq_new(_metadata);
	struct kevent ev;

	kq_change(_metadata, kq, tadd(1, EV_ONESHOT, 0, 0, NULL));
	ASSERT_EQ(1, wait_one(kq, &ev, 5000));
	ASSERT_KEV(tev(1, EV_ADD | EV_ONESHOT, 0, 1, NULL), &ev);
	ASSERT_NO_EVENT(kq);
	close(kq);
}

TEST(periodic_fires_repeatedly)
{
	int kq = kq_new(_metadata);
	struct kevent ev;
	int64_t t0 = mono_ns(), total = 0;
	int i;

	kq_change(_metadata, kq, tadd(0xfeedfacecafeULL, 0, 0, 30, U(42)));
	for (i = 0; i < 5; i++) {
		ASSERT_EQ(1, wait_one(kq, &ev, 5000));
		ASSERT_EQ(0xfeedfacecafeULL, ev.ident);
		ASSERT_EQ(EVFILT_TIMER, ev.filter);
		ASSERT_EQ(EV_ADD | EV_CLEAR, ev.flags);
		ASSERT_EQ(0, ev.fflags);
		ASSERT_EQ(U(42), ev.udata);
		ASSERT_LE(1, ev.data);
		total += ev.data;
	}
	/* the counts add up to no more than the periods that elapsed */
	ASSERT_GE((mono_ns() - t0) / (30 * MS), total);
	close(kq);
}

TEST(periodic_zero_is_one_unit)
{
	int kq = kq_new(_metadata);
	struct kevent ev;
	int64_t t0 = mono_ns();
	int i;

	kq_change(_metadata, kq, tadd(3, 0, 0, 0, NULL));
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(1, wait_one(kq, &ev, 5000));
		ASSERT_EQ(3, ev.ident);
		ASSERT_EQ(EV_ADD | EV_CLEAR, ev.flags);
		ASSERT_LE(1, ev.data);
	}
	/* 1 ms periods: at least 3 of them elapsed */
	ASSERT_LE(3 * MS, mono_ns() - t0);
	close(kq);
}

/*
 * A slow reader sees every period that passed: after sleeping, data is the
 * number of expirations (never more than elapsed periods, and not many fewer).
 */
TEST(slow_reader_sees_count)
{
	const int64_t period = 20 * MS;
	int kq = kq_new(_metadata);
	struct kevent ev;
	int64_t t0, t1, t2;

	t0 = mono_ns();
	kq_change(_metadata, kq, tadd(5, 0, NOTE_USECONDS, 20000, NULL));
	t1 = mono_ns();
	sleep_ms(600);
	t2 = mono_ns();
	ASSERT_EQ(1, kq_poll(kq, &ev, 1));
	ASSERT_EQ(EV_ADD | EV_CLEAR, ev.flags);
	ASSERT_EQ(NOTE_USECONDS, ev.fflags);
	ASSERT_GE((mono_ns() - t0) / period, ev.data);
	/* callbacks may lag under emulation: allow 200 ms of missing periods */
	ASSERT_LE((t2 - t1 - 200 * MS) / period, ev.data)
		TH_LOG("data %ld after %lld ms", (long)ev.data, (long long)((t2 - t1) / MS));
	/* EV_CLEAR: the count restarts */
	ASSERT_NO_EVENT(kq);
	close(kq);
}

TEST(absolute_fires_once)
{
	int kq = kq_new(_metadata);
	struct kevent ev;
	int64_t when = real_ns() + 300 * MS;
	unsigned int ff = NOTE_ABSOLUTE | NOTE_USECONDS;

	kq_change(_metadata, kq, tadd(11, 0, ff, when / 1000, U(11)));
	ASSERT_NO_EVENT(kq);
	ASSERT_EQ(1, wait_one(kq, &ev, 10000));
	ASSERT_LE(when / 1000 * 1000, real_ns());
	ASSERT_KEV(tev(11, EV_ADD, ff, 1, U(11)), &ev);
	/* once: nothing more, but the knote stays until deleted */
	ASSERT_EQ(0, wait_one(kq, &ev, 400));
	kq_change(_metadata, kq, kev(11, EVFILT_TIMER, EV_DELETE, 0, 0, NULL));
	close(kq);
}

TEST(absolute_in_the_past_fires_at_once)
{
	int kq = kq_new(_metadata);
	struct kevent ev;
	unsigned int ff = NOTE_ABSOLUTE | NOTE_SECONDS;
	int64_t past = real_ns() / 1000000000LL - 10;

	kq_change(_metadata, kq, tadd(12, 0, ff, past, NULL));
	ASSERT_EQ(1, wait_one(kq, &ev, 2000));
	ASSERT_KEV(tev(12, EV_ADD, ff, 1, NULL), &ev);
	ASSERT_EQ(0, wait_one(kq, &ev, 200));
	/* an absolute time of 0 (the epoch) is in the past too */
	kq_change(_metadata, kq, tadd(13, 0, NOTE_ABSOLUTE, 0, NULL));
	ASSERT_EQ(1, wait_one(kq, &ev, 2000));
	ASSERT_KEV(tev(13, EV_ADD, NOTE_ABSOLUTE, 1, NULL), &ev);
	close(kq);
}

/* EV_ADD on a running timer restarts it with the new period. */
TEST(readd_restarts_timer)
{
	int kq = kq_new(_metadata);
	struct kevent ev;
	int64_t t1;

	kq_change(_metadata, kq, tadd(2, 0, 0, 300, NULL));
	sleep_ms(200);
	t1 = mono_ns();
	kq_change(_metadata, kq, tadd(2, 0, 0, 600, U(2)));
	ASSERT_EQ(1, wait_one(kq, &ev, 10000));
	/* the first expiry of the new period, not the old one at 300 ms */
	ASSERT_LE(600 * MS, mono_ns() - t1);
	ASSERT_KEV(tev(2, EV_ADD, 0, 1, U(2)), &ev);
	close(kq);
}

/* EV_ADD forgets expirations that were not reported yet (FreeBSD). */
TEST(readd_forgets_pending_count)
{
	int kq = kq_new(_metadata);
	struct kevent ev;

	kq_change(_metadata, kq, tadd(4, 0, 0, 20, NULL));
	sleep_ms(200);
	kq_change(_metadata, kq, tadd(4, 0, 0, 1000, NULL));
	ASSERT_NO_EVENT(kq);
	/*
	 * but EV_ONESHOT stays as the knote was created (kqueue_register of
	 * every BSD): still periodic, still reported without it
	 */
	kq_change(_metadata, kq, tadd(4, EV_ONESHOT, 0, 10, NULL));
	ASSERT_EQ(1, wait_one(kq, &ev, 5000));
	ASSERT_KEV(tev(4, EV_ADD, 0, ev.data, NULL), &ev);
	ASSERT_LE(1, ev.data);
	ASSERT_EQ(1, wait_one(kq, &ev, 5000));
	ASSERT_KEV(tev(4, EV_ADD, 0, ev.data, NULL), &ev);
	kq_change(_metadata, kq, kev(4, EVFILT_TIMER, EV_DELETE, 0, 0, NULL));
	close(kq);
}

/* EV_DISABLE stops the timer; EV_ENABLE starts it again a full period later. */
TEST(disable_stops_enable_restarts)
{
	int kq = kq_new(_metadata);
	struct kevent ev;
	int64_t t1;

	kq_change(_metadata, kq, tadd(6, 0, 0, 700, NULL));
	kq_change(_metadata, kq, kev(6, EVFILT_TIMER, EV_DISABLE, 0, 0, NULL));
	ASSERT_EQ(0, wait_one(kq, &ev, 1000));
	t1 = mono_ns();
	kq_change(_metadata, kq, kev(6, EVFILT_TIMER, EV_ENABLE, 0, 0, NULL));
	ASSERT_EQ(1, wait_one(kq, &ev, 10000));
	ASSERT_LE(700 * MS, mono_ns() - t1);
	/* stopped while disabled: one expiry since the restart, nothing before */
	ASSERT_KEV(tev(6, EV_ADD, 0, 1, NULL), &ev);
	close(kq);
}

/* Expirations counted before EV_DISABLE are reported at EV_ENABLE. */
TEST(disable_keeps_count)
{
	int kq = kq_new(_metadata);
	struct kevent ev;
	int64_t t0, t1;

	t0 = mono_ns();
	kq_change(_metadata, kq, tadd(8, 0, 0, 40, NULL));
	sleep_ms(300);
	kq_change(_metadata, kq, kev(8, EVFILT_TIMER, EV_DISABLE, 0, 0, NULL));
	t1 = mono_ns();
	ASSERT_NO_EVENT(kq);
	sleep_ms(100);
	ASSERT_NO_EVENT(kq);
	kq_change(_metadata, kq, kev(8, EVFILT_TIMER, EV_ENABLE, 0, 0, NULL));
	ASSERT_EQ(1, kq_poll(kq, &ev, 1));
	ASSERT_EQ(8, ev.ident);
	ASSERT_EQ(EV_ADD | EV_CLEAR, ev.flags);
	/* the periods before EV_DISABLE (some may lag under emulation), none after */
	ASSERT_LE(2, ev.data);
	ASSERT_GE((t1 - t0) / (40 * MS), ev.data);
	close(kq);
}

/* EV_ADD|EV_DISABLE registers a stopped timer. */
TEST(add_disabled)
{
	int kq = kq_new(_metadata);
	struct kevent ev;

	kq_change(_metadata, kq, tadd(9, EV_DISABLE, 0, 10, NULL));
	ASSERT_EQ(0, wait_one(kq, &ev, 300));
	kq_change(_metadata, kq, kev(9, EVFILT_TIMER, EV_ENABLE, 0, 0, NULL));
	ASSERT_EQ(1, wait_one(kq, &ev, 5000));
	ASSERT_EQ(9, ev.ident);
	ASSERT_EQ(EV_ADD | EV_CLEAR, ev.flags);
	close(kq);
}

TEST(dispatch)
{
	int kq = kq_new(_metadata);
	struct kevent ev;

	kq_change(_metadata, kq, tadd(10, EV_DISPATCH, 0, 20, NULL));
	ASSERT_EQ(1, wait_one(kq, &ev, 5000));
	ASSERT_EQ(EV_ADD | EV_DISPATCH | EV_CLEAR, ev.flags);
	ASSERT_LE(1, ev.data);
	ASSERT_EQ(0, wait_one(kq, &ev, 300));
	kq_change(_metadata, kq, kev(10, EVFILT_TIMER, EV_ENABLE, 0, 0, NULL));
	ASSERT_EQ(1, wait_one(kq, &ev, 5000));
	ASSERT_EQ(10, ev.ident);
	ASSERT_EQ(EV_ADD | EV_DISPATCH | EV_CLEAR, ev.flags);
	ASSERT_LE(1, ev.data);
	close(kq);
}

TEST(delete_cancels)
{
	int kq = kq_new(_metadata);
	struct kevent ev;

	kq_change(_metadata, kq, tadd(14, 0, 0, 50, NULL));
	kq_change(_metadata, kq, kev(14, EVFILT_TIMER, EV_DELETE, 0, 0, NULL));
	ASSERT_EQ(0, wait_one(kq, &ev, 300));
	ASSERT_CHANGE_ERR(kq, kev(14, EVFILT_TIMER, EV_DELETE, 0, 0, NULL), ENOENT);
	/* a pending expiry is dropped with its knote */
	kq_change(_metadata, kq, tadd(14, 0, 0, 5, NULL));
	sleep_ms(50);
	kq_change(_metadata, kq, kev(14, EVFILT_TIMER, EV_DELETE, 0, 0, NULL));
	ASSERT_NO_EVENT(kq);
	close(kq);
}

/*
 * Moves the calling thread to the CPU number @cpu modulo the CPUs of @all
 * (the thread's affinity before the first move); 0 if it cannot.
 */
static int run_on(const cpu_set_t *all, int cpu)
{
	cpu_set_t one;
	int n = CPU_COUNT(all), i;

	if (n < 2)
		return 0;
	cpu %= n;
	for (i = 0; i < CPU_SETSIZE; i++) {
		if (CPU_ISSET(i, all) && cpu-- == 0)
			break;
	}
	CPU_ZERO(&one);
	CPU_SET(i, &one);
	return !sched_setaffinity(0, sizeof(one), &one);
}

/* Collects events until its kqueue is closed. */
static void *drain_thread(void *arg)
{
	struct timespec ts = { 0, 2 * MS };
	struct kevent ev[64];

	while (kevent(*(int *)arg, NULL, 0, ev, 64, &ts) >= 0)
		;
	return NULL;
}

#define FIRING_POLLERS 128

/*
 * Deleting and closing while timers fire as fast as they can. detach must
 * wait for a callback that runs: a periodic one re-arms its timer when it
 * returns. To give it time to run, a thread collects the events, so that each
 * expiry queues its knote again and wakes the pollers of the kqueue (many
 * epoll instances), which the callback does after dropping the lock; and the
 * timers are started on one CPU and deleted from another, so that the
 * callbacks run while the knotes are detached.
 */
TEST(delete_and_close_while_firing)
{
	struct epoll_event ee = { .events = EPOLLIN };
	int ep[FIRING_POLLERS];
	cpu_set_t saved;
	int i, j;

	ASSERT_EQ(0, sched_getaffinity(0, sizeof(saved), &saved));
	for (j = 0; j < FIRING_POLLERS; j++) {
		ep[j] = epoll_create1(0);
		ASSERT_LE(0, ep[j]);
	}
	for (i = 0; i < 40; i++) {
		int kq = kq_new(_metadata);
		struct kevent ch[50];
		pthread_t t;

		/* closing the kqueue takes it out of the epoll instances */
		for (j = 0; j < FIRING_POLLERS; j++)
			ASSERT_EQ(0, epoll_ctl(ep[j], EPOLL_CTL_ADD, kq, &ee));
		run_on(&saved, i);
		for (j = 0; j < 50; j++)
			ch[j] = tadd(j, 0, NOTE_USECONDS, 10 + j, NULL);
		kq_apply(_metadata, kq, ch, 50);
		run_on(&saved, i + 1);
		ASSERT_EQ(0, pthread_create(&t, NULL, drain_thread, &kq));
		sleep_ms(10);
		for (j = 0; j < 25; j++)
			ch[j] = kev(j, EVFILT_TIMER, EV_DELETE, 0, 0, NULL);
		kq_apply(_metadata, kq, ch, 25);
		/* the other half is cancelled by close */
		close(kq);
		ASSERT_EQ(0, pthread_join(t, NULL));
		ASSERT_EQ(0, sched_setaffinity(0, sizeof(saved), &saved));
	}
	for (j = 0; j < FIRING_POLLERS; j++)
		close(ep[j]);
}

TEST(invalid)
{
	int kq = kq_new(_metadata);

	ASSERT_CHANGE_ERR(kq, tadd(1, 0, 0, -1, NULL), EINVAL);
	ASSERT_CHANGE_ERR(kq, tadd(1, 0, NOTE_SECONDS | NOTE_USECONDS, 1, NULL), EINVAL);
	ASSERT_CHANGE_ERR(kq, tadd(1, 0, NOTE_USECONDS | NOTE_NSECONDS, 1, NULL), EINVAL);
	ASSERT_CHANGE_ERR(kq, tadd(1, 0, NOTE_ABSOLUTE, -5, NULL), EINVAL);
	/* nothing was registered */
	ASSERT_CHANGE_ERR(kq, kev(1, EVFILT_TIMER, EV_DELETE, 0, 0, NULL), ENOENT);
	/* a bad EV_ADD on an existing timer leaves it as it was */
	kq_change(_metadata, kq, tadd(1, 0, 0, 100000, NULL));
	ASSERT_CHANGE_ERR(kq, tadd(1, 0, 0, -1, NULL), EINVAL);
	kq_change(_metadata, kq, kev(1, EVFILT_TIMER, EV_DELETE, 0, 0, NULL));
	/* a huge period is accepted (it never fires) */
	kq_change(_metadata, kq, tadd(2, 0, NOTE_SECONDS, INTPTR_MAX, NULL));
	ASSERT_NO_EVENT(kq);
	close(kq);
}

/* Several timers: events come in expiry order. */
TEST(ordering)
{
	int kq = kq_new(_metadata);
	struct kevent ch[3], ev;

	ch[0] = tadd(30, EV_ONESHOT, 0, 600, U(30));
	ch[1] = tadd(10, EV_ONESHOT, 0, 100, U(10));
	ch[2] = tadd(20, EV_ONESHOT, 0, 350, U(20));
	kq_apply(_metadata, kq, ch, 3);
	ASSERT_EQ(1, wait_one(kq, &ev, 10000));
	ASSERT_KEV(tev(10, EV_ADD | EV_ONESHOT, 0, 1, U(10)), &ev);
	ASSERT_EQ(1, wait_one(kq, &ev, 10000));
	ASSERT_KEV(tev(20, EV_ADD | EV_ONESHOT, 0, 1, U(20)), &ev);
	ASSERT_EQ(1, wait_one(kq, &ev, 10000));
	ASSERT_KEV(tev(30, EV_ADD | EV_ONESHOT, 0, 1, U(30)), &ev);
	ASSERT_NO_EVENT(kq);
	close(kq);
}

/* Thousands of idle timers: registered, silent, deleted one by one. */
TEST(many_idle_timers)
{
	enum { N = 2000 };
	static struct kevent ch[N];
	int kq = kq_new(_metadata);
	struct kevent ev;
	int i;

	for (i = 0; i < N; i++)
		ch[i] = tadd(i, 0, NOTE_SECONDS, 3600, NULL);
	kq_apply(_metadata, kq, ch, N);
	/* a short one among them still fires, alone */
	kq_change(_metadata, kq, tadd(N, EV_ONESHOT, 0, 50, U(N)));
	ASSERT_EQ(1, wait_one(kq, &ev, 5000));
	ASSERT_KEV(tev(N, EV_ADD | EV_ONESHOT, 0, 1, U(N)), &ev);
	ASSERT_NO_EVENT(kq);
	for (i = 0; i < N; i += 2)
		ch[i / 2] = kev(i, EVFILT_TIMER, EV_DELETE, 0, 0, NULL);
	kq_apply(_metadata, kq, ch, N / 2);
	/* the rest go with the kqueue */
	close(kq);
}

/* Timers in two kqueues with the same ident are independent. */
TEST(two_kqueues)
{
	int kq1 = kq_new(_metadata), kq2 = kq_new(_metadata);
	struct kevent ev;

	kq_change(_metadata, kq1, tadd(1, EV_ONESHOT, 0, 20, U(1)));
	kq_change(_metadata, kq2, tadd(1, EV_ONESHOT, 0, 10000, U(2)));
	ASSERT_EQ(1, wait_one(kq1, &ev, 5000));
	ASSERT_KEV(tev(1, EV_ADD | EV_ONESHOT, 0, 1, U(1)), &ev);
	ASSERT_NO_EVENT(kq2);
	close(kq1);
	close(kq2);
}

TEST_HARNESS_MAIN
