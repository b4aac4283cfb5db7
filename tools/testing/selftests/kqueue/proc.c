// SPDX-License-Identifier: GPL-2.0
/*
 * EVFILT_PROC without NOTE_TRACK (contract section 3; FreeBSD semantics):
 * attach errors, NOTE_EXIT with the exact wait(2) status (exit codes,
 * signals, core dumps), zombies, NOTE_FORK, NOTE_EXEC (also from a
 * non-leader thread), notes combined and merged, modifying/deleting/
 * disabling knotes, watching processes that are not children (a sibling,
 * a root process from an unprivileged user), and pid namespaces.
 * NOTE_TRACK is in proc_track.c; NOTE_TRACKERR and proc_restrict=1 in
 * module.c (they need module parameters).
 *
 * Returned events: ident = pid, flags = registration flags (EV_ADD kept)
 * | EV_CLEAR, plus EV_EOF|EV_ONESHOT with NOTE_EXIT; fflags = the notes
 * that happened since the last delivery; data = wait status for NOTE_EXIT,
 * else 0. Compared as whole struct kevent (proc_ev() in kqueue_test.h).
 *
 * Processes under test are "kids" (kqueue_test.h) driven through pipes, so
 * that the test registers before the kid acts. Times are generous: QEMU/TCG.
 */
#include <sched.h>
#include <sys/resource.h>

#include "kqueue_test.h"

#define U(x) ((void *)(uintptr_t)(x))
#define WAIT_MS 10000	/* an event that must come */
#define QUIET_MS 300	/* an event that must not come */

/* ---- exec helper --------------------------------------------------------- */

/*
 * Kids exec this very program (/proc/self/exe) with KQ_PROC_HELPER=<code>
 * in the environment: it then writes 'e' to fd 1, waits for a byte on fd 0
 * and exits with <code>, before the test harness ever starts.
 */
__attribute__((constructor)) static void proc_exec_helper(void)
{
	const char *code = getenv("KQ_PROC_HELPER");
	char c;

	if (!code)
		return;
	if (write(1, "e", 1) != 1)
		_exit(120);
	if (read(0, &c, 1) < 0)
		_exit(121);
	_exit(atoi(code));
}

/* Exec the helper with fd 0 = @in, fd 1 = @out; returns only on failure. */
static void exec_helper(int in, int out, int code)
{
	char env[32], *argv[] = { "kq-proc-helper", NULL }, *envp[] = { env, NULL };

	snprintf(env, sizeof(env), "KQ_PROC_HELPER=%d", code);
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0)
		return;
	execve("/proc/self/exe", argv, envp);
}

struct exec_args {
	int in, out;
};

static void *exec_thread(void *arg)
{
	struct exec_args *a = arg;

	exec_helper(a->in, a->out, 5);
	return NULL;	/* exec failed */
}

/*
 * The kid server of this file: kid_server_cmd's commands, plus
 *   'e'  exec the helper (exit status 5): 'e' comes from the new image
 *   'n'  execve of a missing file, must fail with ENOENT: reply 'd'
 *   'T'  a second thread execs the helper (the leader is replaced)
 */
static int server(int in, int out, void *arg)
{
	static struct exec_args ea;
	char *argv[] = { "x", NULL };
	pthread_t t;
	int c, r;

	(void)arg;
	for (;;) {
		c = kid_cmd(in);
		switch (c) {
		case 'e':
			exec_helper(in, out, 5);
			return 3;
		case 'n':
			errno = 0;
			execve("/nonexistent/kq-no-such-program", argv, argv + 1);
			if (errno != ENOENT)
				return 4;
			if (kid_reply(out, "d", 1))
				return 5;
			continue;
		case 'T':
			ea.in = in;
			ea.out = out;
			if (pthread_create(&t, NULL, exec_thread, &ea))
				return 6;
			pthread_join(t, NULL);	/* returns only if the exec failed */
			return 7;
		}
		r = kid_server_cmd(c, in, out);
		if (r == 0)
			return 0;
		if (r < 0)
			return 2;
	}
}

/* Kid that exits with (int)arg once it gets a byte. */
static int exit_on_cmd(int in, int out, void *arg)
{
	(void)out;
	if (kid_cmd(in) < 0)
		return 99;
	return (int)(intptr_t)arg;
}

static struct kid spawn_server(struct __test_metadata *_metadata)
{
	struct kid k;

	kid_spawn(_metadata, &k, server, NULL);
	return k;
}

/* Send @cmd to the kid and expect the reply 'd'. */
static void kid_do(struct __test_metadata *_metadata, struct kid *k, char cmd)
{
	kid_send(_metadata, k, cmd);
	kid_expect(_metadata, k, 'd', WAIT_MS);
}

/* Reap @pid (within WAIT_MS) and return its status; it must be reapable. */
static int reap(struct __test_metadata *_metadata, pid_t pid)
{
	int st = proc_reap(pid, WAIT_MS);

	ASSERT_NE(-1, st) TH_LOG("pid %d could not be reaped", pid);
	return st;
}

/*
 * The NOTE_EXIT event of @pid arrives within WAIT_MS, @pid is then
 * reapable at once (WNOHANG), and the event equals
 * proc_ev(pid, EV_ADD, NOTE_EXIT | @also, status, @udata). Returns status.
 */
static int expect_exit(struct __test_metadata *_metadata, int kq, pid_t pid, unsigned int also,
		       void *udata)
{
	struct kevent ev = proc_one(_metadata, kq, WAIT_MS);
	int st = -1;

	ASSERT_EQ(pid, waitpid(pid, &st, WNOHANG))
		TH_LOG("NOTE_EXIT delivered but pid %d not reapable (WNOHANG)", pid);
	ASSERT_KEV(proc_ev(pid, EV_ADD, NOTE_EXIT | also, st, udata), &ev);
	return st;
}

