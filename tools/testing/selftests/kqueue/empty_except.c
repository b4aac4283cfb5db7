// SPDX-License-Identifier: GPL-2.0
/*
 * EVFILT_EMPTY and EVFILT_EXCEPT (Documentation/kqueue/user-guide.rst).
 *
 * EVFILT_EMPTY (FreeBSD's -13): the write side of a pipe, FIFO or socket
 * is drained: a pipe's bytes all read, a TCP socket's all acknowledged, an
 * AF_UNIX socket's all consumed by the peer. fflags 0, data 0 (the bytes
 * left, which is what it waits for), EV_EOF only for a pipe whose readers
 * are gone (data: the bytes never to be read). NOTE_LOWAT is ignored, as
 * FreeBSD's filt_soempty does. Other file types: EINVAL.
 *
 * EVFILT_EXCEPT (macOS's -15, NOTE_OOB 0x2; FreeBSD has no such filter):
 * urgent data on a socket, reported with fflags NOTE_OOB, data the bytes of
 * ordinary data before the mark on TCP. Without NOTE_OOB nothing is
 * reported (OpenBSD's filt_soexcept); no EV_EOF. Other file types: EINVAL.
 *
 * Returned events are compared whole. The race tests have a writer fill,
 * a reader drain and the main thread wait for EMPTY, round after round: a
 * missed wake-up is a round without its event.
 */
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <linux/sockios.h>
#include <sched.h>

#include "kqueue_test.h"

#define U(x) ((void *)(uintptr_t)(x))

/* Bound for asynchronous delivery (TCP over loopback, other threads). */
#define WAIT_MS 5000

static void add(struct __test_metadata *_metadata, int kq, int fd, short filter,
		unsigned short flags, unsigned int fflags, intptr_t data, void *udata)
{
	kq_change(_metadata, kq, kev(fd, filter, EV_ADD | flags, fflags, data, udata));
}

/* An EMPTY event for a knote registered with EV_ADD | @flags. */
static struct kevent empty_ev(int fd, unsigned short flags, intptr_t data, void *udata)
{
	return kev(fd, EVFILT_EMPTY, RET_FLAGS(EV_ADD | flags), 0, data, udata);
}

/* An EXCEPT event (NOTE_OOB) for a knote registered with EV_ADD | @flags. */
static struct kevent oob_ev(int fd, unsigned short flags, intptr_t data, void *udata)
{
	return kev(fd, EVFILT_EXCEPT, RET_FLAGS(EV_ADD | flags), NOTE_OOB, data, udata);
}

static int tcp_listener(struct __test_metadata *_metadata, struct sockaddr_in *sa, int rcvbuf)
{
	socklen_t len = sizeof(*sa);
	int lfd;

	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	ASSERT_LE(0, lfd) TH_LOG("socket: %s", strerror(errno));
	/* Before listen(): accepted sockets inherit it, and the window follows. */
	if (rcvbuf)
		ASSERT_EQ(0, setsockopt(lfd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)));
	ASSERT_EQ(0, bind(lfd, (struct sockaddr *)sa, sizeof(*sa)));
	ASSERT_EQ(0, listen(lfd, 8));
	ASSERT_EQ(0, getsockname(lfd, (struct sockaddr *)sa, &len));
	return lfd;
}

/*
 * A connected TCP loopback pair, both ends non-blocking: *@c the client,
 * *@a the accepted end, whose receive buffer is @rcvbuf if not 0.
 */
static void tcp_pair(struct __test_metadata *_metadata, int *c, int *a, int rcvbuf)
{
	struct pollfd pfd;
	struct sockaddr_in sa;
	int lfd = tcp_listener(_metadata, &sa, rcvbuf), one = 1;

	*c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, *c);
	ASSERT_EQ(0, connect(*c, (struct sockaddr *)&sa, sizeof(sa)))
		TH_LOG("connect: %s", strerror(errno));
	ASSERT_EQ(0, fcntl(*c, F_SETFL, O_NONBLOCK));
	ASSERT_EQ(0, setsockopt(*c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)));
	pfd = (struct pollfd){ .fd = lfd, .events = POLLIN };
	ASSERT_EQ(1, poll(&pfd, 1, WAIT_MS));
	*a = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	ASSERT_LE(0, *a) TH_LOG("accept: %s", strerror(errno));
	close(lfd);
}

