// Page-crossing accesses through the CPU's MMU (SDM vol. 3A §4: each byte of a multi-byte access is translated
// through its own page): virtual pages mapped to physical frames that are not adjacent, so a write that ignored
// the second translation would land in the wrong frame. A write whose second page is not mapped faults before
// any byte changes (the SDM's "no partial update" for a faulting data write within one instruction).

import { describe, expect, it } from 'vitest';
import { Cpu } from '../src/emulator/cpu/Cpu.js';

const MB = 1024 * 1024;

function setup() {
  const cpu = new Cpu({ memoryBytes: 16 * MB, cyclesPerInstruction: 1 });
  const dv = new DataView(cpu.mmu.u8.buffer);
  const put = (at: number, v: bigint) => dv.setBigUint64(at, v, true);
  const P = 1n, W = 2n, PS = 0x80n;
  put(0x1000, 0x2000n | P | W); // PML4[0] -> PDPT 0x2000
  put(0x2000, 0x4000n | P | W); // PDPT[0] -> PD 0x4000
  put(0x4000, 0x5000n | P | W); // PD[0] -> PT 0x5000 (virtual 0..2 MiB in 4 KiB pages)
  put(0x4000 + 8, BigInt(8 * MB) | P | W | PS); // PD[1]: 2 MiB page at 8 MiB
  put(0x4000 + 16, BigInt(4 * MB) | P | W | PS); // PD[2]: 2 MiB page at 4 MiB (below PD[1]'s frame)
  put(0x5000 + 3 * 8, 0x123000n | P | W); // virtual 0x3000 -> 0x123000
  put(0x5000 + 4 * 8, 0x456000n | P | W); // virtual 0x4000 -> 0x456000 (not adjacent)
  // virtual 0x5000: PT[5] not present.
  cpu.setCr3(0x1000);
  return cpu;
}

const bytesAt = (cpu: Cpu, at: number, n: number) => [...cpu.mmu.u8.subarray(at, at + n)];

describe('MMU page-crossing accesses', () => {
  it('write16/32/64 across a 4 KiB boundary put each byte in its own page frame, little-endian', () => {
    const cpu = setup();
    cpu.mmu.write16(0x3fff, 0, 0xbbaa);
    expect(bytesAt(cpu, 0x123fff, 1)).toEqual([0xaa]);
    expect(bytesAt(cpu, 0x456000, 1)).toEqual([0xbb]);
    expect(cpu.mmu.read16(0x3fff, 0)).toBe(0xbbaa);

    cpu.mmu.write32(0x3ffd, 0, 0x44332211);
    expect(bytesAt(cpu, 0x123ffd, 3)).toEqual([0x11, 0x22, 0x33]);
    expect(bytesAt(cpu, 0x456000, 1)).toEqual([0x44]);
    expect(cpu.mmu.read32(0x3ffd, 0) >>> 0).toBe(0x44332211);

    cpu.mmu.write64(0x3ffb, 0, 0x44332211 | 0, 0x88776655 | 0);
    expect(bytesAt(cpu, 0x123ffb, 5)).toEqual([0x11, 0x22, 0x33, 0x44, 0x55]);
    expect(bytesAt(cpu, 0x456000, 3)).toEqual([0x66, 0x77, 0x88]);
    expect(cpu.mmu.read64(0x3ffb, 0) >>> 0).toBe(0x44332211);
    expect(cpu.mmu.hiOut >>> 0).toBe(0x88776655);
  });

  it('write64 across a 2 MiB boundary into a lower frame', () => {
    const cpu = setup();
    const va = 0x400000 - 3; // last 3 bytes of PD[1]'s page, then 5 bytes of PD[2]'s
    cpu.mmu.write64(va, 0, 0x04030201, 0x08070605);
    expect(bytesAt(cpu, 8 * MB + 2 * MB - 3, 3)).toEqual([1, 2, 3]);
    expect(bytesAt(cpu, 4 * MB, 5)).toEqual([4, 5, 6, 7, 8]);
  });

  it('a write whose second page is not present faults and changes no byte of the first', () => {
    const cpu = setup();
    cpu.mmu.u8.fill(0x5a, 0x456ffc, 0x457000);
    for (const [n, write] of [
      [2, () => cpu.mmu.write16(0x4fff, 0, 0xffff)],
      [4, () => cpu.mmu.write32(0x4ffd, 0, -1)],
      [8, () => cpu.mmu.write64(0x4ffc, 0, -1, -1)],
    ] as const) {
      expect(write, `write of ${n} bytes`).toThrow();
      expect(bytesAt(cpu, 0x456ffc, 4)).toEqual([0x5a, 0x5a, 0x5a, 0x5a]);
    }
  });
});
