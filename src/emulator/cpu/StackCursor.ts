// A stack pointer kept outside RSP while one instruction or event pushes or pops several slots (event delivery,
// ENTER, IRETQ, far RET): RSP is written once at the end, after every slot was written or read and checked,
// so a fault part-way leaves it as it was (SDM: these instructions fault with no change to RSP). One instance
// per user, reused: no allocation per execution.

import type { Mmu } from './Mmu.js';

const TWO32 = 4294967296;

export class StackCursor {
  /** The cursor as (lo, hi) words, like a GPR. */
  lo = 0;
  hi = 0;

  at(lo: number, hi: number): void {
    this.lo = lo;
    this.hi = hi;
  }

  /** Push 64 bits: move down 8 bytes, then write. */
  push64(m: Mmu, vlo: number, vhi: number): void {
    const sl = this.lo;
    this.hi = (sl >>> 0) < 8 ? (this.hi - 1) | 0 : this.hi;
    this.lo = (sl - 8) | 0;
    m.write64(this.lo, this.hi, vlo, vhi);
  }

  /** Pop a slot of 4 or 8 bytes: the low word; an 8-byte slot's high word is then in m.hiOut. */
  pop(m: Mmu, bytes: 4 | 8): number {
    const v = bytes === 8 ? m.read64(this.lo, this.hi) : m.read32(this.lo, this.hi);
    this.skip(bytes);
    return v;
  }

  /** Move up `bytes` (a far RET's released parameters). */
  skip(bytes: number): void {
    const s = (this.lo >>> 0) + bytes;
    this.lo = s | 0;
    if (s >= TWO32) this.hi = (this.hi + 1) | 0;
  }
}