/* Reads exactly @len bytes from non-blocking @fd within WAIT_MS (any chunks). */
static void drain_n(struct __test_metadata *_metadata, int fd, size_t len)
{
	static char buf[65536];
	int64_t end = now_ms() + WAIT_MS;
	size_t got = 0;
	ssize_t r;

	while (got < len) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		r = read(fd, buf, len - got < sizeof(buf) ? len - got : sizeof(buf));
		if (r > 0) {
			got += r;
			continue;
		}
		ASSERT_TRUE(r < 0 && errno == EAGAIN) TH_LOG("read: %zd (%s) after %zu of %zu",
							     r, strerror(errno), got, len);
		ASSERT_LT(now_ms(), end) TH_LOG("read %zu of %zu bytes", got, len);
		poll(&p, 1, 100);
	}
}

/* Bytes buffered for reading in @fd (FIONREAD). */
static int inq(int fd)
{
	int n = -1;

	return ioctl(fd, FIONREAD, &n) ? -1 : n;
}

/* Bytes not acknowledged on TCP socket @fd (SIOCOUTQ). */
static int outq(int fd)
{
	int n = -1;

	return ioctl(fd, SIOCOUTQ, &n) ? -1 : n;
}

/* ---- EVFILT_EMPTY on pipes and FIFOs ------------------------------------ */

TEST(pipe_empty_after_reader_drains)
{
	int kq = kq_new(_metadata), p[2];

	make_pipe(_metadata, p);
	/* An empty pipe is empty at once, and stays so (level-triggered). */
	add(_metadata, kq, p[1], EVFILT_EMPTY, 0, 0, 0, U(1));
	ASSERT_ONE_EVENT(kq, empty_ev(p[1], 0, 0, U(1)));
	ASSERT_ONE_EVENT(kq, empty_ev(p[1], 0, 0, U(1)));
	write_n(_metadata, p[1], 10);
	ASSERT_NO_EVENT(kq);
	read_n(_metadata, p[0], 4);
	ASSERT_NO_EVENT(kq);
	/* The read that empties it does not wake the pipe's writers (it was not full). */
	read_n(_metadata, p[0], 6);
	ASSERT_ONE_EVENT(kq, empty_ev(p[1], 0, 0, U(1)));
	/* A full pipe emptied in pieces. */
	while (write(p[1], kq_test_buf, sizeof(kq_test_buf)) > 0)
		;
	ASSERT_NO_EVENT(kq);
	while (inq(p[0]) > 1)
		ASSERT_LT(0, read(p[0], kq_test_buf, inq(p[0]) - 1));
	ASSERT_NO_EVENT(kq);
	read_n(_metadata, p[0], 1);
	ASSERT_ONE_EVENT(kq, empty_ev(p[1], 0, 0, U(1)));
	close(p[0]);
	close(p[1]);
	close(kq);
}

struct waiter {
	int kq;
	int n;
	struct kevent ev;
	pid_t tid;
};

static void *wait_one(void *arg)
{
	struct waiter *w = arg;
	struct timespec ts = { WAIT_MS / 1000, 0 };

	w->tid = sys_gettid();
	w->n = kevent(w->kq, NULL, 0, &w->ev, 1, &ts);
	return NULL;
}

TEST(pipe_empty_wakes_sleeper)
{
	struct waiter w = { 0 };
	pthread_t t;
	int p[2];

	watchdog(20);
	w.kq = kq_new(_metadata);
	make_pipe(_metadata, p);
	write_n(_metadata, p[1], 100);
	add(_metadata, w.kq, p[1], EVFILT_EMPTY, EV_CLEAR, 0, 0, U(2));
	ASSERT_EQ(0, pthread_create(&t, NULL, wait_one, &w));
	while (!__atomic_load_n(&w.tid, __ATOMIC_ACQUIRE))
		sleep_ms(1);
	ASSERT_TRUE(wait_thread_sleeping(w.tid, WAIT_MS));
	read_n(_metadata, p[0], 100);
	ASSERT_EQ(0, join_within(t, NULL, WAIT_MS + 1000));
	ASSERT_EQ(1, w.n) TH_LOG("the waiter got %d events (errno %d)", w.n, errno);
	ASSERT_KEV(empty_ev(p[1], EV_CLEAR, 0, U(2)), &w.ev);
	close(p[0]);
	close(p[1]);
	close(w.kq);
}

