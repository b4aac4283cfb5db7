// SPDX-License-Identifier: GPL-2.0
/*
 * EVFILT_USER (contract section 3, team decisions): NOTE_TRIGGER, the
 * NOTE_FFNOP/FFAND/FFOR/FFCOPY arithmetic on the low 24 bits, EV_CLEAR,
 * level triggering, EV_DISPATCH, EV_ONESHOT and the order of events.
 *
 * Registrations set their fflags with NOTE_FFCOPY (or FFOR) so the initial
 * value does not depend on how a new knote combines with "nothing".
 */
#include <limits.h>

#include "kqueue_test.h"

#define U(x) ((void *)(uintptr_t)(x))

/* A change on existing user knote @id with @fflags (no flags), udata = @ud. */
static struct kevent uctl(uintptr_t id, unsigned int fflags, void *ud)
{
	return kev(id, EVFILT_USER, 0, fflags, 0, ud);
}

TEST(trigger_missing_enoent)
{
	int kq = kq_new(_metadata);

	ASSERT_CHANGE_ERR(kq, uctl(5, NOTE_TRIGGER, NULL), ENOENT);
	ASSERT_CHANGE_ERR(kq, uctl(5, NOTE_FFOR | 0x1, NULL), ENOENT);
	close(kq);
}

TEST(untriggered_not_returned)
{
	int kq = kq_new(_metadata);

	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD, NOTE_FFCOPY | 0x5, 0, NULL));
	kq_change(_metadata, kq, kev(2, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, NULL));
	ASSERT_NO_EVENT(kq);
	/* changing fflags without NOTE_TRIGGER does not fire */
	kq_change(_metadata, kq, uctl(1, NOTE_FFOR | 0x2, NULL));
	ASSERT_NO_EVENT(kq);
	kq_change(_metadata, kq, uctl(1, NOTE_TRIGGER, NULL));
	ASSERT_ONE_EVENT(kq, user_ev(1, EV_ADD, 0x7, 0, NULL));
	close(kq);
}

TEST(add_with_trigger_fires)
{
	int kq = kq_new(_metadata);

	kq_change(_metadata, kq, kev(9, EVFILT_USER, EV_ADD | EV_CLEAR,
				     NOTE_TRIGGER | NOTE_FFCOPY | 0x42, 3, U(9)));
	ASSERT_ONE_EVENT(kq, user_ev(9, EV_ADD | EV_CLEAR, 0x42, 3, U(9)));
	ASSERT_NO_EVENT(kq);
	close(kq);
}

TEST(fflags_arithmetic)
{
	static const struct {
		unsigned int ctl;
		unsigned int expect;
	} steps[] = {
		{ NOTE_FFOR   | 0x0000ff, 0x00ffff },
		{ NOTE_FFAND  | 0x0f0f0f, 0x000f0f },
		{ NOTE_FFNOP  | 0xabcdef, 0x000f0f },
		{ NOTE_FFOR   | 0x100000, 0x100f0f },
		{ NOTE_FFCOPY | 0x123456, 0x123456 },
		{ NOTE_FFAND  | 0xff00ff, 0x120056 },
		{ NOTE_FFCOPY | 0x000000, 0x000000 },
		{ NOTE_FFOR   | 0xffffff, 0xffffff },
		{ NOTE_FFAND  | 0x000000, 0x000000 },
	};
	int kq = kq_new(_metadata);
	unsigned int i;

	/* level-triggered: once triggered, every poll shows the current fflags */
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD, NOTE_FFCOPY | 0x00ff00, 0, U(1)));
	kq_change(_metadata, kq, uctl(1, NOTE_TRIGGER | NOTE_FFNOP, U(1)));
	ASSERT_ONE_EVENT(kq, user_ev(1, EV_ADD, 0x00ff00, 0, U(1)));
	for (i = 0; i < ARRAY_SIZE(steps); i++) {
		kq_change(_metadata, kq, uctl(1, steps[i].ctl, U(1)));
		ASSERT_ONE_EVENT(kq, user_ev(1, EV_ADD, steps[i].expect, 0, U(1)));
	}
	close(kq);
}

