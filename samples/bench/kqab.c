// SPDX-License-Identifier: GPL-2.0
/*
 * kqab: one line of kqueue/epoll time ratios, for comparing two builds of
 * kqueue.ko in one boot (tools/testing/vm/ab-bench.sh loads them in turn
 * and runs kqab after each load). The host's speed drifts between boots
 * by more than most changes are worth; in one boot, with the modules
 * alternating, it does not.
 *
 *   wait  N = 10, 1000, 10000 pipes registered level-triggered, one ready:
 *         kevent(kq, NULL, 0, ev, 64, {0, 0}) against epoll_wait(ep, ev,
 *         64, 0), blocks of calls alternating; median of the per-block
 *         ratios.
 *   reg   N = 10, 1000, 10000 pipes: one kevent() with N EV_ADD changes on
 *         a fresh kqueue against N epoll_ctl(EPOLL_CTL_ADD) on a fresh
 *         epoll; median of the ratios.
 *
 * Output: "wait R R R reg R R R" (kqueue time / epoll time).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/event.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench.h"

#define BLOCKS	15	/* odd, for the median */
#define CALLS	4000	/* wait calls per block */

static pipe_ends *pipes;

static struct kevent *read_changes(int n)
{
	struct kevent *ch = calloc(n, sizeof(*ch));

	if (!ch)
		die("calloc");
	for (int i = 0; i < n; i++)
		EV_SET(&ch[i], pipes[i][0], EVFILT_READ, EV_ADD, 0, 0, NULL);
	return ch;
}

/* EPOLLIN on the read ends of the first @n pipes. */
static void epoll_add_reads(int ep, int n)
{
	for (int i = 0; i < n; i++) {
		struct epoll_event e = { .events = EPOLLIN };

		if (epoll_ctl(ep, EPOLL_CTL_ADD, pipes[i][0], &e))
			die("epoll_ctl");
	}
}

static double wait_ratio(int n)
{
	static const struct timespec poll = { 0, 0 };
	struct epoll_event eev[64];
	struct kevent kev[64], *ch;
	double r[BLOCKS];
	int kq, ep;

	pipes = open_pipes(n);
	if (write(pipes[n / 2][1], "x", 1) != 1)
		die("write");
	ch = read_changes(n);
	kq = kqueue();
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (kq < 0 || ep < 0)
		die("kqueue/epoll_create1");
	if (kevent(kq, ch, n, NULL, 0, NULL))
		die("kevent(EV_ADD)");
	epoll_add_reads(ep, n);
	for (int b = 0; b < BLOCKS; b++) {
		double t0 = now_ns(), t1, t2;

		for (int i = 0; i < CALLS; i++)
			if (epoll_wait(ep, eev, 64, 0) != 1)
				die("epoll_wait: not exactly one event");
		t1 = now_ns();
		for (int i = 0; i < CALLS; i++)
			if (kevent(kq, NULL, 0, kev, 64, &poll) != 1)
				die("kevent: not exactly one event");
		t2 = now_ns();
		r[b] = (t2 - t1) / (t1 - t0);
	}
	close(kq);
	close(ep);
	free(ch);
	close_pipes(pipes, n);
	return median(r, BLOCKS);
}

static double reg_ratio(int n)
{
	struct kevent *ch;
	double r[BLOCKS];

	pipes = open_pipes(n);
	ch = read_changes(n);
	for (int b = 0; b < BLOCKS; b++) {
		int ep = epoll_create1(EPOLL_CLOEXEC), kq = kqueue();
		double t0, t1, t2;

		if (kq < 0 || ep < 0)
			die("kqueue/epoll_create1");
		t0 = now_ns();
		epoll_add_reads(ep, n);
		t1 = now_ns();
		if (kevent(kq, ch, n, NULL, 0, NULL))
			die("kevent(EV_ADD)");
		t2 = now_ns();
		r[b] = (t2 - t1) / (t1 - t0);
		close(ep);
		close(kq);
	}
	free(ch);
	close_pipes(pipes, n);
	return median(r, BLOCKS);
}

int main(void)
{
	struct rlimit rl = { 30000, 30000 };

	if (setrlimit(RLIMIT_NOFILE, &rl))
		die("setrlimit");
	printf("wait %.2f %.2f %.2f", wait_ratio(10), wait_ratio(1000), wait_ratio(10000));
	printf(" reg %.2f %.2f %.2f\n", reg_ratio(10), reg_ratio(1000), reg_ratio(10000));
	return 0;
}
