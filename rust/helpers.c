// SPDX-License-Identifier: GPL-2.0
/* C glue for rust/glue.rs; see helpers.h. */

#include <linux/eventfd.h>
#include <linux/fdtable.h>
#include <linux/fsnotify_backend.h>
#include <linux/net.h>
#include <linux/pid_namespace.h>
#include <linux/pipe_fs_i.h>
#include <uapi/linux/pidfd.h>
#include <linux/cred.h>
#include <linux/sched/signal.h>
#include <linux/tracepoint.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/udp.h>
#include <net/af_unix.h>
#include <net/sock.h>
#include <net/tcp.h>
#include <uapi/linux/magic.h>
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

	if (!wq_has_sleeper(head))
		return;
	spin_lock_irqsave_nested(&head->lock, flags, subclass);
	WRITE_ONCE(*level, subclass + 1);
	wake_up_locked_poll(head, key);
	WRITE_ONCE(*level, 0);
	spin_unlock_irqrestore(&head->lock, flags);
}

/* Whether descriptor @fd of the current task still names @file. */
static bool kq_fd_is(unsigned int fd, struct file *file)
{
	bool same;

	rcu_read_lock();
	same = files_lookup_fd_raw(current->files, fd) == file;
	rcu_read_unlock();
	return same;
}

/*
 * Whether descriptor @fd of fd table @owner no longer names @file (closed,
 * maybe reused). Only the owner's threads can tell; other tasks get false.
 */
bool kq_fd_stale(unsigned long owner, unsigned int fd, struct file *file)
{
	return (unsigned long)current->files == owner && !kq_fd_is(fd, file);
}

unsigned long kq_current_files(void)
{
	return (unsigned long)current->files;
}

/*
 * The first word of bitmap @ours, from word @from on, that names descriptors
 * the current task no longer has open: returns its index (@nwords if none)
 * and those descriptors' bits in *@gone.
 *
 * Every descriptor below files->next_fd is open: alloc_fd() moves next_fd
 * past the lowest free descriptor it takes, and __put_unused_fd(), which
 * every close goes through, lowers it to the descriptor closed. So the
 * search starts at the word of next_fd; above it, it skips 4096 descriptors
 * at a time where the fd table's summary says they are all open (close()
 * clears the summary bit under file_lock before it returns). A close racing
 * with the read of next_fd is a close racing with this kevent() call.
 */
unsigned int kq_closed_word(const unsigned long *ours, unsigned int nwords, unsigned int from,
			    unsigned long *gone)
{
	const unsigned long *open, *full;
	unsigned int i = from, end, block_end;
	struct fdtable *fdt;

	rcu_read_lock();
	fdt = files_fdtable(current->files);
	i = max(i, READ_ONCE(current->files->next_fd) / BITS_PER_LONG);
	open = fdt->open_fds;
	full = fdt->full_fds_bits;
	end = min(nwords, fdt->max_fds / BITS_PER_LONG);
	/* Words the table has, a block of BITS_PER_LONG words at a time. */
	while (i < end) {
		block_end = min(end, round_down(i, BITS_PER_LONG) + BITS_PER_LONG);
		if (i % BITS_PER_LONG == 0 && block_end == i + BITS_PER_LONG &&
		    READ_ONCE(full[i / BITS_PER_LONG]) == ~0UL) {
			i = block_end;
			continue;
		}
		for (; i < block_end; i++) {
			*gone = ours[i] & ~READ_ONCE(open[i]);
			if (*gone)
				goto out;
		}
	}
	/* Beyond the table nothing is open. */
	for (; i < nwords; i++) {
		*gone = ours[i];
		if (*gone)
			break;
	}
out:
	rcu_read_unlock();
	return i;
}

/* Wake @head's waiters, if it has any (wq_has_sleeper() orders the check). */
void kq_wake_if_waiters(struct wait_queue_head *head, __poll_t key)
{
	if (wq_has_sleeper(head))
		wake_up_poll(head, key);
}

