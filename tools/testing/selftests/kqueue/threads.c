// SPDX-License-Identifier: GPL-2.0
/*
 * Many threads on one kqueue (contract section 2): with EV_DISPATCH or
 * EV_ONESHOT exactly one waiter gets an event, a blocked waiter never stops
 * other threads from changing the kqueue (libkqueue bug #162), and close()
 * of the kqueue wakes blocked waiters with -1/EBADF.
 *
 * Every wait is bounded: threads are joined with a deadline and a SIGALRM
 * watchdog kills the test process if something hangs anyway.
 */
#include <stdatomic.h>

#include "kqueue_test.h"

#define U(x) ((void *)(uintptr_t)(x))

struct waiter {
	pthread_t thread;
	int kq;
	struct timespec ts;
	int use_timeout;
	volatile pid_t tid;
	int ret;
	int err;
	struct kevent ev[2];
};

static void *waiter_fn(void *arg)
{
	struct waiter *w = arg;

	w->tid = sys_gettid();
	memset(w->ev, 0, sizeof(w->ev));
	errno = 0;
	w->ret = kevent(w->kq, NULL, 0, w->ev, 2, w->use_timeout ? &w->ts : NULL);
	w->err = errno;
	return NULL;
}

static int waiter_start(struct waiter *w, int kq, long timeout_ms)
{
	memset(w, 0, sizeof(*w));
	w->kq = kq;
	w->use_timeout = timeout_ms >= 0;
	w->ts.tv_sec = timeout_ms / 1000;
	w->ts.tv_nsec = (timeout_ms % 1000) * 1000000L;
	return pthread_create(&w->thread, NULL, waiter_fn, w);
}

/* Wait until the waiter thread is blocked (sleeping) in kevent. */
static int waiter_blocked(struct waiter *w)
{
	int64_t end = now_ms() + 5000;

	while (!w->tid && now_ms() < end)
		sleep_ms(5);
	return w->tid && wait_thread_sleeping(w->tid, 5000);
}

/* Two threads poll a kqueue (zero timeout) and count what they get. */
#define POLL_ROUNDS 100

struct poller {
	pthread_t thread;
	int kq;
	int cpu;
	atomic_int *got;
	atomic_int *bad;
	volatile int *stop;
};

/* Moves the calling thread to the CPU number @cpu modulo those it may use. */
static void run_on(int cpu)
{
	cpu_set_t all, one;
	int n, i;

	if (sched_getaffinity(0, sizeof(all), &all))
		return;
	n = CPU_COUNT(&all);
	if (n < 2)
		return;
	cpu %= n;
	for (i = 0; i < CPU_SETSIZE; i++) {
		if (CPU_ISSET(i, &all) && cpu-- == 0)
			break;
	}
	CPU_ZERO(&one);
	CPU_SET(i, &one);
	sched_setaffinity(0, sizeof(one), &one);
}

static void *poller_fn(void *arg)
{
	struct poller *p = arg;
	struct timespec zero = { 0, 0 };
	struct kevent ev[2];
	int n, i;

	/* on CPUs of their own: both are in kevent() at once */
	run_on(p->cpu);
	while (!*p->stop) {
		n = kevent(p->kq, NULL, 0, ev, 2, &zero);
		if (n < 0) {
			atomic_fetch_add(p->bad, 1);
			break;
		}
		for (i = 0; i < n; i++) {
			if (ev[i].ident == 1 && ev[i].udata == U(0x52))
				atomic_fetch_add(p->got, 1);
			else if (ev[i].ident != 2 || ev[i].udata != U(0x53))
				atomic_fetch_add(p->bad, 1);
		}
	}
	return NULL;
}

/*
 * The same with waiters that poll, and a level-triggered event (ident 2)
 * always pending: they take the kqueue's lock all the time, so one of them
 * often waits for it while the other takes the event. Each round re-arms the
 * event once it was taken; it must be taken exactly once.
 */
