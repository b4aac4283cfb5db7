// SPDX-License-Identifier: GPL-2.0
/*
 * Module lifetime and the per-user knote cap (contract section 4).
 *
 * Runs LAST (see tests.list): it unloads and reloads the module.  Needs root
 * and the module file: $KQUEUE_KO, default /kqueue/kqueue.ko; SKIPs without
 * them.  Every test leaves the module loaded with its default parameters,
 * also when it fails (fixture teardown).
 *
 * Also the EVFILT_PROC cases that need module parameters or an unload:
 * NOTE_TRACKERR at the knote cap (max_user_knotes=8), proc_restrict=1, and
 * rmmod while processes that were tracked keep forking.
 */
#include <dirent.h>
#include <sys/syscall.h>
#include <linux/capability.h>

#include "kqueue_test.h"

#define MODNAME "kqueue"

static const char *ko_path(void)
{
	const char *p = getenv("KQUEUE_KO");

	return p && *p ? p : "/kqueue/kqueue.ko";
}

/* 1 if the module is listed in /proc/modules, 0 if not, -1 on error. */
static int module_loaded(void)
{
	char line[512];
	FILE *f = fopen("/proc/modules", "r");
	int found = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, MODNAME " ", strlen(MODNAME) + 1))
			found = 1;
	fclose(f);
	return found;
}

/* delete_module(O_NONBLOCK): 0 or errno. */
static int mod_unload(void)
{
	return syscall(SYS_delete_module, MODNAME, O_NONBLOCK) ? errno : 0;
}

/* finit_module with @params: 0 or errno. */
static int mod_load(const char *params)
{
	int fd = open(ko_path(), O_RDONLY | O_CLOEXEC), r, e;

	if (fd < 0)
		return errno;
	r = syscall(SYS_finit_module, fd, params, 0);
	e = errno;
	close(fd);
	return r ? e : 0;
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

FIXTURE(mod) {
	int reloaded;	/* loaded with non-default parameters */
};

FIXTURE_SETUP(mod)
{
	self->reloaded = 0;
	if (geteuid() != 0)
		SKIP(return, "needs root (loads and unloads the kqueue module)");
	if (access(ko_path(), R_OK))
		SKIP(return, "module file %s not found (set KQUEUE_KO)", ko_path());
	ASSERT_LE(0, module_loaded());
	if (!module_loaded())
		ASSERT_EQ(0, mod_load("")) TH_LOG("finit_module(%s) failed", ko_path());
	ASSERT_EQ(1, module_loaded());
}

FIXTURE_TEARDOWN(mod)
{
	int i, e = 0;

	close_all_kqueues();
	if (self->reloaded && module_loaded() == 1) {
		for (i = 0; i < 50; i++) {
			e = mod_unload();
			if (e != EWOULDBLOCK && e != EBUSY)
				break;
			sleep_ms(100);
		}
		EXPECT_EQ(0, e) TH_LOG("could not unload to restore default parameters");
	}
	if (module_loaded() == 0)
		EXPECT_EQ(0, mod_load("")) TH_LOG("could not reload %s", ko_path());
}

TEST_F(mod, rmmod_busy_while_open)
{
	int kq = kq_new(_metadata);

	/*
	 * The module core answers delete_module() on a module still in use
	 * with EWOULDBLOCK (== EAGAIN; rmmod prints "is in use").  EBUSY is
	 * only for a module that is coming or going or has no exit function.
	 */
	errno = 0;
	ASSERT_EQ(-1, syscall(SYS_delete_module, MODNAME, O_NONBLOCK));
	ASSERT_EQ(EWOULDBLOCK, errno) TH_LOG("errno %d (%s)", errno, strerror(errno));
	ASSERT_EQ(1, module_loaded());
	/* the open kqueue still works */
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD, 0, 0, NULL));
	kq_change(_metadata, kq, kev(1, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL));
	ASSERT_ONE_EVENT(kq, user_ev(1, EV_ADD, 0, 0, NULL));
	/* a kqueue with knotes, closed: then the module can go */
	ASSERT_EQ(0, close(kq));
	ASSERT_EQ(0, mod_unload());
	ASSERT_EQ(0, module_loaded());
	ASSERT_EQ(0, mod_load(""));
	ASSERT_EQ(1, module_loaded());
}

