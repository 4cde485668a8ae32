/* NIC (docs/machine.md "NIC registers"): one posted receive buffer; the interrupt handler moves each packet
 * into a ring that recvfrom() drains; sends are synchronous (the device reads guest memory at once). */
#include "kernel.h"

#define RING 32
#define PKT_MAX 2048
static uint8_t rx_buf[4096] __attribute__((aligned(4096)));
static uint8_t tx_buf[4096] __attribute__((aligned(4096)));
static uint8_t ring[RING][PKT_MAX];
static uint32_t ring_len[RING];
static uint32_t ring_head, ring_tail; /* running counts */
static uint32_t dropped;
static struct waitq rx_wait;

static void post(void) {
  outl(0xc004, (uint32_t)V2P(rx_buf));
  outl(0xc008, sizeof rx_buf);
}

uint64_t nic_rx_phys(void) { return V2P(rx_buf); }

void nic_init(void) {
  post();
  pic_unmask(11);
}

void nic_irq(void) {
  outl(0xc018, 1);
  for (int guard = 0; guard < 64; guard++) {
    uint32_t st = inl(0xc000);
    if (!(st & 1)) break;
    uint32_t len = inl(0xc00c); /* consumes the packet, disarms receive */
    if (len > PKT_MAX) len = PKT_MAX;
    if (len && ring_head - ring_tail < RING) {
      memcpy(ring[ring_head % RING], rx_buf, len);
      ring_len[ring_head % RING] = len;
      ring_head++;
    } else if (len) {
      dropped++;
    }
    post();
  }
  wake_up(&rx_wait);
}

long nic_recv(uint64_t buf, uint64_t len) {
  while (ring_head == ring_tail) {
    sleep_on(&rx_wait);
    if (cur->proc->killed) return -EINTR;
  }
  uint32_t n = ring_len[ring_tail % RING];
  if (n > len) n = (uint32_t)len;
  memcpy((void *)buf, ring[ring_tail % RING], n);
  ring_tail++;
  return n;
}

long nic_send(uint64_t buf, uint64_t len) {
  if (len > sizeof tx_buf) return -EINVAL;
  memcpy(tx_buf, (const void *)buf, len);
  outl(0xc010, (uint32_t)V2P(tx_buf));
  outl(0xc014, (uint32_t)len);
  return (long)len;
}
