// SPDX-License-Identifier: GPL-2.0
/*
 * EVFILT_READ / EVFILT_WRITE `data` (contract section 3): bytes buffered in
 * pipes, FIFOs and sockets, room left for writing, the accept queue of a
 * listening socket, EV_EOF with a pending socket error in fflags,
 * NOTE_LOWAT, EV_CLEAR, and POLLFREE (a signalfd whose wait queue goes away
 * with the sighand of the process that registered it).
 *
 * Returned events are compared whole; the returned fflags are 0 (FreeBSD
 * clears them at registration; NOTE_LOWAT is not echoed) except for EV_EOF
 * carrying a socket error.
 */
#include <poll.h>
#include <stddef.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "kqueue_test.h"

#define U(x) ((void *)(uintptr_t)(x))

/* Bound for asynchronous delivery (TCP/UDP over loopback). */
#define WAIT_MS 5000

static void add(struct __test_metadata *_metadata, int kq, int fd, short filter,
		unsigned short flags, unsigned int fflags, intptr_t data, void *udata)
{
	kq_change(_metadata, kq, kev(fd, filter, EV_ADD | flags, fflags, data, udata));
}

/* A READ/WRITE event as returned for a knote registered with EV_ADD | @flags. */
static struct kevent ev_of(int fd, short filter, unsigned short flags, unsigned int fflags,
			   intptr_t data, void *udata)
{
	return kev(fd, filter, RET_FLAGS(EV_ADD | flags), fflags, data, udata);
}

/* One pending event on @kq (polled), returned for checks on its data. */
static struct kevent one_event(struct __test_metadata *_metadata, int kq)
{
	struct kevent ev[4];
	int n;

	memset(ev, 0, sizeof(ev));
	n = kq_poll(kq, ev, 4);
	ASSERT_EQ(1, n) TH_LOG("expected 1 event, kevent returned %d (errno %d)",
			       n, n < 0 ? errno : 0);
	return ev[0];
}

/* WRITE on socket @fd: ready, 0 < data <= SO_SNDBUF. */
static void check_sock_write(struct __test_metadata *_metadata, int fd)
{
	int kq = kq_new(_metadata), sndbuf = 0;
	socklen_t len = sizeof(sndbuf);
	struct kevent e;

	ASSERT_EQ(0, getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &len));
	add(_metadata, kq, fd, EVFILT_WRITE, 0, 0, 0, U(0x3000 + fd));
	e = one_event(_metadata, kq);
	EXPECT_KEV(ev_of(fd, EVFILT_WRITE, 0, 0, e.data, U(0x3000 + fd)), &e);
	EXPECT_LT(0, e.data) TH_LOG("WRITE data %" PRIdPTR " on a writable socket", e.data);
	EXPECT_GE((intptr_t)sndbuf, e.data) TH_LOG("WRITE data %" PRIdPTR " > SO_SNDBUF %d",
						   e.data, sndbuf);
	close(kq);
}

/* ---- pipes and FIFOs ---------------------------------------------------- */

TEST(pipe_read_data)
{
	int kq = kq_new(_metadata), p[2];

	make_pipe(_metadata, p);
	add(_metadata, kq, p[0], EVFILT_READ, 0, 0, 0, U(1));
	ASSERT_NO_EVENT(kq);
	write_n(_metadata, p[1], 1);
	ASSERT_ONE_EVENT(kq, ev_of(p[0], EVFILT_READ, 0, 0, 1, U(1)));
	read_n(_metadata, p[0], 1);
	ASSERT_NO_EVENT(kq);

	write_n(_metadata, p[1], 100);
	ASSERT_ONE_EVENT(kq, ev_of(p[0], EVFILT_READ, 0, 0, 100, U(1)));
	read_n(_metadata, p[0], 30);
	ASSERT_ONE_EVENT(kq, ev_of(p[0], EVFILT_READ, 0, 0, 70, U(1)));
	read_n(_metadata, p[0], 70);
	ASSERT_NO_EVENT(kq);

	/* more than a page: two pipe buffers */
	write_n(_metadata, p[1], 5000);
	ASSERT_ONE_EVENT(kq, ev_of(p[0], EVFILT_READ, 0, 0, 5000, U(1)));
	write_n(_metadata, p[1], 7);
	ASSERT_ONE_EVENT(kq, ev_of(p[0], EVFILT_READ, 0, 0, 5007, U(1)));
	read_n(_metadata, p[0], 4096);
	ASSERT_ONE_EVENT(kq, ev_of(p[0], EVFILT_READ, 0, 0, 911, U(1)));
	close(p[0]);
	close(p[1]);
	close(kq);
}

