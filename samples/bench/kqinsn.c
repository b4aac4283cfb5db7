// SPDX-License-Identifier: GPL-2.0
/*
 * kqinsn: the guest half of make bench-insns, which counts the instructions
 * the emulated CPU executes (tools/testing/vm/insn-plugin.c) instead of
 * timing them. Counts do not drift with the host's speed, so a change of a
 * few instructions per call shows, in one boot, without repeating runs.
 *
 * The plugin ends a phase each time kqinsn_mark() runs. At the end kqinsn
 * prints "kqinsn-phase LABEL OPS" for each phase in order (LABEL "-" for
 * set-up between measurements), so that the script can pair the i-th line
 * with the plugin's i-th phase and divide by OPS. Nothing is printed while
 * measuring: the serial console would count.
 *
 *   wait N   N pipes registered level-triggered, one ready: CALLS kevent()
 *            calls (no changes, timeout {0, 0}), then CALLS epoll_wait()
 *            calls with timeout 0;
 *   reg N    kevent() calls with N EV_ADD changes on fresh kqueues, then
 *            N epoll_ctl(EPOLL_CTL_ADD) each on as many fresh epolls, about
 *            10000 registrations in all; per descriptor.
 *
 * Then, at N = 1000 (more_phases()): wait-clear (EV_CLEAR against EPOLLET,
 * each call between a write of one byte and its read) and rearm (that
 * write and read alone); wait-dispatch (EV_DISPATCH re-enabled by EV_ENABLE
 * in the waiting kevent(); wait-dispatch2: in a kevent() of its own)
 * against EPOLLONESHOT re-armed by EPOLL_CTL_MOD; wait-64 (64 ready, an
 * eventlist of 64, per call); wait-child (the 1-of-N wait in a forked child
 * on the parent's instances); and at N = 5000 wait-dense and wait-holes (the
 * same instances with the descriptor table dense, then with every other
 * descriptor closed). Each call's event count (and ident, for one event)
 * is checked.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/event.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define CALLS		10000	/* wait calls per measurement */
#define REG_TOTAL	10000	/* registrations per measurement (at least one call) */

#define MAX_PHASES	64

/* Shared with the forked child of child_phases(), whose phases count too. */
static struct phase_table {
	const char *labels[MAX_PHASES];
	long ops[MAX_PHASES];
	int n;
} *pt;

/* The plugin watches this function's address (nm kqinsn). */
__attribute__((noinline)) void kqinsn_mark(void)
{
	asm volatile("" ::: "memory");
}

/*
 * Lets the work set-up left behind (RCU callbacks freeing what was closed)
 * run before a measurement, not inside it.
 */
static void settle(void)
{
	struct timespec pause = { 0, 200 * 1000 * 1000 };

	nanosleep(&pause, NULL);
}

/*
 * "WHAT-N", made before measuring: nothing but the calls should run in a
 * phase (the program exits without freeing them).
 */
static const char *label_of(const char *what, int n)
{
	char *label;

	if (asprintf(&label, "%s-%d", what, n) < 0)
		die("asprintf");
	return label;
}

/* Ends the phase measured as LABEL, OPS operations (see above); LABEL must live on. */
static void mark(const char *label, long ops)
{
	if (pt->n == MAX_PHASES)
		die("too many phases");
	pt->labels[pt->n] = label;
	pt->ops[pt->n++] = ops;
	kqinsn_mark();
}

static void wait_phases(int n, pipe_ends *pipes)
{
	struct kevent kev[64];
	struct epoll_event eev[64];
	struct timespec zero = { 0, 0 };
	int kq = kqueue(), ep = epoll_create1(EPOLL_CLOEXEC);
	const char *kq_label = label_of("wait-kq", n), *ep_label = label_of("wait-ep", n);
	char byte;

	if (kq < 0 || ep < 0)
		die("kqueue/epoll_create1");
	for (int i = 0; i < n; i++) {
		struct epoll_event e = { .events = EPOLLIN, .data.fd = pipes[i][0] };
		struct kevent k;

		EV_SET(&k, pipes[i][0], EVFILT_READ, EV_ADD, 0, 0, NULL);
		if (kevent(kq, &k, 1, NULL, 0, NULL) ||
		    epoll_ctl(ep, EPOLL_CTL_ADD, pipes[i][0], &e))
			die("register");
	}
	if (write(pipes[n / 2][1], "x", 1) != 1)
		die("write");
	/* Warm up both paths, then measure each alone. */
	for (int i = 0; i < 100; i++)
		if (kevent(kq, NULL, 0, kev, 64, &zero) != 1 || epoll_wait(ep, eev, 64, 0) != 1)
			die("warm-up: not exactly one event");
	settle();
	mark("-", 0);
	for (int i = 0; i < CALLS; i++)
		kevent(kq, NULL, 0, kev, 64, &zero);
	mark(kq_label, CALLS);
	for (int i = 0; i < CALLS; i++)
		epoll_wait(ep, eev, 64, 0);
	mark(ep_label, CALLS);
	if (read(pipes[n / 2][0], &byte, 1) != 1)
		die("read");
	close(kq);
	close(ep);
}

