// SPDX-License-Identifier: GPL-2.0
/*
 * kevent() engine semantics (contract section 2, team decisions), with
 * EVFILT_USER as the vehicle: order of changes, per-change errors, receipts,
 * EV_ADD/DELETE/ENABLE/DISABLE, invalid filters, flags, counts and timeouts.
 *
 * Trigger changes always carry the same data and udata as the registration,
 * so the tests do not depend on whether a non-EV_ADD change updates them.
 */
#include <limits.h>

#include "kqueue_test.h"

#define U(x) ((void *)(uintptr_t)(x))

TEST(add_trigger_whole_struct)
{
	const uintptr_t id = (uintptr_t)0xdeadbeefcafef00dULL;
	int kq = kq_new(_metadata);

	kq_change(_metadata, kq, kev(id, EVFILT_USER, EV_ADD, 0, 0, U(0x1234)));
	ASSERT_NO_EVENT(kq);
	kq_change(_metadata, kq, kev(id, EVFILT_USER, 0, NOTE_TRIGGER, 0, U(0x1234)));
	ASSERT_ONE_EVENT(kq, user_ev(id, EV_ADD, 0, 0, U(0x1234)));
	close(kq);
}

TEST(changes_in_order_with_errors)
{
	struct kevent ch[5], ev[8], sentinel;
	int kq = kq_new(_metadata), n, i;

	ch[0] = kev(1, EVFILT_USER, EV_ADD, 0, 0, U(0x10));
	ch[1] = kev(2, -100, EV_ADD, 0, 0, U(0x20));		/* EINVAL */
	ch[2] = kev(3, EVFILT_USER, EV_DELETE, 0, 0, U(0x30));	/* ENOENT */
	ch[3] = kev(4, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, U(0x40));
	ch[4] = kev(1, EVFILT_USER, 0, NOTE_TRIGGER, 0, U(0x10));
	memset(ev, 0xa5, sizeof(ev));
	memset(&sentinel, 0xa5, sizeof(sentinel));

	n = kevent(kq, ch, 5, ev, 8, &ts_zero);
	ASSERT_EQ(2, n) TH_LOG("errno %d", errno);
	ASSERT_KEV(err_entry(ch[1], EINVAL), &ev[0]);
	ASSERT_KEV(err_entry(ch[2], ENOENT), &ev[1]);
	for (i = 2; i < 8; i++)
		ASSERT_KEV(sentinel, &ev[i]);	/* nothing written beyond */

	/* errors were written, so the pending event was not collected ... */
	/* ... but the changes after the failing ones were applied */
	ASSERT_ONE_EVENT(kq, user_ev(1, EV_ADD, 0, 0, U(0x10)));
	kq_change(_metadata, kq, kev(4, EVFILT_USER, 0, NOTE_TRIGGER, 0, U(0x40)));
	n = kq_poll(kq, ev, 8);
	ASSERT_EQ(2, n);
	/* ident 1 is level-triggered and still pending: both are returned */
	if (ev[0].ident == 4) {
		struct kevent t = ev[0];

		ev[0] = ev[1];
		ev[1] = t;
	}
	ASSERT_KEV(user_ev(1, EV_ADD, 0, 0, U(0x10)), &ev[0]);
	ASSERT_KEV(user_ev(4, EV_ADD | EV_CLEAR, 0, 0, U(0x40)), &ev[1]);
	close(kq);
}

TEST(error_without_room_fails_and_stops)
{
	struct kevent ch[3];
	int kq = kq_new(_metadata);

	watchdog(20);
	ch[0] = kev(1, EVFILT_USER, EV_ADD, 0, 0, NULL);
	ch[1] = kev(2, -16, EV_ADD, 0, 0, NULL);
	ch[2] = kev(3, EVFILT_USER, EV_ADD, 0, 0, NULL);
	/* nevents 0, NULL timeout: must not wait */
	ASSERT_FAILS(EINVAL, kevent(kq, ch, 3, NULL, 0, NULL));
	/* change 0 was applied, change 2 was not (processing stopped) */
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_DELETE, 0, 0, NULL));
	ASSERT_CHANGE_ERR(kq, kev(3, EVFILT_USER, EV_DELETE, 0, 0, NULL), ENOENT);
	close(kq);
}

