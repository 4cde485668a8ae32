// Native side of the differential ISA tests: runs user-mode x86-64 snippets on the host CPU.
//
// Batch protocol (all little-endian), so that one process runs thousands of cases:
//   stdin : "VMTD" u32 data_bytes, then per case: u32 code_len (0xffffffff ends the batch), code bytes,
//           16 x u64 registers (rax rcx rdx rbx rsp rbp rsi rdi r8..r15), u64 rflags, data_bytes of memory.
//   stdout: per case: u32 fault (0xffffffff = ran to the end, else the exception vector from the kernel's
//           trap number), u32 error code, 16 x u64 registers, u64 rflags (at the end, or at the fault from
//           the signal frame), u64 fault RIP, u64 fault address (si_addr: CR2 for #PF), data_bytes of memory.
//
// Each snippet runs at CODE_BASE with the scratch page at DATA_BASE. The code is followed by an absolute
// indirect jump back into the harness, which stores every GPR through RIP-relative addresses (no register
// or stack needed), then restores the host RSP from a global. The snippet owns RSP (cases point it into the
// scratch page), so signals run on an alternate stack and a fault resumes the harness by rewriting RIP/RSP
// in the signal frame (sigreturn then restores the signal mask and FS untouched).
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define CODE_BASE 0x10000000UL
#define CODE_BYTES (16 * 4096UL)
#define DATA_BASE 0x20000000UL

// Shared with the trampoline below (referenced RIP-relative, hence hidden visibility).
__attribute__((visibility("hidden"))) uint64_t vm_in[17];   // 16 GPRs + rflags to load
__attribute__((visibility("hidden"))) uint64_t vm_out[17];  // 16 GPRs + rflags captured
__attribute__((visibility("hidden"))) uint64_t vm_host_rsp;
__attribute__((visibility("hidden"))) uint64_t vm_entry = CODE_BASE;
// x87/SSE state: loaded with FXRSTOR64 right before the snippet, saved with FXSAVE64 right after it (or
// copied from the signal frame at a fault); the harness's own state is put back after every case.
__attribute__((visibility("hidden"), aligned(64))) uint8_t vm_fx_in[512];
__attribute__((visibility("hidden"), aligned(64))) uint8_t vm_fx_out[512];
__attribute__((visibility("hidden"), aligned(64))) uint8_t vm_fx_host[512];
__attribute__((visibility("hidden"))) uint8_t vm_fp; // FP batch: load vm_fx_in (integer batches keep the host's)

extern void vm_run(void);
extern void vm_fx_init(void);
extern void vm_fx_restore(void);
extern char vm_return[];
extern char vm_fault_return[];
extern char vm_end[];
static volatile int in_snippet = 0;

