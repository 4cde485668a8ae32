/* uniq: drops adjacent duplicate lines. */
#include "libc.h"

int main(void) {
  char *in;
  long len = read_all(0, &in);
  if (len < 0) return 1;
  char *out = malloc((size_t)len + 1), *prev = 0;
  long o = 0;
  for (char *s = in; *s;) {
    char *nl = strchr(s, '\n');
    if (nl) *nl = 0;
    if (!prev || strcmp(prev, s) != 0) {
      size_t l = strlen(s);
      memcpy(out + o, s, l);
      o += (long)l;
      out[o++] = '\n';
    }
    prev = s;
    if (!nl) break;
    s = nl + 1;
  }
  for (long w = 0; w < o;) {
    long r = write(1, out + w, (size_t)(o - w > 4096 ? 4096 : o - w));
    if (r <= 0) return 1;
    w += r;
  }
  return 0;
}