static void polling_waiters(struct __test_metadata *_metadata, unsigned short reg)
{
	atomic_int got = 0, bad = 0;
	volatile int stop = 0;
	struct poller p[2];
	int kq = kq_new(_metadata), i, r;
	int64_t end;

	kq_change(_metadata, kq, kev(2, EVFILT_USER, EV_ADD, 0, 0, U(0x53)));
	kq_change(_metadata, kq, kev(2, EVFILT_USER, 0, NOTE_TRIGGER, 0, U(0x53)));
	for (i = 0; i < 2; i++) {
		p[i] = (struct poller){ .kq = kq, .cpu = i, .got = &got, .bad = &bad, .stop = &stop };
		ASSERT_EQ(0, pthread_create(&p[i].thread, NULL, poller_fn, &p[i]));
	}
	for (r = 0; r < POLL_ROUNDS; r++) {
		/* EV_DISPATCH: enable again; EV_ONESHOT: add again */
		unsigned short flags = r && (reg & EV_DISPATCH) ? EV_ENABLE : reg;
		struct kevent ch[2] = {
			kev(1, EVFILT_USER, flags, 0, 0, U(0x52)),
			kev(1, EVFILT_USER, 0, NOTE_TRIGGER, 0, U(0x52)),
		};

		kq_apply(_metadata, kq, ch, 2);
		end = now_ms() + 5000;
		while (atomic_load(&got) <= r && now_ms() < end)
			sched_yield();
		ASSERT_LE(r + 1, atomic_load(&got)) TH_LOG("round %d: nobody got the event", r);
		ASSERT_EQ(r + 1, atomic_load(&got)) TH_LOG("round %d: the event was taken twice", r);
	}
	sleep_ms(50);
	stop = 1;
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, join_within(p[i].thread, NULL, 10000));
	ASSERT_EQ(0, atomic_load(&bad));
	ASSERT_EQ(POLL_ROUNDS, atomic_load(&got));
	close(kq);
}

static void one_of_two_waiters(struct __test_metadata *_metadata, unsigned short reg)
{
	struct waiter w[2];
	int kq = kq_new(_metadata), i, winner = -1;

	watchdog(25);
	kq_change(_metadata, kq, kev(1, EVFILT_USER, reg, 0, 0, U(0x51)));
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, waiter_start(&w[i], kq, 2000));
	for (i = 0; i < 2; i++)
		ASSERT_TRUE(waiter_blocked(&w[i]));
	kq_change(_metadata, kq, kev(1, EVFILT_USER, 0, NOTE_TRIGGER, 0, U(0x51)));
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, join_within(w[i].thread, NULL, 10000));
	for (i = 0; i < 2; i++) {
		if (w[i].ret == 1) {
			ASSERT_EQ(-1, winner) TH_LOG("both waiters got the event");
			winner = i;
			ASSERT_KEV(user_ev(1, reg, 0, 0, U(0x51)), &w[i].ev[0]);
		} else {
			ASSERT_EQ(0, w[i].ret) TH_LOG("waiter %d: ret %d errno %d",
						      i, w[i].ret, w[i].err);
		}
	}
	ASSERT_NE(-1, winner) TH_LOG("no waiter got the event");
	ASSERT_NO_EVENT(kq);
	close(kq);
	polling_waiters(_metadata, reg);
}

TEST(dispatch_one_of_two_waiters)
{
	one_of_two_waiters(_metadata, EV_ADD | EV_DISPATCH);
}

TEST(oneshot_one_of_two_waiters)
{
	one_of_two_waiters(_metadata, EV_ADD | EV_ONESHOT);
}