TEST_F(mod, kqueue_enosys_when_unloaded)
{
	int kq;

	ASSERT_EQ(0, mod_unload());
	ASSERT_EQ(0, module_loaded());
	ASSERT_EQ(ENOENT, mod_unload());
	errno = 0;
	ASSERT_EQ(-1, open("/dev/kqueue", O_RDWR | O_CLOEXEC));
	ASSERT_EQ(ENOENT, errno);
	errno = 0;
	ASSERT_EQ(-1, kqueue());
	ASSERT_EQ(ENOSYS, errno) TH_LOG("errno %d (%s)", errno, strerror(errno));
	/* loading it again brings kqueue() back */
	ASSERT_EQ(0, mod_load(""));
	kq = kq_new(_metadata);
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD, 0, 0, NULL));
	close(kq);
}

TEST_F(mod, user_knote_cap)
{
	enum { CAP = 8 };
	struct kevent ch[CAP], out[2];
	int kq, kq2, kq3, i;

	ASSERT_EQ(0, mod_unload());
	self->reloaded = 1;
	ASSERT_EQ(0, mod_load("max_user_knotes=8"));

	kq = kq_new(_metadata);
	for (i = 0; i < CAP; i++)
		ch[i] = kev(i, EVFILT_USER, EV_ADD, 0, 0, NULL);
	kq_apply(_metadata, kq, ch, CAP);
	/* the 9th knote of this user: ENOMEM, reported like any failed change */
	ASSERT_CHANGE_ERR(kq, kev(100, EVFILT_USER, EV_ADD, 0, 0, (void *)0x100), ENOMEM);
	ASSERT_FAILS(ENOMEM, kevent(kq, &(struct kevent){ .ident = 100, .filter = EVFILT_USER,
							   .flags = EV_ADD }, 1, NULL, 0, NULL));
	/* modifying an existing knote is not a new knote */
	kq_change(_metadata, kq, kev(3, EVFILT_USER, EV_ADD, NOTE_FFCOPY | 0x3, 0, (void *)3));
	/* deleting one makes room for one */
	kq_change(_metadata, kq, kev(0, EVFILT_USER, EV_DELETE, 0, 0, NULL));
	kq_change(_metadata, kq, kev(100, EVFILT_USER, EV_ADD, 0, 0, NULL));
	ASSERT_CHANGE_ERR(kq, kev(101, EVFILT_USER, EV_ADD, 0, 0, NULL), ENOMEM);

	/* the cap is per user, not per kqueue */
	kq2 = kq_new(_metadata);
	ASSERT_CHANGE_ERR(kq2, kev(1, EVFILT_USER, EV_ADD, 0, 0, NULL), ENOMEM);

	/* an EV_ONESHOT knote gives its charge back once delivered */
	kq_change(_metadata, kq, kev(100, EVFILT_USER, EV_DELETE, 0, 0, NULL));
	kq_change(_metadata, kq, kev(200, EVFILT_USER, EV_ADD | EV_ONESHOT, 0, 0, NULL));
	ASSERT_CHANGE_ERR(kq2, kev(1, EVFILT_USER, EV_ADD, 0, 0, NULL), ENOMEM);
	kq_change(_metadata, kq, kev(200, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL));
	memset(out, 0, sizeof(out));
	ASSERT_EQ(1, kq_poll(kq, out, 2));
	ASSERT_KEV(user_ev(200, EV_ADD | EV_ONESHOT, 0, 0, NULL), &out[0]);
	kq_change(_metadata, kq2, kev(1, EVFILT_USER, EV_ADD, 0, 0, NULL));
	ASSERT_CHANGE_ERR(kq2, kev(2, EVFILT_USER, EV_ADD, 0, 0, NULL), ENOMEM);

	/* closing a kqueue frees all its charges */
	ASSERT_EQ(0, close(kq));
	for (i = 0; i < CAP - 1; i++)
		ch[i] = kev(10 + i, EVFILT_USER, EV_ADD, 0, 0, NULL);
	kq_apply(_metadata, kq2, ch, CAP - 1);
	ASSERT_CHANGE_ERR(kq2, kev(2, EVFILT_USER, EV_ADD, 0, 0, NULL), ENOMEM);
	ASSERT_EQ(0, close(kq2));

	/* a new kqueue can use the whole cap again */
	kq3 = kq_new(_metadata);
	for (i = 0; i < CAP; i++)
		ch[i] = kev(i, EVFILT_USER, EV_ADD, 0, 0, NULL);
	kq_apply(_metadata, kq3, ch, CAP);
	ASSERT_CHANGE_ERR(kq3, kev(CAP, EVFILT_USER, EV_ADD, 0, 0, NULL), ENOMEM);
	ASSERT_EQ(0, close(kq3));

	/* back to the default parameters */
	ASSERT_EQ(0, mod_unload());
	ASSERT_EQ(0, mod_load(""));
	self->reloaded = 0;
	kq = kq_new(_metadata);
	for (i = 0; i < CAP; i++)
		ch[i] = kev(i, EVFILT_USER, EV_ADD, 0, 0, NULL);
	kq_apply(_metadata, kq, ch, CAP);
	kq_change(_metadata, kq, kev(CAP, EVFILT_USER, EV_ADD, 0, 0, NULL));
	close(kq);
}

