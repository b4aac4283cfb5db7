// SPDX-License-Identifier: GPL-2.0
/*
 * C glue of descriptor knotes (rust/glue.rs, rust/filter/fd.rs): whether a
 * descriptor still names its file, which descriptors were closed, and the
 * data of EVFILT_READ, WRITE, EMPTY and EXCEPT as pipes, sockets, eventfds
 * and regular files measure it. See helpers.h.
 */

#include <linux/eventfd.h>
#include <linux/fdtable.h>
#include <linux/fs.h>
#include <linux/net.h>
#include <linux/pipe_fs_i.h>
#include <linux/poll.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/udp.h>
#include <net/af_unix.h>
#include <net/sock.h>
#include <net/tcp.h>
#include "helpers.h"

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
	unsigned long g = 0;

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
		/* In a local: *gone might alias the bitmaps, a store per word. */
		for (; i < block_end; i++) {
			g = ours[i] & ~READ_ONCE(open[i]);
			if (g)
				goto out;
		}
	}
	/* Beyond the table nothing is open. */
	for (; i < nwords; i++) {
		g = ours[i];
		if (g)
			break;
	}
out:
	rcu_read_unlock();
	*gone = g;
	return i;
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
 * fsnotify (fd::PipeRead), and this runs after the read that fired it.
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