TEST(blocked_waiter_does_not_block_changes)
{
	struct kevent ch[2];
	struct waiter w;
	int kq = kq_new(_metadata), i;

	watchdog(25);
	ASSERT_EQ(0, waiter_start(&w, kq, -1));
	ASSERT_TRUE(waiter_blocked(&w));
	/* unrelated changes go through while the waiter sleeps */
	for (i = 100; i < 110; i++)
		kq_change(_metadata, kq, kev(i, EVFILT_USER, EV_ADD, 0, 0, NULL));
	for (i = 100; i < 110; i++)
		kq_change(_metadata, kq, kev(i, EVFILT_USER, EV_DELETE, 0, 0, NULL));
	ASSERT_TRUE(wait_thread_sleeping(w.tid, 5000));
	/* adding and triggering wakes the waiter with that event */
	ch[0] = kev(5, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, U(5));
	ch[1] = kev(5, EVFILT_USER, 0, NOTE_TRIGGER, 0, U(5));
	kq_apply(_metadata, kq, ch, 2);
	ASSERT_EQ(0, join_within(w.thread, NULL, 10000));
	ASSERT_EQ(1, w.ret) TH_LOG("errno %d", w.err);
	ASSERT_KEV(user_ev(5, EV_ADD | EV_CLEAR, 0, 0, U(5)), &w.ev[0]);
	ASSERT_NO_EVENT(kq);
	close(kq);
}

TEST(close_wakes_waiters)
{
	enum { N = 3 };
	struct waiter w[N];
	int kq = kq_new(_metadata), i;

	watchdog(25);
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD, 0, 0, NULL));
	for (i = 0; i < N; i++)
		ASSERT_EQ(0, waiter_start(&w[i], kq, -1));
	for (i = 0; i < N; i++)
		ASSERT_TRUE(waiter_blocked(&w[i]));
	ASSERT_EQ(0, close(kq));
	for (i = 0; i < N; i++) {
		ASSERT_EQ(0, join_within(w[i].thread, NULL, 10000))
			TH_LOG("waiter %d still blocked 10 s after close()", i);
		ASSERT_EQ(-1, w[i].ret);
		ASSERT_EQ(EBADF, w[i].err) TH_LOG("waiter %d errno %d", i, w[i].err);
	}
}

TEST(close_wakes_timed_waiter)
{
	struct waiter w;
	int kq = kq_new(_metadata);

	watchdog(25);
	ASSERT_EQ(0, waiter_start(&w, kq, 60000));
	ASSERT_TRUE(waiter_blocked(&w));
	ASSERT_EQ(0, close(kq));
	ASSERT_EQ(0, join_within(w.thread, NULL, 10000));
	ASSERT_EQ(-1, w.ret);
	ASSERT_EQ(EBADF, w.err);
}

/* Producers add and trigger EV_ONESHOT knotes while the main thread collects. */
#define NPROD 4
#define PER_PROD 200

struct producer {
	pthread_t thread;
	int kq;
	int idx;
	int fails;
};

static void *producer_fn(void *arg)
{
	struct producer *p = arg;
	struct kevent ch[2];
	int i;

	for (i = 0; i < PER_PROD; i++) {
		uintptr_t id = p->idx * 1000 + i;

		ch[0] = kev(id, EVFILT_USER, EV_ADD | EV_ONESHOT, 0, 0, U(id + 1));
		ch[1] = kev(id, EVFILT_USER, 0, NOTE_TRIGGER, 0, U(id + 1));
		if (kevent(p->kq, ch, 2, NULL, 0, NULL) != 0)
			p->fails++;
	}
	return NULL;
}

TEST(producers_and_consumer)
{
	struct timespec ts = { 5, 0 };
	struct producer p[NPROD];
	struct kevent ev[64];
	static char seen[NPROD * 1000];
	int kq = kq_new(_metadata), total = 0, n, i;

	watchdog(25);
	for (i = 0; i < NPROD; i++) {
		p[i] = (struct producer){ .kq = kq, .idx = i };
		ASSERT_EQ(0, pthread_create(&p[i].thread, NULL, producer_fn, &p[i]));
	}
	while (total < NPROD * PER_PROD) {
		n = kevent(kq, NULL, 0, ev, 64, &ts);
		ASSERT_LT(0, n) TH_LOG("kevent returned %d (errno %d) after %d events",
				       n, errno, total);
		for (i = 0; i < n; i++) {
			uintptr_t id = ev[i].ident;

			ASSERT_GT(NPROD * 1000, id);
			ASSERT_GT(PER_PROD, id % 1000);
			ASSERT_EQ(0, seen[id]) TH_LOG("ident %lu returned twice", (unsigned long)id);
			seen[id] = 1;
			ASSERT_KEV(user_ev(id, EV_ADD | EV_ONESHOT, 0, 0, U(id + 1)), &ev[i]);
		}
		total += n;
	}
	for (i = 0; i < NPROD; i++) {
		ASSERT_EQ(0, join_within(p[i].thread, NULL, 10000));
		ASSERT_EQ(0, p[i].fails);
	}
	ASSERT_EQ(NPROD * PER_PROD, total);
	ASSERT_NO_EVENT(kq);
	close(kq);
}

