/* init: runs the workload script (/workload); grammar in guest/README.md. Powers off with the number of
 * failed commands as the status. Built with VMT_LINUX it is the Linux initramfs's /init (guest/linux/README.md):
 * the script is /workloads/<run> (run=NAME on the kernel command line, default mixed); its `param KEY DEFAULT`
 * lines declare the parameters its `${KEY}`s stand for, and `KEY=VALUE` arguments (what the kernel passes after
 * `--` on its command line) override the defaults. */
#include "libc.h"

#define MAX_LINES 512
#define MAX_ARGS 32
static char script[32768];
static char *lines[MAX_LINES];
static int nlines, failures;
static char stack_env[32];
static char *envp[2];
static int bg_pids[128], nbg;

#ifdef VMT_LINUX
/* Workload parameters: KEY=VALUE arguments of /init, then the script's `param KEY DEFAULT` lines. */
#define MAX_PARAMS 16
static const char *param_key[MAX_PARAMS], *param_val[MAX_PARAMS];
static int param_declared[MAX_PARAMS], nparams;

static char param_pool[1024];
static size_t param_used;

static const char *keep(const char *s) {
  size_t n = strlen(s) + 1;
  if (param_used + n > sizeof param_pool) return "";
  memcpy(param_pool + param_used, s, n);
  param_used += n;
  return param_pool + param_used - n;
}

static int param_find(const char *key, size_t n) {
  for (int i = 0; i < nparams; i++)
    if (strlen(param_key[i]) == n && strncmp(param_key[i], key, n) == 0) return i;
  return -1;
}

/* `line` with each ${KEY} replaced by its value into out[n]; 0 (and a failure counted) on an unknown key or overflow. */
static int expand(const char *line, char *out, size_t n) {
  size_t o = 0;
  for (const char *s = line; *s; s++) {
    if (s[0] == '$' && s[1] == '{') {
      const char *end = strchr(s + 2, '}');
      int i = end ? param_find(s + 2, (size_t)(end - s - 2)) : -1;
      if (i < 0 || !param_val[i]) { printf("init: unknown parameter in: %s\n", line); failures++; return 0; }
      size_t l = strlen(param_val[i]);
      if (o + l >= n) break;
      memcpy(out + o, param_val[i], l);
      o += l;
      s = end;
    } else {
      if (o + 1 >= n) break;
      out[o++] = *s;
    }
  }
  out[o] = 0;
  return 1;
}
#endif

static int split(char *s, char **argv) {
  int n = 0;
  while (*s && n < MAX_ARGS - 1) {
    while (*s == ' ' || *s == '\t') s++;
    if (!*s) break;
    if (*s == '"') {
      argv[n++] = ++s;
      while (*s && *s != '"') s++;
    } else {
      argv[n++] = s;
      while (*s && *s != ' ' && *s != '\t') s++;
    }
    if (*s) *s++ = 0;
  }
  argv[n] = 0;
  return n;
}

static void describe(int st, char *out, size_t n) {
  if (WIFEXITED(st)) snprintf(out, n, "exit %d", WEXITSTATUS(st));
  else snprintf(out, n, "killed by signal %d", WTERMSIG(st));
}

static int start(char **argv) {
  int pid = spawn(argv[0], argv, envp[0] ? envp : 0);
  if (pid < 0) { printf("init: cannot start %s (%d)\n", argv[0], pid); failures++; }
  return pid;
}

/* Run lines [from, to); returns the index after the block. */
static void run_block(int from, int to);

static int find_end(int from) {
  int depth = 0;
  for (int i = from; i < nlines; i++) {
    char *s = lines[i];
    while (*s == ' ' || *s == '\t') s++;
    if (strncmp(s, "repeat ", 7) == 0) depth++;
    else if (strncmp(s, "end", 3) == 0 && (s[3] == 0 || s[3] == ' ' || s[3] == '#')) {
      if (depth == 0) return i;
      depth--;
    }
  }
  printf("init: repeat without end\n");
  failures++;
  return nlines;
}

