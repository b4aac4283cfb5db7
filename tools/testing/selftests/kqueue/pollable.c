// SPDX-License-Identifier: GPL-2.0
/*
 * The kqueue descriptor is pollable (contract section 2, team decisions):
 * POLLIN|POLLRDNORM while events are pending, usable from poll, select and
 * epoll, and from another kqueue through EVFILT_READ, with loops refused.
 */
#include <poll.h>
#include <sys/epoll.h>
#include <sys/select.h>

#include "kqueue_test.h"

#define U(x) ((void *)(uintptr_t)(x))

static int poll_kq(int kq, int timeout_ms, short *revents)
{
	struct pollfd p = { .fd = kq, .events = POLLIN | POLLRDNORM };
	int r = poll(&p, 1, timeout_ms);

	*revents = p.revents;
	return r;
}

TEST(poll_not_readable_when_idle)
{
	int kq = kq_new(_metadata);
	short rev;

	ASSERT_EQ(0, poll_kq(kq, 0, &rev));
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD, 0, 0, NULL));
	ASSERT_EQ(0, poll_kq(kq, 0, &rev));
	ASSERT_EQ(0, rev);
	/* a timed poll on an idle kqueue times out */
	ASSERT_EQ(0, poll_kq(kq, 50, &rev));
	close(kq);
}

TEST(poll_readable_after_trigger)
{
	struct kevent ev[2];
	int kq = kq_new(_metadata);
	short rev;

	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, NULL));
	kq_change(_metadata, kq, kev(1, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL));
	ASSERT_EQ(1, poll_kq(kq, 0, &rev));
	ASSERT_EQ(POLLIN | POLLRDNORM, rev);
	/* polling does not consume the event */
	ASSERT_EQ(1, poll_kq(kq, 0, &rev));
	ASSERT_EQ(1, kq_poll(kq, ev, 2));
	/* EV_CLEAR event collected: nothing pending any more */
	ASSERT_EQ(0, poll_kq(kq, 0, &rev));
	close(kq);
}

TEST(poll_level_knote_stays_readable)
{
	struct kevent ev[2];
	int kq = kq_new(_metadata);
	short rev;

	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD, 0, 0, NULL));
	kq_change(_metadata, kq, kev(1, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL));
	ASSERT_EQ(1, kq_poll(kq, ev, 2));
	ASSERT_EQ(1, poll_kq(kq, 0, &rev));
	ASSERT_EQ(POLLIN | POLLRDNORM, rev);
	/* disabling or deleting the knote makes it not readable */
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_DISABLE, 0, 0, NULL));
	ASSERT_EQ(0, poll_kq(kq, 0, &rev));
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ENABLE, 0, 0, NULL));
	ASSERT_EQ(1, poll_kq(kq, 0, &rev));
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_DELETE, 0, 0, NULL));
	ASSERT_EQ(0, poll_kq(kq, 0, &rev));
	close(kq);
}

static void *trigger_later(void *arg)
{
	int kq = *(int *)arg;
	struct kevent c = kev(1, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL);

	sleep_ms(150);
	return (void *)(intptr_t)kevent(kq, &c, 1, NULL, 0, NULL);
}

TEST(poll_wakes_on_trigger)
{
	pthread_t t;
	void *tr;
	int kq = kq_new(_metadata);
	int64_t t0;
	short rev;

	watchdog(25);
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD, 0, 0, NULL));
	ASSERT_EQ(0, pthread_create(&t, NULL, trigger_later, &kq));
	t0 = now_ms();
	ASSERT_EQ(1, poll_kq(kq, 20000, &rev));
	ASSERT_GT(15000, now_ms() - t0);
	ASSERT_EQ(POLLIN | POLLRDNORM, rev);
	ASSERT_EQ(0, pthread_join(t, &tr));
	ASSERT_EQ(0, (intptr_t)tr);
	close(kq);
}

TEST(select_readable)
{
	struct timeval tv = { 0, 0 };
	fd_set rd, wr;
	int kq = kq_new(_metadata);

	ASSERT_GT(FD_SETSIZE, kq);
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD, 0, 0, NULL));
	FD_ZERO(&rd);
	FD_SET(kq, &rd);
	ASSERT_EQ(0, select(kq + 1, &rd, NULL, NULL, &tv));
	kq_change(_metadata, kq, kev(1, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL));
	FD_ZERO(&rd);
	FD_SET(kq, &rd);
	FD_ZERO(&wr);
	tv = (struct timeval){ 0, 0 };
	ASSERT_EQ(1, select(kq + 1, &rd, &wr, NULL, &tv));
	ASSERT_TRUE(FD_ISSET(kq, &rd));
	close(kq);
}

