/* vmtrace guest kernel: shared declarations. Single CPU; the kernel runs with interrupts disabled (IF=0)
 * everywhere except in the idle loop, so kernel data needs no locks: interrupts are taken only from user
 * mode or from idle's STI;HLT. See docs/machine.md for the machine this runs on. */
#ifndef VMT_KERNEL_H
#define VMT_KERNEL_H
#include <stdint.h>
#include <stddef.h>
#include <stdarg.h>
#include "../common/fmt.h"

#define KERNEL_VMA 0xffffffff80000000UL
#define P2V(p) ((void *)((uint64_t)(p) + KERNEL_VMA))
#define V2P(v) ((uint64_t)(v) - KERNEL_VMA)
#define PAGE 4096UL
#define PGROUNDUP(x) (((x) + PAGE - 1) & ~(PAGE - 1))
#define PGROUNDDOWN(x) ((x) & ~(PAGE - 1))
#define USER_TOP 0x800000000000UL
#define USER_STACK_TOP 0x7ffffffff000UL
#define USER_MMAP_BASE 0x10000000000UL
#define DEFAULT_STACK (32 * 1024)

/* Segment selectors; the order (kernel code, kernel data, user code32, user data, user code64) is the one
 * SYSCALL/SYSRET need (SDM vol. 2 SYSCALL, SYSRET): STAR[47:32]=0x08, STAR[63:48]=0x18. */
#define KCODE 0x08
#define KDATA 0x10
#define UCODE32 0x1b
#define UDATA 0x23
#define UCODE 0x2b
#define TSS_SEL 0x30

/* Page-table entry bits (SDM vol. 3 4.5). */
#define PTE_P 0x1UL
#define PTE_W 0x2UL
#define PTE_U 0x4UL
#define PTE_PS 0x80UL
#define PTE_NX (1UL << 63)
#define PTE_ADDR 0x000ffffffffff000UL

/* Limits. */
#define MAX_PROCS 96
#define MAX_THREADS 120
#define PID_MAX 100         /* pids and tids share one space 1..PID_MAX-1, allocated round-robin so they get reused */
#define KSTACK_SIZE 16384
#define MAX_FDS 16
#define MAX_VMAS 24
#define MAX_FILES 256
#define MAX_PIPES 48

/* errno values (Linux). */
#define EPERM 1
#define ENOENT 2
#define ESRCH 3
#define EINTR 4
#define EIO 5
#define E2BIG 7
#define ENOEXEC 8
#define EBADF 9
#define ECHILD 10
#define EAGAIN 11
#define ENOMEM 12
#define EFAULT 14
#define EEXIST 17
#define EINVAL 22
#define EMFILE 24
#define ENOSPC 28
#define ESPIPE 29
#define EPIPE 32
#define ENOSYS 38

struct boot_info {
  uint64_t magic, version, mem_bytes, kernel_phys_start, kernel_phys_end;
  uint64_t ramdisk_phys, ramdisk_bytes, workload_phys, workload_bytes, free_phys;
  uint64_t tsc_hz, seed, disk_sectors;
};
#define BOOT_MAGIC 0x31544f4252544d56UL

/* Saved user/kernel state on the kernel stack; the layout entry.S pushes. */
struct trapframe {
  uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
  uint64_t vector, err, rip, cs, rflags, rsp, ss;
};
#define VEC_SYSCALL 0x100

/* Per-CPU block at GS base in kernel mode (SWAPGS); entry.S uses the first two fields by offset. */
struct percpu {
  uint64_t kstack_top; /* 0: RSP0 of the running thread */
  uint64_t user_rsp;   /* 8: scratch for the SYSCALL entry */
  struct thread *cur;  /* 16 */
};
extern struct percpu percpu;
#define cur (percpu.cur)

struct waitq { struct thread *head; };

enum { T_FREE, T_RUNNABLE, T_RUNNING, T_BLOCKED, T_DEAD };
enum { P_FREE, P_ALIVE, P_ZOMBIE };

struct vma { uint64_t start, end; uint32_t prot, kind; };
enum { VMA_FREE, VMA_ELF, VMA_HEAP, VMA_STACK, VMA_MMAP };
#define PROT_READ 1
#define PROT_WRITE 2
#define PROT_EXEC 4

struct proc {
  int state, pid, ppid, kthread, killed, exit_status, exit_how;
  int nthreads, nlive;
  uint64_t pml4;           /* physical */
  char name[16];
  struct file *fds[MAX_FDS];
  struct vma vmas[MAX_VMAS];
  uint64_t brk_start, brk_cur, mmap_next;
  struct waitq child_wait;
  struct proc *parent;
};

