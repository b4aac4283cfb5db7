// SPDX-License-Identifier: GPL-2.0
/*
 * kqueue stress and fuzz harness (issue 12, part 3).
 *
 *   stress [--seed N] [--duration S] [--threads N] [--hang S] [--quiet]
 *
 * Worker threads share two kqueues and each has one of its own; every
 * thread draws random operations from its own PRNG (seeded from the seed
 * and its index, so a seed replays each thread's sequence of operations;
 * the interleaving of threads is up to the scheduler and is not replayed):
 *
 *  - collects on the shared kqueue (blocking, timed, polling, with and
 *    without changes in the same call), checking every event it returns;
 *  - per-thread EVFILT_USER idents on the shared kqueue: EV_ONESHOT and
 *    EV_DISPATCH knotes armed (added/enabled and triggered) again only after
 *    their last arming was delivered, EV_CLEAR knotes triggered with a
 *    sequence number in data;
 *  - a shared region of knotes (EVFILT_USER, EVFILT_READ/WRITE on pipes,
 *    EVFILT_TIMER) that all threads add, modify, delete, enable, disable,
 *    force (EV_FORCEONESHOT),
 *    trigger, close and dup2 over while the others collect; udata carries a
 *    generation number;
 *  - zero-timeout polls of a kqueue whose two level-triggered events hold
 *    for the whole run;
 *  - EV_RECEIPT batches with invalid changes, nested kqueues (loops),
 *    close of a kqueue (and of a dup of it) while a thread waits in it;
 *  - fork/exec/exit of processes watched with EVFILT_PROC (NOTE_TRACK of a
 *    grandchild), signals counted by EVFILT_SIGNAL, timers fired and
 *    re-armed, files changed under EVFILT_VNODE knotes;
 *  - a fuzzer of the ioctl ABI (random argument blocks, sizes, flags,
 *    counts and changes; pointers to unmapped, read-only, partly mapped and
 *    kernel memory; an event buffer made inaccessible while a thread waits).
 *
 * Invariants (each a TAP result at the end):
 *  1 no-stale-events: no event for an ident never registered, and none
 *    carrying the udata generation of a shared knote whose deletion (or
 *    close/dup2 of its descriptor) completed before the collecting call
 *    began;
 *  2 at-most-once: an EV_ONESHOT/EV_DISPATCH knote is delivered at most once
 *    per arming (and, after the run, at least once unless deleted first);
 *  3 user-trigger-not-lost: after the run every EV_CLEAR trigger was seen
 *    by some thread (the latest sequence number was delivered);
 *  4 level-triggered-seen: every poll of the level-triggered kqueue returns
 *    both of its events, whatever the other threads do at the same time;
 *  5 proc-exit: each exit of a tracked process gives exactly one NOTE_EXIT
 *    whose data is the status waitpid() reports (the NOTE_TRACK'ed
 *    grandchild too, with its NOTE_CHILD), and so does its EVFILT_PROCDESC
 *    knote on a pidfd, unless the pidfd was closed before the exit was
 *    collected: then none;
 *  6 exact-semantics: receipts and errors of invalid changes, nested
 *    kqueues, signal counts, vnode notes, one-shot timers, close() of a
 *    kqueue waking its waiters;
 *  7 ioctl-fuzz: the raw ioctl answers sanely (count within bounds, EFAULT,
 *    EINVAL, E2BIG, ENOTTY where exact);
 *  8 no-thread-left-sleeping: at the end all threads, some blocked in
 *    kevent() without timeout, return and are joined in time; no operation
 *    ran longer than --hang seconds; no moment when every thread waits
 *    while the shared kqueue has events pending (wake_if_all_wait()).
 *
 * A failure prints the seed, the thread and its last operations. An alarm
 * ends the program if it overruns its duration by far.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <linux/kqueue.h>
#include <linux/time_types.h>

#include <sys/event.h>

#define MAXT		32
#define NPRIV		9	/* private EVFILT_USER idents per thread */
#define NSLOT		16	/* shared knotes */
#define RING		32	/* remembered operations per thread */
#define MAXPROC		8

/* udata tags (top byte) */
#define TAG_SHIFT	56
#define TAG_PRIV	0xA1ULL
#define TAG_SLOT	0xA2ULL
#define TAG_STOP	0xA3ULL
#define TAG_NEST	0xA4ULL
#define TAG_PROC	0xA5ULL
#define TAG_SIG		0xA6ULL
#define TAG_VN		0xA7ULL
#define TAG_TMR		0xA8ULL
#define TAG_LVL		0xA9ULL
#define TAG(u)		((uint64_t)(uintptr_t)(u) >> TAG_SHIFT)
#define UD(tag, v)	((void *)(uintptr_t)(((uint64_t)(tag) << TAG_SHIFT) | (uint64_t)(v)))

#define PRIV_IDENT(t, k)	(0x100000UL * ((t) + 1) + (k))
#define SLOT_IDENT(s)		(0x10UL + (s))
#define STOP_IDENT		0xdeadUL
#define WAKE_IDENT		0xbeefUL
#define TMR_PERIODIC		7
#define TMR_ONESHOT		8

enum cat {
	C_STALE, C_ONCE, C_LOST, C_LEVEL, C_PROC, C_EXACT, C_FUZZ, C_HANG, NCAT
};
static const char *cat_name[NCAT] = {
	"no-stale-events", "at-most-once", "user-trigger-not-lost", "level-triggered-seen",
	"proc-exit", "exact-semantics", "ioctl-fuzz", "no-thread-left-sleeping",
};

enum op {
	OP_COLLECT, OP_COLLECT_CHG, OP_LEVEL, OP_PRIV, OP_SLOT, OP_RECEIPT, OP_NEST,
	OP_CLOSE_WAIT, OP_DUP_WAIT, OP_PROC, OP_SIGNAL, OP_VNODE, OP_TIMER, OP_FUZZ,
	OP_UNMAP_WAIT, OP_POKE, OP_HOT, NOPS
};
static const char *op_name[NOPS] = {
	"collect", "collect+change", "level-poll", "private-user", "shared-knote",
	"receipt-batch", "nested", "close-while-waiting", "close-dup-while-waiting",
	"fork-exit", "signal", "vnode", "timer", "ioctl-fuzz", "unmap-while-waiting",
	"poke", "hot-knote-burst",
};
static const int op_weight[NOPS] = {
	[OP_COLLECT] = 18, [OP_COLLECT_CHG] = 4, [OP_LEVEL] = 10, [OP_PRIV] = 20,
	[OP_SLOT] = 22, [OP_RECEIPT] = 3, [OP_NEST] = 2, [OP_CLOSE_WAIT] = 1,
	[OP_DUP_WAIT] = 1, [OP_PROC] = 1, [OP_SIGNAL] = 3, [OP_VNODE] = 3,
	[OP_TIMER] = 3, [OP_FUZZ] = 10, [OP_UNMAP_WAIT] = 1, [OP_POKE] = 2,
	[OP_HOT] = 8,
};

/* ---- global state ------------------------------------------------------ */

struct priv {			/* one private EVFILT_USER ident */
	atomic_long armed, delivered, cancelled;	/* ONESHOT/DISPATCH */
	atomic_long triggered, seen_max;		/* CLEAR */
	int exists, disabled;				/* owner only */
};

struct slot {
	pthread_mutex_t mu;
	atomic_long gen;	/* last generation issued */
	atomic_long floor;	/* events must carry gen >= floor */
	int fd, peer;		/* pipe slots: watched end, other end */
	int dead;		/* fd was dup2'ed over (now /dev/null) */
	int knote;		/* a knote is (probably) registered */
};

struct ringent {
	char txt[88];
	long rc;
	int err;
};

struct proc_ent {
	pid_t pid;
	int exits, childs, forks, execs, trackerr;
	intptr_t exit_data, child_data;
};

struct thr {
	int idx;
	pthread_t thread;
	pid_t tid;
	uint64_t rng;
	int pkq;			/* private kqueue */
	struct ringent ring[RING];
	unsigned int nring;
	atomic_llong op_start;		/* ms, 0 when idle */
	atomic_int in_kevent;
	long counts[NOPS], errs[NOPS];
	long events;
	/* private kqueue accounting */
	struct proc_ent procs[MAXPROC];
	int nprocs;
	int pd_exits;			/* EVFILT_PROCDESC events, and the last data */
	intptr_t pd_data;
	long sig_sent, sig_seen;
	unsigned int vn_bits;
	int vfd;
	char vpath[64], vpath2[64];
	long tmr_armed, tmr_fired, tmr_periodic;
	int tmr_pending;
	int nested_in_pkq;
	int fkq;			/* fuzz kqueue */
	int fuzz_ops;
};

static struct {
	uint64_t seed;
	int nthreads;
	int duration;
	int hang;
	int quiet;
	int skq, lkq;		/* shared kqueue, level-triggered kqueue */
	int lpipe[2];
	int devnull;
	long pagesz;
	char *ro_page, *none_page, *part_buf;	/* read-only, PROT_NONE, rw page before PROT_NONE */
	char *part_args;	/* read-only page ending in an args.size of 48, then PROT_NONE */
	atomic_int stop, started;
	atomic_int nfail[NCAT];
	atomic_long checks[NCAT];
	atomic_long anomalies;	/* delete succeeded and the arming was delivered too */
	struct priv priv[MAXT][NPRIV];
	struct slot slot[NSLOT];
	struct thr thr[MAXT];
	pthread_mutex_t print_mu;
	int64_t t0;
} g;

static const struct timespec ts_zero;

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* ---- PRNG (splitmix64) --------------------------------------------------- */

