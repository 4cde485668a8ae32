/* System calls: Linux x86-64 numbers and semantics for what is supported (guest/README.md lists them). */
#include "kernel.h"

static int fd_alloc(struct proc *p, struct file *f) {
  for (int i = 0; i < MAX_FDS; i++) if (!p->fds[i]) { p->fds[i] = f; return i; }
  return -EMFILE;
}

static struct file *fd_get(struct proc *p, uint64_t fd) { return fd < MAX_FDS ? p->fds[fd] : 0; }

static long sys_execve(struct trapframe *tf, uint64_t upath, uint64_t uargv, uint64_t uenvp) {
  uint64_t pa = page_alloc();
  if (!pa) return -ENOMEM;
  char *buf = P2V(pa), *end = buf + PAGE;
  char *argv[32], *envp[16];
  int argc = 0, envc = 0;
  long r = copyinstr(buf, upath, 128);
  char *path = buf;
  if (r >= 0) buf += r + 1;
  for (int pass = 0; pass < 2 && r >= 0; pass++) {
    uint64_t vec = pass ? uenvp : uargv;
    char **out = pass ? envp : argv;
    int max = pass ? 16 : 32, n = 0;
    for (; vec; n++) {
      uint64_t s;
      if (copyin(&s, vec + (uint64_t)n * 8, 8)) { r = -EFAULT; break; }
      if (!s) break;
      if (n >= max) { r = -E2BIG; break; }
      r = copyinstr(buf, s, (uint64_t)(end - buf));
      if (r < 0) break;
      out[n] = buf;
      buf += r + 1;
    }
    if (pass) envc = n; else argc = n;
  }
  if (r >= 0) r = do_execve(tf, path, argv, argc, envp, envc);
  page_free(pa);
  return r;
}

static long sys_mmap(struct proc *p, uint64_t len, uint64_t prot, uint64_t flags, int64_t fd) {
  if (!(flags & 0x20) || fd != -1 || len == 0 || len > (256UL << 20)) return -EINVAL; /* MAP_ANONYMOUS only */
  len = PGROUNDUP(len);
  uint64_t va = p->mmap_next;
  struct vma *v = vma_add(p, va, va + len, (uint32_t)(prot & 7), VMA_MMAP);
  if (!v) return -ENOMEM;
  if (vm_map_anon(p, va, len, (uint32_t)(prot & 7))) {
    for (uint64_t a = va; a < va + len; a += PAGE) { uint64_t pa = vm_unmap(p->pml4, a); if (pa) page_free(pa); }
    v->kind = VMA_FREE;
    return -ENOMEM;
  }
  p->mmap_next = va + len + PAGE; /* leave an unmapped guard page between mappings */
  return (long)va;
}

static long sys_munmap(struct proc *p, uint64_t addr, uint64_t len) {
  len = PGROUNDUP(len);
  struct vma *v = vma_find(p, addr);
  if (!v || v->kind != VMA_MMAP || v->start != addr || v->end != addr + len) return -EINVAL;
  for (uint64_t a = v->start; a < v->end; a += PAGE) { uint64_t pa = vm_unmap(p->pml4, a); if (pa) page_free(pa); }
  v->kind = VMA_FREE;
  return 0;
}

static long sys_brk(struct proc *p, uint64_t addr) {
  struct vma *heap = 0;
  for (int i = 0; i < MAX_VMAS; i++) if (p->vmas[i].kind == VMA_HEAP) heap = &p->vmas[i];
  if (!heap || addr < p->brk_start || addr > p->brk_start + (256UL << 20)) return (long)p->brk_cur;
  uint64_t old_end = PGROUNDUP(p->brk_cur), new_end = PGROUNDUP(addr);
  if (new_end > old_end) {
    if (vm_map_anon(p, old_end, new_end - old_end, PROT_READ | PROT_WRITE)) {
      for (uint64_t a = old_end; a < new_end; a += PAGE) { uint64_t pa = vm_unmap(p->pml4, a); if (pa) page_free(pa); }
      return (long)p->brk_cur;
    }
  } else {
    for (uint64_t a = new_end; a < old_end; a += PAGE) { uint64_t pa = vm_unmap(p->pml4, a); if (pa) page_free(pa); }
  }
  heap->end = new_end;
  p->brk_cur = addr;
  return (long)addr;
}

static long sys_clock_gettime(uint64_t uts) {
  uint32_t lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  uint64_t tsc = ((uint64_t)hi << 32) | lo;
  int64_t ts[2] = { (int64_t)(tsc / tsc_hz), (int64_t)((tsc % tsc_hz) * 1000000000UL / tsc_hz) };
  return copyout(uts, ts, sizeof ts);
}

