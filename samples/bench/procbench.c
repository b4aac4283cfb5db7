// SPDX-License-Identifier: GPL-2.0
/*
 * procbench: EVFILT_PROC costs, same boot, as ratios.
 *
 *   exit latency  from a timestamp the child takes just before _exit(0)
 *                 (in a MAP_SHARED page) to the return of the watcher's
 *                 blocking wait: kevent() on a NOTE_EXIT knote against
 *                 epoll_wait() on a pidfd (pidfd_open + EPOLLIN). Runs
 *                 alternate (kqueue, epoll, kqueue, ...); median and p99.
 *   fork rate     fork + child _exit(0) + waitpid, per second: without a
 *                 watcher, and with a NOTE_TRACK|NOTE_EXIT|NOTE_FORK knote
 *                 on the forking process drained by a thread; alternate
 *                 rounds, median. The drained events are counted: every
 *                 child's NOTE_CHILD and NOTE_EXIT must arrive.
 *   module cost   fork rate of unwatched forks with kqueue.ko loaded and
 *                 unloaded (delete_module, then finit_module of
 *                 $KQUEUE_KO, default /kqueue/kqueue.ko); alternate rounds.
 *                 Needs root; skipped when the module cannot be unloaded.
 *
 * Under an emulator (QEMU TCG) only the ratios mean anything.
 *
 *   procbench [--samples N] [--forks N] [--rounds N] [--no-module]
 *
 * Built statically against tools/lib/kqueue (make bench, or
 * make -C samples/bench); needs kqueue.ko loaded.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/event.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define MODNAME "kqueue"

static int samples = 2000;	/* latency samples per mechanism */
static int forks_per_round = 1000;
static int rounds = 7;		/* odd, for the median */

/* Sorts @v; the value at quantile @q (0..1). */
static double quantile(double *v, int n, double q)
{
	int i;

	qsort(v, n, sizeof(*v), cmp_double);
	i = (int)(q * (n - 1) + 0.5);
	return v[i];
}

/* --- 1. exit latency ----------------------------------------------------- */

static volatile double *shared_ts;	/* the child's timestamp before _exit */

/*
 * Fork a child that waits for a byte on a pipe, sleeps 2 ms (so that the
 * watcher is asleep in its wait), stamps the time and exits.
 */
static pid_t spawn_timed(int *gate)
{
	int p[2];
	pid_t pid;
	char c;

	if (pipe2(p, O_CLOEXEC))
		die("pipe2");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		close(p[1]);
		if (read(p[0], &c, 1) != 1)
			_exit(1);
		usleep(2000);
		*shared_ts = now_ns();
		_exit(0);
	}
	close(p[0]);
	*gate = p[1];
	return pid;
}

static void reap(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) != pid)
		die("waitpid");
}

static double latency_kqueue(int kq)
{
	struct kevent c, ev;
	double t;
	int gate, r;
	pid_t pid = spawn_timed(&gate);

	EV_SET(&c, pid, EVFILT_PROC, EV_ADD, NOTE_EXIT, 0, NULL);
	if (kevent(kq, &c, 1, NULL, 0, NULL))
		die("kevent(EV_ADD EVFILT_PROC)");
	if (write(gate, "g", 1) != 1)
		die("write");
	r = kevent(kq, NULL, 0, &ev, 1, NULL);
	t = now_ns();
	if (r != 1 || ev.ident != (uintptr_t)pid || !(ev.fflags & NOTE_EXIT)) {
		fprintf(stderr, "procbench: kevent returned %d (ident %lu fflags %#x)\n", r,
			(unsigned long)ev.ident, ev.fflags);
		exit(1);
	}
	close(gate);
	reap(pid);
	return (t - *shared_ts) / 1000.0;
}