TEST(fifo_empty)
{
	int kq = kq_new(_metadata), r, w;

	make_fifo(_metadata, "empty", &r, &w);
	add(_metadata, kq, w, EVFILT_EMPTY, 0, 0, 0, U(3));
	ASSERT_ONE_EVENT(kq, empty_ev(w, 0, 0, U(3)));
	write_n(_metadata, w, 3000);
	ASSERT_NO_EVENT(kq);
	read_n(_metadata, r, 3000);
	ASSERT_ONE_EVENT(kq, empty_ev(w, 0, 0, U(3)));
	/* The read end has no write side. */
	ASSERT_CHANGE_ERR(kq, kev(r, EVFILT_EMPTY, EV_ADD, 0, 0, NULL), EINVAL);
	close(r);
	close(w);
	close(kq);
}

/* The readers went away: nobody will drain it; EV_EOF, data = bytes left. */
TEST(pipe_empty_reader_gone_eof)
{
	int kq = kq_new(_metadata), p[2];

	make_pipe(_metadata, p);
	write_n(_metadata, p[1], 7);
	add(_metadata, kq, p[1], EVFILT_EMPTY, 0, 0, 0, U(4));
	ASSERT_NO_EVENT(kq);
	close(p[0]);
	ASSERT_ONE_EVENT(kq, empty_ev(p[1], EV_EOF, 7, U(4)));
	ASSERT_ONE_EVENT(kq, empty_ev(p[1], EV_EOF, 7, U(4)));
	close(p[1]);
	/* Empty when the reader goes: EV_EOF too. */
	make_pipe(_metadata, p);
	add(_metadata, kq, p[1], EVFILT_EMPTY, EV_CLEAR, 0, 0, U(5));
	ASSERT_ONE_EVENT(kq, empty_ev(p[1], EV_CLEAR, 0, U(5)));
	ASSERT_NO_EVENT(kq);
	close(p[0]);
	ASSERT_ONE_EVENT(kq, empty_ev(p[1], EV_CLEAR | EV_EOF, 0, U(5)));
	close(p[1]);
	close(kq);
}

/* NOTE_LOWAT means nothing to EMPTY (FreeBSD's filt_soempty ignores it). */
TEST(empty_ignores_lowat)
{
	int kq = kq_new(_metadata), p[2];

	make_pipe(_metadata, p);
	write_n(_metadata, p[1], 3);
	add(_metadata, kq, p[1], EVFILT_EMPTY, 0, NOTE_LOWAT, 5, U(6));
	ASSERT_NO_EVENT(kq);
	read_n(_metadata, p[0], 3);
	ASSERT_ONE_EVENT(kq, empty_ev(p[1], 0, 0, U(6)));
	close(p[0]);
	close(p[1]);
	close(kq);
}

/* ---- EVFILT_EMPTY with EV_CLEAR, EV_ONESHOT, EV_DISPATCH ---------------- */

TEST(empty_clear)
{
	int kq = kq_new(_metadata), p[2];

	make_pipe(_metadata, p);
	add(_metadata, kq, p[1], EVFILT_EMPTY, EV_CLEAR, 0, 0, U(7));
	ASSERT_ONE_EVENT(kq, empty_ev(p[1], EV_CLEAR, 0, U(7)));
	ASSERT_NO_EVENT(kq);
	write_n(_metadata, p[1], 5);
	ASSERT_NO_EVENT(kq);
	read_n(_metadata, p[0], 2);
	ASSERT_NO_EVENT(kq);
	read_n(_metadata, p[0], 3);
	ASSERT_ONE_EVENT(kq, empty_ev(p[1], EV_CLEAR, 0, U(7)));
	ASSERT_NO_EVENT(kq);
	close(p[0]);
	close(p[1]);
	close(kq);
}