static void run_line(char *line) {
  char copy[256];
#ifdef VMT_LINUX
  if (!expand(line, copy, sizeof copy)) return;
#else
  size_t n = strlen(line);
  if (n >= sizeof copy) n = sizeof copy - 1;
  memcpy(copy, line, n);
  copy[n] = 0;
#endif
  char *hash = strchr(copy, '#');
  if (hash) *hash = 0;
  char *argv[MAX_ARGS];
  int argc = split(copy, argv);
  if (argc == 0) return;
  char *cmd = argv[0];
  char st[48];
  if (strcmp(cmd, "echo") == 0) {
    char out[256];
    size_t o = 0;
    for (int i = 1; i < argc; i++) {
      size_t l = strlen(argv[i]);
      if (o + l + 2 >= sizeof out) break;
      if (i > 1) out[o++] = ' ';
      memcpy(out + o, argv[i], l);
      o += l;
    }
    out[o++] = '\n';
    write(1, out, o);
  } else if (strcmp(cmd, "hz") == 0 && argc == 2) {
#ifndef VMT_LINUX /* Linux's tick is its own (CONFIG_HZ=250) */
    if (syscall1(SYS_vmt_sethz, atol(argv[1])) < 0) { printf("init: bad hz\n"); failures++; }
#endif
#ifdef VMT_LINUX
  } else if (strcmp(cmd, "param") == 0 && argc == 3) {
    /* declared before the script ran (main): nothing to do */
#endif
  } else if (strcmp(cmd, "stack") == 0 && argc == 2) {
    snprintf(stack_env, sizeof stack_env, "STACK=%ld", atol(argv[1]));
    envp[0] = stack_env;
    envp[1] = 0;
  } else if ((strcmp(cmd, "run") == 0 || strcmp(cmd, "try") == 0 || strcmp(cmd, "xfail") == 0) && argc >= 2) {
    int pid = start(argv + 1);
    if (pid < 0) return;
    int status = 0;
    if (wait4(pid, &status, 0) != pid) { printf("init: wait for %s failed\n", argv[1]); failures++; return; }
    describe(status, st, sizeof st);
    if (cmd[0] == 'r' && status != 0) { printf("init: %s failed: %s\n", argv[1], st); failures++; }
    else if (cmd[0] == 't') printf("init: %s: %s\n", argv[1], st);
    else if (cmd[0] == 'x') {
      if (status == 0) { printf("init: %s did not fail\n", argv[1]); failures++; }
      else printf("init: %s failed as expected: %s\n", argv[1], st);
    }
  } else if (strcmp(cmd, "bg") == 0 && argc >= 2) {
    int pid = start(argv + 1);
    if (pid > 0 && nbg < 128) bg_pids[nbg++] = pid;
  } else if (strcmp(cmd, "wait") == 0) {
    for (int i = 0; i < nbg; i++) {
      int status = 0;
      if (wait4(bg_pids[i], &status, 0) != bg_pids[i]) { printf("init: wait failed\n"); failures++; continue; }
      if (status != 0) { describe(status, st, sizeof st); printf("init: pid %d failed: %s\n", bg_pids[i], st); failures++; }
    }
    nbg = 0;
  } else {
    printf("init: unknown command: %s\n", cmd);
    failures++;
  }
}

static void run_block(int from, int to) {
  for (int i = from; i < to; i++) {
    char *s = lines[i];
    while (*s == ' ' || *s == '\t') s++;
    if (strncmp(s, "repeat ", 7) == 0) {
      long count = atol(s + 7);
      int end = find_end(i + 1);
      for (long k = 0; k < count; k++) run_block(i + 1, end);
      i = end;
    } else {
      run_line(s);
    }
  }
}

#ifdef VMT_LINUX
/* Ends the machine: vmtrace's power-off port (docs/machine.md, 0x500, a 32-bit status) after iopl(3); where
 * no such port exists (QEMU) the kernel's restart (LINUX_REBOOT_CMD_RESTART), which with reboot=t is a
 * triple fault (QEMU -no-reboot then exits). The kernel's power-off would only halt: without ACPI it
 * cannot power off and turns POWER_OFF into HALT. */
static void restart(int sig) { syscall6(SYS_reboot, 0xfee1dead, 672274793, 0x01234567, 0, 0, 0); }

static __attribute__((noreturn)) void power_off(int status) {
  /* A CPU without the TSS I/O permission bitmap (which Linux's iopl(3) emulation relies on) faults on the
   * OUT: the SIGSEGV handler then takes the restart path, so the run still ends cleanly. */
  /* x86-64 delivers a signal only with SA_RESTORER (0x04000000) set; the handler never returns to it. */
  struct { void (*handler)(int); unsigned long flags; void (*restorer)(int); unsigned long mask; } sa = { restart, 0x04000000, restart, 0 };
  syscall6(SYS_rt_sigaction, 11, (long)&sa, 0, 8, 0, 0);
  if (syscall1(SYS_iopl, 3) == 0) __asm__ volatile("outl %0, %w1" : : "a"(status), "Nd"((uint16_t)0x500));
  restart(0);
  for (;;) syscall1(SYS_exit, status); /* not reached: the reboot call does not return */
}

static const char *getenv_init(const char *name) {
  size_t n = strlen(name);
  for (char **e = environ; e && *e; e++)
    if (strncmp(*e, name, n) == 0 && (*e)[n] == '=') return *e + n + 1;
  return 0;
}

/* /proc for the programs that look there; the loopback device up for the server's UDP socket
 * (SIOCSIFFLAGS with IFF_UP | IFF_RUNNING). */
