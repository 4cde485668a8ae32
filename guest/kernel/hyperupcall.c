/* Hyperupcalls (seed 003; docs/machine.md "Hyperupcall registration", docs/hyperupcalls.md): the kernel ships
 * verified-at-registration eBPF programs (guest/hyperupcalls/*.asm, bytecode in images/hyperupcalls/*.bin,
 * embedded here) and registers them with HC 1. Which ones: `#hyperupcall NAME...` lines of the workload
 * script (a comment to init), read at boot right after the page allocator is up, so the tracing program
 * sees the kernel's own startup exits; or at run time with syscall 504.
 *
 * The unified trace (seed 003 4.1) is a ring in the tracing program's granted region: the hypervisor appends
 * one record per VM exit, the kernel appends its own events (process creation, exec, exit) to the same ring,
 * and `hutrace` (syscall 505) copies it out and prints it.
 *
 * The guard (the ATC'18 protection use case) is the kernel's own write policy for IA32_LSTAR and CR0.WP,
 * registered on the WRMSR and CR-access exits: the hypervisor runs it on each such exit and blocks a write
 * that breaks it (the program's verdict), logs it in the guard page and notifies the kernel with vector
 * HV_NOTIFY_VECTOR. Syscall 506 makes the kernel attempt allowed and forbidden writes (a rootkit's), 507
 * copies the guard page out. */
#include "kernel.h"

#define HC_HYPERUPCALL_REGISTER 1
#define HU_MAGIC 0x31505548u /* "HUP1" */
#define HU_EV_VMEXIT 1
#define HU_EV_PACKET 3
#define HU_EV_PRESSURE 4
#define HU_ANY 0xffffffffu
#define EXIT_CR_ACCESS 28
#define EXIT_WRMSR 32
#define MSR_LSTAR 0xc0000082u
#define CR0_WP (1ul << 16)
#define CR0_AM (1ul << 18)
#define HU_LOCAL 1u

struct hu_reg { /* 128 bytes, docs/machine.md */
  uint32_t magic, event, exit_reason, flags;
  uint64_t code_gpa, code_len, mem_gpa, mem_len, err_gpa, err_len;
  uint64_t env[8];
};

#define RING_SLOTS 4096
#define RING_HDR 64
#define RING_BYTES (RING_HDR + RING_SLOTS * 32)
#define RING_PAGES ((RING_BYTES + PAGE - 1) / PAGE)
struct hu_rec { uint64_t seq, icount, reason, rip; };
struct hu_ring { uint64_t head, slots, reserved[6]; struct hu_rec rec[RING_SLOTS]; };

#define HU_PROG(sym, file)                                                                                     \
  __asm__(".section .rodata\n.balign 8\n.globl " #sym "\n" #sym ":\n.incbin \"images/hyperupcalls/" file "\"\n" \
          ".globl " #sym "_end\n" #sym "_end:\n.previous\n");                                                 \
  extern const uint8_t sym[], sym##_end[];
HU_PROG(hu_trace, "trace.bin")
HU_PROG(hu_freepages, "freepages.bin")
HU_PROG(hu_boost, "boost.bin")
HU_PROG(hu_guard, "guard.bin")
HU_PROG(hu_bad_unsafe, "bad-unsafe.bin")
HU_PROG(hu_bad_helper, "bad-helper.bin")

static struct hu_ring *ring; /* kernel-virtual, 0 until the tracing program is registered */
static struct hu_reg reg __attribute__((aligned(128)));
static char errbuf[256];
static uint64_t mem_bytes;

/* The guard's log page (its granted region; layout in guest/hyperupcalls/guard.asm). */
struct guard_rec { uint64_t seq, what, value, rip; };
struct guard_log { uint64_t checked, blocked, head, reserved[5]; struct guard_rec rec[64]; };
static struct guard_log glog __attribute__((aligned(4096)));
static uint64_t notifications;

static long vmcall_register(struct hu_reg *r) {
  long rax = HC_HYPERUPCALL_REGISTER;
  __asm__ volatile("vmcall" : "+a"(rax) : "b"(V2P(r)) : "memory");
  return rax;
}

/* Feature probe (as every kernel does at startup); CPUID exits under kvm-default (seed 003 4.1 finds these). */
static void cpu_probe(void) {
  uint32_t a, b, c, d;
  char vendor[13];
  __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0), "c"(0));
  memcpy(vendor, &b, 4);
  memcpy(vendor + 4, &d, 4);
  memcpy(vendor + 8, &c, 4);
  vendor[12] = 0;
  uint32_t maxleaf = a;
  __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
  uint32_t f1 = d;
  __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x80000000u), "c"(0));
  kprintf("kernel: cpu %s, max leaf %u, ext max 0x%x, features edx 0x%x\n", vendor, maxleaf, a, f1);
}

