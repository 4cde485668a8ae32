// SPDX-License-Identifier: GPL-2.0
/*
 * vmt_witness: the second, independent witness of a Linux guest's process lifecycle (issue 15), and the
 * hyperupcall registration path an unmodified Linux lacks (docs/hyperupcalls.md "On Linux").
 *
 * It attaches to the scheduler tracepoints sched_process_fork, sched_process_exec, sched_process_exit and
 * sched_switch (not exported to modules: found by name with for_each_kernel_tracepoint) and reports each
 * event to vmtrace: it fills a 64-byte struct vmt_witness_event and writes its physical address with a
 * 32-bit OUT to the witness port (docs/machine.md "Kernel-module witness (0x518)"). Under another
 * hypervisor the OUT goes to an unclaimed port and does nothing.
 *
 * Loading order: the four probes are registered first and report nothing until a START event (kind 0) is
 * sent, so the report begins at one instant (the START's OUT) with every later event.
 *
 * With hyperupcall=1 it also registers vmtrace's tracing hyperupcall (seed 003 4.1, guest/hyperupcalls/
 * trace.asm, embedded from guest/images/hyperupcalls/trace.bin) with VMCALL HC_HYPERUPCALL_REGISTER on a ring
 * it allocates, and appends its own events to that ring (the unified log), as vmtrace's own guest kernel does.
 */
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/tracepoint.h>
#include <linux/sched.h>
#include <linux/binfmts.h>
#include <linux/slab.h>
#include <linux/gfp.h>
#include <linux/io.h>
#include <linux/string.h>
#include <linux/irqflags.h>
#include <linux/atomic.h>

#define VMT_WITNESS_PORT 0x518 /* docs/machine.md; src/emulator/devices/WitnessPort.ts */

enum { WK_START = 0, WK_FORK = 1, WK_EXEC = 2, WK_EXIT = 3, WK_SWITCH = 4 };
#define WF_KTHREAD 1u       /* the subject task is a kernel thread (PF_KTHREAD) */
#define WF_PREEMPT 2u       /* sched_switch: an involuntary switch */
#define WF_HYPERUPCALL 4u   /* START: the tracing hyperupcall is registered (arg = its id) */

struct vmt_witness_event { /* 64 bytes, little endian */
	u32 kind;           /* WK_* */
	u32 seq;            /* events reported before this one */
	u32 pid, tgid;      /* the subject: child (fork), current (exec, exit), next (switch), current (start) */
	u32 other_pid;      /* parent (fork), old pid (exec), 0 (exit), prev (switch) */
	u32 other_tgid;     /* parent's tgid (fork), 0 (exec, exit), prev's tgid (switch) */
	u32 arg;            /* exit: exit_code; switch: prev_state; start: hyperupcall id or negative errno */
	u32 flags;          /* WF_* */
	char comm[16];      /* the subject's comm */
	char other_comm[16];/* parent's (fork), prev's (switch), else empty */
};

static struct vmt_witness_event *ev; /* kmalloc'd: physically contiguous, 64-byte aligned */
static int started;
static u32 seq;
static struct tracepoint *tp_fork, *tp_exec, *tp_exit, *tp_switch;

static bool hyperupcall;
module_param(hyperupcall, bool, 0444);
MODULE_PARM_DESC(hyperupcall, "register vmtrace's tracing hyperupcall and log events to its ring");

/* ---- the hyperupcall ring (guest/kernel/hyperupcall.c's layout) ---- */
#define HC_HYPERUPCALL_REGISTER 1
#define HU_MAGIC 0x31505548u /* "HUP1" */
#define HU_EV_VMEXIT 1
#define HU_ANY 0xffffffffu
#define RING_SLOTS 4096
#define RING_PAGES 33 /* 64 + 4096 * 32 bytes, as our kernel's ring (guest/kernel/hyperupcall.c) */
#define RING_ORDER 6 /* the buddy allocator's smallest block of at least RING_PAGES pages */
struct hu_reg { /* 128 bytes, docs/machine.md */
	u32 magic, event, exit_reason, flags;
	u64 code_gpa, code_len, mem_gpa, mem_len, err_gpa, err_len;
	u64 env[8];
};
struct hu_rec { u64 seq, icount, reason, rip; };
struct hu_ring { u64 head, slots, reserved[6]; struct hu_rec rec[RING_SLOTS]; };
static struct hu_ring *ring;