TEST(empty_oneshot)
{
	int kq = kq_new(_metadata), p[2];

	make_pipe(_metadata, p);
	write_n(_metadata, p[1], 5);
	add(_metadata, kq, p[1], EVFILT_EMPTY, EV_ONESHOT, 0, 0, U(8));
	ASSERT_NO_EVENT(kq);
	read_n(_metadata, p[0], 5);
	ASSERT_ONE_EVENT(kq, empty_ev(p[1], EV_ONESHOT, 0, U(8)));
	ASSERT_NO_EVENT(kq);
	/* Gone after its event. */
	ASSERT_CHANGE_ERR(kq, kev(p[1], EVFILT_EMPTY, EV_DELETE, 0, 0, NULL), ENOENT);
	write_n(_metadata, p[1], 5);
	read_n(_metadata, p[0], 5);
	ASSERT_NO_EVENT(kq);
	close(p[0]);
	close(p[1]);
	close(kq);
}

TEST(empty_dispatch)
{
	int kq = kq_new(_metadata), p[2];

	make_pipe(_metadata, p);
	add(_metadata, kq, p[1], EVFILT_EMPTY, EV_DISPATCH, 0, 0, U(9));
	ASSERT_ONE_EVENT(kq, empty_ev(p[1], EV_DISPATCH, 0, U(9)));
	/* Disabled after its event, whatever happens. */
	ASSERT_NO_EVENT(kq);
	write_n(_metadata, p[1], 5);
	read_n(_metadata, p[0], 5);
	ASSERT_NO_EVENT(kq);
	/* Enabled again: still empty, so at once. */
	kq_change(_metadata, kq, kev(p[1], EVFILT_EMPTY, EV_ENABLE, 0, 0, U(9)));
	ASSERT_ONE_EVENT(kq, empty_ev(p[1], EV_DISPATCH, 0, U(9)));
	ASSERT_NO_EVENT(kq);
	/* Enabled while not empty: when it empties. */
	write_n(_metadata, p[1], 5);
	kq_change(_metadata, kq, kev(p[1], EVFILT_EMPTY, EV_ENABLE, 0, 0, U(9)));
	ASSERT_NO_EVENT(kq);
	read_n(_metadata, p[0], 5);
	ASSERT_ONE_EVENT(kq, empty_ev(p[1], EV_DISPATCH, 0, U(9)));
	ASSERT_NO_EVENT(kq);
	close(p[0]);
	close(p[1]);
	close(kq);
}

/* ---- EVFILT_EMPTY on sockets --------------------------------------------- */

static void check_socketpair(struct __test_metadata *_metadata, int type)
{
	int kq = kq_new(_metadata), sv[2];

	ASSERT_EQ(0, socketpair(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv));
	add(_metadata, kq, sv[0], EVFILT_EMPTY, 0, 0, 0, U(10));
	ASSERT_ONE_EVENT(kq, empty_ev(sv[0], 0, 0, U(10)));
	write_n(_metadata, sv[0], 100);
	write_n(_metadata, sv[0], 100);
	ASSERT_NO_EVENT(kq);
	/* Half consumed by the peer: not drained yet. */
	read_n(_metadata, sv[1], 100);
	ASSERT_NO_EVENT(kq);
	read_n(_metadata, sv[1], 100);
	ASSERT_ONE_EVENT(kq, empty_ev(sv[0], 0, 0, U(10)));
	/* Data the peer has not read goes with it: drained. */
	write_n(_metadata, sv[0], 100);
	ASSERT_NO_EVENT(kq);
	close(sv[1]);
	ASSERT_ONE_EVENT(kq, empty_ev(sv[0], 0, 0, U(10)));
	close(sv[0]);
	close(kq);
}

TEST(socketpair_stream_empty)
{
	check_socketpair(_metadata, SOCK_STREAM);
}

TEST(socketpair_dgram_empty)
{
	check_socketpair(_metadata, SOCK_DGRAM);
}

/*
 * TCP: empty once everything is acknowledged. The receiver's window is
 * small, so most of what is written waits in the sender's queue while the
 * socket stays writable: no writer ever asked for room, and only the
 * knote's own request (SOCK_NOSPACE) gets the ACKs to wake it.
 */
