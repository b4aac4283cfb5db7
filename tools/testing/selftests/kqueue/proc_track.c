// SPDX-License-Identifier: GPL-2.0
/*
 * EVFILT_PROC NOTE_TRACK (contract section 3; FreeBSD semantics).
 *
 * At each fork of a tracked process:
 *  - a NOTE_CHILD event: ident = child pid, fflags == NOTE_CHILD, data =
 *    parent pid, udata = the parent knote's, flags = the parent's |
 *    EV_ONESHOT (proc_child_ev());
 *  - the child gets a knote of its own (same fflags, udata; flags
 *    EV_ADD|EV_CLEAR) before it runs, so its forks and its exit are seen,
 *    grandchildren too;
 *  - the parent's knote reports NOTE_FORK only if NOTE_FORK was asked for.
 * The NOTE_CHILD event and the child's NOTE_EXIT are never merged, even
 * when the child exits at once, and no event is lost: the counts below are
 * exact. NOTE_TRACKERR (knote cap) is in module.c.
 *
 * The test process is a child subreaper, so that every orphaned
 * descendant is reaped here and its status compared with its NOTE_EXIT.
 */
#include <stdatomic.h>
#include <sys/mman.h>

#include "kqueue_test.h"

#define U(x) ((void *)(uintptr_t)(x))
#define WAIT_MS 10000
#define QUIET_MS 500
#define TRACK (NOTE_TRACK | NOTE_EXIT)
#define TRACK_FORK (NOTE_TRACK | NOTE_EXIT | NOTE_FORK)

FIXTURE(track) {
	int unused;
};

FIXTURE_SETUP(track)
{
	proc_subreaper(_metadata);
}

FIXTURE_TEARDOWN(track)
{
	int st;

	while (waitpid(-1, &st, WNOHANG) > 0)
		;
}

/* Index of the only event for (@ident, exactly @fflags), or -1 (none or several). */
static int find_ev(const struct kevent *ev, int n, uintptr_t ident, unsigned int fflags)
{
	int i, at = -1;

	for (i = 0; i < n; i++)
		if (ev[i].ident == ident && ev[i].fflags == fflags) {
			if (at >= 0)
				return -1;
			at = i;
		}
	return at;
}

static void dump_events(struct __test_metadata *_metadata, const struct kevent *ev, int n)
{
	char b[160];
	int i;

	for (i = 0; i < n && i < 80; i++)
		TH_LOG("  event %d: %s", i, kev_str(&ev[i], b, sizeof(b)));
}

/* The only event for (@ident, @fflags) must equal @exp. */
#define ASSERT_HAS_EV(ev, n, exp) do { \
	struct kevent __e = (exp); \
	int __i = find_ev(ev, n, __e.ident, __e.fflags); \
	if (__i < 0) \
		dump_events(_metadata, ev, n); \
	ASSERT_LE(0, __i) TH_LOG("no single event for ident %lu fflags %#x", \
				 (unsigned long)__e.ident, __e.fflags); \
	ASSERT_KEV(__e, &(ev)[__i]); \
} while (0)

/* Collect exactly @want events within @ms (and nothing more for QUIET_MS). */
static int collect_exact(struct __test_metadata *_metadata, int kq, struct kevent *ev, int max,
			 int want, long ms)
{
	int n = proc_collect(kq, ev, max, want, ms, QUIET_MS);

	if (n != want)
		dump_events(_metadata, ev, n > 0 ? n : 0);
	ASSERT_EQ(want, n);
	return n;
}

/* ---- one tracked parent, its child and grandchild ---------------------------- */

/*
 * Commands:
 *   'g'  fork C, which forks GC (GC exits 9 at once, not reaped by C) and
 *        then waits on a pipe; reply C's pid
 *   'c'  release C (exits 5), reap it, reply its status (int)
 *   'x'  exit 0
 */
