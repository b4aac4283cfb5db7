/* SPDX-License-Identifier: GPL-2.0 */
/*
 * C glue for what Rust cannot reach directly: kernel helpers that are
 * static inline functions or macros, and structures the Rust bindings do
 * not carry. One section per C file of this directory; declared for Rust
 * once, in rust/ffi.rs.
 */
#ifndef KQUEUE_HELPERS_H
#define KQUEUE_HELPERS_H

#include <linux/fs.h>
#include <linux/hrtimer.h>
#include <linux/poll.h>
#include <linux/spinlock.h>
#include <linux/wait.h>

/* core.c: locks, counts, wait-queue hooks, wake-ups. */
unsigned long kq_spin_lock_irqsave(spinlock_t *lock);
void kq_spin_unlock_irqrestore(spinlock_t *lock, unsigned long flags);
long kq_file_count(struct file *file);
bool kq_files_shared(void);
u64 kq_timer_slack_ns(void);
__poll_t kq_vfs_poll(struct file *file, poll_table *pt);
void kq_wait_pollfree(struct wait_queue_entry *entry, struct wait_queue_head **headp);
void kq_wake_nested(struct wait_queue_head *head, __poll_t key, int subclass, int *level);
void kq_wake_if_waiters(struct wait_queue_head *head, __poll_t key);
bool kq_hrtimer_queued(struct hrtimer *timer);
void kq_tracepoint_sync(void);

/* fd.c: descriptor checks and the data of descriptor knotes. */
bool kq_fd_stale(unsigned long owner, unsigned int fd, struct file *file);
unsigned long kq_current_files(void);
unsigned int kq_closed_word(const unsigned long *ours, unsigned int nwords, unsigned int from,
			    unsigned long *gone);
/* What kq_file_data() measures: the side a descriptor filter watches (fd.rs Side). */
enum kq_side { KQ_READ, KQ_WRITE, KQ_EMPTY, KQ_EXCEPT };
long long kq_file_data(struct file *file, unsigned int side, int *err);
int kq_fd_filter_check(struct file *file, unsigned int side);
bool kq_file_is_pipe(struct file *file);
int kq_poll_held(unsigned long owner, unsigned int fd, struct file *file, unsigned int side,
		 long long *data, int *err);

/* uaccess.c: user copies of u64 words. */
int kq_read_user_words(u64 *dst, const void __user *src, unsigned int words);
int kq_read_user_words_and_pointee(u64 *dst, const void __user *src, unsigned int words,
				   unsigned int ptr_word, u64 *pdst, unsigned int pwords);
int kq_write_user_words(void __user *dst, const u64 *src, unsigned int words);

/* vnode.c: EVFILT_VNODE's fsnotify group and marks. */
struct kq_vnode;
typedef void (*kq_vnode_event_fn)(void *kn, u32 mask, unsigned int nlink_before,
				  unsigned int nlink, loff_t size_before, loff_t size,
				  bool dir);
int kq_vnode_init(kq_vnode_event_fn report);
void kq_vnode_exit(void);
struct kq_vnode *kq_vnode_new(void);
int kq_vnode_attach(struct kq_vnode *v, struct file *file, void *kn);
int kq_vnode_attach_pipe(struct kq_vnode *v, struct file *file, void *kn);
void kq_vnode_detach(struct kq_vnode *v);
void kq_vnode_ask(struct kq_vnode *v, u32 access);
void kq_vnode_put(struct kq_vnode *v);
bool kq_vnode_fd_moved(struct kq_vnode *v, unsigned int fd);

/* proc.c: pids, tasks and pidfds (EVFILT_PROC, EVFILT_PROCDESC, EVFILT_SIGNAL). */
struct pid;
bool kq_pid_is_process(struct pid *pid);
struct pid *kq_get_pid(struct pid *pid);
int kq_proc_exit_status(struct pid *pid, int *status);
struct pid *kq_pidfd_pid(struct file *file);
bool kq_may_watch(struct pid *pid);

#endif
