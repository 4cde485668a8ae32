/* Processes, threads, kernel threads, the round-robin scheduler, sleeping and waking, exit and wait. */
#include "kernel.h"

struct percpu percpu;
struct proc procs[MAX_PROCS];
struct thread threads[MAX_THREADS];
static uint8_t kstacks[MAX_THREADS][KSTACK_SIZE] __attribute__((aligned(4096)));
static uint8_t id_used[PID_MAX];
static int last_id;
int need_resched;
static uint32_t slice_ticks;

static struct thread *rq_head, *rq_tail;  /* runnable threads, not including the running one */
static struct thread *idle_thread;
static struct thread *sleepers;            /* nanosleep, sorted by nothing: scanned each tick */
static struct thread *dead_list;           /* exited threads whose kernel stacks the reaper frees */
static struct waitq reaper_wait;
static struct waitq futex_wait;

/* ---------------------------------------------------------------- ids: pids and tids share one space */
int alloc_id(void) {
  for (int i = 1; i < PID_MAX; i++) {
    int id = (last_id + i) % PID_MAX;
    if (id == 0 || id_used[id]) continue;
    id_used[id] = 1;
    last_id = id;
    return id;
  }
  return -EAGAIN;
}
void free_id(int id) { if (id > 0 && id < PID_MAX) id_used[id] = 0; }

struct proc *proc_by_pid(int pid) {
  for (int i = 0; i < MAX_PROCS; i++)
    if (procs[i].state != P_FREE && procs[i].pid == pid) return &procs[i];
  return 0;
}

/* ---------------------------------------------------------------- run queue */
void make_runnable(struct thread *t) {
  t->state = T_RUNNABLE;
  if (t == idle_thread) return;
  t->rq_next = 0;
  if (rq_tail) rq_tail->rq_next = t; else rq_head = t;
  rq_tail = t;
  if (cur == idle_thread) need_resched = 1;
}

static struct thread *rq_pop(void) {
  struct thread *t = rq_head;
  if (t) {
    rq_head = t->rq_next;
    if (!rq_head) rq_tail = 0;
    t->rq_next = 0;
  }
  return t;
}

void schedule(void) {
  struct thread *prev = cur;
  if (prev->state == T_RUNNING && prev != idle_thread) make_runnable(prev);
  struct thread *next = rq_pop();
  if (!next) next = idle_thread;
  need_resched = 0;
  slice_ticks = 0;
  next->state = T_RUNNING;
  if (next == prev) return;
  cur = next;
  percpu.kstack_top = next->kstack_top;
  tss_set_rsp0(next->kstack_top);
  if (read_cr3() != next->proc->pml4) write_cr3(next->proc->pml4);
  gt_emit(GT_CONTEXT_SWITCH, next->proc, next->tid, next->ustack_lo, next->ustack_hi, 0);
  fxsave64(prev->fx);
  fxrstor64(next->fx);
  swtch(&prev->ksp, next->ksp);
}

void yield(void) { schedule(); }

void sleep_on(struct waitq *q) {
  struct thread *t = cur;
  t->state = T_BLOCKED;
  t->waiting_on = q;
  t->rq_next = q->head;
  q->head = t;
  schedule();
}

static void waitq_remove(struct waitq *q, struct thread *t) {
  for (struct thread **pp = &q->head; *pp; pp = &(*pp)->rq_next)
    if (*pp == t) { *pp = t->rq_next; break; }
  t->waiting_on = 0;
}

void wake_up(struct waitq *q) {
  struct thread *t = q->head;
  q->head = 0;
  /* the list is LIFO; wake in arrival order */
  struct thread *rev = 0;
  while (t) { struct thread *n = t->rq_next; t->rq_next = rev; rev = t; t = n; }
  while (rev) {
    struct thread *n = rev->rq_next;
    rev->waiting_on = 0;
    make_runnable(rev);
    rev = n;
  }
}