static void reg_phases(int n, pipe_ends *pipes)
{
	/* About 10000 registrations each, on fresh instances made in set-up. */
	int reps = n < REG_TOTAL ? REG_TOTAL / n : 1;
	struct kevent *ch = calloc(n, sizeof(*ch));
	int *kqs = calloc(reps, sizeof(int)), *eps = calloc(reps, sizeof(int));
	const char *kq_label = label_of("reg-kq", n), *ep_label = label_of("reg-ep", n);

	if (!ch || !kqs || !eps)
		die("calloc");
	for (int r = 0; r < reps; r++) {
		kqs[r] = kqueue();
		eps[r] = epoll_create1(EPOLL_CLOEXEC);
		if (kqs[r] < 0 || eps[r] < 0)
			die("kqueue/epoll_create1");
	}
	for (int i = 0; i < n; i++)
		EV_SET(&ch[i], pipes[i][0], EVFILT_READ, EV_ADD, 0, 0, NULL);
	settle();
	mark("-", 0);
	for (int r = 0; r < reps; r++)
		if (kevent(kqs[r], ch, n, NULL, 0, NULL))
			die("kevent");
	mark(kq_label, (long)n * reps);
	for (int r = 0; r < reps; r++)
		for (int i = 0; i < n; i++) {
			struct epoll_event e = { .events = EPOLLIN, .data.fd = pipes[i][0] };

			if (epoll_ctl(eps[r], EPOLL_CTL_ADD, pipes[i][0], &e))
				die("epoll_ctl");
		}
	mark(ep_label, (long)n * reps);
	for (int r = 0; r < reps; r++) {
		close(kqs[r]);
		close(eps[r]);
	}
	free(kqs);
	free(eps);
	free(ch);
}

/* A kqueue and an epoll instance watching the read ends of @n pipes. */
static void register_both(int n, pipe_ends *pipes, int *kq, int *ep,
			  unsigned short kq_flags, unsigned int ep_events)
{
	*kq = kqueue();
	*ep = epoll_create1(EPOLL_CLOEXEC);
	if (*kq < 0 || *ep < 0)
		die("kqueue/epoll_create1");
	for (int i = 0; i < n; i++) {
		struct epoll_event e = { .events = ep_events, .data.fd = pipes[i][0] };
		struct kevent k;

		EV_SET(&k, pipes[i][0], EVFILT_READ, EV_ADD | kq_flags, 0, 0, NULL);
		if (kevent(*kq, &k, 1, NULL, 0, NULL) ||
		    epoll_ctl(*ep, EPOLL_CTL_ADD, pipes[i][0], &e))
			die("register");
	}
}

/* Exactly one event, for @fd; or die (after the phase, nothing is counted). */
static inline void kq_one(int kq, const struct kevent *ch, int nch, int fd)
{
	static const struct timespec zero;
	struct kevent ev[64];

	if (kevent(kq, ch, nch, ev, 64, &zero) != 1 || (int)ev[0].ident != fd)
		die("kevent: not exactly the one event");
}

static inline void ep_one(int ep, int fd)
{
	struct epoll_event ev[64];

	if (epoll_wait(ep, ev, 64, 0) != 1 || ev[0].data.fd != fd)
		die("epoll_wait: not exactly the one event");
}

/*
 * clear N: EV_CLEAR against EPOLLET, each call preceded by a write of one
 * byte and followed by its read (so each wait meets a new edge); rearm N
 * counts the write and the read alone, to subtract.
 */
