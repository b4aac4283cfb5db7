// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * Smoke test of libkqueue.{so,a} from C. Without the module (no
 * /dev/kqueue) it checks the library-side errors; with it, one round trip
 * of EVFILT_USER, EVFILT_LIBKQUEUE and fork cleanup.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/event.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static void without_module(void)
{
	errno = 0;
	CHECK(kqueue() == -1 && errno == ENOSYS);
	errno = 0;
	CHECK(kqueuex(KQUEUE_CLOEXEC) == -1 && errno == ENOSYS);
	errno = 0;
	CHECK(kqueue1(O_CLOEXEC) == -1 && errno == ENOSYS);
}

static void with_module(void)
{
	struct timespec zero = { 0, 0 };
	struct kevent ch[2], ev[2];
	int kq = kqueue();
	pid_t pid;
	int status;

	CHECK(kq >= 0);
	if (kq < 0)
		return;
	CHECK((fcntl(kq, F_GETFD) & FD_CLOEXEC) != 0);

	EV_SET(&ch[0], 0, EVFILT_LIBKQUEUE, EV_ADD, NOTE_VERSION, 0, NULL);
	CHECK(kevent(kq, ch, 1, ev, 2, &zero) == 1 && ev[0].data == 0x02070000);

	errno = 0;
	CHECK(kevent(kq, (struct kevent *)1, 1, ev, 2, &zero) == -1 &&
	      errno == EFAULT);

	EV_SET(&ch[0], 1, EVFILT_USER, EV_ADD, 0, 0, NULL);
	EV_SET(&ch[1], 1, EVFILT_USER, 0, NOTE_TRIGGER, 0, (void *)ch);
	CHECK(kevent(kq, ch, 2, ev, 2, &zero) == 1 && ev[0].ident == 1 &&
	      ev[0].filter == EVFILT_USER);

	pid = fork();
	if (pid == 0)
		_exit(fcntl(kq, F_GETFD) == -1 && errno == EBADF ? 0 : 1);
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid &&
	      WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(kq);

	kq = kqueuex(KQUEUE_CLOEXEC);
	CHECK(kq >= 0 && fcntl(kq, F_GETFD) == FD_CLOEXEC);
	EV_SET(&ch[0], 1, EVFILT_USER, EV_ADD, NOTE_TRIGGER, 0, NULL);
	EV_SET(&ch[1], 1, EVFILT_USER, EV_FORCEONESHOT | EV_KEEPUDATA, 0, 0, ch);
	CHECK(kevent(kq, ch, 2, ev, 2, &zero) == 1 && ev[0].ident == 1 &&
	      ev[0].flags == (EV_ADD | EV_ONESHOT) && ev[0].udata == NULL);
	CHECK(kevent(kq, NULL, 0, ev, 2, &zero) == 0);
	close(kq);
}

int main(void)
{
	struct kevent kev;

	errno = 0;
	CHECK(kevent(-1, NULL, -1, NULL, 0, NULL) == -1 && errno == EINVAL);
	errno = 0;
	CHECK(kevent(-1, NULL, 0, NULL, -1, NULL) == -1 && errno == EINVAL);
	errno = 0;
	CHECK(kevent(-1, NULL, 0, &kev, 1, NULL) == -1 && errno == EBADF);
	EV_SET(&kev, 0, EVFILT_LIBKQUEUE, EV_ADD, NOTE_VERSION, 0, NULL);
	errno = 0;
	CHECK(kevent(-1, &kev, 1, &kev, 1, NULL) == -1 && errno == EBADF);
	/* A bad changelist is the kernel's to check: -1, never a crash. */
	errno = 0;
	CHECK(kevent(-1, (struct kevent *)1, 1, &kev, 1, NULL) == -1 &&
	      errno == EBADF);
	libkqueue_drain_pending_close();
	/* FreeBSD 15's KQUEUE_CPONFORK (2) is not supported, nor other bits. */
	errno = 0;
	CHECK(kqueuex(2) == -1 && errno == EINVAL);
	errno = 0;
	CHECK(kqueue1(O_APPEND) == -1 && errno == EINVAL);

	if (access("/dev/kqueue", F_OK) == 0)
		with_module();
	else
		without_module();

	printf("%d passed, %d failed\n", passed, failed);
	return failed != 0;
}