struct thread {
  /* x87/SSE state while not running (FXSAVE64 layout); switched eagerly in schedule(). */
  uint8_t fx[512] __attribute__((aligned(16)));
  int state, tid, slot;
  struct proc *proc;
  uint64_t ksp;            /* saved kernel RSP (swtch) */
  uint64_t kstack_top;
  uint64_t ustack_lo, ustack_hi;
  uint64_t clear_tid;      /* CLONE_CHILD_CLEARTID address */
  uint64_t wake_tick;      /* nanosleep */
  uint64_t futex_addr;
  int exit_status;
  int nokill;              /* blocked in a wait a kill must not interrupt (disk I/O) */
  struct thread *rq_next;  /* run queue / wait queue / dead list link */
  struct waitq *waiting_on;
  struct thread *sleep_next;
};

/* ------------------------------------------------------------------ arch */
static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint16_t inw(uint16_t port) { uint16_t v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint32_t inl(uint16_t port) { uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline void wrmsr(uint32_t msr, uint64_t v) {
  __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}
static inline uint64_t rdmsr(uint32_t msr) {
  uint32_t lo, hi;
  __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
  return ((uint64_t)hi << 32) | lo;
}
static inline void write_cr3(uint64_t v) { __asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory"); }
static inline uint64_t read_cr3(void) { uint64_t v; __asm__ volatile("mov %%cr3, %0" : "=r"(v)); return v; }
static inline uint64_t read_cr2(void) { uint64_t v; __asm__ volatile("mov %%cr2, %0" : "=r"(v)); return v; }
static inline uint64_t read_cr0(void) { uint64_t v; __asm__ volatile("mov %%cr0, %0" : "=r"(v)); return v; }
static inline void write_cr0(uint64_t v) { __asm__ volatile("mov %0, %%cr0" : : "r"(v) : "memory"); }
static inline uint64_t read_cr4(void) { uint64_t v; __asm__ volatile("mov %%cr4, %0" : "=r"(v)); return v; }
static inline void write_cr4(uint64_t v) { __asm__ volatile("mov %0, %%cr4" : : "r"(v) : "memory"); }
static inline void fxsave64(void *a) { __asm__ volatile("fxsave64 (%0)" : : "r"(a) : "memory"); }
static inline void fxrstor64(const void *a) { __asm__ volatile("fxrstor64 (%0)" : : "r"(a) : "memory"); }
void fpu_init_image(uint8_t *fx);
static inline void invlpg(uint64_t va) { __asm__ volatile("invlpg (%0)" : : "r"(va) : "memory"); }

void arch_init(void);
void tss_set_rsp0(uint64_t rsp0);
void pic_eoi(int irq);
int pic_spurious(int irq);
void pic_unmask(int irq);
void timer_set_hz(uint32_t hz);
extern uint64_t jiffies, tsc_hz;
extern uint32_t timer_hz;
extern uint64_t timer_tick_ns;

/* entry.S */
void swtch(uint64_t *save_sp, uint64_t new_sp);
void trapret(void);
void kthread_start(void);
void syscall_entry(void);
void idle_halt(void);

/* ------------------------------------------------------------------ console, lib */
void console_init(void);
void console_write(const char *s, size_t n);
void kprintf(const char *fmt, ...);
__attribute__((noreturn)) void panic(const char *fmt, ...);
__attribute__((noreturn)) void poweroff(uint32_t status);
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
void strlcpy(char *d, const char *s, size_t n);

/* ------------------------------------------------------------------ memory */
void mm_init(struct boot_info *bi);
uint64_t page_alloc(void);        /* zeroed page, physical address; 0 when out of memory */
void page_free(uint64_t pa);
uint64_t pages_free(void);
uint64_t *mm_free_head_ptr(void); /* the free-list head, for the free-page hyperupcall's env */
/* hyperupcall.c (seed 003) */
void hyperupcall_boot(struct boot_info *bi);
void hyperupcall_guest_event(uint32_t type, int pid, const char *name);
long sys_hyperupcall(uint64_t uname);
long sys_huring(uint64_t dst, uint64_t len);
long sys_guardtest(uint64_t mode);
long sys_guardlog(uint64_t dst, uint64_t len);
void hyperupcall_notify(void);   /* the hypervisor's notification vector (HV_NOTIFY_VECTOR) arrived */
#define HV_NOTIFY_VECTOR 48
uint64_t nic_rx_phys(void);
extern uint64_t kernel_pml4;
uint64_t vm_new(void);            /* a PML4 with the kernel half */
int vm_map(uint64_t pml4, uint64_t va, uint64_t pa, uint64_t flags);
uint64_t vm_lookup(uint64_t pml4, uint64_t va, uint64_t *pte_flags);
uint64_t vm_unmap(uint64_t pml4, uint64_t va); /* returns the physical page that was mapped, or 0 */
void vm_free(uint64_t pml4);      /* frees user pages, page tables and the PML4 */
int vm_copy(uint64_t dst, uint64_t src);
int user_ok(uint64_t va, uint64_t len, int write);
int copyin(void *dst, uint64_t src, uint64_t len);
int copyout(uint64_t dst, const void *src, uint64_t len);
int copyinstr(char *dst, uint64_t src, uint64_t max);
uint64_t vm_map_anon(struct proc *p, uint64_t va, uint64_t len, uint32_t prot);
struct vma *vma_add(struct proc *p, uint64_t start, uint64_t end, uint32_t prot, uint32_t kind);
struct vma *vma_find(struct proc *p, uint64_t va);
uint64_t prot_flags(uint32_t prot);

/* ------------------------------------------------------------------ processes, threads, scheduler */
extern struct proc procs[MAX_PROCS];
extern struct thread threads[MAX_THREADS];
extern int need_resched;
void sched_init(void);
__attribute__((noreturn)) void sched_start(void);
void schedule(void);
void yield(void);
void sleep_on(struct waitq *q);
void wake_up(struct waitq *q);
void make_runnable(struct thread *t);
void timer_tick(void);
struct proc *proc_alloc(const char *name, struct proc *parent, int kthread);
struct thread *thread_alloc(struct proc *p, int tid);
void thread_start_user(struct thread *t, struct trapframe *tf);
struct thread *kthread_create(const char *name, void (*fn)(void *), void *arg);
struct proc *proc_by_pid(int pid);
__attribute__((noreturn)) void thread_exit(int status, int how);
void proc_kill(struct proc *p, int wstatus, int how);
void check_killed(void);
int alloc_id(void);
void free_id(int id);
void reaper_init(void);
long do_fork(struct trapframe *tf, uint64_t newsp);
long do_clone_thread(struct trapframe *tf, uint64_t flags, uint64_t newsp, uint64_t ptid, uint64_t ctid);
long do_wait4(int pid, uint64_t wstatus, int options);
long do_nanosleep(uint64_t req);
void sleep_ticks(uint64_t ticks);
long do_futex(uint64_t addr, int op, uint32_t val);
void futex_wake(uint64_t addr, int n);

/* ------------------------------------------------------------------ exec, ramdisk */
void ramdisk_init(struct boot_info *bi);
const uint8_t *ramdisk_find(const char *name, uint64_t *size);
long do_execve(struct trapframe *tf, const char *path, char *const *argv, int argc, char *const *envp, int envc);
extern const char *workload_text;
extern uint64_t workload_len;

/* ------------------------------------------------------------------ files */
enum { F_NONE, F_CONSOLE, F_PIPE_R, F_PIPE_W, F_DISK, F_MEM, F_NIC };
struct pipe;
struct file {
  int type, ref, flags;
  struct pipe *pipe;
  int ino;                 /* disk file index */
  const uint8_t *mem;      /* F_MEM */
  uint64_t size;           /* F_MEM */
  uint64_t off;
  int dirty_dir;
};
struct file *file_alloc(int type);
void file_ref(struct file *f);
void file_close(struct file *f);
long file_read(struct file *f, uint64_t buf, uint64_t n);
long file_write(struct file *f, uint64_t buf, uint64_t n);
long pipe_create(struct file **rf, struct file **wf);
long pipe_read(struct pipe *p, uint64_t buf, uint64_t n);
long pipe_write(struct pipe *p, uint64_t buf, uint64_t n);
void pipe_close(struct pipe *p, int writer);
long fs_open(const char *path, int flags, struct file **out);
long fs_read(struct file *f, uint64_t buf, uint64_t n);
long fs_write(struct file *f, uint64_t buf, uint64_t n);
long fs_lseek(struct file *f, int64_t off, int whence);
void fs_close(struct file *f);
void fs_init(uint64_t sectors);
void fs_sync(void);
void kflushd(void *arg);

/* ------------------------------------------------------------------ devices */
void ata_init(uint64_t sectors);
int ata_read(uint32_t lba, void *buf);
int ata_write(uint32_t lba, const void *buf);
void ata_irq(void);
void nic_init(void);
void nic_irq(void);
long nic_recv(uint64_t buf, uint64_t len);
long nic_send(uint64_t buf, uint64_t len);

/* ------------------------------------------------------------------ ground truth (docs/machine.md) */
enum { GT_PROC_CREATE = 1, GT_PROC_EXIT, GT_THREAD_CREATE, GT_THREAD_EXIT, GT_CONTEXT_SWITCH, GT_SYSCALL, GT_EXEC };
void gt_emit(uint32_t type, struct proc *p, int tid, uint64_t a0, uint64_t a1, uint64_t a2);

/* ------------------------------------------------------------------ syscalls */
long syscall_dispatch(struct trapframe *tf);
void trap(struct trapframe *tf);

#endif