TEST(pipe_write_data)
{
	long ps = sysconf(_SC_PAGESIZE);
	int kq = kq_new(_metadata), p[2];
	char buf[4096];

	make_pipe(_metadata, p);
	ASSERT_EQ(16 * ps, fcntl(p[1], F_GETPIPE_SZ)) TH_LOG("not a default pipe");
	if (ps == 4096)
		ASSERT_EQ(65536, 16 * ps);
	add(_metadata, kq, p[1], EVFILT_WRITE, 0, 0, 0, U(2));
	ASSERT_ONE_EVENT(kq, ev_of(p[1], EVFILT_WRITE, 0, 0, 16 * ps, U(2)));
	/* one byte takes a page slot */
	write_n(_metadata, p[1], 1);
	ASSERT_ONE_EVENT(kq, ev_of(p[1], EVFILT_WRITE, 0, 0, 15 * ps, U(2)));
	/* filling that page merges into the same slot */
	write_n(_metadata, p[1], ps - 1);
	ASSERT_ONE_EVENT(kq, ev_of(p[1], EVFILT_WRITE, 0, 0, 15 * ps, U(2)));
	write_n(_metadata, p[1], 1);
	ASSERT_ONE_EVENT(kq, ev_of(p[1], EVFILT_WRITE, 0, 0, 14 * ps, U(2)));

	/* full: not writable */
	while (write(p[1], buf, sizeof(buf)) > 0)
		;
	ASSERT_EQ(EAGAIN, errno);
	ASSERT_NO_EVENT(kq);
	/* drained: all the room again */
	while (read(p[0], buf, sizeof(buf)) > 0)
		;
	ASSERT_ONE_EVENT(kq, ev_of(p[1], EVFILT_WRITE, 0, 0, 16 * ps, U(2)));

	/* a resized pipe: room follows its size */
	ASSERT_EQ(2 * ps, fcntl(p[1], F_SETPIPE_SZ, 2 * ps)) TH_LOG("F_SETPIPE_SZ: %s",
								   strerror(errno));
	ASSERT_ONE_EVENT(kq, ev_of(p[1], EVFILT_WRITE, 0, 0, 2 * ps, U(2)));
	write_n(_metadata, p[1], 10);
	ASSERT_ONE_EVENT(kq, ev_of(p[1], EVFILT_WRITE, 0, 0, ps, U(2)));
	close(p[0]);
	close(p[1]);
	close(kq);
}

/* WRITE on a pipe whose read end is closed: EV_EOF with data 0 (FreeBSD). */
TEST(pipe_write_eof_data_zero)
{
	int kq = kq_new(_metadata), p[2];

	make_pipe(_metadata, p);
	write_n(_metadata, p[1], 10);
	add(_metadata, kq, p[1], EVFILT_WRITE, 0, 0, 0, U(3));
	close(p[0]);
	ASSERT_ONE_EVENT(kq, ev_of(p[1], EVFILT_WRITE, EV_EOF, 0, 0, U(3)));
	/* level: the hang-up stays, and so does data 0 */
	ASSERT_ONE_EVENT(kq, ev_of(p[1], EVFILT_WRITE, EV_EOF, 0, 0, U(3)));
	close(p[1]);
	close(kq);
}

TEST(fifo_data)
{
	long ps = sysconf(_SC_PAGESIZE);
	int kq = kq_new(_metadata), rfd, wfd;

	make_fifo(_metadata, "datafifo", &rfd, &wfd);

	add(_metadata, kq, rfd, EVFILT_READ, 0, 0, 0, U(3));
	ASSERT_NO_EVENT(kq);
	write_n(_metadata, wfd, 100);
	ASSERT_ONE_EVENT(kq, ev_of(rfd, EVFILT_READ, 0, 0, 100, U(3)));
	read_n(_metadata, rfd, 30);
	ASSERT_ONE_EVENT(kq, ev_of(rfd, EVFILT_READ, 0, 0, 70, U(3)));
	kq_change(_metadata, kq, kev(rfd, EVFILT_READ, EV_DELETE, 0, 0, NULL));

	add(_metadata, kq, wfd, EVFILT_WRITE, 0, 0, 0, U(4));
	ASSERT_ONE_EVENT(kq, ev_of(wfd, EVFILT_WRITE, 0, 0, 15 * ps, U(4)));
	close(rfd);
	close(wfd);
	close(kq);
}