/* Bytes buffered in a pipe or FIFO (@write: room left for writing). */
static long long kq_pipe_data(struct pipe_inode_info *pipe, bool write)
{
	unsigned int head, tail, used;
	long long n = 0;

	/*
	 * The room needs only head and tail, read without the mutex as
	 * pipe_poll() does. Buffered bytes walk the ring, which F_SETPIPE_SZ
	 * replaces (and frees) under the mutex: take it for that.
	 */
	if (write) {
		unsigned int max = READ_ONCE(pipe->max_usage);

		/* No reader: EV_EOF, and no room to speak of (FreeBSD's pipe filter) */
		if (!READ_ONCE(pipe->readers))
			return 0;

		head = READ_ONCE(pipe->head);
		tail = READ_ONCE(pipe->tail);
		used = pipe_occupancy(head, tail);
		if (used < max)
			n = (long long)(max - used) * PAGE_SIZE;
		return n;
	}
	mutex_lock(&pipe->mutex);	/* pipe_lock() without its extra call */
	for (head = pipe->head, tail = pipe->tail; tail != head; tail++)
		n += pipe_buf(pipe, tail)->len;
	mutex_unlock(&pipe->mutex);
	return n;
}

/*
 * FreeBSD's socket filter data: bytes readable (a listening socket: its
 * accept queue length) or send-buffer space; *err gets a pending error.
 */
static long long kq_queue_bytes(struct sk_buff_head *queue)
{
	struct sk_buff *skb;
	unsigned long flags;
	long long n = 0;

	spin_lock_irqsave(&queue->lock, flags);
	skb_queue_walk(queue, skb)
		n += skb->len;
	spin_unlock_irqrestore(&queue->lock, flags);
	return n;
}

static long long kq_sock_data(struct sock *sk, bool write, int *err)
{
	bool is_unix = sk->sk_family == AF_UNIX;
	long long n;

	*err = READ_ONCE(sk->sk_err);
	if (write) {
		n = READ_ONCE(sk->sk_sndbuf) -
		    (sk_is_tcp(sk) ? READ_ONCE(sk->sk_wmem_queued) :
				     refcount_read(&sk->sk_wmem_alloc));
		return n > 0 ? n : 0;
	}
	if (READ_ONCE(sk->sk_state) == TCP_LISTEN)
		/* af_unix queues embryo connections on the listener itself */
		return is_unix ? skb_queue_len(&sk->sk_receive_queue) :
				 READ_ONCE(sk->sk_ack_backlog);
	if (is_unix && sk->sk_type == SOCK_STREAM)
		return READ_ONCE(unix_sk(sk)->inq_len); /* net of partial reads */
#if IS_ENABLED(CONFIG_INET)
	if (sk_is_tcp(sk))
		return tcp_inq(sk);
	if (sk_is_udp(sk))
		/* udp_poll() moves datagrams to the reader queue */
		return kq_queue_bytes(&sk->sk_receive_queue) +
		       kq_queue_bytes(&udp_sk(sk)->reader_queue);
#endif
	return kq_queue_bytes(&sk->sk_receive_queue);
}

/*
 * The counter of eventfd @file (FreeBSD's eventfd filter reports it as READ
 * data), or -1 if @file is no eventfd. struct eventfd_ctx is private to
 * fs/eventfd.c, and reading the counter through exported calls would consume
 * it: take it from the file's fdinfo, the one place the kernel shows it.
 */
static long long kq_eventfd_count(struct file *file)
{
#ifdef CONFIG_EVENTFD
	char buf[96] = "";
	struct seq_file m = { .buf = buf, .size = sizeof(buf) - 1 };
	struct eventfd_ctx *ctx;
	unsigned long long cnt;

	if (!file->f_op->show_fdinfo)
		return -1;
	ctx = eventfd_ctx_fileget(file);
	if (IS_ERR(ctx))
		return -1;
	eventfd_ctx_put(ctx);	/* @file holds it */
	file->f_op->show_fdinfo(&m, file);
	if (sscanf(buf, "eventfd-count: %llx", &cnt) != 1)
		return -1;
	return min_t(unsigned long long, cnt, LLONG_MAX);
#else
	return -1;
#endif
}

bool kq_file_is_pipe(struct file *file)
{
	struct inode *inode = file_inode(file);

	return S_ISFIFO(inode->i_mode) && inode->i_pipe;
}

/*
 * Whether @file has the side a descriptor filter watches: 0, or -EINVAL
 * (what FreeBSD's kqfilter methods answer for a filter a file lacks).
 * READ and WRITE: any file. EMPTY: a pipe or FIFO open for writing, a TCP,
 * UDP or AF_UNIX socket (those whose draining wakes their wait queue or is
 * watched otherwise, see kq_empty_data). EXCEPT: any socket.
 */