static int tracked_parent(int in, int out, void *arg)
{
	int cg[2] = { -1, -1 }, st, cmd;
	pid_t c = -1, gc;
	char b;

	(void)arg;
	for (;;) {
		cmd = kid_cmd(in);
		switch (cmd) {
		case 'g':
			KID_CHECK(pipe(cg) == 0);
			c = fork();
			KID_CHECK(c >= 0);
			if (c == 0) {
				close(cg[1]);
				gc = fork();
				if (gc < 0)
					_exit(20);
				if (gc == 0)
					_exit(9);
				if (read(cg[0], &b, 1) != 1)
					_exit(21);
				_exit(5);
			}
			close(cg[0]);
			KID_CHECK(kid_reply(out, &c, sizeof(c)) == 0);
			break;
		case 'c':
			KID_CHECK(write(cg[1], "c", 1) == 1);
			KID_CHECK(waitpid(c, &st, 0) == c);
			KID_CHECK(kid_reply(out, &st, sizeof(st)) == 0);
			break;
		case 'x':
			return 0;
		default:
			return 2;
		}
	}
}

/*
 * P tracked with @fflags: after 'g', the exact events of P (NOTE_FORK if
 * asked for), C and GC; then C's exit (unless its knote was deleted, with
 * @delete_child), then P's.
 */
static void check_tracking(struct __test_metadata *_metadata, unsigned int fflags,
			   int delete_child)
{
	int fork_note = !!(fflags & NOTE_FORK), want = 3 + 2 * fork_note, kq, n, st;
	struct kevent ev[16];
	void *ud = U(0x40 + fflags);
	pid_t c, gc;
	struct kid p;

	watchdog(100);
	kq = kq_new(_metadata);
	kid_spawn(_metadata, &p, tracked_parent, NULL);
	proc_watch(_metadata, kq, p.pid, fflags, ud);
	ASSERT_NO_EVENT(kq);
	kid_send(_metadata, &p, 'g');
	kid_recv(_metadata, &p, &c, sizeof(c), WAIT_MS);

	n = collect_exact(_metadata, kq, ev, 16, want, WAIT_MS);
	ASSERT_HAS_EV(ev, n, proc_child_ev(c, p.pid, EV_ADD, ud));
	/* GC: the NOTE_CHILD whose parent is C */
	gc = 0;
	for (int i = 0; i < n; i++)
		if (ev[i].fflags == NOTE_CHILD && ev[i].data == c)
			gc = ev[i].ident;
	ASSERT_NE(0, gc) TH_LOG("no NOTE_CHILD for C's child");
	ASSERT_HAS_EV(ev, n, proc_child_ev(gc, c, EV_ADD, ud));
	ASSERT_HAS_EV(ev, n, proc_ev(gc, EV_ADD, NOTE_EXIT, 9 << 8, ud));
	if (fork_note) {
		ASSERT_HAS_EV(ev, n, proc_ev(p.pid, EV_ADD, NOTE_FORK, 0, ud));
		ASSERT_HAS_EV(ev, n, proc_ev(c, EV_ADD, NOTE_FORK, 0, ud));
	}
	/* GC's knote went with its exit */
	ASSERT_CHANGE_ERR(kq, kev(gc, EVFILT_PROC, EV_DELETE, 0, 0, NULL), ENOENT);

	if (delete_child) {
		kq_change(_metadata, kq, kev(c, EVFILT_PROC, EV_DELETE, 0, 0, NULL));
		ASSERT_CHANGE_ERR(kq, kev(c, EVFILT_PROC, EV_DELETE, 0, 0, NULL), ENOENT);
	}
	kid_send(_metadata, &p, 'c');
	kid_recv(_metadata, &p, &st, sizeof(st), WAIT_MS);
	ASSERT_EQ(5 << 8, st);
	if (delete_child) {
		ASSERT_QUIET(kq, QUIET_MS);
	} else {
		n = collect_exact(_metadata, kq, ev, 16, 1, WAIT_MS);
		ASSERT_KEV(proc_ev(c, EV_ADD, NOTE_EXIT, 5 << 8, ud), &ev[0]);
	}
	/* P's own knote is still there */
	kid_send(_metadata, &p, 'x');
	n = collect_exact(_metadata, kq, ev, 16, 1, WAIT_MS);
	ASSERT_KEV(proc_ev(p.pid, EV_ADD, NOTE_EXIT, 0, ud), &ev[0]);
	ASSERT_EQ(0, proc_reap(p.pid, WAIT_MS));
	/* GC was orphaned to us */
	ASSERT_EQ(9 << 8, proc_reap(gc, WAIT_MS));
	kid_close(&p);
	close(kq);
}

TEST_F_TIMEOUT(track, child_and_grandchild_with_note_fork, 110)
{
	check_tracking(_metadata, TRACK_FORK, 0);
}