/* ---- NOTE_LOWAT --------------------------------------------------------- */

static void check_read_lowat(struct __test_metadata *_metadata, int rfd, int wfd)
{
	int kq = kq_new(_metadata);

	add(_metadata, kq, rfd, EVFILT_READ, 0, NOTE_LOWAT, 10, U(5));
	ASSERT_NO_EVENT(kq);
	write_n(_metadata, wfd, 5);
	ASSERT_NO_EVENT(kq);
	ASSERT_NO_EVENT(kq);
	write_n(_metadata, wfd, 5);
	ASSERT_ONE_EVENT(kq, ev_of(rfd, EVFILT_READ, 0, 0, 10, U(5)));
	/* level-triggered: still at the mark */
	ASSERT_ONE_EVENT(kq, ev_of(rfd, EVFILT_READ, 0, 0, 10, U(5)));
	/* below the mark again */
	read_n(_metadata, rfd, 1);
	ASSERT_NO_EVENT(kq);
	/* dropping NOTE_LOWAT: any byte will do */
	add(_metadata, kq, rfd, EVFILT_READ, 0, 0, 0, U(5));
	ASSERT_ONE_EVENT(kq, ev_of(rfd, EVFILT_READ, 0, 0, 9, U(5)));
	close(kq);
}

TEST(pipe_read_lowat)
{
	int p[2];

	make_pipe(_metadata, p);
	check_read_lowat(_metadata, p[0], p[1]);
	close(p[0]);
	close(p[1]);
}

TEST(socketpair_read_lowat)
{
	int sv[2];

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv));
	check_read_lowat(_metadata, sv[0], sv[1]);
	close(sv[0]);
	close(sv[1]);
}

/* READ on an eventfd: data is the counter (FreeBSD's eventfd filter). */
TEST(eventfd_read_data_is_count)
{
	uint64_t v = 5;
	int kq = kq_new(_metadata), efd, sfd;

	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_LE(0, efd);
	add(_metadata, kq, efd, EVFILT_READ, 0, 0, 0, U(4));
	ASSERT_NO_EVENT(kq);
	ASSERT_EQ(8, write(efd, &v, 8));
	ASSERT_ONE_EVENT(kq, ev_of(efd, EVFILT_READ, 0, 0, 5, U(4)));
	v = 2;
	ASSERT_EQ(8, write(efd, &v, 8));
	ASSERT_ONE_EVENT(kq, ev_of(efd, EVFILT_READ, 0, 0, 7, U(4)));
	ASSERT_EQ(8, read(efd, &v, 8));
	ASSERT_EQ(7, v);
	ASSERT_NO_EVENT(kq);

	/* a semaphore reports the whole count too; NOTE_LOWAT compares with it */
	sfd = eventfd(3, EFD_CLOEXEC | EFD_NONBLOCK | EFD_SEMAPHORE);
	ASSERT_LE(0, sfd);
	add(_metadata, kq, sfd, EVFILT_READ, 0, NOTE_LOWAT, 3, U(5));
	ASSERT_ONE_EVENT(kq, ev_of(sfd, EVFILT_READ, 0, 0, 3, U(5)));
	ASSERT_EQ(8, read(sfd, &v, 8));
	ASSERT_EQ(1, v);
	ASSERT_NO_EVENT(kq);
	close(sfd);
	close(efd);
	close(kq);
}

