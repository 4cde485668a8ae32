/* A tiny libc: Linux x86-64 syscall wrappers and a few helpers. */
#ifndef VMT_LIBC_H
#define VMT_LIBC_H
#include <stdint.h>
#include <stddef.h>
#include <stdarg.h>
#include "../common/fmt.h"

#define SYS_read 0
#define SYS_write 1
#define SYS_open 2
#define SYS_close 3
#define SYS_lseek 8
#define SYS_mmap 9
#define SYS_munmap 11
#define SYS_brk 12
#define SYS_pipe 22
#define SYS_sched_yield 24
#define SYS_dup 32
#define SYS_dup2 33
#define SYS_nanosleep 35
#define SYS_getpid 39
#define SYS_socket 41
#define SYS_sendto 44
#define SYS_recvfrom 45
#define SYS_clone 56
#define SYS_fork 57
#define SYS_execve 59
#define SYS_exit 60
#define SYS_wait4 61
#define SYS_getppid 110
#define SYS_reboot 169
#define SYS_gettid 186
#define SYS_futex 202
#define SYS_clock_gettime 228
#define SYS_exit_group 231
#define SYS_rt_sigaction 13
#define SYS_ioctl 16
#define SYS_connect 42
#define SYS_bind 49
#define SYS_mount 165
#define SYS_iopl 172
#define SYS_finit_module 313
#define SYS_vmt_sethz 500
#define SYS_vmt_nprocs 501
#define SYS_vmt_lstar 502
#define SYS_vmt_texthash 503
#define SYS_vmt_hyperupcall 504
#define SYS_vmt_huring 505
#define SYS_vmt_guardtest 506
#define SYS_vmt_guardlog 507

#define O_RDONLY 0
#define O_WRONLY 1
#define O_RDWR 2
#define O_CREAT 0x40
#define O_TRUNC 0x200

static inline long syscall6(long n, long a, long b, long c, long d, long e, long f) {
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  register long r9 __asm__("r9") = f;
  long ret;
  __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return ret;
}
#define syscall0(n) syscall6(n, 0, 0, 0, 0, 0, 0)
#define syscall1(n, a) syscall6(n, (long)(a), 0, 0, 0, 0, 0)
#define syscall2(n, a, b) syscall6(n, (long)(a), (long)(b), 0, 0, 0, 0)
#define syscall3(n, a, b, c) syscall6(n, (long)(a), (long)(b), (long)(c), 0, 0, 0)

static inline long read(int fd, void *b, size_t n) { return syscall3(SYS_read, fd, b, n); }
static inline long write(int fd, const void *b, size_t n) { return syscall3(SYS_write, fd, b, n); }
static inline int open(const char *p, int flags) { return (int)syscall3(SYS_open, p, flags, 0644); }
static inline int close(int fd) { return (int)syscall1(SYS_close, fd); }
static inline long lseek(int fd, long off, int whence) { return syscall3(SYS_lseek, fd, off, whence); }
static inline int pipe(int fds[2]) { return (int)syscall1(SYS_pipe, fds); }
static inline int dup2(int a, int b) { return (int)syscall2(SYS_dup2, a, b); }
static inline int sched_yield(void) { return (int)syscall0(SYS_sched_yield); }
static inline int getpid(void) { return (int)syscall0(SYS_getpid); }
static inline int getppid(void) { return (int)syscall0(SYS_getppid); }
static inline int gettid(void) { return (int)syscall0(SYS_gettid); }
static inline int fork(void) { return (int)syscall0(SYS_fork); }
static inline int execve(const char *p, char *const argv[], char *const envp[]) { return (int)syscall3(SYS_execve, p, argv, envp); }
static inline int wait4(int pid, int *st, int opt) { return (int)syscall6(SYS_wait4, pid, (long)st, opt, 0, 0, 0); }
static inline void *mmap_anon(size_t len) { return (void *)syscall6(SYS_mmap, 0, (long)len, 3, 0x22, -1, 0); }
static inline int munmap(void *a, size_t len) { return (int)syscall2(SYS_munmap, a, len); }
static inline long brk(void *a) { return syscall1(SYS_brk, a); }
static inline int futex_wait(volatile int *a, int v) { return (int)syscall6(SYS_futex, (long)a, 0, v, 0, 0, 0); }
static inline int futex_wake(volatile int *a, int n) { return (int)syscall6(SYS_futex, (long)a, 1, n, 0, 0, 0); }
#ifdef VMT_LINUX
/* Linux: the server's socket is UDP 127.0.0.1:VMT_UDP_PORT on the loopback device; replies go to the last
 * sender (libc.c). Our own kernel's socket is the NIC, addresses ignored. */
#define VMT_UDP_PORT 11211
int socket_dgram(void);
long sendto(int fd, const void *b, size_t n);
long recvfrom(int fd, void *b, size_t n);
#else
static inline int socket_dgram(void) { return (int)syscall3(SYS_socket, 2, 2, 0); }
static inline long sendto(int fd, const void *b, size_t n) { return syscall6(SYS_sendto, fd, (long)b, (long)n, 0, 0, 0); }
static inline long recvfrom(int fd, void *b, size_t n) { return syscall6(SYS_recvfrom, fd, (long)b, (long)n, 0, 0, 0); }
#endif
__attribute__((noreturn)) void exit(int code);
__attribute__((noreturn)) void exit_group(int code);
int nanosleep_us(long us);
long thread_clone(unsigned long flags, void *stack_top, int *ptid, volatile int *ctid, int (*fn)(void *), void *arg);
/* A thread with its own mmap'd stack of stack_bytes; join waits on the kernel's CLONE_CHILD_CLEARTID. */
struct thread { int tid; volatile int ctid; void *stack; size_t stack_bytes; };
int thread_create(struct thread *t, size_t stack_bytes, int (*fn)(void *), void *arg);
void thread_join(struct thread *t);

#define WIFEXITED(s) (((s) & 0x7f) == 0)
#define WEXITSTATUS(s) (((s) >> 8) & 0xff)
#define WTERMSIG(s) ((s) & 0x7f)

extern char **environ;
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strcpy(char *d, const char *s);
char *strchr(const char *s, int c);
long atol(const char *s);
void *malloc(size_t n);
void free(void *p);
int printf(const char *fmt, ...);
int dprintf(int fd, const char *fmt, ...);
int puts(const char *s);
void die(const char *fmt, ...) __attribute__((noreturn));
/* options: -x VALUE pairs after the program name; returns VALUE for flag c or def */
long opt_long(int argc, char **argv, char c, long def);
int spawn(const char *prog, char *const argv[], char *const envp[]); /* fork + execve; returns pid */
uint32_t fnv1a(uint32_t h, const void *data, size_t n);
static inline uint32_t xorshift32(uint32_t *s) { uint32_t x = *s; x ^= x << 13; x ^= x >> 17; x ^= x << 5; return *s = x; }
#define FNV_INIT 0x811c9dc5u
#endif
long read_all(int fd, char **out); /* the whole input until EOF, NUL-terminated, in malloc'd memory */