// vm_run: save callee-saved registers and the host RSP, load the case state, jump to the snippet.
// vm_return: reached through the stub after the snippet; stores the snippet's registers and flags.
__asm__(
    ".text\n"
    ".globl vm_run\n"
    ".type vm_run,@function\n"
    "vm_run:\n"
    "  push rbx\n  push rbp\n  push r12\n  push r13\n  push r14\n  push r15\n"
    "  mov [rip + vm_host_rsp], rsp\n"
    "  cmp byte ptr [rip + vm_fp], 0\n"
    "  je 1f\n"
    "  fxrstor64 [rip + vm_fx_in]\n"
    "1:\n"
    "  push qword ptr [rip + vm_in + 128]\n"
    "  popfq\n"
    "  mov rax, [rip + vm_in + 0]\n"
    "  mov rcx, [rip + vm_in + 8]\n"
    "  mov rdx, [rip + vm_in + 16]\n"
    "  mov rbx, [rip + vm_in + 24]\n"
    "  mov rbp, [rip + vm_in + 40]\n"
    "  mov rsi, [rip + vm_in + 48]\n"
    "  mov rdi, [rip + vm_in + 56]\n"
    "  mov r8, [rip + vm_in + 64]\n"
    "  mov r9, [rip + vm_in + 72]\n"
    "  mov r10, [rip + vm_in + 80]\n"
    "  mov r11, [rip + vm_in + 88]\n"
    "  mov r12, [rip + vm_in + 96]\n"
    "  mov r13, [rip + vm_in + 104]\n"
    "  mov r14, [rip + vm_in + 112]\n"
    "  mov r15, [rip + vm_in + 120]\n"
    "  mov rsp, [rip + vm_in + 32]\n"
    "  jmp qword ptr [rip + vm_entry]\n"
    ".globl vm_return\n"
    "vm_return:\n"
    "  fxsave64 [rip + vm_fx_out]\n"
    "  mov [rip + vm_out + 0], rax\n"
    "  mov [rip + vm_out + 8], rcx\n"
    "  mov [rip + vm_out + 16], rdx\n"
    "  mov [rip + vm_out + 24], rbx\n"
    "  mov [rip + vm_out + 32], rsp\n"
    "  mov [rip + vm_out + 40], rbp\n"
    "  mov [rip + vm_out + 48], rsi\n"
    "  mov [rip + vm_out + 56], rdi\n"
    "  mov [rip + vm_out + 64], r8\n"
    "  mov [rip + vm_out + 72], r9\n"
    "  mov [rip + vm_out + 80], r10\n"
    "  mov [rip + vm_out + 88], r11\n"
    "  mov [rip + vm_out + 96], r12\n"
    "  mov [rip + vm_out + 104], r13\n"
    "  mov [rip + vm_out + 112], r14\n"
    "  mov [rip + vm_out + 120], r15\n"
    "  mov rsp, [rip + vm_host_rsp]\n"
    "  pushfq\n"
    "  pop qword ptr [rip + vm_out + 128]\n"
    // Back to sane host flags (the snippet may have set DF, NT or ID through POPF).
    "  push 0x202\n"
    "  popfq\n"
    ".globl vm_fault_return\n"
    "vm_fault_return:\n"
    "  pop r15\n  pop r14\n  pop r13\n  pop r12\n  pop rbp\n  pop rbx\n"
    "  ret\n"
    ".globl vm_end\n"
    "vm_end:\n"
    ".size vm_run, .-vm_run\n"
    ".globl vm_fx_init\n"
    "vm_fx_init:\n"
    "  fxsave64 [rip + vm_fx_host]\n"
    "  ret\n"
    ".globl vm_fx_restore\n"
    "vm_fx_restore:\n"
    "  fxrstor64 [rip + vm_fx_host]\n"
    "  ret\n");

static volatile int fault_vector = -1;
static volatile uint64_t fault_err = 0;
static volatile uint64_t fault_rip = 0;
static volatile uint64_t fault_addr = 0;

static void on_fault(int sig, siginfo_t *si, void *ctx) {
  ucontext_t *uc = (ucontext_t *)ctx;
  greg_t *g = uc->uc_mcontext.gregs;
  uint64_t rip = (uint64_t)g[REG_RIP];
  // A fault in the harness itself is a bug: die loudly rather than loop. The snippet may jump anywhere.
  if (!in_snippet || (rip >= (uint64_t)(uintptr_t)vm_run && rip < (uint64_t)(uintptr_t)vm_end)) {
    static const char msg[] = "vmtrace-diff: fault outside the snippet\n";
    (void)!write(2, msg, sizeof msg - 1);
    _exit(70 + sig);
  }
  fault_vector = (int)g[REG_TRAPNO];
  fault_err = (uint64_t)g[REG_ERR];
  fault_rip = (uint64_t)g[REG_RIP];
  fault_addr = (uint64_t)(uintptr_t)si->si_addr;
  // The architectural state at the fault (registers are saved by the kernel in the signal frame).
  static const int order[16] = {REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI,
                                REG_R8,  REG_R9,  REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15};
  for (int i = 0; i < 16; i++) vm_out[i] = (uint64_t)g[order[i]];
  vm_out[16] = (uint64_t)g[REG_EFL];
  if (uc->uc_mcontext.fpregs) memcpy(vm_fx_out, uc->uc_mcontext.fpregs, 512);
  g[REG_RIP] = (greg_t)(uintptr_t)vm_fault_return;
  g[REG_RSP] = (greg_t)vm_host_rsp;
  g[REG_EFL] = 0x202; // resume the harness with sane flags (DF, TF, AC, NT clear)
}

static int read_all(void *p, size_t n) {
  return fread(p, 1, n, stdin) == n;
}

