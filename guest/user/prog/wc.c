/* wc: counts lines, words and bytes of its input and an FNV-1a hash of it. */
#include "libc.h"

int main(void) {
  char buf[1024];
  long lines = 0, words = 0, bytes = 0, r;
  int inword = 0;
  uint32_t h = FNV_INIT;
  while ((r = read(0, buf, sizeof buf)) > 0) {
    h = fnv1a(h, buf, (size_t)r);
    bytes += r;
    for (long i = 0; i < r; i++) {
      char c = buf[i];
      if (c == '\n') lines++;
      if (c == ' ' || c == '\n' || c == '\t') inword = 0;
      else if (!inword) { inword = 1; words++; }
    }
  }
  printf("wc: %ld lines %ld words %ld bytes fnv %08x\n", lines, words, bytes, h);
  return 0;
}