TEST(fflags_with_trigger_in_one_change)
{
	int kq = kq_new(_metadata);

	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD, NOTE_FFCOPY | 0x10, 0, NULL));
	kq_change(_metadata, kq, uctl(1, NOTE_TRIGGER | NOTE_FFOR | 0x3, NULL));
	ASSERT_ONE_EVENT(kq, user_ev(1, EV_ADD, 0x13, 0, NULL));
	kq_change(_metadata, kq, uctl(1, NOTE_TRIGGER | NOTE_FFAND | 0x2, NULL));
	ASSERT_ONE_EVENT(kq, user_ev(1, EV_ADD, 0x2, 0, NULL));
	kq_change(_metadata, kq, uctl(1, NOTE_TRIGGER | NOTE_FFCOPY | 0x800000, NULL));
	ASSERT_ONE_EVENT(kq, user_ev(1, EV_ADD, 0x800000, 0, NULL));
	close(kq);
}

TEST(fflags_mask_truncation)
{
	int kq = kq_new(_metadata);

	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD, 0, 0, NULL));
	/*
	 * Only the low 24 bits (NOTE_FFLAGSMASK) are stored: NOTE_TRIGGER, the
	 * control bits and the unused bits 0x3e000000 never show in fflags.
	 */
	kq_change(_metadata, kq, uctl(1, NOTE_TRIGGER | NOTE_FFCOPY | 0x3e000000 | 0xabcdef, NULL));
	ASSERT_ONE_EVENT(kq, user_ev(1, EV_ADD, 0xabcdef, 0, NULL));
	/* FFOR of nothing but unused bits: no change, still triggered */
	kq_change(_metadata, kq, uctl(1, NOTE_FFOR | 0x3e000000, NULL));
	ASSERT_ONE_EVENT(kq, user_ev(1, EV_ADD, 0xabcdef, 0, NULL));
	close(kq);
}

TEST(clear_resets_state_keeps_fflags)
{
	int kq = kq_new(_metadata);

	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, U(1)));
	kq_change(_metadata, kq, uctl(1, NOTE_TRIGGER | NOTE_FFCOPY | 0x5, U(1)));
	ASSERT_ONE_EVENT(kq, user_ev(1, EV_ADD | EV_CLEAR, 0x5, 0, U(1)));
	/* delivered once: the triggered state is cleared */
	ASSERT_NO_EVENT(kq);
	/* but not the stored fflags (FreeBSD reports kn_sfflags; libkqueue) */
	kq_change(_metadata, kq, uctl(1, NOTE_TRIGGER | NOTE_FFNOP, U(1)));
	ASSERT_ONE_EVENT(kq, user_ev(1, EV_ADD | EV_CLEAR, 0x5, 0, U(1)));
	kq_change(_metadata, kq, uctl(1, NOTE_TRIGGER | NOTE_FFOR | 0x2, U(1)));
	ASSERT_ONE_EVENT(kq, user_ev(1, EV_ADD | EV_CLEAR, 0x7, 0, U(1)));
	ASSERT_NO_EVENT(kq);
	close(kq);
}

/* The case: FFCOPY 0x0f, delivery, then FFOR 0x30 reports 0x3f. */
TEST(clear_keeps_stored_fflags)
{
	int kq = kq_new(_metadata);

	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, U(1)));
	kq_change(_metadata, kq, uctl(1, NOTE_TRIGGER | NOTE_FFCOPY | 0x0f, U(1)));
	ASSERT_ONE_EVENT(kq, kev(1, EVFILT_USER, EV_ADD | EV_CLEAR, 0x0f, 0, U(1)));
	kq_change(_metadata, kq, uctl(1, NOTE_TRIGGER | NOTE_FFOR | 0x30, U(1)));
	ASSERT_ONE_EVENT(kq, kev(1, EVFILT_USER, EV_ADD | EV_CLEAR, 0x3f, 0, U(1)));
	ASSERT_NO_EVENT(kq);
	close(kq);
}

/* Events of EVFILT_USER carry EV_ADD like those of every other filter (libkqueue). */
TEST(events_carry_ev_add)
{
	struct kevent ev[2];
	int kq = kq_new(_metadata);

	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD, 0, 0, U(1)));
	kq_change(_metadata, kq, uctl(1, NOTE_TRIGGER, U(1)));
	memset(ev, 0, sizeof(ev));
	ASSERT_EQ(1, kq_poll(kq, ev, 2));
	ASSERT_EQ(EV_ADD, ev[0].flags);
	ASSERT_KEV(kev(1, EVFILT_USER, EV_ADD, 0, 0, U(1)), &ev[0]);
	close(kq);
}

/*
 * A change with EV_CLEAR (no EV_ADD) untriggers a triggered knote, keeping
 * its fflags (FreeBSD filt_usertouch, EVENT_REGISTER); with NOTE_TRIGGER in
 * the same change the clear comes last.
 */