TEST_F_TIMEOUT(track, child_and_grandchild_without_note_fork, 110)
{
	check_tracking(_metadata, TRACK, 0);
}

TEST_F_TIMEOUT(track, delete_child_knote, 110)
{
	check_tracking(_metadata, TRACK_FORK, 1);
}

/* ---- children that exit at once ------------------------------------------------ */

/* 'F' + code byte: fork a child exiting with code at once, reply its pid; 'x': exit. */
static int fork_exit_server(int in, int out, void *arg)
{
	int cmd, code;
	pid_t c;

	(void)arg;
	for (;;) {
		cmd = kid_cmd(in);
		if (cmd == 'x')
			return 0;
		if (cmd != 'F')
			return 2;
		code = kid_cmd(in);
		KID_CHECK(code >= 0);
		c = fork();
		KID_CHECK(c >= 0);
		if (c == 0)
			_exit(code);
		KID_CHECK(kid_reply(out, &c, sizeof(c)) == 0);
	}
}

TEST_F_TIMEOUT(track, child_exits_at_once_never_merged, 110)
{
	int kq = kq_new(_metadata), i, n;
	struct kevent ev[16];
	struct kid p;
	pid_t c;

	watchdog(100);
	kid_spawn(_metadata, &p, fork_exit_server, NULL);
	proc_watch(_metadata, kq, p.pid, TRACK_FORK, U(0x50));
	for (i = 0; i < 20; i++) {
		kid_send(_metadata, &p, 'F');
		kid_send(_metadata, &p, 100 + i);
		kid_recv(_metadata, &p, &c, sizeof(c), WAIT_MS);
		n = collect_exact(_metadata, kq, ev, 16, 3, WAIT_MS);
		ASSERT_HAS_EV(ev, n, proc_ev(p.pid, EV_ADD, NOTE_FORK, 0, U(0x50)));
		ASSERT_HAS_EV(ev, n, proc_child_ev(c, p.pid, EV_ADD, U(0x50)));
		ASSERT_HAS_EV(ev, n, proc_ev(c, EV_ADD, NOTE_EXIT, (100 + i) << 8, U(0x50)));
	}
	kid_send(_metadata, &p, 'x');
	n = collect_exact(_metadata, kq, ev, 16, 1, WAIT_MS);
	ASSERT_KEV(proc_ev(p.pid, EV_ADD, NOTE_EXIT, 0, U(0x50)), &ev[0]);
	kid_close(&p);
	close(kq);
}

TEST_F_TIMEOUT(track, threads_are_not_tracked, 110)
{
	int kq = kq_new(_metadata), n, i;
	struct kevent ev[16];
	pid_t c = 0;
	struct kid p;

	watchdog(100);
	kid_spawn(_metadata, &p, kid_server, NULL);
	proc_watch(_metadata, kq, p.pid, TRACK_FORK, U(0x51));
	for (i = 0; i < 3; i++) {
		kid_send(_metadata, &p, 't');
		kid_expect(_metadata, &p, 'd', WAIT_MS);
	}
	ASSERT_QUIET(kq, QUIET_MS);
	kid_send(_metadata, &p, 'f');
	kid_expect(_metadata, &p, 'd', WAIT_MS);
	n = collect_exact(_metadata, kq, ev, 16, 3, WAIT_MS);
	for (i = 0; i < n; i++)
		if (ev[i].fflags == NOTE_CHILD)
			c = ev[i].ident;
	ASSERT_NE(0, c);
	ASSERT_HAS_EV(ev, n, proc_ev(p.pid, EV_ADD, NOTE_FORK, 0, U(0x51)));
	ASSERT_HAS_EV(ev, n, proc_child_ev(c, p.pid, EV_ADD, U(0x51)));
	ASSERT_HAS_EV(ev, n, proc_ev(c, EV_ADD, NOTE_EXIT, 0, U(0x51)));
	kid_send(_metadata, &p, 'x');
	ASSERT_EQ(0, proc_reap(p.pid, WAIT_MS));
	kid_close(&p);
	close(kq);
}

/* ---- trees: every process records itself in shared memory ---------------------- */

struct rec {
	pid_t pid, ppid;
	int code;		/* exit status it will use */
	int forks;		/* children it forked */
};

struct tree {
	atomic_int n;
	struct rec r[];
};

