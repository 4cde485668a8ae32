/* spawn: UnixBench "Process Creation": fork a child that exits at once, wait for it, repeat. */
#include "libc.h"

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 100;
  long ok = 0;
  for (long i = 0; i < n; i++) {
    int pid = fork();
    if (pid == 0) exit((int)(i & 0x7f));
    if (pid < 0) die("spawn: fork failed (%d)\n", pid);
    int st;
    if (wait4(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == (i & 0x7f)) ok++;
  }
  printf("spawn: %ld children, %ld exit statuses correct\n", n, ok);
  return ok == n ? 0 : 1;
}
