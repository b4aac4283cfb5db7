// SPDX-License-Identifier: GPL-2.0
/*
 * kqbench: kevent() against epoll, same boot, same pipes, as ratios.
 *
 * For N = 10, 1000, 10000 read ends of pipes:
 *
 *   register  one kevent() call with N EV_ADD|EVFILT_READ changes on a fresh
 *             kqueue, against N epoll_ctl(EPOLL_CTL_ADD, EPOLLIN) calls on a
 *             fresh epoll instance; median over REG_REPS repetitions,
 *             reported per fd.
 *   wait      all N registered (level-triggered), exactly one pipe holding
 *             one unread byte: kevent(kq, NULL, 0, ev, 64, {0, 0}) against
 *             epoll_wait(ep, ev, 64, 0); each call must return exactly that
 *             one event (anything else aborts). Median over WAIT_BLOCKS
 *             blocks of WAIT_ITERS calls, reported per call.
 *   floors    in the same blocks, what each wait costs at least: an ioctl
 *             on the kqueue that returns at once (KQUEUE_IOC_VERSION: every
 *             kevent() is an ioctl) and a system call that does nothing
 *             (getppid); the waits less their floors are each side's own
 *             work.
 *
 * Timers (EVFILT_TIMER against timerfd, same boot):
 *
 *   jitter    a 1 ms periodic timer, TIMER_BLOCKS blocks of TIMER_EXP
 *             expirations each, alternating kqueue and timerfd blocks;
 *             each wake-up's lateness is its time minus the time the last
 *             expiration it reports was due (start + count * period, count
 *             summed from kevent's data / timerfd's read); median and p99,
 *             and the expirations reported more than one at a time (late
 *             enough to miss a period).
 *   idle      cost of IDLE_TIMERS idle timers (period one hour): the time
 *             of one kevent() registering them (per timer) against as many
 *             timerfd_create() + timerfd_settime(), and the 1-of-1-ready
 *             wait above on a kqueue holding them against one without.
 *
 * Then more waits, each in a section of its own after the summary (N = 1000
 * unless said otherwise; every call's events are checked, count and idents):
 *
 *   EV_CLEAR     against EPOLLET: each call writes one byte to the ready
 *                pipe, waits, reads the byte back, so every wait meets a new
 *                edge; that write and read are timed alone too ("re-arm") and
 *                subtracted from both sides.
 *   EV_DISPATCH  against EPOLLONESHOT, the pipe keeping its byte: EV_ENABLE
 *                in the waiting kevent() (one call) or in a kevent() of its
 *                own (two), against EPOLL_CTL_MOD + epoll_wait().
 *   64 ready     level-triggered, an eventlist of 64, every call returns
 *                each of the 64 ready pipes once.
 *   holes        1 of 5000 ready, the read ends at every other descriptor
 *                number and the numbers between closed, against the same
 *                instances with the table dense.
 *   2nd process  the 1-of-N wait in the parent that made the instances, then
 *                in a forked child that got them over SCM_RIGHTS.
 *   8 threads    blocked in one instance (EV_CLEAR / EPOLLET|EPOLLEXCLUSIVE),
 *                events one at a time: events per second and the waiters'
 *                voluntary context switches per event (wake-ups).
 *
 * kqueue and epoll runs alternate (A B A B ...) so that drift hits both.
 * Times come from clock_gettime(CLOCK_MONOTONIC); on a jiffies clocksource
 * they are meaningless and kqbench refuses to run (exit status 3).
 * Under an emulator (QEMU TCG) only the ratios mean anything.
 *
 *   kqbench            run; exit status 0 when the measurement was done
 *   kqbench --force    run even on a jiffies clocksource
 *
 * Built statically against tools/lib/kqueue (make bench, or
 * make -C samples/bench); needs kqueue.ko loaded.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/event.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/kqueue.h>

#include "bench.h"

#define MAX_EVENTS	64
#define WAIT_BLOCKS	21	/* odd, for the median */
#define WAIT_ITERS	5000	/* calls per block */
#define MAX_REPS	301

static const int sizes[] = { 10, 1000, 10000 };
#define NSIZES	(int)(sizeof(sizes) / sizeof(sizes[0]))
#define MAX_N	10000

#define TIMER_PERIOD_NS	1000000LL	/* 1 ms */
#define TIMER_BLOCKS	6
#define TIMER_EXP	250		/* expirations per block */
#define MAX_WAKES	(TIMER_BLOCKS / 2 * TIMER_EXP)
#define IDLE_TIMERS	10000
#define IDLE_REPS	7

/* Repetitions of the registration benchmark: more for the quick ones. */
static int reg_reps(int n)
{
	return n <= 10 ? 301 : n <= 1000 ? 51 : 21;
}

static int rfd[MAX_N], wfd[MAX_N];

static void mismatch(const char *what, int n, int got, long ident, int want)
{
	fprintf(stderr, "kqbench: N=%d: %s returned %d events (first ident %ld), want exactly 1 for fd %d\n",
		n, what, got, ident, want);
	abort();
}

static int is_jiffies(const char *cs)
{
	return strstr(cs, "jiffies") != NULL;
}

/*
 * Right after boot the kernel still runs on tsc-early and switches to the
 * refined tsc a moment later: wait for that (up to 30 s), so that the
 * clock does not change in the middle of the measurement.
 */
static void settle_clocksource(char *cs, size_t len)
{
	int i;

	for (i = 0; i < 300 && !strcmp(cs, "tsc-early"); i++) {
		if (i == 0)
			printf("kqbench: waiting for the TSC calibration (clocksource tsc-early)\n");
		usleep(100000);
		clocksource(cs, len);
	}
}

static void raise_nofile(int need)
{
	struct rlimit rl;
	rlim_t hard;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		die("getrlimit");
	if (rl.rlim_cur >= (rlim_t)need)
		return;
	hard = rl.rlim_max;
	rl.rlim_cur = need;
	if (rl.rlim_max < (rlim_t)need)
		rl.rlim_max = need;
	if (setrlimit(RLIMIT_NOFILE, &rl)) {
		fprintf(stderr, "kqbench: needs %d open files, the hard limit is %llu: "
			"raise it (ulimit -Hn) or run as root\n",
			need, (unsigned long long)hard);
		exit(1);
	}
}

/* --- registration ------------------------------------------------------- */

static double reg_kqueue(int n, struct kevent *ch)
{
	double t0, t1;
	int kq, r;

	kq = kqueue();
	if (kq < 0)
		die("kqueue (is kqueue.ko loaded?)");
	t0 = now_ns();
	r = kevent(kq, ch, n, NULL, 0, NULL);
	t1 = now_ns();
	if (r != 0) {
		fprintf(stderr, "kqbench: N=%d: kevent(EV_ADD x %d) returned %d\n", n, n, r);
		die("kevent");
	}
	close(kq);
	return t1 - t0;
}