static struct tree *tree_new(struct __test_metadata *_metadata, int max)
{
	struct tree *t = mmap(NULL, sizeof(*t) + max * sizeof(struct rec),
			      PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, t);
	atomic_init(&t->n, 0);
	return t;
}

static int tree_find(const struct tree *t, int n, uintptr_t pid)
{
	int i;

	for (i = 0; i < n; i++)
		if ((uintptr_t)t->r[i].pid == pid)
			return i;
	return -1;
}

/*
 * Three generations: R forks 3, each forks 3, each of those forks 2; every
 * process exits at once after its forks, with status gen * 10 + index.
 * Records go to @t (slot claimed atomically).
 */
static void gen_run(struct tree *t, pid_t parent, int gen, int idx)
{
	static const int fan[] = { 3, 3, 2, 0 };
	int slot, i, forks;
	pid_t me, c;

again:
	me = getpid();
	slot = atomic_fetch_add(&t->n, 1);
	t->r[slot].pid = me;
	t->r[slot].ppid = parent;
	t->r[slot].code = gen * 10 + idx;
	for (i = 0, forks = 0; i < fan[gen]; i++) {
		c = fork();
		if (c == 0) {
			parent = me;
			gen++;
			idx = i;
			goto again;
		}
		if (c > 0)
			forks++;
	}
	t->r[slot].forks = forks;
	_exit(gen * 10 + idx);
}

static int tree_root(int in, int out, void *arg)
{
	(void)out;
	if (kid_cmd(in) < 0)
		return 99;
	gen_run(arg, getppid(), 0, 0);
	return 98;
}

/* Heap-shaped tree of @arg->size processes: process i forks 3i+1..3i+3. */
struct storm {
	struct tree *t;
	int size;
};

static void storm_run(struct storm *s, int i, pid_t parent)
{
	int k, forks;
	pid_t me, c;

again:
	me = getpid();
	s->t->r[i].pid = me;
	s->t->r[i].ppid = parent;
	s->t->r[i].code = (i * 7) & 0xff;
	for (k = 3 * i + 1, forks = 0; k <= 3 * i + 3 && k < s->size; k++) {
		c = fork();
		if (c == 0) {
			parent = me;
			i = k;
			goto again;
		}
		if (c > 0)
			forks++;
	}
	s->t->r[i].forks = forks;
	atomic_fetch_add(&s->t->n, 1);
	_exit(s->t->r[i].code);
}

static int storm_root(int in, int out, void *arg)
{
	(void)out;
	if (kid_cmd(in) < 0)
		return 99;
	storm_run(arg, 0, getppid());
	return 98;
}

/* Reap the @n processes of @t (root included) within @ms; each status must be its code. */
static void reap_tree(struct __test_metadata *_metadata, struct tree *t, int n, int *status,
		      long ms)
{
	int64_t end = now_ms() + ms;
	int got = 0, st, i;
	pid_t p;

	for (i = 0; i < n; i++)
		status[i] = -1;
	while (got < n && now_ms() < end) {
		p = waitpid(-1, &st, WNOHANG);
		if (p <= 0) {
			sleep_ms(5);
			continue;
		}
		i = tree_find(t, n, p);
		ASSERT_LE(0, i) TH_LOG("reaped unknown pid %d", p);
		status[i] = st;
		got++;
	}
	ASSERT_EQ(n, got) TH_LOG("reaped %d of %d processes", got, n);
	for (i = 0; i < n; i++)
		ASSERT_EQ(t->r[i].code << 8, status[i]) TH_LOG("pid %d", t->r[i].pid);
}

/*
 * Check the events of one kqueue against tree @t of @n processes whose root
 * (index @root) was registered with @fflags and @ud: exactly one NOTE_CHILD
 * per non-root process with its real parent, exactly one NOTE_EXIT per
 * process with its status; with NOTE_FORK, forking processes report it
 * (alone or on the exit event), others never. Nothing else.
 */
