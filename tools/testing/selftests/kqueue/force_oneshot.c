// SPDX-License-Identifier: GPL-2.0
/*
 * EV_FORCEONESHOT and EV_KEEPUDATA, FreeBSD's change flags beyond
 * libkqueue's header (Documentation/kqueue/user-guide.rst):
 *
 * - EV_FORCEONESHOT on an existing knote makes it EV_ONESHOT and triggers
 *   it, whatever its filter says: the next collect reports it once, with
 *   the udata of the change, and deletes it. A disabled knote stays
 *   disabled and is reported once enabled. On a knote that EV_ADD creates
 *   it does nothing; without EV_ADD on a missing knote it is ENOENT
 *   (FreeBSD's kqueue_register);
 * - the forced event reports what the filter would report now (fflags,
 *   data), its flags are the knote's plus EV_ONESHOT, for every filter;
 * - exactly one thread gets it, also while other threads collect (and hold
 *   the knote in flux to poll it) or disable and enable it, and the knote
 *   is gone afterwards (force_while_*);
 * - EV_KEEPUDATA: a change without EV_ADD leaves udata as it is; with
 *   EV_ADD it is EINVAL, whether the knote exists or not.
 */
#include <sched.h>
#include <stdatomic.h>

#include "kqueue_test.h"

#define U(x) ((void *)(uintptr_t)(x))

/* (ident, filter) has no knote: a change without EV_ADD is ENOENT. */
#define ASSERT_GONE(kq, ident, filter) \
	ASSERT_CHANGE_ERR(kq, kev(ident, filter, EV_ENABLE | EV_KEEPUDATA, 0, 0, NULL), ENOENT)

TEST(untriggered_user_knote)
{
	int kq = kq_new(_metadata);

	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD, NOTE_FFCOPY | 5, 0, U(1)));
	ASSERT_NO_EVENT(kq);
	/* The change's udata and data, the stored fflags. */
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_FORCEONESHOT, 0, 7, U(2)));
	ASSERT_ONE_EVENT(kq, user_ev(1, EV_ADD | EV_ONESHOT, 5, 7, U(2)));
	ASSERT_NO_EVENT(kq);
	ASSERT_GONE(kq, 1, EVFILT_USER);
	close(kq);
}

TEST(triggered_clear_knote)
{
	int kq = kq_new(_metadata);

	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, U(1)));
	kq_change(_metadata, kq, kev(1, EVFILT_USER, 0, NOTE_TRIGGER, 0, U(1)));
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_FORCEONESHOT, 0, 0, U(2)));
	ASSERT_ONE_EVENT(kq, user_ev(1, EV_ADD | EV_CLEAR | EV_ONESHOT, 0, 0, U(2)));
	ASSERT_GONE(kq, 1, EVFILT_USER);
	/* Forcing twice before the collect still gives one event. */
	kq_change(_metadata, kq, kev(2, EVFILT_USER, EV_ADD, 0, 0, U(1)));
	kq_change(_metadata, kq, kev(2, EVFILT_USER, EV_FORCEONESHOT, 0, 0, U(2)));
	kq_change(_metadata, kq, kev(2, EVFILT_USER, EV_FORCEONESHOT, NOTE_TRIGGER, 0, U(3)));
	ASSERT_ONE_EVENT(kq, user_ev(2, EV_ADD | EV_ONESHOT, 0, 0, U(3)));
	ASSERT_GONE(kq, 2, EVFILT_USER);
	close(kq);
}

TEST(receipt_then_event)
{
	struct kevent c = kev(1, EVFILT_USER, EV_FORCEONESHOT | EV_RECEIPT, 0, 0, U(2)), out[2];
	int kq = kq_new(_metadata);

	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD, 0, 0, U(1)));
	memset(out, 0, sizeof(out));
	ASSERT_EQ(1, kevent(kq, &c, 1, out, 2, &ts_zero));
	ASSERT_KEV(err_entry(c, 0), &out[0]);
	ASSERT_ONE_EVENT(kq, user_ev(1, EV_ADD | EV_ONESHOT, 0, 0, U(2)));
	ASSERT_GONE(kq, 1, EVFILT_USER);
	close(kq);
}

