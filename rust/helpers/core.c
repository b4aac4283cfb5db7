// SPDX-License-Identifier: GPL-2.0
/*
 * C glue of the kqueue core (rust/glue.rs, rust/poll.rs, rust/tracepoint.rs,
 * rust/filter/timer.rs): irq-safe spinlocks, file and fd table counts, timer
 * slack, wait-queue hooks and wake-ups, and what else is inline or a macro
 * in C. See helpers.h.
 */

#include <linux/fdtable.h>
#include <linux/fs.h>
#include <linux/hrtimer.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/spinlock.h>
#include <linux/tracepoint.h>
#include <linux/wait.h>
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

/* Ordered between the loads around it (Kqueue::flush takes a snapshot). */
long kq_file_count(struct file *file)
{
	long count;

	smp_rmb();
	count = file_count(file);
	smp_rmb();
	return count;
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

__poll_t kq_vfs_poll(struct file *file, poll_table *pt)
{
	return vfs_poll(file, pt);
}

/*
 * POLLFREE: the queue is about to be freed (after an RCU grace period).
 * Called from the wake callback, with the queue's lock held; as in
 * fs/eventpoll.c, unhook and publish that the head is gone.
 */
void kq_wait_pollfree(struct wait_queue_entry *entry, struct wait_queue_head **headp)
{
	list_del_init(&entry->entry);
	smp_store_release(headp, NULL);
}

/*
 * Wake a kqueue's pollers, maybe from inside another queue's wake-up (a
 * kqueue watching a kqueue): the nesting level is the lockdep subclass, and
 * *level tells callbacks run from here which level they are at, as
 * ep_poll_safewake() does with ep->nests.
 */
void kq_wake_nested(struct wait_queue_head *head, __poll_t key, int subclass, int *level)
{
	unsigned long flags;

	if (!wq_has_sleeper(head))
		return;
	spin_lock_irqsave_nested(&head->lock, flags, subclass);
	WRITE_ONCE(*level, subclass + 1);
	wake_up_locked_poll(head, key);
	WRITE_ONCE(*level, 0);
	spin_unlock_irqrestore(&head->lock, flags);
}

/* Wake @head's waiters, if it has any (wq_has_sleeper() orders the check). */
void kq_wake_if_waiters(struct wait_queue_head *head, __poll_t key)
{
	if (wq_has_sleeper(head))
		wake_up_poll(head, key);
}

bool kq_hrtimer_queued(struct hrtimer *timer)
{
	return hrtimer_is_queued(timer);
}

void kq_tracepoint_sync(void)
{
	tracepoint_synchronize_unregister();
}
