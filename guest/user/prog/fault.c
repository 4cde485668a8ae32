/* fault MODE: a program that faults on purpose; the kernel must kill it and carry on.
 * null (read address 0), write (store into the text segment), nx (jump into the stack), ud (UD2),
 * gp (a privileged instruction), div (divide by zero), kernel (read a kernel address). */
#include "libc.h"

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
  return 0;
}