static uint64_t rnd(struct thr *th)
{
	uint64_t z = (th->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/*
 * The start of stream @stream of run @seed. splitmix64 walks one cycle by a
 * fixed step; starts that differ by multiples of that step (as seed + idx *
 * step did) give the same sequence shifted by a few values, so that threads
 * fell into step and made the same calls at the same time. A mixed start
 * lands far from every other.
 */
static uint64_t stream_start(uint64_t seed, uint64_t stream)
{
	struct thr t = { .rng = seed * 0x100000001b3ULL ^ (stream + 1) * 0xd1b54a32d192ed03ULL };

	return rnd(&t);
}

static unsigned int rn(struct thr *th, unsigned int n)
{
	return n ? (unsigned int)(rnd(th) % n) : 0;
}

static int chance(struct thr *th, int percent)
{
	return (int)rn(th, 100) < percent;
}

/* ---- operation log and failures --------------------------------------------- */

static struct ringent *rec(struct thr *th, const char *fmt, ...)
{
	struct ringent *e = &th->ring[th->nring++ % RING];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->txt, sizeof(e->txt), fmt, ap);
	va_end(ap);
	e->rc = -999;
	e->err = 0;
	return e;
}

static void done(struct ringent *e, long rc)
{
	e->rc = rc;
	e->err = rc < 0 ? errno : 0;
}

static void dump_ring(struct thr *th)
{
	unsigned int i, n = th->nring < RING ? th->nring : RING;

	fprintf(stdout, "#   last %u operations of thread %d (oldest first):\n", n, th->idx);
	for (i = th->nring - n; i != th->nring; i++) {
		struct ringent *e = &th->ring[i % RING];

		if (e->rc == -999)
			fprintf(stdout, "#     [%u] %s -> (in progress)\n", i, e->txt);
		else
			fprintf(stdout, "#     [%u] %s -> %ld%s%s\n", i, e->txt, e->rc,
				e->rc < 0 ? " " : "", e->rc < 0 ? strerror(e->err) : "");
	}
}

static void fail(struct thr *th, enum cat c, const char *fmt, ...)
{
	va_list ap;
	int first = atomic_fetch_add(&g.nfail[c], 1) == 0;

	pthread_mutex_lock(&g.print_mu);
	if (first || !g.quiet) {
		fprintf(stdout, "# FAIL [%s] seed=%" PRIu64 " thread=%d t=%.1fs: ", cat_name[c],
			g.seed, th ? th->idx : -1, (now_ms() - g.t0) / 1000.0);
		va_start(ap, fmt);
		vfprintf(stdout, fmt, ap);
		va_end(ap);
		fputc('\n', stdout);
		if (th && first)
			dump_ring(th);
		fprintf(stdout, "#   replay: stress --seed %" PRIu64 " --threads %d --duration %d\n",
			g.seed, g.nthreads, g.duration);
		fflush(stdout);
	}
	pthread_mutex_unlock(&g.print_mu);
	atomic_store(&g.stop, 1);
}

static void check(enum cat c)
{
	atomic_fetch_add_explicit(&g.checks[c], 1, memory_order_relaxed);
}

static char *kev_str(const struct kevent *k, char *buf, size_t len)
{
	snprintf(buf, len, "{ident=%#" PRIxPTR " filter=%d flags=%#x fflags=%#x data=%" PRIdPTR
		 " udata=%p}", k->ident, k->filter, k->flags, k->fflags, k->data, k->udata);
	return buf;
}

static struct kevent kev(uintptr_t ident, short filter, unsigned short flags,
			 unsigned int fflags, intptr_t data, void *udata)
{
	struct kevent k;

	memset(&k, 0, sizeof(k));
	EV_SET(&k, ident, filter, flags, fflags, data, udata);
	return k;
}

/*
 * kevent() with the thread's state published: 2 while it may wait (only
 * then do other threads poke it with SIGUSR2), 1 otherwise. A call that
 * must not wait (nevents 0 or a zero timeout) and still ends in EINTR
 * slept somewhere it should not, or only briefly (waiting for another
 * thread's hold on a knote): counted, and reported at the end.
 */
static atomic_long eintr_nowait;

static int kcall(struct thr *th, int kq, const struct kevent *ch, int nch, struct kevent *ev,
		 int nev, const struct timespec *ts)
{
	int nowait = nev == 0 || (ts && ts->tv_sec == 0 && ts->tv_nsec == 0), r;

	atomic_store(&th->in_kevent, nowait ? 1 : 2);
	r = kevent(kq, ch, nch, ev, nev, ts);
	if (r < 0 && errno == EINTR && nowait)
		atomic_fetch_add(&eintr_nowait, 1);
	atomic_store(&th->in_kevent, 0);
	return r;
}

/* ---- checking events of the shared kqueue ------------------------------------ */

static int priv_kind(int k)
{
	return k % 3;		/* 0 oneshot, 1 dispatch, 2 clear */
}

static void floors_snapshot(long *fl)
{
	int s;

	for (s = 0; s < NSLOT; s++)
		fl[s] = atomic_load(&g.slot[s].floor);
}

static short slot_filter(int s)
{
	static const short f[4] = { EVFILT_USER, EVFILT_READ, EVFILT_WRITE, EVFILT_TIMER };

	return f[s % 4];
}

/* An event the shared kqueue returned to a call that began after @fl was taken. */
static void check_shared_event(struct thr *th, const struct kevent *e, const long *fl)
{
	uint64_t u = (uintptr_t)e->udata, v = u & ((1ULL << TAG_SHIFT) - 1);
	char b[160];

	check(C_STALE);
	if (e->flags & EV_ERROR) {
		fail(th, C_EXACT, "error entry from a call without changes: %s",
		     kev_str(e, b, sizeof(b)));
		return;
	}
	switch (TAG(u)) {
	case TAG_PRIV: {
		int t = (int)(v >> 40) & 0xff, k = (int)(v >> 32) & 0xff;
		struct priv *p;
		long d;

		if (t >= g.nthreads || k >= NPRIV || e->ident != PRIV_IDENT(t, k) ||
		    e->filter != EVFILT_USER) {
			fail(th, C_STALE, "event for an unregistered private ident: %s",
			     kev_str(e, b, sizeof(b)));
			return;
		}
		p = &g.priv[t][k];
		if (priv_kind(k) == 2) {
			long trig = atomic_load(&p->triggered), m;

			check(C_LOST);
			if (e->data <= 0 || e->data > trig)
				fail(th, C_LOST, "EV_CLEAR user event data %" PRIdPTR
				     " outside 1..%ld (triggers sent): %s", e->data, trig,
				     kev_str(e, b, sizeof(b)));
			m = atomic_load(&p->seen_max);
			while (e->data > m && !atomic_compare_exchange_weak(&p->seen_max, &m, e->data))
				;
		} else {
			check(C_ONCE);
			d = atomic_fetch_add(&p->delivered, 1) + 1;
			if (d > atomic_load(&p->armed))
				fail(th, C_ONCE, "%s knote delivered %ld times for %ld armings: %s",
				     priv_kind(k) ? "EV_DISPATCH" : "EV_ONESHOT", d,
				     atomic_load(&p->armed), kev_str(e, b, sizeof(b)));
		}
		return;
	}
	case TAG_SLOT: {
		int s = (int)(v >> 40) & 0xff;
		long gen = (long)(v & ((1ULL << 40) - 1));

		if (s >= NSLOT || e->filter != slot_filter(s) ||
		    (s % 4 != 1 && s % 4 != 2 && e->ident != SLOT_IDENT(s))) {
			fail(th, C_STALE, "event for an unregistered shared ident: %s",
			     kev_str(e, b, sizeof(b)));
			return;
		}
		if (gen < fl[s])
			fail(th, C_STALE, "event of shared knote %d generation %ld, deleted (or its "
			     "fd closed) before the call began (floor %ld): %s", s, gen, fl[s],
			     kev_str(e, b, sizeof(b)));
		else if (gen > atomic_load(&g.slot[s].gen))
			fail(th, C_STALE, "event of shared knote %d with a generation never issued: %s",
			     s, kev_str(e, b, sizeof(b)));
		return;
	}
	case TAG_STOP:
		if ((e->ident != STOP_IDENT && e->ident != WAKE_IDENT) || e->filter != EVFILT_USER)
			fail(th, C_STALE, "bad stop or wake event %s", kev_str(e, b, sizeof(b)));
		return;
	case TAG_NEST:
		if ((int)v >= g.nthreads || e->filter != EVFILT_READ ||
		    (int)e->ident != g.thr[v].pkq)
			fail(th, C_STALE, "bad nested-kqueue event %s", kev_str(e, b, sizeof(b)));
		return;
	}
	fail(th, C_STALE, "event with unknown udata on the shared kqueue: %s",
	     kev_str(e, b, sizeof(b)));
}

/* ---- the private kqueue --------------------------------------------------------- */

static struct proc_ent *proc_find(struct thr *th, pid_t pid, int create)
{
	int i;

	for (i = 0; i < th->nprocs; i++)
		if (th->procs[i].pid == pid)
			return &th->procs[i];
	if (!create || th->nprocs == MAXPROC)
		return NULL;
	memset(&th->procs[th->nprocs], 0, sizeof(th->procs[0]));
	th->procs[th->nprocs].pid = pid;
	return &th->procs[th->nprocs++];
}

static void check_private_event(struct thr *th, const struct kevent *e)
{
	uint64_t u = (uintptr_t)e->udata;
	char b[160];

	if (e->flags & EV_ERROR) {
		fail(th, C_EXACT, "error entry from a private collect: %s", kev_str(e, b, sizeof(b)));
		return;
	}
	switch (TAG(u)) {
	case TAG_PROC: {
		struct proc_ent *p;

		check(C_PROC);
		if (e->filter == EVFILT_PROCDESC && e->fflags == NOTE_EXIT) {
			th->pd_exits++;
			th->pd_data = e->data;
			return;
		}
		if (e->filter != EVFILT_PROC)
			break;
		/* An unknown pid is the tracked grandchild: NOTE_CHILD or its exit. */
		p = proc_find(th, (pid_t)e->ident, 1);
		if (!p) {
			fail(th, C_PROC, "too many processes reported: %s", kev_str(e, b, sizeof(b)));
			return;
		}
		if (e->fflags & NOTE_CHILD) {
			p->childs++;
			p->child_data = e->data;
		}
		if (e->fflags & NOTE_FORK)
			p->forks++;
		if (e->fflags & NOTE_EXEC)
			p->execs++;
		if (e->fflags & NOTE_TRACKERR)
			p->trackerr++;
		if (e->fflags & NOTE_EXIT) {
			p->exits++;
			p->exit_data = e->data;
			if (p->exits > 1)
				fail(th, C_PROC, "second NOTE_EXIT for pid %d: %s", p->pid,
				     kev_str(e, b, sizeof(b)));
		}
		return;
	}
	case TAG_SIG:
		if (e->filter != EVFILT_SIGNAL || e->ident != SIGUSR1 || e->data <= 0)
			break;
		th->sig_seen += e->data;
		return;
	case TAG_VN:
		if (e->filter != EVFILT_VNODE)
			break;
		th->vn_bits |= e->fflags;
		return;
	case TAG_TMR:
		if (e->filter != EVFILT_TIMER || e->data <= 0)
			break;
		if (e->ident == TMR_PERIODIC) {
			th->tmr_periodic += e->data;
			return;
		}
		if (e->ident != TMR_ONESHOT)
			break;
		th->tmr_fired++;
		th->tmr_pending = 0;
		check(C_EXACT);
		if (th->tmr_fired > th->tmr_armed || e->data != 1)
			fail(th, C_EXACT, "one-shot timer fired %ld times for %ld armings: %s",
			     th->tmr_fired, th->tmr_armed, kev_str(e, b, sizeof(b)));
		return;
	case TAG_NEST:
		if (e->filter == EVFILT_READ && (int)e->ident == g.skq)
			return;
		break;
	}
	fail(th, C_STALE, "unexpected event on the private kqueue: %s", kev_str(e, b, sizeof(b)));
}

/* Collect from the private kqueue; returns the number of events or -1. */
static int pkq_collect(struct thr *th, long timeout_ms)
{
	struct timespec ts = { timeout_ms / 1000, (timeout_ms % 1000) * 1000000L };
	struct kevent ev[16];
	int r, i;

	r = kcall(th, th->pkq, NULL, 0, ev, 16, &ts);
	if (r < 0) {
		int err = errno;
		char path[64], target[64] = "";

		if (err == EINTR)
			return -1;
		/* Closed under us, or a kqueue the module thinks closed? */
		snprintf(path, sizeof(path), "/proc/self/fd/%d", th->pkq);
		if (readlink(path, target, sizeof(target) - 1) < 0)
			snprintf(target, sizeof(target), "(%s)", strerror(errno));
		fail(th, C_EXACT, "kevent(private kqueue %d -> %s): %s", th->pkq, target,
		     strerror(err));
		return -1;
	}
	for (i = 0; i < r; i++)
		check_private_event(th, &ev[i]);
	return r;
}

/* ---- operations ----------------------------------------------------------------------- */

static void op_collect(struct thr *th, int with_change)
{
	static const long tmo_us[] = { 0, 0, 1000, 20000, 200000, -1 };
	struct kevent ev[16], ch;
	struct timespec ts;
	long fl[NSLOT], us = tmo_us[rn(th, 6)];
	int n = 1 + rn(th, 16), nch = 0, r, i, k = 2 + 3 * rn(th, NPRIV / 3);
	struct priv *p = &g.priv[th->idx][k];
	struct ringent *e;

	if (us >= 0) {
		ts.tv_sec = us / 1000000;
		ts.tv_nsec = (us % 1000000) * 1000;
	}
	if (with_change) {	/* trigger one of our EV_CLEAR idents in the same call */
		long seq = atomic_fetch_add(&p->triggered, 1) + 1;

		ch = kev(PRIV_IDENT(th->idx, k), EVFILT_USER, 0, NOTE_TRIGGER, seq,
			 UD(TAG_PRIV, ((uint64_t)th->idx << 40) | ((uint64_t)k << 32)));
		nch = 1;
	}
	e = rec(th, "collect skq n=%d timeout=%ldus%s", n, us, nch ? " +trigger" : "");
	floors_snapshot(fl);
	r = kcall(th, g.skq, &ch, nch, ev, n, us >= 0 ? &ts : NULL);
	done(e, r);
	if (r < 0) {
		th->errs[with_change ? OP_COLLECT_CHG : OP_COLLECT]++;
		if (errno != EINTR)
			fail(th, C_EXACT, "collect on the shared kqueue: %s", strerror(errno));
		return;
	}
	if (r > n)
		fail(th, C_EXACT, "kevent returned %d > nevents %d", r, n);
	th->events += r;
	for (i = 0; i < r && i < n; i++)
		check_shared_event(th, &ev[i], fl);
}

/* One poll of the level-triggered kqueue: both events, always. 0, or -1 after a failure. */
static int level_poll_on(struct thr *th, int kq)
{
	struct kevent ev[4];
	int r, i, user = 0, rd = 0;
	struct timespec ts = { 1, 0 };
	struct ringent *e;
	int blocking = chance(th, 10);

	e = rec(th, "level poll of kq %d%s", kq, blocking ? " (1s timeout)" : "");
	memset(ev, 0, sizeof(ev));
	r = kcall(th, kq, NULL, 0, ev, 4, blocking ? &ts : &ts_zero);
	done(e, r);
	if (r < 0 && errno == EINTR)
		return 0;
	check(C_LEVEL);
	for (i = 0; i < r; i++) {
		if (ev[i].filter == EVFILT_USER && ev[i].ident == 1)
			user++;
		else if (ev[i].filter == EVFILT_READ && (int)ev[i].ident == g.lpipe[0])
			rd++;
	}
	if (r != 2 || user != 1 || rd != 1) {
		fail(th, C_LEVEL, "poll of two level-triggered events returned %d (user %d, read %d, "
		     "errno %d)", r, user, rd, r < 0 ? errno : 0);
		return -1;
	}
	return 0;
}

static int level_poll(struct thr *th)
{
	return level_poll_on(th, g.lkq);
}

/* A burst of polls, so that threads poll at the same time. */
static void op_level(struct thr *th)
{
	int n = 1 + rn(th, 16);

	while (n-- && !atomic_load(&g.stop))
		if (level_poll(th))
			break;
}

static void op_priv(struct thr *th)
{
	int k = rn(th, NPRIV), r;
	struct priv *p = &g.priv[th->idx][k];
	uintptr_t id = PRIV_IDENT(th->idx, k);
	void *ud = UD(TAG_PRIV, ((uint64_t)th->idx << 40) | ((uint64_t)k << 32));
	struct kevent ch[2];
	struct ringent *e;
	long armed = atomic_load(&p->armed);
	long seen = atomic_load(&p->delivered) + atomic_load(&p->cancelled);

	switch (priv_kind(k)) {
	case 0:		/* EV_ONESHOT */
		if (seen >= armed) {
			atomic_fetch_add(&p->armed, 1);
			ch[0] = kev(id, EVFILT_USER, EV_ADD | EV_ONESHOT, 0, 0, ud);
			ch[1] = kev(id, EVFILT_USER, 0, NOTE_TRIGGER, 0, ud);
			e = rec(th, "oneshot %d arm #%ld", k, armed + 1);
			r = kcall(th, g.skq, ch, 2, NULL, 0, NULL);
			done(e, r);
			check(C_ONCE);
			if (r != 0)
				fail(th, C_ONCE, "arming EV_ONESHOT ident %#lx: %s", (long)id,
				     strerror(errno));
		} else if (chance(th, 30)) {
			ch[0] = kev(id, EVFILT_USER, EV_DELETE, 0, 0, ud);
			e = rec(th, "oneshot %d delete", k);
			r = kcall(th, g.skq, ch, 1, NULL, 0, NULL);
			done(e, r);
			if (r == 0)
				atomic_fetch_add(&p->cancelled, 1);
			else if (errno != ENOENT)
				fail(th, C_EXACT, "EV_DELETE of EV_ONESHOT: %s", strerror(errno));
		}
		break;
	case 1:		/* EV_DISPATCH|EV_CLEAR */
		if (!p->exists || seen >= armed) {
			atomic_fetch_add(&p->armed, 1);
			ch[0] = kev(id, EVFILT_USER, p->exists ? EV_ENABLE : EV_ADD | EV_DISPATCH | EV_CLEAR,
				    0, 0, ud);
			ch[1] = kev(id, EVFILT_USER, 0, NOTE_TRIGGER, 0, ud);
			e = rec(th, "dispatch %d %s+trigger #%ld", k, p->exists ? "enable" : "add",
				armed + 1);
			r = kcall(th, g.skq, ch, 2, NULL, 0, NULL);
			done(e, r);
			check(C_ONCE);
			if (r != 0)
				fail(th, C_ONCE, "arming EV_DISPATCH ident %#lx: %s", (long)id,
				     strerror(errno));
			p->exists = 1;
			p->disabled = 0;
		} else {
			ch[0] = kev(id, EVFILT_USER, p->disabled ? EV_ENABLE : EV_DISABLE, 0, 0, ud);
			e = rec(th, "dispatch %d %s", k, p->disabled ? "enable" : "disable");
			r = kcall(th, g.skq, ch, 1, NULL, 0, NULL);
			done(e, r);
			if (r != 0)
				fail(th, C_EXACT, "EV_ENABLE/EV_DISABLE of a dispatch knote: %s",
				     strerror(errno));
			p->disabled = !p->disabled;
		}
		break;
	case 2: {	/* EV_CLEAR: triggers carry a sequence number */
		long seq = atomic_fetch_add(&p->triggered, 1) + 1;

		ch[0] = kev(id, EVFILT_USER, 0, NOTE_TRIGGER, seq, ud);
		e = rec(th, "clear %d trigger #%ld", k, seq);
		r = kcall(th, g.skq, ch, 1, NULL, 0, NULL);
		done(e, r);
		if (r != 0)
			fail(th, C_LOST, "NOTE_TRIGGER of ident %#lx: %s", (long)id, strerror(errno));
		break;
	}
	}
}

/* A change to a shared knote, answered with room for entries (errors, receipts, events). */
static void slot_change(struct thr *th, int s, struct kevent c, int expect_err)
{
	struct kevent out[4];
	long fl[NSLOT];
	char b[160];
	int r, i;
	struct ringent *e;

	e = rec(th, "shared %d: %s", s, kev_str(&c, b, sizeof(b)));
	floors_snapshot(fl);
	r = kcall(th, g.skq, &c, 1, out, 4, &ts_zero);
	done(e, r);
	if (r < 0) {
		if (errno != EINTR)
			fail(th, C_EXACT, "change to shared knote %d: %s", s, strerror(errno));
		return;
	}
	for (i = 0; i < r; i++) {
		if (!(out[i].flags & EV_ERROR)) {
			check_shared_event(th, &out[i], fl);
			continue;
		}
		check(C_EXACT);
		if (out[i].ident != c.ident || out[i].filter != c.filter ||
		    (out[i].data != 0 && out[i].data != ENOENT && out[i].data != expect_err) ||
		    (expect_err && out[i].data != expect_err) ||
		    (out[i].data == 0 && !(c.flags & EV_RECEIPT)))
			fail(th, C_EXACT, "unexpected entry for a change to shared knote %d (change "
			     "%s, expected error %d): %s", s, kev_str(&c, b, sizeof(b)), expect_err,
			     kev_str(&out[i], b + 80, 80));
	}
}

static void slot_close(struct thr *th, struct slot *sl, int s)
{
	struct ringent *e = rec(th, "shared %d: close fd %d (peer %d)", s, sl->fd, sl->peer);

	close(sl->fd);
	if (sl->peer >= 0)
		close(sl->peer);
	done(e, 0);
	sl->fd = sl->peer = -1;
	sl->dead = 0;
	sl->knote = 0;
	atomic_store(&sl->floor, atomic_load(&sl->gen) + 1);
}

static void op_slot(struct thr *th)
{
	int s = rn(th, NSLOT), type = s % 4, what = rn(th, 10);
	struct slot *sl = &g.slot[s];
	short filt = slot_filter(s);
	uint64_t gen;
	unsigned short fl;
	char buf[512];

	pthread_mutex_lock(&sl->mu);
	if ((type == 1 || type == 2) && sl->fd < 0) {
		int p[2];

		if (pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0) {
			sl->fd = type == 1 ? p[0] : p[1];
			sl->peer = type == 1 ? p[1] : p[0];
		}
		rec(th, "shared %d: new pipe fd %d", s, sl->fd);
		what = 0;
	}
	uintptr_t ident = (type == 1 || type == 2) ? (uintptr_t)sl->fd : SLOT_IDENT(s);

	switch (what) {
	case 0: case 1: case 2:		/* EV_ADD (new knote or modify), new generation */
		if (sl->dead) {
			slot_close(th, sl, s);
			break;
		}
		gen = atomic_fetch_add(&sl->gen, 1) + 1;
		fl = EV_ADD;
		switch (rn(th, 8)) {
		case 0: fl |= EV_ONESHOT; break;
		case 1: fl |= EV_CLEAR; break;
		case 2: fl |= EV_DISPATCH; break;
		case 3: fl |= EV_RECEIPT; break;
		case 4: fl |= EV_DISABLE; break;
		}
		if (type == 3) {
			static const unsigned int units[] = { 0, NOTE_USECONDS, NOTE_NSECONDS };
			unsigned int u = units[rn(th, 3)];
			long ms = 5 + rn(th, 40);

			slot_change(th, s, kev(ident, filt, fl, u, u == NOTE_USECONDS ? ms * 1000 :
					       u == NOTE_NSECONDS ? ms * 1000000 : ms,
					       UD(TAG_SLOT, ((uint64_t)s << 40) | gen)), 0);
		} else {
			slot_change(th, s, kev(ident, filt, fl, 0, 0, UD(TAG_SLOT, ((uint64_t)s << 40) | gen)), 0);
		}
		sl->knote = 1;
		break;
	case 3:		/* EV_DELETE; afterwards no event of any earlier generation */
		slot_change(th, s, kev(ident, filt, EV_DELETE | (chance(th, 30) ? EV_RECEIPT : 0), 0, 0,
				       NULL), 0);
		atomic_store(&sl->floor, atomic_load(&sl->gen) + 1);
		sl->knote = 0;
		break;
	case 4:		/* EV_ENABLE, or EV_FORCEONESHOT (maybe keeping udata) */
		fl = chance(th, 30) ? EV_FORCEONESHOT | (chance(th, 50) ? EV_KEEPUDATA : 0) :
				      EV_ENABLE;
		slot_change(th, s, kev(ident, filt, fl, 0, 0,
				       UD(TAG_SLOT, ((uint64_t)s << 40) | atomic_load(&sl->gen))), 0);
		break;
	case 5:
		slot_change(th, s, kev(ident, filt, EV_DISABLE, 0, 0,
				       UD(TAG_SLOT, ((uint64_t)s << 40) | atomic_load(&sl->gen))), 0);
		break;
	case 6:		/* invalid: EV_ONESHOT|EV_DISPATCH must be EINVAL */
		gen = atomic_fetch_add(&sl->gen, 1) + 1;
		slot_change(th, s, kev(ident, filt, EV_ADD | EV_ONESHOT | EV_DISPATCH, 0, 10,
				       UD(TAG_SLOT, ((uint64_t)s << 40) | gen)), EINVAL);
		break;
	default:	/* the filter's own activity */
		if (type == 0) {
			slot_change(th, s, kev(ident, filt, 0, NOTE_TRIGGER | NOTE_FFOR | rn(th, 0x1000),
					       0, UD(TAG_SLOT, ((uint64_t)s << 40) | atomic_load(&sl->gen))),
				    0);
		} else if (type == 1 || type == 2) {
			struct ringent *e;
			int c = rn(th, 10);
			ssize_t r = 0;

			if (sl->dead) {
				slot_close(th, sl, s);
			} else if (c < 3) {	/* the peer writes / reads */
				e = rec(th, "shared %d: io on peer %d", s, sl->peer);
				r = type == 1 ? write(sl->peer, buf, 1 + rn(th, 64)) :
					read(sl->peer, buf, sizeof(buf));
				done(e, r);
			} else if (c < 6) {	/* the watched end reads / fills */
				e = rec(th, "shared %d: io on fd %d", s, sl->fd);
				if (type == 1) {
					r = read(sl->fd, buf, sizeof(buf));
				} else {
					memset(buf, 'w', sizeof(buf));
					while ((r = write(sl->fd, buf, sizeof(buf))) > 0)
						;
				}
				done(e, r);
			} else if (c < 8) {	/* close the watched descriptor */
				slot_close(th, sl, s);
			} else if (c < 9) {	/* dup2 another file over it */
				e = rec(th, "shared %d: dup2(/dev/null, %d)", s, sl->fd);
				r = dup2(g.devnull, sl->fd);
				done(e, r);
				sl->dead = 1;
				sl->knote = 0;
				atomic_store(&sl->floor, atomic_load(&sl->gen) + 1);
			} else if (sl->peer >= 0) {	/* hang-up: EV_EOF */
				e = rec(th, "shared %d: close peer %d", s, sl->peer);
				done(e, close(sl->peer));
				sl->peer = -1;
			}
		} else {	/* timer: re-arm with a new period */
			gen = atomic_fetch_add(&sl->gen, 1) + 1;
			slot_change(th, s, kev(ident, filt, EV_ADD | EV_ONESHOT, 0, 1 + rn(th, 20),
					       UD(TAG_SLOT, ((uint64_t)s << 40) | gen)), 0);
		}
		break;
	}
	pthread_mutex_unlock(&sl->mu);
}

/* A batch of valid and invalid changes with EV_RECEIPT on a new kqueue: exact answers. */
static void op_receipt(struct thr *th)
{
	struct kevent ch[8], out[8];
	int err[8], n = 0, i, r, kq = kqueue(), p[2], badfd;
	char b1[160], b2[160];
	struct ringent *e;

	if (kq < 0) {
		fail(th, C_EXACT, "kqueue(): %s", strerror(errno));
		return;
	}
	if (pipe2(p, O_CLOEXEC) < 0) {
		close(kq);
		return;
	}
	/*
	 * A descriptor no thread can have open: a number just closed here may be
	 * handed to another thread's open() before the batch reaches the kernel.
	 */
	badfd = 0x3fffffff;
	close(p[1]);
	while (n < 8) {
		unsigned short rc = chance(th, 70) ? EV_RECEIPT : 0;

		switch (rn(th, 10)) {
		case 0: ch[n] = kev(1, EVFILT_USER, EV_ADD | rc, 0, 0, NULL); err[n] = 0; break;
		case 1: ch[n] = kev(2, EVFILT_USER, EV_DELETE | rc, 0, 0, NULL); err[n] = ENOENT; break;
		case 2: ch[n] = kev(3, EVFILT_USER, EV_ADD | EV_ONESHOT | EV_DISPATCH | rc, 0, 0, NULL);
			err[n] = EINVAL; break;
		case 3: ch[n] = kev(4, -20, EV_ADD | rc, 0, 0, NULL); err[n] = EINVAL; break;
		case 4: ch[n] = kev(5, EVFILT_AIO, EV_ADD | rc, 0, 0, NULL); err[n] = EINVAL; break;
		case 5: ch[n] = kev(badfd, EVFILT_READ, EV_ADD | rc, 0, 0, NULL); err[n] = EBADF; break;
		case 6: ch[n] = kev(0, EVFILT_SIGNAL, EV_ADD | rc, 0, 0, NULL); err[n] = EINVAL; break;
		case 7: ch[n] = kev(9, EVFILT_TIMER, EV_ADD | rc, 0, -5, NULL); err[n] = EINVAL; break;
		case 8: ch[n] = kev(p[0], EVFILT_READ, EV_ADD | rc, 0, 0, NULL); err[n] = 0; break;
		default: ch[n] = kev(kq, EVFILT_READ, EV_ADD | rc, 0, 0, NULL); err[n] = EINVAL; break;
		}
		if (err[n] == 0 && !rc)
			continue;	/* a success without receipt leaves no entry */
		n++;
		if (chance(th, 25))
			break;
	}
	e = rec(th, "receipt batch of %d on kq %d", n, kq);
	memset(out, 0, sizeof(out));
	r = kcall(th, kq, ch, n, out, 8, &ts_zero);
	done(e, r);
	check(C_EXACT);
	if (r != n) {
		fail(th, C_EXACT, "receipt batch of %d changes returned %d (errno %d)", n, r,
		     r < 0 ? errno : 0);
	} else {
		for (i = 0; i < n; i++) {
			struct kevent x = ch[i];

			x.flags |= EV_ERROR;
			x.data = err[i];
			if (out[i].ident != x.ident || out[i].filter != x.filter ||
			    !(out[i].flags & EV_ERROR) || out[i].data != x.data) {
				fail(th, C_EXACT, "entry %d: expected %s got %s", i,
				     kev_str(&x, b1, sizeof(b1)), kev_str(&out[i], b2, sizeof(b2)));
				break;
			}
		}
	}
	close(p[0]);
	close(kq);
}

/* Nested kqueues: B watches A; loops are refused; an event in A makes B readable. */
static void op_nest(struct thr *th)
{
	int a = kqueue(), b = kqueue(), r;
	struct kevent c, out[4];
	struct ringent *e;

	if (a < 0 || b < 0) {
		fail(th, C_EXACT, "kqueue(): %s", strerror(errno));
		goto out;
	}
	e = rec(th, "nest: kq %d watches kq %d", b, a);
	c = kev(a, EVFILT_READ, EV_ADD, 0, 0, NULL);
	r = kcall(th, b, &c, 1, NULL, 0, NULL);
	done(e, r);
	check(C_EXACT);
	if (r)
		fail(th, C_EXACT, "kq %d watching kq %d: %s", b, a, strerror(errno));
	e = rec(th, "nest: kq %d watches kq %d (loop)", a, b);
	c = kev(b, EVFILT_READ, EV_ADD, 0, 0, NULL);
	r = kcall(th, a, &c, 1, NULL, 0, NULL);
	done(e, r);
	if (r != -1 || (errno != ELOOP && errno != EINVAL))
		fail(th, C_EXACT, "a loop of two kqueues was not refused: %d (errno %d)", r, errno);
	c = kev(1, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, NULL);
	kcall(th, a, &c, 1, NULL, 0, NULL);
	c = kev(1, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL);
	kcall(th, a, &c, 1, NULL, 0, NULL);
	e = rec(th, "nest: poll kq %d", b);
	r = kcall(th, b, NULL, 0, out, 4, &ts_zero);
	done(e, r);
	if (r != 1 || (int)out[0].ident != a || out[0].filter != EVFILT_READ || out[0].data < 1)
		fail(th, C_EXACT, "kq %d watching kq %d with a pending event: %d events (errno %d)",
		     b, a, r, r < 0 ? errno : 0);
	/* Sometimes leave the private kqueue in the shared one, or the shared one in ours. */
	if (chance(th, 30)) {
		c = kev(th->pkq, EVFILT_READ, chance(th, 50) ? EV_ADD : EV_DELETE, 0, 0,
			UD(TAG_NEST, th->idx));
		e = rec(th, "nest: skq <- pkq %d (%s)", th->pkq, c.flags == EV_ADD ? "add" : "delete");
		done(e, kcall(th, g.skq, &c, 1, NULL, 0, NULL));
	} else if (chance(th, 30)) {
		c = kev(g.skq, EVFILT_READ, th->nested_in_pkq ? EV_DELETE : EV_ADD, 0, 0,
			UD(TAG_NEST, th->idx));
		e = rec(th, "nest: pkq <- skq (%s)", th->nested_in_pkq ? "delete" : "add");
		r = kcall(th, th->pkq, &c, 1, NULL, 0, NULL);
		done(e, r);
		if (r == 0)
			th->nested_in_pkq = !th->nested_in_pkq;
	}
out:
	if (chance(th, 50)) {	/* close the watched one first */
		close(a);
		close(b);
	} else {
		close(b);
		close(a);
	}
}

struct waiter {
	pthread_t thread;
	int kq;
	int raw;			/* raw ioctl with eventlist @buf */
	void *buf;
	long timeout_ms;
	atomic_int tid, entered;
	int ret, err;
	int64_t t_end;
	struct kevent ev[4];
};

static void *waiter_fn(void *arg)
{
	struct waiter *w = arg;
	struct timespec ts = { w->timeout_ms / 1000, (w->timeout_ms % 1000) * 1000000L };
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	atomic_store(&w->tid, (int)syscall(SYS_gettid));
	atomic_store(&w->entered, 1);
	if (w->raw) {
		struct __kernel_timespec kts = { ts.tv_sec, ts.tv_nsec };
		struct kqueue_kevent_args a = {
			.size = sizeof(a), .eventlist = (uintptr_t)w->buf, .nevents = 4,
			.timeout = (uintptr_t)&kts,
		};

		w->ret = ioctl(w->kq, KQUEUE_IOC_KEVENT, &a);
	} else {
		w->ret = kevent(w->kq, NULL, 0, w->ev, 4, &ts);
	}
	w->err = errno;
	w->t_end = now_ms();
	return NULL;
}

/* Is thread @tid sleeping (state S)? Waits up to @ms. */
static int sleeping(int tid, long ms)
{
	char path[64], buf[512], *p;
	int64_t end = now_ms() + ms;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	do {
		FILE *f = fopen(path, "r");

		if (f) {
			size_t n = fread(buf, 1, sizeof(buf) - 1, f);

			fclose(f);
			buf[n] = 0;
			p = strrchr(buf, ')');
			if (p && p[1] == ' ' && p[2] == 'S')
				return 1;
		}
		sleep_us(2000);
	} while (now_ms() < end);
	return 0;
}

static int waiter_sleeping(struct waiter *w, long ms)
{
	int64_t end = now_ms() + ms;

	while (!atomic_load(&w->entered) && now_ms() < end)
		sleep_us(1000);
	return atomic_load(&w->entered) && sleeping(atomic_load(&w->tid), end - now_ms());
}

static int join_within(pthread_t t, long ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return pthread_timedjoin_np(t, NULL, &ts);
}

/* close() of a kqueue (or of a dup of the shared one) while threads wait in it. */
static void op_close_wait(struct thr *th, int dup_shared)
{
	struct waiter w[2];
	int nw = dup_shared ? 1 : 1 + rn(th, 2), i, kq, ok = 1;
	int64_t t_close;
	long fl[NSLOT];
	struct ringent *e;

	kq = dup_shared ? dup(g.skq) : kqueue();
	if (kq < 0)
		return;
	e = rec(th, "%s %d with %d waiter(s)", dup_shared ? "close dup of skq" : "close kq", kq, nw);
	floors_snapshot(fl);
	memset(w, 0, sizeof(w));
	for (i = 0; i < nw; i++) {
		w[i].kq = kq;
		w[i].timeout_ms = dup_shared ? 2000 : 10000;
		if (pthread_create(&w[i].thread, NULL, waiter_fn, &w[i])) {
			nw = i;
			break;
		}
	}
	/* Close only once every waiter sleeps in kevent on this file: never a reused number. */
	for (i = 0; i < nw; i++)
		ok &= waiter_sleeping(&w[i], 3000);
	if (ok)
		close(kq);
	t_close = now_ms();
	for (i = 0; i < nw; i++) {
		if (join_within(w[i].thread, 40000)) {
			fail(th, C_HANG, "a thread waiting in kq %d was not woken by close() in 40 s "
			     "(sleeping before close: %d)", kq, ok);
			pthread_join(w[i].thread, NULL);	/* the alarm ends this */
		}
		if (dup_shared) {
			int k;

			for (k = 0; k < w[i].ret; k++)
				check_shared_event(th, &w[i].ev[k], fl);
			if (w[i].ret < 0 && w[i].err != EINTR)
				fail(th, C_EXACT, "waiter on a dup of the shared kqueue: %s",
				     strerror(w[i].err));
		} else if (ok) {
			check(C_EXACT);
			if (w[i].ret != -1 || w[i].err != EBADF || w[i].t_end - t_close > 5000)
				fail(th, C_EXACT, "waiter in a kqueue closed under it returned %d "
				     "(errno %d) after %lld ms, expected -1/EBADF at once", w[i].ret,
				     w[i].err, (long long)(w[i].t_end - t_close));
		}
	}
	if (!ok)
		close(kq);
	done(e, ok);
}

/* The event buffer of a waiting thread becomes inaccessible, then an event arrives. */
static void op_unmap_wait(struct thr *th)
{
	struct waiter w;
	struct kevent c;
	char *buf;
	int kq = kqueue(), ok, how = rn(th, 2);
	struct ringent *e;

	if (kq < 0)
		return;
	buf = mmap(NULL, g.pagesz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED) {
		close(kq);
		return;
	}
	c = kev(1, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, NULL);
	kcall(th, kq, &c, 1, NULL, 0, NULL);
	memset(&w, 0, sizeof(w));
	w.kq = kq;
	w.raw = 1;
	w.buf = buf + g.pagesz - 2 * sizeof(struct kevent);	/* 2 of 4 slots fit */
	w.timeout_ms = 5000;
	e = rec(th, "unmap-while-waiting kq %d (%s)", kq, how ? "PROT_NONE" : "read-only");
	if (pthread_create(&w.thread, NULL, waiter_fn, &w)) {
		munmap(buf, g.pagesz);
		close(kq);
		return;
	}
	ok = waiter_sleeping(&w, 3000);
	/*
	 * Replace the mapping rather than unmap it: an unmapped range could be
	 * reused by another thread's allocation, which the kernel would then
	 * write our events into.
	 */
	if (how)
		mmap(buf, g.pagesz, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	else
		mprotect(buf, g.pagesz, PROT_READ);
	c = kev(1, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL);
	kcall(th, kq, &c, 1, NULL, 0, NULL);
	if (join_within(w.thread, 40000)) {
		fail(th, C_HANG, "waiter with a revoked event buffer still blocked after 40 s");
		pthread_join(w.thread, NULL);
	}
	done(e, w.ret);
	check(C_FUZZ);
	if (ok && !(w.ret == -1 && w.err == EFAULT) && w.ret != 0)
		fail(th, C_FUZZ, "kevent into a buffer made %s while waiting returned %d (errno %d), "
		     "expected -1/EFAULT", how ? "PROT_NONE" : "read-only", w.ret, w.err);
	munmap(buf, g.pagesz);
	close(kq);
}

/* ---- processes ----------------------------------------------------------------------------------- */

static void child_sigs(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigaction(SIGALRM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	alarm(120);
}

static void op_proc(struct thr *th)
{
	int go[2], st, i, track = chance(th, 40), do_exec = chance(th, 25), sig = 0;
	int status = rn(th, 256), gstatus = rn(th, 256);
	int pidfd = -1, pd_close = chance(th, 30);
	unsigned int ff = NOTE_EXIT | NOTE_FORK | NOTE_EXEC | (track ? NOTE_TRACK : 0);
	struct proc_ent *p, *gc = NULL;
	char arg[16];
	char *argv[] = { "stress", "--exec-child", arg, NULL };
	struct kevent c;
	pid_t pid;
	int64_t end;
	struct ringent *e;

	if (!do_exec && chance(th, 20))
		sig = chance(th, 50) ? SIGKILL : SIGTERM;
	snprintf(arg, sizeof(arg), "%d", status);
	if (pipe2(go, O_CLOEXEC) < 0)
		return;
	th->nprocs = 0;
	e = rec(th, "fork: status %d sig %d exec %d track %d (grandchild status %d)", status, sig,
		do_exec, track, gstatus);
	pid = fork();
	if (pid == 0) {
		char b;

		child_sigs();
		close(go[1]);
		if (read(go[0], &b, 1) != 1)
			_exit(111);
		if (track) {
			pid_t gp = fork();

			if (gp == 0)
				_exit(gstatus);
			if (gp > 0)
				waitpid(gp, &st, 0);
		}
		if (do_exec)
			execv("/proc/self/exe", argv);
		if (sig)
			kill(getpid(), sig);
		_exit(status);
	}
	close(go[0]);
	done(e, pid);
	if (pid < 0) {
		close(go[1]);
		return;
	}
	p = proc_find(th, pid, 1);
	c = kev(pid, EVFILT_PROC, EV_ADD, ff, 0, UD(TAG_PROC, th->idx));
	e = rec(th, "watch pid %d fflags %#x", pid, ff);
	i = kcall(th, th->pkq, &c, 1, NULL, 0, NULL);
	done(e, i);
	if (i)
		fail(th, C_PROC, "EV_ADD EVFILT_PROC pid %d: %s", pid, strerror(errno));
	th->pd_exits = 0;
	if (chance(th, 50))
		pidfd = syscall(SYS_pidfd_open, pid, 0);
	if (pidfd >= 0) {
		c = kev(pidfd, EVFILT_PROCDESC, EV_ADD, NOTE_EXIT, 0, UD(TAG_PROC, th->idx));
		e = rec(th, "watch pidfd %d of pid %d%s", pidfd, pid, pd_close ? ", closed" : "");
		i = kcall(th, th->pkq, &c, 1, NULL, 0, NULL);
		done(e, i);
		if (i)
			fail(th, C_PROC, "EV_ADD EVFILT_PROCDESC pid %d: %s", pid, strerror(errno));
	}
	if (write(go[1], "g", 1) != 1)
		fail(th, C_PROC, "cannot start child %d", pid);
	close(go[1]);
	if (pidfd >= 0 && pd_close) {
		/* races with the exit; no event may come after it */
		if (chance(th, 50))
			usleep(rn(th, 3000));
		close(pidfd);
		pidfd = -1;
	}
	e = rec(th, "wait for NOTE_EXIT of %d%s", pid, track ? " and its child" : "");
	end = now_ms() + 60000;
	for (;;) {
		p = proc_find(th, pid, 0);
		gc = th->nprocs > 1 ? &th->procs[1] : NULL;
		if (p->exits && (!track || p->trackerr || (gc && gc->exits && gc->childs)) &&
		    (pidfd < 0 || th->pd_exits))
			break;
		if (now_ms() > end || atomic_load(&g.stop) > 1)
			break;
		pkq_collect(th, 200);
	}
	done(e, p->exits);
	if (waitpid(pid, &st, 0) != pid) {
		fail(th, C_PROC, "waitpid(%d): %s", pid, strerror(errno));
		return;
	}
	pkq_collect(th, 0);	/* nothing more for it */
	p = proc_find(th, pid, 0);
	gc = th->nprocs > 1 ? &th->procs[1] : NULL;
	check(C_PROC);
	if (p->exits != 1)
		fail(th, C_PROC, "pid %d exited (status %#x) with %d NOTE_EXIT events in 60 s", pid,
		     st, p->exits);
	else if (p->exit_data != st)
		fail(th, C_PROC, "NOTE_EXIT of pid %d: data %#lx, waitpid status %#x", pid,
		     (long)p->exit_data, st);
	if (do_exec && p->execs < 1)
		fail(th, C_PROC, "pid %d called execve, no NOTE_EXEC", pid);
	if (track && !p->trackerr) {
		if (p->forks < 1)
			fail(th, C_PROC, "pid %d forked, no NOTE_FORK", pid);
		if (!gc || gc->childs != 1 || gc->child_data != pid || gc->exits != 1 ||
		    gc->exit_data != (gstatus << 8))
			fail(th, C_PROC, "tracked grandchild of %d: pid %d, %d NOTE_CHILD (data %ld), "
			     "%d NOTE_EXIT (data %#lx, want %#x)", pid, gc ? gc->pid : -1,
			     gc ? gc->childs : 0, gc ? (long)gc->child_data : 0L, gc ? gc->exits : 0,
			     gc ? (long)gc->exit_data : 0L, gstatus << 8);
	}
	if (th->nprocs > (track ? 2 : 1))
		fail(th, C_PROC, "events for %d processes, expected %d", th->nprocs, track ? 2 : 1);
	if (pidfd >= 0 && (th->pd_exits != 1 || th->pd_data != st))
		fail(th, C_PROC, "pidfd of pid %d: %d EVFILT_PROCDESC exits (data %#lx, status %#x)",
		     pid, th->pd_exits, (long)th->pd_data, st);
	if (pd_close && th->pd_exits)
		fail(th, C_PROC, "pidfd of pid %d closed before the exit was collected: %d events",
		     pid, th->pd_exits);
	if (pidfd >= 0)
		close(pidfd);
	th->nprocs = 0;
}

static void op_signal(struct thr *th)
{
	int n = 1 + rn(th, 3), i;
	struct ringent *e = rec(th, "signal: %d x SIGUSR1 to the process", n);

	for (i = 0; i < n; i++)
		kill(getpid(), SIGUSR1);
	th->sig_sent += n;
	pkq_collect(th, 0);
	done(e, th->sig_seen);
	check(C_EXACT);
	if (th->sig_seen < th->sig_sent)
		fail(th, C_EXACT, "EVFILT_SIGNAL counted %ld of the %ld SIGUSR1 this thread sent",
		     th->sig_seen, th->sig_sent);
}

static void vn_open(struct thr *th)
{
	struct kevent c;

	th->vfd = open(th->vpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (th->vfd < 0)
		return;
	c = kev(th->vfd, EVFILT_VNODE, EV_ADD | EV_CLEAR, NOTE_DELETE | NOTE_WRITE | NOTE_EXTEND |
		NOTE_ATTRIB | NOTE_LINK | NOTE_RENAME | NOTE_TRUNCATE | NOTE_OPEN | NOTE_READ |
		NOTE_CLOSE | NOTE_CLOSE_WRITE, 0, UD(TAG_VN, th->idx));
	if (kcall(th, th->pkq, &c, 1, NULL, 0, NULL))
		fail(th, C_EXACT, "EV_ADD EVFILT_VNODE: %s", strerror(errno));
}

static void op_vnode(struct thr *th)
{
	int what = rn(th, 8), r = 0, fd;
	unsigned int want = 0;
	struct stat sb;
	char b;
	struct ringent *e;

	if (th->vfd < 0) {
		vn_open(th);
		if (th->vfd < 0)
			return;
	}
	pkq_collect(th, 0);
	th->vn_bits = 0;
	e = rec(th, "vnode fd %d: change %d", th->vfd, what);
	switch (what) {
	case 0: r = write(th->vfd, "data", 4); want = NOTE_WRITE; break;
	case 1: r = fchmod(th->vfd, 0600 | (rn(th, 2) << 6)); want = NOTE_ATTRIB; break;
	case 2:
		if (fstat(th->vfd, &sb) == 0 && sb.st_size > 0) {
			r = ftruncate(th->vfd, 0);
			want = NOTE_TRUNCATE | NOTE_WRITE | NOTE_ATTRIB | NOTE_EXTEND;
		}
		break;
	case 3:
		r = rename(th->vpath, th->vpath2);
		if (!r)
			r = rename(th->vpath2, th->vpath);
		want = NOTE_RENAME;
		break;
	case 4:
		r = link(th->vpath, th->vpath2);
		if (!r)
			r = unlink(th->vpath2);
		want = NOTE_LINK;
		break;
	case 5:
		r = pread(th->vfd, &b, 1, 0) < 0 ? -1 : 0;
		want = NOTE_READ;
		if (fstat(th->vfd, &sb) == 0 && sb.st_size == 0)
			want = 0;	/* a read of nothing is no NOTE_READ */
		break;
	case 6:
		fd = open(th->vpath, O_RDONLY | O_CLOEXEC);
		r = fd < 0 ? -1 : close(fd);
		want = NOTE_OPEN | NOTE_CLOSE;
		break;
	default:
		r = unlink(th->vpath);
		want = NOTE_DELETE;
		break;
	}
	done(e, r);
	if (r < 0)
		return;
	pkq_collect(th, 0);
	check(C_EXACT);
	if (want && !(th->vn_bits & want))
		fail(th, C_EXACT, "vnode change %d: no note of %#x (got %#x)", what, want, th->vn_bits);
	if (what >= 7) {	/* the file is gone: close it and start again */
		close(th->vfd);
		th->vfd = -1;
		pkq_collect(th, 0);
	}
}

static void op_timer(struct thr *th)
{
	struct kevent c;
	int r;
	struct ringent *e;

	if (chance(th, 50)) {	/* re-arm the periodic one */
		c = kev(TMR_PERIODIC, EVFILT_TIMER, EV_ADD, 0, 20 + rn(th, 80), UD(TAG_TMR, 0));
		e = rec(th, "timer: periodic re-arm %ld ms", (long)c.data);
	} else if (!th->tmr_pending) {
		c = kev(TMR_ONESHOT, EVFILT_TIMER, EV_ADD | EV_ONESHOT,
			NOTE_USECONDS, 100 + rn(th, 5000), UD(TAG_TMR, 0));
		th->tmr_armed++;
		th->tmr_pending = 1;
		e = rec(th, "timer: one-shot #%ld in %ld us", th->tmr_armed, (long)c.data);
	} else {
		pkq_collect(th, 10);
		return;
	}
	r = kcall(th, th->pkq, &c, 1, NULL, 0, NULL);
	done(e, r);
	if (r)
		fail(th, C_EXACT, "EV_ADD EVFILT_TIMER: %s", strerror(errno));
	pkq_collect(th, 0);
}

/* ---- the ioctl fuzzer ---------------------------------------------------------------------------- */

static long raw_ioctl(int fd, unsigned long cmd, void *arg)
{
	return syscall(SYS_ioctl, fd, cmd, arg);
}

/* A pointer of a random kind for @len bytes; *@good tells whether it is fully accessible for @write. */
static void *fuzz_ptr(struct thr *th, void *valid, size_t len, int write, int *good)
{
	switch (rn(th, 10)) {
	case 0: *good = len == 0; return NULL;
	case 1: *good = 0; return g.none_page;				/* no access */
	case 2: *good = !write || len == 0; return g.ro_page;		/* read-only */
	case 3:								/* runs into PROT_NONE */
		*good = len <= 16;
		return g.part_buf + g.pagesz - 16;
	case 4: *good = 0; return (void *)(uintptr_t)0xffff888000000000ULL;	/* kernel */
	case 5: *good = 0; return (void *)(uintptr_t)(rnd(th) | 1);
	default: *good = 1; return valid;
	}
}

static void fuzz_event(struct thr *th, struct kevent *k)
{
	static const uint64_t idents[] = { 0, 1, 2, 3, 7, 63, 64, 1000, ~0ULL, 0x7fffffff };

	memset(k, 0, sizeof(*k));
	k->ident = chance(th, 40) ? rn(th, 40) : idents[rn(th, 10)];
	k->filter = (short)(chance(th, 90) ? -(int)rn(th, 14) : (int)rnd(th));
	k->flags = chance(th, 70) ? (rn(th, 0x100) | EV_ADD) : (unsigned short)rnd(th);
	k->fflags = chance(th, 50) ? rn(th, 16) : (unsigned int)rnd(th);
	k->data = chance(th, 60) ? (intptr_t)rn(th, 100) - 10 : (intptr_t)rnd(th);
	k->udata = (void *)(uintptr_t)rnd(th);
	if (k->filter == EVFILT_TIMER && k->data >= 0) {	/* no CPU-eating timers */
		k->fflags &= ~(NOTE_USECONDS | NOTE_NSECONDS);
		k->data = 5 + rn(th, 100);
	}
	if (k->filter == EVFILT_PROC)
		k->ident = chance(th, 50) ? (uint64_t)getpid() : k->ident;
	if (k->filter == EVFILT_SIGNAL && k->ident == SIGKILL)
		k->ident = SIGUSR2;
}

static void op_fuzz(struct thr *th)
{
	static const uint32_t sizes[] = { 48, 48, 48, 40, 56, 4096, 4097, 0, 8, 47, 49, 1 << 20 };
	static const int counts[] = { 0, 1, 2, 4, 8, -1, INT32_MIN, KQUEUE_MAX_EVENTS + 1, 3, 5 };
	struct kevent ch[8], ev[8];
	struct __kernel_timespec ts[3] = { { 0, 0 }, { 0, 1000000 }, { 0, 1000000000 } };
	char abuf[4200] __attribute__((aligned(8)));
	struct kqueue_kevent_args *a;
	int i, gch, gev, gts, gargs = 1, nch, nev, expect = 0, kind = rn(th, 10);
	unsigned long cmd = KQUEUE_IOC_KEVENT;
	struct ringent *e;
	long r;

	if (th->fkq < 0 || ++th->fuzz_ops % 64 == 0) {	/* a fresh fuzz kqueue now and then */
		struct kevent c[2] = {
			kev(0xb0000000UL, EVFILT_USER, EV_ADD, 0, 0, NULL),
			kev(0xb0000000UL, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL),
		};

		if (th->fkq >= 0)
			close(th->fkq);
		th->fkq = kqueue();
		if (th->fkq < 0)
			return;
		/* A level-triggered event: no fuzzed wait can block for long. */
		kevent(th->fkq, c, 2, NULL, 0, NULL);
	}
	for (i = 0; i < 8; i++)
		fuzz_event(th, &ch[i]);
	memset(abuf, 0, sizeof(abuf));
	a = (void *)abuf;
	nch = counts[rn(th, 10)];
	nev = counts[rn(th, 10)];
	a->size = chance(th, 70) ? 48 : chance(th, 50) ? sizes[rn(th, 12)] : rn(th, 4200);
	a->flags = chance(th, 80) ? rn(th, 4) : (uint32_t)rnd(th);
	a->changelist = (uintptr_t)fuzz_ptr(th, ch, nch > 0 ? nch * 32 : 0, 0, &gch);
	a->eventlist = (uintptr_t)fuzz_ptr(th, ev, nev > 0 ? nev * 32 : 0, 1, &gev);
	a->nchanges = nch;
	a->nevents = nev;
	a->timeout = (uintptr_t)(chance(th, 10) ? NULL : fuzz_ptr(th, &ts[rn(th, 3)], 16, 0, &gts));
	if (chance(th, 10))
		a->__reserved = (uint32_t)rnd(th);
	if (a->size > 48 && a->size <= sizeof(abuf) && chance(th, 20))
		abuf[48 + rn(th, a->size - 48)] = 1;	/* non-zero unknown field */
	if (kind == 0) {	/* the argument block itself in bad memory */
		void *bad[] = { NULL, g.none_page, g.part_args + g.pagesz - 16,
				(void *)(uintptr_t)0xffff888000000000ULL };

		a = bad[rn(th, 4)];
		gargs = 0;
		expect = EFAULT;
	} else if (kind == 1) {	/* other ioctl numbers */
		static const unsigned long cmds[] = {
			KQUEUE_IOC_VERSION, _IO(KQUEUE_IOC_MAGIC, 2), _IOWR(KQUEUE_IOC_MAGIC, 1, int),
			_IOR(KQUEUE_IOC_MAGIC, 1, struct kqueue_kevent_args), _IO('T', 1),
			_IOWR(KQUEUE_IOC_MAGIC, 200, struct kqueue_kevent_args),
		};

		cmd = cmds[rn(th, 6)];
		if (cmd == _IO(KQUEUE_IOC_MAGIC, 2) || cmd == _IO('T', 1) ||
		    cmd == _IOWR(KQUEUE_IOC_MAGIC, 200, struct kqueue_kevent_args))
			expect = ENOTTY;
	} else if (kind == 2) {	/* exact: a bad size with everything else valid */
		memset(a, 0, sizeof(*a));
		a->size = chance(th, 50) ? rn(th, 40) : 4097 + rn(th, 10000);
		expect = a->size < 40 ? EINVAL : E2BIG;
	} else if (kind == 3) {	/* exact: a negative count or unknown flags */
		memset(a, 0, sizeof(*a));
		a->size = 48;
		if (chance(th, 50))
			a->flags = 0x100 << rn(th, 20);
		else
			a->nevents = -1 - (int)rn(th, 100);
		a->timeout = (uintptr_t)&ts[0];
		expect = EINVAL;
	} else if (kind == 4) {	/* exact: the pending event into an inaccessible buffer */
		memset(a, 0, sizeof(*a));
		a->size = 48;
		a->eventlist = (uintptr_t)(chance(th, 50) ? (void *)g.none_page : (void *)g.ro_page);
		a->nevents = 1;
		a->timeout = (uintptr_t)&ts[0];
		expect = EFAULT;
	}
	(void)gargs;
	e = rec(th, "fuzz kind %d cmd %#lx size %u flags %#x nch %d nev %d", kind, cmd,
		gargs ? a->size : 0, gargs ? a->flags : 0, gargs ? a->nchanges : 0,
		gargs ? a->nevents : 0);
	errno = 0;
	r = raw_ioctl(th->fkq, cmd, a);
	done(e, r);
	check(C_FUZZ);
	if (r == -1 && errno == EINTR)
		return;
	if (expect) {
		if (r != -1 || errno != expect)
			fail(th, C_FUZZ, "fuzz kind %d (cmd %#lx): returned %ld errno %d, expected "
			     "-1/%s", kind, cmd, r, errno, strerror(expect));
		return;
	}
	if (cmd == KQUEUE_IOC_VERSION) {
		if (r != KQUEUE_ABI_VERSION)
			fail(th, C_FUZZ, "KQUEUE_IOC_VERSION returned %ld", r);
		return;
	}
	if (cmd != KQUEUE_IOC_KEVENT)
		return;
	if (r >= 0 && (nev < 0 || r > nev))
		fail(th, C_FUZZ, "returned %ld for nevents %d", r, nev);
	if (r < -1)
		fail(th, C_FUZZ, "returned %ld", r);
}

static void op_poke(struct thr *th)
{
	int t = rn(th, g.nthreads);
	struct ringent *e = rec(th, "poke thread %d with SIGUSR2 if it waits", t);

	/* Only a thread in a wait: a hung change must stay hung, for the hang check. */
	done(e, atomic_load(&g.thr[t].in_kevent) == 2 && !pthread_kill(g.thr[t].thread, SIGUSR2));
}

/*
 * A burst of changes to one always-ready EVFILT_READ knote of the shared
 * region (a pipe with data) while the other threads collect it: modify
 * (new generation), disable/enable, delete/add. Other threads' scans hold
 * such a knote in flux while they poll the pipe.
 */
static void op_hot(struct thr *th)
{
	int s = 1 + 4 * rn(th, NSLOT / 4), i, n = 4 + rn(th, 16);
	struct slot *sl = &g.slot[s];
	uint64_t gen;

	pthread_mutex_lock(&sl->mu);
	if (sl->dead)
		slot_close(th, sl, s);
	if (sl->fd < 0) {
		int p[2];

		if (pipe2(p, O_NONBLOCK | O_CLOEXEC)) {
			pthread_mutex_unlock(&sl->mu);
			return;
		}
		sl->fd = p[0];
		sl->peer = p[1];
		rec(th, "shared %d: new pipe fd %d", s, sl->fd);
	}
	if (sl->peer >= 0 && write(sl->peer, "h", 1) < 0)
		;
	for (i = 0; i < n && !atomic_load(&g.stop); i++) {
		switch (rn(th, 4)) {
		case 0: case 1:
			gen = atomic_fetch_add(&sl->gen, 1) + 1;
			slot_change(th, s, kev(sl->fd, EVFILT_READ, EV_ADD, 0, 0,
					       UD(TAG_SLOT, ((uint64_t)s << 40) | gen)), 0);
			break;
		case 2:
			slot_change(th, s, kev(sl->fd, EVFILT_READ, chance(th, 50) ? EV_DISABLE : EV_ENABLE,
					       0, 0, UD(TAG_SLOT, ((uint64_t)s << 40) |
							atomic_load(&sl->gen))), 0);
			break;
		default:
			slot_change(th, s, kev(sl->fd, EVFILT_READ, EV_DELETE, 0, 0, NULL), 0);
			atomic_store(&sl->floor, atomic_load(&sl->gen) + 1);
			break;
		}
	}
	pthread_mutex_unlock(&sl->mu);
}

/* ---- threads ------------------------------------------------------------------------------------------ */

static int op_total;

static int pick_op(struct thr *th)
{
	int i, x = rn(th, op_total);

	for (i = 0; i < NOPS; i++) {
		x -= op_weight[i];
		if (x < 0)
			return i;
	}
	return OP_COLLECT;
}

static void *worker(void *arg)
{
	struct thr *th = arg;

	th->tid = (pid_t)syscall(SYS_gettid);
	while (!atomic_load(&g.started))
		sleep_us(1000);
	while (!atomic_load(&g.stop)) {
		int op = pick_op(th);

		atomic_store(&th->op_start, now_ms());
		th->counts[op]++;
		switch (op) {
		case OP_COLLECT: op_collect(th, 0); break;
		case OP_COLLECT_CHG: op_collect(th, 1); break;
		case OP_LEVEL: op_level(th); break;
		case OP_PRIV: op_priv(th); break;
		case OP_SLOT: op_slot(th); break;
		case OP_RECEIPT: op_receipt(th); break;
		case OP_NEST: op_nest(th); break;
		case OP_CLOSE_WAIT: op_close_wait(th, 0); break;
		case OP_DUP_WAIT: op_close_wait(th, 1); break;
		case OP_PROC: op_proc(th); break;
		case OP_SIGNAL: op_signal(th); break;
		case OP_VNODE: op_vnode(th); break;
		case OP_TIMER: op_timer(th); break;
		case OP_FUZZ: op_fuzz(th); break;
		case OP_UNMAP_WAIT: op_unmap_wait(th); break;
		case OP_POKE: op_poke(th); break;
		case OP_HOT: op_hot(th); break;
		}
		atomic_store(&th->op_start, 0);
	}
	/* Leave blocked in the shared kqueue: the stop event must wake us. */
	{
		struct kevent ev[4];
		long fl[NSLOT];
		int r, i;
		struct ringent *e = rec(th, "final wait in skq without timeout");

		atomic_store(&th->op_start, now_ms());
		floors_snapshot(fl);
		do
			r = kcall(th, g.skq, NULL, 0, ev, 4, NULL);
		while (r < 0 && errno == EINTR);
		done(e, r);
		for (i = 0; i < r; i++)
			check_shared_event(th, &ev[i], fl);
		atomic_store(&th->op_start, 0);
	}
	return NULL;
}

static void on_signal(int sig)
{
	(void)sig;
}

static void on_alarm(int sig)
{
	char msg[200];
	int n;

	(void)sig;
	n = snprintf(msg, sizeof(msg), "# FAIL: stress overran its time (seed %" PRIu64
		     "); killed by its watchdog\nnot ok %d %s\n# Totals: pass:0 fail:1 xfail:0 "
		     "xpass:0 skip:0 error:0\n", g.seed, C_HANG + 1, cat_name[C_HANG]);
	if (write(1, msg, n) < 0)
		_exit(3);
	_exit(1);
}

static void setup_thread(struct thr *th, int idx)
{
	struct kevent c[4];
	int k, n = 0;

	th->idx = idx;
	th->rng = stream_start(g.seed, idx);
	th->fkq = -1;
	th->vfd = -1;
	snprintf(th->vpath, sizeof(th->vpath), "/tmp/kqstress-%d-%d", getpid(), idx);
	snprintf(th->vpath2, sizeof(th->vpath2), "/tmp/kqstress-%d-%d.b", getpid(), idx);
	unlink(th->vpath);
	th->pkq = kqueue();
	if (th->pkq < 0) {
		fprintf(stdout, "# kqueue(): %s\n", strerror(errno));
		exit(1);
	}
	c[n++] = kev(SIGUSR1, EVFILT_SIGNAL, EV_ADD, 0, 0, UD(TAG_SIG, idx));
	c[n++] = kev(TMR_PERIODIC, EVFILT_TIMER, EV_ADD, 0, 50, UD(TAG_TMR, 0));
	if (kevent(th->pkq, c, n, NULL, 0, NULL)) {
		fprintf(stdout, "# private kqueue set-up: %s\n", strerror(errno));
		exit(1);
	}
	for (k = 0; k < NPRIV; k++) {
		if (priv_kind(k) != 2)
			continue;
		c[0] = kev(PRIV_IDENT(idx, k), EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0,
			   UD(TAG_PRIV, ((uint64_t)idx << 40) | ((uint64_t)k << 32)));
		if (kevent(g.skq, c, 1, NULL, 0, NULL)) {
			fprintf(stdout, "# shared kqueue set-up: %s\n", strerror(errno));
			exit(1);
		}
	}
}

/*
 * Worker processes: the level-triggered kqueue polled from other processes
 * at the same time as the threads poll it (so scans of two processes share
 * its knotes), through the inherited descriptor and through dups of it that
 * are closed again (close() of a kqueue descriptor in one process while
 * others use the kqueue). Each first closes its copies of the other
 * kqueues, while the threads use them. Results go through shared memory
 * and the exit status.
 */
#define MAXW		8

struct wstat {
	atomic_long polls, dups;
};

static struct wstat *wstat;
static int nworkers = 2;
static pid_t wpid[MAXW];

static int stop_asked(int stopfd)
{
	struct pollfd pfd = { .fd = stopfd, .events = POLLIN };

	return poll(&pfd, 1, 0) != 0;
}

static void proc_worker(int w, const int stop_pipe[2])
{
	static struct thr self;
	int t, n = 0;

	self.idx = 100 + w;
	self.rng = stream_start(g.seed, 1000 + w);
	alarm(g.duration + g.hang + 60);
	close(stop_pipe[1]);
	close(g.skq);
	for (t = 0; t < g.nthreads; t++)
		close(g.thr[t].pkq);
	while (!stop_asked(stop_pipe[0]) && !atomic_load(&g.nfail[C_LEVEL])) {
		/* Bursts, so that the threads get the CPU too. */
		if (++n % 16 == 0)
			sleep_us(2000);
		if (chance(&self, 80)) {
			level_poll(&self);
		} else {
			int d = dup(g.lkq);

			if (d < 0)
				continue;
			level_poll_on(&self, d);
			close(d);
			atomic_fetch_add(&wstat[w].dups, 1);
		}
		atomic_fetch_add(&wstat[w].polls, 1);
	}
	_exit(atomic_load(&g.nfail[C_LEVEL]) ? 1 : 0);
}

/* Forks the workers, with the library's fork cleanup off so they keep the kqueues. */
static int start_workers(const int stop_pipe[2])
{
	struct kevent c = kev(0, EVFILT_LIBKQUEUE, EV_ADD, NOTE_FORK_CLEANUP, 0, NULL);
	int w;

	wstat = mmap(NULL, sizeof(*wstat) * MAXW, PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (wstat == MAP_FAILED || kevent(g.skq, &c, 1, NULL, 0, NULL))
		return -1;
	for (w = 0; w < nworkers; w++) {
		wpid[w] = fork();
		if (wpid[w] == 0)
			proc_worker(w, stop_pipe);
		if (wpid[w] < 0)
			return -1;
	}
	c.data = 1;
	return kevent(g.skq, &c, 1, NULL, 0, NULL);
}

/*
 * Ends the workers (closing @stopw stops them, once the children of op_proc
 * that inherited it are gone too) and checks how they ended.
 */
static void stop_workers(int stopw)
{
	int64_t dl = now_ms() + 60000;
	int w, st;

	close(stopw);
	for (w = 0; w < nworkers; w++) {
		pid_t r;

		while ((r = waitpid(wpid[w], &st, WNOHANG)) == 0 && now_ms() < dl)
			sleep_us(20000);
		check(C_HANG);
		if (r == 0) {
			fail(NULL, C_HANG, "worker process %d not gone 60 s after the stop", wpid[w]);
			kill(wpid[w], SIGKILL);
			waitpid(wpid[w], &st, 0);
			continue;
		}
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			fail(NULL, C_LEVEL, "worker process %d ended with status %#x", wpid[w], st);
		atomic_fetch_add(&g.checks[C_LEVEL], atomic_load(&wstat[w].polls));
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: stress [--seed N] [--duration SECONDS] [--threads N] "
		"[--procs N] [--hang SECONDS] [--quiet]\n");
	exit(2);
}

/*
 * Every thread may wait on the shared kqueue without a timeout while none of
 * its knotes can fire (all deleted or disabled): nothing would wake them, a
 * deadlock of the harness. When every thread has been in the same kevent()
 * call for a second, look: if the shared kqueue has events pending, the
 * kernel failed to wake them (a hang, reported with their stacks);
 * otherwise trigger the wake knote and go on. Returns 1 on a hang.
 */
static long all_wait_wakes;

static int wake_if_all_wait(void)
{
	static long long since[MAXT];
	static int checks;
	struct pollfd pfd = { .fd = g.skq, .events = POLLIN };
	struct kevent c;
	int t;

	for (t = 0; t < g.nthreads; t++) {
		long long st = atomic_load(&g.thr[t].op_start);

		if (atomic_load(&g.thr[t].in_kevent) != 2 || (checks && since[t] != st))
			break;
		since[t] = st;
	}
	checks = t == g.nthreads ? checks + 1 : 0;
	if (checks < 5)
		return 0;
	checks = 0;
	if (poll(&pfd, 1, 0) == 1) {
		fail(NULL, C_HANG, "every thread waited 1 s in kevent() while the shared kqueue "
		     "had events pending");
		return 1;
	}
	all_wait_wakes++;
	printf("# every thread waited 1 s, the shared kqueue has nothing pending: wake event %ld\n",
	       all_wait_wakes);
	for (t = 0; t < g.nthreads; t++)	/* racy reads of the rings: only a hint */
		printf("#   thread %d in: %.88s\n", t,
		       g.thr[t].ring[(g.thr[t].nring - 1) % RING].txt);
	c = kev(WAKE_IDENT, EVFILT_USER, 0, NOTE_TRIGGER, 0, UD(TAG_STOP, 1));
	if (kevent(g.skq, &c, 1, NULL, 0, NULL))
		fail(NULL, C_EXACT, "triggering the wake event: %s", strerror(errno));
	return 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	struct kevent c[2];
	int i, t, total_fail = 0, pass = 0, stop_pipe[2];
	int64_t end, next_report;
	long counts[NOPS] = { 0 }, errs[NOPS] = { 0 }, events = 0;

	if (argc == 3 && !strcmp(argv[1], "--exec-child"))
		_exit(atoi(argv[2]));

	g.seed = 0;
	g.duration = 30;
	g.nthreads = 4;
	g.hang = 120;
	{
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		g.seed = ((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ getpid()) % 1000000000;
	}
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seed") && i + 1 < argc)
			g.seed = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--duration") && i + 1 < argc)
			g.duration = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			g.nthreads = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--procs") && i + 1 < argc)
			nworkers = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--hang") && i + 1 < argc)
			g.hang = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--quiet"))
			g.quiet = 1;
		else
			usage();
	}
	if (g.nthreads < 1 || g.nthreads > MAXT || g.duration < 1 || g.hang < 5 ||
	    nworkers < 0 || nworkers > MAXW)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);

	printf("TAP version 13\n1..%d\n", NCAT);
	printf("# stress: seed %" PRIu64 ", %d threads, %d s (replay: stress --seed %" PRIu64
	       " --threads %d --duration %d)\n", g.seed, g.nthreads, g.duration, g.seed,
	       g.nthreads, g.duration);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;	/* kevent() is never restarted; the rest is */
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	sa.sa_handler = on_alarm;
	sa.sa_flags = 0;
	sigaction(SIGALRM, &sa, NULL);
	alarm(g.duration + g.hang + 90);
	signal(SIGPIPE, SIG_IGN);

	pthread_mutex_init(&g.print_mu, NULL);
	g.pagesz = sysconf(_SC_PAGESIZE);
	g.ro_page = mmap(NULL, g.pagesz, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	g.none_page = mmap(NULL, g.pagesz, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	g.part_buf = mmap(NULL, 2 * g.pagesz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			  -1, 0);
	g.part_args = mmap(NULL, 2 * g.pagesz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			   -1, 0);
	if (g.ro_page == MAP_FAILED || g.none_page == MAP_FAILED || g.part_buf == MAP_FAILED ||
	    g.part_args == MAP_FAILED || mprotect(g.part_buf + g.pagesz, g.pagesz, PROT_NONE)) {
		printf("# mmap: %s\n", strerror(errno));
		return 1;
	}
	/* An argument block whose size field is readable and whose rest is not. */
	*(uint32_t *)(g.part_args + g.pagesz - 16) = 48;
	mprotect(g.part_args, g.pagesz, PROT_READ);
	mprotect(g.part_args + g.pagesz, g.pagesz, PROT_NONE);
	g.devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	g.skq = kqueue();
	g.lkq = kqueue();
	if (g.skq < 0 || g.lkq < 0 || g.devnull < 0 || pipe2(g.lpipe, O_CLOEXEC)) {
		printf("# Bail out! kqueue(): %s (is the kqueue module loaded?)\n", strerror(errno));
		return 1;
	}
	/* The level-triggered kqueue: a triggered EVFILT_USER and a readable pipe, forever. */
	if (write(g.lpipe[1], "x", 1) != 1)
		return 1;
	c[0] = kev(1, EVFILT_USER, EV_ADD, 0, 0, UD(TAG_LVL, 1));
	c[1] = kev(g.lpipe[0], EVFILT_READ, EV_ADD, 0, 0, UD(TAG_LVL, 2));
	if (kevent(g.lkq, c, 2, NULL, 0, NULL) ||
	    (c[0] = kev(1, EVFILT_USER, 0, NOTE_TRIGGER, 0, UD(TAG_LVL, 1)),
	     kevent(g.lkq, c, 1, NULL, 0, NULL))) {
		printf("# Bail out! level kqueue set-up: %s\n", strerror(errno));
		return 1;
	}
	c[0] = kev(STOP_IDENT, EVFILT_USER, EV_ADD, 0, 0, UD(TAG_STOP, 0));
	kevent(g.skq, c, 1, NULL, 0, NULL);
	c[0] = kev(WAKE_IDENT, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, UD(TAG_STOP, 1));
	kevent(g.skq, c, 1, NULL, 0, NULL);
	for (i = 0; i < NSLOT; i++) {
		pthread_mutex_init(&g.slot[i].mu, NULL);
		g.slot[i].fd = g.slot[i].peer = -1;
	}
	for (t = 0; t < g.nthreads; t++)
		setup_thread(&g.thr[t], t);
	if (pipe2(stop_pipe, O_CLOEXEC) || start_workers(stop_pipe)) {
		printf("# Bail out! worker processes: %s\n", strerror(errno));
		return 1;
	}
	close(stop_pipe[0]);

	for (i = 0; i < NOPS; i++)
		op_total += op_weight[i];
	for (t = 0; t < g.nthreads; t++)
		if (pthread_create(&g.thr[t].thread, NULL, worker, &g.thr[t])) {
			printf("# Bail out! pthread_create failed\n");
			return 1;
		}
	g.t0 = now_ms();
	atomic_store(&g.started, 1);

	/* Run, watching for operations that take too long. */
	end = g.t0 + g.duration * 1000LL;
	next_report = g.t0 + 10000;
	while (!atomic_load(&g.stop) && now_ms() < end) {
		sleep_us(200000);
		if (wake_if_all_wait())
			break;
		for (t = 0; t < g.nthreads; t++) {
			long long st = atomic_load(&g.thr[t].op_start);

			if (st && now_ms() - st > g.hang * 1000LL) {
				fail(&g.thr[t], C_HANG, "thread %d stuck in one operation for %d s "
				     "(in kevent: %d)", t, g.hang, atomic_load(&g.thr[t].in_kevent));
				break;
			}
		}
		if (now_ms() >= next_report) {
			long ops = 0;

			for (t = 0; t < g.nthreads; t++)
				for (i = 0; i < NOPS; i++)
					ops += g.thr[t].counts[i];
			printf("# t=%llds: %ld operations\n", (long long)(now_ms() - g.t0) / 1000, ops);
			next_report += 10000;
		}
	}
	if (atomic_load(&g.nfail[C_HANG])) {
		/* Threads are stuck in the kernel: report and leave. */
		for (t = 0; t < g.nthreads; t++) {
			char path[64], buf[256];
			FILE *f;

			dump_ring(&g.thr[t]);
			snprintf(path, sizeof(path), "/proc/self/task/%d/wchan", g.thr[t].tid);
			f = fopen(path, "r");
			if (f && fgets(buf, sizeof(buf), f))
				printf("# thread %d (tid %d) wchan %s\n", t, g.thr[t].tid, buf);
			if (f)
				fclose(f);
			/* the kernel stack, where readable (root) */
			snprintf(path, sizeof(path), "/proc/self/task/%d/stack", g.thr[t].tid);
			f = fopen(path, "r");
			while (f && fgets(buf, sizeof(buf), f))
				printf("#   %s", buf);
			if (f)
				fclose(f);
		}
		for (i = 0; i < NCAT; i++)
			printf("%s %d %s\n", atomic_load(&g.nfail[i]) ? "not ok" : "ok", i + 1,
			       cat_name[i]);
		printf("# Totals: pass:%d fail:%d xfail:0 xpass:0 skip:0 error:0\n", 0, NCAT);
		fflush(stdout);
		_exit(1);
	}

	/* Stop: a level-triggered event wakes every thread blocked without a timeout. */
	atomic_store(&g.stop, 1);
	c[0] = kev(STOP_IDENT, EVFILT_USER, 0, NOTE_TRIGGER, 0, UD(TAG_STOP, 0));
	if (kevent(g.skq, c, 1, NULL, 0, NULL))
		fail(NULL, C_EXACT, "triggering the stop event: %s", strerror(errno));
	for (t = 0; t < g.nthreads; t++) {
		check(C_HANG);
		if (join_within(g.thr[t].thread, 60000)) {
			fail(&g.thr[t], C_HANG, "thread %d not joined 60 s after the stop event "
			     "(in kevent: %d)", t, atomic_load(&g.thr[t].in_kevent));
			dump_ring(&g.thr[t]);
			for (i = 0; i < NCAT; i++)
				printf("%s %d %s\n", atomic_load(&g.nfail[i]) ? "not ok" : "ok", i + 1,
				       cat_name[i]);
			printf("# Totals: pass:0 fail:%d xfail:0 xpass:0 skip:0 error:0\n", NCAT);
			fflush(stdout);
			_exit(1);
		}
	}

	stop_workers(stop_pipe[1]);

	/* Quiesce: no more shared knotes, re-enable what we disabled, drain, then count. */
	c[0] = kev(STOP_IDENT, EVFILT_USER, EV_DELETE, 0, 0, NULL);
	kevent(g.skq, c, 1, NULL, 0, NULL);
	c[0] = kev(WAKE_IDENT, EVFILT_USER, EV_DELETE, 0, 0, NULL);
	kevent(g.skq, c, 1, NULL, 0, NULL);
	for (i = 0; i < NSLOT; i++) {
		struct slot *sl = &g.slot[i];

		if (sl->fd >= 0)
			close(sl->fd);
		if (sl->peer >= 0)
			close(sl->peer);
		sl->fd = sl->peer = -1;
		if (i % 4 == 0 || i % 4 == 3) {
			c[0] = kev(SLOT_IDENT(i), slot_filter(i), EV_DELETE, 0, 0, NULL);
			kevent(g.skq, c, 1, NULL, 0, NULL);
		}
		atomic_store(&sl->floor, atomic_load(&sl->gen) + 1);
	}
	for (t = 0; t < g.nthreads; t++) {
		c[0] = kev(g.thr[t].pkq, EVFILT_READ, EV_DELETE, 0, 0, NULL);
		kevent(g.skq, c, 1, NULL, 0, NULL);
		for (i = 0; i < NPRIV; i++) {
			struct priv *p = &g.priv[t][i];

			if (priv_kind(i) == 1 && p->disabled) {
				c[0] = kev(PRIV_IDENT(t, i), EVFILT_USER, EV_ENABLE, 0, 0,
					   UD(TAG_PRIV, ((uint64_t)t << 40) | ((uint64_t)i << 32)));
				kevent(g.skq, c, 1, NULL, 0, NULL);
				p->disabled = 0;
			}
		}
	}
	{
		struct thr *th = &g.thr[0];
		struct kevent ev[16];
		long fl[NSLOT];
		struct timespec ts = { 0, 300000000 };
		int64_t dl = now_ms() + 10000;
		int r;

		do {
			floors_snapshot(fl);
			r = kevent(g.skq, NULL, 0, ev, 16, &ts);
			for (i = 0; i < r; i++)
				check_shared_event(th, &ev[i], fl);
		} while ((r > 0 || (r < 0 && errno == EINTR)) && now_ms() < dl);
	}
	for (t = 0; t < g.nthreads; t++) {
		struct thr *th = &g.thr[t];
		int64_t dl = now_ms() + 10000;

		while (th->tmr_pending && now_ms() < dl)
			pkq_collect(th, 100);
		check(C_EXACT);
		if (th->tmr_fired != th->tmr_armed)
			fail(th, C_EXACT, "one-shot timer: %ld armings, %ld fired", th->tmr_armed,
			     th->tmr_fired);
		for (i = 0; i < NPRIV; i++) {
			struct priv *p = &g.priv[t][i];
			long armed = atomic_load(&p->armed), del = atomic_load(&p->delivered);
			long canc = atomic_load(&p->cancelled);

			if (priv_kind(i) == 2) {
				check(C_LOST);
				if (atomic_load(&p->seen_max) != atomic_load(&p->triggered))
					fail(th, C_LOST, "EV_CLEAR ident %#lx: trigger #%ld sent, the "
					     "latest seen is #%ld", (long)PRIV_IDENT(t, i),
					     atomic_load(&p->triggered), atomic_load(&p->seen_max));
				continue;
			}
			check(C_ONCE);
			if (del > armed || del + canc < armed)
				fail(th, C_ONCE, "%s ident %#lx: %ld armings, %ld delivered, %ld "
				     "deleted before delivery", priv_kind(i) ? "EV_DISPATCH" : "EV_ONESHOT",
				     (long)PRIV_IDENT(t, i), armed, del, canc);
			if (del + canc > armed)
				g.anomalies++;
		}
		close(th->pkq);
		if (th->fkq >= 0)
			close(th->fkq);
		if (th->vfd >= 0)
			close(th->vfd);
		unlink(th->vpath);
		unlink(th->vpath2);
	}
	close(g.skq);
	close(g.lkq);

	/* Report. */
	for (t = 0; t < g.nthreads; t++) {
		for (i = 0; i < NOPS; i++) {
			counts[i] += g.thr[t].counts[i];
			errs[i] += g.thr[t].errs[i];
		}
		events += g.thr[t].events;
	}
	printf("# operations (seed %" PRIu64 ", %d threads, %.1f s):\n", g.seed, g.nthreads,
	       (now_ms() - g.t0) / 1000.0);
	for (i = 0; i < NOPS; i++)
		printf("#   %-24s %8ld\n", op_name[i], counts[i]);
	{
		long wp = 0, wd = 0;

		for (i = 0; i < nworkers; i++) {
			wp += atomic_load(&wstat[i].polls);
			wd += atomic_load(&wstat[i].dups);
		}
		printf("#   %-24s %8ld (%d processes; %ld through a dup closed after)\n",
		       "process-level-poll", wp, nworkers, wd);
	}
	printf("#   events collected from the shared kqueue: %ld\n", events);
	printf("#   deletes that succeeded although the arming was delivered: %ld\n",
	       atomic_load(&g.anomalies));
	printf("#   EINTR from calls that should not wait (zero timeout or nevents 0): %ld\n",
	       atomic_load(&eintr_nowait));
	printf("#   wake events sent because every thread waited: %ld\n", all_wait_wakes);
	printf("# checks made:");
	for (i = 0; i < NCAT; i++)
		printf(" %s=%ld", cat_name[i], atomic_load(&g.checks[i]));
	printf("\n");
	for (i = 0; i < NCAT; i++) {
		int f = atomic_load(&g.nfail[i]);

		if (f)
			total_fail++;
		else
			pass++;
		printf("%s %d %s%s\n", f ? "not ok" : "ok", i + 1, cat_name[i],
		       f ? "" : "");
		if (f)
			printf("# %s: %d failure(s), seed %" PRIu64 "\n", cat_name[i], f, g.seed);
	}
	printf("# Totals: pass:%d fail:%d xfail:0 xpass:0 skip:0 error:0\n", pass, total_fail);
	return total_fail ? 1 : 0;
}