TEST(epoll_readable)
{
	struct epoll_event ee = { .events = EPOLLIN, .data.u64 = 0xabcdef0123ULL }, out[2];
	int kq = kq_new(_metadata), ep;

	ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, kq, &ee));
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, NULL));
	ASSERT_EQ(0, epoll_wait(ep, out, 2, 0));
	kq_change(_metadata, kq, kev(1, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL));
	memset(out, 0, sizeof(out));
	ASSERT_EQ(1, epoll_wait(ep, out, 2, 0));
	ASSERT_EQ(EPOLLIN, out[0].events);
	ASSERT_EQ(0xabcdef0123ULL, out[0].data.u64);
	/* level-triggered epoll: still readable until the event is collected */
	ASSERT_EQ(1, epoll_wait(ep, out, 2, 0));
	ASSERT_ONE_EVENT(kq, user_ev(1, EV_ADD | EV_CLEAR, 0, 0, NULL));
	ASSERT_EQ(0, epoll_wait(ep, out, 2, 0));
	close(ep);
	close(kq);
}

TEST(epoll_wakes_on_trigger)
{
	struct epoll_event ee = { .events = EPOLLIN, .data.u64 = 7 }, out[2];
	pthread_t t;
	int kq = kq_new(_metadata), ep;
	int64_t t0;

	watchdog(25);
	ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, kq, &ee));
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD, 0, 0, NULL));
	ASSERT_EQ(0, pthread_create(&t, NULL, trigger_later, &kq));
	t0 = now_ms();
	ASSERT_EQ(1, epoll_wait(ep, out, 2, 20000));
	ASSERT_GT(15000, now_ms() - t0);
	ASSERT_EQ(EPOLLIN, out[0].events);
	ASSERT_EQ(7, out[0].data.u64);
	ASSERT_EQ(0, pthread_join(t, NULL));
	/* closing the kqueue removes it from the epoll set */
	close(kq);
	ASSERT_EQ(0, epoll_wait(ep, out, 2, 0));
	close(ep);
}

/*
 * A kqueue inside another kqueue through EVFILT_READ (more in fd_filter.c:
 * data, the depth limit, propagation through a chain).
 */
TEST(kqueue_in_kqueue)
{
	int inner, outer;

	inner = kq_new(_metadata);
	outer = kq_new(_metadata);
	kq_change(_metadata, inner, kev(1, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, NULL));
	kq_change(_metadata, outer, kev(inner, EVFILT_READ, EV_ADD, 0, 0, U(0x99)));
	ASSERT_NO_EVENT(outer);
	kq_change(_metadata, inner, kev(1, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL));
	/* data = number of pending events of the inner kqueue (FreeBSD) */
	ASSERT_ONE_EVENT(outer, kev(inner, EVFILT_READ, EV_ADD, 0, 1, U(0x99)));
	ASSERT_ONE_EVENT(inner, user_ev(1, EV_ADD | EV_CLEAR, 0, 0, NULL));
	ASSERT_NO_EVENT(outer);
	close(outer);
	close(inner);
}

TEST(kqueue_watching_itself_refused)
{
	int kq;

	kq = kq_new(_metadata);
	/* FreeBSD refuses a kqueue watching itself with EINVAL */
	ASSERT_CHANGE_ERR(kq, kev(kq, EVFILT_READ, EV_ADD, 0, 0, NULL), EINVAL);
	close(kq);
}

/*
 * A kqueue has no write side (FreeBSD's kqueue_kqfilter knows EVFILT_READ
 * only). A WRITE knote on a kqueue would hold its file outside the nesting
 * graph: on itself, the kqueue stayed open after its last close (leaked,
 * and the module could not be unloaded).
 */
TEST(kqueue_write_filter_refused)
{
	int kq = kq_new(_metadata), other = kq_new(_metadata);

	ASSERT_CHANGE_ERR(kq, kev(kq, EVFILT_WRITE, EV_ADD, 0, 0, NULL), EINVAL);
	ASSERT_CHANGE_ERR(kq, kev(other, EVFILT_WRITE, EV_ADD, 0, 0, NULL), EINVAL);
	ASSERT_NO_EVENT(kq);
	close(other);
	close(kq);
}

TEST(kqueue_loop_refused)
{
	struct kevent c, out[1];
	int a, b, cq, n;

	watchdog(25);
	a = kq_new(_metadata);
	b = kq_new(_metadata);
	cq = kq_new(_metadata);
	kq_change(_metadata, a, kev(b, EVFILT_READ, EV_ADD, 0, 0, NULL));
	kq_change(_metadata, b, kev(cq, EVFILT_READ, EV_ADD, 0, 0, NULL));
	/* closing the loop c -> a -> b -> c is refused, never deadlocks */
	c = kev(a, EVFILT_READ, EV_ADD, 0, 0, NULL);
	n = kevent(cq, &c, 1, out, 1, &ts_zero);
	ASSERT_EQ(1, n);
	/* ELOOP, as epoll says (a kqueue watching itself directly is EINVAL) */
	ASSERT_KEV(err_entry(c, ELOOP), &out[0]);
	/* the queues still work */
	kq_change(_metadata, cq, kev(1, EVFILT_USER, EV_ADD, 0, 0, NULL));
	kq_change(_metadata, cq, kev(1, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL));
	ASSERT_ONE_EVENT(cq, user_ev(1, EV_ADD, 0, 0, NULL));
	close(a);
	close(b);
	close(cq);
}

TEST_HARNESS_MAIN