TEST(error_when_room_runs_out)
{
	struct kevent ch[3], ev[1];
	int kq = kq_new(_metadata);

	ch[0] = kev(1, 5, EV_ADD, 0, 0, NULL);				/* EINVAL */
	ch[1] = kev(2, EVFILT_USER, EV_DELETE, 0, 0, NULL);		/* ENOENT */
	ch[2] = kev(3, EVFILT_USER, EV_ADD, 0, 0, NULL);
	ASSERT_FAILS(ENOENT, kevent(kq, ch, 3, ev, 1, &ts_zero));
	ASSERT_CHANGE_ERR(kq, kev(3, EVFILT_USER, EV_DELETE, 0, 0, NULL), ENOENT);
	close(kq);
}

TEST(receipts)
{
	struct kevent ch[3], ev[4];
	int kq = kq_new(_metadata), n;

	ch[0] = kev(1, EVFILT_USER, EV_ADD | EV_RECEIPT, 0, 0, U(0x11));
	ch[1] = kev(2, EVFILT_USER, EV_ADD | EV_CLEAR | EV_RECEIPT, 0, 0, U(0x22));
	ch[2] = kev(3, EVFILT_USER, EV_DELETE | EV_RECEIPT, 0, 0, U(0x33));
	memset(ev, 0, sizeof(ev));
	n = kevent(kq, ch, 3, ev, 4, &ts_zero);
	ASSERT_EQ(3, n);
	ASSERT_KEV(err_entry(ch[0], 0), &ev[0]);
	ASSERT_KEV(err_entry(ch[1], 0), &ev[1]);
	ASSERT_KEV(err_entry(ch[2], ENOENT), &ev[2]);

	/* EV_RECEIPT stays on the registration and is reported with its events */
	kq_change(_metadata, kq, kev(2, EVFILT_USER, 0, NOTE_TRIGGER, 0, U(0x22)));
	ASSERT_ONE_EVENT(kq, user_ev(2, EV_ADD | EV_CLEAR | EV_RECEIPT, 0, 0, U(0x22)));
	kq_change(_metadata, kq, kev(1, EVFILT_USER, 0, NOTE_TRIGGER, 0, U(0x11)));
	ASSERT_ONE_EVENT(kq, user_ev(1, EV_ADD | EV_RECEIPT, 0, 0, U(0x11)));
	close(kq);
}

/*
 * EV_RECEIPT is kept on the knote like EV_CLEAR (FreeBSD strips only the
 * action bits; libkqueue keeps the flags): every later event carries it, also
 * after a modify without it; a modify with it does not add it.
 */
