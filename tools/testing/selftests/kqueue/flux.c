// SPDX-License-Identifier: GPL-2.0
/*
 * Threads racing on one knote while a scan holds it in flux (the scan polls
 * a descriptor knote with the kqueue lock dropped):
 *
 * - a change to the knote waits for the flux to end, wakes up when it does
 *   and applies (flux_waiter_*): one thread collects a level-triggered pipe
 *   knote while another changes that same knote, for a fixed time;
 * - a zero-timeout poll, or a blocking wait, from another thread never
 *   misses a level-triggered event that is only held in flux, whatever else
 *   it returns, and never sleeps on it (held_event_*; NetBSD PR
 *   kern/50094 is this bug);
 * - a write that lands while a scan holds an EV_CLEAR knote off the queue
 *   triggers it again (clear_write_during_hold_triggers).
 *
 * Every wait is bounded: threads are joined with a deadline and a SIGALRM
 * watchdog kills the test process if something hangs anyway.
 */
#include <stdatomic.h>

#include "kqueue_test.h"

#define U(x) ((void *)(uintptr_t)(x))

/* How long each change-while-collecting race runs. */
#define RACE_MS 3000

enum change_kind { DISABLE_ENABLE, DELETE_ADD, ADD_NEW_UDATA };

struct race {
	int kq;
	int rfd;
	enum change_kind kind;
	atomic_int stop;
	/* results: counts, and the first wrong answer seen */
	long changes, polls, events;
	int bad_ret, bad_errno;
	struct kevent bad_ev;
	int bad_event;
};

static void *collector(void *arg)
{
	struct race *r = arg;
	struct kevent ev[4];
	int n, i;

	while (!atomic_load(&r->stop)) {
		memset(ev, 0, sizeof(ev));
		n = kevent(r->kq, NULL, 0, ev, 4, &ts_zero);
		r->polls++;
		if (n < 0 || n > 1) {
			r->bad_ret = n;
			r->bad_errno = errno;
			break;
		}
		for (i = 0; i < n; i++) {
			uintptr_t u = (uintptr_t)ev[i].udata;

			r->events++;
			if (ev[i].ident != (uintptr_t)r->rfd || ev[i].filter != EVFILT_READ ||
			    ev[i].flags != EV_ADD || ev[i].fflags != 0 || ev[i].data != 1 ||
			    (u != 1 && u != 2)) {
				r->bad_ev = ev[i];
				r->bad_event = 1;
			}
		}
	}
	return NULL;
}

static void race_changes(struct __test_metadata *_metadata, enum change_kind kind)
{
	struct race r = { .kind = kind };
	struct kevent ch[2];
	pthread_t t;
	int p[2], ret;
	int64_t end;
	long i;

	watchdog(RACE_MS / 1000 + 25);
	make_pipe(_metadata, p);
	ASSERT_EQ(1, write(p[1], "x", 1));
	r.kq = kq_new(_metadata);
	r.rfd = p[0];
	kq_change(_metadata, r.kq, kev(p[0], EVFILT_READ, EV_ADD, 0, 0, U(1)));
	ASSERT_EQ(0, pthread_create(&t, NULL, collector, &r));

	end = now_ms() + RACE_MS;
	for (i = 0; now_ms() < end; i++) {
		switch (kind) {
		case DISABLE_ENABLE:
			ch[0] = kev(p[0], EVFILT_READ, EV_DISABLE, 0, 0, U(1));
			ch[1] = kev(p[0], EVFILT_READ, EV_ENABLE, 0, 0, U(1));
			break;
		case DELETE_ADD:
			ch[0] = kev(p[0], EVFILT_READ, EV_DELETE, 0, 0, NULL);
			ch[1] = kev(p[0], EVFILT_READ, EV_ADD, 0, 0, U(1 + (i & 1)));
			break;
		case ADD_NEW_UDATA:
			ch[0] = kev(p[0], EVFILT_READ, EV_ADD, 0, 0, U(2));
			ch[1] = kev(p[0], EVFILT_READ, EV_ADD, 0, 0, U(1));
			break;
		}
		ret = kevent(r.kq, ch, 2, NULL, 0, NULL);
		ASSERT_EQ(0, ret) TH_LOG("change %ld: errno %d", i, errno);
		r.changes++;
	}
	atomic_store(&r.stop, 1);
	ASSERT_EQ(0, join_within(t, NULL, 10000)) TH_LOG("collector stuck in kevent()");
	TH_LOG("%ld change pairs, %ld polls, %ld events", r.changes, r.polls, r.events);
	ASSERT_EQ(0, r.bad_ret) TH_LOG("poll returned %d (errno %d)", r.bad_ret, r.bad_errno);
	ASSERT_EQ(0, r.bad_event) TH_LOG("wrong event: ident %lu filter %d flags %#x data %ld udata %p",
					 (unsigned long)r.bad_ev.ident, r.bad_ev.filter,
					 r.bad_ev.flags, (long)r.bad_ev.data, r.bad_ev.udata);
	/* The knote is intact: the pipe is still readable, with the last udata. */
	ASSERT_ONE_EVENT(r.kq, kev(p[0], EVFILT_READ, EV_ADD, 0, 1,
				   kind == DELETE_ADD ? U(1 + ((r.changes - 1) & 1)) : U(1)));
	close(r.kq);
	close(p[0]);
	close(p[1]);
}