TEST(pipe_write_lowat)
{
	long ps = sysconf(_SC_PAGESIZE);
	int kq = kq_new(_metadata), p[2];

	make_pipe(_metadata, p);
	/* more than the room of an empty pipe (65536): never ready */
	add(_metadata, kq, p[1], EVFILT_WRITE, 0, NOTE_LOWAT, 70000, U(6));
	ASSERT_NO_EVENT(kq);
	add(_metadata, kq, p[1], EVFILT_WRITE, 0, NOTE_LOWAT, 16 * ps + 1, U(6));
	ASSERT_NO_EVENT(kq);
	/* exactly the room */
	add(_metadata, kq, p[1], EVFILT_WRITE, 0, NOTE_LOWAT, 16 * ps, U(6));
	ASSERT_ONE_EVENT(kq, ev_of(p[1], EVFILT_WRITE, 0, 0, 16 * ps, U(6)));
	write_n(_metadata, p[1], 1);
	ASSERT_NO_EVENT(kq);
	/*
	 * The mark is checked whenever the pipe wakes its writers. Linux pipes
	 * do that when a read frees room in a full pipe (not on every read,
	 * unlike FreeBSD: see Documentation/kqueue/user-guide.rst), so fill it
	 * and drain it: the room is back to 16 pages and the knote fires.
	 */
	while (write(p[1], "x", 1) == 1)
		;
	ASSERT_EQ(EAGAIN, errno);
	ASSERT_NO_EVENT(kq);
	{
		char buf[4096];

		while (read(p[0], buf, sizeof(buf)) > 0)
			;
	}
	ASSERT_ONE_EVENT(kq, ev_of(p[1], EVFILT_WRITE, 0, 0, 16 * ps, U(6)));
	close(p[0]);
	close(p[1]);
	close(kq);
}

TEST(lowat_eof_below_mark)
{
	int kq = kq_new(_metadata), p[2], sv[2];

	make_pipe(_metadata, p);
	add(_metadata, kq, p[0], EVFILT_READ, 0, NOTE_LOWAT, 10, U(7));
	write_n(_metadata, p[1], 5);
	ASSERT_NO_EVENT(kq);
	close(p[1]);
	ASSERT_ONE_EVENT(kq, ev_of(p[0], EVFILT_READ, EV_EOF, 0, 5, U(7)));
	close(p[0]);

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv));
	add(_metadata, kq, sv[0], EVFILT_READ, 0, NOTE_LOWAT, 10, U(8));
	write_n(_metadata, sv[1], 5);
	ASSERT_NO_EVENT(kq);
	close(sv[1]);
	ASSERT_ONE_EVENT(kq, ev_of(sv[0], EVFILT_READ, EV_EOF, 0, 5, U(8)));
	close(sv[0]);
	close(kq);
}

/* ---- EV_CLEAR ----------------------------------------------------------- */

TEST(clear_reports_data)
{
	int kq = kq_new(_metadata), p[2];

	make_pipe(_metadata, p);
	add(_metadata, kq, p[0], EVFILT_READ, EV_CLEAR, 0, 0, U(9));
	ASSERT_NO_EVENT(kq);
	write_n(_metadata, p[1], 10);
	ASSERT_ONE_EVENT(kq, ev_of(p[0], EVFILT_READ, EV_CLEAR, 0, 10, U(9)));
	ASSERT_NO_EVENT(kq);
	write_n(_metadata, p[1], 5);
	ASSERT_ONE_EVENT(kq, ev_of(p[0], EVFILT_READ, EV_CLEAR, 0, 15, U(9)));
	ASSERT_NO_EVENT(kq);
	close(p[0]);
	close(p[1]);
	close(kq);
}

/* ---- AF_UNIX ------------------------------------------------------------ */

TEST(unix_dgram_data)
{
	int kq = kq_new(_metadata), sv[2];

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv));
	add(_metadata, kq, sv[0], EVFILT_READ, 0, 0, 0, U(10));
	ASSERT_NO_EVENT(kq);
	write_n(_metadata, sv[1], 10);
	ASSERT_ONE_EVENT(kq, ev_of(sv[0], EVFILT_READ, 0, 0, 10, U(10)));
	write_n(_metadata, sv[1], 20);
	ASSERT_ONE_EVENT(kq, ev_of(sv[0], EVFILT_READ, 0, 0, 30, U(10)));
	/* one datagram read */
	read_n(_metadata, sv[0], 10);
	ASSERT_ONE_EVENT(kq, ev_of(sv[0], EVFILT_READ, 0, 0, 20, U(10)));
	read_n(_metadata, sv[0], 20);
	ASSERT_NO_EVENT(kq);
	check_sock_write(_metadata, sv[0]);
	check_sock_write(_metadata, sv[1]);
	close(sv[0]);
	close(sv[1]);
	close(kq);
}

