// SPDX-License-Identifier: GPL-2.0
/*
 * EVFILT_VNODE (contract section 3): NOTE_DELETE, WRITE, EXTEND, ATTRIB,
 * LINK, RENAME, TRUNCATE (and REVOKE at unmount) on files and directories,
 * only the requested events, OR'd until delivery, each change reported once
 * (EV_CLEAR is not implied in the returned flags: FreeBSD, libkqueue); the
 * watch does not keep a file from being deleted and ends (EV_EOF|EV_ONESHOT)
 * when the file is gone; the watch follows the inode, not the descriptor.
 * FreeBSD 11's access notes (NOTE_OPEN, NOTE_CLOSE, NOTE_CLOSE_WRITE,
 * NOTE_READ) only when asked for.
 */
#include <pthread.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/time.h>

#include "kqueue_test.h"

#define U(x) ((void *)(uintptr_t)(x))
#define ALL (NOTE_DELETE | NOTE_WRITE | NOTE_EXTEND | NOTE_ATTRIB | NOTE_LINK | \
	     NOTE_RENAME | NOTE_REVOKE | NOTE_TRUNCATE)
#define ACCESS (NOTE_OPEN | NOTE_CLOSE | NOTE_CLOSE_WRITE | NOTE_READ)

static struct kevent vadd(int fd, unsigned int fflags, void *ud)
{
	return kev(fd, EVFILT_VNODE, EV_ADD, fflags, 0, ud);
}

/* The event of a knote registered with plain EV_ADD (no EV_CLEAR added). */
static struct kevent vev(int fd, unsigned int fflags, void *ud)
{
	return kev(fd, EVFILT_VNODE, EV_ADD, fflags, 0, ud);
}

/* The last event of a knote whose file is gone. */
static struct kevent vend(int fd, unsigned int fflags, void *ud)
{
	return kev(fd, EVFILT_VNODE, EV_ADD | EV_EOF | EV_ONESHOT, fflags, 0, ud);
}

FIXTURE(vn) {
	char dir[64];
	char path[96];
	int kq;
	int fd;
};