static double latency_epoll(int ep)
{
	struct epoll_event e = { .events = EPOLLIN }, out;
	int gate, pfd, r;
	double t;
	pid_t pid = spawn_timed(&gate);

	pfd = syscall(SYS_pidfd_open, pid, 0);
	if (pfd < 0)
		die("pidfd_open");
	e.data.fd = pfd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, pfd, &e))
		die("epoll_ctl");
	if (write(gate, "g", 1) != 1)
		die("write");
	r = epoll_wait(ep, &out, 1, -1);
	t = now_ns();
	if (r != 1 || out.data.fd != pfd) {
		fprintf(stderr, "procbench: epoll_wait returned %d\n", r);
		exit(1);
	}
	close(pfd);	/* also leaves the epoll set */
	close(gate);
	reap(pid);
	return (t - *shared_ts) / 1000.0;
}

struct lat {
	double kq_med, kq_p99, ep_med, ep_p99;
};

static void bench_latency(struct lat *res)
{
	double *kq_t = calloc(samples, sizeof(double)), *ep_t = calloc(samples, sizeof(double));
	int kq = kqueue(), ep = epoll_create1(EPOLL_CLOEXEC), i;

	if (!kq_t || !ep_t)
		die("calloc");
	if (kq < 0)
		die("kqueue (is kqueue.ko loaded?)");
	if (ep < 0)
		die("epoll_create1");
	shared_ts = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared_ts == MAP_FAILED)
		die("mmap");
	/* warm-up */
	latency_kqueue(kq);
	latency_epoll(ep);
	for (i = 0; i < samples; i++) {
		kq_t[i] = latency_kqueue(kq);
		ep_t[i] = latency_epoll(ep);
	}
	res->kq_med = quantile(kq_t, samples, 0.5);
	res->kq_p99 = quantile(kq_t, samples, 0.99);
	res->ep_med = quantile(ep_t, samples, 0.5);
	res->ep_p99 = quantile(ep_t, samples, 0.99);
	close(kq);
	close(ep);
	free(kq_t);
	free(ep_t);
}

/* --- 2. fork rate with and without a tracking watcher --------------------- */

/* fork + _exit(0) + waitpid, @n times: forks per second. */
static double fork_rate(int n)
{
	double t0 = now_ns(), t1;
	int i;

	for (i = 0; i < n; i++) {
		pid_t p = fork();

		if (p < 0)
			die("fork");
		if (p == 0)
			_exit(0);
		reap(p);
	}
	t1 = now_ns();
	return n / ((t1 - t0) / 1e9);
}

struct drain {
	int kq;
	atomic_int stop;
	atomic_long child, exits, fork;
};

static void *drainer(void *arg)
{
	struct drain *d = arg;
	static const struct timespec tick = { 0, 20 * 1000 * 1000 };
	struct kevent ev[256];
	int n, i;

	while (!atomic_load(&d->stop)) {
		n = kevent(d->kq, NULL, 0, ev, 256, &tick);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("kevent (drainer)");
		}
		for (i = 0; i < n; i++) {
			if (ev[i].fflags == NOTE_CHILD)
				atomic_fetch_add(&d->child, 1);
			else if (ev[i].fflags & NOTE_EXIT)
				atomic_fetch_add(&d->exits, 1);
			if (ev[i].fflags & NOTE_FORK)
				atomic_fetch_add(&d->fork, 1);
		}
	}
	return NULL;
}

static void watch_self(int kq, int on)
{
	struct kevent c;

	EV_SET(&c, getpid(), EVFILT_PROC, on ? EV_ADD : EV_DELETE,
	       NOTE_TRACK | NOTE_EXIT | NOTE_FORK, 0, NULL);
	if (kevent(kq, &c, 1, NULL, 0, NULL))
		die("kevent(EVFILT_PROC self)");
}

static void pin(pthread_t t, int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_setaffinity_np(t, sizeof(set), &set);
}

struct rate {
	double plain, watched;
	long want, child, exits;
	int drain_cpu;
};