/* FreeBSD: a knote EV_ADD creates is made as if EV_FORCEONESHOT were not given. */
TEST(add_of_new_knote_ignores_it)
{
	int kq = kq_new(_metadata), p[2];

	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD | EV_FORCEONESHOT, 0, 0, U(1)));
	ASSERT_NO_EVENT(kq);
	kq_change(_metadata, kq, kev(1, EVFILT_USER, 0, NOTE_TRIGGER, 0, U(1)));
	ASSERT_ONE_EVENT(kq, user_ev(1, EV_ADD, 0, 0, U(1)));
	ASSERT_ONE_EVENT(kq, user_ev(1, EV_ADD, 0, 0, U(1)));	/* level, still there */

	make_pipe(_metadata, p);
	ASSERT_EQ(1, write(p[1], "x", 1));
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_DELETE, 0, 0, NULL));
	kq_change(_metadata, kq, kev(p[0], EVFILT_READ, EV_ADD | EV_FORCEONESHOT, 0, 0, U(3)));
	ASSERT_ONE_EVENT(kq, kev(p[0], EVFILT_READ, EV_ADD, 0, 1, U(3)));
	ASSERT_ONE_EVENT(kq, kev(p[0], EVFILT_READ, EV_ADD, 0, 1, U(3)));
	/* On the existing knote, EV_ADD|EV_FORCEONESHOT forces. */
	kq_change(_metadata, kq, kev(p[0], EVFILT_READ, EV_ADD | EV_FORCEONESHOT, 0, 0, U(4)));
	ASSERT_ONE_EVENT(kq, kev(p[0], EVFILT_READ, EV_ADD | EV_ONESHOT, 0, 1, U(4)));
	ASSERT_GONE(kq, p[0], EVFILT_READ);
	close(p[0]);
	close(p[1]);
	close(kq);
}

TEST(missing_knote_enoent)
{
	int kq = kq_new(_metadata);

	ASSERT_CHANGE_ERR(kq, kev(1, EVFILT_USER, EV_FORCEONESHOT, 0, 0, U(1)), ENOENT);
	ASSERT_CHANGE_ERR(kq, kev(1, EVFILT_READ, EV_FORCEONESHOT, 0, 0, U(1)), ENOENT);
	ASSERT_NO_EVENT(kq);
	close(kq);
}

TEST(delete_wins)
{
	int kq = kq_new(_metadata);

	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD, 0, 0, U(1)));
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_DELETE | EV_FORCEONESHOT, 0, 0, U(2)));
	ASSERT_NO_EVENT(kq);
	ASSERT_GONE(kq, 1, EVFILT_USER);
	close(kq);
}

/* A disabled knote stays disabled (FreeBSD); it is reported once enabled. */
TEST(disabled_knote_reported_once_enabled)
{
	int kq = kq_new(_metadata);

	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD | EV_DISABLE, 0, 0, U(1)));
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_FORCEONESHOT, 0, 0, U(2)));
	ASSERT_NO_EVENT(kq);
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ENABLE | EV_KEEPUDATA, 0, 0, NULL));
	ASSERT_ONE_EVENT(kq, user_ev(1, EV_ADD | EV_ONESHOT, 0, 0, U(2)));
	ASSERT_GONE(kq, 1, EVFILT_USER);

	/* With EV_ENABLE in the same change: at once. */
	kq_change(_metadata, kq, kev(2, EVFILT_USER, EV_ADD | EV_DISABLE, 0, 0, U(1)));
	kq_change(_metadata, kq, kev(2, EVFILT_USER, EV_FORCEONESHOT | EV_ENABLE, 0, 0, U(2)));
	ASSERT_ONE_EVENT(kq, user_ev(2, EV_ADD | EV_ONESHOT, 0, 0, U(2)));
	ASSERT_GONE(kq, 2, EVFILT_USER);

	/* With EV_DISABLE in the same change: armed, not reported. */
	kq_change(_metadata, kq, kev(3, EVFILT_USER, EV_ADD, 0, 0, U(1)));
	kq_change(_metadata, kq, kev(3, EVFILT_USER, EV_FORCEONESHOT | EV_DISABLE, 0, 0, U(2)));
	ASSERT_NO_EVENT(kq);
	kq_change(_metadata, kq, kev(3, EVFILT_USER, EV_DISABLE | EV_KEEPUDATA, 0, 0, NULL));
	ASSERT_NO_EVENT(kq);
	kq_change(_metadata, kq, kev(3, EVFILT_USER, EV_ENABLE | EV_KEEPUDATA, 0, 0, NULL));
	ASSERT_ONE_EVENT(kq, user_ev(3, EV_ADD | EV_ONESHOT, 0, 0, U(2)));
	ASSERT_GONE(kq, 3, EVFILT_USER);
	close(kq);
}

