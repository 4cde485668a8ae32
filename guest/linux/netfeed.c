/* netfeed: the Linux guest's stand-in for the NIC's packet schedule (guest/linux/README.md). Sends the
 * request frames of FILE (each a 2-byte little-endian length, then the UDP payload) to the server on
 * 127.0.0.1:11211 one at a time and waits for each reply, so the server sees exactly the requests the
 * hypervisor's schedule carries for our own guest, in the same order; the last frame ("quit") gets no reply.
 * A request sent before the server has bound its port comes back as ECONNREFUSED (loopback ICMP port
 * unreachable) and is sent again. Prints an FNV-1a digest of the replies: it equals the server's digest. */
#include "libc.h"

int main(int argc, char **argv) {
  if (argc != 2) die("usage: netfeed FILE\n");
  int in = open(argv[1], O_RDONLY);
  if (in < 0) die("netfeed: cannot open %s\n", argv[1]);
  char *frames;
  long total = read_all(in, &frames);
  close(in);
  if (total < 0) die("netfeed: read failed\n");
  int fd = (int)syscall3(SYS_socket, 2, 2, 0);
  struct { uint16_t family, port; uint32_t addr; uint8_t zero[8]; } a = { 2, (uint16_t)(VMT_UDP_PORT >> 8 | (VMT_UDP_PORT & 0xff) << 8), 0x0100007f, { 0 } };
  if (fd < 0 || syscall3(SYS_connect, fd, &a, sizeof a) < 0) die("netfeed: no socket\n");
  static char reply[2048];
  long sent = 0, replies = 0, retries = 0;
  uint32_t digest = FNV_INIT;
  for (long o = 0; o + 2 <= total;) {
    long len = (unsigned char)frames[o] | (long)(unsigned char)frames[o + 1] << 8;
    char *f = frames + o + 2;
    o += 2 + len;
    if (o > total) die("netfeed: truncated frame\n");
    int quit = len >= 12 && strncmp(f + 8, "quit", 4) == 0;
    for (;;) {
      if (syscall6(SYS_sendto, fd, (long)f, len, 0, 0, 0) != len) die("netfeed: send failed\n");
      if (quit) break;
      long r = syscall6(SYS_recvfrom, fd, (long)reply, sizeof reply, 0, 0, 0);
      if (r == -111 && retries < 1000) { retries++; nanosleep_us(1000); continue; } /* ECONNREFUSED */
      if (r < 0) die("netfeed: receive failed (%ld)\n", r);
      digest = fnv1a(digest, reply, (size_t)r);
      replies++;
      break;
    }
    if (!quit) sent++;
  }
  printf("netfeed: %ld requests, %ld replies, digest %08x\n", sent, replies, digest);
  return 0;
}