TEST(unix_stream_data)
{
	int kq = kq_new(_metadata), sv[2], inq = -1;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv));
	add(_metadata, kq, sv[0], EVFILT_READ, 0, 0, 0, U(11));
	ASSERT_NO_EVENT(kq);
	write_n(_metadata, sv[1], 100);
	ASSERT_ONE_EVENT(kq, ev_of(sv[0], EVFILT_READ, 0, 0, 100, U(11)));
	write_n(_metadata, sv[1], 20);
	ASSERT_ONE_EVENT(kq, ev_of(sv[0], EVFILT_READ, 0, 0, 120, U(11)));
	/* a partial read of the first skb */
	read_n(_metadata, sv[0], 30);
	ASSERT_EQ(0, ioctl(sv[0], FIONREAD, &inq));
	ASSERT_EQ(90, inq);
	ASSERT_ONE_EVENT(kq, ev_of(sv[0], EVFILT_READ, 0, 0, 90, U(11)));
	read_n(_metadata, sv[0], 80);
	ASSERT_ONE_EVENT(kq, ev_of(sv[0], EVFILT_READ, 0, 0, 10, U(11)));
	read_n(_metadata, sv[0], 10);
	ASSERT_NO_EVENT(kq);
	check_sock_write(_metadata, sv[0]);
	check_sock_write(_metadata, sv[1]);
	close(sv[0]);
	close(sv[1]);
	close(kq);
}

TEST(unix_listen_backlog)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int kq = kq_new(_metadata), lfd, c[3], a, i;
	socklen_t alen;

	/* abstract address */
	snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1, "kq-data-%d", getpid());
	alen = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(sa.sun_path + 1);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	ASSERT_LE(0, lfd);
	ASSERT_EQ(0, bind(lfd, (struct sockaddr *)&sa, alen)) TH_LOG("bind: %s", strerror(errno));
	ASSERT_EQ(0, listen(lfd, 8));
	add(_metadata, kq, lfd, EVFILT_READ, 0, 0, 0, U(12));
	ASSERT_NO_EVENT(kq);
	for (i = 0; i < 3; i++) {
		c[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		ASSERT_LE(0, c[i]);
		ASSERT_EQ(0, connect(c[i], (struct sockaddr *)&sa, alen))
			TH_LOG("connect: %s", strerror(errno));
		ASSERT_ONE_EVENT(kq, ev_of(lfd, EVFILT_READ, 0, 0, i + 1, U(12)));
	}
	a = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	ASSERT_LE(0, a) TH_LOG("accept: %s", strerror(errno));
	ASSERT_ONE_EVENT(kq, ev_of(lfd, EVFILT_READ, 0, 0, 2, U(12)));
	close(a);
	for (i = 0; i < 2; i++) {
		a = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		ASSERT_LE(0, a);
		close(a);
	}
	ASSERT_NO_EVENT(kq);
	for (i = 0; i < 3; i++)
		close(c[i]);
	close(lfd);
	close(kq);
}

/* ---- UDP ---------------------------------------------------------------- */

static void check_udp(struct __test_metadata *_metadata, int nonblock)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int kq = kq_new(_metadata), s, c;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
	ASSERT_LE(0, s);
	ASSERT_EQ(0, bind(s, (struct sockaddr *)&sa, sizeof(sa)));
	ASSERT_EQ(0, getsockname(s, (struct sockaddr *)&sa, &len));
	c = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, c);
	ASSERT_EQ(0, connect(c, (struct sockaddr *)&sa, sizeof(sa)));

	add(_metadata, kq, s, EVFILT_READ, 0, 0, 0, U(13));
	ASSERT_NO_EVENT(kq);
	write_n(_metadata, c, 10);
	WAIT_EVENT(kq, ev_of(s, EVFILT_READ, 0, 0, 10, U(13)));
	write_n(_metadata, c, 20);
	WAIT_EVENT(kq, ev_of(s, EVFILT_READ, 0, 0, 30, U(13)));
	/* still 30 on the next poll */
	ASSERT_ONE_EVENT(kq, ev_of(s, EVFILT_READ, 0, 0, 30, U(13)));
	/* one datagram read: 20 left */
	ASSERT_EQ(10, recv(s, kq_test_buf, sizeof(kq_test_buf), 0));
	ASSERT_ONE_EVENT(kq, ev_of(s, EVFILT_READ, 0, 0, 20, U(13)));
	ASSERT_EQ(20, recv(s, kq_test_buf, sizeof(kq_test_buf), 0));
	ASSERT_NO_EVENT(kq);
	check_sock_write(_metadata, c);
	check_sock_write(_metadata, s);
	close(c);
	close(s);
	close(kq);
}

