/* The ramdisk (docs/machine.md "Ramdisk") and execve of its static ELF64 programs. */
#include "kernel.h"

struct rd_header { char magic[8]; uint32_t count, reserved; };
struct rd_entry { char name[48]; uint64_t offset, size; };

static const uint8_t *ramdisk;
static uint64_t ramdisk_bytes;
const char *workload_text;
uint64_t workload_len;

void ramdisk_init(struct boot_info *bi) {
  ramdisk = P2V(bi->ramdisk_phys);
  ramdisk_bytes = bi->ramdisk_bytes;
  workload_text = P2V(bi->workload_phys);
  workload_len = bi->workload_bytes;
  const struct rd_header *h = (const void *)ramdisk;
  if (ramdisk_bytes < sizeof *h || memcmp(h->magic, "VMTRDSK1", 8) != 0) panic("bad ramdisk");
}

const uint8_t *ramdisk_find(const char *name, uint64_t *size) {
  const struct rd_header *h = (const void *)ramdisk;
  const struct rd_entry *e = (const void *)(ramdisk + sizeof *h);
  for (uint32_t i = 0; i < h->count; i++) {
    if (strncmp(e[i].name, name, 48) == 0) {
      if (e[i].offset + e[i].size > ramdisk_bytes) return 0;
      *size = e[i].size;
      return ramdisk + e[i].offset;
    }
  }
  return 0;
}

struct elf64_ehdr {
  uint8_t ident[16];
  uint16_t type, machine;
  uint32_t version;
  uint64_t entry, phoff, shoff;
  uint32_t flags;
  uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};
struct elf64_phdr { uint32_t type, flags; uint64_t offset, vaddr, paddr, filesz, memsz, align; };

static uint64_t stack_size_from_env(char *const *envp, int envc) {
  for (int i = 0; i < envc; i++) {
    if (strncmp(envp[i], "STACK=", 6) == 0) {
      uint64_t v = 0;
      for (const char *s = envp[i] + 6; *s >= '0' && *s <= '9'; s++) v = v * 10 + (uint64_t)(*s - '0');
      v = PGROUNDUP(v);
      if (v >= PAGE && v <= 1024 * 1024) return v;
    }
  }
  return DEFAULT_STACK;
}

/* Replace the current process image (Linux execve semantics, from the ramdisk). argv/envp point to kernel
 * copies. Only a single-threaded process may exec. */
