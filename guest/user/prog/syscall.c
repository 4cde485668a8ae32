/* syscall: UnixBench "System Call Overhead": a getpid loop (plus getppid/gettid to check each answer). */
#include "libc.h"

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 10000;
  int pid = getpid(), bad = 0;
  for (long i = 0; i < n; i++)
    if (getpid() != pid) bad++;
  int ppid = getppid(), tid = gettid();
  if (tid != pid) bad++;
  printf("syscall: %ld getpid calls, pid %d ppid %d, %d wrong\n", n, pid, ppid, bad);
  return bad ? 1 : 0;
}