static void clear_phases(int n, pipe_ends *pipes)
{
	int kq, ep, rd = pipes[n / 2][0], wr = pipes[n / 2][1];
	const char *kq_label = label_of("wait-clear-kq", n);
	const char *ep_label = label_of("wait-clear-ep", n);
	const char *re_label = label_of("rearm", n);

	register_both(n, pipes, &kq, &ep, EV_CLEAR, EPOLLIN | EPOLLET);
	for (int i = 0; i < 100; i++) {
		put_byte(wr);
		kq_one(kq, NULL, 0, rd);
		ep_one(ep, rd);
		take_byte(rd);
	}
	settle();
	mark("-", 0);
	for (int i = 0; i < CALLS; i++) {
		put_byte(wr);
		kq_one(kq, NULL, 0, rd);
		take_byte(rd);
	}
	mark(kq_label, CALLS);
	for (int i = 0; i < CALLS; i++) {
		put_byte(wr);
		ep_one(ep, rd);
		take_byte(rd);
	}
	mark(ep_label, CALLS);
	for (int i = 0; i < CALLS; i++) {
		put_byte(wr);
		take_byte(rd);
	}
	mark(re_label, CALLS);
	close(kq);
	close(ep);
}

/*
 * dispatch N: EV_DISPATCH re-enabled by EV_ENABLE in the waiting kevent()
 * (dispatch2: in a kevent() of its own), against EPOLLONESHOT re-armed by
 * EPOLL_CTL_MOD before each epoll_wait(); the pipe keeps its byte.
 */
static void dispatch_phases(int n, pipe_ends *pipes)
{
	int kq, ep, rd = pipes[n / 2][0];
	struct epoll_event mod = { .events = EPOLLIN | EPOLLONESHOT, .data.fd = rd };
	const char *k1_label = label_of("wait-dispatch-kq", n);
	const char *k2_label = label_of("wait-dispatch2-kq", n);
	const char *ep_label = label_of("wait-dispatch-ep", n);
	struct kevent en;

	register_both(n, pipes, &kq, &ep, EV_DISPATCH, EPOLLIN | EPOLLONESHOT);
	EV_SET(&en, rd, EVFILT_READ, EV_ENABLE, 0, 0, NULL);
	put_byte(pipes[n / 2][1]);
	for (int i = 0; i < 100; i++) {
		kq_one(kq, &en, 1, rd);
		if (epoll_ctl(ep, EPOLL_CTL_MOD, rd, &mod))
			die("epoll_ctl(MOD)");
		ep_one(ep, rd);
	}
	settle();
	mark("-", 0);
	for (int i = 0; i < CALLS; i++)
		kq_one(kq, &en, 1, rd);
	mark(k1_label, CALLS);
	for (int i = 0; i < CALLS; i++) {
		if (kevent(kq, &en, 1, NULL, 0, NULL))
			die("kevent(EV_ENABLE)");
		kq_one(kq, NULL, 0, rd);
	}
	mark(k2_label, CALLS);
	for (int i = 0; i < CALLS; i++) {
		if (epoll_ctl(ep, EPOLL_CTL_MOD, rd, &mod))
			die("epoll_ctl(MOD)");
		ep_one(ep, rd);
	}
	mark(ep_label, CALLS);
	take_byte(rd);
	close(kq);
	close(ep);
}

/* 64 N: 64 of the N pipes ready, an eventlist of 64, level-triggered. */
static void many_phases(int n, pipe_ends *pipes)
{
	static const struct timespec zero;
	struct kevent kev[64];
	struct epoll_event eev[64];
	const char *kq_label = label_of("wait-64-kq", n), *ep_label = label_of("wait-64-ep", n);
	int kq, ep, calls = CALLS / 10;

	register_both(n, pipes, &kq, &ep, 0, EPOLLIN);
	for (int i = 0; i < 64; i++)
		put_byte(pipes[i * n / 64][1]);
	for (int i = 0; i < 10; i++)
		if (kevent(kq, NULL, 0, kev, 64, &zero) != 64 || epoll_wait(ep, eev, 64, 0) != 64)
			die("warm-up: not exactly 64 events");
	settle();
	mark("-", 0);
	for (int i = 0; i < calls; i++)
		if (kevent(kq, NULL, 0, kev, 64, &zero) != 64)
			die("kevent: not 64 events");
	mark(kq_label, calls);
	for (int i = 0; i < calls; i++)
		if (epoll_wait(ep, eev, 64, 0) != 64)
			die("epoll_wait: not 64 events");
	mark(ep_label, calls);
	for (int i = 0; i < 64; i++)
		take_byte(pipes[i * n / 64][0]);
	close(kq);
	close(ep);
}