static void bench_fork_rate(struct rate *res)
{
	double *a = calloc(rounds, sizeof(double)), *b = calloc(rounds, sizeof(double));
	struct drain d = { .kq = kqueue() };
	struct kevent c;
	pthread_t t;
	int i;

	if (!a || !b)
		die("calloc");
	if (d.kq < 0)
		die("kqueue");
	/* the children need not close the kqueue: keep their path as without it */
	EV_SET(&c, 0, EVFILT_LIBKQUEUE, EV_ADD, NOTE_FORK_CLEANUP, 0, NULL);
	kevent(d.kq, &c, 1, NULL, 0, NULL);
	if (pthread_create(&t, NULL, drainer, &d))
		die("pthread_create");
	res->drain_cpu = sysconf(_SC_NPROCESSORS_ONLN) > 1 ? 1 : 0;
	pin(t, res->drain_cpu);
	fork_rate(forks_per_round / 10);	/* warm-up */
	for (i = 0; i < rounds; i++) {
		a[i] = fork_rate(forks_per_round);
		watch_self(d.kq, 1);
		b[i] = fork_rate(forks_per_round);
		watch_self(d.kq, 0);
	}
	/* the last events */
	usleep(500 * 1000);
	atomic_store(&d.stop, 1);
	pthread_join(t, NULL);
	res->plain = quantile(a, rounds, 0.5);
	res->watched = quantile(b, rounds, 0.5);
	res->want = (long)rounds * forks_per_round;
	res->child = atomic_load(&d.child);
	res->exits = atomic_load(&d.exits);
	EV_SET(&c, 0, EVFILT_LIBKQUEUE, EV_ADD, NOTE_FORK_CLEANUP, 1, NULL);
	kevent(d.kq, &c, 1, NULL, 0, NULL);
	close(d.kq);
	free(a);
	free(b);
}

/* --- 3. unwatched forks, module loaded vs unloaded -------------------------- */

static const char *ko_path(void)
{
	const char *p = getenv("KQUEUE_KO");

	return p && *p ? p : "/kqueue/kqueue.ko";
}

static int mod_unload(void)
{
	return syscall(SYS_delete_module, MODNAME, O_NONBLOCK) ? errno : 0;
}

static int mod_load(void)
{
	int fd = open(ko_path(), O_RDONLY | O_CLOEXEC), r, e;

	if (fd < 0)
		return errno;
	r = syscall(SYS_finit_module, fd, "", 0);
	e = errno;
	close(fd);
	if (r && e != EEXIST)
		return e;
	/* wait for the device node */
	for (r = 0; r < 50 && access("/dev/kqueue", F_OK); r++)
		usleep(100 * 1000);
	return 0;
}

/* Close every descriptor of this process that is a /dev/kqueue file. */
static void close_all_kqueues(void)
{
	char path[300], target[64];
	struct dirent *d;
	DIR *dir = opendir("/proc/self/fd");
	ssize_t n;

	if (!dir)
		return;
	while ((d = readdir(dir))) {
		int fd = atoi(d->d_name);

		if (d->d_name[0] == '.' || fd == dirfd(dir))
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%s", d->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = 0;
		if (!strcmp(target, "/dev/kqueue"))
			close(fd);
	}
	closedir(dir);
}

struct modcost {
	double loaded, unloaded;
	const char *skipped;	/* why, or NULL */
};

static void bench_module(struct modcost *res)
{
	double *a = calloc(rounds, sizeof(double)), *b = calloc(rounds, sizeof(double));
	int i, e;

	if (!a || !b)
		die("calloc");
	res->skipped = NULL;
	if (geteuid() != 0) {
		res->skipped = "not root";
		goto out;
	}
	if (access(ko_path(), R_OK)) {
		res->skipped = "module file not found (KQUEUE_KO)";
		goto out;
	}
	close_all_kqueues();
	fork_rate(forks_per_round / 10);	/* warm-up */
	for (i = 0; i < rounds; i++) {
		a[i] = fork_rate(forks_per_round);
		e = mod_unload();
		if (e) {
			fprintf(stderr, "procbench: delete_module(kqueue): %s\n", strerror(e));
			res->skipped = "the module could not be unloaded";
			goto out;
		}
		b[i] = fork_rate(forks_per_round);
		e = mod_load();
		if (e) {
			fprintf(stderr, "procbench: finit_module(%s): %s\n", ko_path(), strerror(e));
			exit(1);
		}
	}
	res->loaded = quantile(a, rounds, 0.5);
	res->unloaded = quantile(b, rounds, 0.5);
out:
	free(a);
	free(b);
}

