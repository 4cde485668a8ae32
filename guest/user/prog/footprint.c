/* footprint: what a guest can notice of the hypervisor's syscall interception (seed 004 section 6.2):
 * the value RDMSR(IA32_LSTAR) returns and a hash of the kernel's own text, read twice around a burst of
 * syscalls (the kernel reads both for it: vmtrace syscalls 502 and 503). */
#include "libc.h"

int main(void) {
  unsigned long lstar = (unsigned long)syscall0(SYS_vmt_lstar);
  unsigned long h1 = (unsigned long)syscall0(SYS_vmt_texthash);
  for (int i = 0; i < 100; i++) getpid();
  unsigned long h2 = (unsigned long)syscall0(SYS_vmt_texthash);
  printf("footprint: lstar %lx text fnv %lx %s\n", lstar, h1, h1 == h2 ? "stable" : "changing");
  return 0;
}
