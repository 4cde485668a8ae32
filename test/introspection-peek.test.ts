// The VMM's side-effect-free page walk (src/emulator/cpu/peek.ts) against the CPU's own MMU on page tables
// built here by hand: every mapping the MMU translates (4 KiB, 2 MiB and 1 GiB pages, user and kernel-half
// addresses) the peek translates to the same physical address, unmapped addresses give -1, and peeking leaves
// the accessed bits as they were (the MMU sets them).

import { describe, expect, it } from 'vitest';
import { peekTranslate, peekVirt } from '../src/emulator/cpu/peek.js';
import { Cpu } from '../src/emulator/cpu/Cpu.js';

const MB = 1024 * 1024;

function setup() {
  const cpu = new Cpu({ memoryBytes: 64 * MB, cyclesPerInstruction: 1 });
  const dv = new DataView(cpu.mmu.u8.buffer);
  const put = (at: number, v: bigint) => dv.setBigUint64(at, v, true);
  const P = 1n, W = 2n, PS = 0x80n;
  // PML4 at 0x1000. User half: entry 0 -> PDPT 0x2000. Kernel half: entry 511 -> PDPT 0x3000.
  put(0x1000, 0x2000n | P | W);
  put(0x1000 + 511 * 8, 0x3000n | P | W);
  // PDPT 0x2000: [0] -> PD 0x4000; [1] a 1 GiB page at 0 (addresses 1 GiB..2 GiB map to 0..1 GiB).
  put(0x2000, 0x4000n | P | W);
  put(0x2000 + 8, 0x0n | P | W | PS);
  // PD 0x4000: [0] -> PT 0x5000; [1] a 2 MiB page at phys 8 MiB.
  put(0x4000, 0x5000n | P | W);
  put(0x4000 + 8, BigInt(8 * MB) | P | W | PS);
  // PT 0x5000: [3] -> phys 0x123000.
  put(0x5000 + 3 * 8, 0x123000n | P | W);
  // Kernel: 0xffffffff80000000 is PDPT entry 510 -> PD 0x6000 with 2 MiB pages from phys 0 (like Linux's
  // __START_KERNEL_map mapping).
  put(0x3000 + 510 * 8, 0x6000n | P | W);
  for (let i = 0; i < 32; i++) put(0x6000 + i * 8, BigInt(i * 2 * MB) | P | W | PS);
  cpu.setCr3(0x1000);
  return { cpu, dv };
}

describe('peek page walk', () => {
  it('translates as the MMU does, for 4 KiB, 2 MiB, 1 GiB and kernel-half pages, without setting accessed bits', () => {
    const { cpu, dv } = setup();
    const vas = [0x3000 + 0x17, 0x200000 + 0x1234, 0x40000000 + 0x345678, -0x80000000 + 0x2a1aa40, -0x80000000 + 0x1000000];
    const before = new Uint8Array(cpu.mmu.u8.subarray(0, 0x8000));
    const peeked = vas.map((va) => peekTranslate(cpu.mmu.u8, 0x1000, va));
    expect(Buffer.compare(Buffer.from(before), Buffer.from(cpu.mmu.u8.subarray(0, 0x8000)))).toBe(0);
    const mmu = vas.map((va) => cpu.mmu.virtToPhys(BigInt.asUintN(64, BigInt(va))));
    expect(peeked).toEqual(mmu);
    expect(peeked).toEqual([0x123017, 8 * MB + 0x1234, 0x345678, 0x2a1aa40, 0x1000000]);
    // The MMU's walk set the accessed bit of the PML4 entry; the peek did not (checked above by the snapshot).
    expect(dv.getUint32(0x1000, true) & 0x20).toBe(0x20);
    expect(peekTranslate(cpu.mmu.u8, 0x1000, 0x1000)).toBe(-1);
    expect(peekTranslate(cpu.mmu.u8, 0x1000, -0x100000000)).toBe(-1);
  });

  it('reads across a page boundary and refuses unmapped bytes', () => {
    const { cpu } = setup();
    cpu.mmu.u8.set([1, 2, 3, 4], 8 * MB + 0x1ffffe);
    cpu.mmu.u8.set([5, 6], 8 * MB + 0x200000 - 0x200000 + 0); // the next 2 MiB page is unmapped (PD entry 2)
    expect(peekVirt(cpu.mmu.u8, 0x1000, 0x200000 + 0x1ffffe, 2)).toEqual(new Uint8Array([1, 2]));
    expect(peekVirt(cpu.mmu.u8, 0x1000, 0x200000 + 0x1ffffe, 4)).toBeNull();
  });
});