/* After an EV_DISPATCH delivery the knote is disabled: re-armed by EV_ENABLE. */
TEST(dispatched_knote)
{
	int kq = kq_new(_metadata);

	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD | EV_DISPATCH, 0, 0, U(1)));
	kq_change(_metadata, kq, kev(1, EVFILT_USER, 0, NOTE_TRIGGER, 0, U(1)));
	ASSERT_ONE_EVENT(kq, user_ev(1, EV_ADD | EV_DISPATCH, 0, 0, U(1)));
	ASSERT_NO_EVENT(kq);
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_FORCEONESHOT, 0, 0, U(2)));
	ASSERT_NO_EVENT(kq);
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_FORCEONESHOT | EV_ENABLE, 0, 0, U(3)));
	ASSERT_ONE_EVENT(kq, user_ev(1, EV_ADD | EV_DISPATCH | EV_ONESHOT, 0, 0, U(3)));
	ASSERT_GONE(kq, 1, EVFILT_USER);
	close(kq);
}

/* ---- every filter: the event reports what the filter would report now ---- */

TEST(read_and_write_filters)
{
	int kq = kq_new(_metadata), p[2], room = 0;

	make_pipe(_metadata, p);
	/* READ on an empty pipe: data 0. */
	kq_change(_metadata, kq, kev(p[0], EVFILT_READ, EV_ADD, 0, 0, U(1)));
	ASSERT_NO_EVENT(kq);
	kq_change(_metadata, kq, kev(p[0], EVFILT_READ, EV_FORCEONESHOT, 0, 0, U(2)));
	ASSERT_ONE_EVENT(kq, kev(p[0], EVFILT_READ, EV_ADD | EV_ONESHOT, 0, 0, U(2)));
	ASSERT_GONE(kq, p[0], EVFILT_READ);
	/* With 3 bytes, EV_CLEAR: data 3. */
	ASSERT_EQ(3, write(p[1], "abc", 3));
	kq_change(_metadata, kq, kev(p[0], EVFILT_READ, EV_ADD | EV_CLEAR, 0, 0, U(1)));
	ASSERT_ONE_EVENT(kq, kev(p[0], EVFILT_READ, EV_ADD | EV_CLEAR, 0, 3, U(1)));
	ASSERT_NO_EVENT(kq);
	kq_change(_metadata, kq, kev(p[0], EVFILT_READ, EV_FORCEONESHOT, 0, 0, U(2)));
	ASSERT_ONE_EVENT(kq, kev(p[0], EVFILT_READ, EV_ADD | EV_CLEAR | EV_ONESHOT, 0, 3, U(2)));
	ASSERT_GONE(kq, p[0], EVFILT_READ);
	/* WRITE on a full pipe: data 0. */
	while (write(p[1], kq_test_buf, 4096) > 0)
		room++;
	ASSERT_EQ(EAGAIN, errno);
	ASSERT_LT(0, room);
	kq_change(_metadata, kq, kev(p[1], EVFILT_WRITE, EV_ADD, 0, 0, U(1)));
	ASSERT_NO_EVENT(kq);
	kq_change(_metadata, kq, kev(p[1], EVFILT_WRITE, EV_FORCEONESHOT, 0, 0, U(2)));
	ASSERT_ONE_EVENT(kq, kev(p[1], EVFILT_WRITE, EV_ADD | EV_ONESHOT, 0, 0, U(2)));
	ASSERT_GONE(kq, p[1], EVFILT_WRITE);
	/* READ after a hang-up: EV_EOF, as the filter reports it. */
	close(p[1]);
	kq_change(_metadata, kq, kev(p[0], EVFILT_READ, EV_ADD | EV_DISPATCH, 0, 0, U(1)));
	{
		struct kevent ev[2];

		ASSERT_EQ(1, kq_poll(kq, ev, 2));
		ASSERT_EQ(EV_ADD | EV_DISPATCH | EV_EOF, ev[0].flags);
		kq_change(_metadata, kq, kev(p[0], EVFILT_READ, EV_FORCEONESHOT | EV_ENABLE, 0, 0,
					     U(2)));
		ASSERT_ONE_EVENT(kq, kev(p[0], EVFILT_READ,
					 EV_ADD | EV_DISPATCH | EV_ONESHOT | EV_EOF, 0, ev[0].data,
					 U(2)));
	}
	ASSERT_GONE(kq, p[0], EVFILT_READ);
	close(p[0]);
	close(kq);
}

