/* SPDX-License-Identifier: GPL-2.0 */
/* Helpers shared by kqbench and procbench. */
#ifndef KQ_BENCH_H
#define KQ_BENCH_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

#endif