int kq_fd_filter_check(struct file *file, unsigned int side)
{
	struct socket *sock;
	struct sock *sk;

	if (side == KQ_READ || side == KQ_WRITE)
		return 0;
	if (side == KQ_EMPTY && kq_file_is_pipe(file))
		return (file->f_mode & FMODE_WRITE) ? 0 : -EINVAL;
	sock = sock_from_file(file);
	sk = sock ? sock->sk : NULL;
	if (!sk)
		return -EINVAL;
	if (side == KQ_EXCEPT)
		return 0;
	if (sk->sk_family == AF_UNIX)
		return 0;
#if IS_ENABLED(CONFIG_INET)
	if (sk_is_tcp(sk) || sk_is_udp(sk))
		return 0;
#endif
	return -EINVAL;
}

#if IS_ENABLED(CONFIG_INET)
/* TCP bytes not acknowledged yet (SIOCOUTQ); none while listening, connecting or closed. */
static long long kq_tcp_unacked(struct sock *sk)
{
	const struct tcp_sock *tp = tcp_sk(sk);

	switch (READ_ONCE(sk->sk_state)) {
	case TCP_LISTEN:
	case TCP_SYN_SENT:
	case TCP_SYN_RECV:
	case TCP_CLOSE:
		/* closed: a reset purged the queue (FreeBSD drops it at disconnect) */
		return 0;
	}
	return (u32)(READ_ONCE(tp->write_seq) - READ_ONCE(tp->snd_una));
}
#endif

/*
 * EVFILT_EMPTY data of @file: bytes on its write side not drained yet, -1
 * if it has none (kq_fd_filter_check refused it). *err = 1 if a pipe has
 * no reader left, which will never drain it.
 *
 * A pipe: bytes not read. The reader that empties a pipe wakes its writers
 * only if the pipe was full: the knote also watches the pipe's reads through
 * fsnotify (Source::PipeRead), and this runs after the read that fired it.
 *
 * TCP: bytes not acknowledged (FreeBSD's send buffer keeps them until then).
 * An ACK wakes the writers only if one asked for room (tcp_check_space()):
 * ask the same way tcp_poll() does, SOCK_NOSPACE and a full barrier before
 * the second look, paired with the one in tcp_check_space() after snd_una
 * moved. The wake-up clears the bit; the scan it causes sets it again while
 * bytes remain.
 *
 * Other sockets: bytes charged to the send buffer, i.e. not consumed by the
 * peer yet (AF_UNIX) or not transmitted yet (UDP), whose release wakes the
 * writers (sock_wfree()). sock_wfree() keeps one unit of the charge until
 * after that wake-up, so less than one sk_buff's worth counts as nothing.
 */
static long long kq_empty_data(struct file *file, int *err)
{
	struct inode *inode = file_inode(file);
	struct socket *sock;
	struct sock *sk;
	long long n;

	if (S_ISFIFO(inode->i_mode) && inode->i_pipe) {
		*err = !READ_ONCE(inode->i_pipe->readers);
		return kq_pipe_data(inode->i_pipe, false);
	}
	sock = sock_from_file(file);
	sk = sock ? sock->sk : NULL;
	if (!sk)
		return -1;
#if IS_ENABLED(CONFIG_INET)
	if (sk_is_tcp(sk)) {
		n = kq_tcp_unacked(sk);
		if (n) {
			set_bit(SOCK_NOSPACE, &sock->flags);
			smp_mb__after_atomic();
			n = kq_tcp_unacked(sk);
		}
		return n;
	}
#endif
	n = refcount_read(&sk->sk_wmem_alloc) - 1;
	return n < (long long)sizeof(struct sk_buff) ? 0 : n;
}

/*
 * EVFILT_EXCEPT data of @file: on TCP with urgent data pending, the bytes
 * of ordinary data before its mark (0 at the mark, BSD's so_oobmark); 0
 * otherwise; -1 for no socket.
 */
