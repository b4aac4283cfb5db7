// SPDX-License-Identifier: GPL-2.0
/*
 * kqdemo: the smallest useful kqueue program.
 *
 * Registers two EVFILT_USER events (one EV_CLEAR, one EV_ONESHOT), lets a
 * second thread trigger them, and prints what kevent() returns. Exits 0 when
 * everything arrived as BSD kqueue semantics say it should.
 *
 *   cc -o kqdemo kqdemo.c $(pkg-config --cflags --libs libkqueue) -pthread
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/event.h>
#include <time.h>
#include <unistd.h>

static int kq;
static int failed;

static void check(int ok, const char *what)
{
	printf("  %-52s %s\n", what, ok ? "ok" : "FAILED");
	if (!ok)
		failed = 1;
}

static const char *filter_name(short filter)
{
	return filter == EVFILT_USER ? "EVFILT_USER" : "?";
}

static const char *flags_str(unsigned short flags, char *buf, size_t len)
{
	static const struct { unsigned short bit; const char *name; } names[] = {
		{ EV_ADD, "EV_ADD" }, { EV_DELETE, "EV_DELETE" },
		{ EV_ENABLE, "EV_ENABLE" }, { EV_DISABLE, "EV_DISABLE" },
		{ EV_ONESHOT, "EV_ONESHOT" }, { EV_CLEAR, "EV_CLEAR" },
		{ EV_RECEIPT, "EV_RECEIPT" }, { EV_DISPATCH, "EV_DISPATCH" },
		{ EV_FLAG1, "EV_FLAG1" }, { EV_ERROR, "EV_ERROR" },
		{ EV_EOF, "EV_EOF" },
	};
	size_t i, n = 0;

	buf[0] = '\0';
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (flags & names[i].bit)
			n += snprintf(buf + n, n < len ? len - n : 0, "%s%s",
				      n ? "|" : "", names[i].name);
	return n ? buf : "0";
}

static void print_event(const struct kevent *ev)
{
	char flags[128];

	printf("  event: ident=%lu filter=%s flags=%s fflags=0x%x data=%ld udata=%s\n",
	       (unsigned long)ev->ident, filter_name(ev->filter),
	       flags_str(ev->flags, flags, sizeof(flags)), ev->fflags,
	       (long)ev->data, ev->udata ? (const char *)ev->udata : "NULL");
}

/* The second thread: fires both events, with different fflags. */
static void *trigger(void *arg)
{
	struct kevent ch[2];

	(void)arg;
	usleep(100 * 1000);	/* let main() block in kevent() first */
	/* A change to an existing event also replaces its udata (as on BSD). */
	EV_SET(&ch[0], 1, EVFILT_USER, 0, NOTE_TRIGGER | NOTE_FFOR | 0x11, 0, "first");
	EV_SET(&ch[1], 2, EVFILT_USER, 0, NOTE_TRIGGER | NOTE_FFCOPY | 0x22, 0, "second");
	if (kevent(kq, ch, 2, NULL, 0, NULL) < 0)
		perror("kqdemo: trigger: kevent");
	return NULL;
}

int main(void)
{
	const struct timespec wait = { .tv_sec = 10 }, poll = { 0 };
	struct kevent ch[2], ev[4];
	int seen_first = 0, seen_second = 0;
	pthread_t thread;
	int i, n;

	setvbuf(stdout, NULL, _IOLBF, 0);
	kq = kqueue();
	if (kq < 0) {
		perror("kqdemo: kqueue (is kqueue.ko loaded?)");
		return 1;
	}
	printf("kqdemo: kqueue fd %d\n", kq);

	/* Register both; EV_RECEIPT answers each change with an EV_ERROR entry, data 0. */
	EV_SET(&ch[0], 1, EVFILT_USER, EV_ADD | EV_CLEAR | EV_RECEIPT, 0, 0, "first");
	EV_SET(&ch[1], 2, EVFILT_USER, EV_ADD | EV_ONESHOT | EV_RECEIPT, 0, 0, "second");
	n = kevent(kq, ch, 2, ev, 4, NULL);
	printf("kqdemo: registered, %d receipts\n", n);
	for (i = 0; i < n; i++)
		print_event(&ev[i]);
	check(n == 2 && (ev[0].flags & EV_ERROR) && ev[0].data == 0 &&
	      (ev[1].flags & EV_ERROR) && ev[1].data == 0, "both registrations succeeded");

	if (pthread_create(&thread, NULL, trigger, NULL) != 0) {
		fprintf(stderr, "kqdemo: pthread_create failed\n");
		return 1;
	}

	printf("kqdemo: waiting for the other thread to trigger them\n");
	while (!(seen_first && seen_second)) {
		n = kevent(kq, NULL, 0, ev, 4, &wait);
		if (n < 0) {
			perror("kqdemo: kevent");
			return 1;
		}
		if (n == 0) {
			printf("kqdemo: timed out after 10s\n");
			failed = 1;
			break;
		}
		for (i = 0; i < n; i++) {
			print_event(&ev[i]);
			if (ev[i].ident == 1 && ev[i].fflags == 0x11)
				seen_first = 1;
			if (ev[i].ident == 2 && ev[i].fflags == 0x22)
				seen_second = 1;
		}
	}
	pthread_join(thread, NULL);
	check(seen_first, "event 1 arrived with fflags 0x11 (NOTE_FFOR)");
	check(seen_second, "event 2 arrived with fflags 0x22 (NOTE_FFCOPY)");

	n = kevent(kq, NULL, 0, ev, 4, &poll);
	check(n == 0, "nothing pending: EV_CLEAR reset 1, EV_ONESHOT ate 2");

	EV_SET(&ch[0], 2, EVFILT_USER, EV_DELETE, 0, 0, NULL);
	n = kevent(kq, ch, 1, NULL, 0, NULL);
	check(n < 0 && errno == ENOENT, "deleting the one-shot event: ENOENT");
	EV_SET(&ch[0], 1, EVFILT_USER, EV_DELETE, 0, 0, NULL);
	check(kevent(kq, ch, 1, NULL, 0, NULL) == 0, "deleting event 1");

	close(kq);
	printf("kqdemo: %s\n", failed ? "FAILED" : "all good");
	return failed;
}