int main(int argc, char **argv)
{
	int i, module = 1;
	char cs[64], cs_end[64];
	struct modcost m = { 0 };
	struct rate r;
	struct lat l;
	struct utsname u;
	cpu_set_t cpu;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--samples") && i + 1 < argc)
			samples = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--forks") && i + 1 < argc)
			forks_per_round = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
			rounds = atoi(argv[++i]) | 1;
		else if (!strcmp(argv[i], "--no-module"))
			module = 0;
		else {
			fprintf(stderr, "usage: procbench [--samples N] [--forks N] [--rounds N] [--no-module]\n");
			return 2;
		}
	}
	if (samples < 10 || forks_per_round < 10 || rounds < 1) {
		fprintf(stderr, "procbench: counts too small\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	clocksource(cs, sizeof(cs));
	for (i = 0; i < 300 && !strcmp(cs, "tsc-early"); i++) {
		usleep(100000);
		clocksource(cs, sizeof(cs));
	}
	uname(&u);
	printf("procbench: kernel %s, clocksource %s, %ld cpus%s\n", u.release, cs,
	       sysconf(_SC_NPROCESSORS_ONLN),
	       !access("/proc/lockdep", F_OK) || !access("/sys/kernel/debug/kmemleak", F_OK) ?
	       ", DEBUG KERNEL: numbers not representative" : "");
	if (strstr(cs, "jiffies"))
		printf("procbench: clocksource %s is coarse: latencies are NOT MEANINGFUL\n", cs);

	/* The forking thread on CPU 0, as kqbench; the drainer elsewhere if it can. */
	CPU_ZERO(&cpu);
	CPU_SET(0, &cpu);
	sched_setaffinity(0, sizeof(cpu), &cpu);

	bench_latency(&l);
	printf("\nexit -> wake-up latency (us, %d samples each, alternating)\n", samples);
	printf("%-28s %10s %10s\n", "", "median", "p99");
	printf("%-28s %10.1f %10.1f\n", "kqueue EVFILT_PROC NOTE_EXIT", l.kq_med, l.kq_p99);
	printf("%-28s %10.1f %10.1f\n", "pidfd + epoll_wait", l.ep_med, l.ep_p99);
	printf("%-28s %10.2f %10.2f\n", "kq/epoll", l.kq_med / l.ep_med, l.kq_p99 / l.ep_p99);

	bench_fork_rate(&r);
	printf("\nfork+exit+waitpid rate (forks/s, median of %d rounds of %d, alternating)\n",
	       rounds, forks_per_round);
	printf("%-40s %12.0f\n", "no watcher", r.plain);
	printf("%-40s %12.0f\n", "NOTE_TRACK|NOTE_EXIT|NOTE_FORK watcher", r.watched);
	printf("%-40s %12.2f\n", "watched/unwatched", r.watched / r.plain);
	printf("  (drainer thread on cpu %d; events: %ld NOTE_CHILD, %ld NOTE_EXIT of %ld forks%s)\n",
	       r.drain_cpu, r.child, r.exits, r.want,
	       r.child == r.want && r.exits == r.want ? ", none lost" : ", MISMATCH");

	if (module)
		bench_module(&m);
	else
		m.skipped = "--no-module";
	printf("\nunwatched fork+exit+waitpid rate, kqueue.ko loaded vs not (forks/s, median of %d rounds)\n",
	       rounds);
	if (m.skipped) {
		printf("  skipped: %s\n", m.skipped);
	} else {
		printf("%-40s %12.0f\n", "module loaded", m.loaded);
		printf("%-40s %12.0f\n", "module unloaded", m.unloaded);
		printf("%-40s %12.2f\n", "loaded/unloaded", m.loaded / m.unloaded);
	}
	clocksource(cs_end, sizeof(cs_end));
	if (strcmp(cs, cs_end))
		printf("procbench: WARNING: clocksource changed during the run (%s -> %s)\n",
		       cs, cs_end);
	return r.child == r.want && r.exits == r.want ? 0 : 1;
}