static void check_tree_events(struct __test_metadata *_metadata, struct tree *t, int n,
			      int root, const struct kevent *ev, int nev, unsigned int fflags,
			      void *ud, const int *status)
{
	int *child = calloc(n, sizeof(int)), *exits = calloc(n, sizeof(int));
	int *forkn = calloc(n, sizeof(int)), i, j;
	char b[160];

	ASSERT_TRUE(child && exits && forkn);
	for (j = 0; j < nev; j++) {
		const struct kevent *e = &ev[j];

		i = tree_find(t, n, e->ident);
		ASSERT_LE(0, i) TH_LOG("event for a pid not in the tree: %s", kev_str(e, b, sizeof(b)));
		if (e->fflags == NOTE_CHILD) {
			ASSERT_NE(root, i) TH_LOG("NOTE_CHILD for the root");
			ASSERT_KEV(proc_child_ev(t->r[i].pid, t->r[i].ppid, EV_ADD, ud), e);
			child[i]++;
			continue;
		}
		ASSERT_EQ(0, e->fflags & ~(NOTE_EXIT | NOTE_FORK))
			TH_LOG("unexpected fflags: %s", kev_str(e, b, sizeof(b)));
		ASSERT_NE(0, e->fflags) TH_LOG("event without notes: %s", kev_str(e, b, sizeof(b)));
		if (e->fflags & NOTE_FORK) {
			ASSERT_TRUE(fflags & NOTE_FORK) TH_LOG("NOTE_FORK not asked for");
			ASSERT_LT(0, t->r[i].forks) TH_LOG("NOTE_FORK for a leaf: %s",
							   kev_str(e, b, sizeof(b)));
			forkn[i]++;
		}
		if (e->fflags & NOTE_EXIT) {
			ASSERT_KEV(proc_ev(t->r[i].pid, EV_ADD, e->fflags, status[i], ud), e);
			exits[i]++;
		} else {
			ASSERT_KEV(proc_ev(t->r[i].pid, EV_ADD, NOTE_FORK, 0, ud), e);
		}
	}
	for (i = 0; i < n; i++) {
		ASSERT_EQ(i == root ? 0 : 1, child[i]) TH_LOG("NOTE_CHILD count of pid %d (index %d)",
							      t->r[i].pid, i);
		ASSERT_EQ(1, exits[i]) TH_LOG("NOTE_EXIT count of pid %d (index %d)", t->r[i].pid, i);
		if (fflags & NOTE_FORK)
			ASSERT_EQ(!!t->r[i].forks, !!forkn[i]) TH_LOG("NOTE_FORK of pid %d", t->r[i].pid);
	}
	free(child);
	free(exits);
	free(forkn);
}

/* Collect from each of @nkq kqueues until it has @want[k] events that complete the set. */
static void collect_all(struct __test_metadata *_metadata, const int *kq, int nkq,
			struct kevent **ev, int *nev, int max, int want_child, int want_exit,
			long ms)
{
	int64_t end = now_ms() + ms;
	int k, r, i, busy;
	int ch[8] = { 0 }, ex[8] = { 0 };

	for (k = 0; k < nkq; k++)
		nev[k] = 0;
	do {
		busy = 0;
		for (k = 0; k < nkq; k++) {
			if (ch[k] >= want_child && ex[k] >= want_exit)
				continue;
			busy = 1;
			r = proc_wait(kq[k], ev[k] + nev[k], max - nev[k], 20);
			ASSERT_LE(0, r) TH_LOG("kevent: %s", strerror(errno));
			for (i = nev[k]; i < nev[k] + r; i++) {
				if (ev[k][i].fflags == NOTE_CHILD)
					ch[k]++;
				else if (ev[k][i].fflags & NOTE_EXIT)
					ex[k]++;
			}
			nev[k] += r;
			ASSERT_GT(max, nev[k]) TH_LOG("kqueue %d: too many events", k);
		}
	} while (busy && now_ms() < end);
	for (k = 0; k < nkq; k++) {
		/* and then nothing more */
		r = proc_wait(kq[k], ev[k] + nev[k], max - nev[k], QUIET_MS);
		ASSERT_LE(0, r);
		nev[k] += r;
		ASSERT_EQ(want_child, ch[k]) TH_LOG("kqueue %d: %d NOTE_CHILD of %d (%d events)",
						    k, ch[k], want_child, nev[k]);
		ASSERT_EQ(want_exit, ex[k]) TH_LOG("kqueue %d: %d NOTE_EXIT of %d (%d events)",
						   k, ex[k], want_exit, nev[k]);
	}
}

