/* hu: the user side of hyperupcalls (seed 003). `hu reg NAME` registers a hyperupcall the kernel ships
 * (syscall 504; memcached-style "the application registers with the guest, which registers with the
 * hypervisor", seed 003 4.2). `hu trace` copies the unified-trace ring out (syscall 505) and prints it:
 * `hu: exit SEQ icount N reason R rip X` for the hypervisor's records, `hu: guest TYPE pid P NAME` for the
 * kernel's, then `hu: trace R records, head H`. */
#include "libc.h"

struct rec { unsigned long seq, icount, reason, rip; };
static unsigned char buf[64 + 4096 * 32];

int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "reg")) {
    long r = syscall1(SYS_vmt_hyperupcall, argv[2]);
    printf("hu: register %s: %ld\n", argv[2], r);
    return r < 0 ? 1 : 0;
  }
  if (argc != 2 || strcmp(argv[1], "trace")) {
    printf("usage: hu reg NAME | hu trace\n");
    return 2;
  }
  long n = syscall2(SYS_vmt_huring, buf, sizeof buf);
  if (n < 0) {
    printf("hu: no trace ring (%ld)\n", n);
    return 1;
  }
  unsigned long head = *(unsigned long *)buf, slots = 4096;
  unsigned long first = head > slots ? head - slots : 0;
  const struct rec *r = (const struct rec *)(buf + 64);
  for (unsigned long i = first; i < head; i++) {
    const struct rec *x = &r[i % slots];
    if (x->reason >= 0x10000) {
      char name[9];
      for (int k = 0; k < 8; k++) name[k] = (char)(x->rip >> (8 * k));
      name[8] = 0;
      const char *t = (x->reason & 0xffff) == 1 ? "create" : (x->reason & 0xffff) == 7 ? "exec" : "exit";
      printf("hu: guest %s pid %lu %s\n", t, x->seq, name);
    } else {
      printf("hu: exit %lu icount %lu reason %lu rip %lx\n", x->seq, x->icount, x->reason, x->rip);
    }
  }
  printf("hu: trace %lu records, head %lu\n", head - first, head);
  return 0;
}