TEST(tcp_empty_after_ack)
{
	int kq = kq_new(_metadata), c, a, lfd;
	struct sockaddr_in sa;
	ssize_t w;

	watchdog(30);
	tcp_pair(_metadata, &c, &a, 2048);
	add(_metadata, kq, c, EVFILT_EMPTY, 0, 0, 0, U(11));
	ASSERT_ONE_EVENT(kq, empty_ev(c, 0, 0, U(11)));
	memset(kq_test_buf, 't', 8000);
	w = write(c, kq_test_buf, 8000);
	ASSERT_EQ(8000, w) TH_LOG("write: %zd (%s)", w, strerror(errno));
	sleep_ms(100);
	ASSERT_NO_EVENT(kq);
	ASSERT_LT(0, outq(c));
	drain_n(_metadata, a, 8000);
	WAIT_EVENT(kq, empty_ev(c, 0, 0, U(11)));
	/* A FIN counts until acknowledged too; then empty again. */
	ASSERT_EQ(0, shutdown(c, SHUT_WR));
	WAIT_EVENT(kq, empty_ev(c, 0, 0, U(11)));
	close(a);
	close(c);
	/* A listening socket has nothing to send (FreeBSD: EMPTY at once). */
	lfd = tcp_listener(_metadata, &sa, 0);
	add(_metadata, kq, lfd, EVFILT_EMPTY, 0, 0, 0, U(12));
	ASSERT_ONE_EVENT(kq, empty_ev(lfd, 0, 0, U(12)));
	close(lfd);
	close(kq);
}

/* Reset with data unacknowledged: the queue is dropped, hence empty. */
TEST(tcp_empty_after_reset)
{
	int kq = kq_new(_metadata), c, a;
	struct linger lg = { 1, 0 };

	watchdog(30);
	tcp_pair(_metadata, &c, &a, 2048);
	memset(kq_test_buf, 't', 8000);
	ASSERT_EQ(8000, write(c, kq_test_buf, 8000));
	add(_metadata, kq, c, EVFILT_EMPTY, 0, 0, 0, U(13));
	sleep_ms(100);
	ASSERT_NO_EVENT(kq);
	/* The peer closes with unread data and linger 0: a reset. */
	ASSERT_EQ(0, setsockopt(a, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)));
	close(a);
	WAIT_EVENT(kq, empty_ev(c, 0, 0, U(13)));
	close(c);
	close(kq);
}

/* ---- files EVFILT_EMPTY and EVFILT_EXCEPT refuse ----------------------- */

TEST(refused_file_types)
{
	int kq = kq_new(_metadata), p[2], efd, nl, kq2, f, i;
	char path[64];
	struct {
		int fd;
		short filter;
		int err;
	} cases[12];
	int n = 0;

	make_pipe(_metadata, p);
	efd = eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, efd);
	nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, nl);
	kq2 = kq_new(_metadata);
	snprintf(path, sizeof(path), "/tmp/kq-empty-%d", getpid());
	f = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ASSERT_LE(0, f);
	unlink(path);

	cases[n++] = (typeof(cases[0])){ p[0], EVFILT_EMPTY, EINVAL };	/* read end */
	cases[n++] = (typeof(cases[0])){ f, EVFILT_EMPTY, EINVAL };	/* regular file */
	cases[n++] = (typeof(cases[0])){ efd, EVFILT_EMPTY, EINVAL };
	cases[n++] = (typeof(cases[0])){ kq2, EVFILT_EMPTY, EINVAL };	/* a kqueue */
	cases[n++] = (typeof(cases[0])){ nl, EVFILT_EMPTY, EINVAL };	/* not TCP/UDP/unix */
	cases[n++] = (typeof(cases[0])){ 9999, EVFILT_EMPTY, EBADF };
	cases[n++] = (typeof(cases[0])){ p[0], EVFILT_EXCEPT, EINVAL };
	cases[n++] = (typeof(cases[0])){ p[1], EVFILT_EXCEPT, EINVAL };
	cases[n++] = (typeof(cases[0])){ f, EVFILT_EXCEPT, EINVAL };
	cases[n++] = (typeof(cases[0])){ efd, EVFILT_EXCEPT, EINVAL };
	cases[n++] = (typeof(cases[0])){ kq2, EVFILT_EXCEPT, EINVAL };
	cases[n++] = (typeof(cases[0])){ 9999, EVFILT_EXCEPT, EBADF };
	for (i = 0; i < n; i++)
		ASSERT_CHANGE_ERR(kq, kev(cases[i].fd, cases[i].filter, EV_ADD, NOTE_OOB, 0, U(i)),
				  cases[i].err);
	/* Nothing was registered. */
	ASSERT_NO_EVENT(kq);
	close(f);
	close(kq2);
	close(nl);
	close(efd);
	close(p[0]);
	close(p[1]);
	close(kq);
}