static double reg_epoll(int n)
{
	struct epoll_event ev = { .events = EPOLLIN };
	double t0, t1;
	int ep, i;

	ep = epoll_create1(0);
	if (ep < 0)
		die("epoll_create1");
	t0 = now_ns();
	for (i = 0; i < n; i++) {
		ev.data.fd = rfd[i];
		if (epoll_ctl(ep, EPOLL_CTL_ADD, rfd[i], &ev))
			die("epoll_ctl(ADD)");
	}
	t1 = now_ns();
	close(ep);
	return t1 - t0;
}

/* --- wait ----------------------------------------------------------------- */

static double wait_kqueue(int kq, int n, int ready)
{
	static const struct timespec zero;
	struct kevent ev[MAX_EVENTS];
	double t0, t1;
	int i, r;

	t0 = now_ns();
	for (i = 0; i < WAIT_ITERS; i++) {
		r = kevent(kq, NULL, 0, ev, MAX_EVENTS, &zero);
		if (r != 1 || (int)ev[0].ident != ready)
			mismatch("kevent", n, r, r > 0 ? (long)ev[0].ident : -1, ready);
	}
	t1 = now_ns();
	return (t1 - t0) / WAIT_ITERS;
}

static double wait_epoll(int ep, int n, int ready)
{
	struct epoll_event ev[MAX_EVENTS];
	double t0, t1;
	int i, r;

	t0 = now_ns();
	for (i = 0; i < WAIT_ITERS; i++) {
		r = epoll_wait(ep, ev, MAX_EVENTS, 0);
		if (r != 1 || ev[0].data.fd != ready)
			mismatch("epoll_wait", n, r, r > 0 ? (long)ev[0].data.fd : -1, ready);
	}
	t1 = now_ns();
	return (t1 - t0) / WAIT_ITERS;
}

/*
 * The floor under both waits: a system call that does nothing (getppid)
 * under epoll_wait(), an ioctl on the kqueue that returns at once
 * (KQUEUE_IOC_VERSION) under kevent(), which is an ioctl.
 */
static double floor_getppid(void)
{
	double t0, t1;
	int i;

	t0 = now_ns();
	for (i = 0; i < WAIT_ITERS; i++)
		syscall(SYS_getppid);
	t1 = now_ns();
	return (t1 - t0) / WAIT_ITERS;
}

static double floor_ioctl(int kq)
{
	double t0, t1;
	int i;

	t0 = now_ns();
	for (i = 0; i < WAIT_ITERS; i++)
		if (ioctl(kq, KQUEUE_IOC_VERSION) != KQUEUE_ABI_VERSION)
			die("ioctl(KQUEUE_IOC_VERSION)");
	t1 = now_ns();
	return (t1 - t0) / WAIT_ITERS;
}

/* --- one N ------------------------------------------------------------------ */

struct result {
	int n;
	double reg_kq, reg_ep;		/* ns per fd */
	double wait_kq, wait_ep;	/* ns per call */
	double floor_ioctl, floor_sys;	/* ns per call, in the same blocks */
};

static void bench(int n, struct kevent *ch, struct result *res)
{
	double kq_t[MAX_REPS], ep_t[MAX_REPS], io_t[WAIT_BLOCKS], sys_t[WAIT_BLOCKS];
	struct epoll_event eev = { .events = EPOLLIN };
	int reps = reg_reps(n), ready = n / 2;
	int i, kq, ep;

	for (i = 0; i < n; i++) {
		int p[2];

		if (pipe2(p, O_CLOEXEC))
			die("pipe2");
		rfd[i] = p[0];
		wfd[i] = p[1];
		EV_SET(&ch[i], rfd[i], EVFILT_READ, EV_ADD, 0, 0, NULL);
	}
	res->n = n;

	/* Registration: one warm-up round each, then A B A B ... */
	reg_kqueue(n, ch);
	reg_epoll(n);
	for (i = 0; i < reps; i++) {
		kq_t[i] = reg_kqueue(n, ch) / n;
		ep_t[i] = reg_epoll(n) / n;
	}
	res->reg_kq = median(kq_t, reps);
	res->reg_ep = median(ep_t, reps);

	/* Wait: everything registered, one pipe readable. */
	kq = kqueue();
	if (kq < 0)
		die("kqueue");
	if (kevent(kq, ch, n, NULL, 0, NULL) != 0)
		die("kevent(EV_ADD)");
	ep = epoll_create1(0);
	if (ep < 0)
		die("epoll_create1");
	for (i = 0; i < n; i++) {
		eev.data.fd = rfd[i];
		if (epoll_ctl(ep, EPOLL_CTL_ADD, rfd[i], &eev))
			die("epoll_ctl(ADD)");
	}
	if (write(wfd[ready], "x", 1) != 1)
		die("write");
	wait_kqueue(kq, n, rfd[ready]);
	wait_epoll(ep, n, rfd[ready]);
	for (i = 0; i < WAIT_BLOCKS; i++) {
		kq_t[i] = wait_kqueue(kq, n, rfd[ready]);
		ep_t[i] = wait_epoll(ep, n, rfd[ready]);
		io_t[i] = floor_ioctl(kq);
		sys_t[i] = floor_getppid();
	}
	res->wait_kq = median(kq_t, WAIT_BLOCKS);
	res->wait_ep = median(ep_t, WAIT_BLOCKS);
	res->floor_ioctl = median(io_t, WAIT_BLOCKS);
	res->floor_sys = median(sys_t, WAIT_BLOCKS);

	close(kq);
	close(ep);
	for (i = 0; i < n; i++) {
		close(rfd[i]);
		close(wfd[i]);
	}
}

/* --- timers --------------------------------------------------------------- */

struct jitter {
	double late[MAX_WAKES];	/* ns */
	int wakes;
	long missed;		/* expirations reported more than one at a time */
};

/* One block of TIMER_EXP expirations of a 1 ms EVFILT_TIMER. */
static void jitter_kqueue(struct jitter *j)
{
	struct kevent ch, ev;
	long long count = 0;
	double start;
	int kq = kqueue();

	if (kq < 0)
		die("kqueue");
	EV_SET(&ch, 1, EVFILT_TIMER, EV_ADD, NOTE_NSECONDS, TIMER_PERIOD_NS, NULL);
	start = now_ns();
	if (kevent(kq, &ch, 1, NULL, 0, NULL))
		die("kevent(EVFILT_TIMER)");
	while (count < TIMER_EXP) {
		if (kevent(kq, NULL, 0, &ev, 1, NULL) != 1)
			die("kevent(wait timer)");
		count += ev.data;
		j->missed += ev.data - 1;
		j->late[j->wakes++] = now_ns() - (start + count * TIMER_PERIOD_NS);
	}
	close(kq);
}