FIXTURE_SETUP(vn)
{
	snprintf(self->dir, sizeof(self->dir), "/tmp/kqvn-%d", getpid());
	ASSERT_EQ(0, mkdir(self->dir, 0700)) TH_LOG("mkdir: %s", strerror(errno));
	snprintf(self->path, sizeof(self->path), "%s/f", self->dir);
	self->fd = open(self->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(4, write(self->fd, "abcd", 4));
	self->kq = kq_new(_metadata);
}

FIXTURE_TEARDOWN(vn)
{
	char cmd[96];

	close(self->kq);
	close(self->fd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", self->dir);
	if (system(cmd))
		TH_LOG("%s failed", cmd);
}

TEST_F(vn, write_extend)
{
	kq_change(_metadata, self->kq, vadd(self->fd, ALL, U(1)));
	ASSERT_NO_EVENT(self->kq);
	ASSERT_EQ(2, write(self->fd, "ef", 2));
	ASSERT_ONE_EVENT(self->kq, vev(self->fd, NOTE_WRITE | NOTE_EXTEND, U(1)));
	ASSERT_NO_EVENT(self->kq);
	/* overwriting without growing: NOTE_WRITE alone */
	ASSERT_EQ(2, pwrite(self->fd, "xy", 2, 0));
	ASSERT_ONE_EVENT(self->kq, vev(self->fd, NOTE_WRITE, U(1)));
}

TEST_F(vn, truncate)
{
	kq_change(_metadata, self->kq, vadd(self->fd, ALL, NULL));
	ASSERT_EQ(0, ftruncate(self->fd, 1));
	ASSERT_ONE_EVENT(self->kq, vev(self->fd, NOTE_TRUNCATE, NULL));
	/* growing by truncate cannot be told from a write that extends */
	ASSERT_EQ(0, ftruncate(self->fd, 100));
	ASSERT_ONE_EVENT(self->kq, vev(self->fd, NOTE_WRITE | NOTE_EXTEND, NULL));
	/* O_TRUNC */
	close(open(self->path, O_WRONLY | O_TRUNC));
	ASSERT_ONE_EVENT(self->kq, vev(self->fd, NOTE_TRUNCATE, NULL));
}

TEST_F(vn, attrib)
{
	struct timeval tv[2] = { { 1000, 0 }, { 2000, 0 } };

	kq_change(_metadata, self->kq, vadd(self->fd, ALL, NULL));
	ASSERT_EQ(0, fchmod(self->fd, 0640));
	ASSERT_ONE_EVENT(self->kq, vev(self->fd, NOTE_ATTRIB, NULL));
	ASSERT_EQ(0, futimes(self->fd, tv));
	ASSERT_ONE_EVENT(self->kq, vev(self->fd, NOTE_ATTRIB, NULL));
}

TEST_F(vn, link_and_delete)
{
	char other[128];

	snprintf(other, sizeof(other), "%s/g", self->dir);
	kq_change(_metadata, self->kq, vadd(self->fd, ALL, NULL));
	ASSERT_EQ(0, link(self->path, other));
	ASSERT_ONE_EVENT(self->kq, vev(self->fd, NOTE_LINK, NULL));
	ASSERT_EQ(0, unlink(other));
	ASSERT_ONE_EVENT(self->kq, vev(self->fd, NOTE_LINK, NULL));
	/* the last link: NOTE_DELETE at once, although the descriptor is open */
	ASSERT_EQ(0, unlink(self->path));
	ASSERT_ONE_EVENT(self->kq, vev(self->fd, NOTE_DELETE, NULL));
	/* still open: the file exists and can change */
	ASSERT_EQ(1, write(self->fd, "z", 1));
	ASSERT_ONE_EVENT(self->kq, vev(self->fd, NOTE_WRITE | NOTE_EXTEND, NULL));
}

TEST_F(vn, rename)
{
	char other[128];

	snprintf(other, sizeof(other), "%s/renamed", self->dir);
	kq_change(_metadata, self->kq, vadd(self->fd, ALL, NULL));
	ASSERT_EQ(0, rename(self->path, other));
	ASSERT_ONE_EVENT(self->kq, vev(self->fd, NOTE_RENAME, NULL));
}

/* Renaming another file over the watched one deletes it. */
TEST_F(vn, renamed_over)
{
	char other[128];
	int fd2;

	snprintf(other, sizeof(other), "%s/other", self->dir);
	fd2 = open(other, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	ASSERT_LE(0, fd2);
	close(fd2);
	kq_change(_metadata, self->kq, vadd(self->fd, ALL, NULL));
	ASSERT_EQ(0, rename(other, self->path));
	ASSERT_ONE_EVENT(self->kq, vev(self->fd, NOTE_DELETE, NULL));
}

TEST_F(vn, only_requested_events)
{
	kq_change(_metadata, self->kq, vadd(self->fd, NOTE_DELETE | NOTE_RENAME, U(3)));
	ASSERT_EQ(1, write(self->fd, "q", 1));
	ASSERT_EQ(0, fchmod(self->fd, 0600));
	ASSERT_NO_EVENT(self->kq);
	ASSERT_EQ(0, unlink(self->path));
	ASSERT_ONE_EVENT(self->kq, vev(self->fd, NOTE_DELETE, U(3)));
	/* EV_ADD changes the interest */
	kq_change(_metadata, self->kq, vadd(self->fd, NOTE_ATTRIB, U(4)));
	ASSERT_EQ(1, write(self->fd, "q", 1));
	ASSERT_NO_EVENT(self->kq);
	ASSERT_EQ(0, fchmod(self->fd, 0640));
	ASSERT_ONE_EVENT(self->kq, vev(self->fd, NOTE_ATTRIB, U(4)));
}

TEST_F(vn, ored_until_delivery)
{
	kq_change(_metadata, self->kq, vadd(self->fd, ALL, NULL));
	ASSERT_EQ(1, write(self->fd, "q", 1));
	ASSERT_EQ(0, fchmod(self->fd, 0640));
	ASSERT_EQ(1, pwrite(self->fd, "r", 1, 0));
	ASSERT_ONE_EVENT(self->kq, vev(self->fd, NOTE_WRITE | NOTE_EXTEND | NOTE_ATTRIB, NULL));
	ASSERT_NO_EVENT(self->kq);
}

TEST_F(vn, disable_enable)
{
	kq_change(_metadata, self->kq, vadd(self->fd, ALL, NULL));
	kq_change(_metadata, self->kq, kev(self->fd, EVFILT_VNODE, EV_DISABLE, 0, 0, NULL));
	ASSERT_EQ(0, fchmod(self->fd, 0640));
	ASSERT_NO_EVENT(self->kq);
	/* what happened while disabled is reported at EV_ENABLE */
	kq_change(_metadata, self->kq, kev(self->fd, EVFILT_VNODE, EV_ENABLE, 0, 0, NULL));
	ASSERT_ONE_EVENT(self->kq, vev(self->fd, NOTE_ATTRIB, NULL));
}

TEST_F(vn, oneshot_and_dispatch)
{
	kq_change(_metadata, self->kq, kev(self->fd, EVFILT_VNODE, EV_ADD | EV_DISPATCH,
					   NOTE_ATTRIB, 0, NULL));
	ASSERT_EQ(0, fchmod(self->fd, 0640));
	ASSERT_ONE_EVENT(self->kq, kev(self->fd, EVFILT_VNODE, EV_ADD | EV_DISPATCH,
				       NOTE_ATTRIB, 0, NULL));
	ASSERT_EQ(0, fchmod(self->fd, 0600));
	ASSERT_NO_EVENT(self->kq);
	kq_change(_metadata, self->kq, kev(self->fd, EVFILT_VNODE, EV_ENABLE, 0, 0, NULL));
	ASSERT_ONE_EVENT(self->kq, kev(self->fd, EVFILT_VNODE, EV_ADD | EV_DISPATCH,
				       NOTE_ATTRIB, 0, NULL));

	kq_change(_metadata, self->kq, kev(self->fd, EVFILT_VNODE, EV_DELETE, 0, 0, NULL));
	kq_change(_metadata, self->kq, kev(self->fd, EVFILT_VNODE, EV_ADD | EV_ONESHOT,
					   NOTE_WRITE, 0, NULL));
	ASSERT_EQ(1, write(self->fd, "q", 1));
	ASSERT_ONE_EVENT(self->kq, kev(self->fd, EVFILT_VNODE, EV_ADD | EV_ONESHOT,
				       NOTE_WRITE, 0, NULL));
	ASSERT_CHANGE_ERR(self->kq, kev(self->fd, EVFILT_VNODE, EV_DELETE, 0, 0, NULL), ENOENT);
}

/* EV_CLEAR is reported where the registration gave it, and only there. */
TEST_F(vn, clear_only_when_asked)
{
	kq_change(_metadata, self->kq, vadd(self->fd, NOTE_ATTRIB, U(1)));
	ASSERT_EQ(0, fchmod(self->fd, 0640));
	ASSERT_ONE_EVENT(self->kq, kev(self->fd, EVFILT_VNODE, EV_ADD, NOTE_ATTRIB, 0, U(1)));
	/* reported once per change, with or without EV_CLEAR */
	ASSERT_NO_EVENT(self->kq);
	kq_change(_metadata, self->kq, kev(self->fd, EVFILT_VNODE, EV_DELETE, 0, 0, NULL));
	kq_change(_metadata, self->kq, kev(self->fd, EVFILT_VNODE, EV_ADD | EV_CLEAR,
					   NOTE_ATTRIB, 0, U(2)));
	ASSERT_EQ(0, fchmod(self->fd, 0600));
	ASSERT_ONE_EVENT(self->kq, kev(self->fd, EVFILT_VNODE, EV_ADD | EV_CLEAR, NOTE_ATTRIB,
				       0, U(2)));
	ASSERT_NO_EVENT(self->kq);
}

/* EV_DISPATCH: an event, then nothing until EV_ENABLE, then the next change. */
TEST_F(vn, dispatch_reports_next_change)
{
	const struct kevent ev = kev(self->fd, EVFILT_VNODE, EV_ADD | EV_DISPATCH, NOTE_ATTRIB,
				     0, U(3));
	int i;

	kq_change(_metadata, self->kq, kev(self->fd, EVFILT_VNODE, EV_ADD | EV_DISPATCH,
					   NOTE_ATTRIB, 0, U(3)));
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, fchmod(self->fd, i & 1 ? 0600 : 0640));
		ASSERT_ONE_EVENT(self->kq, ev);
		ASSERT_NO_EVENT(self->kq);
		kq_change(_metadata, self->kq, kev(self->fd, EVFILT_VNODE, EV_ENABLE, 0, 0, U(3)));
		ASSERT_NO_EVENT(self->kq);
	}
}

TEST_F(vn, directory_entries)
{
	char p[160];
	int dfd = open(self->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	ASSERT_LE(0, dfd);
	kq_change(_metadata, self->kq, vadd(dfd, ALL, U(9)));
	/* a file created in the directory: NOTE_WRITE on the directory (BSD) */
	snprintf(p, sizeof(p), "%s/new", self->dir);
	close(open(p, O_WRONLY | O_CREAT, 0600));
	ASSERT_ONE_EVENT(self->kq, vev(dfd, NOTE_WRITE, U(9)));
	/* writing to a file in it changes nothing of the directory */
	ASSERT_EQ(1, write(self->fd, "q", 1));
	ASSERT_NO_EVENT(self->kq);
	ASSERT_EQ(0, unlink(p));
	ASSERT_ONE_EVENT(self->kq, vev(dfd, NOTE_WRITE, U(9)));
	snprintf(p, sizeof(p), "%s/moved", self->dir);
	ASSERT_EQ(0, rename(self->path, p));
	ASSERT_ONE_EVENT(self->kq, vev(dfd, NOTE_WRITE, U(9)));
	/* a subdirectory changes the directory's link count too */
	snprintf(p, sizeof(p), "%s/sub", self->dir);
	ASSERT_EQ(0, mkdir(p, 0700));
	ASSERT_ONE_EVENT(self->kq, vev(dfd, NOTE_WRITE | NOTE_LINK, U(9)));
	ASSERT_EQ(0, rmdir(p));
	ASSERT_ONE_EVENT(self->kq, vev(dfd, NOTE_WRITE | NOTE_LINK, U(9)));
	ASSERT_EQ(0, fchmod(dfd, 0750));
	ASSERT_ONE_EVENT(self->kq, vev(dfd, NOTE_ATTRIB, U(9)));
	close(dfd);
}

/* Many changes in a watched directory: coalesced, never lost, exact flags. */
TEST_F(vn, directory_many_changes)
{
	enum { N = 300 };
	char p[160];
	struct kevent ev[4];
	int dfd = open(self->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int i, n, seen = 0;

	ASSERT_LE(0, dfd);
	kq_change(_metadata, self->kq, vadd(dfd, NOTE_WRITE | NOTE_LINK, NULL));
	for (i = 0; i < N; i++) {
		snprintf(p, sizeof(p), "%s/m%d", self->dir, i);
		close(open(p, O_WRONLY | O_CREAT, 0600));
		if (i % 50 == 0) {
			n = kq_poll(self->kq, ev, 4);
			ASSERT_EQ(1, n);
			ASSERT_KEV(vev(dfd, NOTE_WRITE, NULL), &ev[0]);
			seen++;
		}
	}
	/* the creations since the last poll, in one event */
	ASSERT_ONE_EVENT(self->kq, vev(dfd, NOTE_WRITE, NULL));
	for (i = 0; i < N; i++) {
		snprintf(p, sizeof(p), "%s/m%d", self->dir, i);
		ASSERT_EQ(0, unlink(p));
	}
	for (i = 0; i < 20; i++) {
		snprintf(p, sizeof(p), "%s/d%d", self->dir, i);
		ASSERT_EQ(0, mkdir(p, 0700));
	}
	ASSERT_ONE_EVENT(self->kq, vev(dfd, NOTE_WRITE | NOTE_LINK, NULL));
	for (i = 0; i < 20; i++) {
		snprintf(p, sizeof(p), "%s/d%d", self->dir, i);
		ASSERT_EQ(0, rmdir(p));
	}
	ASSERT_ONE_EVENT(self->kq, vev(dfd, NOTE_WRITE | NOTE_LINK, NULL));
	ASSERT_NO_EVENT(self->kq);
	ASSERT_EQ(N / 50, seen);
	close(dfd);
}

static long long tmp_free_blocks(void)
{
	struct statfs sf;

	if (statfs("/tmp", &sf))
		return -1;
	return (long long)sf.f_bfree;
}

/*
 * The knote holds no file: with its descriptor closed, unlink frees the file
 * at once and the watch ends with NOTE_DELETE, EV_EOF and EV_ONESHOT.
 */
TEST_F(vn, watch_does_not_keep_file)
{
	static char buf[1 << 20];
	long long before, full;
	int i, fd = self->fd;

	memset(buf, 'x', sizeof(buf));
	before = tmp_free_blocks();
	for (i = 0; i < 4; i++)
		ASSERT_EQ(sizeof(buf), write(fd, buf, sizeof(buf)));
	full = tmp_free_blocks();
	ASSERT_GT(before, full);
	kq_change(_metadata, self->kq, vadd(fd, ALL, U(5)));
	/* the watch outlives the descriptor (it follows the inode) */
	close(fd);
	self->fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ASSERT_EQ(0, unlink(self->path));
	ASSERT_ONE_EVENT(self->kq, vend(fd, NOTE_DELETE, U(5)));
	/* the 4 MiB are free again */
	ASSERT_LE(before - 16, tmp_free_blocks());
	ASSERT_CHANGE_ERR(self->kq, kev(fd, EVFILT_VNODE, EV_DELETE, 0, 0, NULL), ENOENT);
}

/* With the descriptor open, the watch ends when the last descriptor goes. */
TEST_F(vn, delete_open_file_ends_at_close)
{
	int fd2 = open(self->path, O_RDONLY | O_CLOEXEC);

	ASSERT_LE(0, fd2);
	kq_change(_metadata, self->kq, vadd(fd2, ALL, NULL));
	ASSERT_EQ(0, unlink(self->path));
	ASSERT_ONE_EVENT(self->kq, vev(fd2, NOTE_DELETE, NULL));
	close(fd2);
	ASSERT_NO_EVENT(self->kq);
	close(self->fd);
	self->fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ASSERT_ONE_EVENT(self->kq, vend(fd2, NOTE_DELETE, NULL));
	ASSERT_NO_EVENT(self->kq);
}

TEST_F(vn, rmdir_watched_directory)
{
	char p[160];
	int dfd;

	snprintf(p, sizeof(p), "%s/sub", self->dir);
	ASSERT_EQ(0, mkdir(p, 0700));
	dfd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, dfd);
	kq_change(_metadata, self->kq, vadd(dfd, ALL, U(6)));
	close(dfd);
	ASSERT_EQ(0, rmdir(p));
	ASSERT_ONE_EVENT(self->kq, vend(dfd, NOTE_DELETE, U(6)));
}

/* A descriptor number reused for another file: EV_ADD replaces the knote. */
TEST_F(vn, reused_descriptor)
{
	char other[128];
	int fd = self->fd, fd2;

	snprintf(other, sizeof(other), "%s/other", self->dir);
	kq_change(_metadata, self->kq, vadd(fd, NOTE_WRITE, U(1)));
	close(fd);
	fd2 = open(other, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	ASSERT_EQ(fd, fd2);
	kq_change(_metadata, self->kq, vadd(fd2, NOTE_WRITE, U(2)));
	/* the old file is no longer watched */
	self->fd = open(self->path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(1, write(self->fd, "q", 1));
	ASSERT_NO_EVENT(self->kq);
	ASSERT_EQ(1, write(fd2, "q", 1));
	ASSERT_ONE_EVENT(self->kq, vev(fd2, NOTE_WRITE, U(2)));
	close(fd2);
}

TEST_F(vn, two_kqueues_one_file)
{
	int kq2 = kq_new(_metadata);

	kq_change(_metadata, self->kq, vadd(self->fd, NOTE_ATTRIB, U(1)));
	kq_change(_metadata, kq2, vadd(self->fd, NOTE_ATTRIB | NOTE_WRITE, U(2)));
	ASSERT_EQ(0, fchmod(self->fd, 0640));
	ASSERT_ONE_EVENT(self->kq, vev(self->fd, NOTE_ATTRIB, U(1)));
	ASSERT_ONE_EVENT(kq2, vev(self->fd, NOTE_ATTRIB, U(2)));
	kq_change(_metadata, self->kq, kev(self->fd, EVFILT_VNODE, EV_DELETE, 0, 0, NULL));
	ASSERT_EQ(1, write(self->fd, "q", 1));
	ASSERT_NO_EVENT(self->kq);
	ASSERT_ONE_EVENT(kq2, vev(self->fd, NOTE_WRITE, U(2)));
	close(kq2);
}

TEST_F(vn, bad_descriptors)
{
	ASSERT_CHANGE_ERR(self->kq, vadd(1000, NOTE_WRITE, NULL), EBADF);
	ASSERT_CHANGE_ERR(self->kq, kev((uintptr_t)-1, EVFILT_VNODE, EV_ADD, NOTE_WRITE, 0,
					NULL), EBADF);
	ASSERT_CHANGE_ERR(self->kq, kev(1ULL << 40, EVFILT_VNODE, EV_ADD, NOTE_WRITE, 0,
					NULL), EBADF);
	ASSERT_CHANGE_ERR(self->kq, kev(self->fd, EVFILT_VNODE, EV_DELETE, 0, 0, NULL), ENOENT);
}

/* Something that is neither a file nor a directory: EINVAL (FreeBSD, libkqueue). */
TEST_F(vn, not_a_file_einval)
{
	int p[2], sv[2];

	make_pipe(_metadata, p);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	ASSERT_CHANGE_ERR(self->kq, vadd(p[0], NOTE_WRITE, NULL), EINVAL);
	ASSERT_CHANGE_ERR(self->kq, vadd(p[1], NOTE_WRITE, NULL), EINVAL);
	ASSERT_CHANGE_ERR(self->kq, vadd(sv[0], NOTE_WRITE | NOTE_DELETE, NULL), EINVAL);
	ASSERT_NO_EVENT(self->kq);
	ASSERT_CHANGE_ERR(self->kq, kev(p[0], EVFILT_VNODE, EV_DELETE, 0, 0, NULL), ENOENT);
	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
}

/* The file system goes away: NOTE_REVOKE, and the watch ends. */
TEST_F(vn, unmount_revokes)
{
	char mnt[96], f[128];
	int fd;

	snprintf(mnt, sizeof(mnt), "%s/mnt", self->dir);
	ASSERT_EQ(0, mkdir(mnt, 0700));
	if (mount("kqvn", mnt, "tmpfs", 0, NULL))
		SKIP(return, "mount tmpfs: %s", strerror(errno));
	snprintf(f, sizeof(f), "%s/f", mnt);
	fd = open(f, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	ASSERT_LE(0, fd);
	kq_change(_metadata, self->kq, vadd(fd, ALL, U(7)));
	close(fd);
	/* the knote does not keep the file system busy */
	ASSERT_EQ(0, umount(mnt)) TH_LOG("umount: %s", strerror(errno));
	ASSERT_ONE_EVENT(self->kq, vend(fd, NOTE_REVOKE, U(7)));
}

struct churn {
	const char *path;
	volatile int stop;
};

static void *churn_thread(void *arg)
{
	struct churn *c = arg;

	while (!c->stop) {
		int fd = open(c->path, O_RDWR | O_CLOEXEC);
		char b;

		if (fd >= 0) {
			if (write(fd, "w", 1) < 0 || pread(fd, &b, 1, 0) < 0 || fchmod(fd, 0600))
				break;
			close(fd);
		}
	}
	return NULL;
}

/*
 * Knotes added and deleted (and kqueues closed) while events (access
 * notes too) pour in. More
 * threads cause events than there are CPUs in the test VM, so that they are
 * preempted, now and then right after a handler found the knote of a mark:
 * the knote must not be freed under it (detach clears it under the mark's
 * lock).
 */
#define CHURNERS 3

TEST_F(vn, delete_while_events)
{
	struct churn c = { .path = self->path };
	pthread_t t[CHURNERS];
	int i;

	for (i = 0; i < CHURNERS; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, churn_thread, &c));
	for (i = 0; i < 200; i++) {
		int kq = kq_new(_metadata);

		kq_change(_metadata, kq, vadd(self->fd, ALL | ACCESS, NULL));
		kq_change(_metadata, self->kq, vadd(self->fd, ALL | ACCESS, NULL));
		kq_change(_metadata, self->kq, kev(self->fd, EVFILT_VNODE, EV_DELETE, 0, 0, NULL));
		close(kq);
	}
	c.stop = 1;
	for (i = 0; i < CHURNERS; i++)
		ASSERT_EQ(0, pthread_join(t[i], NULL));
}

TEST_F(vn, access_notes)
{
	char buf[8];
	int fd;

	kq_change(_metadata, self->kq, vadd(self->fd, ACCESS, U(3)));
	ASSERT_NO_EVENT(self->kq);
	fd = open(self->path, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_ONE_EVENT(self->kq, vev(self->fd, NOTE_OPEN, U(3)));
	ASSERT_EQ(4, read(fd, buf, sizeof(buf)));
	ASSERT_ONE_EVENT(self->kq, vev(self->fd, NOTE_READ, U(3)));
	/* a read at the end of the file returns nothing: no NOTE_READ (FreeBSD has one) */
	ASSERT_EQ(0, read(fd, buf, sizeof(buf)));
	ASSERT_NO_EVENT(self->kq);
	ASSERT_EQ(0, close(fd));
	ASSERT_ONE_EVENT(self->kq, vev(self->fd, NOTE_CLOSE, U(3)));
	/* opened for writing, then closed: both, OR'd until delivery */
	fd = open(self->path, O_WRONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, close(fd));
	ASSERT_ONE_EVENT(self->kq, vev(self->fd, NOTE_OPEN | NOTE_CLOSE_WRITE, U(3)));
	/* reads through the watched descriptor count too */
	ASSERT_EQ(2, pread(self->fd, buf, 2, 0));
	ASSERT_ONE_EVENT(self->kq, vev(self->fd, NOTE_READ, U(3)));
	/* closing a dup closes no file description: nothing */
	fd = dup(self->fd);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, close(fd));
	ASSERT_NO_EVENT(self->kq);
	/* writes are not reads */
	ASSERT_EQ(1, pwrite(self->fd, "z", 1, 0));
	ASSERT_NO_EVENT(self->kq);
}

TEST_F(vn, access_notes_only_when_asked)
{
	char buf[8];
	int fd;

	kq_change(_metadata, self->kq, vadd(self->fd, ALL, U(4)));
	fd = open(self->path, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(4, read(fd, buf, sizeof(buf)));
	ASSERT_EQ(0, close(fd));
	ASSERT_NO_EVENT(self->kq);
	/* a modify that asks for NOTE_READ starts it */
	kq_change(_metadata, self->kq, vadd(self->fd, NOTE_READ, U(4)));
	ASSERT_EQ(2, pread(self->fd, buf, 2, 0));
	ASSERT_ONE_EVENT(self->kq, vev(self->fd, NOTE_READ, U(4)));
	/* one that does not, stops it; writes still come */
	kq_change(_metadata, self->kq, vadd(self->fd, NOTE_WRITE, U(4)));
	ASSERT_EQ(2, pread(self->fd, buf, 2, 0));
	ASSERT_NO_EVENT(self->kq);
	ASSERT_EQ(1, pwrite(self->fd, "z", 1, 0));
	ASSERT_ONE_EVENT(self->kq, vev(self->fd, NOTE_WRITE, U(4)));
}

TEST_F(vn, access_notes_directory)
{
	char buf[4096];
	int d, d2;

	d = open(self->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, d);
	kq_change(_metadata, self->kq, vadd(d, ACCESS | NOTE_WRITE, U(5)));
	d2 = open(self->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, d2);
	ASSERT_ONE_EVENT(self->kq, vev(d, NOTE_OPEN, U(5)));
	/* listing it is reading it */
	ASSERT_LT(0, syscall(SYS_getdents64, d2, buf, sizeof(buf)));
	ASSERT_ONE_EVENT(self->kq, vev(d, NOTE_READ, U(5)));
	ASSERT_EQ(0, close(d2));
	ASSERT_ONE_EVENT(self->kq, vev(d, NOTE_CLOSE, U(5)));
	/* opening a file in it is not opening it */
	close(open(self->path, O_RDONLY | O_CLOEXEC));
	ASSERT_NO_EVENT(self->kq);
	close(d);
}

TEST_HARNESS_MAIN