static long long kq_except_data(struct file *file)
{
	struct socket *sock = sock_from_file(file);
	struct sock *sk = sock ? sock->sk : NULL;

	if (!sk)
		return -1;
#if IS_ENABLED(CONFIG_INET)
	if (sk_is_tcp(sk)) {
		const struct tcp_sock *tp = tcp_sk(sk);
		s32 before;

		if (!(READ_ONCE(tp->urg_data) & TCP_URG_VALID))
			return 0;
		before = READ_ONCE(tp->urg_seq) - READ_ONCE(tp->copied_seq);
		return max(before, 0);
	}
#endif
	return 0;
}

/*
 * The data of a descriptor knote on @file watching @side (enum kq_side)
 * where the kernel can tell, -1 otherwise: READ and WRITE as FreeBSD's
 * filters measure it (kq_pipe_data, kq_sock_data, ...), EMPTY and EXCEPT
 * as kq_empty_data and kq_except_data. May sleep (pipe mutex).
 */
static __always_inline long long __kq_file_data(struct file *file, unsigned int side, int *err)
{
	struct inode *inode = file_inode(file);
	struct socket *sock;
	bool write = side == KQ_WRITE;

	*err = 0;
	if (unlikely(side > KQ_WRITE))
		return side == KQ_EMPTY ? kq_empty_data(file, err) : kq_except_data(file);
	if (S_ISREG(inode->i_mode))
		return write ? -1 : i_size_read(inode) - READ_ONCE(file->f_pos);
	if (S_ISFIFO(inode->i_mode) && inode->i_pipe)
		return kq_pipe_data(inode->i_pipe, write);
	sock = sock_from_file(file);
	if (sock && sock->sk)
		return kq_sock_data(sock->sk, write, err);
	if (!write)
		return kq_eventfd_count(file);
	return -1;
}

/* __kq_file_data() out of line, for measuring outside a scan. */
long long kq_file_data(struct file *file, unsigned int side, int *err)
{
	return __kq_file_data(file, side, err);
}

/*
 * Phase 2 of a scan for a descriptor knote, in one call: -1 if descriptor
 * @fd of fd table @owner no longer names @file (only the owner's threads can
 * tell; other tasks go on), else @file's poll mask, with its data in *data
 * (-1: unknown) and *err as kq_file_data.
 */
int kq_poll_held(unsigned long owner, unsigned int fd, struct file *file, unsigned int side,
		 long long *data, int *err)
{
	if (kq_fd_stale(owner, fd, file))
		return -1;
	*data = __kq_file_data(file, side, err);
	return vfs_poll(file, NULL);
}

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

bool kq_hrtimer_queued(struct hrtimer *timer)
{
	return hrtimer_is_queued(timer);
}

/*
 * EVFILT_VNODE through fsnotify (rust/filter/vnode.rs). The fsnotify
 * structures and ops are not in the Rust bindings, so the group and the
 * marks are handled here; what an event means is decided in Rust.
 *
 * One group for the module (marks of many knotes may sit on one inode:
 * FSNOTIFY_GROUP_DUPS), one mark per knote. The mark pins the inode, not
 * its dentry, so it never delays the deletion of a file (fsnotify destroys
 * it when the inode goes). @kn is the knote to report to, under @lock:
 * detaching clears it, so that a handler still running under fsnotify's
 * SRCU afterwards never reaches the knote. The mark itself is freed by
 * fsnotify's reaper after an SRCU grace period (free_mark).
 */
struct kq_vnode {
	struct fsnotify_mark mark;
	spinlock_t lock;
	void *kn;
	struct inode *inode;	/* compared only; pinned while attached */
	unsigned int nlink;	/* link count and size seen at the last event */
	loff_t size;
	u32 access;		/* the KQ_VNODE_ACCESS events the knote asks for */
};

static struct fsnotify_group *kq_vnode_group;
static kq_vnode_event_fn kq_vnode_report;

/* The fsnotify events EVFILT_VNODE maps to NOTE_* flags. */
#define KQ_VNODE_MASK (FS_MODIFY | FS_ATTRIB | FS_MOVED_FROM | FS_MOVED_TO | \
		       FS_CREATE | FS_DELETE | FS_DELETE_SELF | FS_MOVE_SELF | \
		       FS_UNMOUNT | KQ_VNODE_ACCESS)
/* Opens, closes and reads: reported only to knotes that ask for them. */
#define KQ_VNODE_ACCESS (FS_ACCESS | FS_OPEN | FS_CLOSE_WRITE | FS_CLOSE_NOWRITE)