TEST(clear_change_untriggers)
{
	int kq = kq_new(_metadata);

	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD, NOTE_FFCOPY | 0x3, 0, U(1)));
	kq_change(_metadata, kq, uctl(1, NOTE_TRIGGER, U(1)));
	ASSERT_ONE_EVENT(kq, kev(1, EVFILT_USER, EV_ADD, 0x3, 0, U(1)));
	ASSERT_ONE_EVENT(kq, kev(1, EVFILT_USER, EV_ADD, 0x3, 0, U(1)));
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_CLEAR, 0, 0, U(1)));
	ASSERT_NO_EVENT(kq);
	/* the knote is still level-triggered (EV_CLEAR was no registration) */
	kq_change(_metadata, kq, uctl(1, NOTE_TRIGGER, U(1)));
	ASSERT_ONE_EVENT(kq, kev(1, EVFILT_USER, EV_ADD, 0x3, 0, U(1)));
	ASSERT_ONE_EVENT(kq, kev(1, EVFILT_USER, EV_ADD, 0x3, 0, U(1)));
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_CLEAR, NOTE_TRIGGER, 0, U(1)));
	ASSERT_NO_EVENT(kq);
	close(kq);
}

/*
 * EV_ADD on an existing knote changes udata and fflags/data and enables it,
 * but EV_CLEAR, EV_ONESHOT and EV_DISPATCH stay as the knote was created
 * (kqueue_register in every BSD).
 */
TEST(readd_keeps_mode_flags)
{
	int kq = kq_new(_metadata);

	/* EV_CLEAR stays on without it */
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, U(1)));
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD, NOTE_FFCOPY | 0x4, 0, U(2)));
	kq_change(_metadata, kq, uctl(1, NOTE_TRIGGER, U(3)));
	ASSERT_ONE_EVENT(kq, kev(1, EVFILT_USER, EV_ADD | EV_CLEAR, 0x4, 0, U(3)));
	ASSERT_NO_EVENT(kq);

	/* a level knote does not become EV_ONESHOT or EV_DISPATCH */
	kq_change(_metadata, kq, kev(2, EVFILT_USER, EV_ADD, 0, 0, U(4)));
	kq_change(_metadata, kq, kev(2, EVFILT_USER, EV_ADD | EV_ONESHOT, NOTE_TRIGGER, 5, U(5)));
	kq_change(_metadata, kq, kev(2, EVFILT_USER, EV_ADD | EV_DISPATCH, 0, 6, U(6)));
	ASSERT_ONE_EVENT(kq, kev(2, EVFILT_USER, EV_ADD, 0, 6, U(6)));
	ASSERT_ONE_EVENT(kq, kev(2, EVFILT_USER, EV_ADD, 0, 6, U(6)));
	/* nor EV_CLEAR: that change untriggers it (filt_usertouch), nothing more */
	kq_change(_metadata, kq, kev(2, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 6, U(6)));
	ASSERT_NO_EVENT(kq);
	kq_change(_metadata, kq, uctl(2, NOTE_TRIGGER, U(6)));
	ASSERT_ONE_EVENT(kq, kev(2, EVFILT_USER, EV_ADD, 0, 0, U(6)));
	ASSERT_ONE_EVENT(kq, kev(2, EVFILT_USER, EV_ADD, 0, 0, U(6)));

	/* EV_ADD enables a disabled knote */
	kq_change(_metadata, kq, kev(2, EVFILT_USER, EV_DISABLE, 0, 0, U(6)));
	ASSERT_NO_EVENT(kq);
	kq_change(_metadata, kq, kev(2, EVFILT_USER, EV_ADD, 0, 7, U(7)));
	ASSERT_ONE_EVENT(kq, kev(2, EVFILT_USER, EV_ADD, 0, 7, U(7)));
	close(kq);
}

TEST(triggers_coalesce)
{
	struct kevent ch[3];
	int kq = kq_new(_metadata);

	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, NULL));
	ch[0] = uctl(1, NOTE_TRIGGER | NOTE_FFOR | 0x1, NULL);
	ch[1] = uctl(1, NOTE_TRIGGER | NOTE_FFOR | 0x2, NULL);
	ch[2] = uctl(1, NOTE_TRIGGER | NOTE_FFOR | 0x4, NULL);
	kq_apply(_metadata, kq, ch, 3);
	kq_change(_metadata, kq, uctl(1, NOTE_TRIGGER, NULL));
	ASSERT_ONE_EVENT(kq, user_ev(1, EV_ADD | EV_CLEAR, 0x7, 0, NULL));
	ASSERT_NO_EVENT(kq);
	close(kq);
}

