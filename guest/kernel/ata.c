/* ATA PIO subset (docs/machine.md): one sector per command, completion by IRQ 14. The disk is a shared
 * resource: a sleeping lock serializes commands; a thread waiting for the disk cannot be killed midway. */
#include "kernel.h"

static struct waitq ata_wait, ata_lockq;
static int ata_busy, ata_irq_seen;
static uint8_t ata_status;
static uint64_t ata_sectors;

void ata_init(uint64_t sectors) { ata_sectors = sectors; if (sectors) pic_unmask(14); }

void ata_irq(void) {
  ata_status = inb(0x1f7); /* reading status acknowledges the interrupt */
  ata_irq_seen = 1;
  wake_up(&ata_wait);
}

static void lock(void) {
  while (ata_busy) { cur->nokill = 1; sleep_on(&ata_lockq); cur->nokill = 0; }
  ata_busy = 1;
}
static void unlock(void) { ata_busy = 0; wake_up(&ata_lockq); }

static void wait_irq(void) {
  while (!ata_irq_seen) { cur->nokill = 1; sleep_on(&ata_wait); cur->nokill = 0; }
  ata_irq_seen = 0;
}

static void command(uint32_t lba, uint8_t cmd) {
  outb(0x1f2, 1);
  outb(0x1f3, lba & 0xff);
  outb(0x1f4, (lba >> 8) & 0xff);
  outb(0x1f5, (lba >> 16) & 0xff);
  outb(0x1f6, 0xe0 | ((lba >> 24) & 0x0f));
  ata_irq_seen = 0;
  outb(0x1f7, cmd);
}

int ata_read(uint32_t lba, void *buf) {
  if (lba >= ata_sectors) return -EIO;
  lock();
  command(lba, 0x20);
  wait_irq();
  int r = 0;
  if ((ata_status & 0x01) || !(ata_status & 0x08)) r = -EIO;
  else { void *d = buf; uint64_t n = 256; __asm__ volatile("rep insw" : "+D"(d), "+c"(n) : "d"(0x1f0) : "memory"); }
  unlock();
  return r;
}

int ata_write(uint32_t lba, const void *buf) {
  if (lba >= ata_sectors) return -EIO;
  lock();
  command(lba, 0x30);
  uint8_t st = 0;
  for (int i = 0; i < 100000; i++) { st = inb(0x1f7); if (!(st & 0x80) && (st & 0x09)) break; }
  int r = 0;
  if ((st & 0x01) || !(st & 0x08)) r = -EIO;
  else {
    const void *s = buf;
    uint64_t n = 256;
    __asm__ volatile("rep outsw" : "+S"(s), "+c"(n) : "d"(0x1f0) : "memory");
    wait_irq();
    if (ata_status & 0x01) r = -EIO;
  }
  unlock();
  return r;
}
