// SPDX-License-Identifier: GPL-2.0
/*
 * kqwatch: a tiny process supervisor on one kqueue.
 *
 * Forks a child, held on a pipe until EVFILT_PROC with NOTE_TRACK watches
 * it, so nothing it does is missed. The child forks a grandchild that execs
 * "sh -c 'exit 3'", then exits with status 7. NOTE_TRACK follows the fork:
 * the grandchild is watched from before its first instruction and shows up
 * as a NOTE_CHILD event of its own. The same kqueue has a 5 s one-shot
 * EVFILT_TIMER watchdog and counts SIGCHLD with EVFILT_SIGNAL (the default
 * disposition stays: SIG_IGN would make the kernel reap the children).
 *
 * As a child subreaper it inherits the orphaned grandchild, so it can reap
 * every process it saw exit; the status waitpid() returns must be the one
 * NOTE_EXIT carried. Exits 0 when everything arrived as it should.
 *
 *   cc -o kqwatch kqwatch.c $(pkg-config --cflags --libs libkqueue)
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/event.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_PROCS	8
#define WATCHDOG	1

static struct proc {
	pid_t pid;
	pid_t parent;		/* NOTE_CHILD's data; 0 for the child */
	unsigned int notes;	/* every note seen */
	int status;		/* NOTE_EXIT's data */
	int reaped;		/* waitpid() returned the same status */
} procs[MAX_PROCS];
static int nprocs, failed;

static void check(int ok, const char *what)
{
	printf("  %-56s %s\n", what, ok ? "ok" : "FAILED");
	if (!ok)
		failed = 1;
}

static struct proc *proc_get(pid_t pid)
{
	int i;

	for (i = 0; i < nprocs; i++)
		if (procs[i].pid == pid)
			return &procs[i];
	if (nprocs == MAX_PROCS)
		return NULL;
	procs[nprocs].pid = pid;
	return &procs[nprocs++];
}

static const char *notes_str(unsigned int fflags, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s%s%s", fflags & NOTE_CHILD ? "|NOTE_CHILD" : "",
		 fflags & NOTE_FORK ? "|NOTE_FORK" : "", fflags & NOTE_EXEC ? "|NOTE_EXEC" : "",
		 fflags & NOTE_EXIT ? "|NOTE_EXIT" : "",
		 fflags & NOTE_TRACKERR ? "|NOTE_TRACKERR" : "");
	return buf[0] ? buf + 1 : "0";
}

static const char *status_str(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exited with %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d%s", WTERMSIG(status),
			 WCOREDUMP(status) ? " (core dumped)" : "");
	else
		snprintf(buf, len, "status 0x%x", status);
	return buf;
}

/*
 * Reap what NOTE_EXIT reported. A grandchild that died before its parent is
 * that parent's zombie until the parent exits and hands it to us: retried
 * at each NOTE_EXIT.
 */
static void reap(void)
{
	char buf[64];
	int i, status;

	for (i = 0; i < nprocs; i++) {
		if (!(procs[i].notes & NOTE_EXIT) || procs[i].reaped)
			continue;
		if (waitpid(procs[i].pid, &status, WNOHANG) != procs[i].pid)
			continue;
		procs[i].reaped = status == procs[i].status ? 1 : -1;
		printf("kqwatch: reaped %d: %s\n", procs[i].pid, status_str(status, buf, sizeof(buf)));
	}
}

/* The child: waits to be watched, forks the grandchild, exits with 7. */
static void child(int release)
{
	char c;

	if (read(release, &c, 1) != 1)
		_exit(100);
	switch (fork()) {
	case -1:
		_exit(101);
	case 0:
		execl("/bin/sh", "sh", "-c", "exit 3", (char *)NULL);
		_exit(102);
	}
	_exit(7);
}

