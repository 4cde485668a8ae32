/* pipe: UnixBench "Pipe Throughput" (one process, 512-byte write+read) and a two-process ping-pong over a
 * pair of pipes (the "Pipe-based Context Switching" test). */
#include "libc.h"

int main(int argc, char **argv) {
  long n = opt_long(argc, argv, 'n', 1000), m = opt_long(argc, argv, 'm', 200);
  int p[2];
  char buf[512];
  uint32_t h = FNV_INIT;
  if (pipe(p) < 0) die("pipe failed\n");
  for (long i = 0; i < n; i++) {
    for (int k = 0; k < 512; k++) buf[k] = (char)(i + k);
    if (write(p[1], buf, 512) != 512 || read(p[0], buf, 512) != 512) die("pipe: short transfer\n");
    h = fnv1a(h, buf, 512);
  }
  close(p[0]);
  close(p[1]);
  int a[2], b[2];
  if (pipe(a) < 0 || pipe(b) < 0) die("pipe failed\n");
  int pid = fork();
  if (pid == 0) {
    close(a[1]);
    close(b[0]);
    unsigned v;
    while (read(a[0], &v, 4) == 4) { v++; write(b[1], &v, 4); }
    exit(0);
  }
  close(a[0]);
  close(b[1]);
  unsigned v = 0;
  for (long i = 0; i < m; i++) {
    v++;
    write(a[1], &v, 4);
    if (read(b[0], &v, 4) != 4) die("pipe: ping-pong broke\n");
  }
  close(a[1]);
  int st;
  wait4(pid, &st, 0);
  printf("pipe: %ld x 512 bytes hash %08x, %ld round trips value %u\n", n, h, m, v);
  return v == 2 * (unsigned)m && st == 0 ? 0 : 1;
}