static void check_generations(struct __test_metadata *_metadata, unsigned int fflags)
{
	enum { N = 1 + 3 + 9 + 18, MAX = 4 * N };
	struct tree *t = tree_new(_metadata, N);
	struct kevent *ev = calloc(MAX, sizeof(*ev));
	int kq = kq_new(_metadata), nev, status[N], root;
	struct kid r;

	watchdog(170);
	ASSERT_NE(NULL, ev);
	kid_spawn(_metadata, &r, tree_root, t);
	proc_watch(_metadata, kq, r.pid, fflags, U(0x60));
	kid_send(_metadata, &r, 'g');
	collect_all(_metadata, &kq, 1, &ev, &nev, MAX, N - 1, N, 120000);
	reap_tree(_metadata, t, N, status, 60000);
	ASSERT_EQ(N, atomic_load(&t->n));
	root = tree_find(t, N, r.pid);
	ASSERT_LE(0, root);
	check_tree_events(_metadata, t, N, root, ev, nev, fflags, U(0x60), status);
	kid_close(&r);
	free(ev);
	close(kq);
}

TEST_F_TIMEOUT(track, three_generations_exit_at_once, 180)
{
	check_generations(_metadata, TRACK);
}

TEST_F_TIMEOUT(track, three_generations_with_note_fork, 180)
{
	check_generations(_metadata, TRACK_FORK);
}

/* ---- fork storm: 300 processes, 3 kqueues tracking the same tree ----------------- */

TEST_F_TIMEOUT(track, fork_storm_three_kqueues, 240)
{
	enum { N = 300, NKQ = 3, MAX = 2 * N + 64 };
	struct storm s = { .t = tree_new(_metadata, N), .size = N };
	struct kevent *ev[NKQ];
	int kq[NKQ], nev[NKQ], *status = calloc(N, sizeof(int)), k;
	struct kid r;

	watchdog(230);
	ASSERT_NE(NULL, status);
	kid_spawn(_metadata, &r, storm_root, &s);
	for (k = 0; k < NKQ; k++) {
		kq[k] = kq_new(_metadata);
		ev[k] = calloc(MAX, sizeof(struct kevent));
		ASSERT_NE(NULL, ev[k]);
		proc_watch(_metadata, kq[k], r.pid, TRACK, U(0x70 + k));
	}
	kid_send(_metadata, &r, 'g');
	collect_all(_metadata, kq, NKQ, ev, nev, MAX, N - 1, N, 180000);
	reap_tree(_metadata, s.t, N, status, 60000);
	ASSERT_EQ(N, atomic_load(&s.t->n));
	ASSERT_EQ(r.pid, s.t->r[0].pid);
	for (k = 0; k < NKQ; k++) {
		ASSERT_EQ(2 * N - 1, nev[k]) TH_LOG("kqueue %d", k);
		check_tree_events(_metadata, s.t, N, 0, ev[k], nev[k], TRACK, U(0x70 + k), status);
		free(ev[k]);
		close(kq[k]);
	}
	free(status);
	kid_close(&r);
}

/* ---- EV_DELETE and close() racing with forks of a tracked tree ------------------- */

struct race {
	pid_t f;
	int kq;			/* the deleter's kqueue, checked afterwards */
	atomic_int stop;
	atomic_int bad;		/* unexpected errors */
	atomic_int loops[3];
	atomic_int woken;	/* waiters that got an error from the close */
};

/* Collects events and deletes every tracked child's knote; re-adds F's knote now and then. */
static void *deleter(void *arg)
{
	struct race *r = arg;
	struct kevent ev[64], c;
	int n, i, round = 0;

	while (!atomic_load(&r->stop)) {
		n = proc_wait(r->kq, ev, 64, 10);
		if (n < 0) {
			atomic_fetch_add(&r->bad, 1);
			break;
		}
		for (i = 0; i < n; i++) {
			if (ev[i].fflags != NOTE_CHILD)
				continue;
			c = kev(ev[i].ident, EVFILT_PROC, EV_DELETE, 0, 0, NULL);
			if (kevent(r->kq, &c, 1, NULL, 0, NULL) && errno != ENOENT)
				atomic_fetch_add(&r->bad, 1);
		}
		if (++round % 16 == 0) {
			c = kev(r->f, EVFILT_PROC, EV_DELETE, 0, 0, NULL);
			if (kevent(r->kq, &c, 1, NULL, 0, NULL))
				atomic_fetch_add(&r->bad, 1);
			c = kev(r->f, EVFILT_PROC, EV_ADD, TRACK_FORK, 0, U(0x90));
			if (kevent(r->kq, &c, 1, NULL, 0, NULL))
				atomic_fetch_add(&r->bad, 1);
		}
		atomic_fetch_add(&r->loops[0], 1);
	}
	return NULL;
}