static void sleepers_remove(struct thread *t) {
  for (struct thread **pp = &sleepers; *pp; pp = &(*pp)->sleep_next)
    if (*pp == t) { *pp = t->sleep_next; break; }
}

void timer_tick(void) {
  jiffies++;
  for (struct thread **pp = &sleepers; *pp;) {
    struct thread *t = *pp;
    if (t->wake_tick <= jiffies) {
      *pp = t->sleep_next;
      t->wake_tick = 0;
      make_runnable(t);
    } else {
      pp = &t->sleep_next;
    }
  }
  if (cur == idle_thread) { if (rq_head) need_resched = 1; }
  else if (++slice_ticks >= 1 && rq_head) need_resched = 1; /* round robin, a one-tick quantum */
}

/* ---------------------------------------------------------------- creation */
struct proc *proc_alloc(const char *name, struct proc *parent, int kthread) {
  for (int i = 0; i < MAX_PROCS; i++) {
    struct proc *p = &procs[i];
    if (p->state != P_FREE) continue;
    memset(p, 0, sizeof *p);
    p->state = P_ALIVE;
    p->parent = parent;
    p->ppid = parent ? parent->pid : 0;
    p->kthread = kthread;
    strlcpy(p->name, name, sizeof p->name);
    return p;
  }
  return 0;
}

struct thread *thread_alloc(struct proc *p, int tid) {
  for (int i = 0; i < MAX_THREADS; i++) {
    struct thread *t = &threads[i];
    if (t->state != T_FREE) continue;
    memset(t, 0, sizeof *t);
    t->slot = i;
    t->proc = p;
    t->tid = tid;
    t->state = T_BLOCKED; /* not yet on the run queue */
    t->kstack_top = (uint64_t)&kstacks[i][KSTACK_SIZE];
    /* A forked or cloned thread inherits the caller's live x87/SSE state; others start from the initial one. */
    fpu_init_image(t->fx);
    p->nthreads++;
    p->nlive++;
    return t;
  }
  return 0;
}

/* Prepare t to enter user mode with *tf (copied to the top of its kernel stack) when first scheduled. */
void thread_start_user(struct thread *t, struct trapframe *tf) {
  struct trapframe *ktf = (struct trapframe *)(t->kstack_top - sizeof *ktf);
  *ktf = *tf;
  uint64_t *sp = (uint64_t *)ktf;
  *--sp = (uint64_t)trapret;      /* swtch's ret lands in trapret with RSP at the frame */
  for (int i = 0; i < 6; i++) *--sp = 0; /* rbp rbx r12 r13 r14 r15 */
  t->ksp = (uint64_t)sp;
}

struct thread *kthread_create(const char *name, void (*fn)(void *), void *arg) {
  int id = 0;
  if (strcmp(name, "idle") != 0) { id = alloc_id(); if (id < 0) return 0; }
  struct proc *p = proc_alloc(name, proc_by_pid(0), 1);
  struct thread *t = thread_alloc(p, id);
  p->pid = id;
  p->pml4 = kernel_pml4;
  uint64_t *sp = (uint64_t *)t->kstack_top;
  *--sp = 0;                         /* alignment: kthread_start's call sees a 16-byte aligned stack */
  *--sp = (uint64_t)kthread_start;
  *--sp = 0; *--sp = 0;              /* rbp rbx */
  *--sp = (uint64_t)fn;              /* r12 */
  *--sp = (uint64_t)arg;             /* r13 */
  *--sp = 0; *--sp = 0;              /* r14 r15 */
  t->ksp = (uint64_t)sp;
  gt_emit(GT_PROC_CREATE, p, t->tid, 1, 0, 0);
  gt_emit(GT_THREAD_CREATE, p, t->tid, 0, 0, 0);
  if (id == 0) { idle_thread = t; t->state = T_RUNNABLE; }
  else make_runnable(t);
  return t;
}

static void idle_loop(void *arg) {
  (void)arg;
  for (;;) {
    idle_halt();
    if (need_resched) schedule();
  }
}

