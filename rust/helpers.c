// SPDX-License-Identifier: GPL-2.0
/* C glue for rust/glue.rs; see helpers.h. */

#include <linux/fdtable.h>
#include <linux/rcupdate.h>
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

__poll_t kq_vfs_poll(struct file *file, poll_table *pt)
{
	return vfs_poll(file, pt);
}

void kq_init_poll_table(poll_table *pt, poll_queue_proc qproc)
{
	init_poll_funcptr(pt, qproc);
}

void kq_init_wait_func(struct wait_queue_entry *entry, wait_queue_func_t func, void *private)
{
	init_waitqueue_func_entry(entry, func);
	entry->private = private;
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

/* Unhook an entry, unless POLLFREE already did (see ep_remove_wait_queue). */
void kq_wait_remove(struct wait_queue_entry *entry, struct wait_queue_head **headp)
{
	struct wait_queue_head *head;

	rcu_read_lock();
	head = smp_load_acquire(headp);
	if (head)
		remove_wait_queue(head, entry);
	rcu_read_unlock();
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

	spin_lock_irqsave_nested(&head->lock, flags, subclass);
	WRITE_ONCE(*level, subclass + 1);
	wake_up_locked_poll(head, key);
	WRITE_ONCE(*level, 0);
	spin_unlock_irqrestore(&head->lock, flags);
}

/* Whether descriptor @fd of the current task still names @file. */
bool kq_fd_is(unsigned int fd, struct file *file)
{
	bool same;

	rcu_read_lock();
	same = files_lookup_fd_raw(current->files, fd) == file;
	rcu_read_unlock();
	return same;
}

bool kq_file_is_regular(struct file *file)
{
	return S_ISREG(file_inode(file)->i_mode);
}

/* Bytes from the file position to EOF (FreeBSD's EVFILT_READ data for vnodes). */
long long kq_file_remaining(struct file *file)
{
	return i_size_read(file_inode(file)) - READ_ONCE(file->f_pos);
}

unsigned long kq_current_files(void)
{
	return (unsigned long)current->files;
}

/*
 * Word @i of the current task's open-descriptor bitmap; a word past the
 * table's end reads as all closed.
 */
unsigned long kq_open_fds_word(unsigned int i)
{
	struct fdtable *fdt;
	unsigned long word = 0;

	rcu_read_lock();
	fdt = files_fdtable(current->files);
	if (i < fdt->max_fds / BITS_PER_LONG)
		word = READ_ONCE(fdt->open_fds[i]);
	rcu_read_unlock();
	return word;
}