TEST(proc_filter)
{
	int kq = kq_new(_metadata), st;
	struct kid k;

	watchdog(30);
	kid_spawn(_metadata, &k, kid_server, NULL);
	proc_watch(_metadata, kq, k.pid, NOTE_EXIT | NOTE_FORK, U(1));
	ASSERT_NO_EVENT(kq);
	kq_change(_metadata, kq, kev(k.pid, EVFILT_PROC, EV_FORCEONESHOT, NOTE_EXIT | NOTE_FORK, 0,
				     U(2)));
	ASSERT_ONE_EVENT(kq, kev(k.pid, EVFILT_PROC, EV_ADD | EV_CLEAR | EV_ONESHOT, 0, 0, U(2)));
	ASSERT_GONE(kq, k.pid, EVFILT_PROC);
	/* Nothing of it is left to report the exit. */
	kid_send(_metadata, &k, 'x');
	kid_close(&k);
	st = proc_reap(k.pid, 10000);
	ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ASSERT_NO_EVENT(kq);
	close(kq);
}

TEST(signal_filter)
{
	int kq = kq_new(_metadata);

	signal(SIGUSR1, SIG_IGN);
	kq_change(_metadata, kq, kev(SIGUSR1, EVFILT_SIGNAL, EV_ADD, 0, 0, U(1)));
	ASSERT_NO_EVENT(kq);
	kq_change(_metadata, kq, kev(SIGUSR1, EVFILT_SIGNAL, EV_FORCEONESHOT, 0, 0, U(2)));
	ASSERT_ONE_EVENT(kq, kev(SIGUSR1, EVFILT_SIGNAL, EV_ADD | EV_CLEAR | EV_ONESHOT, 0, 0,
				 U(2)));
	ASSERT_GONE(kq, SIGUSR1, EVFILT_SIGNAL);
	ASSERT_EQ(0, kill(getpid(), SIGUSR1));
	ASSERT_NO_EVENT(kq);
	/* A count already made is reported. */
	kq_change(_metadata, kq, kev(SIGUSR1, EVFILT_SIGNAL, EV_ADD | EV_DISABLE, 0, 0, U(1)));
	ASSERT_EQ(0, kill(getpid(), SIGUSR1));
	ASSERT_EQ(0, kill(getpid(), SIGUSR1));
	kq_change(_metadata, kq, kev(SIGUSR1, EVFILT_SIGNAL, EV_FORCEONESHOT | EV_ENABLE, 0, 0,
				     U(3)));
	ASSERT_ONE_EVENT(kq, kev(SIGUSR1, EVFILT_SIGNAL, EV_ADD | EV_CLEAR | EV_ONESHOT, 0, 2,
				 U(3)));
	ASSERT_GONE(kq, SIGUSR1, EVFILT_SIGNAL);
	signal(SIGUSR1, SIG_DFL);
	close(kq);
}