static void reaper(void *arg) {
  (void)arg;
  for (;;) {
    while (dead_list) {
      struct thread *t = dead_list;
      dead_list = t->rq_next;
      t->state = T_FREE; /* frees the slot and its kernel stack */
    }
    sleep_on(&reaper_wait);
  }
}

void sched_init(void) {
  kthread_create("idle", idle_loop, 0);
}

void reaper_init(void) { kthread_create("kreaper", reaper, 0); }

void sched_start(void) {
  struct thread *next = rq_pop();
  if (!next) next = idle_thread;
  uint64_t dummy;
  next->state = T_RUNNING;
  cur = next;
  percpu.kstack_top = next->kstack_top;
  tss_set_rsp0(next->kstack_top);
  write_cr3(next->proc->pml4);
  gt_emit(GT_CONTEXT_SWITCH, next->proc, next->tid, next->ustack_lo, next->ustack_hi, 0);
  swtch(&dummy, next->ksp);
  panic("sched_start returned");
}

/* ---------------------------------------------------------------- fork and clone */
static struct thread *new_user_thread(struct proc *p, int tid, struct trapframe *tf, uint64_t lo, uint64_t hi) {
  struct thread *t = thread_alloc(p, tid);
  if (!t) return 0;
  fxsave64(t->fx); /* fork/clone: the new thread starts with the caller's live x87/SSE state */
  t->ustack_lo = lo;
  t->ustack_hi = hi;
  thread_start_user(t, tf);
  return t;
}

long do_fork(struct trapframe *tf, uint64_t newsp) {
  struct proc *parent = cur->proc;
  int pid = alloc_id();
  if (pid < 0) return pid;
  struct proc *p = proc_alloc(parent->name, parent, 0);
  if (!p) { free_id(pid); return -EAGAIN; }
  p->pid = pid;
  p->pml4 = vm_new();
  if (!p->pml4 || vm_copy(p->pml4, parent->pml4)) {
    if (p->pml4) vm_free(p->pml4);
    p->state = P_FREE;
    free_id(pid);
    return -ENOMEM;
  }
  memcpy(p->vmas, parent->vmas, sizeof p->vmas);
  p->brk_start = parent->brk_start;
  p->brk_cur = parent->brk_cur;
  p->mmap_next = parent->mmap_next;
  for (int i = 0; i < MAX_FDS; i++)
    if ((p->fds[i] = parent->fds[i])) file_ref(p->fds[i]);
  struct trapframe ctf = *tf;
  ctf.rax = 0;
  if (newsp) ctf.rsp = newsp;
  uint64_t lo = cur->ustack_lo, hi = cur->ustack_hi;
  if (newsp) { struct vma *v = vma_find(p, newsp - 1); if (v) { lo = v->start; hi = v->end; } }
  struct thread *t = new_user_thread(p, pid, &ctf, lo, hi);
  if (!t) {
    for (int i = 0; i < MAX_FDS; i++) if (p->fds[i]) file_close(p->fds[i]);
    vm_free(p->pml4);
    p->state = P_FREE;
    free_id(pid);
    return -EAGAIN;
  }
  gt_emit(GT_PROC_CREATE, p, pid, 0, 0, 0);
  gt_emit(GT_THREAD_CREATE, p, pid, lo, hi, 0);
  make_runnable(t);
  return pid;
}

#define CLONE_VM 0x100
#define CLONE_PARENT_SETTID 0x100000
#define CLONE_CHILD_CLEARTID 0x200000
#define CLONE_CHILD_SETTID 0x1000000