/* The same with a timerfd. */
static void jitter_timerfd(struct jitter *j)
{
	struct itimerspec its = {
		{ 0, TIMER_PERIOD_NS }, { 0, TIMER_PERIOD_NS }
	};
	long long count = 0;
	uint64_t n;
	double start;
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);

	if (fd < 0)
		die("timerfd_create");
	start = now_ns();
	if (timerfd_settime(fd, 0, &its, NULL))
		die("timerfd_settime");
	while (count < TIMER_EXP) {
		if (read(fd, &n, sizeof(n)) != sizeof(n))
			die("read(timerfd)");
		count += n;
		j->missed += n - 1;
		j->late[j->wakes++] = now_ns() - (start + count * TIMER_PERIOD_NS);
	}
	close(fd);
}

static double pct(double *v, int n, int p)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return v[(long)n * p / 100 < n ? (long)n * p / 100 : n - 1];
}

/* Registration of IDLE_TIMERS idle timers, ns per timer: kevent, then timerfd. */
static void idle_register(double *kq_ns, double *tfd_ns)
{
	static struct kevent ch[IDLE_TIMERS];
	static int fds[IDLE_TIMERS];
	struct itimerspec its = { { 3600, 0 }, { 3600, 0 } };
	double t0, t1;
	int i, kq;

	for (i = 0; i < IDLE_TIMERS; i++)
		EV_SET(&ch[i], i, EVFILT_TIMER, EV_ADD, NOTE_SECONDS, 3600, NULL);
	kq = kqueue();
	if (kq < 0)
		die("kqueue");
	t0 = now_ns();
	if (kevent(kq, ch, IDLE_TIMERS, NULL, 0, NULL))
		die("kevent(EV_ADD timers)");
	t1 = now_ns();
	*kq_ns = (t1 - t0) / IDLE_TIMERS;
	close(kq);

	t0 = now_ns();
	for (i = 0; i < IDLE_TIMERS; i++) {
		fds[i] = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
		if (fds[i] < 0 || timerfd_settime(fds[i], 0, &its, NULL))
			die("timerfd");
	}
	t1 = now_ns();
	*tfd_ns = (t1 - t0) / IDLE_TIMERS;
	for (i = 0; i < IDLE_TIMERS; i++)
		close(fds[i]);
}

/*
 * The 1-of-1-ready wait (ns per call) on a kqueue with IDLE_TIMERS idle
 * timers and on one without, alternating.
 */
static void idle_wait(double *with, double *without)
{
	static struct kevent ch[IDLE_TIMERS];
	double a[WAIT_BLOCKS], b[WAIT_BLOCKS];
	struct kevent rd;
	int p[2], kq_t, kq_0, i;

	if (pipe2(p, O_CLOEXEC) || write(p[1], "x", 1) != 1)
		die("pipe");
	EV_SET(&rd, p[0], EVFILT_READ, EV_ADD, 0, 0, NULL);
	for (i = 0; i < IDLE_TIMERS; i++)
		EV_SET(&ch[i], 100000 + i, EVFILT_TIMER, EV_ADD, NOTE_SECONDS, 3600, NULL);
	kq_t = kqueue();
	kq_0 = kqueue();
	if (kq_t < 0 || kq_0 < 0)
		die("kqueue");
	if (kevent(kq_t, ch, IDLE_TIMERS, NULL, 0, NULL) ||
	    kevent(kq_t, &rd, 1, NULL, 0, NULL) || kevent(kq_0, &rd, 1, NULL, 0, NULL))
		die("kevent(EV_ADD)");
	wait_kqueue(kq_t, IDLE_TIMERS, p[0]);
	wait_kqueue(kq_0, 0, p[0]);
	for (i = 0; i < WAIT_BLOCKS; i++) {
		a[i] = wait_kqueue(kq_t, IDLE_TIMERS, p[0]);
		b[i] = wait_kqueue(kq_0, 0, p[0]);
	}
	*with = median(a, WAIT_BLOCKS);
	*without = median(b, WAIT_BLOCKS);
	close(kq_t);
	close(kq_0);
	close(p[0]);
	close(p[1]);
}

static void bench_timers(void)
{
	static struct jitter jk, jt;
	double reg_kq[IDLE_REPS], reg_tfd[IDLE_REPS], with, without;
	int i;

	for (i = 0; i < TIMER_BLOCKS / 2; i++) {
		jitter_kqueue(&jk);
		jitter_timerfd(&jt);
	}
	printf("\ntimer jitter: 1 ms periodic, %d expirations each, lateness of each wake-up (us)\n",
	       TIMER_BLOCKS / 2 * TIMER_EXP);
	printf("%14s %10s %10s %10s %10s\n", "", "median", "p99", "wake-ups", "missed");
	printf("%14s %10.1f %10.1f %10d %10ld\n", "EVFILT_TIMER",
	       pct(jk.late, jk.wakes, 50) / 1e3, pct(jk.late, jk.wakes, 99) / 1e3,
	       jk.wakes, jk.missed);
	printf("%14s %10.1f %10.1f %10d %10ld\n", "timerfd",
	       pct(jt.late, jt.wakes, 50) / 1e3, pct(jt.late, jt.wakes, 99) / 1e3,
	       jt.wakes, jt.missed);

	for (i = 0; i < IDLE_REPS; i++)
		idle_register(&reg_kq[i], &reg_tfd[i]);
	idle_wait(&with, &without);
	printf("\n%d idle timers (period 1 h)\n", IDLE_TIMERS);
	printf("  registration, ns per timer (median of %d): kevent %.0f, timerfd_create+settime %.0f\n",
	       IDLE_REPS, median(reg_kq, IDLE_REPS), median(reg_tfd, IDLE_REPS));
	printf("  1-of-1-ready kevent() wait, ns per call: with them %.0f, without %.0f (%.2fx)\n",
	       with, without, with / without);
}

/* --- more waits: EV_CLEAR, EV_DISPATCH, 64 ready, a table with holes ------- */

#define CASE_N		1000	/* pipes registered in the EV_CLEAR/DISPATCH/64 cases */
#define MANY		64	/* ready pipes, and the eventlist, of the 64-of-N wait */
#define MANY_ITERS	500	/* calls per block of the 64-of-N wait */
#define HOLES_N		5000	/* pipes of the table with holes */
#define MAX_FD		65536

static const struct timespec zero_ts;

/* A registered set of pipes: kqueue and epoll instances watching the read ends. */
struct pipeset {
	pipe_ends *p;
	int n, kq, ep;
};