/* Several consumers, one producer: every EV_ONESHOT event is seen exactly once. */
#define NCONS 4
#define NEVENTS 400

static atomic_int cons_total;
static atomic_char cons_seen[NEVENTS];
static atomic_int cons_dups, cons_bad;
static volatile int cons_stop;

static void *consumer_fn(void *arg)
{
	int kq = *(int *)arg;
	struct timespec ts = { 0, 100 * 1000000L };
	struct kevent ev[8];
	int n, i;

	while (!cons_stop) {
		n = kevent(kq, NULL, 0, ev, 8, &ts);
		if (n < 0) {
			atomic_fetch_add(&cons_bad, 1);
			break;
		}
		for (i = 0; i < n; i++) {
			struct kevent exp = user_ev(ev[i].ident, EV_ADD | EV_ONESHOT, 0, 0,
						    U(ev[i].ident + 1));

			if (ev[i].ident >= NEVENTS || memcmp(&exp, &ev[i], sizeof(exp))) {
				atomic_fetch_add(&cons_bad, 1);
				continue;
			}
			if (atomic_exchange(&cons_seen[ev[i].ident], 1))
				atomic_fetch_add(&cons_dups, 1);
			atomic_fetch_add(&cons_total, 1);
		}
	}
	return NULL;
}

TEST(consumers_each_event_once)
{
	pthread_t c[NCONS];
	struct kevent ch[2];
	int kq = kq_new(_metadata), i;
	int64_t end;

	watchdog(25);
	for (i = 0; i < NCONS; i++)
		ASSERT_EQ(0, pthread_create(&c[i], NULL, consumer_fn, &kq));
	for (i = 0; i < NEVENTS; i++) {
		ch[0] = kev(i, EVFILT_USER, EV_ADD | EV_ONESHOT, 0, 0, U(i + 1));
		ch[1] = kev(i, EVFILT_USER, 0, NOTE_TRIGGER, 0, U(i + 1));
		kq_apply(_metadata, kq, ch, 2);
	}
	end = now_ms() + 15000;
	while (atomic_load(&cons_total) < NEVENTS && now_ms() < end)
		sleep_ms(10);
	/* give duplicates a chance to show up */
	sleep_ms(300);
	cons_stop = 1;
	for (i = 0; i < NCONS; i++)
		ASSERT_EQ(0, join_within(c[i], NULL, 10000));
	ASSERT_EQ(0, atomic_load(&cons_bad));
	ASSERT_EQ(0, atomic_load(&cons_dups));
	ASSERT_EQ(NEVENTS, atomic_load(&cons_total));
	ASSERT_NO_EVENT(kq);
	close(kq);
}

/*
 * close() of the last descriptor another process has of a kqueue, while
 * this process's threads keep entering kevent() on it: the kqueue stays
 * open here. The module's close check counts the file's references and
 * the calls in flight; read at two moments, a call entering between them
 * made the kqueue look closed to the caller, which then got EBADF for ever
 * (the stress harness found it, right after a fork child's library closed
 * its copy). The child takes a copy with pidfd_getfd() and closes it, over
 * and over, while two threads poll.
 */
#define COPY_ROUNDS 100000

static atomic_int copy_stop, copy_badf, copy_calls;

static void *copy_poller(void *arg)
{
	int kq = *(int *)arg;
	struct kevent ev[2];

	while (!atomic_load(&copy_stop)) {
		if (kevent(kq, NULL, 0, ev, 2, &ts_zero) < 0 && errno == EBADF) {
			atomic_fetch_add(&copy_badf, 1);
			break;
		}
		atomic_fetch_add(&copy_calls, 1);
	}
	return NULL;
}