int main(void) {
  uint8_t magic[4];
  uint32_t data_bytes;
  // "VMTD": integer cases; "VMTF": each case also carries a 512-byte FXSAVE image in and out.
  int fp = 0;
  vm_fx_init();
  (void)vm_fx_in;
  if (!read_all(magic, 4) || (memcmp(magic, "VMTD", 4) != 0 && !(fp = memcmp(magic, "VMTF", 4) == 0)) || !read_all(&data_bytes, 4) || data_bytes == 0 ||
      data_bytes % 4096 != 0) {
    fprintf(stderr, "vmtrace-diff: bad header\n");
    return 2;
  }
  // The code page is writable only while a snippet is copied in, then read+execute, as in the emulator
  // (a snippet writing to its own code faults in both).
  uint8_t *code = mmap((void *)CODE_BASE, CODE_BYTES, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  uint8_t *data = mmap((void *)DATA_BASE, data_bytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (code != (void *)CODE_BASE || data != (void *)DATA_BASE) {
    perror("vmtrace-diff: mmap at the fixed addresses");
    return 3;
  }
  static uint8_t altstack[1 << 16];
  stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
  if (sigaltstack(&ss, NULL) != 0) {
    perror("sigaltstack");
    return 4;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP};
  for (unsigned i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaction(sigs[i], &sa, NULL);

  static uint8_t outbuf[8 + 17 * 8 + 16];
  memset(code, 0xcc, CODE_BYTES);
  size_t dirty = 0;
  for (;;) {
    uint32_t len;
    if (!read_all(&len, 4)) {
      fprintf(stderr, "vmtrace-diff: truncated input\n");
      return 5;
    }
    if (len == 0xffffffffu) break;
    if (len > CODE_BYTES - 16) {
      fprintf(stderr, "vmtrace-diff: code too long\n");
      return 6;
    }
    if (mprotect(code, CODE_BYTES, PROT_READ | PROT_WRITE) != 0) return 8;
    // Past the snippet: jmp qword ptr [rip+0]; .quad vm_return. Everything after: int3.
    memset(code, 0xcc, dirty);
    dirty = len + 14;
    if (!read_all(code, len) || !read_all(vm_in, 17 * 8) || !read_all(data, data_bytes) ||
        (fp && !read_all(vm_fx_in, 512))) {
      fprintf(stderr, "vmtrace-diff: truncated case\n");
      return 5;
    }
    static const uint8_t stub[6] = {0xff, 0x25, 0, 0, 0, 0};
    memcpy(code + len, stub, 6);
    uint64_t ret = (uint64_t)(uintptr_t)vm_return;
    memcpy(code + len + 6, &ret, 8);
    if (mprotect(code, CODE_BYTES, PROT_READ | PROT_EXEC) != 0) return 8;
    // Only the arithmetic flags and DF come from the case; IF stays set (bit 1 is reserved-1).
    vm_in[16] = (vm_in[16] & 0xcd5) | 0x202;
    fault_vector = -1;
    fault_err = 0;
    fault_rip = 0;
    fault_addr = 0;
    memset(vm_out, 0, sizeof vm_out);
    vm_fp = (uint8_t)fp;
    memset(vm_fx_out, 0, sizeof vm_fx_out);
    in_snippet = 1;
    vm_run();
    in_snippet = 0;
    vm_fx_restore();
    uint32_t f = fault_vector < 0 ? 0xffffffffu : (uint32_t)fault_vector;
    uint32_t e = (uint32_t)fault_err;
    memcpy(outbuf, &f, 4);
    memcpy(outbuf + 4, &e, 4);
    memcpy(outbuf + 8, vm_out, 17 * 8);
    uint64_t frip = fault_rip, faddr = fault_addr;
    memcpy(outbuf + 8 + 17 * 8, &frip, 8);
    memcpy(outbuf + 8 + 17 * 8 + 8, &faddr, 8);
    if (fwrite(outbuf, 1, sizeof outbuf, stdout) != sizeof outbuf || fwrite(data, 1, data_bytes, stdout) != data_bytes ||
        (fp && fwrite(vm_fx_out, 1, 512, stdout) != 512)) {
      return 7;
    }
  }
  fflush(stdout);
  return 0;
}