long syscall_dispatch(struct trapframe *tf) {
  struct thread *t = cur;
  struct proc *p = t->proc;
  uint64_t nr = tf->rax, a0 = tf->rdi, a1 = tf->rsi, a2 = tf->rdx, a3 = tf->r10, a4 = tf->r8;
  gt_emit(GT_SYSCALL, p, t->tid, nr, a0, a1);
  long r;
  struct file *f;
  switch (nr) {
  case 0: /* read */
    r = (f = fd_get(p, a0)) ? file_read(f, a1, a2) : -EBADF;
    break;
  case 1: /* write */
    r = (f = fd_get(p, a0)) ? file_write(f, a1, a2) : -EBADF;
    break;
  case 2: { /* open */
    char path[64];
    r = copyinstr(path, a0, sizeof path);
    if (r >= 0) r = fs_open(path, (int)a1, &f);
    if (r >= 0) { r = fd_alloc(p, f); if (r < 0) file_close(f); }
    break;
  }
  case 3: /* close */
    if ((f = fd_get(p, a0))) { p->fds[a0] = 0; file_close(f); r = 0; } else r = -EBADF;
    break;
  case 8: /* lseek */
    if (!(f = fd_get(p, a0))) r = -EBADF;
    else if (f->type != F_DISK && f->type != F_MEM) r = -ESPIPE;
    else r = fs_lseek(f, (int64_t)a1, (int)a2);
    break;
  case 9: r = sys_mmap(p, a1, a2, a3, (int64_t)a4); break;
  case 11: r = sys_munmap(p, a0, a1); break;
  case 12: r = sys_brk(p, a0); break;
  case 22: { /* pipe */
    struct file *rf, *wf;
    r = pipe_create(&rf, &wf);
    if (r == 0) {
      int fr = fd_alloc(p, rf), fw = fr >= 0 ? fd_alloc(p, wf) : -1;
      int32_t fds[2] = { fr, fw };
      if (fr < 0 || fw < 0 || copyout(a0, fds, sizeof fds)) {
        if (fr >= 0) p->fds[fr] = 0;
        if (fw >= 0) p->fds[fw] = 0;
        file_close(rf);
        file_close(wf);
        r = fr < 0 || fw < 0 ? -EMFILE : -EFAULT;
      }
    }
    break;
  }
  case 24: yield(); r = 0; break; /* sched_yield */
  case 32: /* dup */
    if (!(f = fd_get(p, a0))) r = -EBADF;
    else if ((r = fd_alloc(p, f)) >= 0) file_ref(f);
    break;
  case 33: /* dup2 */
    if (!(f = fd_get(p, a0)) || a1 >= MAX_FDS) r = -EBADF;
    else {
      if (a0 != a1) {
        file_ref(f);
        if (p->fds[a1]) file_close(p->fds[a1]);
        p->fds[a1] = f;
      }
      r = (long)a1;
    }
    break;
  case 35: r = do_nanosleep(a0); break;
  case 39: r = p->pid; break; /* getpid */
  case 41: /* socket: the one datagram endpoint on the NIC */
    if (a0 != 2 || (a1 & 0xf) != 2) r = -EINVAL;
    else if (!(f = file_alloc(F_NIC))) r = -EMFILE;
    else if ((r = fd_alloc(p, f)) < 0) file_close(f);
    break;
  case 44: /* sendto */
    r = (f = fd_get(p, a0)) && f->type == F_NIC ? (user_ok(a1, a2, 0) ? nic_send(a1, a2) : -EFAULT) : -EBADF;
    break;
  case 45: /* recvfrom */
    r = (f = fd_get(p, a0)) && f->type == F_NIC ? (user_ok(a1, a2, 1) ? nic_recv(a1, a2) : -EFAULT) : -EBADF;
    break;
  case 56: r = do_clone_thread(tf, a0, a1, a2, a3); break; /* clone(flags, newsp, ptid, ctid, tls) */
  case 57: r = do_fork(tf, 0); break;
  case 59: r = sys_execve(tf, a0, a1, a2); break;
  case 60: thread_exit((int)a0, 0);
  case 61: r = do_wait4((int)a0, a1, (int)a2); break;
  case 110: r = p->ppid; break; /* getppid */
  case 169: /* reboot(magic1, magic2, LINUX_REBOOT_CMD_POWER_OFF, status) */
    if ((uint32_t)a0 != 0xfee1dead || (uint32_t)a1 != 672274793 || (uint32_t)a2 != 0x4321fedc) { r = -EINVAL; break; }
    fs_sync();
    kprintf("kernel: power-off status %d, %lu pages free\n", (int)a3, pages_free());
    poweroff((uint32_t)a3);
  case 186: r = t->tid; break; /* gettid */
  case 202: r = do_futex(a0, (int)a1, (uint32_t)a2); break;
  case 218: t->clear_tid = a0; r = t->tid; break; /* set_tid_address */
  case 228: r = sys_clock_gettime(a1); break;
  case 231: /* exit_group */
    proc_kill(p, (int)((a0 & 0xff) << 8), 1);
    thread_exit((int)a0, 1);
  case 500: /* vmtrace: set the timer frequency (Hz) */
    if (a0 < 1 || a0 > 1000000) r = -EINVAL; else { timer_set_hz((uint32_t)a0); r = 0; }
    break;
  case 501: { /* vmtrace: number of live processes (including kernel threads) */
    int n = 0;
    for (int i = 0; i < MAX_PROCS; i++) if (procs[i].state == P_ALIVE) n++;
    r = n;
    break;
  }
  case 502: /* vmtrace: what RDMSR(IA32_LSTAR) returns (interception footprint, seed 004 6.2) */
    r = (long)rdmsr(0xc0000082);
    break;
  case 503: { /* vmtrace: FNV-1a 32 of the kernel's text as the kernel reads it (interception footprint) */
    extern const uint8_t __text_start[], __text_end[];
    uint32_t h = 2166136261u;
    for (const volatile uint8_t *q = __text_start; q < __text_end; q++) h = (h ^ *q) * 16777619u;
    r = h;
    break;
  }
  case 504: r = sys_hyperupcall(a0); break; /* vmtrace: register a shipped hyperupcall by name */
  case 505: r = sys_huring(a0, a1); break;  /* vmtrace: copy the unified-trace ring out */
  case 506: r = sys_guardtest(a0); break;   /* vmtrace: attempt a protected write (guard use case) */
  case 507: r = sys_guardlog(a0, a1); break; /* vmtrace: copy the guard's log page out */
  default: r = -ENOSYS; break;
  }
  tf->rax = (uint64_t)r;
  check_killed();
  return r;
}
