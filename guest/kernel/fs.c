/* VMTRFS1, a trivial file system on the block device: sector 0 is the directory, each file one contiguous
 * extent. Layout (little endian), written by src/hypervisor/workloads.ts:
 *   0: char magic[8] = "VMTRFS1\0"; u32 nfiles; u32 total_sectors
 *  16: nfiles x { char name[32]; u32 start_lba; u32 capacity_sectors; u32 size_bytes; u32 reserved }  (max 10)
 * Each open file caches one sector (write-back on sector change and on close). Paths outside the disk:
 * "/workload" (the workload script) and "/bin/<program>" (ramdisk images), both read-only. */
#include "kernel.h"

#define FS_MAX 10
#define CREATE_CAP 2048 /* sectors given to a file created by O_CREAT (1 MiB) */
struct dirent { char name[32]; uint32_t start, cap, size, reserved; };
struct superblock { char magic[8]; uint32_t nfiles, total; struct dirent e[FS_MAX]; };
_Static_assert(sizeof(struct superblock) == 16 + 48 * FS_MAX, "superblock layout");

static union { struct superblock sb; uint8_t raw[512]; } dir;
static int mounted, dir_dirty;
static uint64_t disk_sectors;

struct dcache { int used, valid, dirty; uint32_t lba; uint8_t data[512]; };
static struct dcache caches[32];

void fs_init(uint64_t sectors) { disk_sectors = sectors; }

static int mount(void) {
  if (mounted) return 0;
  if (disk_sectors == 0) return -ENOENT;
  if (ata_read(0, dir.raw)) return -EIO;
  if (memcmp(dir.sb.magic, "VMTRFS1", 8) != 0 || dir.sb.nfiles > FS_MAX) {
    memset(&dir, 0, sizeof dir);
    memcpy(dir.sb.magic, "VMTRFS1", 8);
    dir.sb.total = (uint32_t)disk_sectors;
    dir_dirty = 1;
  }
  mounted = 1;
  return 0;
}

void fs_sync(void) {
  if (mounted && dir_dirty) {
    dir_dirty = 0;
    if (ata_write(0, dir.raw)) kprintf("fs: directory write failed\n");
  }
}

/* kflushd: a kernel thread that writes the directory back now and then, like a buffer-flush daemon. */
void kflushd(void *arg) {
  (void)arg;
  for (;;) {
    fs_sync();
    sleep_ticks(timer_hz / 10 ? timer_hz / 10 : 1);
  }
}

static struct dcache *cache_get(void) {
  for (int i = 0; i < 32; i++)
    if (!caches[i].used) { memset(&caches[i], 0, sizeof caches[i]); caches[i].used = 1; return &caches[i]; }
  return 0;
}

static int cache_flush(struct dcache *c) {
  if (c->valid && c->dirty) {
    c->dirty = 0;
    if (ata_write(c->lba, c->data)) return -EIO;
  }
  return 0;
}

/* Make the cache hold sector lba; read it from disk unless fill==0 (whole-sector overwrite or past EOF). */
static int cache_load(struct dcache *c, uint32_t lba, int fill) {
  if (c->valid && c->lba == lba) return 0;
  if (cache_flush(c)) return -EIO;
  c->valid = 0;
  if (fill) { if (ata_read(lba, c->data)) return -EIO; }
  else memset(c->data, 0, 512);
  c->lba = lba;
  c->valid = 1;
  return 0;
}

