// SPDX-License-Identifier: GPL-2.0
/*
 * A QEMU TCG plugin for make bench-insns (insn-bench.sh): counts how often
 * each translated block runs, and writes the counts out each time the
 * guest runs the block at address marker=ADDR, which ends a phase:
 *
 *   OUT/phase-<i>.txt   one line per block run in phase i:
 *                       "<guest address, hex> <instructions> <runs>"
 *
 * A block's instructions times its runs is what it executed. Counts are
 * exact for a given guest and do not depend on the host's speed. Run the
 * guest with one CPU (-smp 1): phases are counted for the whole machine.
 *
 *   qemu-system-x86_64 -plugin insn-plugin.so,marker=0x401ad0,out=DIR ...
 *
 * Debian ships no qemu-plugin.h, so the few functions of QEMU's plugin API
 * (version 1, QEMU 7.2; unchanged since) used here are declared below.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS };
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb, qemu_plugin_vcpu_udata_cb_t cb,
					  enum qemu_plugin_cb_flags flags, void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

/* A block as translated: where, how long, how often it ran this phase. */
struct block {
	uint64_t vaddr;
	uint64_t insns;
	uint64_t runs;
};

/* Open-addressing table of blocks by (address, length); QEMU may translate a block again. */
#define TABLE_BITS	22
#define TABLE_SIZE	(1u << TABLE_BITS)
static struct block *table[TABLE_SIZE];
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t marker;
static const char *out = ".";
static int phase;

/* Writes the phase's counts and starts the next phase. Under table_lock. */
static void end_phase(void)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/phase-%d.txt", out, phase++);
	f = fopen(path, "w");
	if (!f) {
		perror(path);
		exit(1);
	}
	for (size_t i = 0; i < TABLE_SIZE; i++) {
		struct block *b = table[i];

		if (!b || !b->runs)
			continue;
		fprintf(f, "%" PRIx64 " %" PRIu64 " %" PRIu64 "\n", b->vaddr, b->insns, b->runs);
		b->runs = 0;
	}
	fclose(f);
}

static void block_ran(unsigned int vcpu, void *data)
{
	struct block *b = data;

	__atomic_fetch_add(&b->runs, 1, __ATOMIC_RELAXED);
	if (b->vaddr == marker) {
		pthread_mutex_lock(&table_lock);
		end_phase();
		pthread_mutex_unlock(&table_lock);
	}
}

static void block_translated(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	uint64_t vaddr = qemu_plugin_tb_vaddr(tb), insns = qemu_plugin_tb_n_insns(tb);
	size_t i = ((vaddr ^ (insns << 48)) * 0x9E3779B97F4A7C15ull) >> (64 - TABLE_BITS);
	struct block *b;

	pthread_mutex_lock(&table_lock);
	for (; (b = table[i]); i = (i + 1) % TABLE_SIZE)
		if (b->vaddr == vaddr && b->insns == insns)
			break;
	if (!b) {
		b = calloc(1, sizeof(*b));
		if (!b) {
			perror("insn-plugin");
			exit(1);
		}
		b->vaddr = vaddr;
		b->insns = insns;
		table[i] = b;
	}
	pthread_mutex_unlock(&table_lock);
	qemu_plugin_register_vcpu_tb_exec_cb(tb, block_ran, QEMU_PLUGIN_CB_NO_REGS, b);
}

static void at_exit(qemu_plugin_id_t id, void *data)
{
	pthread_mutex_lock(&table_lock);
	end_phase();
	pthread_mutex_unlock(&table_lock);
}

__attribute__((visibility("default")))
int qemu_plugin_install(qemu_plugin_id_t id, const void *info, int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		if (!strncmp(argv[i], "marker=", 7))
			marker = strtoull(argv[i] + 7, NULL, 0);
		else if (!strncmp(argv[i], "out=", 4))
			out = strdup(argv[i] + 4);	/* QEMU frees argv */
	}
	if (!marker) {
		fprintf(stderr, "insn-plugin: marker=ADDR is required\n");
		return -1;
	}
	qemu_plugin_register_vcpu_tb_trans_cb(id, block_translated);
	qemu_plugin_register_atexit_cb(id, at_exit, NULL);
	return 0;
}