TEST(receipt_reported_on_every_event)
{
	struct kevent c, ev[2];
	int kq = kq_new(_metadata), p[2];

	c = kev(1, EVFILT_USER, EV_ADD | EV_CLEAR | EV_RECEIPT, 0, 0, U(1));
	ASSERT_EQ(1, kevent(kq, &c, 1, ev, 2, &ts_zero));
	ASSERT_KEV(err_entry(c, 0), &ev[0]);
	kq_change(_metadata, kq, kev(1, EVFILT_USER, 0, NOTE_TRIGGER, 0, U(1)));
	ASSERT_ONE_EVENT(kq, kev(1, EVFILT_USER, EV_ADD | EV_CLEAR | EV_RECEIPT, 0, 0, U(1)));
	kq_change(_metadata, kq, kev(1, EVFILT_USER, 0, NOTE_TRIGGER, 0, U(1)));
	ASSERT_ONE_EVENT(kq, kev(1, EVFILT_USER, EV_ADD | EV_CLEAR | EV_RECEIPT, 0, 0, U(1)));
	/* a modify without EV_RECEIPT keeps it */
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD, 0, 0, U(2)));
	kq_change(_metadata, kq, kev(1, EVFILT_USER, 0, NOTE_TRIGGER, 0, U(3)));
	ASSERT_ONE_EVENT(kq, kev(1, EVFILT_USER, EV_ADD | EV_CLEAR | EV_RECEIPT, 0, 0, U(3)));

	/* a modify with EV_RECEIPT does not add it to a knote made without */
	kq_change(_metadata, kq, kev(2, EVFILT_USER, EV_ADD, 0, 0, U(4)));
	c = kev(2, EVFILT_USER, EV_ADD | EV_RECEIPT, NOTE_TRIGGER, 0, U(5));
	ASSERT_EQ(1, kevent(kq, &c, 1, ev, 2, &ts_zero));
	ASSERT_KEV(err_entry(c, 0), &ev[0]);
	ASSERT_ONE_EVENT(kq, kev(2, EVFILT_USER, EV_ADD, 0, 0, U(5)));
	kq_change(_metadata, kq, kev(2, EVFILT_USER, EV_DELETE, 0, 0, NULL));

	/* any filter: a readable pipe */
	make_pipe(_metadata, p);
	write_n(_metadata, p[1], 3);
	c = kev(p[0], EVFILT_READ, EV_ADD | EV_RECEIPT, 0, 0, U(6));
	ASSERT_EQ(1, kevent(kq, &c, 1, ev, 2, &ts_zero));
	ASSERT_KEV(err_entry(c, 0), &ev[0]);
	ASSERT_ONE_EVENT(kq, kev(p[0], EVFILT_READ, EV_ADD | EV_RECEIPT, 0, 3, U(6)));
	close(p[0]);
	close(p[1]);
	close(kq);
}

TEST(receipt_suppresses_collection)
{
	struct kevent c, ev[4];
	int kq = kq_new(_metadata), n;

	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, NULL));
	kq_change(_metadata, kq, kev(1, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL));
	c = kev(2, EVFILT_USER, EV_ADD | EV_RECEIPT, 0, 0, U(2));
	n = kevent(kq, &c, 1, ev, 4, &ts_zero);
	ASSERT_EQ(1, n);
	ASSERT_KEV(err_entry(c, 0), &ev[0]);
	/* the pending event is still there */
	ASSERT_ONE_EVENT(kq, user_ev(1, EV_ADD | EV_CLEAR, 0, 0, NULL));
	ASSERT_NO_EVENT(kq);
	close(kq);
}

TEST(missing_knote_enoent)
{
	struct kevent ch[4], ev[4];
	int kq = kq_new(_metadata), n, i;

	ch[0] = kev(77, EVFILT_USER, EV_DELETE, 0, 0, U(1));
	ch[1] = kev(77, EVFILT_USER, EV_ENABLE, 0, 0, U(2));
	ch[2] = kev(77, EVFILT_USER, EV_DISABLE, 0, 0, U(3));
	ch[3] = kev(77, EVFILT_USER, 0, NOTE_TRIGGER, 0, U(4));
	n = kevent(kq, ch, 4, ev, 4, &ts_zero);
	ASSERT_EQ(4, n);
	for (i = 0; i < 4; i++)
		ASSERT_KEV(err_entry(ch[i], ENOENT), &ev[i]);
	close(kq);
}

TEST(delete_drops_pending_event)
{
	int kq = kq_new(_metadata);

	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD, 0, 0, NULL));
	kq_change(_metadata, kq, kev(1, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL));
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_DELETE, 0, 0, NULL));
	ASSERT_NO_EVENT(kq);
	ASSERT_CHANGE_ERR(kq, kev(1, EVFILT_USER, EV_DELETE, 0, 0, NULL), ENOENT);
	/* re-adding gives a fresh, untriggered knote */
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD, 0, 0, NULL));
	ASSERT_NO_EVENT(kq);
	close(kq);
}

TEST(add_existing_modifies)
{
	int kq = kq_new(_metadata);

	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD, NOTE_FFCOPY | 0x11, 5, U(0xa)));
	/* one change both modifies (fflags, data, udata) and triggers */
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD,
				     NOTE_FFCOPY | NOTE_TRIGGER | 0x22, 9, U(0xb)));
	/* a modification, not a second knote: exactly one event */
	ASSERT_ONE_EVENT(kq, user_ev(1, EV_ADD, 0x22, 9, U(0xb)));
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_DELETE, 0, 0, NULL));
	ASSERT_CHANGE_ERR(kq, kev(1, EVFILT_USER, EV_DELETE, 0, 0, NULL), ENOENT);
	close(kq);
}

