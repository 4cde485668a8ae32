/* whet [loops]: the double-precision Whetstone benchmark (common/whetstone.c), built with SSE2 (the kernel
 * saves and restores the x87/SSE state across context switches). Prints the final values of the modules'
 * variables as IEEE bit patterns, and their FNV-1a hash, which test/whetstone.test.ts compares with the
 * same source run natively on the host; and the TSC cycles the benchmark took (guest time). */
#include "libc.h"
#include "../common/whetstone.h"

static inline uint64_t rdtsc(void) {
  uint32_t lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return ((uint64_t)hi << 32) | lo;
}

int main(int argc, char **argv) {
  long loops = argc > 1 ? atol(argv[1]) : 10;
  uint64_t out[WHET_RESULTS];
  uint64_t t0 = rdtsc();
  whetstone(loops, out);
  uint64_t t1 = rdtsc();
  for (int i = 0; i < WHET_RESULTS; i++) printf("whet: r%d %lx\n", i, out[i]);
  printf("whet: %ld loops, hash %x\n", loops, fnv1a(2166136261u, out, sizeof out));
  printf("whet: tsc cycles %lu\n", t1 - t0);
  return 0;
}
