/* sort: sorts its input lines (byte order, like LC_ALL=C sort) with a merge sort. */
#include "libc.h"

static void msort(char **a, char **tmp, long n) {
  if (n < 2) return;
  long h = n / 2;
  msort(a, tmp, h);
  msort(a + h, tmp, n - h);
  long i = 0, j = h, k = 0;
  while (i < h && j < n) tmp[k++] = strcmp(a[i], a[j]) <= 0 ? a[i++] : a[j++];
  while (i < h) tmp[k++] = a[i++];
  while (j < n) tmp[k++] = a[j++];
  memcpy(a, tmp, (size_t)n * sizeof *a);
}

int main(void) {
  char *in;
  long len = read_all(0, &in);
  if (len < 0) return 1;
  long n = 0;
  for (long i = 0; i < len; i++) if (in[i] == '\n') n++;
  if (len && in[len - 1] != '\n') n++;
  char **lines = malloc((size_t)(n + 1) * sizeof *lines), **tmp = malloc((size_t)(n + 1) * sizeof *lines);
  long k = 0;
  for (char *s = in; k < n && *s;) {
    lines[k++] = s;
    char *nl = strchr(s, '\n');
    if (!nl) break;
    *nl = 0;
    s = nl + 1;
  }
  msort(lines, tmp, k);
  char *out = malloc((size_t)len + 2);
  long o = 0;
  for (long i = 0; i < k; i++) {
    size_t l = strlen(lines[i]);
    memcpy(out + o, lines[i], l);
    o += (long)l;
    out[o++] = '\n';
  }
  for (long w = 0; w < o;) {
    long r = write(1, out + w, (size_t)(o - w > 4096 ? 4096 : o - w));
    if (r <= 0) return 1;
    w += r;
  }
  return 0;
}