/* ---- attach errors ------------------------------------------------------- */

TEST(attach_reaped_pid_esrch)
{
	int kq = kq_new(_metadata), st;
	struct kevent c;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(0);
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	c = kev(pid, EVFILT_PROC, EV_ADD, NOTE_EXIT, 0, U(1));
	ASSERT_CHANGE_ERR(kq, c, ESRCH);
	ASSERT_FAILS(ESRCH, kevent(kq, &c, 1, NULL, 0, NULL));
	/* nothing was registered */
	ASSERT_CHANGE_ERR(kq, kev(pid, EVFILT_PROC, EV_DELETE, 0, 0, NULL), ENOENT);
	ASSERT_NO_EVENT(kq);
	close(kq);
}

TEST(attach_pid_zero_and_out_of_range)
{
	int kq = kq_new(_metadata);
	uintptr_t bad[] = {
		(uintptr_t)-1,			/* "negative" */
		(uintptr_t)0x80000000u,		/* negative as pid_t */
		((uintptr_t)1 << 32) | (uintptr_t)getpid(), /* truncates to our pid */
	};
	struct kevent c, out[2];
	unsigned int i;
	int n;

	ASSERT_CHANGE_ERR(kq, kev(0, EVFILT_PROC, EV_ADD, NOTE_EXIT, 0, NULL), ESRCH);
	/* beyond PID_MAX_LIMIT (4M): cannot exist */
	ASSERT_CHANGE_ERR(kq, kev(4194304 + 1000, EVFILT_PROC, EV_ADD, NOTE_EXIT, 0, NULL), ESRCH);
	/* not a pid at all: refused, ESRCH or EINVAL, and not taken as another pid */
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		c = kev(bad[i], EVFILT_PROC, EV_ADD, NOTE_EXIT | NOTE_FORK, 0, U(i));
		memset(out, 0, sizeof(out));
		n = kevent(kq, &c, 1, out, 2, &ts_zero);
		ASSERT_EQ(1, n);
		ASSERT_EQ(EV_ERROR, out[0].flags & EV_ERROR) TH_LOG("ident %#lx accepted",
								     (unsigned long)bad[i]);
		ASSERT_TRUE(out[0].data == ESRCH || out[0].data == EINVAL)
			TH_LOG("ident %#lx: error %ld", (unsigned long)bad[i], (long)out[0].data);
		out[0].data = 0;
		ASSERT_KEV(err_entry(c, 0), &out[0]);
	}
	ASSERT_CHANGE_ERR(kq, kev(getpid(), EVFILT_PROC, EV_DELETE, 0, 0, NULL), ENOENT);
	close(kq);
}

struct tid_thread {
	volatile pid_t tid;
	int p[2];
};

static void *tid_thread_fn(void *arg)
{
	struct tid_thread *t = arg;
	char c;

	t->tid = sys_gettid();
	if (read(t->p[0], &c, 1) < 0)
		return NULL;
	return NULL;
}

TEST(attach_thread_id_esrch)
{
	struct tid_thread t = { 0 };
	int kq = kq_new(_metadata);
	pthread_t th;
	int64_t end;

	watchdog(30);
	ASSERT_EQ(0, pipe2(t.p, O_CLOEXEC));
	ASSERT_EQ(0, pthread_create(&th, NULL, tid_thread_fn, &t));
	end = now_ms() + WAIT_MS;
	while (!t.tid && now_ms() < end)
		sleep_ms(5);
	ASSERT_NE(0, t.tid);
	ASSERT_NE(getpid(), t.tid);
	/* a thread that is not the thread-group leader is not a process */
	ASSERT_CHANGE_ERR(kq, kev(t.tid, EVFILT_PROC, EV_ADD, NOTE_EXIT, 0, U(2)), ESRCH);
	/* the leader's tid is the pid */
	proc_watch(_metadata, kq, getpid(), NOTE_EXIT, U(3));
	kq_change(_metadata, kq, kev(getpid(), EVFILT_PROC, EV_DELETE, 0, 0, NULL));
	ASSERT_EQ(1, write(t.p[1], "q", 1));
	ASSERT_EQ(0, join_within(th, NULL, WAIT_MS));
	close(t.p[0]);
	close(t.p[1]);
	close(kq);
}

/* ---- NOTE_EXIT and the wait status ---------------------------------------- */

static void check_exit_code(struct __test_metadata *_metadata, int code)
{
	int kq = kq_new(_metadata), st;
	struct kid k;

	watchdog(60);
	kid_spawn(_metadata, &k, exit_on_cmd, (void *)(intptr_t)code);
	proc_watch(_metadata, kq, k.pid, NOTE_EXIT, U(0x100 + code));
	ASSERT_NO_EVENT(kq);
	kid_send(_metadata, &k, 'g');
	st = expect_exit(_metadata, kq, k.pid, 0, U(0x100 + code));
	ASSERT_TRUE(WIFEXITED(st));
	ASSERT_EQ(code, WEXITSTATUS(st));
	/* EV_ONESHOT: the knote is gone */
	ASSERT_CHANGE_ERR(kq, kev(k.pid, EVFILT_PROC, EV_DELETE, 0, 0, NULL), ENOENT);
	ASSERT_QUIET(kq, QUIET_MS);
	kid_close(&k);
	close(kq);
}

TEST(exit_code_0)
{
	check_exit_code(_metadata, 0);
}

TEST(exit_code_1)
{
	check_exit_code(_metadata, 1);
}

TEST(exit_code_64)
{
	check_exit_code(_metadata, 64);
}

TEST(exit_code_255)
{
	check_exit_code(_metadata, 255);
}