asm(".section .rodata\n.balign 8\nvmt_trace_bin:\n.incbin \"trace.bin\"\nvmt_trace_bin_end:\n.previous\n");
extern const u8 vmt_trace_bin[], vmt_trace_bin_end[];

/* A guest event in the unified log: reason 0x10000 | type (GT_* of docs/machine.md), seq = pid, rip = the
 * first 8 comm bytes; icount 0 (the guest has no instruction count). One atomic reservation of the slot. */
static void ring_event(u32 type, u32 pid, const char *comm)
{
	u64 slot, nm = 0;
	struct hu_rec *r;
	int i;

	if (!ring)
		return;
	slot = atomic64_fetch_add(1, (atomic64_t *)&ring->head);
	r = &ring->rec[slot % RING_SLOTS];
	for (i = 0; i < 8 && comm[i]; i++)
		nm |= (u64)(u8)comm[i] << (8 * i);
	r->seq = pid;
	r->icount = 0;
	r->reason = 0x10000u | type;
	r->rip = nm;
}

static long hu_register(void)
{
	size_t len = vmt_trace_bin_end - vmt_trace_bin;
	struct hu_reg *reg = kzalloc(sizeof(*reg), GFP_KERNEL);
	u8 *code = kmalloc(len, GFP_KERNEL);
	char *err = kzalloc(256, GFP_KERNEL);
	long r = -ENOMEM;

	ring = (struct hu_ring *)__get_free_pages(GFP_KERNEL | __GFP_ZERO, RING_ORDER);
	if (!reg || !code || !err || !ring)
		goto out;
	ring->slots = RING_SLOTS;
	memcpy(code, vmt_trace_bin, len);
	reg->magic = HU_MAGIC;
	reg->event = HU_EV_VMEXIT;
	reg->exit_reason = HU_ANY;
	reg->code_gpa = virt_to_phys(code);
	reg->code_len = len;
	reg->mem_gpa = virt_to_phys(ring);
	reg->mem_len = RING_PAGES * PAGE_SIZE;
	reg->err_gpa = virt_to_phys(err);
	reg->err_len = 256;
	asm volatile("vmcall" : "=a"(r) : "a"((long)HC_HYPERUPCALL_REGISTER), "b"(virt_to_phys(reg)) : "memory");
	if (r < 0)
		pr_info("vmt_witness: hyperupcall trace rejected (%ld): %s\n", r, err);
	else
		pr_info("vmt_witness: hyperupcall trace registered (id %ld, ring at physical 0x%llx)\n", r,
			(unsigned long long)virt_to_phys(ring));
out:
	if (r < 0 && ring) {
		free_pages((unsigned long)ring, RING_ORDER);
		ring = NULL;
	}
	/* code and err may be freed: the hypervisor copied the bytecode at registration; the ring stays. */
	kfree(code);
	kfree(err);
	kfree(reg);
	return r;
}

/* ---- reporting ---- */
static void copy_comm(char *dst, const struct task_struct *t)
{
	memcpy(dst, t->comm, 16);
	dst[15] = 0;
}

/* Fill and send one event, and with ring_type != 0 log it in the hyperupcall ring; interrupts off so that the
 * OUT and the ring record follow each other with nothing in between (in the unified log the record comes
 * right after the hypervisor's record of the OUT's own exit). */
static void report(u32 kind, const struct task_struct *t, u32 other_pid, u32 other_tgid,
		   const struct task_struct *other, u32 arg, u32 flags, u32 ring_type)
{
	unsigned long irq;

	local_irq_save(irq);
	memset(ev, 0, sizeof(*ev));
	ev->kind = kind;
	ev->seq = seq++;
	ev->pid = t->pid;
	ev->tgid = t->tgid;
	ev->other_pid = other_pid;
	ev->other_tgid = other_tgid;
	ev->arg = arg;
	ev->flags = flags | ((t->flags & PF_KTHREAD) ? WF_KTHREAD : 0);
	copy_comm(ev->comm, t);
	if (other)
		copy_comm(ev->other_comm, other);
	outl((u32)virt_to_phys(ev), VMT_WITNESS_PORT);
	if (ring_type)
		ring_event(ring_type, t->pid, t->comm);
	local_irq_restore(irq);
}

