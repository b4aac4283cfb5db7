// SPDX-License-Identifier: GPL-2.0
/* C glue for rust/glue.rs; see helpers.h. */

#include <linux/fdtable.h>
#include <linux/sched.h>
#include "helpers.h"

unsigned long kq_spin_lock_irqsave(spinlock_t *lock)
{
	unsigned long flags;

	spin_lock_irqsave(lock, flags);
	return flags;
}

void kq_spin_unlock_irqrestore(spinlock_t *lock, unsigned long flags)
{
	spin_unlock_irqrestore(lock, flags);
}

long kq_file_count(struct file *file)
{
	return file_count(file);
}

/* Whether fdget() in this task took a file reference (see fs/file.c). */
bool kq_files_shared(void)
{
	return atomic_read(&current->files->count) > 1;
}

u64 kq_timer_slack_ns(void)
{
	return current->timer_slack_ns;
}
