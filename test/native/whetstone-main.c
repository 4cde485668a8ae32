/* Native host run of the guest's Whetstone (guest/common/whetstone.c), printing what guest/user/prog/whet.c
 * prints (minus the guest-time line): the oracle of test/whetstone.test.ts. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "../../guest/common/whetstone.h"

static uint32_t fnv1a(uint32_t h, const void *data, size_t n) {
  const uint8_t *p = data;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
  return h;
}

int main(int argc, char **argv) {
  long loops = argc > 1 ? atol(argv[1]) : 10;
  uint64_t out[WHET_RESULTS];
  whetstone(loops, out);
  for (int i = 0; i < WHET_RESULTS; i++) printf("whet: r%d %lx\n", i, (unsigned long)out[i]);
  printf("whet: %ld loops, hash %x\n", loops, fnv1a(2166136261u, out, sizeof out));
  return 0;
}