/* ---- EVFILT_PROC -------------------------------------------------------- */

#define U(x) ((void *)(uintptr_t)(x))
#define WAIT_MS 10000
#define QUIET_MS 1000

/*
 * Commands:
 *   'g'  fork 12 children that block until 'r'; reply 'd'
 *   'r'  release them (they exit 3), reap them all, reply 'd'
 *   'f'  fork a child exiting 0 at once, reap it, reply 'd' (kid_server_cmd)
 *   'x'  exit 0
 */
static int cap_forker(int in, int out, void *arg)
{
	int hold[2] = { -1, -1 }, i, st, cmd;
	pid_t kids[12];
	char b;

	(void)arg;
	for (;;) {
		cmd = kid_cmd(in);
		switch (cmd) {
		case 'g':
			KID_CHECK(pipe(hold) == 0);
			for (i = 0; i < 12; i++) {
				kids[i] = fork();
				KID_CHECK(kids[i] >= 0);
				if (kids[i] == 0) {
					close(hold[1]);
					_exit(read(hold[0], &b, 1) == 0 ? 3 : 4);
				}
			}
			close(hold[0]);
			KID_CHECK(kid_reply(out, "d", 1) == 0);
			break;
		case 'r':
			close(hold[1]);
			for (i = 0; i < 12; i++) {
				KID_CHECK(waitpid(kids[i], &st, 0) == kids[i]);
				KID_CHECK(st == 3 << 8);
			}
			KID_CHECK(kid_reply(out, "d", 1) == 0);
			break;
		case 'x':
			return 0;
		default:
			if (kid_server_cmd(cmd, in, out) != 1)
				return 2;
		}
	}
}

static void reload_with(struct __test_metadata *_metadata, struct _test_data_mod *self,
			const char *params)
{
	ASSERT_EQ(0, mod_unload());
	self->reloaded = 1;
	ASSERT_EQ(0, mod_load(params)) TH_LOG("finit_module(%s)", params);
}

TEST_F_TIMEOUT(mod, proc_trackerr_at_knote_cap, 150)
{
	struct kevent ev[64];
	pid_t tracked[12];
	unsigned int pflags = 0;
	int kq, n, i, j, k = 0, exits = 0;
	struct kid p;
	char b[160];

	watchdog(140);
	reload_with(_metadata, self, "max_user_knotes=8");
	kq = kq_new(_metadata);
	kid_spawn(_metadata, &p, cap_forker, NULL);
	proc_watch(_metadata, kq, p.pid, NOTE_TRACK | NOTE_EXIT | NOTE_FORK, U(0xa0));

	/* 12 children that live on: more than the cap of 8 knotes allows */
	kid_send(_metadata, &p, 'g');
	kid_expect(_metadata, &p, 'd', 60000);
	n = proc_collect(kq, ev, 64, 1, WAIT_MS, QUIET_MS);
	for (i = 0; i < n; i++) {
		if (ev[i].fflags == NOTE_CHILD) {
			ASSERT_KEV(proc_child_ev(ev[i].ident, p.pid, EV_ADD, U(0xa0)), &ev[i]);
			ASSERT_GT(12, k);
			tracked[k++] = ev[i].ident;
			continue;
		}
		/* the parent's knote: NOTE_FORK, NOTE_TRACKERR, nothing else */
		ASSERT_EQ(0, ev[i].fflags & ~(NOTE_FORK | NOTE_TRACKERR))
			TH_LOG("%s", kev_str(&ev[i], b, sizeof(b)));
		ASSERT_KEV(proc_ev(p.pid, EV_ADD, ev[i].fflags, 0, U(0xa0)), &ev[i]);
		pflags |= ev[i].fflags;
	}
	TH_LOG("%d of 12 children tracked under max_user_knotes=8", k);
	ASSERT_LE(1, k);
	ASSERT_GE(7, k);
	ASSERT_EQ(NOTE_FORK | NOTE_TRACKERR, pflags);

	/* every tracked child's exit arrives, and nothing for the others */
	kid_send(_metadata, &p, 'r');
	kid_expect(_metadata, &p, 'd', 60000);
	n = proc_collect(kq, ev, 64, k, WAIT_MS, QUIET_MS);
	ASSERT_EQ(k, n);
	for (i = 0; i < n; i++)
		for (j = 0; j < k; j++)
			if (ev[i].ident == (uintptr_t)tracked[j]) {
				ASSERT_KEV(proc_ev(tracked[j], EV_ADD, NOTE_EXIT, 3 << 8, U(0xa0)),
					   &ev[i]);
				tracked[j] = 0;
				exits++;
			}
	ASSERT_EQ(k, exits);

	/* the charges came back: tracking works again, without NOTE_TRACKERR */
	kid_send(_metadata, &p, 'f');
	kid_expect(_metadata, &p, 'd', WAIT_MS);
	n = proc_collect(kq, ev, 64, 3, WAIT_MS, QUIET_MS);
	ASSERT_EQ(3, n);
	for (i = 0, j = 0; i < n; i++) {
		if (ev[i].fflags == NOTE_CHILD) {
			ASSERT_KEV(proc_child_ev(ev[i].ident, p.pid, EV_ADD, U(0xa0)), &ev[i]);
			j++;
		} else if (ev[i].ident == (uintptr_t)p.pid) {
			ASSERT_KEV(proc_ev(p.pid, EV_ADD, NOTE_FORK, 0, U(0xa0)), &ev[i]);
			j += 10;
		} else {
			ASSERT_KEV(proc_ev(ev[i].ident, EV_ADD, NOTE_EXIT, 0, U(0xa0)), &ev[i]);
			j += 100;
		}
	}
	ASSERT_EQ(111, j);
	kid_send(_metadata, &p, 'x');
	n = proc_collect(kq, ev, 64, 1, WAIT_MS, QUIET_MS);
	ASSERT_EQ(1, n);
	ASSERT_KEV(proc_ev(p.pid, EV_ADD, NOTE_EXIT, 0, U(0xa0)), &ev[0]);
	ASSERT_EQ(0, proc_reap(p.pid, WAIT_MS));
	kid_close(&p);
	close(kq);
}

