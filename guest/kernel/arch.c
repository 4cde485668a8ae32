/* GDT, TSS, IDT, the 8259A interrupt controllers, the 8254 timer and the SYSCALL MSRs. */
#include "kernel.h"

#define MSR_EFER 0xc0000080
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_FMASK 0xc0000084
#define MSR_GS_BASE 0xc0000101
#define MSR_KERNEL_GS_BASE 0xc0000102

struct tss {
  uint32_t reserved0;
  uint64_t rsp0, rsp1, rsp2;
  uint64_t reserved1;
  uint64_t ist[7];
  uint64_t reserved2;
  uint16_t reserved3, iomap_base;
} __attribute__((packed));

static struct tss tss __attribute__((aligned(16)));
/* null, kernel code, kernel data, user code32 (unused; SYSRET needs the slot), user data, user code64, TSS (2 slots) */
static uint64_t gdt[8] __attribute__((aligned(16))) = {
  0,
  0x00af9a000000ffffUL, /* 0x08 kernel code: P, DPL0, code, L */
  0x00cf92000000ffffUL, /* 0x10 kernel data */
  0x00cffa000000ffffUL, /* 0x18 user code32 */
  0x00cff2000000ffffUL, /* 0x20 user data, DPL3 */
  0x00affa000000ffffUL, /* 0x28 user code64, DPL3, L */
  0, 0,                 /* 0x30 TSS */
};

struct idt_entry { uint16_t off0, sel; uint8_t ist, type; uint16_t off1; uint32_t off2, zero; } __attribute__((packed));
static struct idt_entry idt[256] __attribute__((aligned(16)));
extern const uint64_t isr_table[48];

struct dtr { uint16_t limit; uint64_t base; } __attribute__((packed));

uint64_t jiffies, tsc_hz;
uint32_t timer_hz;
uint64_t timer_tick_ns;
static uint16_t pic_mask = 0xffff;

void tss_set_rsp0(uint64_t rsp0) { tss.rsp0 = rsp0; }

/* The 8259A pair (Intel 8259A datasheet, "Initialization command words"; docs/machine.md): master at
 * 0x20/0x21, slave at 0xa0/0xa1 on the master's IR2. ICW1 0x11: edge triggered, cascade, ICW4 follows.
 * ICW2: vector bases 0x20 and 0x28, so IRQ n is vector 0x20 + n. ICW3: the slave on IR2 / slave id 2.
 * ICW4 0x01: 8086 mode, normal (not automatic) EOI. Then every line masked (OCW1). */
static void pic_init(void) {
  outb(0x20, 0x11); outb(0xa0, 0x11);
  outb(0x21, 0x20); outb(0xa1, 0x28);
  outb(0x21, 0x04); outb(0xa1, 0x02);
  outb(0x21, 0x01); outb(0xa1, 0x01);
  outb(0x21, 0xff); outb(0xa1, 0xff);
}

static void pic_write_mask(void) {
  outb(0x21, (uint8_t)pic_mask);
  outb(0xa1, (uint8_t)(pic_mask >> 8));
}

/* Non-specific EOI (OCW2 0x20): to the slave first for IRQ 8-15, then to the master for its IR2. */
void pic_eoi(int irq) {
  if (irq >= 8) outb(0xa0, 0x20);
  outb(0x20, 0x20);
}

/* A spurious IRQ 7 / 15 (the request went away before INTA) has no ISR bit: read the ISR (OCW3 0x0b). */
int pic_spurious(int irq) {
  if (irq != 7 && irq != 15) return 0;
  uint16_t port = irq == 7 ? 0x20 : 0xa0;
  outb(port, 0x0b);
  int in_service = inb(port) & 0x80;
  outb(port, 0x0a);
  if (in_service) return 0;
  if (irq == 15) outb(0x20, 0x20); /* the master did take IR2 */
  return 1;
}

void pic_unmask(int irq) {
  pic_mask &= (uint16_t)~(1u << irq);
  if (irq >= 8) pic_mask &= (uint16_t)~(1u << 2); /* the cascade input */
  pic_write_mask();
}

/* The 8254 (Intel 82C54 datasheet, "Mode 2: rate generator"): channel 0 counts a 1.193182 MHz clock and
 * raises IRQ 0 every `divisor` counts. Control word 0x34: channel 0, LSB then MSB, mode 2, binary. The
 * divisor is the nearest to the asked rate in 2..65536 (0 = 65536), so the real rate is 1193182 / divisor. */