TEST(level_triggered_returned_repeatedly)
{
	int kq = kq_new(_metadata), i;

	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD, NOTE_FFCOPY | 0x9, 4, U(1)));
	kq_change(_metadata, kq, kev(1, EVFILT_USER, 0, NOTE_TRIGGER, 4, U(1)));
	for (i = 0; i < 3; i++)
		ASSERT_ONE_EVENT(kq, user_ev(1, EV_ADD, 0x9, 4, U(1)));
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_DELETE, 0, 0, NULL));
	ASSERT_NO_EVENT(kq);
	close(kq);
}

TEST(dispatch_rearm)
{
	int kq = kq_new(_metadata);

	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD | EV_DISPATCH, 0, 0, U(1)));
	kq_change(_metadata, kq, uctl(1, NOTE_TRIGGER, U(1)));
	ASSERT_ONE_EVENT(kq, user_ev(1, EV_ADD | EV_DISPATCH, 0, 0, U(1)));
	/* disabled after delivery */
	ASSERT_NO_EVENT(kq);
	/* still triggered (no EV_CLEAR): EV_ENABLE re-arms and it fires again */
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ENABLE, 0, 0, U(1)));
	ASSERT_ONE_EVENT(kq, user_ev(1, EV_ADD | EV_DISPATCH, 0, 0, U(1)));
	ASSERT_NO_EVENT(kq);
	/* the knote still exists */
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_DELETE, 0, 0, NULL));
	close(kq);
}

TEST(dispatch_clear_rearm)
{
	const unsigned short reg = EV_ADD | EV_DISPATCH | EV_CLEAR;
	int kq = kq_new(_metadata);

	kq_change(_metadata, kq, kev(1, EVFILT_USER, reg, 0, 0, U(1)));
	kq_change(_metadata, kq, uctl(1, NOTE_TRIGGER | NOTE_FFCOPY | 0x1, U(1)));
	ASSERT_ONE_EVENT(kq, user_ev(1, reg, 0x1, 0, U(1)));
	/* cleared and disabled: enabling alone does not fire */
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ENABLE, 0, 0, U(1)));
	ASSERT_NO_EVENT(kq);
	kq_change(_metadata, kq, uctl(1, NOTE_TRIGGER | NOTE_FFOR | 0x2, U(1)));
	ASSERT_ONE_EVENT(kq, user_ev(1, reg, 0x3, 0, U(1)));
	/* triggered while disabled: held until EV_ENABLE */
	kq_change(_metadata, kq, uctl(1, NOTE_TRIGGER | NOTE_FFOR | 0x4, U(1)));
	ASSERT_NO_EVENT(kq);
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ENABLE, 0, 0, U(1)));
	ASSERT_ONE_EVENT(kq, user_ev(1, reg, 0x7, 0, U(1)));
	ASSERT_NO_EVENT(kq);
	close(kq);
}

TEST(oneshot_deleted_after_delivery)
{
	int kq = kq_new(_metadata);

	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD | EV_ONESHOT, 0, 0, U(1)));
	ASSERT_NO_EVENT(kq);
	kq_change(_metadata, kq, uctl(1, NOTE_TRIGGER | NOTE_FFCOPY | 0x30, U(1)));
	ASSERT_ONE_EVENT(kq, user_ev(1, EV_ADD | EV_ONESHOT, 0x30, 0, U(1)));
	ASSERT_NO_EVENT(kq);
	ASSERT_CHANGE_ERR(kq, kev(1, EVFILT_USER, EV_DELETE, 0, 0, NULL), ENOENT);
	ASSERT_CHANGE_ERR(kq, uctl(1, NOTE_TRIGGER, U(1)), ENOENT);
	close(kq);
}

TEST(oneshot_kept_until_delivered)
{
	int kq = kq_new(_metadata);

	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ADD | EV_ONESHOT, 0, 0, NULL));
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_DISABLE, 0, 0, NULL));
	kq_change(_metadata, kq, uctl(1, NOTE_TRIGGER, NULL));
	ASSERT_NO_EVENT(kq);
	/* not delivered yet, so not deleted */
	kq_change(_metadata, kq, kev(1, EVFILT_USER, EV_ENABLE, 0, 0, NULL));
	ASSERT_ONE_EVENT(kq, user_ev(1, EV_ADD | EV_ONESHOT, 0, 0, NULL));
	ASSERT_CHANGE_ERR(kq, kev(1, EVFILT_USER, EV_DELETE, 0, 0, NULL), ENOENT);
	close(kq);
}

