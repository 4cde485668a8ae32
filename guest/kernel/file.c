/* Open files, pipes, and the read/write paths by file type. */
#include "kernel.h"

static struct file files[MAX_FILES];

struct file *file_alloc(int type) {
  for (int i = 0; i < MAX_FILES; i++) {
    if (files[i].ref == 0) {
      memset(&files[i], 0, sizeof files[i]);
      files[i].type = type;
      files[i].ref = 1;
      return &files[i];
    }
  }
  return 0;
}

void file_ref(struct file *f) { f->ref++; }

void file_close(struct file *f) {
  if (--f->ref > 0) return;
  if (f->type == F_PIPE_R) pipe_close(f->pipe, 0);
  else if (f->type == F_PIPE_W) pipe_close(f->pipe, 1);
  else if (f->type == F_DISK) fs_close(f);
  f->type = F_NONE;
}

long file_read(struct file *f, uint64_t buf, uint64_t n) {
  if (!user_ok(buf, n, 1)) return -EFAULT;
  switch (f->type) {
  case F_CONSOLE: return 0; /* no console input */
  case F_PIPE_R: return pipe_read(f->pipe, buf, n);
  case F_DISK: return fs_read(f, buf, n);
  case F_MEM: {
    if (f->off >= f->size) return 0;
    if (n > f->size - f->off) n = f->size - f->off;
    memcpy((void *)buf, f->mem + f->off, n);
    f->off += n;
    return (long)n;
  }
  case F_NIC: return nic_recv(buf, n);
  default: return -EBADF;
  }
}

long file_write(struct file *f, uint64_t buf, uint64_t n) {
  if (!user_ok(buf, n, 0)) return -EFAULT;
  switch (f->type) {
  case F_CONSOLE: console_write((const char *)buf, n); return (long)n;
  case F_PIPE_W: return pipe_write(f->pipe, buf, n);
  case F_DISK: return fs_write(f, buf, n);
  case F_NIC: return nic_send(buf, n);
  default: return -EBADF;
  }
}

/* ---------------------------------------------------------------- pipes */
#define PIPE_SIZE 4096
struct pipe {
  int used, readers, writers;
  uint64_t rpos, wpos;  /* running counts; buffer index = pos % PIPE_SIZE */
  uint8_t *buf;
  struct waitq rwait, wwait;
};
static struct pipe pipes[MAX_PIPES];

long pipe_create(struct file **rf, struct file **wf) {
  struct pipe *p = 0;
  for (int i = 0; i < MAX_PIPES; i++) if (!pipes[i].used) { p = &pipes[i]; break; }
  if (!p) return -ENOMEM;
  uint64_t pa = page_alloc();
  if (!pa) return -ENOMEM;
  struct file *r = file_alloc(F_PIPE_R);
  struct file *w = r ? file_alloc(F_PIPE_W) : 0;
  if (!w) { if (r) r->ref = 0; page_free(pa); return -ENOMEM; }
  memset(p, 0, sizeof *p);
  p->used = 1;
  p->readers = p->writers = 1;
  p->buf = P2V(pa);
  r->pipe = w->pipe = p;
  *rf = r;
  *wf = w;
  return 0;
}

long pipe_read(struct pipe *p, uint64_t buf, uint64_t n) {
  while (p->rpos == p->wpos) {
    if (p->writers == 0 || n == 0) return 0;
    sleep_on(&p->rwait);
    if (cur->proc->killed) return -EINTR;
  }
  uint64_t avail = p->wpos - p->rpos, done = 0;
  if (n > avail) n = avail;
  while (done < n) {
    uint64_t idx = p->rpos % PIPE_SIZE, chunk = PIPE_SIZE - idx;
    if (chunk > n - done) chunk = n - done;
    memcpy((uint8_t *)buf + done, p->buf + idx, chunk);
    p->rpos += chunk;
    done += chunk;
  }
  wake_up(&p->wwait);
  return (long)done;
}

long pipe_write(struct pipe *p, uint64_t buf, uint64_t n) {
  uint64_t done = 0;
  while (done < n) {
    if (p->readers == 0) return done ? (long)done : -EPIPE;
    uint64_t space = PIPE_SIZE - (p->wpos - p->rpos);
    if (space == 0) {
      wake_up(&p->rwait);
      sleep_on(&p->wwait);
      if (cur->proc->killed) return done ? (long)done : -EINTR;
      continue;
    }
    uint64_t idx = p->wpos % PIPE_SIZE, chunk = PIPE_SIZE - idx;
    if (chunk > space) chunk = space;
    if (chunk > n - done) chunk = n - done;
    memcpy(p->buf + idx, (const uint8_t *)buf + done, chunk);
    p->wpos += chunk;
    done += chunk;
  }
  wake_up(&p->rwait);
  return (long)done;
}

void pipe_close(struct pipe *p, int writer) {
  if (writer) p->writers--; else p->readers--;
  wake_up(&p->rwait);
  wake_up(&p->wwait);
  if (p->readers == 0 && p->writers == 0) {
    page_free(V2P(p->buf));
    p->used = 0;
  }
}
