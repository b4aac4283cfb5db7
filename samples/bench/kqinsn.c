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
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/event.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench.h"

#define CALLS		10000	/* wait calls per measurement */
#define REG_TOTAL	10000	/* registrations per measurement (at least one call) */

#define MAX_PHASES	64

static const char *labels[MAX_PHASES];
static long phase_ops[MAX_PHASES];
static int phases;

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
	if (phases == MAX_PHASES)
		die("too many phases");
	labels[phases] = label;
	phase_ops[phases++] = ops;
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

int main(void)
{
	static const int sizes[] = { 10, 1000, 10000 };
	struct rlimit rl = { 2 * 10000 + 64, 2 * 10000 + 64 };

	if (setrlimit(RLIMIT_NOFILE, &rl))
		die("setrlimit");
	mark("-", 0);
	for (unsigned int s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		int n = sizes[s];
		pipe_ends *pipes = open_pipes(n);

		wait_phases(n, pipes);
		reg_phases(n, pipes);
		close_pipes(pipes, n);
	}
	for (int i = 0; i < phases; i++)
		printf("kqinsn-phase %s %ld\n", labels[i], phase_ops[i]);
	return 0;
}
