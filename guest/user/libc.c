/* The tiny libc: process start, exit, memory, strings, printf to fd 1, threads, small helpers. */
#include "libc.h"

char **environ;
int main(int argc, char **argv);

__attribute__((noreturn)) void __libc_start(int argc, char **argv, char **envp) {
  environ = envp;
  exit(main(argc, argv));
}

void exit(int code) {
  syscall1(SYS_exit_group, code);
  __builtin_unreachable();
}
void exit_group(int code) {
  syscall1(SYS_exit_group, code);
  __builtin_unreachable();
}

int nanosleep_us(long us) {
  long ts[2] = { us / 1000000, (us % 1000000) * 1000 };
  return (int)syscall2(SYS_nanosleep, ts, 0);
}

void *memset(void *d, int c, size_t n) {
  void *r = d;
  __asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
  return r;
}
void *memcpy(void *d, const void *s, size_t n) {
  void *r = d;
  __asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
  return r;
}
void *memmove(void *d, const void *s, size_t n) {
  if ((uintptr_t)d <= (uintptr_t)s || (uintptr_t)d >= (uintptr_t)s + n) return memcpy(d, s, n);
  char *dd = d;
  const char *ss = s;
  while (n--) dd[n] = ss[n];
  return d;
}
int memcmp(const void *a, const void *b, size_t n) {
  const unsigned char *x = a, *y = b;
  for (size_t i = 0; i < n; i++) if (x[i] != y[i]) return x[i] - y[i];
  return 0;
}
size_t strlen(const char *s) { size_t n = 0; while (s[n]) n++; return n; }
int strcmp(const char *a, const char *b) {
  while (*a && *a == *b) { a++; b++; }
  return (unsigned char)*a - (unsigned char)*b;
}
int strncmp(const char *a, const char *b, size_t n) {
  for (; n; n--, a++, b++) {
    if (*a != *b) return (unsigned char)*a - (unsigned char)*b;
    if (!*a) return 0;
  }
  return 0;
}
char *strcpy(char *d, const char *s) { char *r = d; while ((*d++ = *s++)); return r; }
char *strchr(const char *s, int c) {
  for (; *s; s++) if (*s == (char)c) return (char *)s;
  return c ? 0 : (char *)s;
}
long atol(const char *s) {
  long v = 0, neg = 0;
  if (*s == '-') { neg = 1; s++; }
  while (*s >= '0' && *s <= '9') v = v * 10 + (*s++ - '0');
  return neg ? -v : v;
}

/* A bump allocator over brk: programs here are short-lived. */
static char *heap_cur, *heap_end;
void *malloc(size_t n) {
  n = (n + 15) & ~15UL;
  if (!heap_cur) heap_cur = heap_end = (char *)brk(0);
  if (heap_cur + n > heap_end) {
    size_t grow = ((heap_cur + n - heap_end) + 65535) & ~65535UL;
    char *want = heap_end + grow;
    if ((char *)brk(want) != want) return 0;
    heap_end = want;
  }
  void *r = heap_cur;
  heap_cur += n;
  return r;
}
void free(void *p) { (void)p; }

static int vdprintf(int fd, const char *fmt, va_list ap) {
  char buf[512];
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  if (n > (int)sizeof buf - 1) n = sizeof buf - 1;
  write(fd, buf, (size_t)n); /* one write per call: lines from different processes do not interleave */
  return n;
}
int printf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vdprintf(1, fmt, ap);
  va_end(ap);
  return n;
}
int dprintf(int fd, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vdprintf(fd, fmt, ap);
  va_end(ap);
  return n;
}
int puts(const char *s) { return printf("%s\n", s); }
void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vdprintf(2, fmt, ap);
  va_end(ap);
  exit(1);
}

long opt_long(int argc, char **argv, char c, long def) {
  for (int i = 1; i + 1 < argc; i++)
    if (argv[i][0] == '-' && argv[i][1] == c && argv[i][2] == 0) return atol(argv[i + 1]);
  return def;
}

int spawn(const char *prog, char *const argv[], char *const envp[]) {
  int pid = fork();
  if (pid == 0) {
    char path[64] = "/bin/";
    size_t n = strlen(prog);
    if (n > 58) n = 58;
    memcpy(path + 5, prog, n);
    path[5 + n] = 0;
    execve(path, argv, envp);
    dprintf(2, "exec %s failed\n", prog);
    exit(127);
  }
  return pid;
}

uint32_t fnv1a(uint32_t h, const void *data, size_t n) {
  const unsigned char *p = data;
  for (size_t i = 0; i < n; i++) { h ^= p[i]; h *= 16777619u; }
  return h;
}

#define CLONE_THREAD_FLAGS (0x100 | 0x200 | 0x400 | 0x800 | 0x10000 | 0x40000 | 0x100000 | 0x200000)
int thread_create(struct thread *t, size_t stack_bytes, int (*fn)(void *), void *arg) {
  t->stack_bytes = (stack_bytes + 4095) & ~4095UL;
  t->stack = mmap_anon(t->stack_bytes);
  if ((long)t->stack < 0) return -1;
  t->ctid = -1;
  long r = thread_clone(CLONE_THREAD_FLAGS, (char *)t->stack + t->stack_bytes, &t->tid, &t->ctid, fn, arg);
  if (r < 0) { munmap(t->stack, t->stack_bytes); return -1; }
  t->tid = (int)r;
  return 0;
}

void thread_join(struct thread *t) {
  for (;;) {
    int v = t->ctid;
    if (v == 0) break;
    futex_wait(&t->ctid, v);
  }
  munmap(t->stack, t->stack_bytes);
}

long read_all(int fd, char **out) {
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  for (;;) {
    if (n + 1024 + 1 > cap) {
      char *nb = malloc(cap * 2);
      memcpy(nb, buf, n);
      buf = nb;
      cap *= 2;
    }
    long r = read(fd, buf + n, cap - n - 1);
    if (r < 0) return r;
    if (r == 0) break;
    n += (size_t)r;
  }
  buf[n] = 0;
  *out = buf;
  return (long)n;
}

#ifdef VMT_LINUX
/* The Linux side of socket_dgram/sendto/recvfrom (libc.h): a UDP socket bound to 127.0.0.1:VMT_UDP_PORT,
 * answering whoever sent the last datagram. struct sockaddr_in: family, port (big-endian), address. */
struct vmt_sockaddr_in { uint16_t family, port; uint32_t addr; uint8_t zero[8]; };
static struct vmt_sockaddr_in peer;
static uint32_t peer_len;
int socket_dgram(void) {
  int fd = (int)syscall3(SYS_socket, 2, 2, 0);
  if (fd < 0) return fd;
  struct vmt_sockaddr_in a = { 2, (uint16_t)(VMT_UDP_PORT >> 8 | (VMT_UDP_PORT & 0xff) << 8), 0x0100007f, { 0 } };
  long r = syscall3(SYS_bind, fd, &a, sizeof a);
  if (r < 0) { close(fd); return (int)r; }
  return fd;
}
long recvfrom(int fd, void *b, size_t n) {
  peer_len = sizeof peer;
  return syscall6(SYS_recvfrom, fd, (long)b, (long)n, 0, (long)&peer, (long)&peer_len);
}
long sendto(int fd, const void *b, size_t n) {
  return syscall6(SYS_sendto, fd, (long)b, (long)n, 0, (long)&peer, peer_len);
}
#endif