static void on_fork(void *data, struct task_struct *parent, struct task_struct *child)
{
	if (!READ_ONCE(started))
		return;
	report(WK_FORK, child, parent->pid, parent->tgid, parent, 0, 0, child->pid == child->tgid ? 1 : 3);
}

static void on_exec(void *data, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	if (!READ_ONCE(started))
		return;
	report(WK_EXEC, p, old_pid, 0, NULL, 0, 0, 7);
}

static void on_exit(void *data, struct task_struct *p)
{
	if (!READ_ONCE(started))
		return;
	report(WK_EXIT, p, 0, 0, NULL, p->exit_code, 0, p->pid == p->tgid ? 2 : 4);
}

static void on_switch(void *data, bool preempt, struct task_struct *prev, struct task_struct *next,
		      unsigned int prev_state)
{
	if (!READ_ONCE(started))
		return;
	report(WK_SWITCH, next, prev->pid, prev->tgid, prev, prev_state, preempt ? WF_PREEMPT : 0, 0);
}

static void find_tp(struct tracepoint *tp, void *priv)
{
	if (!strcmp(tp->name, "sched_process_fork"))
		tp_fork = tp;
	else if (!strcmp(tp->name, "sched_process_exec"))
		tp_exec = tp;
	else if (!strcmp(tp->name, "sched_process_exit"))
		tp_exit = tp;
	else if (!strcmp(tp->name, "sched_switch"))
		tp_switch = tp;
}

static void unregister_all(void)
{
	if (tp_fork)
		tracepoint_probe_unregister(tp_fork, on_fork, NULL);
	if (tp_exec)
		tracepoint_probe_unregister(tp_exec, on_exec, NULL);
	if (tp_exit)
		tracepoint_probe_unregister(tp_exit, on_exit, NULL);
	if (tp_switch)
		tracepoint_probe_unregister(tp_switch, on_switch, NULL);
	tracepoint_synchronize_unregister();
}

static int __init vmt_witness_init(void)
{
	long hu = 0;
	int r;
	unsigned long irq;

	ev = kzalloc(sizeof(*ev), GFP_KERNEL);
	if (!ev)
		return -ENOMEM;
	for_each_kernel_tracepoint(find_tp, NULL);
	if (!tp_fork || !tp_exec || !tp_exit || !tp_switch) {
		pr_err("vmt_witness: scheduler tracepoints not found\n");
		kfree(ev);
		return -ENOENT;
	}
	r = tracepoint_probe_register(tp_fork, on_fork, NULL);
	if (!r)
		r = tracepoint_probe_register(tp_exec, on_exec, NULL);
	if (!r)
		r = tracepoint_probe_register(tp_exit, on_exit, NULL);
	if (!r)
		r = tracepoint_probe_register(tp_switch, on_switch, NULL);
	if (r) {
		pr_err("vmt_witness: tracepoint_probe_register failed (%d)\n", r);
		unregister_all();
		kfree(ev);
		return r;
	}
	if (hyperupcall)
		hu = hu_register();
	local_irq_save(irq);
	WRITE_ONCE(started, 1);
	report(WK_START, current, 0, 0, NULL, (u32)hu, hyperupcall && hu >= 0 ? WF_HYPERUPCALL : 0, 0);
	local_irq_restore(irq);
	pr_info("vmt_witness: reporting fork, exec, exit and switch to port 0x%x\n", VMT_WITNESS_PORT);
	return 0;
}

static void __exit vmt_witness_exit(void)
{
	WRITE_ONCE(started, 0);
	unregister_all();
	kfree(ev);
	/* the ring stays allocated: the registered hyperupcall keeps writing to it */
}

module_init(vmt_witness_init);
module_exit(vmt_witness_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("vmtrace: scheduler tracepoints reported through an I/O port; hyperupcall registration");
