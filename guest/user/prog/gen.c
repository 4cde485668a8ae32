/* gen COUNT SEED [MOD]: COUNT lines, each xorshift32 (from SEED) modulo MOD (default 1000), in decimal. */
#include "libc.h"

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 100;
  uint32_t s = argc > 2 ? (uint32_t)atol(argv[2]) : 1;
  long mod = argc > 3 ? atol(argv[3]) : 1000;
  if (s == 0) s = 1;
  char buf[512];
  int o = 0;
  for (long i = 0; i < n; i++) {
    o += snprintf(buf + o, sizeof buf - (size_t)o, "%u\n", xorshift32(&s) % (uint32_t)mod);
    if (o > 480) { write(1, buf, (size_t)o); o = 0; }
  }
  if (o) write(1, buf, (size_t)o);
  return 0;
}
