/* guard: the guard hyperupcall's use case (ATC'18 protection). Makes the kernel attempt two legitimate
 * protected writes and two a rootkit would make (syscall 506: IA32_LSTAR re-set to the kernel's syscall
 * entry; CR0.AM set with WP kept; LSTAR pointed elsewhere; CR0.WP cleared), prints whether each took
 * effect, checks that system calls still work, then prints the guard's log page (syscall 507):
 * `guard: NAME: applied|blocked`, `guard: blocked seq S reason R what W value V rip X`,
 * `guard: log checked C, blocked B`. Exit status 0 unless a syscall fails. */
#include "libc.h"

struct rec { unsigned long seq, what, value, rip; };
struct glog { unsigned long checked, blocked, head, reserved[5]; struct rec rec[64]; };
static struct glog g;

int main(void) {
  static const char *const names[4] = { "lstar legitimate", "cr0 legitimate (set AM)", "lstar rootkit", "cr0 rootkit (clear WP)" };
  for (long mode = 0; mode < 4; mode++) {
    long r = syscall1(SYS_vmt_guardtest, mode);
    if (r < 0) {
      printf("guard: %s: error %ld\n", names[mode], r);
      return 1;
    }
    printf("guard: %s: %s\n", names[mode], r ? "applied" : "blocked");
  }
  printf("guard: syscalls still work: pid %d\n", getpid());
  long n = syscall2(SYS_vmt_guardlog, &g, sizeof g);
  if (n < 0) {
    printf("guard: no log (%ld)\n", n);
    return 1;
  }
  unsigned long first = g.head > 64 ? g.head - 64 : 0;
  for (unsigned long i = first; i < g.head; i++) {
    const struct rec *x = &g.rec[i % 64];
    printf("guard: blocked seq %lu reason %lu what 0x%lx value 0x%lx rip %lx\n", x->seq, x->what >> 32, x->what & 0xffffffffu,
           x->value, x->rip);
  }
  printf("guard: log checked %lu, blocked %lu\n", g.checked, g.blocked);
  return 0;
}
