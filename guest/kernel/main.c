/* kmain: bring the machine up, start init, idle, kreaper and kflushd; trap(): exceptions and IRQs. */
#include "kernel.h"

static const char *const exc_names[32] = {
  "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "#MF", "#TS", "#NP", "#SS", "#GP", "#PF", "?",
  "#MF", "#AC", "#MC", "#XM", "#VE", "#CP", "?", "?", "?", "?", "?", "?", "?", "?", "#SX", "?",
};

/* Wait status of a process killed by a fault: the signal Linux would deliver (signal(7)). */
static int fault_signal(uint64_t vec) {
  switch (vec) {
  case 0: return 8;   /* SIGFPE */
  case 6: return 4;   /* SIGILL */
  case 3: case 1: return 5; /* SIGTRAP */
  default: return 11; /* SIGSEGV */
  }
}

void trap(struct trapframe *tf) {
  uint64_t v = tf->vector;
  if (v < 32) {
    if ((tf->cs & 3) == 0)
      panic("%s in kernel: rip %lx err %lx cr2 %lx rsp %lx", exc_names[v], tf->rip, tf->err, read_cr2(), tf->rsp);
    struct proc *p = cur->proc;
    kprintf("kernel: pid %d (%s) tid %d killed: %s at rip %lx addr %lx\n", p->pid, p->name, cur->tid, exc_names[v],
            tf->rip, v == 14 ? read_cr2() : 0UL);
    proc_kill(p, fault_signal(v), 2);
    thread_exit(0, 2);
  }
  if (v >= 32 && v < 48) {
    int irq = (int)v - 32;
    if (!pic_spurious(irq)) {
      if (irq == 0) timer_tick();
      else if (irq == 11) nic_irq();
      else if (irq == 14) ata_irq();
      pic_eoi(irq);
    }
  }
  /* A vector the hypervisor injected (a hyperupcall's send_vcpu_ipi): no interrupt controller, no EOI. */
  if (v == HV_NOTIFY_VECTOR) hyperupcall_notify();
  if (need_resched) schedule();
  if ((tf->cs & 3) == 3) check_killed();
}

static void start_init(void) {
  int pid = alloc_id(); /* 1 */
  struct proc *p = proc_alloc("init", 0, 0);
  p->pid = pid;
  p->pml4 = vm_new();
  struct thread *t = thread_alloc(p, pid);
  struct file *con = file_alloc(F_CONSOLE);
  p->fds[0] = con;
  p->fds[1] = con;
  p->fds[2] = con;
  con->ref = 3;
  gt_emit(GT_PROC_CREATE, p, pid, 0, 0, 0);
  gt_emit(GT_THREAD_CREATE, p, pid, 0, 0, 0);
  struct trapframe tf;
  memset(&tf, 0, sizeof tf);
  char *argv[] = { "init" };
  /* exec runs as the new thread: point cur at it for the call (nothing runs yet) */
  cur = t;
  write_cr3(p->pml4);
  long r = do_execve(&tf, "init", argv, 1, 0, 0);
  write_cr3(kernel_pml4);
  cur = 0;
  if (r) panic("cannot start init: %ld", r);
  thread_start_user(t, &tf);
  make_runnable(t);
}

void kmain(struct boot_info *bi) {
  console_init();
  if (bi->magic != BOOT_MAGIC || bi->version != 1) panic("bad boot_info");
  tsc_hz = bi->tsc_hz ? bi->tsc_hz : 1000000000UL;
  arch_init();
  mm_init(bi);
  hyperupcall_boot(bi); /* `#hyperupcall` script lines: register early, so tracing sees startup exits */
  kprintf("vmtrace guest kernel: %lu MiB, %lu free pages, seed %lu, disk %lu sectors\n", bi->mem_bytes >> 20,
          pages_free(), bi->seed, bi->disk_sectors);
  ramdisk_init(bi);
  fs_init(bi->disk_sectors);
  ata_init(bi->disk_sectors);
  nic_init();
  sched_init();   /* idle, pid 0 */
  start_init();   /* init, pid 1 */
  reaper_init();  /* kreaper */
  kthread_create("kflushd", kflushd, 0);
  pic_unmask(0);
  timer_set_hz(10000);
  sched_start();
}
