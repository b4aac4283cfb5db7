// SPDX-License-Identifier: GPL-2.0
/*
 * C glue of EVFILT_PROC and EVFILT_PROCDESC (rust/filter/proc.rs) and
 * EVFILT_SIGNAL (rust/filter/signal.rs): pids, tasks, credentials and
 * pidfds. See helpers.h.
 */

#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/pid.h>
#include <linux/pid_namespace.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/user_namespace.h>
#include <uapi/linux/magic.h>
#include <uapi/linux/pidfd.h>
#include "helpers.h"

bool kq_pid_is_process(struct pid *pid)
{
	return pid_has_task(pid, PIDTYPE_TGID);
}

struct pid *kq_get_pid(struct pid *pid)
{
	return get_pid(pid);
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
