/* execl: UnixBench "Execl Throughput": the program execs itself with a decremented counter. */
#include "libc.h"

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 10;
  long total = argc > 2 ? atol(argv[2]) : n;
  if (n <= 0) {
    printf("execl: %ld execs done, pid %d\n", total, getpid());
    return 0;
  }
  char a1[24], a2[24];
  snprintf(a1, sizeof a1, "%ld", n - 1);
  snprintf(a2, sizeof a2, "%ld", total);
  char *args[] = { "execl", a1, a2, 0 };
  execve("/bin/execl", args, environ);
  die("execl: exec failed\n");
}