int main(void)
{
	struct kevent ch[3], ev[8];
	int kq, pfd[2], i, n, live = 1, sigchld = 0, watchdog = 0, nchild = 0;
	struct proc *c, *gc = NULL, *p;
	char nbuf[64], sbuf[64];
	pid_t pid;

	setvbuf(stdout, NULL, _IOLBF, 0);
	/* Orphans of our descendants become ours, so we can reap them. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0 || pipe(pfd) < 0) {
		perror("kqwatch: prctl/pipe");
		return 1;
	}
	kq = kqueue();
	if (kq < 0) {
		perror("kqwatch: kqueue (is kqueue.ko loaded?)");
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		perror("kqwatch: fork");
		return 1;
	}
	if (pid == 0) {
		close(pfd[1]);
		child(pfd[0]);
	}
	close(pfd[0]);
	c = proc_get(pid);
	printf("kqwatch: child %d forked, held until it is watched\n", pid);

	EV_SET(&ch[0], pid, EVFILT_PROC, EV_ADD,
	       NOTE_EXIT | NOTE_FORK | NOTE_EXEC | NOTE_TRACK, 0, NULL);
	EV_SET(&ch[1], WATCHDOG, EVFILT_TIMER, EV_ADD | EV_ONESHOT, NOTE_SECONDS, 5, NULL);
	EV_SET(&ch[2], SIGCHLD, EVFILT_SIGNAL, EV_ADD, 0, 0, NULL);
	check(kevent(kq, ch, 3, NULL, 0, NULL) == 0,
	      "EVFILT_PROC (NOTE_TRACK), TIMER and SIGNAL added");
	if (write(pfd[1], "x", 1) != 1)
		perror("kqwatch: release");
	close(pfd[1]);

	/* Until every process seen has exited and SIGCHLD was counted. */
	while ((live > 0 || !sigchld) && !watchdog) {
		n = kevent(kq, NULL, 0, ev, 8, NULL);
		if (n < 0) {
			perror("kqwatch: kevent");
			return 1;
		}
		for (i = 0; i < n; i++) {
			if (ev[i].filter == EVFILT_TIMER) {
				printf("  watchdog: nothing for 5 s, giving up\n");
				watchdog = 1;
				continue;
			}
			if (ev[i].filter == EVFILT_SIGNAL) {
				printf("  signal:  SIGCHLD x%ld\n", (long)ev[i].data);
				sigchld += ev[i].data;
				continue;
			}
			p = proc_get(ev[i].ident);
			if (!p)
				continue;
			printf("  pid %-5d %s", p->pid, notes_str(ev[i].fflags, nbuf, sizeof(nbuf)));
			if (ev[i].fflags & NOTE_CHILD) {
				printf(" (parent %ld)", (long)ev[i].data);
				p->parent = ev[i].data;
				nchild++;
				live++;
				gc = p;
			}
			if (ev[i].fflags & NOTE_EXIT) {
				printf(": %s", status_str(ev[i].data, sbuf, sizeof(sbuf)));
				p->status = ev[i].data;
				live--;
			}
			printf("\n");
			p->notes |= ev[i].fflags;
			if (ev[i].fflags & NOTE_EXIT)
				reap();
		}
	}
	/* Anything NOTE_EXIT reported but not yet ours to reap, once more. */
	reap();

	printf("kqwatch: %d processes seen, SIGCHLD counted %d times\n", nprocs, sigchld);
	check(!watchdog, "all exited before the 5 s watchdog");
	check((c->notes & NOTE_FORK) != 0, "NOTE_FORK from the child");
	check((c->notes & NOTE_EXIT) && WIFEXITED(c->status) && WEXITSTATUS(c->status) == 7,
	      "child: NOTE_EXIT, exited with 7");
	check(nchild == 1 && gc && gc->parent == c->pid,
	      "one NOTE_CHILD, the grandchild, parent the child");
	check(gc && (gc->notes & NOTE_EXEC), "grandchild: NOTE_EXEC");
	check(gc && (gc->notes & NOTE_EXIT) && WIFEXITED(gc->status) &&
	      WEXITSTATUS(gc->status) == 3, "grandchild: NOTE_EXIT, exited with 3");
	for (i = 0, n = 1; i < nprocs; i++)
		if (!(procs[i].notes & NOTE_EXIT) || procs[i].reaped != 1)
			n = 0;
	check(n, "every process exited, reaped with NOTE_EXIT's status");
	check(waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD, "no other child left");
	check(sigchld >= 1, "SIGCHLD counted by EVFILT_SIGNAL");

	close(kq);
	printf("kqwatch: %s\n", failed ? "FAILED" : "all good");
	return failed;
}