static void pipeset_open(struct pipeset *s, int n, unsigned short kq_flags,
			 unsigned int ep_events)
{
	struct epoll_event eev = { .events = ep_events };
	struct kevent ch;
	int i;

	s->n = n;
	s->p = open_pipes(n);
	s->kq = kqueue();
	s->ep = epoll_create1(EPOLL_CLOEXEC);
	if (s->kq < 0 || s->ep < 0)
		die("kqueue/epoll_create1");
	for (i = 0; i < n; i++) {
		EV_SET(&ch, s->p[i][0], EVFILT_READ, EV_ADD | kq_flags, 0, 0, NULL);
		eev.data.fd = s->p[i][0];
		if (kevent(s->kq, &ch, 1, NULL, 0, NULL) ||
		    epoll_ctl(s->ep, EPOLL_CTL_ADD, s->p[i][0], &eev))
			die("register");
	}
}

static void pipeset_close(struct pipeset *s)
{
	close(s->kq);
	close(s->ep);
	close_pipes(s->p, s->n);
}

/* kevent() with no changes and timeout {0, 0} must return exactly @fd. */
static inline void kq_want1(const char *what, int kq, int fd)
{
	struct kevent ev[MAX_EVENTS];
	int r = kevent(kq, NULL, 0, ev, MAX_EVENTS, &zero_ts);

	if (r != 1 || (int)ev[0].ident != fd)
		mismatch(what, CASE_N, r, r > 0 ? (long)ev[0].ident : -1, fd);
}

static inline void ep_want1(const char *what, int ep, int fd)
{
	struct epoll_event ev[MAX_EVENTS];
	int r = epoll_wait(ep, ev, MAX_EVENTS, 0);

	if (r != 1 || ev[0].data.fd != fd)
		mismatch(what, CASE_N, r, r > 0 ? (long)ev[0].data.fd : -1, fd);
}

/*
 * EV_CLEAR against EPOLLET: each call is write one byte, wait, read it
 * back, so that every wait meets a fresh edge and returns exactly one
 * event; the write and the read are the same on both sides, and
 * rearm_only() times them alone.
 */
static double clear_kqueue(struct pipeset *s, int i)
{
	int rd = s->p[i][0], wr = s->p[i][1];
	double t0 = now_ns();

	for (int k = 0; k < WAIT_ITERS; k++) {
		put_byte(wr);
		kq_want1("kevent(EV_CLEAR)", s->kq, rd);
		take_byte(rd);
	}
	return (now_ns() - t0) / WAIT_ITERS;
}

static double clear_epoll(struct pipeset *s, int i)
{
	int rd = s->p[i][0], wr = s->p[i][1];
	double t0 = now_ns();

	for (int k = 0; k < WAIT_ITERS; k++) {
		put_byte(wr);
		ep_want1("epoll_wait(EPOLLET)", s->ep, rd);
		take_byte(rd);
	}
	return (now_ns() - t0) / WAIT_ITERS;
}

static double rearm_only(struct pipeset *s, int i)
{
	int rd = s->p[i][0], wr = s->p[i][1];
	double t0 = now_ns();

	for (int k = 0; k < WAIT_ITERS; k++) {
		put_byte(wr);
		take_byte(rd);
	}
	return (now_ns() - t0) / WAIT_ITERS;
}

/*
 * EV_DISPATCH against EPOLLONESHOT, both level-triggered, the pipe holding
 * its byte throughout: each wait re-enables the event the previous one
 * disabled. kqueue: EV_ENABLE in the changelist of the waiting kevent()
 * (one call, the API's idiom) or in a kevent() of its own (two calls, as
 * epoll needs); epoll: EPOLL_CTL_MOD then epoll_wait().
 */
static double dispatch_kqueue(struct pipeset *s, int i, int two_calls)
{
	struct kevent ev[MAX_EVENTS], en;
	int rd = s->p[i][0], r;
	double t0;

	EV_SET(&en, rd, EVFILT_READ, EV_ENABLE, 0, 0, NULL);
	t0 = now_ns();
	for (int k = 0; k < WAIT_ITERS; k++) {
		if (two_calls) {
			if (kevent(s->kq, &en, 1, NULL, 0, NULL))
				die("kevent(EV_ENABLE)");
			r = kevent(s->kq, NULL, 0, ev, MAX_EVENTS, &zero_ts);
		} else {
			r = kevent(s->kq, &en, 1, ev, MAX_EVENTS, &zero_ts);
		}
		if (r != 1 || (int)ev[0].ident != rd)
			mismatch("kevent(EV_DISPATCH)", CASE_N, r,
				 r > 0 ? (long)ev[0].ident : -1, rd);
	}
	return (now_ns() - t0) / WAIT_ITERS;
}

static double dispatch_epoll(struct pipeset *s, int i)
{
	struct epoll_event mod = { .events = EPOLLIN | EPOLLONESHOT };
	int rd = s->p[i][0];
	double t0;

	mod.data.fd = rd;
	t0 = now_ns();
	for (int k = 0; k < WAIT_ITERS; k++) {
		if (epoll_ctl(s->ep, EPOLL_CTL_MOD, rd, &mod))
			die("epoll_ctl(MOD)");
		ep_want1("epoll_wait(EPOLLONESHOT)", s->ep, rd);
	}
	return (now_ns() - t0) / WAIT_ITERS;
}

/* A wait with timeout {0, 0} that must return nothing (the sanity checks). */
static void want_none(struct pipeset *s, const char *what)
{
	struct kevent kev[MAX_EVENTS];
	struct epoll_event eev[MAX_EVENTS];
	int k = kevent(s->kq, NULL, 0, kev, MAX_EVENTS, &zero_ts);
	int e = epoll_wait(s->ep, eev, MAX_EVENTS, 0);

	if (k || e) {
		fprintf(stderr, "kqbench: %s: kevent %d, epoll_wait %d events, want none\n",
			what, k, e);
		abort();
	}
}

struct edge_result {
	double clear_kq, clear_ep, rearm;
	double disp_kq1, disp_kq2, disp_ep;
};

static void bench_clear(struct edge_result *res)
{
	double kq_t[WAIT_BLOCKS], ep_t[WAIT_BLOCKS], re_t[WAIT_BLOCKS];
	struct pipeset s;
	int i, ready = CASE_N / 2;

	pipeset_open(&s, CASE_N, EV_CLEAR, EPOLLIN | EPOLLET);
	/* Edge-triggered for real: a second wait before the read finds nothing. */
	put_byte(s.p[ready][1]);
	kq_want1("kevent(EV_CLEAR)", s.kq, s.p[ready][0]);
	ep_want1("epoll_wait(EPOLLET)", s.ep, s.p[ready][0]);
	want_none(&s, "EV_CLEAR/EPOLLET, event already reported");
	take_byte(s.p[ready][0]);
	clear_kqueue(&s, ready);
	clear_epoll(&s, ready);
	for (i = 0; i < WAIT_BLOCKS; i++) {
		kq_t[i] = clear_kqueue(&s, ready);
		ep_t[i] = clear_epoll(&s, ready);
		re_t[i] = rearm_only(&s, ready);
	}
	res->clear_kq = median(kq_t, WAIT_BLOCKS);
	res->clear_ep = median(ep_t, WAIT_BLOCKS);
	res->rearm = median(re_t, WAIT_BLOCKS);
	pipeset_close(&s);
}

