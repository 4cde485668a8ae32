// A bare 64-bit CPU set up the way a small kernel would set itself up, for CPU unit tests: identity-mapped
// low memory (2 MiB pages, supervisor), a GDT in the SYSCALL/SYSRET layout, a 64-bit TSS with RSP0 and
// IST1, and an IDT whose every vector points at a HLT stub (so a test sees which vector arrived).

import { Cpu, Stop } from '../../src/emulator/cpu/Cpu.js';

export const PML4 = 0x1000;
export const PDPT = 0x2000;
export const PD = 0x3000;
export const GDT = 0x5000;
export const IDT = 0x6000;
export const TSS = 0x7000;
/** Vector v's handler is a HLT at STUBS + 16 * v. */
export const STUBS = 0x8000;
export const RSP0 = 0x9f000;
export const IST1 = 0x8f000;
export const KCODE = 0x100000;
/** Selectors: kernel CS 0x08, SS 0x10; STAR[63:48] = 0x18 gives user SS 0x23, user CS 0x2b; TSS 0x30. */
export const Sel = { kcode: 0x08, kdata: 0x10, udata: 0x23, ucode: 0x2b, tss: 0x30 } as const;

export class BareMachine {
  readonly cpu: Cpu;
  readonly dv: DataView;
  private nextTable = 0x20000;

  /** A fresh CPU of `memoryBytes`, or set up an existing one (a Machine's). */
  constructor(memoryBytes: number | Cpu = 16 << 20) {
    const cpu = typeof memoryBytes === 'number' ? new Cpu({ memoryBytes }) : memoryBytes;
    this.cpu = cpu;
    this.dv = new DataView(cpu.mmu.u8.buffer);
    const dv = this.dv;
    // PML4[0] -> PDPT; PDPT[0] -> PD; PD maps 0..16 MiB with 2 MiB pages, supervisor RWX.
    this.set64(PML4, PDPT | 7);
    this.set64(PDPT, PD | 7);
    for (let i = 0; i < 8; i++) this.set64(PD + i * 8, (i << 21) | 0x83);
    // GDT: null, kernel code (L), kernel data, user code32 (unused), user data, user code (L), TSS.
    const desc = (i: number, hi: number): void => { dv.setUint32(GDT + i * 8, 0xffff, true); dv.setUint32(GDT + i * 8 + 4, hi, true); };
    desc(1, 0x00af9a00); // code, DPL0, L
    desc(2, 0x00cf9200); // data, DPL0
    desc(3, 0x00cffa00); // 32-bit code, DPL3
    desc(4, 0x00cff200); // data, DPL3
    desc(5, 0x00affa00); // code, DPL3, L
    // 64-bit available TSS (type 9) at TSS, limit 0x67.
    dv.setUint32(GDT + 6 * 8, ((TSS & 0xffff) << 16) | 0x67, true);
    dv.setUint32(GDT + 6 * 8 + 4, (TSS & 0xff000000) | 0x8900 | ((TSS >> 16) & 0xff), true);
    dv.setUint32(GDT + 7 * 8, 0, true);
    // TSS: RSP0 at +4, IST1 at +36.
    this.set64(TSS + 4, RSP0);
    this.set64(TSS + 36, IST1);
    // I/O map base past the limit: no I/O permission bit map, so user IN/OUT fault while IOPL is 0.
    dv.setUint16(TSS + 0x66, 0x68, true);
    for (let v = 0; v < 256; v++) {
      this.setGate(v, STUBS + v * 16, 0, 0, 0xe);
      cpu.mmu.u8[STUBS + v * 16] = 0xf4; // hlt
    }
    cpu.gdtrBaseLo = GDT;
    cpu.gdtrLimit = 8 * 8 - 1;
    cpu.idtrBaseLo = IDT;
    cpu.idtrLimit = 256 * 16 - 1;
    cpu.tr = Sel.tss;
    cpu.trBaseLo = TSS;
    cpu.trLimit = 0x67;
    cpu.setCr3(PML4);
    cpu.syncPaging();
    cpu.cs = Sel.kcode;
    cpu.ss = Sel.kdata;
    cpu.setReg(4, BigInt(RSP0 - 0x100));
    cpu.setRip(BigInt(KCODE));
  }

  set64(addr: number, v: number | bigint): void {
    this.dv.setBigUint64(addr, BigInt(v), true);
  }

  get64(addr: number): bigint {
    return this.dv.getBigUint64(addr, true);
  }

  /** IDT gate: type 0xE interrupt gate, 0xF trap gate; dpl; ist index. */
  setGate(vector: number, target: number, dpl: number, ist: number, type = 0xe): void {
    const a = IDT + vector * 16;
    this.dv.setUint32(a, (Sel.kcode << 16) | (target & 0xffff), true);
    this.dv.setUint32(a + 4, (target & 0xffff0000) | 0x8000 | (dpl << 13) | (type << 8) | ist, true);
    this.dv.setUint32(a + 8, 0, true);
    this.dv.setUint32(a + 12, 0, true);
  }

  load(addr: number, bytes: Uint8Array): void {
    this.cpu.mmu.writePhys(addr, bytes);
  }

  /**
   * Map one 4 KiB page va -> pa with the given PTE flags (bit 0 P, 1 W, 2 U; nx adds bit 63), creating
   * page tables (user-accessible, writable) under the existing PML4.
   */
  map4k(va: bigint, pa: number, flags: number, nx = false): number {
    const idx = [(va >> 39n) & 511n, (va >> 30n) & 511n, (va >> 21n) & 511n, (va >> 12n) & 511n].map(Number);
    let table = PML4;
    for (let level = 0; level < 3; level++) {
      const at = table + idx[level] * 8;
      let e = Number(this.get64(at) & 0xfffff000n);
      const present = (this.get64(at) & 1n) !== 0n;
      if (!present || (this.get64(at) & 0x80n) !== 0n) {
        this.nextTable += 0x1000;
        e = this.nextTable;
        this.set64(at, e | 7);
      }
      table = e;
    }
    const at = table + idx[3] * 8;
    this.set64(at, BigInt(pa | flags) | (nx ? 1n << 63n : 0n));
    this.cpu.mmu.flushTlb();
    return at;
  }

  /** Address of the PTE (or large-page entry) for va, walking the tables (test inspection). */
  entryFor(va: bigint, level: 1 | 2 | 3 | 4): number {
    const idx = [(va >> 39n) & 511n, (va >> 30n) & 511n, (va >> 21n) & 511n, (va >> 12n) & 511n].map(Number);
    let table = PML4;
    for (let l = 0; l < 4; l++) {
      const at = table + idx[l] * 8;
      if (l === 4 - level) return at;
      table = Number(this.get64(at) & 0xffffffffff000n);
    }
    throw new Error('unreachable');
  }

  /** Run until HLT, a triple fault, or `max` instructions. */
  runToHalt(max = 100_000): Stop {
    const cpu = this.cpu;
    const limit = cpu.icount + max;
    for (;;) {
      const s = cpu.run(limit);
      if (s !== Stop.interrupt && s !== Stop.requested) return s;
      if (s === Stop.interrupt) return s;
    }
  }

  /** Vector whose HLT stub the CPU stopped on, or -1. */
  haltedVector(): number {
    const rip = Number(this.cpu.getRip()) - 1;
    if (rip < STUBS || rip >= STUBS + 256 * 16 || (rip - STUBS) % 16 !== 0) return -1;
    return (rip - STUBS) / 16;
  }
}