TEST(exit_by_sigkill)
{
	int kq = kq_new(_metadata), st;
	struct kid k;

	watchdog(60);
	kid_spawn(_metadata, &k, exit_on_cmd, (void *)3);
	proc_watch(_metadata, kq, k.pid, NOTE_EXIT | NOTE_FORK | NOTE_EXEC, U(9));
	ASSERT_EQ(0, kill(k.pid, SIGKILL));
	st = expect_exit(_metadata, kq, k.pid, 0, U(9));
	ASSERT_TRUE(WIFSIGNALED(st));
	ASSERT_EQ(SIGKILL, WTERMSIG(st));
	ASSERT_FALSE(WCOREDUMP(st));
	kid_close(&k);
	close(kq);
}

/* SIGSEGV with a core dump: the fixture points core_pattern at /tmp. */
FIXTURE(core) {
	char saved[256];
	int changed;
};

#define CORE_PATTERN "/proc/sys/kernel/core_pattern"

FIXTURE_SETUP(core)
{
	FILE *f = fopen(CORE_PATTERN, "r");

	self->changed = 0;
	self->saved[0] = 0;
	if (f) {
		if (!fgets(self->saved, sizeof(self->saved), f))
			self->saved[0] = 0;
		fclose(f);
	}
	f = fopen(CORE_PATTERN, "w");
	if (f) {
		self->changed = fputs("/tmp/kq-core.%p", f) >= 0;
		if (fclose(f))
			self->changed = 0;
	}
	if (!self->changed && self->saved[0] == '|')
		SKIP(return, "core_pattern is a pipe and cannot be changed (not root?)");
}

FIXTURE_TEARDOWN(core)
{
	FILE *f;

	if (!self->changed)
		return;
	f = fopen(CORE_PATTERN, "w");
	if (f) {
		fputs(self->saved, f);
		fclose(f);
	}
}

static volatile uintptr_t null_address;

static int segv_on_cmd(int in, int out, void *arg)
{
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };

	(void)out;
	(void)arg;
	if (setrlimit(RLIMIT_CORE, &rl))
		return 10;
	if (chdir("/tmp"))
		return 11;
	prctl(PR_SET_DUMPABLE, 1);
	if (kid_cmd(in) < 0)
		return 99;
	*(volatile int *)null_address = 1;
	return 12;
}

TEST_F_TIMEOUT(core, exit_by_sigsegv_with_core, 120)
{
	int kq = kq_new(_metadata), st;
	char path[64];
	struct kid k;

	watchdog(110);
	kid_spawn(_metadata, &k, segv_on_cmd, NULL);
	proc_watch(_metadata, kq, k.pid, NOTE_EXIT, U(11));
	kid_send(_metadata, &k, 'g');
	st = expect_exit(_metadata, kq, k.pid, 0, U(11));
	ASSERT_TRUE(WIFSIGNALED(st)) TH_LOG("status %#x", st);
	ASSERT_EQ(SIGSEGV, WTERMSIG(st));
	ASSERT_TRUE(WCOREDUMP(st)) TH_LOG("no core dumped (status %#x); core_pattern?", st);
	snprintf(path, sizeof(path), "/tmp/kq-core.%d", k.pid);
	unlink(path);
	unlink("/tmp/core");
	kid_close(&k);
	close(kq);
}

/*
 * NOTE_EXIT only when the whole thread group is dead: the leader thread
 * exits first (a zombie leader, the process lives on in a second thread),
 * then the second thread calls _exit(7).
 */
static void *exit7_thread(void *arg)
{
	int in = (int)(intptr_t)arg;

	kid_cmd(in);
	_exit(7);
}

static int leader_exits_first(int in, int out, void *arg)
{
	pthread_t t;

	(void)arg;
	if (kid_cmd(in) < 0)
		return 99;
	if (pthread_create(&t, NULL, exit7_thread, (void *)(intptr_t)in))
		return 10;
	if (kid_reply(out, "r", 1))
		return 11;
	syscall(SYS_exit, 0);	/* this thread only */
	return 12;
}