long fs_open(const char *path, int flags, struct file **out) {
  if (strcmp(path, "/workload") == 0 || strncmp(path, "/bin/", 5) == 0) {
    if (flags & 3) return -EPERM;
    const uint8_t *m;
    uint64_t size;
    if (path[1] == 'w') { m = (const uint8_t *)workload_text; size = workload_len; }
    else if (!(m = ramdisk_find(path + 5, &size))) return -ENOENT;
    struct file *f = file_alloc(F_MEM);
    if (!f) return -EMFILE;
    f->mem = m;
    f->size = size;
    *out = f;
    return 0;
  }
  while (*path == '/') path++;
  if (!*path || strlen(path) >= 32) return -ENOENT;
  int r = mount();
  if (r) return r;
  int ino = -1;
  for (uint32_t i = 0; i < dir.sb.nfiles; i++)
    if (strncmp(dir.sb.e[i].name, path, 32) == 0) { ino = (int)i; break; }
  if (ino < 0) {
    if (!(flags & 0x40)) return -ENOENT; /* O_CREAT */
    if (dir.sb.nfiles >= FS_MAX) return -ENOSPC;
    uint32_t next = 1;
    for (uint32_t i = 0; i < dir.sb.nfiles; i++)
      if (dir.sb.e[i].start + dir.sb.e[i].cap > next) next = dir.sb.e[i].start + dir.sb.e[i].cap;
    uint32_t cap = CREATE_CAP;
    if (next >= disk_sectors) return -ENOSPC;
    if (next + cap > disk_sectors) cap = (uint32_t)disk_sectors - next;
    ino = (int)dir.sb.nfiles++;
    memset(&dir.sb.e[ino], 0, sizeof dir.sb.e[ino]);
    strlcpy(dir.sb.e[ino].name, path, 32);
    dir.sb.e[ino].start = next;
    dir.sb.e[ino].cap = cap;
    dir_dirty = 1;
  }
  struct dcache *c = cache_get();
  if (!c) return -EMFILE;
  struct file *f = file_alloc(F_DISK);
  if (!f) { c->used = 0; return -EMFILE; }
  f->ino = ino;
  f->flags = flags;
  f->mem = (const uint8_t *)c;
  if ((flags & 0x200) && (flags & 3)) { dir.sb.e[ino].size = 0; dir_dirty = 1; } /* O_TRUNC */
  if (flags & 0x400) f->off = dir.sb.e[ino].size;                            /* O_APPEND */
  *out = f;
  return 0;
}

long fs_read(struct file *f, uint64_t buf, uint64_t n) {
  if ((f->flags & 3) == 1) return -EBADF;
  struct dirent *e = &dir.sb.e[f->ino];
  struct dcache *c = (struct dcache *)f->mem;
  if (f->off >= e->size) return 0;
  if (n > e->size - f->off) n = e->size - f->off;
  uint64_t done = 0;
  while (done < n) {
    uint64_t so = f->off % 512, chunk = 512 - so;
    if (chunk > n - done) chunk = n - done;
    if (cache_load(c, e->start + (uint32_t)(f->off / 512), 1)) return done ? (long)done : -EIO;
    memcpy((uint8_t *)buf + done, c->data + so, chunk);
    done += chunk;
    f->off += chunk;
  }
  return (long)done;
}

long fs_write(struct file *f, uint64_t buf, uint64_t n) {
  if ((f->flags & 3) == 0) return -EBADF;
  struct dirent *e = &dir.sb.e[f->ino];
  struct dcache *c = (struct dcache *)f->mem;
  uint64_t cap = (uint64_t)e->cap * 512;
  if (f->off >= cap) return n ? -ENOSPC : 0;
  if (n > cap - f->off) n = cap - f->off;
  uint64_t done = 0;
  while (done < n) {
    uint64_t so = f->off % 512, chunk = 512 - so;
    if (chunk > n - done) chunk = n - done;
    uint64_t sector_start = f->off - so;
    int fill = !(so == 0 && chunk == 512) && sector_start < e->size;
    if (cache_load(c, e->start + (uint32_t)(f->off / 512), fill)) return done ? (long)done : -EIO;
    memcpy(c->data + so, (const uint8_t *)buf + done, chunk);
    c->dirty = 1;
    done += chunk;
    f->off += chunk;
    if (f->off > e->size) { e->size = (uint32_t)f->off; dir_dirty = 1; }
  }
  return (long)done;
}

long fs_lseek(struct file *f, int64_t off, int whence) {
  int64_t base = whence == 0 ? 0 : whence == 1 ? (int64_t)f->off
               : f->type == F_DISK ? (int64_t)dir.sb.e[f->ino].size : (int64_t)f->size;
  if (whence < 0 || whence > 2 || base + off < 0) return -EINVAL;
  f->off = (uint64_t)(base + off);
  return (long)f->off;
}

void fs_close(struct file *f) {
  struct dcache *c = (struct dcache *)f->mem;
  cache_flush(c);
  c->used = 0;
  if (f->flags & 3) fs_sync();
}