static void bench_dispatch(struct edge_result *res)
{
	double k1[WAIT_BLOCKS], k2[WAIT_BLOCKS], ep_t[WAIT_BLOCKS];
	struct pipeset s;
	int i, ready = CASE_N / 2;

	pipeset_open(&s, CASE_N, EV_DISPATCH, EPOLLIN | EPOLLONESHOT);
	/* Disabled once reported: a second wait without re-enabling finds nothing. */
	put_byte(s.p[ready][1]);
	kq_want1("kevent(EV_DISPATCH)", s.kq, s.p[ready][0]);
	ep_want1("epoll_wait(EPOLLONESHOT)", s.ep, s.p[ready][0]);
	want_none(&s, "EV_DISPATCH/EPOLLONESHOT, event already reported");
	dispatch_kqueue(&s, ready, 0);
	dispatch_kqueue(&s, ready, 1);
	dispatch_epoll(&s, ready);
	for (i = 0; i < WAIT_BLOCKS; i++) {
		k1[i] = dispatch_kqueue(&s, ready, 0);
		k2[i] = dispatch_kqueue(&s, ready, 1);
		ep_t[i] = dispatch_epoll(&s, ready);
	}
	res->disp_kq1 = median(k1, WAIT_BLOCKS);
	res->disp_kq2 = median(k2, WAIT_BLOCKS);
	res->disp_ep = median(ep_t, WAIT_BLOCKS);
	pipeset_close(&s);
}

static void print_edge(const struct edge_result *r)
{
	double kq = r->clear_kq - r->rearm, ep = r->clear_ep - r->rearm;

	printf("\nwait, 1 of %d ready, EV_CLEAR vs EPOLLET (ns per call, median of %d blocks of %d):\n"
	       "each call writes a byte, waits, reads it; \"re-arm\" is the write and read alone\n",
	       CASE_N, WAIT_BLOCKS, WAIT_ITERS);
	printf("%12s %12s %12s %10s %12s %12s %10s\n", "re-arm", "kqueue", "epoll",
	       "kq/epoll", "kq-re-arm", "ep-re-arm", "kq/epoll");
	printf("%12.0f %12.0f %12.0f %10.2f %12.0f %12.0f %10.2f\n", r->rearm,
	       r->clear_kq, r->clear_ep, r->clear_kq / r->clear_ep, kq, ep, kq / ep);
	printf("\nwait, 1 of %d ready, EV_DISPATCH vs EPOLLONESHOT, re-enabled each call\n"
	       "(ns per call, median of %d blocks of %d): kqueue EV_ENABLE in the waiting\n"
	       "kevent() (1 call) or in a kevent() of its own (2 calls), epoll EPOLL_CTL_MOD + epoll_wait\n",
	       CASE_N, WAIT_BLOCKS, WAIT_ITERS);
	printf("%12s %12s %12s %12s %12s\n", "kq 1 call", "kq 2 calls", "epoll",
	       "kq1/epoll", "kq2/epoll");
	printf("%12.0f %12.0f %12.0f %12.2f %12.2f\n", r->disp_kq1, r->disp_kq2,
	       r->disp_ep, r->disp_kq1 / r->disp_ep, r->disp_kq2 / r->disp_ep);
}

/*
 * 64 of N ready: every call must return each of the MANY ready pipes
 * exactly once. want[fd] marks them; seen[fd] holds the number of the last
 * call that returned fd, so a duplicate shows without clearing anything.
 */
static unsigned char want[MAX_FD];
static unsigned int seen[MAX_FD];
static unsigned int call_no;

static inline int take_fd(long fd)
{
	if (fd < 0 || fd >= MAX_FD || !want[fd] || seen[fd] == call_no)
		return 0;
	seen[fd] = call_no;
	return 1;
}

static void many_mismatch(const char *what, int r, long fd)
{
	fprintf(stderr, "kqbench: %s: %d events (bad or repeated ident %ld), want the %d ready pipes once each\n",
		what, r, fd, MANY);
	abort();
}

static double many_kqueue(int kq)
{
	struct kevent ev[MANY];
	double t0 = now_ns();
	int r, j;

	for (int k = 0; k < MANY_ITERS; k++) {
		r = kevent(kq, NULL, 0, ev, MANY, &zero_ts);
		call_no++;
		for (j = 0; j < r && take_fd(ev[j].ident); j++)
			;
		if (r != MANY || j != r)
			many_mismatch("kevent", r, j < r ? (long)ev[j].ident : -1);
	}
	return (now_ns() - t0) / MANY_ITERS;
}

static double many_epoll(int ep)
{
	struct epoll_event ev[MANY];
	double t0 = now_ns();
	int r, j;

	for (int k = 0; k < MANY_ITERS; k++) {
		r = epoll_wait(ep, ev, MANY, 0);
		call_no++;
		for (j = 0; j < r && take_fd(ev[j].data.fd); j++)
			;
		if (r != MANY || j != r)
			many_mismatch("epoll_wait", r, j < r ? (long)ev[j].data.fd : -1);
	}
	return (now_ns() - t0) / MANY_ITERS;
}

static void bench_many(double *kq, double *ep)
{
	double kq_t[WAIT_BLOCKS], ep_t[WAIT_BLOCKS];
	struct pipeset s;
	int i;

	pipeset_open(&s, CASE_N, 0, EPOLLIN);
	for (i = 0; i < MANY; i++) {
		int *p = s.p[i * CASE_N / MANY];

		if (p[0] >= MAX_FD)
			die("fd beyond MAX_FD");
		put_byte(p[1]);
		want[p[0]] = 1;
	}
	many_kqueue(s.kq);
	many_epoll(s.ep);
	for (i = 0; i < WAIT_BLOCKS; i++) {
		kq_t[i] = many_kqueue(s.kq);
		ep_t[i] = many_epoll(s.ep);
	}
	*kq = median(kq_t, WAIT_BLOCKS);
	*ep = median(ep_t, WAIT_BLOCKS);
	memset(want, 0, sizeof(want));
	pipeset_close(&s);
}

/*
 * A table with holes: HOLES_N pipes registered, their read ends at every
 * other descriptor number of a range of 2 x HOLES_N, the numbers between
 * them closed (the write ends moved above the range), one pipe ready. The
 * same kqueue and epoll instances are measured first with the table dense
 * (read and write ends alternating, as pipe2() made them), then with the
 * holes, so only the fd table differs.
 */