static long hu_register(const char *name) {
  if (!strcmp(name, "guard")) { /* one policy, two exits: WRMSR and control-register access */
    long a = hu_register("guard-msr");
    long b = hu_register("guard-cr");
    return a < 0 ? a : b;
  }
  memset(&reg, 0, sizeof reg);
  reg.magic = HU_MAGIC;
  reg.exit_reason = HU_ANY;
  reg.err_gpa = V2P(errbuf);
  reg.err_len = sizeof errbuf;
  errbuf[0] = 0;
  const uint8_t *code = 0, *end = 0;
  if (!strcmp(name, "trace") || !strcmp(name, "trace-big")) {
    if (!ring) {
      uint64_t first = 0;
      /* RING_PAGES contiguous physical pages: the free list hands out ascending pages at boot; check it. */
      for (uint64_t i = 0; i < RING_PAGES; i++) {
        uint64_t pa = page_alloc();
        if (!pa) return -ENOMEM;
        if (i == 0) first = pa;
        else if (pa != first + i * PAGE) panic("hyperupcall ring: pages not contiguous");
        memset(P2V(pa), 0, PAGE);
      }
      ring = P2V(first);
      ring->slots = RING_SLOTS;
    }
    reg.event = HU_EV_VMEXIT;
    code = hu_trace, end = hu_trace_end;
    reg.mem_gpa = V2P(ring);
    /* trace-big asks for 3% of guest memory: over the 2% share, rejected */
    reg.mem_len = name[5] ? mem_bytes / 100 * 3 : RING_PAGES * PAGE;
  } else if (!strcmp(name, "freepages")) {
    reg.event = HU_EV_PRESSURE;
    reg.flags = HU_LOCAL;
    code = hu_freepages, end = hu_freepages_end;
    reg.env[0] = V2P(mm_free_head_ptr());
  } else if (!strcmp(name, "boost")) {
    reg.event = HU_EV_PACKET;
    code = hu_boost, end = hu_boost_end;
    reg.mem_gpa = nic_rx_phys();
    reg.mem_len = PAGE;
  } else if (!strcmp(name, "guard-msr") || !strcmp(name, "guard-cr")) {
    reg.event = HU_EV_VMEXIT;
    reg.exit_reason = name[6] == 'm' ? EXIT_WRMSR : EXIT_CR_ACCESS;
    code = hu_guard, end = hu_guard_end;
    reg.mem_gpa = V2P(&glog);
    reg.mem_len = sizeof glog;
    reg.env[0] = (uint64_t)syscall_entry; /* the only value LSTAR may be given */
    reg.env[1] = CR0_WP;                  /* CR0 bits that may not be cleared (CR pinning) */
    reg.env[2] = HV_NOTIFY_VECTOR;        /* notify the kernel of a blocked write */
  } else if (!strcmp(name, "bad-unsafe") || !strcmp(name, "bad-helper")) {
    reg.event = HU_EV_VMEXIT;
    if (name[4] == 'u') code = hu_bad_unsafe, end = hu_bad_unsafe_end;
    else code = hu_bad_helper, end = hu_bad_helper_end;
    reg.mem_gpa = V2P(errbuf);
    reg.mem_len = 64;
  } else {
    return -ENOENT;
  }
  reg.code_gpa = V2P(code);
  reg.code_len = (uint64_t)(end - code);
  long r = vmcall_register(&reg);
  if (r < 0) kprintf("kernel: hyperupcall %s rejected (%ld): %s\n", name, r, errbuf);
  else kprintf("kernel: hyperupcall %s registered as %ld\n", name, r);
  if (r < 0 && !strcmp(name, "trace")) ring = 0;
  return r;
}