TEST(udp_data_nonblocking)
{
	check_udp(_metadata, 1);
}

/* udp_poll of a blocking socket moves the queue to the reader queue */
TEST(udp_data_blocking)
{
	check_udp(_metadata, 0);
}

/* ---- TCP ---------------------------------------------------------------- */

static int tcp_listener(struct __test_metadata *_metadata, struct sockaddr_in *sa)
{
	socklen_t len = sizeof(*sa);
	int lfd;

	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	ASSERT_LE(0, lfd) TH_LOG("socket: %s", strerror(errno));
	ASSERT_EQ(0, bind(lfd, (struct sockaddr *)sa, sizeof(*sa)));
	ASSERT_EQ(0, listen(lfd, 8));
	ASSERT_EQ(0, getsockname(lfd, (struct sockaddr *)sa, &len));
	return lfd;
}

static int tcp_client(struct __test_metadata *_metadata, struct sockaddr_in *sa)
{
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ASSERT_LE(0, c);
	ASSERT_EQ(0, connect(c, (struct sockaddr *)sa, sizeof(*sa)))
		TH_LOG("connect: %s", strerror(errno));
	return c;
}

static int tcp_accept(struct __test_metadata *_metadata, int lfd)
{
	struct pollfd pfd = { .fd = lfd, .events = POLLIN };
	int a;

	ASSERT_EQ(1, poll(&pfd, 1, WAIT_MS));
	a = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	ASSERT_LE(0, a) TH_LOG("accept: %s", strerror(errno));
	return a;
}

TEST(tcp_data)
{
	struct sockaddr_in sa;
	int kq = kq_new(_metadata), lfd, c, a;

	watchdog(25);
	lfd = tcp_listener(_metadata, &sa);
	c = tcp_client(_metadata, &sa);
	a = tcp_accept(_metadata, lfd);
	add(_metadata, kq, a, EVFILT_READ, 0, 0, 0, U(14));
	ASSERT_NO_EVENT(kq);
	write_n(_metadata, c, 1000);
	WAIT_EVENT(kq, ev_of(a, EVFILT_READ, 0, 0, 1000, U(14)));
	ASSERT_ONE_EVENT(kq, ev_of(a, EVFILT_READ, 0, 0, 1000, U(14)));
	read_n(_metadata, a, 400);
	ASSERT_ONE_EVENT(kq, ev_of(a, EVFILT_READ, 0, 0, 600, U(14)));
	read_n(_metadata, a, 600);
	ASSERT_NO_EVENT(kq);
	check_sock_write(_metadata, c);
	check_sock_write(_metadata, a);
	close(a);
	close(c);
	close(lfd);
	close(kq);
}

TEST(tcp_listen_backlog)
{
	struct sockaddr_in sa;
	int kq = kq_new(_metadata), lfd, c[3], a, i;

	watchdog(25);
	lfd = tcp_listener(_metadata, &sa);
	add(_metadata, kq, lfd, EVFILT_READ, 0, 0, 0, U(15));
	ASSERT_NO_EVENT(kq);
	for (i = 0; i < 3; i++)
		c[i] = tcp_client(_metadata, &sa);
	WAIT_EVENT(kq, ev_of(lfd, EVFILT_READ, 0, 0, 3, U(15)));
	a = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	ASSERT_LE(0, a) TH_LOG("accept: %s", strerror(errno));
	ASSERT_ONE_EVENT(kq, ev_of(lfd, EVFILT_READ, 0, 0, 2, U(15)));
	close(a);
	for (i = 0; i < 2; i++) {
		a = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		ASSERT_LE(0, a);
		close(a);
	}
	ASSERT_NO_EVENT(kq);
	for (i = 0; i < 3; i++)
		close(c[i]);
	close(lfd);
	close(kq);
}