/* EV_ADD of EVFILT_PROC on @pid in @kq: 0 or errno. */
static int watch_err(int kq, pid_t pid, unsigned int fflags)
{
	struct kevent c = kev(pid, EVFILT_PROC, EV_ADD, fflags, 0, NULL);

	return kevent(kq, &c, 1, NULL, 0, NULL) ? errno : 0;
}

/*
 * As uid 65534 under proc_restrict=1: root processes (*arg, the parent,
 * pid 1) are EPERM; itself and its own child can be watched. Replies 'r'
 * and waits for 'q' before exiting.
 */
static int restricted_watcher(int in, int out, void *arg)
{
	pid_t root_kid = *(pid_t *)arg, parent = getppid(), x;
	struct kevent ev[4];
	int kq, gate[2], n, st;
	char b;

	KID_CHECK(drop_to_nobody() == 0);
	kq = kqueue();
	KID_CHECK(kq >= 0);
	KID_CHECK(watch_err(kq, parent, NOTE_EXIT) == EPERM);
	KID_CHECK(watch_err(kq, root_kid, NOTE_EXIT) == EPERM);
	KID_CHECK(watch_err(kq, 1, NOTE_EXIT) == EPERM);
	KID_CHECK(watch_err(kq, getpid(), NOTE_EXIT | NOTE_FORK | NOTE_TRACK) == 0);
	KID_CHECK(pipe(gate) == 0);
	x = fork();
	KID_CHECK(x >= 0);
	if (x == 0) {
		close(gate[1]);
		_exit(read(gate[0], &b, 1) == 1 ? 4 : 5);
	}
	close(gate[0]);
	/* tracked (same user): NOTE_FORK on us and NOTE_CHILD */
	n = proc_collect(kq, ev, 4, 2, 10000, 300);
	KID_CHECK(n == 2);
	KID_CHECK(ev[0].fflags == NOTE_CHILD || ev[1].fflags == NOTE_CHILD);
	/* watched directly too (the tracking knote is modified) */
	KID_CHECK(watch_err(kq, x, NOTE_EXIT) == 0);
	KID_CHECK(write(gate[1], "g", 1) == 1);
	n = proc_wait(kq, ev, 4, 10000);
	KID_CHECK(n == 1);
	KID_CHECK(ev[0].ident == (uintptr_t)x && ev[0].fflags == NOTE_EXIT && ev[0].data == 4 << 8);
	KID_CHECK(waitpid(x, &st, 0) == x && st == 4 << 8);
	close(kq);
	KID_CHECK(kid_reply(out, "r", 1) == 0);
	KID_CHECK(kid_cmd(in) == 'q');
	return 0;
}