long do_clone_thread(struct trapframe *tf, uint64_t flags, uint64_t newsp, uint64_t ptid, uint64_t ctid) {
  if (!(flags & CLONE_VM)) return do_fork(tf, newsp);
  if (!newsp) return -EINVAL;
  struct proc *p = cur->proc;
  if (p->killed) return -EINTR;
  int tid = alloc_id();
  if (tid < 0) return tid;
  struct trapframe ctf = *tf;
  ctf.rax = 0;
  ctf.rsp = newsp;
  /* The new thread's user stack is the mapping that holds newsp (seed 004 5.2 identifies threads by it). */
  struct vma *v = vma_find(p, newsp - 1);
  uint64_t lo = v ? v->start : PGROUNDDOWN(newsp - 1), hi = v ? v->end : PGROUNDUP(newsp);
  struct thread *t = new_user_thread(p, tid, &ctf, lo, hi);
  if (!t) { free_id(tid); return -EAGAIN; }
  if (flags & CLONE_CHILD_CLEARTID) t->clear_tid = ctid;
  uint32_t tid32 = (uint32_t)tid;
  if (flags & CLONE_PARENT_SETTID) copyout(ptid, &tid32, 4);
  if (flags & CLONE_CHILD_SETTID) copyout(ctid, &tid32, 4);
  gt_emit(GT_THREAD_CREATE, p, tid, lo, hi, 0);
  make_runnable(t);
  return tid;
}

/* ---------------------------------------------------------------- exit, kill, wait */
static void release_process(struct proc *p) {
  for (int i = 0; i < MAX_FDS; i++)
    if (p->fds[i]) { file_close(p->fds[i]); p->fds[i] = 0; }
  if (!p->kthread && p->pml4) {
    if (read_cr3() == p->pml4) write_cr3(kernel_pml4);
    vm_free(p->pml4);
  }
  /* orphans go to init (pid 1) */
  struct proc *init = proc_by_pid(1);
  int zombies = 0;
  for (int i = 0; i < MAX_PROCS; i++) {
    struct proc *c = &procs[i];
    if (c->state != P_FREE && c->parent == p) {
      c->parent = init;
      c->ppid = 1;
      if (c->state == P_ZOMBIE) zombies = 1;
    }
  }
  if (zombies && init) wake_up(&init->child_wait);
}

/* End the running thread. how: 0 exit(code), 1 exit_group, 2 killed by a fault; a process being killed
 * or exiting as a group overrides code/how with what proc_kill recorded. The last thread out ends the
 * process: its address space is freed at once (CR3 moves to the kernel's), the zombie waits for wait4. */
void thread_exit(int code, int how) {
  struct thread *t = cur;
  struct proc *p = t->proc;
  if (p->killed) how = p->exit_how;
  if (t->clear_tid && !p->killed) {
    uint32_t zero = 0;
    if (copyout(t->clear_tid, &zero, 4) == 0) futex_wake(t->clear_tid, 1);
  }
  int shown = !p->killed ? (code & 0xff) : how == 2 ? p->exit_status : (p->exit_status >> 8) & 0xff;
  gt_emit(GT_THREAD_EXIT, p, t->tid, (uint64_t)shown, 0, 0);
  p->nlive--;
  if (t->tid != p->pid) free_id(t->tid);
  if (p->nlive == 0) {
    if (!p->killed) { p->exit_status = (code & 0xff) << 8; p->exit_how = 0; }
    gt_emit(GT_PROC_EXIT, p, t->tid, (uint64_t)shown, (uint64_t)p->exit_how, 0);
    if (p->pid == 1) panic("init exited (status %x)", p->exit_status);
    release_process(p);
    p->state = P_ZOMBIE;
    if (p->kthread || !p->parent) { free_id(p->pid); p->state = P_FREE; }
    else wake_up(&p->parent->child_wait);
  }
  t->state = T_DEAD;
  t->rq_next = dead_list;
  dead_list = t;
  wake_up(&reaper_wait);
  schedule();
  panic("dead thread scheduled");
}

/* Mark p dying with a wait status and how (1 exit_group, 2 fault); its other threads leave at their next
 * return towards user mode (blocked ones are woken; their blocking calls see p->killed). */