TEST(add_existing_reenables)
{
	int kq = kq_new(_metadata);

	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD, 0, 0, U(1)));
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_DISABLE, 0, 0, U(1)));
	kq_change(_metadata, kq, kev(1, EVFILT_USER, 0, NOTE_TRIGGER, 0, U(1)));
	ASSERT_NO_EVENT(kq);
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD, 0, 0, U(1)));
	ASSERT_ONE_EVENT(kq, user_ev(1, EV_ADD, 0, 0, U(1)));
	/* EV_ADD|EV_DISABLE on an existing knote disables it again */
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD | EV_DISABLE, 0, 0, U(1)));
	ASSERT_NO_EVENT(kq);
	close(kq);
}

TEST(add_disabled)
{
	int kq = kq_new(_metadata);

	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD | EV_DISABLE, 0, 0, U(7)));
	kq_change(_metadata, kq, kev(1, EVFILT_USER, 0, NOTE_TRIGGER, 0, U(7)));
	ASSERT_NO_EVENT(kq);
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ENABLE, 0, 0, U(7)));
	/* EV_DISABLE and EV_ENABLE are not reported */
	ASSERT_ONE_EVENT(kq, user_ev(1, EV_ADD, 0, 0, U(7)));
	close(kq);
}

TEST(disable_hides_pending_event)
{
	int kq = kq_new(_metadata);

	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD, 0, 0, NULL));
	kq_change(_metadata, kq, kev(1, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL));
	ASSERT_ONE_EVENT(kq, user_ev(1, EV_ADD, 0, 0, NULL));
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_DISABLE, 0, 0, NULL));
	ASSERT_NO_EVENT(kq);
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ENABLE, 0, 0, NULL));
	ASSERT_ONE_EVENT(kq, user_ev(1, EV_ADD, 0, 0, NULL));
	close(kq);
}

TEST(oneshot_dispatch_einval)
{
	int kq = kq_new(_metadata);

	ASSERT_CHANGE_ERR(kq, kev(1, EVFILT_USER, EV_ADD | EV_ONESHOT | EV_DISPATCH, 0, 0, U(1)),
			  EINVAL);
	/* not created */
	ASSERT_CHANGE_ERR(kq, kev(1, EVFILT_USER, EV_DELETE, 0, 0, NULL), ENOENT);
	/* nor may an existing knote be switched to it */
	kq_change(_metadata, kq, kev(2, EVFILT_USER, EV_ADD, 0, 0, NULL));
	ASSERT_CHANGE_ERR(kq, kev(2, EVFILT_USER, EV_ADD | EV_ONESHOT | EV_DISPATCH, 0, 0, NULL),
			  EINVAL);
	close(kq);
}

TEST(unknown_filters_einval)
{
	static const short filters[] = { -16, -100, 0, 5, SHRT_MIN, SHRT_MAX };
	struct kevent ch[6], ev[8];
	int kq = kq_new(_metadata), n, i;

	for (i = 0; i < 6; i++)
		ch[i] = kev(100 + i, filters[i], EV_ADD, 0, 0, U(i));
	n = kevent(kq, ch, 6, ev, 8, &ts_zero);
	ASSERT_EQ(6, n);
	for (i = 0; i < 6; i++)
		ASSERT_KEV(err_entry(ch[i], EINVAL), &ev[i]);
	/* with no room, the first one fails the call */
	ASSERT_FAILS(EINVAL, kevent(kq, ch, 6, NULL, 0, &ts_zero));
	close(kq);
}

