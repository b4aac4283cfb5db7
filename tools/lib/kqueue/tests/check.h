/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/* A tiny assertion counter for the library's C tests. */
#ifndef KQUEUE_TESTS_CHECK_H
#define KQUEUE_TESTS_CHECK_H

#include <errno.h>
#include <stdio.h>

static int passed, failed;

#define CHECK(cond) do {						\
	if (cond) {							\
		passed++;						\
	} else {							\
		failed++;						\
		printf("FAIL %s:%d: %s (errno %d)\n", __FILE__,	\
		       __LINE__, #cond, errno);				\
	}								\
} while (0)

#endif