#define PIT_HZ 1193182UL
void timer_set_hz(uint32_t hz) {
  if (hz == 0) hz = 1;
  uint64_t divisor = (PIT_HZ + hz / 2) / hz;
  if (divisor < 2) divisor = 2;
  if (divisor > 65536) divisor = 65536;
  timer_hz = (uint32_t)((PIT_HZ + divisor / 2) / divisor);
  timer_tick_ns = (divisor * 1000000000UL + PIT_HZ / 2) / PIT_HZ;
  outb(0x43, 0x34);
  outb(0x40, (uint8_t)divisor);
  outb(0x40, (uint8_t)(divisor >> 8));
}

/* The FXSAVE image of the initial x87/SSE state: FCW 0x37f (FNINIT), MXCSR 0x1f80, all else zero. */
void fpu_init_image(uint8_t *fx) {
  memset(fx, 0, 512);
  fx[0] = 0x7f;
  fx[1] = 0x03;
  fx[24] = 0x80;
  fx[25] = 0x1f;
}

void arch_init(void) {
  /* SSE for user programs (CR4.OSFXSR, OSXMMEXCPT: SDM vol. 3 13.1.3), x87 and MXCSR in their initial state. */
  write_cr4(read_cr4() | (1UL << 9) | (1UL << 10));
  uint32_t mxcsr = 0x1f80;
  __asm__ volatile("fninit\n ldmxcsr %0" : : "m"(mxcsr));
  uint64_t base = (uint64_t)&tss;
  tss.iomap_base = sizeof(tss); /* no I/O bitmap: user IN/OUT fault (IOPL 0) */
  gdt[6] = (sizeof(tss) - 1) | ((base & 0xffffff) << 16) | (0x89UL << 40) | (((base >> 24) & 0xff) << 56);
  gdt[7] = base >> 32;
  struct dtr g = { sizeof(gdt) - 1, (uint64_t)gdt };
  __asm__ volatile(
      "lgdt %0\n"
      /* reload CS with an IRETQ frame (SS, RSP, RFLAGS, CS, RIP) */
      "movq %%rsp, %%rax\n"
      "pushq $0x10\n"
      "pushq %%rax\n"
      "pushfq\n"
      "pushq $0x08\n"
      "leaq 1f(%%rip), %%rax\n"
      "pushq %%rax\n"
      "iretq\n"
      "1: movw $0x10, %%ax\n"
      "movw %%ax, %%ds\n movw %%ax, %%es\n movw %%ax, %%ss\n"
      "xorl %%eax, %%eax\n movw %%ax, %%fs\n movw %%ax, %%gs\n"
      : : "m"(g) : "rax", "memory");
  __asm__ volatile("ltr %w0" : : "r"(TSS_SEL));

  for (int v = 0; v <= HV_NOTIFY_VECTOR; v++) {
    uint64_t off = isr_table[v];
    idt[v].off0 = off & 0xffff;
    idt[v].sel = KCODE;
    idt[v].ist = 0;
    idt[v].type = 0x8e; /* present, DPL0, 64-bit interrupt gate: IF cleared on entry */
    idt[v].off1 = (off >> 16) & 0xffff;
    idt[v].off2 = off >> 32;
  }
  struct dtr i = { sizeof(idt) - 1, (uint64_t)idt };
  __asm__ volatile("lidt %0" : : "m"(i));

  /* GS: kernel-mode GS base is the per-CPU block; the user's (0) waits in KERNEL_GS_BASE for SWAPGS. */
  wrmsr(MSR_GS_BASE, (uint64_t)&percpu);
  wrmsr(MSR_KERNEL_GS_BASE, 0);
  /* SYSCALL (SDM vol. 3 5.8.8): SCE, targets, and RFLAGS bits cleared on entry (TF DF IF IOPL AC NT). */
  wrmsr(MSR_EFER, rdmsr(MSR_EFER) | 1);
  wrmsr(MSR_STAR, ((uint64_t)(UCODE32 & ~3) << 48) | ((uint64_t)KCODE << 32));
  wrmsr(MSR_LSTAR, (uint64_t)syscall_entry);
  wrmsr(MSR_FMASK, 0x47700);

  pic_init();
}