TEST(unimplemented_filters_einval)
{
	static const short filters[] = { EVFILT_AIO, EVFILT_NETDEV, EVFILT_FS, EVFILT_LIO };
	struct kevent ch[4], ev[4];
	int kq = kq_new(_metadata), n, i;

	for (i = 0; i < 4; i++)
		ch[i] = kev(3, filters[i], EV_ADD, 0, 0, NULL);
	n = kevent(kq, ch, 4, ev, 4, &ts_zero);
	ASSERT_EQ(4, n);
	for (i = 0; i < 4; i++)
		ASSERT_KEV(err_entry(ch[i], EINVAL), &ev[i]);
	close(kq);
}

TEST(unknown_flag_bits_einval)
{
	struct kevent ch[2], ev[2];
	int kq = kq_new(_metadata), n;

	ch[0] = kev(1, EVFILT_USER, EV_ADD | 0x0400, 0, 0, NULL);
	ch[1] = kev(2, EVFILT_USER, EV_ADD | 0x0800, 0, 0, NULL);
	n = kevent(kq, ch, 2, ev, 2, &ts_zero);
	ASSERT_EQ(2, n);
	ASSERT_KEV(err_entry(ch[0], EINVAL), &ev[0]);
	ASSERT_KEV(err_entry(ch[1], EINVAL), &ev[1]);
	ASSERT_CHANGE_ERR(kq, kev(1, EVFILT_USER, EV_DELETE, 0, 0, NULL), ENOENT);
	ASSERT_CHANGE_ERR(kq, kev(2, EVFILT_USER, EV_DELETE, 0, 0, NULL), ENOENT);
	close(kq);
}

TEST(negative_counts_einval)
{
	struct kevent c = kev(1, EVFILT_USER, EV_ADD, 0, 0, NULL), ev[1];
	int kq = kq_new(_metadata);

	ASSERT_FAILS(EINVAL, kevent(kq, &c, -1, ev, 1, &ts_zero));
	ASSERT_FAILS(EINVAL, kevent(kq, &c, INT_MIN, ev, 1, &ts_zero));
	ASSERT_FAILS(EINVAL, kevent(kq, &c, 1, ev, -1, &ts_zero));
	ASSERT_FAILS(EINVAL, kevent(kq, NULL, 0, ev, INT_MIN, &ts_zero));
	/* bad input changes nothing else: the change was not applied */
	ASSERT_CHANGE_ERR(kq, kev(1, EVFILT_USER, EV_DELETE, 0, 0, NULL), ENOENT);
	close(kq);
}

TEST(invalid_timespec_einval)
{
	static const struct timespec bad[] = {
		{ 0, -1 }, { 0, 1000000000 }, { -1, 0 }, { 5, LONG_MAX }, { LONG_MIN, 0 },
	};
	struct timespec ok = { 0, 999999999 };
	struct kevent ev[1];
	int kq = kq_new(_metadata), i;
	int64_t t0;

	watchdog(20);
	for (i = 0; i < 5; i++) {
		errno = 0;
		ASSERT_EQ(-1, kevent(kq, NULL, 0, ev, 1, &bad[i])) TH_LOG("timespec #%d", i);
		ASSERT_EQ(EINVAL, errno) TH_LOG("timespec #%d", i);
	}
	/* the largest valid nanosecond value is fine */
	t0 = now_ms();
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, NULL));
	kq_change(_metadata, kq, kev(1, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL));
	ASSERT_EQ(1, kevent(kq, NULL, 0, ev, 1, &ok));
	ASSERT_GT(5000, now_ms() - t0);
	close(kq);
}

TEST(nevents_zero_never_waits)
{
	struct kevent ch[2], ev[1];
	int kq = kq_new(_metadata);

	watchdog(20);
	ch[0] = kev(1, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, U(1));
	ch[1] = kev(1, EVFILT_USER, 0, NOTE_TRIGGER, 0, U(1));
	/* NULL timeout and nevents 0: applies the changes and returns 0 */
	ASSERT_EQ(0, kevent(kq, ch, 2, NULL, 0, NULL));
	ASSERT_EQ(0, kevent(kq, NULL, 0, ev, 0, NULL));
	ASSERT_EQ(0, kevent(kq, NULL, 0, NULL, 0, NULL));
	/* the event is still pending (nothing collected it) */
	ASSERT_ONE_EVENT(kq, user_ev(1, EV_ADD | EV_CLEAR, 0, 0, U(1)));
	close(kq);
}