TEST(timer_filter)
{
	int kq = kq_new(_metadata);

	/* An hour: no expiry during the test. fflags are the registration's. */
	kq_change(_metadata, kq, kev(5, EVFILT_TIMER, EV_ADD, NOTE_SECONDS, 3600, U(1)));
	ASSERT_NO_EVENT(kq);
	kq_change(_metadata, kq, kev(5, EVFILT_TIMER, EV_FORCEONESHOT, 0, 0, U(2)));
	ASSERT_ONE_EVENT(kq, kev(5, EVFILT_TIMER, EV_ADD | EV_CLEAR | EV_ONESHOT, NOTE_SECONDS, 0,
				 U(2)));
	ASSERT_GONE(kq, 5, EVFILT_TIMER);
	/* A 1 ms timer forced: reported once, and then it never fires again. */
	kq_change(_metadata, kq, kev(6, EVFILT_TIMER, EV_ADD, 0, 1, U(1)));
	kq_change(_metadata, kq, kev(6, EVFILT_TIMER, EV_FORCEONESHOT, 0, 0, U(2)));
	{
		struct kevent ev[2];

		ASSERT_EQ(1, kq_poll(kq, ev, 2));
		ASSERT_EQ(6, ev[0].ident);
		ASSERT_EQ(EV_ADD | EV_CLEAR | EV_ONESHOT, ev[0].flags);
		ASSERT_EQ(U(2), ev[0].udata);
	}
	ASSERT_GONE(kq, 6, EVFILT_TIMER);
	ASSERT_QUIET(kq, 20);
	close(kq);
}

TEST(vnode_filter)
{
	char path[64];
	int kq = kq_new(_metadata), fd;

	snprintf(path, sizeof(path), "/tmp/kq-force-%d", getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ASSERT_LE(0, fd);
	kq_change(_metadata, kq, kev(fd, EVFILT_VNODE, EV_ADD, NOTE_WRITE | NOTE_ATTRIB, 0, U(1)));
	ASSERT_NO_EVENT(kq);
	/* Its EV_CLEAR is not shown, as for every vnode event. */
	kq_change(_metadata, kq, kev(fd, EVFILT_VNODE, EV_FORCEONESHOT, 0, 0, U(2)));
	ASSERT_ONE_EVENT(kq, kev(fd, EVFILT_VNODE, EV_ADD | EV_ONESHOT, 0, 0, U(2)));
	ASSERT_GONE(kq, fd, EVFILT_VNODE);
	ASSERT_EQ(1, write(fd, "x", 1));
	ASSERT_NO_EVENT(kq);
	/* A note already seen is reported. */
	kq_change(_metadata, kq, kev(fd, EVFILT_VNODE, EV_ADD | EV_DISABLE, NOTE_WRITE, 0, U(1)));
	ASSERT_EQ(1, write(fd, "y", 1));
	kq_change(_metadata, kq, kev(fd, EVFILT_VNODE, EV_FORCEONESHOT | EV_ENABLE, 0, 0, U(3)));
	ASSERT_ONE_EVENT(kq, kev(fd, EVFILT_VNODE, EV_ADD | EV_ONESHOT, NOTE_WRITE, 0, U(3)));
	ASSERT_GONE(kq, fd, EVFILT_VNODE);
	close(fd);
	unlink(path);
	close(kq);
}

/* ---- EV_KEEPUDATA ------------------------------------------------------ */

TEST(keepudata_keeps_udata)
{
	int kq = kq_new(_metadata), p[2];

	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD, 0, 0, U(1)));
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_KEEPUDATA, NOTE_TRIGGER, 0, U(2)));
	ASSERT_ONE_EVENT(kq, user_ev(1, EV_ADD, 0, 0, U(1)));
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_DISABLE | EV_KEEPUDATA, 0, 0, U(3)));
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ENABLE | EV_KEEPUDATA, 0, 0, U(4)));
	ASSERT_ONE_EVENT(kq, user_ev(1, EV_ADD, 0, 0, U(1)));
	/* Without it, a change sets udata. */
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ENABLE, 0, 0, U(5)));
	ASSERT_ONE_EVENT(kq, user_ev(1, EV_ADD, 0, 0, U(5)));
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_FORCEONESHOT | EV_KEEPUDATA, 0, 0, U(6)));
	ASSERT_ONE_EVENT(kq, user_ev(1, EV_ADD | EV_ONESHOT, 0, 0, U(5)));
	/* A descriptor knote. */
	make_pipe(_metadata, p);
	ASSERT_EQ(1, write(p[1], "x", 1));
	kq_change(_metadata, kq, kev(p[0], EVFILT_READ, EV_ADD, 0, 0, U(7)));
	kq_change(_metadata, kq, kev(p[0], EVFILT_READ, EV_DISABLE | EV_KEEPUDATA, 0, 0, NULL));
	ASSERT_NO_EVENT(kq);
	kq_change(_metadata, kq, kev(p[0], EVFILT_READ, EV_ENABLE | EV_KEEPUDATA, 0, 0, NULL));
	ASSERT_ONE_EVENT(kq, kev(p[0], EVFILT_READ, EV_ADD, 0, 1, U(7)));
	/* EV_DELETE with it deletes. */
	kq_change(_metadata, kq, kev(p[0], EVFILT_READ, EV_DELETE | EV_KEEPUDATA, 0, 0, NULL));
	ASSERT_NO_EVENT(kq);
	close(p[0]);
	close(p[1]);
	close(kq);
}