/* Opens a kqueue, tracks F, takes a few events, closes it; again and again. */
static void *closer(void *arg)
{
	struct race *r = arg;
	struct kevent ev[16], c;
	int kq, i = 0;

	while (!atomic_load(&r->stop)) {
		kq = kqueue();
		if (kq < 0) {
			atomic_fetch_add(&r->bad, 1);
			break;
		}
		c = kev(r->f, EVFILT_PROC, EV_ADD, TRACK_FORK, 0, U(0x91));
		if (kevent(kq, &c, 1, NULL, 0, NULL))
			atomic_fetch_add(&r->bad, 1);
		if (proc_wait(kq, ev, 16, i++ % 5) < 0)
			atomic_fetch_add(&r->bad, 1);
		close(kq);
		atomic_fetch_add(&r->loops[1], 1);
	}
	return NULL;
}

struct waiter_arg {
	int kq;
	int ret;
};

static void *close_waiter(void *arg)
{
	struct waiter_arg *w = arg;
	struct kevent ev[16];

	/* woken by the close() (an error), or events, or 10 s */
	w->ret = proc_wait(w->kq, ev, 16, 10000);
	return NULL;
}

/* Closes a kqueue that tracks F while another thread waits in kevent() on it. */
static void *closer_with_waiter(void *arg)
{
	struct race *r = arg;
	struct waiter_arg w;
	struct kevent c;
	pthread_t t;

	while (!atomic_load(&r->stop)) {
		w.kq = kqueue();
		w.ret = 0;
		if (w.kq < 0) {
			atomic_fetch_add(&r->bad, 1);
			break;
		}
		/* tracked, but no NOTE_FORK: only events of F's children */
		c = kev(r->f, EVFILT_PROC, EV_ADD, NOTE_TRACK | NOTE_EXIT, 0, U(0x92));
		if (kevent(w.kq, &c, 1, NULL, 0, NULL))
			atomic_fetch_add(&r->bad, 1);
		if (pthread_create(&t, NULL, close_waiter, &w)) {
			close(w.kq);
			atomic_fetch_add(&r->bad, 1);
			break;
		}
		sleep_ms(20);
		close(w.kq);
		if (join_within(t, NULL, 20000)) {
			atomic_fetch_add(&r->bad, 1000);	/* hung */
			break;
		}
		if (w.ret < 0)
			atomic_fetch_add(&r->woken, 1);
		atomic_fetch_add(&r->loops[2], 1);
	}
	return NULL;
}

