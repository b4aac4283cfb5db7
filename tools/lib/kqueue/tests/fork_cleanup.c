// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * Fork cleanup of libkqueue, without the module: check-build.sh runs this
 * in a private mount namespace where /dev/kqueue is a copy of /dev/null,
 * so kqueue() succeeds and only the library's fork handling is exercised.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/event.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

/* 1 if fd is open in a child of fork(), 0 if not, -1 on error. */
static int open_in_child(int fd)
{
	int status;
	pid_t pid = fork();

	if (pid == 0)
		_exit(fcntl(fd, F_GETFD) == -1 && errno == EBADF ? 0 : 1);
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

int main(void)
{
	int kq = kqueue(), kq2 = kqueue(), p[2];

	CHECK(kq >= 0 && kq2 >= 0);
	CHECK((fcntl(kq, F_GETFD) & FD_CLOEXEC) != 0);
	CHECK(open_in_child(kq) == 0);
	CHECK(open_in_child(kq2) == 0);
	CHECK(fcntl(kq, F_GETFD) != -1);	/* still open in the parent */

	/*
	 * A bad changelist reaches the "kernel" (here /dev/null) unread; its
	 * ENOTTY (no kqueue) comes back as EBADF.
	 */
	errno = 0;
	CHECK(kevent(kq, (struct kevent *)1, 1, NULL, 0, NULL) == -1 &&
	      errno == EBADF);

	/* kqueuex() and kqueue1() descriptors are closed in the child too. */
	{
		int x0 = kqueuex(0), xc = kqueuex(KQUEUE_CLOEXEC);
		int k0 = kqueue1(0), kc = kqueue1(O_CLOEXEC | O_NONBLOCK);

		CHECK(x0 >= 0 && xc >= 0 && k0 >= 0 && kc >= 0);
		CHECK(fcntl(x0, F_GETFD) == 0 && fcntl(k0, F_GETFD) == 0);
		CHECK(fcntl(xc, F_GETFD) == FD_CLOEXEC && fcntl(kc, F_GETFD) == FD_CLOEXEC);
		CHECK(open_in_child(x0) == 0 && open_in_child(xc) == 0);
		CHECK(open_in_child(k0) == 0 && open_in_child(kc) == 0);
		close(x0);
		close(xc);
		close(k0);
		close(kc);
	}

	/* The user closes kq and the number is reused: never closed. */
	CHECK(pipe(p) == 0);
	CHECK(dup2(p[0], kq) == kq);
	CHECK(open_in_child(kq) == 1);
	CHECK(open_in_child(kq2) == 0);

	printf("%d passed, %d failed\n", passed, failed);
	return failed != 0;
}