/* FreeBSD: EV_ADD|EV_KEEPUDATA is EINVAL, whether the knote exists or not. */
TEST(keepudata_with_add_einval)
{
	int kq = kq_new(_metadata);

	ASSERT_CHANGE_ERR(kq, kev(1, EVFILT_USER, EV_ADD | EV_KEEPUDATA, 0, 0, U(1)), EINVAL);
	ASSERT_GONE(kq, 1, EVFILT_USER);
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD, 0, 0, U(1)));
	ASSERT_CHANGE_ERR(kq, kev(1, EVFILT_USER, EV_ADD | EV_KEEPUDATA, NOTE_TRIGGER, 0, U(2)),
			  EINVAL);
	ASSERT_NO_EVENT(kq);
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_KEEPUDATA, NOTE_TRIGGER, 0, U(3)));
	ASSERT_ONE_EVENT(kq, user_ev(1, EV_ADD, 0, 0, U(1)));
	ASSERT_CHANGE_ERR(kq, kev(2, EVFILT_USER, EV_KEEPUDATA, 0, 0, U(1)), ENOENT);
	close(kq);
}

/* ---- races: exactly one thread gets the forced event, and it is gone ---- */

/*
 * Rounds of: EV_ADD a level-triggered READ knote on a readable pipe (udata
 * round*4 + 1), which collector threads keep reporting, holding it in flux
 * on the queue while they poll the pipe; then EV_FORCEONESHOT with udata
 * round*4 + 2. Exactly one forced event per round, and once a collector has
 * it the knote is gone. With @disabler another thread keeps disabling and
 * enabling the knote (with EV_KEEPUDATA) meanwhile.
 */
#define RACE_MS		3000
#define MAX_ROUNDS	(1 << 15)
#define COLLECTORS	2

struct force_race {
	int kq, rfd;
	unsigned short regflags;
	atomic_int round;	/* the round in progress, -1 at the end */
	atomic_int stop;
	atomic_int forced[MAX_ROUNDS];
	/* results */
	atomic_long polls, level_events, toggles;
	int bad_ret, bad_errno, bad_event;
	struct kevent bad_ev;
};

static void *force_collector(void *arg)
{
	struct force_race *r = arg;
	struct kevent ev[4];
	int n, i;

	while (!atomic_load(&r->stop)) {
		memset(ev, 0, sizeof(ev));
		n = kevent(r->kq, NULL, 0, ev, 4, &ts_zero);
		if (n < 0 || n > 1) {
			r->bad_ret = n;
			r->bad_errno = errno;
			break;
		}
		atomic_fetch_add(&r->polls, 1);
		for (i = 0; i < n; i++) {
			uintptr_t u = (uintptr_t)ev[i].udata, round = u / 4;
			int forced = u % 4 == 2;
			unsigned short want = r->regflags | (forced ? EV_ONESHOT : 0);

			if (ev[i].ident != (uintptr_t)r->rfd || ev[i].filter != EVFILT_READ ||
			    ev[i].flags != want || ev[i].fflags != 0 || ev[i].data != 1 ||
			    (u % 4 != 1 && !forced) || round >= MAX_ROUNDS) {
				r->bad_ev = ev[i];
				r->bad_event = 1;
				continue;
			}
			if (forced)
				atomic_fetch_add(&r->forced[round], 1);
			else
				atomic_fetch_add(&r->level_events, 1);
		}
	}
	return NULL;
}