/* State letter of /proc/<pid>/stat, or 0. */
static char proc_state(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

TEST(exit_when_last_thread_exits)
{
	int kq = kq_new(_metadata), st;
	int64_t end;
	struct kid k;

	watchdog(60);
	kid_spawn(_metadata, &k, leader_exits_first, NULL);
	proc_watch(_metadata, kq, k.pid, NOTE_EXIT, U(12));
	kid_send(_metadata, &k, 'g');
	kid_expect(_metadata, &k, 'r', WAIT_MS);
	end = now_ms() + WAIT_MS;
	while (proc_state(k.pid) != 'Z' && now_ms() < end)
		sleep_ms(10);
	ASSERT_EQ('Z', proc_state(k.pid)) TH_LOG("the leader thread did not exit");
	/* the process is still alive in its second thread */
	ASSERT_QUIET(kq, 500);
	ASSERT_EQ(0, waitpid(k.pid, &st, WNOHANG));
	kid_send(_metadata, &k, 'x');
	st = expect_exit(_metadata, kq, k.pid, 0, U(12));
	ASSERT_TRUE(WIFEXITED(st));
	ASSERT_EQ(7, WEXITSTATUS(st));
	kid_close(&k);
	close(kq);
}

/* ---- zombies --------------------------------------------------------------- */

TEST(zombie_before_registration)
{
	int kq = kq_new(_metadata), kq2 = kq_new(_metadata), st, n;
	struct kevent c, out[4];
	pid_t pid, pid2;

	watchdog(60);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(42);
	ASSERT_EQ(0, proc_wait_zombie(pid, WAIT_MS));
	/* pending at once, with the status, whatever else was asked for */
	proc_watch(_metadata, kq, pid, NOTE_EXIT | NOTE_FORK | NOTE_EXEC, U(13));
	ASSERT_ONE_EVENT(kq, proc_ev(pid, EV_ADD, NOTE_EXIT, 42 << 8, U(13)));
	/* the same in one kevent() call, registration and collection */
	c = kev(pid, EVFILT_PROC, EV_ADD, NOTE_EXIT, 0, U(14));
	memset(out, 0, sizeof(out));
	n = kevent(kq2, &c, 1, out, 4, &ts_zero);
	ASSERT_EQ(1, n) TH_LOG("kevent: %d (errno %d)", n, n < 0 ? errno : 0);
	ASSERT_KEV(proc_ev(pid, EV_ADD, NOTE_EXIT, 42 << 8, U(14)), &out[0]);
	ASSERT_NO_EVENT(kq);
	ASSERT_NO_EVENT(kq2);
	ASSERT_EQ(pid, waitpid(pid, &st, WNOHANG));
	ASSERT_EQ(42 << 8, st);

	/* a zombie killed by a signal */
	pid2 = fork();
	ASSERT_LE(0, pid2);
	if (pid2 == 0) {
		for (;;)
			pause();
	}
	ASSERT_EQ(0, kill(pid2, SIGKILL));
	ASSERT_EQ(0, proc_wait_zombie(pid2, WAIT_MS));
	proc_watch(_metadata, kq, pid2, NOTE_EXIT, U(15));
	ASSERT_ONE_EVENT(kq, proc_ev(pid2, EV_ADD, NOTE_EXIT, SIGKILL, U(15)));
	ASSERT_EQ(pid2, waitpid(pid2, &st, WNOHANG));
	ASSERT_EQ(SIGKILL, st);
	close(kq);
	close(kq2);
}

/* ---- watching a process that is not a child ----------------------------------- */

/* Watches pid *arg: replies 'r' once registered, then the event it got. */
static int sibling_watcher(int in, int out, void *arg)
{
	pid_t pid = *(pid_t *)arg;
	struct kevent ev;
	int kq = kqueue(), n;

	(void)in;
	KID_CHECK(kq >= 0);
	ev = kev(pid, EVFILT_PROC, EV_ADD, NOTE_EXIT, 0, U(0x5151));
	KID_CHECK(kevent(kq, &ev, 1, NULL, 0, NULL) == 0);
	KID_CHECK(kid_reply(out, "r", 1) == 0);
	memset(&ev, 0, sizeof(ev));
	n = proc_wait(kq, &ev, 1, 30000);
	KID_CHECK(n == 1);
	/* delivered while the sibling is a zombie its parent has not reaped */
	KID_CHECK(proc_state(pid) == 'Z');
	KID_CHECK(kid_reply(out, &ev, sizeof(ev)) == 0);
	close(kq);
	return 0;
}

TEST(watch_sibling)
{
	struct kid s, w;
	struct kevent ev;
	int st;

	watchdog(90);
	kid_spawn(_metadata, &s, exit_on_cmd, (void *)33);
	kid_spawn(_metadata, &w, sibling_watcher, &s.pid);
	kid_expect(_metadata, &w, 'r', WAIT_MS);
	kid_send(_metadata, &s, 'g');
	kid_recv(_metadata, &w, &ev, sizeof(ev), 30000);
	ASSERT_EQ(0, reap(_metadata, w.pid));
	st = reap(_metadata, s.pid);
	ASSERT_EQ(33 << 8, st);
	ASSERT_KEV(proc_ev(s.pid, EV_ADD, NOTE_EXIT, st, U(0x5151)), &ev);
	kid_close(&s);
	kid_close(&w);
}

TEST(watch_init_and_self)
{
	int kq = kq_new(_metadata);
	struct kevent ev;
	pid_t pid;

	watchdog(60);
	/* pid 1 is visible: registration works */
	proc_watch(_metadata, kq, 1, NOTE_EXIT | NOTE_FORK | NOTE_EXEC, U(1));
	kq_change(_metadata, kq, kev(1, EVFILT_PROC, EV_DELETE, 0, 0, NULL));
	/* our own process: NOTE_FORK when we fork */
	proc_watch(_metadata, kq, getpid(), NOTE_FORK, U(16));
	ASSERT_NO_EVENT(kq);
	fflush(NULL);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(0);
	ev = proc_one(_metadata, kq, WAIT_MS);
	ASSERT_KEV(proc_ev(getpid(), EV_ADD, NOTE_FORK, 0, U(16)), &ev);
	ASSERT_EQ(0, reap(_metadata, pid));
	kq_change(_metadata, kq, kev(getpid(), EVFILT_PROC, EV_DELETE, 0, 0, NULL));
	close(kq);
}

/* ---- NOTE_FORK ---------------------------------------------------------------- */

TEST(note_fork)
{
	int kq = kq_new(_metadata);
	struct kevent ev;
	struct kid k = spawn_server(_metadata);

	watchdog(60);
	proc_watch(_metadata, kq, k.pid, NOTE_FORK, U(20));
	ASSERT_NO_EVENT(kq);
	kid_do(_metadata, &k, 'f');
	ev = proc_one(_metadata, kq, WAIT_MS);
	ASSERT_KEV(proc_ev(k.pid, EV_ADD, NOTE_FORK, 0, U(20)), &ev);
	ASSERT_QUIET(kq, QUIET_MS);
	/* EV_CLEAR: three forks before a delivery are one event */
	kid_do(_metadata, &k, 'f');
	kid_do(_metadata, &k, 'f');
	kid_do(_metadata, &k, 'f');
	ev = proc_one(_metadata, kq, WAIT_MS);
	ASSERT_KEV(proc_ev(k.pid, EV_ADD, NOTE_FORK, 0, U(20)), &ev);
	ASSERT_QUIET(kq, QUIET_MS);
	/* vfork makes a process too */
	kid_do(_metadata, &k, 'v');
	ev = proc_one(_metadata, kq, WAIT_MS);
	ASSERT_KEV(proc_ev(k.pid, EV_ADD, NOTE_FORK, 0, U(20)), &ev);
	kid_send(_metadata, &k, 'x');
	ASSERT_EQ(0, reap(_metadata, k.pid));
	kid_close(&k);
	close(kq);
}

TEST(no_note_fork_for_threads)
{
	int kq = kq_new(_metadata);
	struct kevent ev;
	struct kid k = spawn_server(_metadata);

	watchdog(60);
	proc_watch(_metadata, kq, k.pid, NOTE_FORK | NOTE_EXEC, U(21));
	kid_do(_metadata, &k, 't');
	kid_do(_metadata, &k, 't');
	kid_do(_metadata, &k, 't');
	ASSERT_QUIET(kq, QUIET_MS);
	/* the knote works: a real fork is reported */
	kid_do(_metadata, &k, 'f');
	ev = proc_one(_metadata, kq, WAIT_MS);
	ASSERT_KEV(proc_ev(k.pid, EV_ADD, NOTE_FORK, 0, U(21)), &ev);
	kid_send(_metadata, &k, 'x');
	ASSERT_EQ(0, reap(_metadata, k.pid));
	kid_close(&k);
	close(kq);
}

/* ---- NOTE_EXEC ---------------------------------------------------------------- */

TEST(note_exec)
{
	int kq = kq_new(_metadata), st;
	struct kevent ev;
	struct kid k = spawn_server(_metadata);

	watchdog(60);
	proc_watch(_metadata, kq, k.pid, NOTE_EXEC, U(22));
	/* a failed execve is no event */
	kid_do(_metadata, &k, 'n');
	ASSERT_QUIET(kq, QUIET_MS);
	kid_send(_metadata, &k, 'e');
	kid_expect(_metadata, &k, 'e', WAIT_MS);	/* from the new image */
	ev = proc_one(_metadata, kq, WAIT_MS);
	ASSERT_KEV(proc_ev(k.pid, EV_ADD, NOTE_EXEC, 0, U(22)), &ev);
	ASSERT_QUIET(kq, QUIET_MS);
	kid_send(_metadata, &k, 'q');
	st = reap(_metadata, k.pid);
	ASSERT_EQ(5 << 8, st);
	kid_close(&k);
	close(kq);
}

TEST(note_exec_from_non_leader_thread)
{
	int kq = kq_new(_metadata), st;
	struct kevent ev;
	struct kid k = spawn_server(_metadata);

	watchdog(60);
	proc_watch(_metadata, kq, k.pid, NOTE_EXEC | NOTE_EXIT | NOTE_FORK, U(23));
	kid_send(_metadata, &k, 'T');
	kid_expect(_metadata, &k, 'e', WAIT_MS);
	/* NOTE_EXEC on the pid; the old leader's end is not an exit */
	ev = proc_one(_metadata, kq, WAIT_MS);
	ASSERT_KEV(proc_ev(k.pid, EV_ADD, NOTE_EXEC, 0, U(23)), &ev);
	ASSERT_QUIET(kq, QUIET_MS);
	ASSERT_EQ(0, waitpid(k.pid, &st, WNOHANG));
	kid_send(_metadata, &k, 'q');
	st = expect_exit(_metadata, kq, k.pid, 0, U(23));
	ASSERT_EQ(5 << 8, st);
	kid_close(&k);
	close(kq);
}

/* ---- notes combined ------------------------------------------------------------ */

TEST(notes_combined)
{
	int kq = kq_new(_metadata), st;
	unsigned int all = NOTE_EXIT | NOTE_FORK | NOTE_EXEC;
	struct kevent ev;
	struct kid k = spawn_server(_metadata), k2 = spawn_server(_metadata);

	watchdog(90);
	proc_watch(_metadata, kq, k.pid, all, U(24));
	proc_watch(_metadata, kq, k2.pid, all, U(25));
	/* each alone */
	kid_do(_metadata, &k, 'f');
	ev = proc_one(_metadata, kq, WAIT_MS);
	ASSERT_KEV(proc_ev(k.pid, EV_ADD, NOTE_FORK, 0, U(24)), &ev);
	/* fork then exec before a delivery: one event with both */
	kid_do(_metadata, &k, 'f');
	kid_send(_metadata, &k, 'e');
	kid_expect(_metadata, &k, 'e', WAIT_MS);
	ev = proc_one(_metadata, kq, WAIT_MS);
	ASSERT_KEV(proc_ev(k.pid, EV_ADD, NOTE_FORK | NOTE_EXEC, 0, U(24)), &ev);
	ASSERT_QUIET(kq, QUIET_MS);
	/* then the exit alone */
	kid_send(_metadata, &k, 'q');
	st = expect_exit(_metadata, kq, k.pid, 0, U(24));
	ASSERT_EQ(5 << 8, st);

	/* fork then exit before a delivery: NOTE_FORK rides on the exit event */
	kid_do(_metadata, &k2, 'f');
	kid_send(_metadata, &k2, 'c');
	kid_send(_metadata, &k2, 17);
	ASSERT_EQ(0, proc_wait_zombie(k2.pid, WAIT_MS));
	st = expect_exit(_metadata, kq, k2.pid, NOTE_FORK, U(25));
	ASSERT_EQ(17 << 8, st);
	ASSERT_NO_EVENT(kq);
	kid_close(&k);
	kid_close(&k2);
	close(kq);
}

TEST(only_registered_notes)
{
	int kq = kq_new(_metadata), st;
	struct kid k = spawn_server(_metadata);

	watchdog(60);
	proc_watch(_metadata, kq, k.pid, NOTE_EXIT, U(26));
	kid_do(_metadata, &k, 'f');
	kid_do(_metadata, &k, 't');
	kid_send(_metadata, &k, 'e');
	kid_expect(_metadata, &k, 'e', WAIT_MS);
	ASSERT_QUIET(kq, QUIET_MS);
	kid_send(_metadata, &k, 'q');
	st = expect_exit(_metadata, kq, k.pid, 0, U(26));
	ASSERT_EQ(5 << 8, st);
	kid_close(&k);
	close(kq);
}

TEST(modify_delete_disable)
{
	int kq = kq_new(_metadata), st;
	struct kevent ev;
	struct kid k = spawn_server(_metadata), k2 = spawn_server(_metadata),
		   k3 = spawn_server(_metadata);

	watchdog(90);
	/* EV_ADD on the existing knote replaces fflags and udata */
	proc_watch(_metadata, kq, k.pid, NOTE_EXIT, U(1));
	proc_watch(_metadata, kq, k.pid, NOTE_EXIT | NOTE_FORK, U(2));
	kid_do(_metadata, &k, 'f');
	ev = proc_one(_metadata, kq, WAIT_MS);
	ASSERT_KEV(proc_ev(k.pid, EV_ADD, NOTE_FORK, 0, U(2)), &ev);
	proc_watch(_metadata, kq, k.pid, NOTE_EXIT, U(3));
	kid_do(_metadata, &k, 'f');
	ASSERT_QUIET(kq, QUIET_MS);
	kid_send(_metadata, &k, 'x');
	st = expect_exit(_metadata, kq, k.pid, 0, U(3));
	ASSERT_EQ(0, st);

	/* EV_DELETE before the exit: no event, and it is gone */
	proc_watch(_metadata, kq, k2.pid, NOTE_EXIT, U(4));
	kq_change(_metadata, kq, kev(k2.pid, EVFILT_PROC, EV_DELETE, 0, 0, NULL));
	kid_send(_metadata, &k2, 'x');
	ASSERT_EQ(0, proc_wait_zombie(k2.pid, WAIT_MS));
	ASSERT_QUIET(kq, QUIET_MS);
	ASSERT_CHANGE_ERR(kq, kev(k2.pid, EVFILT_PROC, EV_DELETE, 0, 0, NULL), ENOENT);
	ASSERT_EQ(0, reap(_metadata, k2.pid));

	/*
	 * disabled at the exit: the event is kept and comes with EV_ENABLE
	 * (a change without EV_ADD updates udata and fflags too: same values)
	 */
	kq_change(_metadata, kq, kev(k3.pid, EVFILT_PROC, EV_ADD | EV_DISABLE, NOTE_EXIT, 0, U(5)));
	kid_send(_metadata, &k3, 'c');
	kid_send(_metadata, &k3, 9);
	ASSERT_EQ(0, proc_wait_zombie(k3.pid, WAIT_MS));
	ASSERT_QUIET(kq, QUIET_MS);
	kq_change(_metadata, kq, kev(k3.pid, EVFILT_PROC, EV_ENABLE, NOTE_EXIT, 0, U(5)));
	st = expect_exit(_metadata, kq, k3.pid, 0, U(5));
	ASSERT_EQ(9 << 8, st);
	kid_close(&k);
	kid_close(&k2);
	kid_close(&k3);
	close(kq);
}

TEST(two_kqueues_one_process)
{
	int kq = kq_new(_metadata), kq2 = kq_new(_metadata), st;
	struct kevent ev;
	struct kid k = spawn_server(_metadata);

	watchdog(60);
	proc_watch(_metadata, kq, k.pid, NOTE_EXIT | NOTE_FORK, U(30));
	proc_watch(_metadata, kq2, k.pid, NOTE_EXIT, U(31));
	kid_do(_metadata, &k, 'f');
	ev = proc_one(_metadata, kq, WAIT_MS);
	ASSERT_KEV(proc_ev(k.pid, EV_ADD, NOTE_FORK, 0, U(30)), &ev);
	ASSERT_NO_EVENT(kq2);
	kid_send(_metadata, &k, 'c');
	kid_send(_metadata, &k, 64);
	ASSERT_EQ(0, proc_wait_zombie(k.pid, WAIT_MS));
	ev = proc_one(_metadata, kq, WAIT_MS);
	ASSERT_KEV(proc_ev(k.pid, EV_ADD, NOTE_EXIT, 64 << 8, U(30)), &ev);
	ev = proc_one(_metadata, kq2, WAIT_MS);
	ASSERT_KEV(proc_ev(k.pid, EV_ADD, NOTE_EXIT, 64 << 8, U(31)), &ev);
	st = reap(_metadata, k.pid);
	ASSERT_EQ(64 << 8, st);
	kid_close(&k);
	close(kq);
	close(kq2);
}

/* ---- permissions (default: any process visible, as pidfd_open) --------------- */

/* As uid 65534: watch pid 1, the parent and root kid *arg; reply its exit event. */
static int nobody_watcher(int in, int out, void *arg)
{
	pid_t root_kid = *(pid_t *)arg, parent = getppid();
	struct kevent c, ev;
	int kq, n;

	(void)in;
	KID_CHECK(drop_to_nobody() == 0);
	KID_CHECK(geteuid() == 65534);
	kq = kqueue();
	KID_CHECK(kq >= 0);
	c = kev(1, EVFILT_PROC, EV_ADD, NOTE_EXIT, 0, NULL);
	KID_CHECK(kevent(kq, &c, 1, NULL, 0, NULL) == 0);
	c = kev(parent, EVFILT_PROC, EV_ADD, NOTE_EXIT | NOTE_FORK, 0, NULL);
	KID_CHECK(kevent(kq, &c, 1, NULL, 0, NULL) == 0);
	c = kev(parent, EVFILT_PROC, EV_DELETE, 0, 0, NULL);
	KID_CHECK(kevent(kq, &c, 1, NULL, 0, NULL) == 0);
	c = kev(1, EVFILT_PROC, EV_DELETE, 0, 0, NULL);
	KID_CHECK(kevent(kq, &c, 1, NULL, 0, NULL) == 0);
	c = kev(root_kid, EVFILT_PROC, EV_ADD, NOTE_EXIT, 0, U(0x6565));
	KID_CHECK(kevent(kq, &c, 1, NULL, 0, NULL) == 0);
	KID_CHECK(kid_reply(out, "r", 1) == 0);
	memset(&ev, 0, sizeof(ev));
	n = proc_wait(kq, &ev, 1, 30000);
	KID_CHECK(n == 1);
	KID_CHECK(kid_reply(out, &ev, sizeof(ev)) == 0);
	return 0;
}

TEST(unprivileged_watches_root_process)
{
	struct kid r, w;
	struct kevent ev;
	int st;

	if (geteuid() != 0)
		SKIP(return, "needs root (drops to uid 65534)");
	watchdog(90);
	kid_spawn(_metadata, &r, exit_on_cmd, (void *)1);
	kid_spawn(_metadata, &w, nobody_watcher, &r.pid);
	kid_expect(_metadata, &w, 'r', WAIT_MS);
	kid_send(_metadata, &r, 'g');
	kid_recv(_metadata, &w, &ev, sizeof(ev), 30000);
	ASSERT_EQ(0, reap(_metadata, w.pid));
	st = reap(_metadata, r.pid);
	ASSERT_EQ(1 << 8, st);
	ASSERT_KEV(proc_ev(r.pid, EV_ADD, NOTE_EXIT, st, U(0x6565)), &ev);
	kid_close(&r);
	kid_close(&w);
}

/* ---- pid namespaces ----------------------------------------------------------- */

/* Child J (ns pid 2) of the namespace init: forks K (ns pid 3, exit 3), exits 2. */
static int ns_j(void)
{
	pid_t k = fork();

	if (k < 0)
		return 10;
	if (k == 0)
		_exit(3);
	return 2;	/* K is left to the namespace init */
}

/*
 * The namespace init (pid 1 inside): watches J by its namespace pid with
 * NOTE_TRACK; every ident and data must be a namespace pid.
 */
static int ns_init(int in, int out, void *arg)
{
	pid_t outer_test = *(pid_t *)arg, j, p;
	int gate[2], kq, n, i, got_child = 0, got_exit3 = 0, got_exit2 = 0, st;
	struct kevent c, ev[8];
	char b;

	(void)in;
	(void)out;
	KID_CHECK(getpid() == 1);
	KID_CHECK(getppid() == 0);
	kq = kqueue();
	KID_CHECK(kq >= 0);
	/* the parent, outside: getppid() is 0, which is no pid */
	c = kev(0, EVFILT_PROC, EV_ADD, NOTE_EXIT, 0, NULL);
	KID_CHECK(kevent(kq, &c, 1, NULL, 0, NULL) == -1 && errno == ESRCH);
	/* the outer pid of the test does not exist in here */
	KID_CHECK(outer_test > 3);
	c = kev(outer_test, EVFILT_PROC, EV_ADD, NOTE_EXIT, 0, NULL);
	KID_CHECK(kevent(kq, &c, 1, NULL, 0, NULL) == -1 && errno == ESRCH);
	c = kev(4000000, EVFILT_PROC, EV_ADD, NOTE_EXIT, 0, NULL);
	KID_CHECK(kevent(kq, &c, 1, NULL, 0, NULL) == -1 && errno == ESRCH);
	/* J, gated until registered */
	KID_CHECK(pipe(gate) == 0);
	j = fork();
	KID_CHECK(j >= 0);
	if (j == 0) {
		close(gate[1]);
		if (read(gate[0], &b, 1) != 1)
			_exit(99);
		_exit(ns_j());
	}
	close(gate[0]);
	KID_CHECK(j == 2);
	c = kev(2, EVFILT_PROC, EV_ADD, NOTE_EXIT | NOTE_TRACK, 0, U(0x77));
	KID_CHECK(kevent(kq, &c, 1, NULL, 0, NULL) == 0);
	KID_CHECK(write(gate[1], "g", 1) == 1);
	/* expect NOTE_CHILD(3, data 2), NOTE_EXIT(3, status 3), NOTE_EXIT(2, status 2) */
	n = proc_collect(kq, ev, 8, 3, 20000, 500);
	KID_CHECK(n == 3);
	for (i = 0; i < n; i++) {
		struct kevent e = ev[i];

		if (e.fflags == NOTE_CHILD) {
			KID_CHECK(e.ident == 3 && e.data == 2 && e.udata == U(0x77));
			KID_CHECK(e.flags == (EV_ADD | EV_CLEAR | EV_ONESHOT));
			got_child++;
		} else if (e.fflags == NOTE_EXIT && e.ident == 3) {
			KID_CHECK(e.data == 3 << 8 && e.udata == U(0x77));
			KID_CHECK(e.flags == (EV_ADD | EV_CLEAR | EV_EOF | EV_ONESHOT));
			got_exit3++;
		} else if (e.fflags == NOTE_EXIT && e.ident == 2) {
			KID_CHECK(e.data == 2 << 8 && e.udata == U(0x77));
			KID_CHECK(e.flags == (EV_ADD | EV_CLEAR | EV_EOF | EV_ONESHOT));
			got_exit2++;
		} else {
			fprintf(stderr, "# ns init: unexpected event ident %lu fflags %#x data %ld\n",
				(unsigned long)e.ident, e.fflags, (long)e.data);
			return 20;
		}
	}
	KID_CHECK(got_child == 1 && got_exit3 == 1 && got_exit2 == 1);
	/* reap J and K (K was reparented to us) */
	for (i = 0; i < 2; i++) {
		p = waitpid(-1, &st, 0);
		KID_CHECK(p == 2 || p == 3);
		KID_CHECK(st == (p == 2 ? 2 << 8 : 3 << 8));
	}
	close(kq);
	return 0;
}

/*
 * Unshares a pid namespace and runs @init_fn as its pid 1; with @report, sends
 * the init's outer pid to the test first. Exits with the init's status.
 */
static int run_pidns(int in, int out, void *arg, int (*init_fn)(int, int, void *),
		     int report)
{
	pid_t init;
	int st;

	if (unshare(CLONE_NEWPID))
		return errno == EPERM || errno == EINVAL ? 4 : 30;
	init = fork();
	if (init < 0)
		return 31;
	if (init == 0)
		_exit(init_fn(in, out, arg));
	if (report && kid_reply(out, &init, sizeof(init)))
		return 33;
	if (waitpid(init, &st, 0) != init)
		return 32;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 40;
}

static int ns_creator(int in, int out, void *arg)
{
	return run_pidns(in, out, arg, ns_init, 0);
}

TEST(pidns_watcher_inside)
{
	pid_t me = getpid();
	struct kid k;
	int st;

	watchdog(90);
	kid_spawn(_metadata, &k, ns_creator, &me);
	st = proc_reap(k.pid, 60000);
	ASSERT_TRUE(WIFEXITED(st)) TH_LOG("status %#x", st);
	if (WEXITSTATUS(st) == 4)
		SKIP(return, "unshare(CLONE_NEWPID) not permitted");
	ASSERT_EQ(0, WEXITSTATUS(st));
	kid_close(&k);
}

/*
 * The namespace init seen from outside: the test watches it by its outer
 * pid with NOTE_TRACK; NOTE_CHILD and the child's NOTE_EXIT carry outer
 * pids. The init forks J, which blocks on @in until the test releases it.
 */
static int ns_init_outer(int in, int out, void *arg)
{
	pid_t j, me = getpid();
	int st;
	char b;

	(void)arg;
	if (me != 1)
		return 50;
	if (kid_cmd(in) != 'g')
		return 51;
	j = fork();
	if (j < 0)
		return 52;
	if (j == 0) {
		if (read(in, &b, 1) != 1)
			_exit(99);
		_exit(7);
	}
	if (kid_reply(out, "f", 1))
		return 53;
	if (waitpid(j, &st, 0) != j || st != 7 << 8)
		return 54;
	return 0;
}

/* The same, telling the test the init's pid outside the namespace. */
static int ns_creator_outer(int in, int out, void *arg)
{
	return run_pidns(in, out, arg, ns_init_outer, 1);
}

/* The namespace pids of @pid (NSpid line of /proc/<pid>/status) into @buf. */
static void nspid(pid_t pid, char *buf, size_t len)
{
	char path[64], line[256];
	FILE *f;

	snprintf(buf, len, "?");
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "NSpid:", 6)) {
			snprintf(buf, len, "%.60s", line + 6);
			buf[strcspn(buf, "\n")] = 0;
		}
	fclose(f);
}

