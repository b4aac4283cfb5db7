/* SPDX-License-Identifier: GPL-2.0 */
/*
 * C glue for what Rust cannot reach directly: kernel helpers that are
 * static inline functions or macros.  Declared again in rust/glue.rs.
 */
#ifndef KQUEUE_HELPERS_H
#define KQUEUE_HELPERS_H

#include <linux/fs.h>
#include <linux/spinlock.h>

unsigned long kq_spin_lock_irqsave(spinlock_t *lock);
void kq_spin_unlock_irqrestore(spinlock_t *lock, unsigned long flags);
long kq_file_count(struct file *file);
bool kq_files_shared(void);
u64 kq_timer_slack_ns(void);

#endif