static void make_holes(struct pipeset *s)
{
	int i, above = s->p[s->n - 1][1] + 1;

	for (i = 0; i < s->n; i++) {
		int w = fcntl(s->p[i][1], F_DUPFD_CLOEXEC, above);

		if (w < 0)
			die("fcntl(F_DUPFD)");
		close(s->p[i][1]);
		s->p[i][1] = w;
	}
}

/* Median ns per 1-of-n wait of @s's kqueue and epoll, alternating. */
static void wait_pair(struct pipeset *s, int ready, double *kq, double *ep)
{
	double kq_t[WAIT_BLOCKS], ep_t[WAIT_BLOCKS];
	int rd = s->p[ready][0];

	wait_kqueue(s->kq, s->n, rd);
	wait_epoll(s->ep, s->n, rd);
	for (int i = 0; i < WAIT_BLOCKS; i++) {
		kq_t[i] = wait_kqueue(s->kq, s->n, rd);
		ep_t[i] = wait_epoll(s->ep, s->n, rd);
	}
	*kq = median(kq_t, WAIT_BLOCKS);
	*ep = median(ep_t, WAIT_BLOCKS);
}

struct holes_result {
	int span, closed;
	double dense_kq, dense_ep, holes_kq, holes_ep;
};

static void bench_holes(struct holes_result *res)
{
	struct pipeset s;
	int ready = HOLES_N / 2, lo, i;

	pipeset_open(&s, HOLES_N, 0, EPOLLIN);
	put_byte(s.p[ready][1]);
	wait_pair(&s, ready, &res->dense_kq, &res->dense_ep);
	make_holes(&s);
	lo = s.p[0][0];
	res->span = s.p[s.n - 1][0] - lo + 1;
	for (res->closed = 0, i = lo; i < lo + res->span; i++)
		res->closed += fcntl(i, F_GETFD) < 0;
	wait_pair(&s, ready, &res->holes_kq, &res->holes_ep);
	pipeset_close(&s);
}

static void print_holes(const struct holes_result *r, double many_kq, double many_ep)
{
	printf("\nwait, %d of %d ready, eventlist of %d (ns per call, median of %d blocks of %d)\n",
	       MANY, CASE_N, MANY, WAIT_BLOCKS, MANY_ITERS);
	printf("%12s %12s %10s\n", "kqueue", "epoll", "kq/epoll");
	printf("%12.0f %12.0f %10.2f\n", many_kq, many_ep, many_kq / many_ep);
	printf("\nwait, 1 of %d ready, read ends at every other descriptor of %d, %d closed between them,\n"
	       "against the same instances with the table dense (ns per call, median of %d blocks of %d)\n",
	       HOLES_N, r->span, r->closed, WAIT_BLOCKS, WAIT_ITERS);
	printf("%8s %12s %12s %10s\n", "table", "kqueue", "epoll", "kq/epoll");
	printf("%8s %12.0f %12.0f %10.2f\n", "dense", r->dense_kq, r->dense_ep,
	       r->dense_kq / r->dense_ep);
	printf("%8s %12.0f %12.0f %10.2f\n", "holes", r->holes_kq, r->holes_ep,
	       r->holes_kq / r->holes_ep);
}

/* --- 8 threads blocked on one instance, events one at a time ------------- */

#define WAITERS		8
#define HERD_PIPES	64
#define HERD_EVENTS	1000	/* events per round */
#define HERD_ROUNDS	3	/* rounds per mechanism, alternating */
#define HERD_SETTLED	200	/* events of the round with every waiter asleep */

/*
 * WAITERS threads block (no timeout) in kevent() or epoll_wait() on one
 * instance watching HERD_PIPES pipes. A writer writes one byte to the next
 * pipe, and blocks reading the ack pipe until the waiter that got the event
 * has read the byte and written the ack; then the next. kqueue registers
 * the pipes EV_CLEAR, epoll EPOLLIN | EPOLLET | EPOLLEXCLUSIVE: each write
 * is one edge, reported once, as epoll reports it (level-triggered, epoll
 * would report the pipe again to every waiter it woke until the byte was
 * read). A stop pipe, level-triggered in both, ends the round: every
 * waiter sees it and returns.
 *
 * Wake-ups cannot be seen from userspace (a waiter woken for an event
 * another one took goes back to sleep in the kernel), so each waiter
 * counts its voluntary context switches (getrusage(RUSAGE_THREAD)) from
 * before its first wait to the stop event; every sleep in a wait that
 * ended is a wake-up. Less the stop's wake-up of each waiter, summed over
 * the waiters and divided by the events. The writer's own sleeps are not
 * counted.
 *
 * A waiter that is still runnable when the next wake-up comes is not woken
 * again, and one still running takes the next event without sleeping, so
 * with events back to back the count is a lower bound. A last, settled,
 * round of HERD_SETTLED events per mechanism waits before each write until
 * every waiter sleeps (state S in /proc/self/task/TID/stat): there each
 * sleeper the event wakes counts once. It is not timed.
 */
struct herd {
	struct pipeset s;
	int use_kq, stop_rd, stop_wr, ack_rd, ack_wr;
	pid_t tid[WAITERS];
	atomic_int expect;	/* read end the writer wrote last */
	atomic_int started;
	atomic_long events, nvcsw;
};

static long thread_nvcsw(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_THREAD, &ru))
		die("getrusage");
	return ru.ru_nvcsw;
}

static void herd_mismatch(const char *what, int r, long ident, int want)
{
	fprintf(stderr, "kqbench: herd: %s returned %d events (ident %ld), want exactly 1 for fd %d\n",
		what, r, ident, want);
	abort();
}

/* One blocking wait: the fd reported, or -1 for the stop pipe. */
static int herd_wait(struct herd *h)
{
	struct kevent kev[WAITERS];
	struct epoll_event eev[WAITERS];
	long fd;
	int r;

	if (h->use_kq) {
		r = kevent(h->s.kq, NULL, 0, kev, WAITERS, NULL);
		fd = r > 0 ? (long)kev[0].ident : -1;
	} else {
		r = epoll_wait(h->s.ep, eev, WAITERS, -1);
		fd = r > 0 ? eev[0].data.fd : -1;
	}
	if (r == 1 && fd == h->stop_rd)
		return -1;
	if (r != 1 || fd != atomic_load(&h->expect))
		herd_mismatch(h->use_kq ? "kevent" : "epoll_wait", r, fd,
			      atomic_load(&h->expect));
	return fd;
}

static void *herd_waiter(void *arg)
{
	struct herd *h = arg;
	long start, events = 0;
	int fd;

	start = thread_nvcsw();
	h->tid[atomic_fetch_add(&h->started, 1)] = gettid();
	while ((fd = herd_wait(h)) >= 0) {
		/* Non-blocking: a second report of the same byte fails here. */
		take_byte(fd);
		events++;
		put_byte(h->ack_wr);
	}
	atomic_fetch_add(&h->nvcsw, thread_nvcsw() - start - 1);
	atomic_fetch_add(&h->events, events);
	return NULL;
}

