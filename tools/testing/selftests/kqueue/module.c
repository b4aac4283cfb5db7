// SPDX-License-Identifier: GPL-2.0
/*
 * Module lifetime and the per-user knote cap (contract section 4).
 *
 * Runs LAST (see tests.list): it unloads and reloads the module.  Needs root
 * and the module file: $KQUEUE_KO, default /kqueue/kqueue.ko; SKIPs without
 * them.  Every test leaves the module loaded with its default parameters,
 * also when it fails (fixture teardown).
 */
#include <dirent.h>
#include <sys/syscall.h>

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

TEST_HARNESS_MAIN