static void linux_setup(void) {
  long r = syscall6(SYS_mount, (long)"proc", (long)"/proc", (long)"proc", 0, 0, 0);
  if (r < 0) printf("init: mount /proc failed (%ld)\n", r);
  int s = (int)syscall3(SYS_socket, 2, 2, 0);
  struct { char name[16]; short flags; char pad[22]; } ifr;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.name, "lo");
  ifr.flags = 0x1 | 0x40;
  r = s < 0 ? s : syscall3(SYS_ioctl, s, 0x8914, &ifr);
  if (r < 0) printf("init: cannot bring lo up (%ld)\n", r);
  if (s >= 0) close(s);
}
#endif

#ifdef VMT_LINUX
/* witness=on|hyperupcall on the command line: load the kernel-module witness (guest/linux/witness) before the
 * workload, with hyperupcall=1 for the second (it then registers the tracing hyperupcall too). */
static void load_witness(const char *mode) {
  if (!mode || !*mode || strcmp(mode, "off") == 0) return;
  int fd = open("/lib/modules/vmt_witness.ko", O_RDONLY);
  long r = fd < 0 ? fd : syscall3(SYS_finit_module, fd, strcmp(mode, "hyperupcall") == 0 ? "hyperupcall=1" : "", 0);
  if (fd >= 0) close(fd);
  if (r < 0) { printf("init: cannot load the witness module (%ld)\n", r); failures++; }
}
#endif

int main(int argc, char **argv) {
#ifdef VMT_LINUX
  linux_setup();
  load_witness(getenv_init("witness"));
  const char *run = getenv_init("run");
  if (!run || !*run) run = "mixed";
  char path[64];
  snprintf(path, sizeof path, "/workloads/%s", run);
  int fd = strlen(run) < 40 && !strchr(run, '/') ? open(path, O_RDONLY) : -1;
  if (fd < 0) {
    printf("init: no workload %s\n", run);
    power_off(255);
  }
#else
  int fd = open("/workload", O_RDONLY);
  if (fd < 0) die("init: no workload\n");
#endif
  long n = 0, r;
  while ((r = read(fd, script + n, sizeof script - 1 - (size_t)n)) > 0) n += r;
  close(fd);
  script[n] = 0;
  for (char *s = script; *s && nlines < MAX_LINES;) {
    lines[nlines++] = s;
    char *nl = strchr(s, '\n');
    if (!nl) break;
    *nl = 0;
    if (nl > s && nl[-1] == '\r') nl[-1] = 0;
    s = nl + 1;
  }
#ifdef VMT_LINUX
  /* KEY=VALUE arguments, then the script's declarations: an argument the script does not declare is a failure.
   * Words without '=' are kernel options the kernel did not know (nokaslr: read by its early boot code only),
   * which it passes to init as arguments too: not ours. */
  for (int i = 1; i < argc; i++) {
    char *eq = strchr(argv[i], '=');
    if (!eq) continue;
    if (eq == argv[i] || nparams == MAX_PARAMS) { printf("init: ignoring argument %s\n", argv[i]); failures++; continue; }
    *eq = 0;
    param_key[nparams] = argv[i];
    param_val[nparams++] = eq + 1;
  }
  for (int l = 0; l < nlines; l++) {
    char *s = lines[l];
    while (*s == ' ' || *s == '\t') s++;
    if (strncmp(s, "param ", 6) != 0) continue;
    char buf[128], *av[MAX_ARGS];
    size_t len = strlen(s);
    if (len >= sizeof buf) len = sizeof buf - 1;
    memcpy(buf, s, len);
    buf[len] = 0;
    if (split(buf, av) != 3) { printf("init: bad line: %s\n", s); failures++; continue; }
    int i = param_find(av[1], strlen(av[1]));
    if (i < 0 && nparams < MAX_PARAMS) {
      i = nparams++;
      param_key[i] = keep(av[1]);
      param_val[i] = keep(av[2]);
    }
    if (i >= 0) param_declared[i] = 1;
  }
  for (int i = 0; i < nparams; i++)
    if (!param_declared[i]) { printf("init: workload %s has no parameter %s\n", run, param_key[i]); failures++; }
#endif
  run_block(0, nlines);
  /* reap anything still running in the background */
  if (nbg) run_line("wait");
  int st;
  while (wait4(-1, &st, 0) > 0) {}
  printf("init: done, %d failure%s\n", failures, failures == 1 ? "" : "s");
#ifdef VMT_LINUX
  power_off(failures > 254 ? 254 : failures);
#endif
  syscall6(SYS_reboot, 0xfee1dead, 672274793, 0x4321fedc, failures > 254 ? 254 : failures, 0, 0);
  return 0;
}
