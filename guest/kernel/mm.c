/* Physical pages (a LIFO free list, so freed pages, page tables included, are reused first) and 4-level
 * page tables. All physical memory (< 1 GiB) is reachable at KERNEL_VMA + phys through one 1 GiB page. */
#include "kernel.h"

static uint64_t free_head; /* physical address of the first free page; each free page holds the next */
static uint64_t nfree;
uint64_t kernel_pml4;

uint64_t page_alloc(void) {
  uint64_t pa = free_head;
  if (!pa) return 0;
  free_head = *(uint64_t *)P2V(pa);
  nfree--;
  memset(P2V(pa), 0, PAGE);
  return pa;
}

void page_free(uint64_t pa) {
  if (!pa || (pa & (PAGE - 1))) panic("page_free %lx", pa);
  *(uint64_t *)P2V(pa) = free_head;
  free_head = pa;
  nfree++;
}

uint64_t pages_free(void) { return nfree; }
uint64_t *mm_free_head_ptr(void) { return &free_head; }

void mm_init(struct boot_info *bi) {
  uint64_t start = PGROUNDUP(bi->free_phys), end = bi->mem_bytes & ~(PAGE - 1);
  if (end > (1UL << 30)) end = 1UL << 30;
  /* push from the top so the lowest pages come out first */
  for (uint64_t pa = end; pa > start;) {
    pa -= PAGE;
    *(uint64_t *)P2V(pa) = free_head;
    free_head = pa;
    nfree++;
  }
  /* The kernel's own PML4: only the higher half, 0xffffffff80000000 -> physical 0 as one 1 GiB page
   * (supervisor). The boot tables' identity map is dropped so that null pointers fault. */
  kernel_pml4 = page_alloc();
  uint64_t pdpt = page_alloc();
  ((uint64_t *)P2V(pdpt))[510] = 0 | PTE_P | PTE_W | PTE_PS;
  ((uint64_t *)P2V(kernel_pml4))[511] = pdpt | PTE_P | PTE_W;
  write_cr3(kernel_pml4);
}

uint64_t vm_new(void) {
  uint64_t pml4 = page_alloc();
  if (!pml4) return 0;
  uint64_t *n = P2V(pml4), *k = P2V(kernel_pml4);
  for (int i = 256; i < 512; i++) n[i] = k[i];
  return pml4;
}

/* The PTE for va, allocating intermediate tables when create; NULL when absent. */
static uint64_t *walk(uint64_t pml4, uint64_t va, int create) {
  uint64_t *table = P2V(pml4);
  for (int level = 3; level > 0; level--) {
    int idx = (va >> (12 + 9 * level)) & 511;
    uint64_t e = table[idx];
    if (!(e & PTE_P)) {
      if (!create) return 0;
      uint64_t pa = page_alloc();
      if (!pa) return 0;
      e = table[idx] = pa | PTE_P | PTE_W | PTE_U;
    }
    table = P2V(e & PTE_ADDR);
  }
  return &table[(va >> 12) & 511];
}

int vm_map(uint64_t pml4, uint64_t va, uint64_t pa, uint64_t flags) {
  uint64_t *pte = walk(pml4, va, 1);
  if (!pte) return -ENOMEM;
  *pte = pa | flags | PTE_P;
  return 0;
}

uint64_t vm_lookup(uint64_t pml4, uint64_t va, uint64_t *flags) {
  if (va >= USER_TOP) return 0;
  uint64_t *pte = walk(pml4, va, 0);
  if (!pte || !(*pte & PTE_P)) return 0;
  if (flags) *flags = *pte & ~PTE_ADDR;
  return *pte & PTE_ADDR;
}

uint64_t vm_unmap(uint64_t pml4, uint64_t va) {
  uint64_t *pte = walk(pml4, va, 0);
  if (!pte || !(*pte & PTE_P)) return 0;
  uint64_t pa = *pte & PTE_ADDR;
  *pte = 0;
  if (read_cr3() == pml4) invlpg(va);
  return pa;
}