TEST(flux_waiter_disable_enable)
{
	race_changes(_metadata, DISABLE_ENABLE);
}

TEST(flux_waiter_delete_add)
{
	race_changes(_metadata, DELETE_ADD);
}

TEST(flux_waiter_add_new_udata)
{
	race_changes(_metadata, ADD_NEW_UDATA);
}

/*
 * Two threads on one kqueue with one always-readable level-triggered pipe
 * knote (and, with @user, a triggered level-triggered EVFILT_USER knote
 * beside it): every call of both returns every event.
 */
#define POLLS 10000
#define WAITS 1000

struct poller {
	pthread_t thread;
	int kq;
	int rfd;
	const struct timespec *ts;
	int calls;
	int user;
	/* first call that did not return the event: index, return, errno */
	int missed_at, missed_ret, missed_errno;
	long slowest_ms;
	atomic_int *go;
};

static void *poller_fn(void *arg)
{
	struct poller *p = arg;
	struct kevent ev[8];
	int64_t t0;
	int i, n;

	p->missed_at = -1;
	while (!atomic_load(p->go))
		;
	for (i = 0; i < p->calls; i++) {
		memset(ev, 0, sizeof(ev));
		t0 = now_ms();
		n = kevent(p->kq, NULL, 0, ev, 8, p->ts);
		if (now_ms() - t0 > p->slowest_ms)
			p->slowest_ms = now_ms() - t0;
		/* The pipe's event comes first or, behind the user event, second. */
		struct kevent *pe = &ev[n == 2 && ev[0].filter == EVFILT_USER];
		struct kevent *ue = &ev[n == 2 && ev[0].filter != EVFILT_USER];

		if (n != 1 + p->user || pe->ident != (uintptr_t)p->rfd ||
		    pe->filter != EVFILT_READ || pe->flags != EV_ADD || pe->data != 1 ||
		    pe->udata != U(7) ||
		    (p->user && (ue->ident != 9 || ue->filter != EVFILT_USER ||
				 ue->udata != U(9)))) {
			p->missed_at = i;
			p->missed_ret = n;
			p->missed_errno = n < 0 ? errno : 0;
			break;
		}
	}
	return NULL;
}

static void two_threads_always_get_it(struct __test_metadata *_metadata,
				      const struct timespec *ts, int calls, long max_ms,
				      int user)
{
	struct poller p[2];
	atomic_int go = 0;
	int fds[2], kq, i;

	watchdog(120);
	make_pipe(_metadata, fds);
	ASSERT_EQ(1, write(fds[1], "x", 1));
	kq = kq_new(_metadata);
	kq_change(_metadata, kq, kev(fds[0], EVFILT_READ, EV_ADD, 0, 0, U(7)));
	if (user) {
		kq_change(_metadata, kq, kev(9, EVFILT_USER, EV_ADD, 0, 0, U(9)));
		kq_change(_metadata, kq, kev(9, EVFILT_USER, 0, NOTE_TRIGGER, 0, U(9)));
	}
	for (i = 0; i < 2; i++) {
		p[i] = (struct poller){ .kq = kq, .rfd = fds[0], .ts = ts, .calls = calls,
					.user = user, .go = &go };
		ASSERT_EQ(0, pthread_create(&p[i].thread, NULL, poller_fn, &p[i]));
	}
	atomic_store(&go, 1);
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, join_within(p[i].thread, NULL, 100000))
			TH_LOG("thread %d stuck in kevent()", i);
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(-1, p[i].missed_at)
			TH_LOG("thread %d: call %d of %d returned %d (errno %d), not the event",
			       i, p[i].missed_at, calls, p[i].missed_ret, p[i].missed_errno);
		ASSERT_GT(max_ms, p[i].slowest_ms)
			TH_LOG("thread %d slept %ld ms in one call with an event pending",
			       i, p[i].slowest_ms);
	}
	if (!user)
		ASSERT_ONE_EVENT(kq, kev(fds[0], EVFILT_READ, EV_ADD, 0, 1, U(7)));
	close(kq);
	close(fds[0]);
	close(fds[1]);
}

TEST(held_event_zero_timeout_polls)
{
	two_threads_always_get_it(_metadata, &ts_zero, POLLS, 100000, 0);
}

/*
 * A call that finds another event first still gets the one the other
 * thread is polling at that moment: no call misses a level-triggered event
 * whose condition holds, whatever else it returns.
 */
TEST(held_event_beside_another)
{
	two_threads_always_get_it(_metadata, &ts_zero, POLLS, 100000, 1);
}