static void kq_vnode_call(struct kq_vnode *v, u32 mask)
{
	unsigned int nlink;
	loff_t size;

	spin_lock(&v->lock);
	if (v->kn) {
		nlink = READ_ONCE(v->inode->i_nlink);
		size = i_size_read(v->inode);
		kq_vnode_report(v->kn, mask, v->nlink, nlink, v->size, size,
				S_ISDIR(v->inode->i_mode));
		v->nlink = nlink;
		v->size = size;
	}
	spin_unlock(&v->lock);
}

static int kq_vnode_handle(struct fsnotify_mark *mark, u32 mask, struct inode *inode,
			   struct inode *dir, const struct qstr *name, u32 cookie)
{
	struct kq_vnode *v = container_of(mark, struct kq_vnode, mark);

	/* Every read of a watched file comes here: drop the unwanted ones cheaply. */
	if (!(mask & ~KQ_VNODE_ACCESS) && !(mask & READ_ONCE(v->access)))
		return 0;
	kq_vnode_call(v, mask);
	return 0;
}

/* The mark goes away: our detach (kn already NULL), or the inode is gone. */
static void kq_vnode_freeing(struct fsnotify_mark *mark, struct fsnotify_group *group)
{
	struct kq_vnode *v = container_of(mark, struct kq_vnode, mark);

	spin_lock(&v->lock);
	if (v->kn)
		kq_vnode_report(v->kn, FS_IN_IGNORED, v->nlink, v->nlink, v->size,
				v->size, false);
	v->kn = NULL;
	spin_unlock(&v->lock);
}

static void kq_vnode_free(struct fsnotify_mark *mark)
{
	kfree(container_of(mark, struct kq_vnode, mark));
}

static const struct fsnotify_ops kq_vnode_ops = {
	.handle_inode_event = kq_vnode_handle,
	.freeing_mark = kq_vnode_freeing,
	.free_mark = kq_vnode_free,
};

int kq_vnode_init(kq_vnode_event_fn report)
{
	struct fsnotify_group *group;

	group = fsnotify_alloc_group(&kq_vnode_ops, FSNOTIFY_GROUP_DUPS);
	if (IS_ERR(group))
		return PTR_ERR(group);
	kq_vnode_report = report;
	kq_vnode_group = group;
	return 0;
}

/* Module exit: every knote is gone; wait for the reaper to free their marks. */
void kq_vnode_exit(void)
{
	fsnotify_wait_marks_destroyed();
	fsnotify_put_group(kq_vnode_group);
}

struct kq_vnode *kq_vnode_new(void)
{
	struct kq_vnode *v = kzalloc_obj(struct kq_vnode, GFP_KERNEL_ACCOUNT);

	if (!v)
		return NULL;
	fsnotify_init_mark(&v->mark, kq_vnode_group);
	v->mark.mask = KQ_VNODE_MASK;
	spin_lock_init(&v->lock);
	return v;
}

/* Watch @file's inode for knote @kn. */
int kq_vnode_attach(struct kq_vnode *v, struct file *file, void *kn)
{
	struct inode *inode = file_inode(file);

	/* Files and directories only: a pipe or socket is EINVAL (FreeBSD, libkqueue) */
	if (!S_ISREG(inode->i_mode) && !S_ISDIR(inode->i_mode))
		return -EINVAL;
	v->inode = inode;
	v->nlink = READ_ONCE(inode->i_nlink);
	v->size = i_size_read(inode);
	v->kn = kn;
	return fsnotify_add_inode_mark(&v->mark, inode, 0);
}

/*
 * Watch the reads of pipe or FIFO @file for EVFILT_EMPTY knote @kn: the
 * same mark, asking for FS_ACCESS only (read(2), readv, splice, io_uring
 * reads all send it once the data is consumed; pipes keep these legacy
 * events, see create_pipe_files()).
 */
int kq_vnode_attach_pipe(struct kq_vnode *v, struct file *file, void *kn)
{
	struct inode *inode = file_inode(file);

	if (!kq_file_is_pipe(file))
		return -EINVAL;
	v->mark.mask = FS_ACCESS;
	v->access = FS_ACCESS;
	v->inode = inode;
	v->nlink = READ_ONCE(inode->i_nlink);
	v->size = i_size_read(inode);
	v->kn = kn;
	return fsnotify_add_inode_mark(&v->mark, inode, 0);
}