/* Boot: `#hyperupcall NAME...` lines of the workload script. */
void hyperupcall_boot(struct boot_info *bi) {
  mem_bytes = bi->mem_bytes;
  const char *s = P2V(bi->workload_phys), *e = s + bi->workload_bytes;
  int any = 0;
  for (const char *l = s; l < e;) {
    const char *nl = l;
    while (nl < e && *nl != '\n') nl++;
    if (nl - l > 13 && !strncmp(l, "#hyperupcall ", 13)) {
      const char *p = l + 13;
      while (p < nl) {
        while (p < nl && *p == ' ') p++;
        char name[24];
        int n = 0;
        while (p < nl && *p != ' ' && n < 23) name[n++] = *p++;
        while (p < nl && *p != ' ') p++;
        name[n] = 0;
        if (n) {
          hu_register(name);
          any = 1;
        }
      }
    }
    l = nl + 1;
  }
  if (any) cpu_probe();
}

/* A guest event in the unified log (reason 0x10000 | GT type; seq = pid, rip = the first 8 name bytes). */
void hyperupcall_guest_event(uint32_t type, int pid, const char *name) {
  if (!ring) return;
  uint64_t slot = __atomic_fetch_add(&ring->head, 1, __ATOMIC_RELAXED);
  struct hu_rec *r = &ring->rec[slot % RING_SLOTS];
  uint64_t nm = 0;
  for (int i = 0; i < 8 && name[i]; i++) nm |= (uint64_t)(uint8_t)name[i] << (8 * i);
  r->seq = (uint64_t)pid;
  r->icount = 0;
  r->reason = 0x10000u | type;
  r->rip = nm;
}

long sys_hyperupcall(uint64_t uname) {
  char name[24];
  uint64_t i = 0;
  for (; i < sizeof name - 1; i++) {
    if (!user_ok(uname + i, 1, 0)) return -EFAULT;
    name[i] = *(const char *)(uname + i);
    if (!name[i]) break;
  }
  name[i] = 0;
  return hu_register(name);
}

/* Copy the ring (header and records) to user memory: one copy, no exits in between. */
long sys_huring(uint64_t dst, uint64_t len) {
  if (!ring) return -ENOENT;
  if (len > RING_BYTES) len = RING_BYTES;
  if (copyout(dst, ring, len)) return -EFAULT;
  return (long)len;
}

/* The hypervisor's notification vector (trap(), vector HV_NOTIFY_VECTOR): the guard blocked a write. */
void hyperupcall_notify(void) {
  notifications++;
  kprintf("kernel: hypervisor notification %lu (vector %d): guard checked %lu, blocked %lu\n", notifications,
          HV_NOTIFY_VECTOR, glog.checked, glog.blocked);
}

/* Never called: the address a rootkit would point IA32_LSTAR at (guard test, mode 2). */
__attribute__((noinline, used)) void guard_rogue_entry(void) { panic("rogue syscall entry reached"); }

/* Syscall 506: attempt one protected write as kernel code would, read the result back and undo it.
 * 0 legitimate LSTAR (re-set to syscall_entry), 1 legitimate CR0 (set AM, keep WP), 2 rootkit LSTAR (point
 * it at guard_rogue_entry), 3 rootkit CR0 (clear WP). Returns 1 if the write took effect, 0 if it did not. */
long sys_guardtest(uint64_t mode) {
  uint64_t cr0 = read_cr0();
  long took;
  switch (mode) {
  case 0:
    wrmsr(MSR_LSTAR, (uint64_t)syscall_entry);
    return rdmsr(MSR_LSTAR) == (uint64_t)syscall_entry;
  case 1:
    write_cr0(cr0 | CR0_AM);
    took = (read_cr0() & CR0_AM) != 0;
    write_cr0(cr0);
    return took;
  case 2:
    wrmsr(MSR_LSTAR, (uint64_t)guard_rogue_entry);
    took = rdmsr(MSR_LSTAR) == (uint64_t)guard_rogue_entry;
    if (took) wrmsr(MSR_LSTAR, (uint64_t)syscall_entry); /* undo before the next SYSCALL */
    return took;
  case 3:
    write_cr0(cr0 & ~CR0_WP);
    took = (read_cr0() & CR0_WP) == 0;
    if (took) write_cr0(cr0);
    return took;
  default:
    return -EINVAL;
  }
}

/* Syscall 507: copy the guard's log page out. */
long sys_guardlog(uint64_t dst, uint64_t len) {
  if (len > sizeof glog) len = sizeof glog;
  if (copyout(dst, &glog, len)) return -EFAULT;
  return (long)len;
}