/* Whether thread @tid of this process is asleep (state S). */
static int asleep(pid_t tid)
{
	char path[64], buf[512], *p;
	int fd, len;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("open(/proc/self/task/TID/stat)");
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		die("read(/proc/self/task/TID/stat)");
	buf[len] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] == 'S';
}

static void wait_all_asleep(struct herd *h)
{
	for (int i = 0; i < WAITERS; i++)
		while (!asleep(h->tid[i]))
			usleep(100);
}

/*
 * One round of @events events: ns per event; adds the waiters' wake-ups to
 * *@wakes. @settled: each write waits until every waiter sleeps.
 */
static double herd_round(struct herd *h, int use_kq, int events, int settled,
			 long *wakes)
{
	pthread_t t[WAITERS];
	double t0, t1;
	int i;

	h->use_kq = use_kq;
	atomic_store(&h->started, 0);
	atomic_store(&h->events, 0);
	atomic_store(&h->nvcsw, 0);
	for (i = 0; i < WAITERS; i++)
		if (pthread_create(&t[i], NULL, herd_waiter, h))
			die("pthread_create");
	while (atomic_load(&h->started) < WAITERS)
		usleep(1000);
	usleep(20000);		/* let them all block */
	t0 = now_ns();
	for (i = 0; i < events; i++) {
		int *p = h->s.p[i % HERD_PIPES];

		if (settled)
			wait_all_asleep(h);
		atomic_store(&h->expect, p[0]);
		put_byte(p[1]);
		take_byte(h->ack_rd);
	}
	t1 = now_ns();
	put_byte(h->stop_wr);
	for (i = 0; i < WAITERS; i++)
		pthread_join(t[i], NULL);
	take_byte(h->stop_rd);
	if (atomic_load(&h->events) != events) {
		fprintf(stderr, "kqbench: herd: waiters took %ld events, want %d\n",
			atomic_load(&h->events), events);
		abort();
	}
	*wakes += atomic_load(&h->nvcsw);
	return (t1 - t0) / events;
}

static void herd_open(struct herd *h)
{
	struct epoll_event eev = { .events = EPOLLIN };
	struct kevent ch;
	int p[2], i;

	pipeset_open(&h->s, HERD_PIPES, EV_CLEAR, EPOLLIN | EPOLLET | EPOLLEXCLUSIVE);
	for (i = 0; i < HERD_PIPES; i++)
		if (fcntl(h->s.p[i][0], F_SETFL, O_NONBLOCK))
			die("fcntl(O_NONBLOCK)");
	if (pipe2(p, O_CLOEXEC))
		die("pipe2");
	h->stop_rd = p[0];
	h->stop_wr = p[1];
	if (pipe2(p, O_CLOEXEC))
		die("pipe2");
	h->ack_rd = p[0];
	h->ack_wr = p[1];
	EV_SET(&ch, h->stop_rd, EVFILT_READ, EV_ADD, 0, 0, NULL);
	eev.data.fd = h->stop_rd;
	if (kevent(h->s.kq, &ch, 1, NULL, 0, NULL) ||
	    epoll_ctl(h->s.ep, EPOLL_CTL_ADD, h->stop_rd, &eev))
		die("register stop pipe");
}

/* The rounds of one mechanism: ns per event, wake-ups back to back and settled. */
struct herd_stats {
	double t[HERD_ROUNDS];
	long wakes, settled;
};

static void herd_row(const char *name, const char *cpus, struct herd_stats *st)
{
	double t = median(st->t, HERD_ROUNDS);

	printf("%20s %5s %10.0f %12.0f %10.2f %10.2f\n", name, cpus, 1e9 / t, t,
	       (double)st->wakes / (HERD_ROUNDS * HERD_EVENTS),
	       (double)st->settled / HERD_SETTLED);
}

/* kqueue and epoll rounds, alternating, then a settled round of each. */
static void herd_measure(struct herd *h, const char *cpus)
{
	struct herd_stats kq = { 0 }, ep = { 0 };
	int i;

	for (i = 0; i < HERD_ROUNDS; i++) {
		kq.t[i] = herd_round(h, 1, HERD_EVENTS, 0, &kq.wakes);
		ep.t[i] = herd_round(h, 0, HERD_EVENTS, 0, &ep.wakes);
	}
	herd_round(h, 1, HERD_SETTLED, 1, &kq.settled);
	herd_round(h, 0, HERD_SETTLED, 1, &ep.settled);
	herd_row("kqueue EV_CLEAR", cpus, &kq);
	herd_row("epoll ET|EXCLUSIVE", cpus, &ep);
	printf("%20s %5s %10.2f (time)\n", "kq/epoll", cpus,
	       median(kq.t, HERD_ROUNDS) / median(ep.t, HERD_ROUNDS));
}

/*
 * On CPU 0 alone (where kqbench runs), then on every CPU: on one CPU each
 * needless wake-up takes its time from the others; on two, a busy CPU is
 * also one that needs no wake-up from idle, which can hide or even reverse
 * that cost in the time.
 */
static void bench_herd(void)
{
	static struct herd h;
	cpu_set_t all, one;
	int i;

	printf("\n%d threads blocked in one instance, %d pipes, one event at a time (%d rounds of %d);\n"
	       "wake-ups: the waiters' voluntary context switches per event, with events back to\n"
	       "back and \"settled\": %d more, each written once every waiter sleeps (not timed)\n",
	       WAITERS, HERD_PIPES, HERD_ROUNDS, HERD_EVENTS, HERD_SETTLED);
	printf("%20s %5s %10s %12s %10s %10s\n", "", "CPUs", "events/s", "ns per event",
	       "wake-ups", "settled");
	herd_open(&h);
	herd_measure(&h, "1");
	sched_getaffinity(0, sizeof(one), &one);
	CPU_ZERO(&all);
	for (i = 0; i < CPU_SETSIZE; i++)
		CPU_SET(i, &all);
	sched_setaffinity(0, sizeof(all), &all);
	herd_measure(&h, "all");
	sched_setaffinity(0, sizeof(one), &one);
	pipeset_close(&h.s);
	close(h.stop_rd);
	close(h.stop_wr);
	close(h.ack_rd);
	close(h.ack_wr);
}

/* --- a kqueue waited on by a second process ------------------------------- */

/*
 * The library closes kqueues in the child of fork() (BSD semantics,
 * tools/lib/kqueue/src/fork.rs), so the parent hands both descriptors to
 * the child over a unix socket (SCM_RIGHTS) after the fork; the child
 * holds the same open kqueue and epoll instance the parent registered.
 */
struct child_result {
	double kq, ep;
	int inherited_kq_open;	/* the fork left the parent's kqueue fd open */
	int done;
};