/* The labels "wait-WHAT-kq-N" and "wait-WHAT-ep-N" of one_ready_phases(). */
static void wait_labels(const char *what, int n, const char *label[2])
{
	char kq_what[32], ep_what[32];

	snprintf(kq_what, sizeof(kq_what), "wait-%s-kq", what);
	snprintf(ep_what, sizeof(ep_what), "wait-%s-ep", what);
	label[0] = label_of(kq_what, n);
	label[1] = label_of(ep_what, n);
}

/*
 * CALLS 1-of-n waits of @kq, then of @ep, as @label[0] and @label[1] (made
 * before any fork: a child's phases are printed by the parent).
 */
static void one_ready_phases(const char *label[2], int kq, int ep, int rd)
{
	for (int i = 0; i < 100; i++) {
		kq_one(kq, NULL, 0, rd);
		ep_one(ep, rd);
	}
	settle();
	mark("-", 0);
	for (int i = 0; i < CALLS; i++)
		kq_one(kq, NULL, 0, rd);
	mark(label[0], CALLS);
	for (int i = 0; i < CALLS; i++)
		ep_one(ep, rd);
	mark(label[1], CALLS);
}

/*
 * dense/holes N: N pipes, 1 ready, the same instances counted with the
 * table dense and then with the write ends moved above the read ends, so
 * that every other descriptor of the read ends' range is closed.
 */
static void holes_phases(int n)
{
	pipe_ends *pipes = open_pipes(n);
	int kq, ep, above = pipes[n - 1][1] + 1;
	const char *dense[2], *holes[2];

	wait_labels("dense", n, dense);
	wait_labels("holes", n, holes);
	register_both(n, pipes, &kq, &ep, 0, EPOLLIN);
	put_byte(pipes[n / 2][1]);
	one_ready_phases(dense, kq, ep, pipes[n / 2][0]);
	for (int i = 0; i < n; i++) {
		int w = fcntl(pipes[i][1], F_DUPFD_CLOEXEC, above);

		if (w < 0)
			die("fcntl(F_DUPFD)");
		close(pipes[i][1]);
		pipes[i][1] = w;
	}
	one_ready_phases(holes, kq, ep, pipes[n / 2][0]);
	close(kq);
	close(ep);
	close_pipes(pipes, n);
}

/*
 * child N: the 1-of-N wait in a forked child on the parent's kqueue and
 * epoll, passed over SCM_RIGHTS (the library closes kqueues in a fork
 * child). The phase table is shared, so the child's phases count.
 */
static void child_phases(int n, pipe_ends *pipes)
{
	int kq, ep, sv[2], fds[2], status;
	const char *label[2];
	pid_t pid;

	wait_labels("child", n, label);
	register_both(n, pipes, &kq, &ep, 0, EPOLLIN);
	put_byte(pipes[n / 2][1]);
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv))
		die("socketpair");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (!pid) {
		recv_fds(sv[1], fds, 2);
		one_ready_phases(label, fds[0], fds[1], pipes[n / 2][0]);
		_exit(0);
	}
	fds[0] = kq;
	fds[1] = ep;
	send_fds(sv[0], fds, 2);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		die("child");
	take_byte(pipes[n / 2][0]);
	close(sv[0]);
	close(sv[1]);
	close(kq);
	close(ep);
}

/* The waits beyond 1 of N level-triggered, at N = 1000 (holes: 5000). */
static void more_phases(void)
{
	int n = 1000;
	pipe_ends *pipes = open_pipes(n);

	clear_phases(n, pipes);
	dispatch_phases(n, pipes);
	many_phases(n, pipes);
	child_phases(n, pipes);
	close_pipes(pipes, n);
	holes_phases(5000);
}

int main(void)
{
	static const int sizes[] = { 10, 1000, 10000 };
	struct rlimit rl = { 2 * 10000 + 64, 2 * 10000 + 64 };

	if (setrlimit(RLIMIT_NOFILE, &rl))
		die("setrlimit");
	pt = mmap(NULL, sizeof(*pt), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (pt == MAP_FAILED)
		die("mmap");
	mark("-", 0);
	for (unsigned int s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		int n = sizes[s];
		pipe_ends *pipes = open_pipes(n);

		wait_phases(n, pipes);
		reg_phases(n, pipes);
		close_pipes(pipes, n);
	}
	more_phases();
	for (int i = 0; i < pt->n; i++)
		printf("kqinsn-phase %s %ld\n", pt->labels[i], pt->ops[i]);
	return 0;
}