/*
 * The same with blocking waits. A waiter that went to sleep while the event
 * was held by the other thread would sleep out its whole timeout, as nobody
 * wakes it (the event never left the queue for good), and only then take
 * the event: no call may come near its 10 s timeout.
 */
TEST(held_event_blocking_waits)
{
	static const struct timespec ts = { 10, 0 };

	two_threads_always_get_it(_metadata, &ts, WAITS, 5000, 0);
}

/*
 * A write that lands while a scan holds an EV_CLEAR knote (after the scan
 * polled the pipe, before it cleared the knote) triggers the knote again.
 * The reader reads exactly the `data` each event reports, so a lost
 * trigger leaves bytes nobody is told about. Each round the writer writes
 * a byte to each of CLEAR_PIPES pipes, then after a random moment a second
 * byte to each, and starts the next round only when all were read: one
 * scan holds all the pipes' knotes while it polls them one by one, so the
 * second writes often land inside a hold.
 */
#define CLEAR_PIPES 8
#define MIN_ROUNDS 200

struct clear_writer {
	int wfd[CLEAR_PIPES];
	atomic_long consumed;
	atomic_int stop;
	long rounds;
	int err;
};

static void *clear_writer_fn(void *arg)
{
	struct clear_writer *w = arg;
	unsigned int seed = 1;
	long want = 0;
	int i;

	for (; !atomic_load(&w->stop); w->rounds++) {
		for (i = 0; i < CLEAR_PIPES; i++)
			if (write(w->wfd[i], "a", 1) != 1)
				goto fail;
		spin_ns(rand_r(&seed) % 100000);
		for (i = 0; i < CLEAR_PIPES; i++)
			if (write(w->wfd[i], "b", 1) != 1)
				goto fail;
		want += 2 * CLEAR_PIPES;
		while (atomic_load(&w->consumed) < want && !atomic_load(&w->stop))
			;
	}
	return NULL;
fail:
	w->err = errno;
	return NULL;
}

TEST(clear_write_during_hold_triggers)
{
	struct clear_writer w = { 0 };
	struct kevent ev[CLEAR_PIPES];
	int fds[CLEAR_PIPES][2], kq, n, i;
	int64_t end, last_progress;
	char buf[4];
	pthread_t t;

	watchdog(60);
	kq = kq_new(_metadata);
	for (i = 0; i < CLEAR_PIPES; i++) {
		make_pipe(_metadata, fds[i]);
		kq_change(_metadata, kq, kev(fds[i][0], EVFILT_READ, EV_ADD | EV_CLEAR, 0, 0, U(i)));
		w.wfd[i] = fds[i][1];
	}
	ASSERT_EQ(0, pthread_create(&t, NULL, clear_writer_fn, &w));
	end = now_ms() + RACE_MS;
	last_progress = now_ms();
	/* RACE_MS, and on a loaded machine longer, up to MIN_ROUNDS rounds or 20 s */
	while (now_ms() < end || (w.rounds < MIN_ROUNDS && now_ms() < end + 20000)) {
		memset(ev, 0, sizeof(ev));
		n = kevent(kq, NULL, 0, ev, CLEAR_PIPES, &ts_zero);
		if (n <= 0 && now_ms() - last_progress < 2000)
			continue;
		if (n <= 0) {
			atomic_store(&w.stop, 1);
			join_within(t, NULL, 10000);
		}
		ASSERT_LT(0, n)
		TH_LOG("round %ld: %ld bytes read, unread ones with no event for 2 s (errno %d)",
		       w.rounds, atomic_load(&w.consumed), n < 0 ? errno : 0);
		for (int k = 0; k < n; k++) {
			int idx = (int)(uintptr_t)ev[k].udata;

			ASSERT_TRUE(idx >= 0 && idx < CLEAR_PIPES);
			ASSERT_EQ(fds[idx][0], ev[k].ident);
			ASSERT_EQ(EVFILT_READ, ev[k].filter);
			ASSERT_EQ(EV_ADD | EV_CLEAR, ev[k].flags);
			ASSERT_TRUE(ev[k].data == 1 || ev[k].data == 2)
			TH_LOG("data %jd", (intmax_t)ev[k].data);
			ASSERT_EQ(ev[k].data, read(fds[idx][0], buf, ev[k].data));
			atomic_fetch_add(&w.consumed, ev[k].data);
		}
		last_progress = now_ms();
	}
	atomic_store(&w.stop, 1);
	ASSERT_EQ(0, join_within(t, NULL, 10000));
	ASSERT_EQ(0, w.err);
	ASSERT_LE(MIN_ROUNDS, w.rounds) TH_LOG("only %ld rounds", w.rounds);
	close(kq);
	for (i = 0; i < CLEAR_PIPES; i++) {
		close(fds[i][0]);
		close(fds[i][1]);
	}
}

TEST_HARNESS_MAIN