/* In the child: the 1-of-N wait on the instances received, into *@res. */
static void child_waits(int sock, const struct pipeset *s, int ready,
			struct child_result *res)
{
	struct pipeset c = *s;
	int fds[2];

	res->inherited_kq_open = fcntl(s->kq, F_GETFD) >= 0;
	recv_fds(sock, fds, 2);
	c.kq = fds[0];
	c.ep = fds[1];
	wait_pair(&c, ready, &res->kq, &res->ep);
	res->done = 1;
}

static void bench_second_process(double *own_kq, double *own_ep,
				 struct child_result *out)
{
	struct child_result *res;
	struct pipeset s;
	int sv[2], ready = CASE_N / 2, fds[2], status;
	pid_t pid;

	res = mmap(NULL, sizeof(*res), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (res == MAP_FAILED)
		die("mmap");
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv))
		die("socketpair");
	pipeset_open(&s, CASE_N, 0, EPOLLIN);
	put_byte(s.p[ready][1]);
	wait_pair(&s, ready, own_kq, own_ep);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (!pid) {
		child_waits(sv[1], &s, ready, res);
		_exit(0);
	}
	fds[0] = s.kq;
	fds[1] = s.ep;
	send_fds(sv[0], fds, 2);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) || !res->done) {
		fprintf(stderr, "kqbench: second process: the child failed (status %#x)\n",
			status);
		abort();
	}
	*out = *res;
	munmap(res, sizeof(*res));
	close(sv[0]);
	close(sv[1]);
	pipeset_close(&s);
}

static void print_second_process(void)
{
	struct child_result c;
	double kq, ep;

	bench_second_process(&kq, &ep, &c);
	printf("\nwait, 1 of %d ready, kqueue and epoll made and registered by the parent, waited on\n"
	       "by it and then by a forked child that got them over SCM_RIGHTS (ns per call,\n"
	       "median of %d blocks of %d; the library %s the inherited kqueue in the child)\n",
	       CASE_N, WAIT_BLOCKS, WAIT_ITERS, c.inherited_kq_open ? "left open" : "closed");
	printf("%8s %12s %12s %10s\n", "process", "kqueue", "epoll", "kq/epoll");
	printf("%8s %12.0f %12.0f %10.2f\n", "owner", kq, ep, kq / ep);
	printf("%8s %12.0f %12.0f %10.2f\n", "child", c.kq, c.ep, c.kq / c.ep);
}

/* The cases after the summary above, each printing its own section. */
static void more_waits(void)
{
	struct edge_result edge;
	struct holes_result holes;
	double many_kq, many_ep;

	bench_clear(&edge);
	bench_dispatch(&edge);
	print_edge(&edge);
	bench_many(&many_kq, &many_ep);
	bench_holes(&holes);
	print_holes(&holes, many_kq, many_ep);
	print_second_process();
	bench_herd();
}

int main(int argc, char **argv)
{
	static struct kevent ch[MAX_N];
	struct result res[NSIZES];
	char cs[64], cs_end[64];
	struct utsname u;
	int force = argc > 1 && !strcmp(argv[1], "--force");
	int i, wait_ok = 1, reg_ok = 1, debug;
	cpu_set_t cpu;

	setvbuf(stdout, NULL, _IOLBF, 0);
	clocksource(cs, sizeof(cs));
	settle_clocksource(cs, sizeof(cs));
	uname(&u);
	/* Lockdep and kmemleak announce themselves in /proc and debugfs. */
	debug = !access("/proc/lockdep", F_OK) ||
		!access("/sys/kernel/debug/kmemleak", F_OK);
	printf("kqbench: kernel %s, clocksource %s%s\n", u.release, cs,
	       debug ? ", DEBUG KERNEL (lockdep/kmemleak): numbers not representative" : "");
	if (is_jiffies(cs)) {
		printf("kqbench: clocksource %s is too coarse for these timings%s\n",
		       cs, force ? "; --force: NUMBERS ARE NOT MEANINGFUL" : "; refusing (--force overrides)");
		if (!force)
			return 3;
	}

	/* One CPU: no migrations in the middle of a block. */
	CPU_ZERO(&cpu);
	CPU_SET(0, &cpu);
	sched_setaffinity(0, sizeof(cpu), &cpu);
	raise_nofile(2 * MAX_N + IDLE_TIMERS + 64);
	/* Let what is left of the boot (deferred initcalls, ...) finish. */
	sleep(2);

	for (i = 0; i < NSIZES; i++)
		bench(sizes[i], ch, &res[i]);
	bench_timers();

	clocksource(cs_end, sizeof(cs_end));
	if (strcmp(cs, cs_end))
		printf("kqbench: WARNING: clocksource changed during the run (%s -> %s)\n",
		       cs, cs_end);

	printf("\nwait, 1 of N ready (ns per call, median of %d blocks of %d calls)\n",
	       WAIT_BLOCKS, WAIT_ITERS);
	printf("%8s %12s %12s %10s\n", "N", "kqueue", "epoll", "kq/epoll");
	for (i = 0; i < NSIZES; i++) {
		double r = res[i].wait_kq / res[i].wait_ep;

		printf("%8d %12.0f %12.0f %10.2f\n", res[i].n, res[i].wait_kq,
		       res[i].wait_ep, r);
		wait_ok &= r <= 1.2;
	}
	printf("\nthe same waits above their floors: kevent() less an ioctl that returns at once,\n"
	       "epoll_wait() less getppid() (ns per call, medians of the same blocks)\n");
	printf("%8s %8s %8s %12s %12s %10s\n", "N", "ioctl", "getppid", "kqueue", "epoll",
	       "kq/epoll");
	for (i = 0; i < NSIZES; i++) {
		double kq_own = res[i].wait_kq - res[i].floor_ioctl;
		double ep_own = res[i].wait_ep - res[i].floor_sys;

		printf("%8d %8.0f %8.0f %12.0f %12.0f %10.2f\n", res[i].n, res[i].floor_ioctl,
		       res[i].floor_sys, kq_own, ep_own, kq_own / ep_own);
	}
	printf("\nregistration of N fds: one kevent() vs N epoll_ctl() (ns per fd, median)\n");
	printf("%8s %12s %12s %10s %6s\n", "N", "kqueue", "epoll", "kq/epoll", "reps");
	for (i = 0; i < NSIZES; i++) {
		double r = res[i].reg_kq / res[i].reg_ep;

		printf("%8d %12.0f %12.0f %10.2f %6d\n", res[i].n, res[i].reg_kq,
		       res[i].reg_ep, r, reg_reps(res[i].n));
		reg_ok &= r < 1.0;
	}
	printf("\ngoal: wait within 1.2x of epoll: %s; registration faster than epoll: %s\n",
	       wait_ok ? "met" : "NOT met", reg_ok ? "met" : "NOT met");

	more_waits();
	return 0;
}
