// SPDX-License-Identifier: GPL-2.0
/*
 * C glue for user memory (rust/glue.rs): blocks of u64 words read and
 * written in one user-access window, which the kernel crate's UserSlice
 * cannot open. See helpers.h.
 */

#include <linux/uaccess.h>
#include "helpers.h"

/*
 * Read @words u64 words from user @src in one user-access window: the
 * argument block, a timeout or one change, which copy_from_user (an
 * out-of-line call and a fence per copy) makes a large part of a kevent().
 */
static __always_inline int kq_get_words(u64 *dst, const void __user *src, unsigned int words)
{
	const u64 __user *p = src;
	unsigned int i;

	if (!user_read_access_begin(p, words * sizeof(u64)))
		return -EFAULT;
	for (i = 0; i < words; i++)
		unsafe_get_user(dst[i], &p[i], efault);
	user_read_access_end();
	return 0;
efault:
	user_read_access_end();
	return -EFAULT;
}

int kq_read_user_words(u64 *dst, const void __user *src, unsigned int words)
{
	return kq_get_words(dst, src, words);
}

/*
 * A block of @words words at @src and, if its word @ptr_word is a user
 * pointer, the @pwords words it points to (a kevent() call's arguments and
 * timeout), in one call. Returns -EFAULT if the block cannot be read, 1 if
 * only the pointee cannot (the caller checks the block first), else 0.
 */
int kq_read_user_words_and_pointee(u64 *dst, const void __user *src, unsigned int words,
				   unsigned int ptr_word, u64 *pdst, unsigned int pwords)
{
	const void __user *p;

	if (kq_get_words(dst, src, words))
		return -EFAULT;
	p = u64_to_user_ptr(dst[ptr_word]);
	if (p && kq_get_words(pdst, p, pwords))
		return 1;
	return 0;
}

/* Write @words u64 words to user @dst in one user-access window (events). */
int kq_write_user_words(void __user *dst, const u64 *src, unsigned int words)
{
	u64 __user *p = dst;
	unsigned int i;

	if (!user_write_access_begin(p, words * sizeof(u64)))
		return -EFAULT;
	for (i = 0; i < words; i++)
		unsafe_put_user(src[i], &p[i], efault);
	user_write_access_end();
	return 0;
efault:
	user_write_access_end();
	return -EFAULT;
}