TEST(close_of_other_process_copy_keeps_kqueue)
{
	int kq = kq_new(_metadata), ppidfd, st, i;
	pthread_t t[2];
	pid_t pid;

	watchdog(110);
	ppidfd = syscall(SYS_pidfd_open, getpid(), 0);
	ASSERT_LE(0, ppidfd) TH_LOG("pidfd_open: %s", strerror(errno));
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, copy_poller, &kq));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		/* The library closed this process's copies at fork: take one each round. */
		for (i = 0; i < COPY_ROUNDS; i++) {
			int fd = syscall(SYS_pidfd_getfd, ppidfd, kq, 0);

			if (fd < 0)
				_exit(2);
			close(fd);
		}
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	atomic_store(&copy_stop, 1);
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, join_within(t[i], NULL, 10000));
	ASSERT_EQ(0, st) TH_LOG("child: pidfd_getfd failed (status %#x)", st);
	TH_LOG("%d kevent() calls during %d closes of a copy", atomic_load(&copy_calls),
	       COPY_ROUNDS);
	ASSERT_EQ(0, atomic_load(&copy_badf))
		TH_LOG("kevent() on our open kqueue failed with EBADF");
	ASSERT_NO_EVENT(kq);
	close(ppidfd);
	close(kq);
}

/*
 * Every wake-up reaches a sleeping waiter: a producer triggers an EV_CLEAR
 * EVFILT_USER knote a random moment after the consumer took the previous
 * event (often while it is on its way to sleep), and triggers again only
 * once the consumer has that event. A lost wake-up stalls both: the
 * consumer's wait times out with the event pending.
 */
#define WAKE_MS 3000
#define WAKE_ROUNDS 500

struct wake_producer {
	pthread_t thread;
	int kq;
	atomic_long taken;
	atomic_int stop;
	long rounds;
	int err;
};

static void *wake_producer_fn(void *arg)
{
	struct wake_producer *p = arg;
	struct kevent c = kev(1, EVFILT_USER, 0, NOTE_TRIGGER, 0, U(1));
	unsigned int seed = 2;

	for (; !atomic_load(&p->stop); p->rounds++) {
		spin_ns(rand_r(&seed) % 50000);
		if (kevent(p->kq, &c, 1, NULL, 0, NULL)) {
			p->err = errno;
			break;
		}
		while (atomic_load(&p->taken) <= p->rounds && !atomic_load(&p->stop))
			;
	}
	return NULL;
}

TEST(wakeups_never_lost)
{
	struct timespec ts = { 3, 0 };
	struct wake_producer p = { 0 };
	struct kevent ev[2];
	int64_t end, t0, took;
	int n;

	watchdog(30);
	p.kq = kq_new(_metadata);
	kq_change(_metadata, p.kq, kev(1, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, U(1)));
	ASSERT_EQ(0, pthread_create(&p.thread, NULL, wake_producer_fn, &p));
	/* WAKE_MS, and on a loaded machine longer, up to WAKE_ROUNDS rounds or 20 s */
	end = now_ms() + WAKE_MS;
	while (now_ms() < end || (p.rounds < WAKE_ROUNDS && now_ms() < end + 20000)) {
		memset(ev, 0, sizeof(ev));
		t0 = now_ms();
		n = kevent(p.kq, NULL, 0, ev, 2, &ts);
		took = now_ms() - t0;
		if (n != 1 || took >= 2000) {
			atomic_store(&p.stop, 1);
			join_within(p.thread, NULL, 10000);
		}
		/* the trigger comes within microseconds: only a lost wake-up sleeps on */
		ASSERT_GT(2000, took) TH_LOG("round %ld: slept %jd ms with the event pending",
					     p.rounds, (intmax_t)took);
		ASSERT_EQ(1, n) TH_LOG("round %ld: kevent returned %d (errno %d)", p.rounds, n,
				       n < 0 ? errno : 0);
		ASSERT_KEV(user_ev(1, EV_ADD | EV_CLEAR, 0, 0, U(1)), &ev[0]);
		atomic_fetch_add(&p.taken, 1);
	}
	atomic_store(&p.stop, 1);
	ASSERT_EQ(0, join_within(p.thread, NULL, 10000));
	ASSERT_EQ(0, p.err);
	ASSERT_LE(WAKE_ROUNDS, p.rounds) TH_LOG("only %ld rounds", p.rounds);
	close(p.kq);
}

