/* SPDX-License-Identifier: GPL-2.0 */
/* Helpers shared by the benchmark programs. */
#ifndef KQ_BENCH_H
#define KQ_BENCH_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static inline void die(const char *what)
{
	perror(what);
	exit(1);
}

/* CLOCK_MONOTONIC in ns. */
static inline double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* qsort() comparator of doubles. */
static inline int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The median of the @n values of @v (sorts them). */
static inline double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return v[n / 2];
}

/* A pipe: its read end [0] and write end [1]. */
typedef int pipe_ends[2];

/* @n new pipes (close-on-exec). */
/* Makes a pipe readable with one byte, and takes it back. */
static inline void put_byte(int fd)
{
	if (write(fd, "x", 1) != 1)
		die("write");
}

static inline void take_byte(int fd)
{
	char b;

	if (read(fd, &b, 1) != 1)
		die("read");
}

static inline pipe_ends *open_pipes(int n)
{
	pipe_ends *p = calloc(n, sizeof(*p));

	if (!p)
		die("calloc");
	for (int i = 0; i < n; i++)
		if (pipe2(p[i], O_CLOEXEC))
			die("pipe2");
	return p;
}

/* Closes and frees the @n pipes of open_pipes(). */
static inline void close_pipes(pipe_ends *p, int n)
{
	for (int i = 0; i < n; i++) {
		close(p[i][0]);
		close(p[i][1]);
	}
	free(p);
}

/* The first line of @path without its newline, or "unknown". */
static inline void read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");

	if (!f || !fgets(buf, len, f))
		snprintf(buf, len, "unknown");
	if (f)
		fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
}

/* The current clocksource of the kernel. */
static inline void clocksource(char *buf, size_t len)
{
	read_line("/sys/devices/system/clocksource/clocksource0/current_clocksource",
		  buf, len);
}

/* Sends the @n (at most 2) descriptors @fds over the unix socket @sock. */
static inline void send_fds(int sock, const int *fds, int n)
{
	char buf[CMSG_SPACE(2 * sizeof(int))] = { 0 };
	char byte = 0;
	struct iovec iov = { &byte, 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = buf, .msg_controllen = CMSG_SPACE(n * sizeof(int)),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(n * sizeof(int));
	memcpy(CMSG_DATA(c), fds, n * sizeof(int));
	if (sendmsg(sock, &msg, 0) != 1)
		die("sendmsg(SCM_RIGHTS)");
}

/* Receives @n (at most 2) descriptors from @sock into @fds (close-on-exec). */
static inline void recv_fds(int sock, int *fds, int n)
{
	char buf[CMSG_SPACE(2 * sizeof(int))];
	char byte;
	struct iovec iov = { &byte, 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = buf, .msg_controllen = sizeof(buf),
	};
	struct cmsghdr *c;

	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1)
		die("recvmsg(SCM_RIGHTS)");
	c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(n * sizeof(int)))
		die("recvmsg: no descriptors");
	memcpy(fds, CMSG_DATA(c), n * sizeof(int));
}

#endif