static void *force_disabler(void *arg)
{
	struct force_race *r = arg;
	struct kevent c;
	int i = 0;

	while (!atomic_load(&r->stop)) {
		c = kev(r->rfd, EVFILT_READ, (i++ & 1 ? EV_ENABLE : EV_DISABLE) | EV_KEEPUDATA, 0, 0,
			NULL);
		/* ENOENT once the forced event took the knote. */
		if (kevent(r->kq, &c, 1, NULL, 0, NULL) && errno != ENOENT) {
			r->bad_ret = -1;
			r->bad_errno = errno;
			break;
		}
		atomic_fetch_add(&r->toggles, 1);
		spin_ns((long)((unsigned int)i * 7919u % 20000u));
	}
	return NULL;
}

static void force_race(struct __test_metadata *_metadata, unsigned short regflags, int disabler)
{
	static struct force_race r;
	pthread_t t[COLLECTORS + 1];
	int p[2], round, nthreads = COLLECTORS + !!disabler, i, waited, gone;
	unsigned int seed = 1;
	int64_t end, t0;
	struct kevent c, out;

	watchdog(RACE_MS / 1000 + 60);
	memset(&r, 0, sizeof(r));
	r.regflags = regflags;
	make_pipe(_metadata, p);
	ASSERT_EQ(1, write(p[1], "x", 1));
	r.kq = kq_new(_metadata);
	r.rfd = p[0];
	for (i = 0; i < COLLECTORS; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, force_collector, &r));
	if (disabler)
		ASSERT_EQ(0, pthread_create(&t[COLLECTORS], NULL, force_disabler, &r));

	end = now_ms() + RACE_MS;
	for (round = 0; round < MAX_ROUNDS && now_ms() < end; round++) {
		kq_change(_metadata, r.kq, kev(p[0], EVFILT_READ, regflags, 0, 0,
					       U(round * 4 + 1)));
		spin_ns(rand_r(&seed) % 200000);
		kq_change(_metadata, r.kq, kev(p[0], EVFILT_READ, EV_FORCEONESHOT, 0, 0,
					       U(round * 4 + 2)));
		/* Collected within 5 s (a disabler may hold it back a moment). */
		t0 = now_ms();
		while (!atomic_load(&r.forced[round]) && now_ms() - t0 < 5000 && !r.bad_ret)
			sched_yield();
		waited = (int)(now_ms() - t0);
		ASSERT_EQ(0, r.bad_ret) TH_LOG("round %d: a thread got %d (errno %d)", round,
					       r.bad_ret, r.bad_errno);
		ASSERT_LT(0, atomic_load(&r.forced[round]))
			TH_LOG("round %d: forced event not collected in %d ms", round, waited);
		/* The delivery deleted it: a change without EV_ADD finds nothing. */
		c = kev(p[0], EVFILT_READ, EV_ENABLE | EV_KEEPUDATA, 0, 0, NULL);
		memset(&out, 0, sizeof(out));
		gone = kevent(r.kq, &c, 1, &out, 1, &ts_zero) == 1 && out.data == ENOENT;
		ASSERT_TRUE(gone)
			TH_LOG("round %d: knote still there after its forced event (%d so far)",
			       round, atomic_load(&r.forced[round]));
	}
	/* Give a late second delivery the time to show. */
	sleep_ms(100);
	atomic_store(&r.stop, 1);
	for (i = 0; i < nthreads; i++)
		ASSERT_EQ(0, join_within(t[i], NULL, 10000)) TH_LOG("thread %d stuck", i);
	TH_LOG("%d rounds, %ld polls, %ld level events, %ld toggles", round,
	       atomic_load(&r.polls), atomic_load(&r.level_events), atomic_load(&r.toggles));
	ASSERT_EQ(0, r.bad_ret) TH_LOG("a thread got %d (errno %d)", r.bad_ret, r.bad_errno);
	{
		char b[160];

		ASSERT_EQ(0, r.bad_event) TH_LOG("wrong event %s", kev_str(&r.bad_ev, b, sizeof(b)));
	}
	for (i = 0; i < round; i++)
		ASSERT_EQ(1, atomic_load(&r.forced[i])) TH_LOG("round %d of %d: forced event "
							      "collected %d times", i, round,
							      atomic_load(&r.forced[i]));
	ASSERT_LT(10, round) TH_LOG("only %d rounds", round);
	ASSERT_NO_EVENT(r.kq);
	close(r.kq);
	close(p[0]);
	close(p[1]);
}