TEST(tcp_reset_eof_econnreset)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	struct sockaddr_in sa;
	int kq = kq_new(_metadata), lfd, c, a;

	watchdog(25);
	lfd = tcp_listener(_metadata, &sa);
	c = tcp_client(_metadata, &sa);
	a = tcp_accept(_metadata, lfd);
	add(_metadata, kq, a, EVFILT_READ, 0, 0, 0, U(16));
	ASSERT_NO_EVENT(kq);
	ASSERT_EQ(0, setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)));
	close(c);
	WAIT_EVENT(kq, ev_of(a, EVFILT_READ, EV_EOF, ECONNRESET, 0, U(16)));
	/* level: the error stays pending until read */
	ASSERT_ONE_EVENT(kq, ev_of(a, EVFILT_READ, EV_EOF, ECONNRESET, 0, U(16)));
	close(a);
	close(lfd);
	close(kq);
}

TEST(tcp_shutdown_eof)
{
	struct sockaddr_in sa;
	int kq = kq_new(_metadata), lfd, c, a;

	watchdog(25);
	lfd = tcp_listener(_metadata, &sa);
	c = tcp_client(_metadata, &sa);
	a = tcp_accept(_metadata, lfd);
	add(_metadata, kq, a, EVFILT_READ, 0, 0, 0, U(17));
	ASSERT_NO_EVENT(kq);
	write_n(_metadata, c, 7);
	ASSERT_EQ(0, shutdown(c, SHUT_WR));
	/* the FIN is not counted as data */
	WAIT_EVENT(kq, ev_of(a, EVFILT_READ, EV_EOF, 0, 7, U(17)));
	read_n(_metadata, a, 7);
	ASSERT_ONE_EVENT(kq, ev_of(a, EVFILT_READ, EV_EOF, 0, 0, U(17)));
	close(a);
	close(c);
	close(lfd);
	close(kq);
}

/* ---- POLLFREE: a signalfd registered by a child that goes away ---------- */

static void no_fork_cleanup(struct __test_metadata *_metadata, int kq)
{
	struct kevent c = kev(0, EVFILT_LIBKQUEUE, EV_ADD | EV_RECEIPT, NOTE_FORK_CLEANUP, 0, NULL);
	struct kevent out[2];

	memset(out, 0, sizeof(out));
	ASSERT_EQ(1, kevent(kq, &c, 1, out, 2, &ts_zero));
	ASSERT_KEV(err_entry(c, 0), &out[0]);
}

/*
 * In the child: a signalfd for SIGUSR1 registered for EVFILT_READ in the
 * inherited kqueue (with SIGUSR1 pending if @pending). Returns 0 or a
 * failing check's number.
 */
static int child_signalfd(int kq, int pending)
{
	struct kevent c, ev[2];
	sigset_t set;
	int sfd, n;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return 1;
	sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0)
		return 2;
	c = kev(sfd, EVFILT_READ, EV_ADD, 0, 0, U(0x5f));
	if (kevent(kq, &c, 1, NULL, 0, NULL) != 0)
		return 3;
	n = kq_poll(kq, ev, 2);
	if (n != 0)
		return 4;
	if (pending) {
		if (raise(SIGUSR1))
			return 5;
		n = kq_poll(kq, ev, 2);
		if (n != 1 || ev[0].ident != (uintptr_t)sfd || ev[0].filter != EVFILT_READ ||
		    ev[0].udata != U(0x5f))
			return 6;
	}
	return 0;
}

enum child_end { END_EXIT, END_EXEC };

static const char *true_path(void)
{
	if (access("/bin/true", X_OK) == 0)
		return "/bin/true";
	return NULL;
}

static pid_t spawn_signalfd_child(struct __test_metadata *_metadata, int kq, int pending,
				  enum child_end end)
{
	const char *t = true_path();
	pid_t pid = fork();

