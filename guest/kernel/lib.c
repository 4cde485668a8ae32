/* Console (UART 0x3f8), kprintf, panic, power-off, ground truth and the string functions gcc may call. */
#include "kernel.h"

void *memset(void *d, int c, size_t n) {
  void *r = d;
  __asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
  return r;
}
void *memcpy(void *d, const void *s, size_t n) {
  void *r = d;
  __asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
  return r;
}
void *memmove(void *d, const void *s, size_t n) {
  if ((uint64_t)d <= (uint64_t)s || (uint64_t)d >= (uint64_t)s + n) return memcpy(d, s, n);
  char *dd = d;
  const char *ss = s;
  while (n--) dd[n] = ss[n];
  return d;
}
int memcmp(const void *a, const void *b, size_t n) {
  const uint8_t *x = a, *y = b;
  for (size_t i = 0; i < n; i++)
    if (x[i] != y[i]) return x[i] - y[i];
  return 0;
}
size_t strlen(const char *s) { size_t n = 0; while (s[n]) n++; return n; }
int strcmp(const char *a, const char *b) {
  while (*a && *a == *b) { a++; b++; }
  return (uint8_t)*a - (uint8_t)*b;
}
int strncmp(const char *a, const char *b, size_t n) {
  for (; n; n--, a++, b++) {
    if (*a != *b) return (uint8_t)*a - (uint8_t)*b;
    if (!*a) return 0;
  }
  return 0;
}
void strlcpy(char *d, const char *s, size_t n) {
  size_t i = 0;
  for (; i + 1 < n && s[i]; i++) d[i] = s[i];
  if (n) d[i] = 0;
}

void console_init(void) {
  outb(0x3f9, 0);    /* IER: no UART interrupts; output is polled-free (THRE always set) */
  outb(0x3fb, 0x03); /* LCR: 8N1 */
}

void console_write(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) outb(0x3f8, (uint8_t)s[i]);
}

void kprintf(const char *fmt, ...) {
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  console_write(buf, n < (int)sizeof buf ? (size_t)n : sizeof buf - 1);
}

void poweroff(uint32_t status) {
  for (;;) {
    outl(0x500, status);
    __asm__ volatile("cli; hlt");
  }
}

void panic(const char *fmt, ...) {
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  kprintf("kernel panic: %s\n", buf);
  poweroff(255);
}

/* One event buffer, 64-byte aligned so it never crosses a page (docs/machine.md "Ground truth"). */
struct gt_event {
  uint32_t type, pid, tid, ppid;
  uint64_t cr3, a0, a1, a2;
  char name[16];
};
static struct gt_event gtev __attribute__((aligned(64)));

void gt_emit(uint32_t type, struct proc *p, int tid, uint64_t a0, uint64_t a1, uint64_t a2) {
  gtev.type = type;
  gtev.pid = (uint32_t)p->pid;
  gtev.tid = (uint32_t)tid;
  gtev.ppid = (type == GT_PROC_CREATE || type == GT_PROC_EXIT || type == GT_EXEC) ? (uint32_t)p->ppid : 0;
  gtev.cr3 = p->pml4;
  gtev.a0 = a0;
  gtev.a1 = a1;
  gtev.a2 = a2;
  for (int i = 0; i < 16; i++) gtev.name[i] = 0;
  strlcpy(gtev.name, p->name, 16);
  __asm__ volatile("" : : : "memory");
  outl(0x510, (uint32_t)V2P(&gtev));
  if (type == GT_PROC_CREATE || type == GT_EXEC || type == GT_PROC_EXIT) hyperupcall_guest_event(type, p->pid, p->name);
}