/* ---- EVFILT_EXCEPT ------------------------------------------------------- */

TEST(tcp_oob)
{
	int kq = kq_new(_metadata), c, a;

	watchdog(30);
	tcp_pair(_metadata, &c, &a, 0);
	/* Bits other than NOTE_OOB are ignored, and not reported. */
	add(_metadata, kq, a, EVFILT_EXCEPT, 0, NOTE_OOB | 0x100, 0, U(20));
	ASSERT_NO_EVENT(kq);
	ASSERT_EQ(3, send(c, "abc", 3, 0));
	sleep_ms(50);
	ASSERT_NO_EVENT(kq);
	ASSERT_EQ(1, send(c, "!", 1, MSG_OOB));
	/* data: the ordinary bytes before the mark. */
	WAIT_EVENT(kq, oob_ev(a, 0, 3, U(20)));
	/* Still there (level-triggered); at the mark after reading them. */
	ASSERT_ONE_EVENT(kq, oob_ev(a, 0, 3, U(20)));
	read_n(_metadata, a, 3);
	ASSERT_ONE_EVENT(kq, oob_ev(a, 0, 0, U(20)));
	/* Consumed: gone. */
	ASSERT_EQ(1, recv(a, kq_test_buf, 1, MSG_OOB));
	ASSERT_EQ('!', kq_test_buf[0]);
	ASSERT_NO_EVENT(kq);
	/* No EV_EOF: the peer's close is no exceptional condition. */
	close(c);
	sleep_ms(100);
	ASSERT_NO_EVENT(kq);
	close(a);
	close(kq);
}

/* Without NOTE_OOB nothing is reported; an EV_ADD with it asks for it. */
TEST(tcp_oob_needs_note_oob)
{
	int kq = kq_new(_metadata), kq2 = kq_new(_metadata), c, a;

	watchdog(30);
	tcp_pair(_metadata, &c, &a, 0);
	add(_metadata, kq, a, EVFILT_EXCEPT, 0, 0, 0, U(21));
	add(_metadata, kq2, a, EVFILT_EXCEPT, 0, NOTE_OOB, 0, U(22));
	ASSERT_EQ(1, send(c, "!", 1, MSG_OOB));
	/* The urgent byte is there once the other kqueue says so. */
	WAIT_EVENT(kq2, oob_ev(a, 0, 0, U(22)));
	ASSERT_NO_EVENT(kq);
	/* EV_ENABLE changes nothing of what it reports... */
	kq_change(_metadata, kq, kev(a, EVFILT_EXCEPT, EV_ENABLE, NOTE_OOB, 0, U(21)));
	ASSERT_NO_EVENT(kq);
	/* ...an EV_ADD does. */
	add(_metadata, kq, a, EVFILT_EXCEPT, 0, NOTE_OOB, 0, U(23));
	ASSERT_ONE_EVENT(kq, oob_ev(a, 0, 0, U(23)));
	/* And away again. */
	add(_metadata, kq, a, EVFILT_EXCEPT, 0, 0, 0, U(24));
	ASSERT_NO_EVENT(kq);
	close(c);
	close(a);
	close(kq2);
	close(kq);
}

