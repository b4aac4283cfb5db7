// SPDX-License-Identifier: GPL-2.0
/* C glue of EVFILT_VNODE (rust/filter/vnode.rs): fsnotify. See helpers.h. */

#include <linux/fdtable.h>
#include <linux/fs.h>
#include <linux/fsnotify_backend.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include "helpers.h"

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