TEST(independent_kqueues)
{
	int kq1 = kq_new(_metadata), kq2 = kq_new(_metadata);

	ASSERT_NE(kq1, kq2);
	kq_change(_metadata, kq1, kev(1, EVFILT_USER, EV_ADD, 0, 0, U(1)));
	ASSERT_CHANGE_ERR(kq2, kev(1, EVFILT_USER, 0, NOTE_TRIGGER, 0, U(1)), ENOENT);
	ASSERT_NO_EVENT(kq1);
	ASSERT_NO_EVENT(kq2);
	kq_change(_metadata, kq2, kev(1, EVFILT_USER, EV_ADD, 0, 0, U(2)));
	kq_change(_metadata, kq2, kev(1, EVFILT_USER, 0, NOTE_TRIGGER, 0, U(2)));
	ASSERT_NO_EVENT(kq1);
	ASSERT_ONE_EVENT(kq2, user_ev(1, EV_ADD, 0, 0, U(2)));
	close(kq2);
	/* closing one does not affect the other */
	kq_change(_metadata, kq1, kev(1, EVFILT_USER, 0, NOTE_TRIGGER, 0, U(1)));
	ASSERT_ONE_EVENT(kq1, user_ev(1, EV_ADD, 0, 0, U(1)));
	close(kq1);
}

TEST(kevent_on_bad_fd)
{
	struct kevent ev[1];
	int fd;

	ASSERT_FAILS(EBADF, kevent(-1, NULL, 0, ev, 1, &ts_zero));
	/* a descriptor that is not a kqueue: EBADF (FreeBSD, libkqueue), not ENOTTY */
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_FAILS(EBADF, kevent(fd, NULL, 0, ev, 1, &ts_zero));
	close(fd);
}

/* kevent() on a pipe or a regular file: EBADF, with or without changes. */
TEST(not_a_kqueue_ebadf)
{
	struct kevent c = kev(1, EVFILT_USER, EV_ADD, 0, 0, NULL), ev[1];
	char path[64];
	int p[2], fd;

	make_pipe(_metadata, p);
	ASSERT_FAILS(EBADF, kevent(p[0], NULL, 0, ev, 1, &ts_zero));
	ASSERT_FAILS(EBADF, kevent(p[1], &c, 1, ev, 1, &ts_zero));
	close(p[0]);
	close(p[1]);
	snprintf(path, sizeof(path), "/tmp/kq-notkq-%d", getpid());
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	ASSERT_LE(0, fd);
	unlink(path);
	ASSERT_FAILS(EBADF, kevent(fd, NULL, 0, ev, 1, &ts_zero));
	ASSERT_FAILS(EBADF, kevent(fd, &c, 1, NULL, 0, NULL));
	close(fd);
}

/*
 * A queued knote whose condition went away is dropped when a call looks at
 * it; the call goes on to the events queued behind it, even with room for
 * one event and a zero timeout (FreeBSD's scan does the same).
 */
TEST(stale_knote_does_not_hide_the_next)
{
	struct kevent ev[2];
	int kq = kq_new(_metadata), p[2];
	char b;

	make_pipe(_metadata, p);
	kq_change(_metadata, kq, kev(p[0], EVFILT_READ, EV_ADD, 0, 0, NULL));
	kq_change(_metadata, kq, kev(9, EVFILT_USER, EV_ADD, 0, 0, NULL));
	ASSERT_EQ(1, write(p[1], "x", 1));
	ASSERT_EQ(1, read(p[0], &b, 1));	/* queued, but no longer readable */
	kq_change(_metadata, kq, kev(9, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL));
	memset(ev, 0, sizeof(ev));
	ASSERT_EQ(1, kevent(kq, NULL, 0, ev, 1, &ts_zero));
	ASSERT_EQ(9, ev[0].ident);
	ASSERT_EQ(EVFILT_USER, ev[0].filter);
	close(p[0]);
	close(p[1]);
	close(kq);
}

TEST_HARNESS_MAIN