TEST_F_TIMEOUT(track, delete_and_close_race_with_forks, 200)
{
	struct race r = { 0 };
	void *(*fn[3])(void *) = { deleter, closer, closer_with_waiter };
	struct kevent ev[256];
	pthread_t t[3];
	int i, n, forks = 0, st, saw_exit = 0;
	struct kid f;

	watchdog(190);
	kid_spawn(_metadata, &f, forker, &(int){ 1 });
	r.f = f.pid;
	r.kq = kq_new(_metadata);
	proc_watch(_metadata, r.kq, f.pid, TRACK_FORK, U(0x90));
	kid_send(_metadata, &f, 'g');
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, fn[i], &r));
	sleep_ms(4000);
	atomic_store(&r.stop, 1);
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, join_within(t[i], NULL, 30000)) TH_LOG("thread %d hung", i);
	kid_send(_metadata, &f, 's');
	kid_recv(_metadata, &f, &forks, sizeof(forks), 30000);
	TH_LOG("%d forks; loops: deleter %d, closer %d, closer with waiter %d (%d woken)", forks,
	       atomic_load(&r.loops[0]), atomic_load(&r.loops[1]), atomic_load(&r.loops[2]),
	       atomic_load(&r.woken));
	ASSERT_EQ(0, atomic_load(&r.bad));
	ASSERT_LT(0, forks);
	ASSERT_LT(0, atomic_load(&r.loops[1]));
	ASSERT_LT(0, atomic_load(&r.loops[2]));

	/* afterwards: F's knote (the deleter leaves it added) reports F's exit */
	kid_send(_metadata, &f, 'x');
	st = proc_reap(f.pid, 30000);
	ASSERT_EQ(0, st);
	for (;;) {
		n = proc_wait(r.kq, ev, 256, 2000);
		ASSERT_LE(0, n);
		if (n == 0)
			break;
		for (i = 0; i < n; i++)
			if (ev[i].ident == (uintptr_t)f.pid && (ev[i].fflags & NOTE_EXIT)) {
				ASSERT_KEV(proc_ev(f.pid, EV_ADD, ev[i].fflags, 0, U(0x90)), &ev[i]);
				saw_exit++;
			}
	}
	ASSERT_EQ(1, saw_exit);
	/* every process is gone: so is every EVFILT_PROC knote */
	n = fdinfo_knotes(r.kq, EVFILT_PROC);
	if (n >= 0)
		ASSERT_EQ(0, n) TH_LOG("EVFILT_PROC knotes left in fdinfo");
	ASSERT_CHANGE_ERR(r.kq, kev(f.pid, EVFILT_PROC, EV_DELETE, 0, 0, NULL), ENOENT);
	/* and the kqueue still tracks exactly */
	kid_close(&f);
	kid_spawn(_metadata, &f, fork_exit_server, NULL);
	proc_watch(_metadata, r.kq, f.pid, TRACK, U(0x93));
	kid_send(_metadata, &f, 'F');
	kid_send(_metadata, &f, 44);
	kid_recv(_metadata, &f, &st, sizeof(pid_t), WAIT_MS);
	n = collect_exact(_metadata, r.kq, ev, 256, 2, WAIT_MS);
	ASSERT_HAS_EV(ev, n, proc_child_ev(st, f.pid, EV_ADD, U(0x93)));
	ASSERT_HAS_EV(ev, n, proc_ev(st, EV_ADD, NOTE_EXIT, 44 << 8, U(0x93)));
	kid_send(_metadata, &f, 'x');
	n = collect_exact(_metadata, r.kq, ev, 256, 1, WAIT_MS);
	ASSERT_KEV(proc_ev(f.pid, EV_ADD, NOTE_EXIT, 0, U(0x93)), &ev[0]);
	kid_close(&f);
	close(r.kq);
}

/*
 * close() of a kqueue that tracks F while F forks: a fork hook that meets
 * the kqueue's knote on F after the kqueue's release took its knotes, but
 * before the release unhooked that one, must not add the child's knote to
 * it (it would outlive its kqueue: KASAN, kmemleak). The kqueue also holds
 * EVFILT_USER knotes whose idents sort before F's pid, which its release
 * frees first: that keeps the window open long enough to be hit. Another
 * kqueue watches F throughout, so that the module's process probes stay
 * registered between the closes.
 */
#define CLOSE_FILL 256

TEST_F_TIMEOUT(track, fork_while_closing_kqueue, 120)
{
	struct kevent c[CLOSE_FILL];
	int i, kq, fill, forks = 0, closes = 0, keep;
	struct kevent ev;
	int64_t end;
	struct kid f;

	watchdog(110);
	kid_spawn(_metadata, &f, forker, &(int){ 0 });
	keep = kq_new(_metadata);
	proc_watch(_metadata, keep, f.pid, NOTE_FORK, U(0x97));
	fill = f.pid - 1 < CLOSE_FILL ? f.pid - 1 : CLOSE_FILL;
	for (i = 0; i < fill; i++)
		c[i] = kev(i + 1, EVFILT_USER, EV_ADD, 0, 0, NULL);
	kid_send(_metadata, &f, 'g');
	for (end = now_ms() + 4000; now_ms() < end; closes++) {
		kq = kq_new(_metadata);
		ASSERT_EQ(0, kevent(kq, c, fill, NULL, 0, NULL));
		proc_watch(_metadata, kq, f.pid, TRACK_FORK, U(0x96));
		close(kq);
	}
	kid_send(_metadata, &f, 's');
	kid_recv(_metadata, &f, &forks, sizeof(forks), 30000);
	TH_LOG("%d forks, %d closes, %d knotes before F's", forks, closes, fill);
	ASSERT_LT(0, forks);
	ASSERT_EQ(1, kevent(keep, NULL, 0, &ev, 1, &ts_zero));
	ASSERT_KEV(proc_ev(f.pid, EV_ADD, NOTE_FORK, 0, U(0x97)), &ev);
	close(keep);
	kid_send(_metadata, &f, 'x');
	ASSERT_EQ(0, proc_reap(f.pid, 30000));
	kid_close(&f);
}

TEST_HARNESS_MAIN