/* AF_UNIX stream sockets have MSG_OOB too (CONFIG_AF_UNIX_OOB): data 0. */
TEST(unix_oob)
{
	int kq = kq_new(_metadata), sv[2];

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv));
	add(_metadata, kq, sv[1], EVFILT_EXCEPT, 0, NOTE_OOB, 0, U(25));
	ASSERT_NO_EVENT(kq);
	if (send(sv[0], "!", 1, MSG_OOB) < 0) {
		ASSERT_EQ(EOPNOTSUPP, errno);
		SKIP(goto out, "no MSG_OOB on AF_UNIX (CONFIG_AF_UNIX_OOB)");
	}
	ASSERT_ONE_EVENT(kq, oob_ev(sv[1], 0, 0, U(25)));
	ASSERT_EQ(1, recv(sv[1], kq_test_buf, 1, MSG_OOB));
	ASSERT_NO_EVENT(kq);
out:
	close(sv[0]);
	close(sv[1]);
	close(kq);
}

/* ---- races: a writer fills, a reader drains, the main thread waits ------- */

enum pair_kind { PIPE, UNIX_STREAM, TCP };

/* Rounds a race test runs at least (given 15 s more than its time for them). */
#define RACE_ROUNDS 100

struct race {
	int wfd, rfd;
	int round, done;	/* set by the main thread */
	int written;		/* set by the writer for the round, then wdone */
	int wdone, rdone;	/* the round number each side finished */
	unsigned int seed;
	int failed;
};

static unsigned int rnd(unsigned int *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 8;
}

static int wait_round(struct race *r, int *mine)
{
	int want = *mine + 1;

	while (__atomic_load_n(&r->round, __ATOMIC_ACQUIRE) < want) {
		if (__atomic_load_n(&r->done, __ATOMIC_ACQUIRE))
			return 0;
		sched_yield();
	}
	*mine = want;
	return 1;
}

/* Writes a random amount, sometimes until the buffer is full (at most 1 MiB). */
static void *race_writer(void *arg)
{
	struct race *r = arg;
	static char buf[65536];
	unsigned int s = r->seed;
	int round = 0;

	memset(buf, 'w', sizeof(buf));
	while (wait_round(r, &round)) {
		int total = 0, fill = rnd(&s) % 4 == 0;
		int want = fill ? 1 << 20 : 1 + rnd(&s) % 20000;

		while (total < want) {
			ssize_t n = write(r->wfd, buf, want - total < (int)sizeof(buf) ?
					  want - total : (int)sizeof(buf));
			if (n <= 0)
				break;
			total += n;
		}
		if (total == 0) {
			r->failed = 1;
			total = -1;
		}
		__atomic_store_n(&r->written, total, __ATOMIC_RELEASE);
		__atomic_store_n(&r->wdone, round, __ATOMIC_RELEASE);
	}
	return NULL;
}

/* Drains what the writer wrote this round, in random pieces at random moments. */
static void *race_reader(void *arg)
{
	struct race *r = arg;
	static char buf[65536];
	unsigned int s = r->seed ^ 0x5a5a5a5a;
	int round = 0;

	while (wait_round(r, &round)) {
		int got = 0, want;

		while (__atomic_load_n(&r->wdone, __ATOMIC_ACQUIRE) < round)
			sched_yield();
		want = __atomic_load_n(&r->written, __ATOMIC_ACQUIRE);
		if (rnd(&s) % 2)
			spin_ns(rnd(&s) % 200000);
		while (got < want) {
			size_t chunk = 1 + rnd(&s) % sizeof(buf);
			ssize_t n = read(r->rfd, buf, chunk < (size_t)(want - got) ?
					 chunk : (size_t)(want - got));

			if (n > 0) {
				got += n;
				if (rnd(&s) % 8 == 0)
					spin_ns(rnd(&s) % 50000);
			} else if (n < 0 && errno == EAGAIN) {
				struct pollfd p = { .fd = r->rfd, .events = POLLIN };

				poll(&p, 1, 100);
			} else {
				r->failed = 2;
				break;
			}
		}
		__atomic_store_n(&r->rdone, round, __ATOMIC_RELEASE);
	}
	return NULL;
}

/*
 * Rounds: the writer fills, the reader drains, and the main thread, with
 * an EV_DISPATCH knote enabled again each round while the writer is done
 * and the reader at work, must get one EMPTY event in every round, when
 * nothing is left (checked on the reading side: nobody writes until the
 * next round). A missed wake-up is a round that times out.
 */