static void free_level(uint64_t table_pa, int level) {
  uint64_t *t = P2V(table_pa);
  int n = level == 3 ? 256 : 512; /* the PML4's upper half is the shared kernel mapping */
  for (int i = 0; i < n; i++) {
    if (!(t[i] & PTE_P)) continue;
    if (level > 0) free_level(t[i] & PTE_ADDR, level - 1);
    else page_free(t[i] & PTE_ADDR);
  }
  page_free(table_pa);
}

void vm_free(uint64_t pml4) {
  if (read_cr3() == pml4) panic("vm_free of the live address space");
  free_level(pml4, 3);
}

static int copy_level(uint64_t *dst, const uint64_t *src, int level) {
  int n = level == 3 ? 256 : 512;
  for (int i = 0; i < n; i++) {
    if (!(src[i] & PTE_P)) continue;
    uint64_t pa = page_alloc();
    if (!pa) return -ENOMEM;
    dst[i] = pa | (src[i] & ~PTE_ADDR);
    if (level > 0) {
      int r = copy_level(P2V(pa), P2V(src[i] & PTE_ADDR), level - 1);
      if (r) return r;
    } else {
      memcpy(P2V(pa), P2V(src[i] & PTE_ADDR), PAGE);
    }
  }
  return 0;
}

/* Copy every user page of src into dst (fork: no copy-on-write, the programs are small). */
int vm_copy(uint64_t dst, uint64_t src) { return copy_level(P2V(dst), P2V(src), 3); }

/* Is [va, va+len) mapped user-accessible (and writable) in the current address space? */
int user_ok(uint64_t va, uint64_t len, int write) {
  if (len == 0) return 1;
  if (va >= USER_TOP || len > USER_TOP - va) return 0;
  uint64_t pml4 = read_cr3();
  for (uint64_t p = PGROUNDDOWN(va); p < va + len; p += PAGE) {
    uint64_t f;
    if (!vm_lookup(pml4, p, &f)) return 0;
    if (!(f & PTE_U) || (write && !(f & PTE_W))) return 0;
  }
  return 1;
}

int copyin(void *dst, uint64_t src, uint64_t len) {
  if (!user_ok(src, len, 0)) return -EFAULT;
  memcpy(dst, (const void *)src, len);
  return 0;
}

int copyout(uint64_t dst, const void *src, uint64_t len) {
  if (!user_ok(dst, len, 1)) return -EFAULT;
  memcpy((void *)dst, src, len);
  return 0;
}

int copyinstr(char *dst, uint64_t src, uint64_t max) {
  for (uint64_t i = 0; i < max; i++) {
    if ((i == 0 || ((src + i) & (PAGE - 1)) == 0) && !user_ok(src + i, 1, 0)) return -EFAULT;
    dst[i] = *(const char *)(src + i);
    if (!dst[i]) return (int)i;
  }
  return -E2BIG;
}

uint64_t prot_flags(uint32_t prot) {
  uint64_t f = PTE_P | PTE_U;
  if (prot & PROT_WRITE) f |= PTE_W;
  if (!(prot & PROT_EXEC)) f |= PTE_NX;
  return f;
}

struct vma *vma_add(struct proc *p, uint64_t start, uint64_t end, uint32_t prot, uint32_t kind) {
  for (int i = 0; i < MAX_VMAS; i++) {
    struct vma *v = &p->vmas[i];
    if (v->kind == VMA_FREE) {
      v->start = start; v->end = end; v->prot = prot; v->kind = kind;
      return v;
    }
  }
  return 0;
}

struct vma *vma_find(struct proc *p, uint64_t va) {
  for (int i = 0; i < MAX_VMAS; i++) {
    struct vma *v = &p->vmas[i];
    if (v->kind != VMA_FREE && va >= v->start && va < v->end) return v;
  }
  return 0;
}

/* Map fresh zeroed pages over [va, va+len) in p's address space. Returns 0 or -ENOMEM. */
uint64_t vm_map_anon(struct proc *p, uint64_t va, uint64_t len, uint32_t prot) {
  uint64_t f = prot_flags(prot);
  for (uint64_t a = va; a < va + len; a += PAGE) {
    uint64_t pa = page_alloc();
    if (!pa) return -ENOMEM;
    if (vm_map(p->pml4, a, pa, f)) { page_free(pa); return -ENOMEM; }
  }
  return 0;
}