TEST(force_while_collecting_level)
{
	force_race(_metadata, EV_ADD, 0);
}

TEST(force_while_collecting_clear)
{
	force_race(_metadata, EV_ADD | EV_CLEAR, 0);
}

TEST(force_while_disabling)
{
	force_race(_metadata, EV_ADD, 1);
}

/*
 * An untriggered EVFILT_USER knote forced while WAITERS threads wait for
 * it in kevent(): one of them gets it, once.
 */
#define WAITERS 4
#define WAIT_ROUNDS 200

struct waiter_race {
	int kq;
	atomic_int got[WAIT_ROUNDS];
	atomic_int stop;
	int bad;
	struct kevent bad_ev;
};

static void *force_waiter(void *arg)
{
	struct waiter_race *w = arg;
	static const struct timespec ts = { 0, 50000000 };
	struct kevent ev[2];
	int n;

	while (!atomic_load(&w->stop)) {
		n = kevent(w->kq, NULL, 0, ev, 2, &ts);
		if (n == 1 && ev[0].ident == 1 && ev[0].flags == (EV_ADD | EV_ONESHOT) &&
		    (uintptr_t)ev[0].udata < WAIT_ROUNDS) {
			atomic_fetch_add(&w->got[(uintptr_t)ev[0].udata], 1);
		} else if (n != 0 && !(n < 0 && errno == EINTR)) {
			w->bad = n;
			if (n > 0)
				w->bad_ev = ev[0];
			break;
		}
	}
	return NULL;
}

TEST(force_one_of_many_waiters)
{
	static struct waiter_race w;
	pthread_t t[WAITERS];
	int i, round;
	int64_t t0;

	watchdog(120);
	memset(&w, 0, sizeof(w));
	w.kq = kq_new(_metadata);
	for (i = 0; i < WAITERS; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, force_waiter, &w));
	for (round = 0; round < WAIT_ROUNDS; round++) {
		kq_change(_metadata, w.kq, kev(1, EVFILT_USER, EV_ADD, 0, 0, U(round)));
		spin_ns((long)((unsigned int)round * 7919u % 500000u));
		kq_change(_metadata, w.kq, kev(1, EVFILT_USER, EV_FORCEONESHOT, 0, 0, U(round)));
		t0 = now_ms();
		while (!atomic_load(&w.got[round]) && now_ms() - t0 < 5000 && !w.bad)
			sched_yield();
		ASSERT_EQ(0, w.bad);
		ASSERT_LT(0, atomic_load(&w.got[round])) TH_LOG("round %d: not collected", round);
	}
	sleep_ms(100);
	atomic_store(&w.stop, 1);
	for (i = 0; i < WAITERS; i++)
		ASSERT_EQ(0, join_within(t[i], NULL, 10000));
	{
		char b[160];

		ASSERT_EQ(0, w.bad) TH_LOG("kevent %d: %s", w.bad, kev_str(&w.bad_ev, b, sizeof(b)));
	}
	for (round = 0; round < WAIT_ROUNDS; round++)
		ASSERT_EQ(1, atomic_load(&w.got[round])) TH_LOG("round %d", round);
	close(w.kq);
}

TEST_HARNESS_MAIN