/* voluntary_ctxt_switches of thread @tid: how often it slept and was woken. */
static long thread_vcsw(pid_t tid)
{
	char path[64], line[128];
	long n = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/status", tid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "voluntary_ctxt_switches: %ld", &n) == 1)
			break;
	fclose(f);
	return n;
}

/*
 * An event that one delivery consumes wakes one sleeper, not all of them
 * (as epoll's EPOLLEXCLUSIVE): the others never leave their sleep, which
 * their voluntary context switches show.
 */
TEST(consumed_event_wakes_one_sleeper)
{
	enum { N = 4 };
	struct waiter w[N];
	long before[N];
	int kq = kq_new(_metadata), i, winner = -1;

	watchdog(40);
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, U(0x61)));
	for (i = 0; i < N; i++)
		ASSERT_EQ(0, waiter_start(&w[i], kq, 8000));
	for (i = 0; i < N; i++)
		ASSERT_TRUE(waiter_blocked(&w[i]));
	for (i = 0; i < N; i++)
		before[i] = thread_vcsw(w[i].tid);
	kq_change(_metadata, kq, kev(1, EVFILT_USER, 0, NOTE_TRIGGER, 0, U(0x61)));
	/* the winner returns at once; the others sleep on until their timeout */
	for (i = 0; winner < 0 && i < 500; i++) {
		int j;

		sleep_ms(10);
		for (j = 0; j < N; j++)
			if (w[j].ret == 1)
				winner = j;
	}
	ASSERT_LE(0, winner) TH_LOG("no waiter got the event within 5 s");
	sleep_ms(200);
	for (i = 0; i < N; i++) {
		if (i == winner)
			continue;
		ASSERT_EQ(before[i], thread_vcsw(w[i].tid))
			TH_LOG("waiter %d was woken for an event another one took", i);
	}
	for (i = 0; i < N; i++)
		ASSERT_EQ(0, join_within(w[i].thread, NULL, 15000));
	for (i = 0; i < N; i++) {
		if (i == winner) {
			ASSERT_KEV(user_ev(1, EV_ADD | EV_CLEAR, 0, 0, U(0x61)), &w[i].ev[0]);
		} else {
			ASSERT_EQ(0, w[i].ret) TH_LOG("waiter %d: ret %d errno %d",
						      i, w[i].ret, w[i].err);
		}
	}
	close(kq);
}

/*
 * A level-triggered event stays pending after delivery, so every sleeper
 * reports it (as BSD wakes them all): sleepers woken one at a time pass
 * the wake-up on while events are pending.
 */
TEST(pending_event_reaches_every_sleeper)
{
	enum { N = 3 };
	struct waiter w[N];
	int kq = kq_new(_metadata), i;

	watchdog(90);
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD, 0, 0, U(0x62)));
	for (i = 0; i < N; i++)
		ASSERT_EQ(0, waiter_start(&w[i], kq, 60000));
	for (i = 0; i < N; i++)
		ASSERT_TRUE(waiter_blocked(&w[i]));
	kq_change(_metadata, kq, kev(1, EVFILT_USER, 0, NOTE_TRIGGER, 0, U(0x62)));
	/* at once: a sleeper left asleep would report it only at its timeout */
	for (i = 0; i < N; i++)
		ASSERT_EQ(0, join_within(w[i].thread, NULL, 8000))
			TH_LOG("waiter %d still asleep 8 s after the event", i);
	for (i = 0; i < N; i++) {
		ASSERT_EQ(1, w[i].ret) TH_LOG("waiter %d: ret %d errno %d (not woken)",
					      i, w[i].ret, w[i].err);
		ASSERT_KEV(user_ev(1, EV_ADD, 0, 0, U(0x62)), &w[i].ev[0]);
	}
	close(kq);
}

TEST_HARNESS_MAIN