TEST(order_of_events)
{
	static const uintptr_t order[] = { 3, 1, 4, 5, 2 };
	struct kevent ev[8];
	int kq = kq_new(_metadata), n, i;

	for (i = 1; i <= 5; i++)
		kq_change(_metadata, kq, kev(i, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, U(i)));
	for (i = 0; i < 5; i++)
		kq_change(_metadata, kq, uctl(order[i], NOTE_TRIGGER, U(order[i])));
	/* returned in the order they became pending */
	n = kq_poll(kq, ev, 8);
	ASSERT_EQ(5, n);
	for (i = 0; i < 5; i++)
		ASSERT_KEV(user_ev(order[i], EV_ADD | EV_CLEAR, 0, 0, U(order[i])), &ev[i]);

	/* at most nevents per call, the rest stays pending in order */
	kq_change(_metadata, kq, uctl(2, NOTE_TRIGGER, U(2)));
	kq_change(_metadata, kq, uctl(5, NOTE_TRIGGER, U(5)));
	kq_change(_metadata, kq, uctl(1, NOTE_TRIGGER, U(1)));
	n = kq_poll(kq, ev, 2);
	ASSERT_EQ(2, n);
	ASSERT_KEV(user_ev(2, EV_ADD | EV_CLEAR, 0, 0, U(2)), &ev[0]);
	ASSERT_KEV(user_ev(5, EV_ADD | EV_CLEAR, 0, 0, U(5)), &ev[1]);
	ASSERT_ONE_EVENT(kq, user_ev(1, EV_ADD | EV_CLEAR, 0, 0, U(1)));
	close(kq);
}

TEST(extreme_values_roundtrip)
{
	const uintptr_t id = UINTPTR_MAX;
	void *ud = (void *)UINTPTR_MAX;
	int kq = kq_new(_metadata);

	kq_change(_metadata, kq, kev(id, EVFILT_USER, EV_ADD | EV_CLEAR, 0, INTPTR_MIN, ud));
	kq_change(_metadata, kq, kev(0, EVFILT_USER, EV_ADD | EV_CLEAR, 0, INTPTR_MAX, NULL));
	kq_change(_metadata, kq, kev(id, EVFILT_USER, 0, NOTE_TRIGGER, INTPTR_MIN, ud));
	ASSERT_ONE_EVENT(kq, user_ev(id, EV_ADD | EV_CLEAR, 0, INTPTR_MIN, ud));
	kq_change(_metadata, kq, kev(0, EVFILT_USER, 0, NOTE_TRIGGER, INTPTR_MAX, NULL));
	ASSERT_ONE_EVENT(kq, user_ev(0, EV_ADD | EV_CLEAR, 0, INTPTR_MAX, NULL));
	close(kq);
}

TEST(many_knotes)
{
	enum { N = 1000 };
	struct kevent *ch, *ev;
	int kq = kq_new(_metadata), n, i;
	char *seen;

	ch = calloc(N, sizeof(*ch));
	ev = calloc(N + 1, sizeof(*ev));
	seen = calloc(N, 1);
	ASSERT_NE(NULL, ch);
	ASSERT_NE(NULL, ev);
	ASSERT_NE(NULL, seen);
	for (i = 0; i < N; i++)
		ch[i] = kev(i, EVFILT_USER, EV_ADD | EV_ONESHOT, 0, 0, U(i + 1));
	kq_apply(_metadata, kq, ch, N);
	for (i = 0; i < N; i++)
		ch[i] = uctl(i, NOTE_TRIGGER, U(i + 1));
	kq_apply(_metadata, kq, ch, N);
	n = kq_poll(kq, ev, N + 1);
	ASSERT_EQ(N, n);
	for (i = 0; i < N; i++) {
		ASSERT_GT(N, ev[i].ident);
		ASSERT_EQ(0, seen[ev[i].ident]);
		seen[ev[i].ident] = 1;
		ASSERT_KEV(user_ev(ev[i].ident, EV_ADD | EV_ONESHOT, 0, 0, U(ev[i].ident + 1)),
			   &ev[i]);
	}
	ASSERT_NO_EVENT(kq);
	free(ch);
	free(ev);
	free(seen);
	close(kq);
}

TEST_HARNESS_MAIN