/* Stop reporting to the knote; when this returns no handler uses it. */
void kq_vnode_detach(struct kq_vnode *v)
{
	spin_lock(&v->lock);
	v->kn = NULL;
	spin_unlock(&v->lock);
	fsnotify_destroy_mark(&v->mark, kq_vnode_group);
}

/* The opens, closes and reads (fsnotify bits) the knote asks for, from now on. */
void kq_vnode_ask(struct kq_vnode *v, u32 access)
{
	WRITE_ONCE(v->access, access & KQ_VNODE_ACCESS);
}

/* Drop the reference of kq_vnode_new(). */
void kq_vnode_put(struct kq_vnode *v)
{
	fsnotify_put_mark(&v->mark);
}

/* Whether descriptor @fd of the current task is open on another inode. */
bool kq_vnode_fd_moved(struct kq_vnode *v, unsigned int fd)
{
	struct file *file;
	bool moved;

	rcu_read_lock();
	file = files_lookup_fd_raw(current->files, fd);
	moved = file && file_inode(file) != v->inode;
	rcu_read_unlock();
	return moved;
}

/* EVFILT_PROC (rust/filter/proc.rs). */

void kq_tracepoint_sync(void)
{
	tracepoint_synchronize_unregister();
}

struct pid *kq_task_tgid(struct task_struct *task)
{
	return task_tgid(task);
}

/* A new task from fork/clone that is a process, not a thread. */
bool kq_task_is_process(struct task_struct *task)
{
	return thread_group_leader(task);
}

bool kq_pid_is_process(struct pid *pid)
{
	return pid_has_task(pid, PIDTYPE_TGID);
}

struct pid *kq_get_pid(struct pid *pid)
{
	return get_pid(pid);
}

struct pid_namespace *kq_current_pid_ns(void)
{
	return get_pid_ns(task_active_pid_ns(current));
}

struct pid_namespace *kq_get_pid_ns(struct pid_namespace *ns)
{
	return get_pid_ns(ns);
}

/*
 * Whether the process of @pid can be reaped: 1 with its wait(2) status in
 * *status (what wait_task_zombie reports), 0 while it runs, -ESRCH once it
 * is gone. Reapable is what pidfd_poll calls readable.
 */
int kq_proc_exit_status(struct pid *pid, int *status)
{
	struct task_struct *task;
	int ret = 0;

	rcu_read_lock();
	task = pid_task(pid, PIDTYPE_PID);
	if (!task) {
		ret = -ESRCH;
	} else if (task->exit_state && !delay_group_leader(task)) {
		*status = (task->signal->flags & SIGNAL_GROUP_EXIT) ?
			  task->signal->group_exit_code : task->exit_code;
		ret = 1;
	}
	rcu_read_unlock();
	return ret;
}

/*
 * The process of pidfd @file, counted; NULL if @file is no pidfd, or one of a
 * thread (PIDFD_THREAD). pidfd_pid() is not exported: every file of the pidfs
 * superblock is a pidfd, and its inode's i_private is the struct pid.
 */
struct pid *kq_pidfd_pid(struct file *file)
{
	struct inode *inode = file_inode(file);

	if (inode->i_sb->s_magic != PID_FS_MAGIC || (file->f_flags & PIDFD_THREAD))
		return NULL;
	return get_pid(inode->i_private);
}

/*
 * Whether current may watch the process of @pid when watching is restricted:
 * the same user (the kill(2) rule) or CAP_SYS_PTRACE over its user namespace.
 */
bool kq_may_watch(struct pid *pid)
{
	const struct cred *cred = current_cred(), *tcred;
	struct user_namespace *ns;
	struct task_struct *task;
	bool ok;

	rcu_read_lock();
	task = pid_task(pid, PIDTYPE_TGID);
	if (!task) {
		rcu_read_unlock();
		return false;
	}
	tcred = __task_cred(task);
	ok = uid_eq(cred->euid, tcred->suid) || uid_eq(cred->euid, tcred->uid) ||
	     uid_eq(cred->uid, tcred->suid) || uid_eq(cred->uid, tcred->uid);
	ns = get_user_ns(tcred->user_ns);
	rcu_read_unlock();
	if (!ok)
		ok = ns_capable(ns, CAP_SYS_PTRACE);
	put_user_ns(ns);
	return ok;
}