void proc_kill(struct proc *p, int wstatus, int how) {
  if (p->killed) return;
  p->killed = 1;
  p->exit_status = wstatus;
  p->exit_how = how;
  for (int i = 0; i < MAX_THREADS; i++) {
    struct thread *t = &threads[i];
    if (t->proc != p || t == cur || t->state != T_BLOCKED || t->nokill) continue;
    if (t->waiting_on) waitq_remove(t->waiting_on, t);
    if (t->wake_tick) { sleepers_remove(t); t->wake_tick = 0; }
    make_runnable(t);
  }
}

void check_killed(void) {
  if (cur->proc->killed) thread_exit(0, 0);
}

long do_wait4(int pid, uint64_t wstatus, int options) {
  struct proc *me = cur->proc;
  for (;;) {
    int have = 0;
    for (int i = 0; i < MAX_PROCS; i++) {
      struct proc *c = &procs[i];
      if (c->state == P_FREE || c->parent != me) continue;
      if (pid > 0 && c->pid != pid) continue;
      have = 1;
      if (c->state != P_ZOMBIE) continue;
      int cpid = c->pid, st = c->exit_status;
      if (wstatus) {
        int32_t s32 = st;
        if (copyout(wstatus, &s32, 4)) return -EFAULT;
      }
      c->state = P_FREE;
      free_id(cpid);
      return cpid;
    }
    if (!have) return -ECHILD;
    if (options & 1) return 0; /* WNOHANG */
    sleep_on(&me->child_wait);
    if (me->killed) return -EINTR;
  }
}

/* Block the running thread for `ticks` timer ticks (>= 1). */
void sleep_ticks(uint64_t ticks) {
  struct thread *t = cur;
  t->wake_tick = jiffies + ticks;
  t->sleep_next = sleepers;
  sleepers = t;
  t->state = T_BLOCKED;
  schedule();
}

long do_nanosleep(uint64_t req) {
  int64_t ts[2];
  if (copyin(ts, req, sizeof ts)) return -EFAULT;
  if (ts[0] < 0 || ts[1] < 0 || ts[1] >= 1000000000) return -EINVAL;
  uint64_t ns = (uint64_t)ts[0] * 1000000000UL + (uint64_t)ts[1];
  uint64_t tick_ns = timer_tick_ns;
  uint64_t ticks = (ns + tick_ns - 1) / tick_ns;
  if (ticks == 0) { yield(); return 0; }
  sleep_ticks(ticks);
  return cur->proc->killed ? -EINTR : 0;
}

/* futex (Linux FUTEX_WAIT 0 / FUTEX_WAKE 1, private or not): one wait queue, keyed by process and address. */
long do_futex(uint64_t addr, int op, uint32_t val) {
  op &= 0x7f; /* drop FUTEX_PRIVATE_FLAG */
  if (op == 0) {
    uint32_t v;
    if (copyin(&v, addr, 4)) return -EFAULT;
    if (v != val) return -EAGAIN;
    cur->futex_addr = addr;
    sleep_on(&futex_wait);
    cur->futex_addr = 0;
    return cur->proc->killed ? -EINTR : 0;
  }
  if (op == 1) { futex_wake(addr, (int)val); return 0; }
  return -ENOSYS;
}

void futex_wake(uint64_t addr, int n) {
  struct proc *p = cur->proc;
  struct thread *list = futex_wait.head, *keep = 0, *wake = 0;
  /* Split into waiters to wake (oldest first) and the rest. The list is LIFO, so reverse it first. */
  struct thread *rev = 0;
  while (list) { struct thread *nx = list->rq_next; list->rq_next = rev; rev = list; list = nx; }
  struct thread **wt = &wake;
  while (rev) {
    struct thread *nx = rev->rq_next;
    if (n > 0 && rev->proc == p && rev->futex_addr == addr) { *wt = rev; wt = &rev->rq_next; rev->rq_next = 0; n--; }
    else { rev->rq_next = keep; keep = rev; }
    rev = nx;
  }
  futex_wait.head = keep;
  while (wake) { struct thread *nx = wake->rq_next; wake->waiting_on = 0; make_runnable(wake); wake = nx; }
}
