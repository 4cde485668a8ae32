/* fault MODE: a program that faults on purpose; the kernel must kill it and carry on.
 * null (read address 0), write (store into the text segment), nx (jump into the stack), ud (UD2),
 * gp (a privileged instruction), div (divide by zero), kernel (read a kernel address), thread (one of
 * four threads faults while the others sleep, wait on a futex or spin: the whole process dies). */
#include "libc.h"

static volatile int never;
static int sleeper(void *arg) { for (;;) nanosleep_us(1000); return 0; }
static int waiter(void *arg) { for (;;) futex_wait(&never, 0); return 0; }
static int spinner(void *arg) { for (;;) sched_yield(); return 0; }
static int crasher(void *arg) { volatile int *volatile bad = (volatile int *)8; nanosleep_us(500); return *bad; }

int main(int argc, char **argv) {
  const char *m = argc > 1 ? argv[1] : "null";
  printf("fault: %s\n", m);
  if (strcmp(m, "null") == 0) return *(volatile int *)0;
  if (strcmp(m, "write") == 0) { *(volatile char *)(void *)main = 0; return 0; }
  if (strcmp(m, "nx") == 0) { volatile unsigned char code[4] = { 0xc3 }; ((void (*)(void))(void *)code)(); return 0; }
  if (strcmp(m, "ud") == 0) __asm__ volatile("ud2");
  if (strcmp(m, "gp") == 0) __asm__ volatile("cli");
  if (strcmp(m, "div") == 0) { volatile int z = 0; return 10 / z; }
  if (strcmp(m, "kernel") == 0) return *(volatile int *)0xffffffff80100000UL;
  if (strcmp(m, "thread") == 0) {
    struct thread t[4];
    int (*fns[4])(void *) = { sleeper, waiter, spinner, crasher };
    for (int i = 0; i < 4; i++) thread_create(&t[i], 16384, fns[i], 0);
    int p[2];
    pipe(p);
    char c;
    read(p[0], &c, 1); /* blocks for ever: the main thread dies blocked in a pipe read */
  }
  return 0;
}