/* Root without CAP_SYS_PTRACE in its effective set: watches *arg (uid 65534)? */
static int root_without_ptrace(int in, int out, void *arg)
{
	pid_t *pids = arg;	/* [0]: uid 65534 process, [1]: root process */
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	int kq;

	(void)in;
	(void)out;
	KID_CHECK(syscall(SYS_capget, &hdr, data) == 0);
	data[CAP_SYS_PTRACE / 32].effective &= ~(1u << (CAP_SYS_PTRACE % 32));
	KID_CHECK(syscall(SYS_capset, &hdr, data) == 0);
	kq = kqueue();
	KID_CHECK(kq >= 0);
	KID_CHECK(watch_err(kq, pids[0], NOTE_EXIT) == EPERM);
	KID_CHECK(watch_err(kq, pids[1], NOTE_EXIT) == 0);
	close(kq);
	return 0;
}

TEST_F_TIMEOUT(mod, proc_restrict_same_uid, 120)
{
	struct kid r, w, z;
	pid_t pids[2];
	struct kevent ev;
	int kq, st;

	watchdog(110);
	reload_with(_metadata, self, "proc_restrict=1");
	kid_spawn(_metadata, &r, kid_server, NULL);
	kid_spawn(_metadata, &w, restricted_watcher, &r.pid);
	kid_expect(_metadata, &w, 'r', 30000);
	/* root (CAP_SYS_PTRACE) may watch the uid-65534 process */
	kq = kq_new(_metadata);
	proc_watch(_metadata, kq, w.pid, NOTE_EXIT, U(0xb0));
	pids[0] = w.pid;
	pids[1] = r.pid;
	kid_spawn(_metadata, &z, root_without_ptrace, pids);
	ASSERT_EQ(0, proc_reap(z.pid, 30000));
	kid_send(_metadata, &w, 'q');
	ev = proc_one(_metadata, kq, WAIT_MS);
	st = proc_reap(w.pid, WAIT_MS);
	ASSERT_EQ(0, st);
	ASSERT_KEV(proc_ev(w.pid, EV_ADD, NOTE_EXIT, st, U(0xb0)), &ev);
	kid_send(_metadata, &r, 'x');
	ASSERT_EQ(0, proc_reap(r.pid, WAIT_MS));
	kid_close(&r);
	kid_close(&w);
	kid_close(&z);
	close(kq);
}

TEST_F_TIMEOUT(mod, rmmod_while_tracked_process_forks, 120)
{
	struct kevent ev[64];
	int kq, n, i, children = 0, forks = 0;
	int64_t end;
	struct kid f;

	watchdog(110);
	kid_spawn(_metadata, &f, forker, &(int){ 0 });
	kq = kq_new(_metadata);
	proc_watch(_metadata, kq, f.pid, NOTE_TRACK | NOTE_EXIT | NOTE_FORK, U(0xc0));
	kid_send(_metadata, &f, 'g');
	end = now_ms() + 30000;
	while (children < 20 && now_ms() < end) {
		n = proc_wait(kq, ev, 64, 1000);
		ASSERT_LE(0, n);
		for (i = 0; i < n; i++)
			children += ev[i].fflags == NOTE_CHILD;
	}
	ASSERT_LE(20, children);
	/* close with tracking knotes attached, in the middle of the forks */
	ASSERT_EQ(0, close(kq));
	close_all_kqueues();
	ASSERT_EQ(0, mod_unload());
	ASSERT_EQ(0, module_loaded());
	/* no hook left behind: the forks go on without the module */
	sleep_ms(1500);
	ASSERT_EQ(0, kill(f.pid, 0));
	ASSERT_EQ(0, mod_load(""));
	kq = kq_new(_metadata);
	proc_watch(_metadata, kq, f.pid, NOTE_FORK, U(0xc1));
	n = proc_wait(kq, ev, 64, WAIT_MS);
	ASSERT_LE(1, n);
	ASSERT_KEV(proc_ev(f.pid, EV_ADD, NOTE_FORK, 0, U(0xc1)), &ev[0]);
	kid_send(_metadata, &f, 's');
	kid_recv(_metadata, &f, &forks, sizeof(forks), 30000);
	ASSERT_LT(20, forks);
	kid_send(_metadata, &f, 'x');
	ASSERT_EQ(0, proc_reap(f.pid, WAIT_MS));
	kid_close(&f);
	close(kq);
}

TEST_HARNESS_MAIN