static void race(struct __test_metadata *_metadata, enum pair_kind kind, int seconds)
{
	struct race r = { .seed = (unsigned int)getpid() * 2654435761u };
	int kq = kq_new(_metadata), fds[2], rounds = 0, slept = 0;
	pthread_t wt, rt;
	int64_t end = now_ms() + seconds * 1000L;
	struct timespec ts = { WAIT_MS / 1000, 0 };
	struct kevent ev;

	if (kind == PIPE) {
		make_pipe(_metadata, fds);
		r.rfd = fds[0];
		r.wfd = fds[1];
	} else if (kind == UNIX_STREAM) {
		ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
					fds));
		r.wfd = fds[0];
		r.rfd = fds[1];
	} else {
		tcp_pair(_metadata, &r.wfd, &r.rfd, 0);
	}
	add(_metadata, kq, r.wfd, EVFILT_EMPTY, EV_DISPATCH, 0, 0, U(30));
	ASSERT_ONE_EVENT(kq, empty_ev(r.wfd, EV_DISPATCH, 0, U(30)));
	ASSERT_EQ(0, pthread_create(&wt, NULL, race_writer, &r));
	ASSERT_EQ(0, pthread_create(&rt, NULL, race_reader, &r));
	/* @seconds, and on a loaded machine longer, up to RACE_ROUNDS rounds or 15 s */
	while ((now_ms() < end || (rounds < RACE_ROUNDS && now_ms() < end + 15000)) &&
	       !r.failed) {
		int n;

		__atomic_store_n(&r.round, rounds + 1, __ATOMIC_RELEASE);
		while (__atomic_load_n(&r.wdone, __ATOMIC_ACQUIRE) <= rounds)
			sched_yield();
		kq_change(_metadata, kq, kev(r.wfd, EVFILT_EMPTY, EV_ENABLE, 0, 0, U(30)));
		if (__atomic_load_n(&r.rdone, __ATOMIC_ACQUIRE) <= rounds)
			slept++;	/* (roughly) the wake-up rounds, not the enable ones */
		memset(&ev, 0, sizeof(ev));
		n = kevent(kq, NULL, 0, &ev, 1, &ts);
		ASSERT_EQ(1, n) TH_LOG("round %d: no EMPTY event within %d ms (reader %s)",
				       rounds + 1, WAIT_MS,
				       __atomic_load_n(&r.rdone, __ATOMIC_ACQUIRE) > rounds ?
				       "done" : "still reading");
		ASSERT_KEV(empty_ev(r.wfd, EV_DISPATCH, 0, U(30)), &ev);
		/*
		 * Empty means read to the last byte (the reader may not have counted it
		 * yet); on TCP, acknowledged to the last byte (SIOCOUTQ).
		 */
		if (kind == TCP) {
			ASSERT_EQ(0, outq(r.wfd)) TH_LOG("round %d: EMPTY with %d bytes unacked",
							 rounds + 1, outq(r.wfd));
		} else {
			ASSERT_EQ(0, inq(r.rfd)) TH_LOG("round %d: EMPTY with %d bytes unread",
							rounds + 1, inq(r.rfd));
		}
		while (__atomic_load_n(&r.rdone, __ATOMIC_ACQUIRE) <= rounds)
			sched_yield();
		rounds++;
	}
	__atomic_store_n(&r.done, 1, __ATOMIC_RELEASE);
	ASSERT_EQ(0, join_within(wt, NULL, WAIT_MS));
	ASSERT_EQ(0, join_within(rt, NULL, WAIT_MS));
	ASSERT_EQ(0, r.failed);
	TH_LOG("%d rounds, %d with the reader still at work when enabled", rounds, slept);
	ASSERT_LE(RACE_ROUNDS, rounds);
	close(r.wfd);
	close(r.rfd);
	close(kq);
}

TEST(race_pipe)
{
	watchdog(40);
	race(_metadata, PIPE, 6);
}

TEST(race_unix_stream)
{
	watchdog(40);
	race(_metadata, UNIX_STREAM, 6);
}

TEST(race_tcp)
{
	watchdog(40);
	race(_metadata, TCP, 6);
}

TEST_HARNESS_MAIN
