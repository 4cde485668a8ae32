/* fcopy: UnixBench "File Copy": copy a file on the block device with a given buffer size, then read both
 * back and compare FNV-1a hashes. fcopy [-b BUF] [-r REPS] SRC DST */
#include "libc.h"

static uint32_t hash_file(const char *name, char *buf, long bufsize, long *bytes) {
  int fd = open(name, O_RDONLY);
  if (fd < 0) die("fcopy: cannot open %s\n", name);
  uint32_t h = FNV_INIT;
  long r, total = 0;
  while ((r = read(fd, buf, (size_t)bufsize)) > 0) { h = fnv1a(h, buf, (size_t)r); total += r; }
  close(fd);
  *bytes = total;
  return h;
}

int main(int argc, char **argv) {
  long bufsize = opt_long(argc, argv, 'b', 1024), reps = opt_long(argc, argv, 'r', 1);
  if (argc < 3 || bufsize <= 0 || bufsize > 65536) die("usage: fcopy [-b BUF] [-r REPS] SRC DST\n");
  const char *src = argv[argc - 2], *dst = argv[argc - 1];
  char *buf = malloc((size_t)bufsize);
  long copied = 0;
  for (long k = 0; k < reps; k++) {
    int in = open(src, O_RDONLY), out = open(dst, O_WRONLY | O_CREAT | O_TRUNC);
    if (in < 0 || out < 0) die("fcopy: open failed (%d, %d)\n", in, out);
    long r;
    while ((r = read(in, buf, (size_t)bufsize)) > 0) {
      if (write(out, buf, (size_t)r) != r) die("fcopy: short write\n");
      copied += r;
    }
    if (r < 0) die("fcopy: read error %ld\n", r);
    close(in);
    close(out);
  }
  long sbytes, dbytes;
  uint32_t hs = hash_file(src, buf, bufsize, &sbytes), hd = hash_file(dst, buf, bufsize, &dbytes);
  printf("fcopy: %ld copies of %ld bytes with a %ld-byte buffer, src fnv %08x, dst %ld bytes fnv %08x%s\n", reps, sbytes,
         bufsize, hs, dbytes, hd, hs == hd && sbytes == dbytes ? "" : " MISMATCH");
  return hs == hd && sbytes == dbytes && copied == reps * sbytes ? 0 : 1;
}