	ASSERT_LE(0, pid) TH_LOG("fork: %s", strerror(errno));
	if (pid == 0) {
		int r = child_signalfd(kq, pending);

		if (r)
			_exit(r);
		if (end == END_EXEC) {
			execl(t, "true", (char *)NULL);
			_exit(50);
		}
		_exit(0);
	}
	return pid;
}

static void reap_ok(struct __test_metadata *_metadata, pid_t pid)
{
	int st = -1;

	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	ASSERT_TRUE(WIFEXITED(st)) TH_LOG("child status %#x", st);
	ASSERT_EQ(0, WEXITSTATUS(st)) TH_LOG("child failed check %d", WEXITSTATUS(st));
}

/* After the child's sighand is freed: the stale knote never fires. */
static void poll_quiet(struct __test_metadata *_metadata, int kq)
{
	struct timespec ts = { 0, 50 * 1000000L };
	struct kevent ev[4];
	int i, n;

	for (i = 0; i < 5; i++) {
		n = kevent(kq, NULL, 0, ev, 4, i & 1 ? &ts : &ts_zero);
		ASSERT_EQ(0, n) TH_LOG("round %d: kevent returned %d (errno %d), ident %d",
				       i, n, n < 0 ? errno : 0, n > 0 ? (int)ev[0].ident : -1);
	}
}

static void check_pollfree(struct __test_metadata *_metadata, int pending, enum child_end end)
{
	int kq = kq_new(_metadata);
	pid_t pid;

	watchdog(25);
	if (end == END_EXEC && !true_path())
		SKIP(return, "/bin/true not found");
	no_fork_cleanup(_metadata, kq);
	pid = spawn_signalfd_child(_metadata, kq, pending, end);
	reap_ok(_metadata, pid);
	poll_quiet(_metadata, kq);
	/* the kqueue still works */
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD | EV_CLEAR, NOTE_TRIGGER, 0, U(0x77)));
	ASSERT_ONE_EVENT(kq, user_ev(1, EV_ADD | EV_CLEAR, 0, 0, U(0x77)));
	poll_quiet(_metadata, kq);
	/* detaching the knote must not touch the freed wait queue (KASAN) */
	close(kq);
}

TEST(pollfree_signalfd_child_exit)
{
	check_pollfree(_metadata, 0, END_EXIT);
}

TEST(pollfree_signalfd_child_exit_pending)
{
	check_pollfree(_metadata, 1, END_EXIT);
}

TEST(pollfree_signalfd_child_exec)
{
	check_pollfree(_metadata, 0, END_EXEC);
}

TEST(pollfree_signalfd_child_exec_pending)
{
	check_pollfree(_metadata, 1, END_EXEC);
}

struct waiter {
	int kq;
	int n;
	int err;
};

static void *wait_kq(void *arg)
{
	struct waiter *w = arg;
	struct timespec ts = { 0, 500 * 1000000L };
	struct kevent ev[4];

	w->n = kevent(w->kq, NULL, 0, ev, 4, &ts);
	w->err = errno;
	return NULL;
}

/* A thread is asleep in kevent() while the sighand is freed. */
TEST(pollfree_signalfd_while_waiting)
{
	struct waiter w = { .n = -5 };
	siginfo_t si;
	pthread_t t;
	pid_t pid;
	int st;

	watchdog(25);
	w.kq = kq_new(_metadata);
	no_fork_cleanup(_metadata, w.kq);
	pid = spawn_signalfd_child(_metadata, w.kq, 0, END_EXIT);
	/* let the child register and exit, but do not reap it yet */
	memset(&si, 0, sizeof(si));
	ASSERT_EQ(0, waitid(P_PID, pid, &si, WEXITED | WNOWAIT));
	ASSERT_EQ(0, pthread_create(&t, NULL, wait_kq, &w));
	sleep_ms(100);
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	ASSERT_TRUE(WIFEXITED(st));
	ASSERT_EQ(0, WEXITSTATUS(st)) TH_LOG("child failed check %d", WEXITSTATUS(st));
	ASSERT_EQ(0, join_within(t, NULL, 5000));
	ASSERT_EQ(0, w.n) TH_LOG("kevent in the thread returned %d (errno %d)", w.n, w.err);
	poll_quiet(_metadata, w.kq);
	close(w.kq);
}

TEST_HARNESS_MAIN