long do_execve(struct trapframe *tf, const char *path, char *const *argv, int argc, char *const *envp, int envc) {
  struct proc *p = cur->proc;
  if (p->nlive > 1) return -EINVAL;
  const char *name = path;
  for (const char *s = path; *s; s++) if (*s == '/') name = s + 1;
  uint64_t size;
  const uint8_t *img = ramdisk_find(name, &size);
  if (!img) return -ENOENT;
  const struct elf64_ehdr *eh = (const void *)img;
  if (size < sizeof *eh || memcmp(eh->ident, "\177ELF", 4) != 0 || eh->ident[4] != 2 || eh->machine != 62 ||
      eh->phentsize != sizeof(struct elf64_phdr) || eh->phoff + (uint64_t)eh->phnum * sizeof(struct elf64_phdr) > size)
    return -ENOEXEC;

  uint64_t pml4 = vm_new();
  if (!pml4) return -ENOMEM;
  struct vma vmas[MAX_VMAS];
  memset(vmas, 0, sizeof vmas);
  int nv = 0;
  uint64_t brk = 0;
  long err = 0;
  const struct elf64_phdr *ph = (const void *)(img + eh->phoff);
  for (int i = 0; i < eh->phnum && !err; i++) {
    if (ph[i].type != 1) continue; /* PT_LOAD */
    if (ph[i].filesz > ph[i].memsz || ph[i].offset + ph[i].filesz > size || ph[i].vaddr >= USER_TOP ||
        ph[i].memsz > USER_TOP - ph[i].vaddr || nv >= MAX_VMAS - 2) { err = -ENOEXEC; break; }
    uint32_t prot = ((ph[i].flags & 4) ? PROT_READ : 0) | ((ph[i].flags & 2) ? PROT_WRITE : 0) |
                    ((ph[i].flags & 1) ? PROT_EXEC : 0);
    uint64_t lo = PGROUNDDOWN(ph[i].vaddr), hi = PGROUNDUP(ph[i].vaddr + ph[i].memsz);
    for (uint64_t va = lo; va < hi; va += PAGE) {
      uint64_t f, pa = vm_lookup(pml4, va, &f);
      if (!pa) {
        pa = page_alloc();
        if (!pa || vm_map(pml4, va, pa, prot_flags(prot))) { if (pa) page_free(pa); err = -ENOMEM; break; }
      } else if (prot & PROT_WRITE) {
        vm_map(pml4, va, pa, (f | PTE_W) & ~PTE_ADDR);
      }
      /* copy the file bytes that fall in this page */
      uint64_t s = va > ph[i].vaddr ? va : ph[i].vaddr, e = va + PAGE;
      uint64_t fend = ph[i].vaddr + ph[i].filesz;
      if (e > fend) e = fend;
      if (s < e) memcpy((uint8_t *)P2V(pa) + (s - va), img + ph[i].offset + (s - ph[i].vaddr), e - s);
    }
    vmas[nv++] = (struct vma){ lo, hi, prot, VMA_ELF };
    if (hi > brk) brk = hi;
  }
  uint64_t ssize = stack_size_from_env(envp, envc);
  uint64_t slo = USER_STACK_TOP - ssize;
  if (!err) {
    for (uint64_t va = slo; va < USER_STACK_TOP && !err; va += PAGE) {
      uint64_t pa = page_alloc();
      if (!pa || vm_map(pml4, va, pa, prot_flags(PROT_READ | PROT_WRITE))) { if (pa) page_free(pa); err = -ENOMEM; }
    }
    vmas[nv++] = (struct vma){ slo, USER_STACK_TOP, PROT_READ | PROT_WRITE, VMA_STACK };
    vmas[nv++] = (struct vma){ brk, brk, PROT_READ | PROT_WRITE, VMA_HEAP };
  }
  /* Initial stack (System V AMD64 ABI 3.4.1): argc, argv[], NULL, envp[], NULL, auxv AT_NULL, strings. */
  uint64_t sp = USER_STACK_TOP;
  uint64_t uargv[32], uenv[16];
  if (!err && (argc > 32 || envc > 16)) err = -E2BIG;
  for (int pass = 0; pass < 2 && !err; pass++) {
    char *const *v = pass ? envp : argv;
    int n = pass ? envc : argc;
    uint64_t *out = pass ? uenv : uargv;
    for (int i = n - 1; i >= 0; i--) {
      uint64_t len = strlen(v[i]) + 1;
      sp -= len;
      if (sp < slo + 1024) { err = -E2BIG; break; }
      uint64_t pa = vm_lookup(pml4, PGROUNDDOWN(sp), 0);
      /* the string may straddle a page: copy byte by byte through the physical pages */
      for (uint64_t k = 0; k < len; k++) {
        uint64_t a = sp + k;
        pa = vm_lookup(pml4, PGROUNDDOWN(a), 0);
        ((char *)P2V(pa))[a & (PAGE - 1)] = v[i][k];
      }
      out[i] = sp;
    }
  }
  if (!err) {
    uint64_t words[2 + 32 + 1 + 16 + 1 + 2];
    int nw = 0;
    words[nw++] = (uint64_t)argc;
    for (int i = 0; i < argc; i++) words[nw++] = uargv[i];
    words[nw++] = 0;
    for (int i = 0; i < envc; i++) words[nw++] = uenv[i];
    words[nw++] = 0;
    words[nw++] = 0; /* AT_NULL */
    words[nw++] = 0;
    sp &= ~15UL;
    if (nw & 1) sp -= 8; /* RSP is 16-byte aligned at argc */
    sp -= (uint64_t)nw * 8;
    for (int i = 0; i < nw; i++) {
      uint64_t a = sp + (uint64_t)i * 8;
      uint64_t pa = vm_lookup(pml4, PGROUNDDOWN(a), 0);
      *(uint64_t *)((uint8_t *)P2V(pa) + (a & (PAGE - 1))) = words[i];
    }
  }
  if (err) { vm_free(pml4); return err; }

  /* Commit: switch to the new image and free the old one. */
  uint64_t old = p->pml4;
  p->pml4 = pml4;
  write_cr3(pml4);
  if (old) vm_free(old);
  memcpy(p->vmas, vmas, sizeof vmas);
  p->brk_start = p->brk_cur = brk;
  p->mmap_next = USER_MMAP_BASE;
  strlcpy(p->name, name, sizeof p->name);
  cur->ustack_lo = slo;
  cur->ustack_hi = USER_STACK_TOP;
  memset(tf, 0, sizeof *tf);
  tf->rip = eh->entry;
  tf->rsp = sp;
  /* A new program starts with the initial x87/SSE state. */
  fpu_init_image(cur->fx);
  fxrstor64(cur->fx);
  tf->cs = UCODE;
  tf->ss = UDATA;
  tf->rflags = 0x202;
  tf->vector = VEC_SYSCALL;
  gt_emit(GT_EXEC, p, cur->tid, slo, USER_STACK_TOP, 0);
  return 0;
}