TEST(pidns_watcher_outside)
{
	int kq = kq_new(_metadata), n, i, st;
	struct kevent ev[8], *child = NULL, *cexit = NULL, *iexit = NULL;
	char ns[64], want[64];
	pid_t init;
	struct kid k;

	watchdog(90);
	kid_spawn(_metadata, &k, ns_creator_outer, NULL);
	if (read_within(k.from, &init, sizeof(init), WAIT_MS)) {
		st = reap(_metadata, k.pid);
		if (WIFEXITED(st) && WEXITSTATUS(st) == 4)
			SKIP(return, "unshare(CLONE_NEWPID) not permitted");
		ASSERT_TRUE(0) TH_LOG("namespace creator failed, status %#x", st);
	}
	proc_watch(_metadata, kq, init, NOTE_EXIT | NOTE_TRACK, U(0x88));
	kid_send(_metadata, &k, 'g');
	kid_expect(_metadata, &k, 'f', WAIT_MS);
	ev[0] = proc_one(_metadata, kq, WAIT_MS);
	child = &ev[0];
	ASSERT_EQ(NOTE_CHILD, child->fflags);
	ASSERT_KEV(proc_child_ev(child->ident, init, EV_ADD, U(0x88)), child);
	/* the child's outer pid, and its pid 2 inside */
	nspid(child->ident, ns, sizeof(ns));
	snprintf(want, sizeof(want), "\t%lu\t2", (unsigned long)child->ident);
	ASSERT_STREQ(want, ns);
	nspid(init, ns, sizeof(ns));
	snprintf(want, sizeof(want), "\t%d\t1", init);
	ASSERT_STREQ(want, ns);
	kid_send(_metadata, &k, 'j');	/* J exits 7, the init reaps it and exits 0 */
	n = proc_collect(kq, ev + 1, 7, 2, WAIT_MS, QUIET_MS);
	ASSERT_EQ(2, n);
	for (i = 1; i <= n; i++) {
		if (ev[i].ident == child->ident)
			cexit = &ev[i];
		else if (ev[i].ident == (uintptr_t)init)
			iexit = &ev[i];
	}
	ASSERT_NE(NULL, cexit);
	ASSERT_NE(NULL, iexit);
	ASSERT_KEV(proc_ev(child->ident, EV_ADD, NOTE_EXIT, 7 << 8, U(0x88)), cexit);
	ASSERT_KEV(proc_ev(init, EV_ADD, NOTE_EXIT, 0, U(0x88)), iexit);
	ASSERT_EQ(0, reap(_metadata, k.pid));
	kid_close(&k);
	close(kq);
}

TEST_HARNESS_MAIN
