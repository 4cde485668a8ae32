// Case generators for the differential ISA tests: every general-purpose instruction family of the CPU issue in
// all operand sizes, register/immediate/memory forms, with curated edge values plus seeded random ones.
//
// A generator emits CaseSpecs: GNU-as Intel-syntax text (assembled in one batch by assemble.ts, so encodings
// come from binutils), the initial registers/flags/scratch memory, and what the SDM leaves undefined for that
// case beyond what iced-x86's instruction info reports (count-dependent shift flags, SHLD/SHRD results past
// the operand size, BSF/BSR destinations for a zero source).

import { Rng } from './prng.js';
import { hostCpuVendor } from './native.js';
import { DATA_BASE, DATA_BYTES, type CpuFeature } from './types.js';

/** RFLAGS bit masks (bit positions as in RFLAGS). */
export const FL = { CF: 0x1n, PF: 0x4n, AF: 0x10n, ZF: 0x40n, SF: 0x80n, DF: 0x400n, OF: 0x800n } as const;
export const ARITH = 0x8d5n;

export interface CaseSpec {
  family: string;
  name: string;
  /** GNU as, `.intel_syntax noprefix`; instructions separated by ';' or newlines. */
  asm: string;
  regs: bigint[];
  rflags: bigint;
  mem: Uint8Array;
  /** RFLAGS bits the SDM leaves undefined after this snippet; when absent, derived from iced-x86's info. */
  undef?: bigint;
  /** Registers whose final value the SDM leaves undefined (not compared). */
  ignoreRegs?: number[];
  /** Scratch byte ranges [offset, length) whose final value the SDM leaves undefined (not compared). */
  ignoreMem?: [number, number][];
  /** Tags a case whose undefined-by-SDM result is also reported as the host's actual behaviour. */
  hostFact?: string;
  /**
   * Scratch offset of 16 SETcc result bytes (CONDS order): a byte whose condition reads a flag left undefined
   * at the end of the snippet is not compared.
   */
  setccAt?: number;
  /** Scratch offset of a byte stored from AH after LAHF: not compared if SF ZF AF PF or CF is undefined. */
  lahfAt?: number;
  /** What the emulator runs instead of `asm` (DiffCase.emuCode): its meaning on the emulated CPU is `asm`'s. */
  emuAsm?: string;
  /** CPUID features the emulated CPU advertises for this case (DiffCase.advertise). */
  advertise?: readonly CpuFeature[];
}

export type Size = 8 | 16 | 32 | 64;
export const SIZES: readonly Size[] = [8, 16, 32, 64];
const WIDE: readonly Size[] = [16, 32, 64];

const N64 = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];
const N32 = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi', ...N64.slice(8).map((r) => `${r}d`)];
const N16 = ['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di', ...N64.slice(8).map((r) => `${r}w`)];
const N8 = ['al', 'cl', 'dl', 'bl', 'spl', 'bpl', 'sil', 'dil', ...N64.slice(8).map((r) => `${r}b`)];
const N8H = ['ah', 'ch', 'dh', 'bh'];
export const REG_NAMES = N64;

export interface Reg {
  name: string;
  idx: number;
  size: Size;
  /** ah/ch/dh/bh: bits 15:8 of register idx. */
  high: boolean;
}

export function reg(size: Size, idx: number, high = false): Reg {
  const name = high ? N8H[idx] : size === 64 ? N64[idx] : size === 32 ? N32[idx] : size === 16 ? N16[idx] : N8[idx];
  return { name, idx, size, high };
}

export const mask = (size: number): bigint => (1n << BigInt(size)) - 1n;
export const ptr = (size: Size): string => ({ 8: 'byte', 16: 'word', 32: 'dword', 64: 'qword' })[size] + ' ptr';
const signed = (v: bigint, size: number): bigint => BigInt.asIntN(size, v);
export const hex = (v: bigint): string => (v < 0n ? `-0x${(-v).toString(16)}` : `0x${v.toString(16)}`);

export function put(regs: bigint[], r: Reg, v: bigint): void {
  const m = mask(r.size);
  const sh = r.high ? 8n : 0n;
  regs[r.idx] = (regs[r.idx] & ~(m << sh)) | ((v & m) << sh);
}

export function putMem(mem: Uint8Array, off: number, size: number, v: bigint): void {
  for (let i = 0; i < size / 8; i++) mem[off + i] = Number((v >> BigInt(8 * i)) & 0xffn);
}

/** Curated edge values of a width: zero, one, sign boundaries, all-ones, alternating bits. */
export function edges(size: number): bigint[] {
  const m = mask(size);
  const h = 1n << BigInt(size - 1);
  return [0n, 1n, 2n, h - 1n, h, h + 1n, m, m - 1n, 0x5555555555555555n & m, 0xaaaaaaaaaaaaaaaan & m];
}

export function val(rng: Rng, size: number): bigint {
  const k = rng.int(10);
  if (k < 3) return rng.pick(edges(size));
  if (k < 5) return BigInt.asUintN(size, BigInt(rng.int(33) - 16));
  return rng.u64() & mask(size);
}

/** Pick register operands of the given sizes; high-byte registers only where no REX prefix is needed. */
export function pickRegs(rng: Rng, sizes: readonly Size[], opts: { noHigh?: boolean; exclude?: number[]; distinct?: boolean } = {}): Reg[] {
  const ex = new Set(opts.exclude ?? []);
  const useHigh = !opts.noHigh && sizes.includes(8) && !sizes.includes(64) && rng.int(4) === 0;
  const out: Reg[] = [];
  for (const s of sizes) {
    for (let tries = 0; ; tries++) {
      let r: Reg;
      if (useHigh) {
        const i = rng.int(s === 8 ? 8 : 8);
        r = s === 8 && i >= 4 ? reg(8, i - 4, true) : s === 8 ? reg(8, i) : reg(s, i);
      } else {
        r = reg(s, rng.int(16));
      }
      if (ex.has(r.idx) && tries < 100) continue;
      if (opts.distinct && out.some((o) => o.idx === r.idx) && tries < 100) continue;
      out.push(r);
      break;
    }
  }
  return out;
}

/** Needs no REX prefix (so it can sit next to ah/ch/dh/bh). */
const legacyOnly = (regs: Reg[]): boolean => regs.some((r) => r.high);

/**
 * A memory operand whose effective address is DATA_BASE + off, in one of several addressing forms (base,
 * base+disp, base+index*scale+disp, index only, absolute, 32-bit address size, 64-bit wraparound). Sets the
 * address registers it uses, avoiding `used`.
 */
function memOp(rng: Rng, regs: bigint[], used: Reg[], off: number, size: Size): string {
  const legacy = legacyOnly(used);
  const taken = new Set(used.map((r) => r.idx));
  const free = (noRsp: boolean): number => {
    for (;;) {
      const i = rng.int(legacy ? 8 : 16);
      if (taken.has(i) || (noRsp && i === 4)) continue;
      taken.add(i);
      return i;
    }
  };
  const addr = DATA_BASE + BigInt(off);
  const disp = (): bigint => BigInt(rng.pick([0, 8, -8, 0x7f, -0x80, 0x100, -0x1234, 0x40000]));
  const d2s = (d: bigint): string => (d === 0n ? '' : d < 0n ? ` - ${hex(-d)}` : ` + ${hex(d)}`);
  const p = ptr(size);
  switch (rng.int(7)) {
    case 0: {
      const b = free(false);
      regs[b] = addr;
      return `${p} [${N64[b]}]`;
    }
    case 1: {
      const b = free(false);
      const d = disp();
      regs[b] = BigInt.asUintN(64, addr - d);
      return `${p} [${N64[b]}${d2s(d)}]`;
    }
    case 2: {
      const b = free(false);
      const i = free(true);
      const s = BigInt(rng.pick([1, 2, 4, 8]));
      const d = disp();
      const iv = BigInt(rng.int(64) - 32);
      regs[i] = BigInt.asUintN(64, iv);
      regs[b] = BigInt.asUintN(64, addr - iv * s - d);
      return `${p} [${N64[b]} + ${N64[i]}*${s}${d2s(d)}]`;
    }
    case 3: {
      const i = free(true);
      const s = BigInt(rng.pick([1, 2, 4, 8]));
      const iv = BigInt(rng.int(256));
      regs[i] = iv;
      return `${p} [${N64[i]}*${s} + ${hex(addr - iv * s)}]`;
    }
    case 4:
      return `${p} [${hex(addr)}]`;
    case 5: {
      // 32-bit address size: the upper half of the base is ignored.
      const b = free(false);
      const d = disp();
      regs[b] = (rng.u64() & 0xffffffff00000000n) | BigInt.asUintN(32, addr - d);
      return `${p} [${N32[b]}${d2s(d)}]`;
    }
    default: {
      // 64-bit wraparound: a huge base plus a negative index lands in the scratch page.
      const b = free(false);
      const i = free(true);
      const s = BigInt(rng.pick([1, 2, 4, 8]));
      const iv = BigInt.asIntN(64, rng.u64() | (1n << 63n)) >> BigInt(rng.int(60));
      regs[i] = BigInt.asUintN(64, iv);
      regs[b] = BigInt.asUintN(64, addr - iv * s);
      return `${p} [${N64[b]} + ${N64[i]}*${s}]`;
    }
  }
}

/** A scratch offset for an operand of `bytes`, aligned or not. */
function memOff(rng: Rng, bytes: number): number {
  const o = 16 + rng.int(DATA_BYTES - 32 - bytes);
  return rng.int(3) === 0 ? o : o & ~(bytes - 1);
}

export class Gen {
  readonly out: CaseSpec[] = [];
  private n = 0;
  constructor(
    readonly family: string,
    readonly rng: Rng,
  ) {}

  /** A fresh random machine state: all 16 GPRs random, random arithmetic flags, DF clear, random scratch. */
  state(): { regs: bigint[]; rflags: bigint; mem: Uint8Array } {
    const regs: bigint[] = [];
    for (let i = 0; i < 16; i++) regs.push(this.rng.u64());
    const mem = new Uint8Array(DATA_BYTES);
    this.rng.fill(mem);
    return { regs, rflags: BigInt(this.rng.u32()) & ARITH, mem };
  }

  add(form: string, asm: string, st: { regs: bigint[]; rflags: bigint; mem: Uint8Array }, extra: Partial<CaseSpec> = {}): void {
    this.out.push({ family: this.family, name: `${form} #${this.n++}: ${asm}`, asm, ...st, ...extra });
  }
}

// ---------------------------------------------------------------------------------------------- ALU

const ALU2 = ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp', 'test'] as const;

export function immFor(rng: Rng, size: Size, short: boolean): bigint {
  if (short) return BigInt(rng.pick([0, 1, -1, 0x7f, -0x80, 2, -2]) + (rng.int(3) === 0 ? rng.int(100) - 50 : 0));
  if (size === 64) return signed(rng.bool() ? rng.pick(edges(32)) : rng.u64(), 32);
  return signed(rng.bool() ? rng.pick(edges(size)) : rng.u64() & mask(size), size);
}

export function alu(rng: Rng): CaseSpec[] {
  const g = new Gen('alu', rng);
  for (const op of ALU2) {
    for (const size of SIZES) {
      const E = edges(size);
      // register, register: a spread of edge pairs, then random values; CF alternates for ADC/SBB.
      for (let k = 0; k < 44; k++) {
        const st = g.state();
        const [d, s] = pickRegs(rng, [size, size]);
        put(st.regs, d, k < 30 ? E[(k * 7) % E.length] : val(rng, size));
        if (d.idx !== s.idx || d.high !== s.high) put(st.regs, s, k < 30 ? E[(k * 3 + (k >> 3)) % E.length] : val(rng, size));
        st.rflags = (st.rflags & ~FL.CF) | BigInt(k & 1);
        g.add(`${op} r${size},r${size}`, `${op} ${d.name}, ${s.name}`, st);
      }
      // register, immediate (imm8 sign-extended and full-width forms; accumulator short forms).
      for (let k = 0; k < 14; k++) {
        const st = g.state();
        const [d] = k < 4 ? [reg(size, 0)] : pickRegs(rng, [size]);
        put(st.regs, d, val(rng, size));
        const imm = immFor(rng, size, size !== 8 && k % 2 === 1);
        g.add(`${op} r${size},imm`, `${op} ${d.name}, ${imm}`, st);
      }
      // memory forms
      for (let k = 0; k < 12; k++) {
        const st = g.state();
        const off = memOff(rng, size / 8);
        putMem(st.mem, off, size, val(rng, size));
        const kind = k % 3;
        if (kind === 0) {
          const [r] = pickRegs(rng, [size]);
          put(st.regs, r, val(rng, size));
          g.add(`${op} m${size},r${size}`, `${op} ${memOp(rng, st.regs, [r], off, size)}, ${r.name}`, st);
        } else if (kind === 1) {
          const [r] = pickRegs(rng, [size]);
          put(st.regs, r, val(rng, size));
          g.add(`${op} r${size},m${size}`, `${op} ${r.name}, ${memOp(rng, st.regs, [r], off, size)}`, st);
        } else {
          const imm = immFor(rng, size, size !== 8 && rng.bool());
          g.add(`${op} m${size},imm`, `${op} ${memOp(rng, st.regs, [], off, size)}, ${imm}`, st);
        }
      }
    }
  }
  return g.out;
}

export function unary(rng: Rng): CaseSpec[] {
  const g = new Gen('unary', rng);
  for (const op of ['inc', 'dec', 'neg', 'not']) {
    for (const size of SIZES) {
      const E = edges(size);
      for (let k = 0; k < 22; k++) {
        const st = g.state();
        const [d] = pickRegs(rng, [size]);
        put(st.regs, d, k < E.length ? E[k] : val(rng, size));
        g.add(`${op} r${size}`, `${op} ${d.name}`, st);
      }
      for (let k = 0; k < 6; k++) {
        const st = g.state();
        const off = memOff(rng, size / 8);
        putMem(st.mem, off, size, k < 3 ? rng.pick(E) : val(rng, size));
        g.add(`${op} m${size}`, `${op} ${memOp(rng, st.regs, [], off, size)}`, st);
      }
    }
  }
  return g.out;
}

// ---------------------------------------------------------------------------------------------- moves

export function moves(rng: Rng): CaseSpec[] {
  const g = new Gen('mov', rng);
  for (const size of SIZES) {
    for (let k = 0; k < 10; k++) {
      const st = g.state();
      const [d, s] = pickRegs(rng, [size, size]);
      g.add(`mov r${size},r${size}`, `mov ${d.name}, ${s.name}`, st);
    }
    for (let k = 0; k < 8; k++) {
      const st = g.state();
      const [d] = pickRegs(rng, [size]);
      if (size === 64 && k < 4) {
        g.add('movabs r64,imm64', `movabs ${d.name}, ${hex(rng.u64())}`, st);
      } else {
        g.add(`mov r${size},imm`, `mov ${d.name}, ${immFor(rng, size, false)}`, st);
      }
    }
    for (let k = 0; k < 18; k++) {
      const st = g.state();
      const off = memOff(rng, size / 8);
      const [r] = pickRegs(rng, [size]);
      const kind = k % 3;
      if (kind === 0) g.add(`mov r${size},m${size}`, `mov ${r.name}, ${memOp(rng, st.regs, [r], off, size)}`, st);
      else if (kind === 1) g.add(`mov m${size},r${size}`, `mov ${memOp(rng, st.regs, [r], off, size)}, ${r.name}`, st);
      else g.add(`mov m${size},imm`, `mov ${memOp(rng, st.regs, [], off, size)}, ${immFor(rng, size, false)}`, st);
    }
    // Absolute moffs forms (A0-A3) exist only for the accumulator with a 64-bit address.
    {
      const st = g.state();
      const off = memOff(rng, size / 8);
      const acc = reg(size, 0).name;
      g.add(`movabs acc,moffs${size}`, `movabs ${acc}, ${ptr(size)} [${hex(DATA_BASE + BigInt(off))}]`, st);
      const st2 = g.state();
      g.add(`movabs moffs${size},acc`, `movabs ${ptr(size)} [${hex(DATA_BASE + BigInt(off))}], ${acc}`, st2);
    }
  }
  // MOVZX / MOVSX / MOVSXD, register and memory sources.
  const ext: [string, Size, Size][] = [
    ['movzx', 16, 8], ['movzx', 32, 8], ['movzx', 64, 8], ['movzx', 32, 16], ['movzx', 64, 16],
    ['movsx', 16, 8], ['movsx', 32, 8], ['movsx', 64, 8], ['movsx', 32, 16], ['movsx', 64, 16], ['movsxd', 64, 32],
  ];
  for (const [op, ds, ss] of ext) {
    for (let k = 0; k < 16; k++) {
      const st = g.state();
      if (k < 10) {
        const [d, s] = pickRegs(rng, [ds, ss]);
        put(st.regs, s, k < 5 ? edges(ss)[k + 3] : val(rng, ss));
        g.add(`${op} r${ds},r${ss}`, `${op} ${d.name}, ${s.name}`, st);
      } else {
        const [d] = pickRegs(rng, [ds]);
        const off = memOff(rng, ss / 8);
        putMem(st.mem, off, ss, val(rng, ss));
        g.add(`${op} r${ds},m${ss}`, `${op} ${d.name}, ${memOp(rng, st.regs, [d], off, ss)}`, st);
      }
    }
  }
  // LEA: pure address arithmetic in 16/32/64-bit operand size and 32/64-bit address size.
  for (const size of WIDE) {
    for (let k = 0; k < 24; k++) {
      const st = g.state();
      const [d] = pickRegs(rng, [size]);
      const a32 = k % 4 === 3;
      const names = a32 ? N32 : N64;
      const b = rng.int(16);
      let i = rng.int(16);
      if (i === 4) i = 5;
      const s = rng.pick([1, 2, 4, 8]);
      const disp = rng.pick([0, 1, -1, 0x7f, -0x80, 0x12345678, -0x7fffffff, rng.int(1 << 20)]);
      const dpart = disp === 0 ? '' : disp < 0 ? ` - ${-disp}` : ` + ${disp}`;
      const form = k % 3 === 0 ? `[${names[b]}${dpart}]` : `[${names[b]} + ${names[i]}*${s}${dpart}]`;
      if (k < 6) st.regs[b] = rng.pick([0n, mask(64), 1n << 63n, mask(32)]);
      g.add(`lea r${size},m (a${a32 ? 32 : 64})`, `lea ${d.name}, ${form}`, st);
    }
  }
  {
    const st = g.state();
    g.add('lea r64,[rip+d]', 'lea rax, [rip + 1f]; 1:', st);
  }
  // XCHG: register pairs (incl. the 90+r accumulator forms and `xchg eax, eax`, which zero-extends) and memory.
  for (const size of SIZES) {
    for (let k = 0; k < 12; k++) {
      const st = g.state();
      const [d, s] = k < 3 && size !== 8 ? [reg(size, 0), reg(size, rng.int(16))] : pickRegs(rng, [size, size]);
      g.add(`xchg r${size},r${size}`, `xchg ${d.name}, ${s.name}`, st);
    }
    for (let k = 0; k < 4; k++) {
      const st = g.state();
      const [r] = pickRegs(rng, [size]);
      const off = memOff(rng, size / 8);
      g.add(`xchg m${size},r${size}`, `xchg ${memOp(rng, st.regs, [r], off, size)}, ${r.name}`, st);
    }
  }
  return g.out;
}

// ---------------------------------------------------------------------------------------------- shifts

const SHIFTS = ['shl', 'shr', 'sar', 'rol', 'ror', 'rcl', 'rcr'] as const;
const SHIFT_EXT: Record<(typeof SHIFTS)[number], number> = { rol: 0, ror: 1, rcl: 2, rcr: 3, shl: 4, shr: 5, sar: 7 };
const COUNTS = [0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 255];

/**
 * Flags the SDM leaves undefined after a shift/rotate with this raw count (SDM Vol. 2B SAL/SAR/SHL/SHR and
 * RCL/RCR/ROL/ROR): masked count 0 changes nothing; OF is defined only for a count of 1; AF is undefined for a
 * nonzero shift; CF is undefined for SHL/SHR by at least the operand size.
 */
export function shiftUndef(op: string, size: Size, count: number): bigint {
  const c = count & (size === 64 ? 63 : 31);
  if (c === 0) return 0n;
  let u = c === 1 ? 0n : FL.OF;
  if (op === 'shl' || op === 'shr' || op === 'sar' || op === 'sal') u |= FL.AF;
  if ((op === 'shl' || op === 'shr' || op === 'sal') && c >= size) u |= FL.CF;
  return u;
}

/** `op r, 1` encoded as C0/C1 /ext ib with imm8 = 1 (the assembler always picks D0/D1 for a count of 1). */
function shiftImm1Bytes(ext: number, r: Reg): string {
  const b: number[] = [];
  if (r.size === 16) b.push(0x66);
  let rex = 0;
  if (r.size === 64) rex |= 8;
  if (!r.high && r.idx >= 8) rex |= 1;
  if (rex !== 0 || (r.size === 8 && !r.high && r.idx >= 4)) b.push(0x40 | rex);
  b.push(r.size === 8 ? 0xc0 : 0xc1, 0xc0 | (ext << 3) | (r.high ? r.idx + 4 : r.idx & 7), 1);
  return `.byte ${b.map((x) => `0x${x.toString(16)}`).join(', ')}`;
}

export function shifts(rng: Rng): CaseSpec[] {
  const g = new Gen('shift', rng);
  for (const op of SHIFTS) {
    for (const size of SIZES) {
      const E = edges(size);
      // by CL: every interesting count with edge and random values (dest is never CL itself).
      for (const count of [...COUNTS, rng.int(256), rng.int(256)]) {
        for (let v = 0; v < 2; v++) {
          const st = g.state();
          const [d] = pickRegs(rng, [size], { exclude: [1] });
          put(st.regs, d, v === 0 ? rng.pick(E) : val(rng, size));
          st.regs[1] = (st.regs[1] & ~0xffn) | BigInt(count);
          const c = Number(st.regs[1] & 0xffn);
          g.add(`${op} r${size},cl`, `${op} ${d.name}, cl`, st, { undef: shiftUndef(op, size, c) });
        }
      }
      // by imm8 (C0/C1), including 0 and the hand-encoded count-1 form.
      for (const count of [...COUNTS, rng.int(256)]) {
        const st = g.state();
        const [d] = pickRegs(rng, [size]);
        put(st.regs, d, val(rng, size));
        const asm = count === 1 ? shiftImm1Bytes(SHIFT_EXT[op], d) : `${op} ${d.name}, ${count}`;
        g.add(`${op} r${size},imm8`, count === 1 ? `${asm} /* ${op} ${d.name}, 1 (C1 form) */` : asm, st, { undef: shiftUndef(op, size, count) });
      }
      // by 1 (D0/D1)
      for (let k = 0; k < 10; k++) {
        const st = g.state();
        const [d] = pickRegs(rng, [size]);
        put(st.regs, d, k < E.length ? E[k] : val(rng, size));
        g.add(`${op} r${size},1`, `${op} ${d.name}, 1`, st, { undef: shiftUndef(op, size, 1) });
      }
      // RCL/RCR: counts around the (size+1)-bit rotation with CF clear and set, on edge values.
      if (op === 'rcl' || op === 'rcr') {
        const rc = [0, 1, 2, size - 1, size, size + 1, size + 2, 2 * size + 1, 2 * size + 2, 31, 32, 63, 64, 65];
        for (const count of rc) {
          for (const cf of [0n, 1n]) {
            for (const v of [0n, mask(size), 1n << BigInt(size - 1), 1n, 0xa5a5a5a5a5a5a5a5n & mask(size)]) {
              const st = g.state();
              const [d] = pickRegs(rng, [size], { exclude: [1] });
              put(st.regs, d, v);
              st.regs[1] = (st.regs[1] & ~0xffn) | BigInt(count & 255);
              st.rflags = (st.rflags & ~FL.CF) | cf;
              g.add(`${op} r${size},cl (edge)`, `${op} ${d.name}, cl`, st, { undef: shiftUndef(op, size, count & 255) });
            }
          }
        }
      }
      // memory destination by 1, CL and imm
      for (let k = 0; k < 9; k++) {
        const st = g.state();
        const off = memOff(rng, size / 8);
        putMem(st.mem, off, size, val(rng, size));
        const count = k % 3 === 0 ? 1 : rng.pick(COUNTS);
        if (k % 3 === 1) {
          st.regs[1] = (st.regs[1] & ~0xffn) | BigInt(count);
          const m = memOp(rng, st.regs, [reg(64, 1)], off, size);
          g.add(`${op} m${size},cl`, `${op} ${m}, cl`, st, { undef: shiftUndef(op, size, count) });
        } else {
          g.add(`${op} m${size},imm8`, `${op} ${memOp(rng, st.regs, [], off, size)}, ${count}`, st, { undef: shiftUndef(op, size, count) });
        }
      }
    }
  }
  return g.out;
}

/**
 * SHLD/SHRD (SDM Vol. 2B): count masked to 5 bits (6 with REX.W); 0 changes nothing; AF undefined; OF defined
 * only for 1; a masked count above the operand size (16-bit only) leaves the result and all flags undefined.
 */
export function doubleShifts(rng: Rng): CaseSpec[] {
  const g = new Gen('shld', rng);
  for (const op of ['shld', 'shrd']) {
    for (const size of WIDE) {
      for (const count of [...COUNTS, rng.int(256), rng.int(256)]) {
        for (const form of ['cl', 'imm', 'mem']) {
          const st = g.state();
          const c = count & (size === 64 ? 63 : 31);
          let undef = c === 0 ? 0n : FL.AF | (c === 1 ? 0n : FL.OF);
          const extra: Partial<CaseSpec> = {};
          const [d, s] = pickRegs(rng, [size, size], { exclude: form === 'cl' ? [1] : [] });
          put(st.regs, d, val(rng, size));
          put(st.regs, s, val(rng, size));
          let dst = d.name;
          if (form === 'mem') {
            const off = memOff(rng, size / 8);
            putMem(st.mem, off, size, val(rng, size));
            dst = memOp(rng, st.regs, [s, reg(64, 1)], off, size);
            if (c > size) extra.ignoreMem = [[off, size / 8]];
          } else if (c > size) {
            extra.ignoreRegs = [d.idx];
          }
          if (c > size) undef = ARITH;
          if (form === 'imm') {
            g.add(`${op} r${size},r${size},imm8`, `${op} ${dst}, ${s.name}, ${count}`, st, { undef, ...extra });
          } else {
            st.regs[1] = (st.regs[1] & ~0xffn) | BigInt(count);
            g.add(`${op} ${form === 'mem' ? 'm' : 'r'}${size},r${size},cl`, `${op} ${dst}, ${s.name}, cl`, st, { undef, ...extra });
          }
        }
      }
    }
  }
  // 16-bit edges: counts 1, 2, 8, 15, 16 (17-31 leave the result undefined) on extreme values of both operands.
  for (const op of ['shld', 'shrd']) {
    for (const count of [1, 2, 8, 15, 16]) {
      for (const [dv, sv] of [[0x8000n, 0xffffn], [0xffffn, 0n], [0x7fffn, 0x8001n], [1n, 0x8000n], [0n, 0xffffn]]) {
        const st = g.state();
        const [d, s] = pickRegs(rng, [16, 16], { exclude: [1] });
        put(st.regs, d, dv);
        put(st.regs, s, sv);
        st.regs[1] = (st.regs[1] & ~0xffn) | BigInt(count);
        g.add(`${op} r16,r16,cl (edge)`, `${op} ${d.name}, ${s.name}, cl`, st, { undef: FL.AF | (count === 1 ? 0n : FL.OF) });
      }
    }
  }
  return g.out;
}

// ---------------------------------------------------------------------------------------------- mul/div

export function muldiv(rng: Rng): CaseSpec[] {
  const g = new Gen('muldiv', rng);
  for (const op of ['mul', 'imul']) {
    for (const size of SIZES) {
      const E = edges(size);
      for (let k = 0; k < 40; k++) {
        const st = g.state();
        const [s] = pickRegs(rng, [size], { exclude: [0] });
        put(st.regs, reg(size, 0), k < 30 ? E[k % E.length] : val(rng, size));
        put(st.regs, s, k < 30 ? E[(k * 3 + 1) % E.length] : val(rng, size));
        g.add(`${op} r${size}`, `${op} ${s.name}`, st);
      }
      for (let k = 0; k < 4; k++) {
        const st = g.state();
        const off = memOff(rng, size / 8);
        putMem(st.mem, off, size, val(rng, size));
        put(st.regs, reg(size, 0), val(rng, size));
        g.add(`${op} m${size}`, `${op} ${memOp(rng, st.regs, [reg(64, 0), reg(64, 2)], off, size)}`, st);
      }
    }
  }
  for (const size of WIDE) {
    const E = edges(size);
    for (let k = 0; k < 30; k++) {
      const st = g.state();
      const [d, s] = pickRegs(rng, [size, size]);
      put(st.regs, d, k < 20 ? E[k % E.length] : val(rng, size));
      put(st.regs, s, k < 20 ? E[(k * 7 + 2) % E.length] : val(rng, size));
      g.add(`imul r${size},r${size}`, `imul ${d.name}, ${s.name}`, st);
    }
    for (let k = 0; k < 4; k++) {
      const st = g.state();
      const [d] = pickRegs(rng, [size]);
      const off = memOff(rng, size / 8);
      putMem(st.mem, off, size, val(rng, size));
      g.add(`imul r${size},m${size}`, `imul ${d.name}, ${memOp(rng, st.regs, [d], off, size)}`, st);
    }
    for (let k = 0; k < 24; k++) {
      const st = g.state();
      const [d, s] = pickRegs(rng, [size, size]);
      put(st.regs, s, val(rng, size));
      const imm = immFor(rng, size, k % 2 === 0);
      if (k % 6 === 5) {
        const off = memOff(rng, size / 8);
        putMem(st.mem, off, size, val(rng, size));
        g.add(`imul r${size},m${size},imm`, `imul ${d.name}, ${memOp(rng, st.regs, [d], off, size)}, ${imm}`, st);
      } else {
        g.add(`imul r${size},r${size},imm`, `imul ${d.name}, ${s.name}, ${imm}`, st);
      }
    }
  }
  // DIV/IDIV: the dividend is AX, DX:AX, EDX:EAX or RDX:RAX. Valid quotients are built as q*d + r so most
  // cases do not fault; zero divisors, quotient overflow and INT_MIN / -1 must raise #DE.
  for (const op of ['div', 'idiv']) {
    for (const size of SIZES) {
      const n = BigInt(size);
      for (let k = 0; k < 44; k++) {
        const st = g.state();
        const [s] = pickRegs(rng, [size], { exclude: [0, 2], noHigh: k % 5 !== 0 });
        let dividend: bigint;
        let divisor: bigint;
        if (k === 0) [dividend, divisor] = [rng.u64(), 0n];
        else if (k === 1) [dividend, divisor] = [0n, 0n];
        else if (k === 2) [dividend, divisor] = [-(1n << (2n * n - 1n)), -1n]; // INT_MIN of the double width
        else if (k === 3) [dividend, divisor] = [-(1n << (n - 1n)), -1n]; // quotient 2^(n-1): overflow for idiv
        else if (k === 4) [dividend, divisor] = [-(1n << (n - 1n)), 1n]; // quotient INT_MIN: fits
        else if (k === 5) [dividend, divisor] = [1n << n, 1n]; // quotient 2^n: overflow for div
        else if (k === 6) [dividend, divisor] = [(1n << n) - 1n, 1n];
        else if (k === 7) [dividend, divisor] = [(1n << (2n * n)) - 1n, (1n << n) - 1n]; // div: overflow by one
        else if (k < 10) [dividend, divisor] = [rng.u64() | (rng.u64() << 64n), val(rng, size)]; // usually overflow
        else {
          divisor = val(rng, size) || 1n;
          if (op === 'div') {
            const q = rng.u64() & mask(size);
            const r = rng.u64() % divisor;
            dividend = q * divisor + r;
          } else {
            const ds = signed(divisor, size);
            const q = signed(k % 3 === 0 ? rng.pick(edges(size)) : rng.u64(), size) >> BigInt(rng.int(size));
            const abs = ds < 0n ? -ds : ds;
            let r = rng.u64() % abs;
            const prod = q * ds;
            if (prod < 0n || (prod === 0n && rng.bool())) r = -r;
            dividend = prod + r;
          }
        }
        const dv = BigInt.asUintN(2 * size, dividend);
        if (size === 8) put(st.regs, reg(16, 0), dv);
        else {
          put(st.regs, reg(size, 0), dv & mask(size));
          put(st.regs, reg(size, 2), dv >> n);
        }
        if (k % 6 === 5 && k > 9) {
          const off = memOff(rng, size / 8);
          putMem(st.mem, off, size, divisor);
          g.add(`${op} m${size}`, `${op} ${memOp(rng, st.regs, [reg(64, 0), reg(64, 2)], off, size)}`, st);
        } else {
          put(st.regs, s, divisor);
          g.add(`${op} r${size}`, `${op} ${s.name}`, st);
        }
      }
    }
  }
  // Curated DIV/IDIV edges (dividend, divisor as signed or unsigned values of the double / single width):
  // extreme dividends, divisors 1 / -1 / extremes, the largest quotients that fit and the smallest that do
  // not (#DE), and every sign combination of IDIV's truncation and remainder.
  for (const size of SIZES) {
    const n = BigInt(size);
    const M = (1n << n) - 1n; // unsigned max of the width
    const MAX = (1n << (n - 1n)) - 1n; // signed max
    const MIN = -(1n << (n - 1n)); // signed min
    const WMAX = (1n << (2n * n)) - 1n; // unsigned max of the double width
    const divCases: [string, bigint, bigint][] = [
      ['div', WMAX, 1n], ['div', WMAX, M], ['div', M, 1n], ['div', M, M], ['div', 0n, M], ['div', M * M + M - 1n, M],
      ['div', M * (1n << n) - 1n, M], ['div', M * M + M, M], ['div', 1n << (2n * n - 1n), (1n << (n - 1n)) + 1n],
      ['div', 1n << (2n * n - 1n), 1n << (n - 1n)], ['div', (1n << (2n * n - 1n)) - 1n, 1n << (n - 1n)],
      ['div', ((1n << (n - 1n)) - 1n) * (1n << n) + M, 1n << (n - 1n)], ['div', 1n << n, 2n], ['div', (1n << (n + 1n)) - 1n, 2n],
      ['idiv', MAX, 1n], ['idiv', MAX, -1n], ['idiv', MIN, 1n], ['idiv', MIN, -1n], ['idiv', MIN - 1n, -1n],
      ['idiv', -(1n << (2n * n - 1n)), 1n], ['idiv', -(1n << (2n * n - 1n)), -1n], ['idiv', (1n << (2n * n - 1n)) - 1n, -1n],
      ['idiv', (1n << (2n * n - 1n)) - 1n, MIN], ['idiv', -(1n << (2n * n - 1n)), MIN], ['idiv', MAX * MAX + MAX - 1n, MAX],
      ['idiv', MAX * MAX + MAX, MAX], ['idiv', MIN * MAX - (MAX - 1n), MAX], ['idiv', MIN * MAX - MAX, MAX],
      ['idiv', MIN * MIN, MIN], ['idiv', MIN * MIN - 1n, MIN], ['idiv', MIN * (MIN + 1n), MIN],
      ['idiv', -7n, 2n], ['idiv', 7n, -2n], ['idiv', -7n, -2n], ['idiv', 7n, 2n], ['idiv', -1n, MIN], ['idiv', MIN, MIN],
      ['idiv', -1n, -1n], ['idiv', 0n, -1n], ['idiv', MAX * 3n + 2n, 3n], ['idiv', (MAX + 1n) * 3n, 3n],
      ['idiv', MIN * 3n - 2n, 3n], ['idiv', (MIN - 1n) * 3n, 3n], ['idiv', MIN * -3n, -3n], ['idiv', MAX * -3n - 2n, -3n],
    ];
    for (const [op, dividend, divisor] of divCases) {
      const st = g.state();
      const [s] = pickRegs(rng, [size], { exclude: [0, 2], noHigh: true });
      const dv = BigInt.asUintN(2 * size, dividend);
      if (size === 8) put(st.regs, reg(16, 0), dv);
      else {
        put(st.regs, reg(size, 0), dv & mask(size));
        put(st.regs, reg(size, 2), dv >> n);
      }
      put(st.regs, s, BigInt.asUintN(size, divisor));
      g.add(`${op} r${size} (edge)`, `${op} ${s.name}`, st);
    }
  }
  return g.out;
}

// ---------------------------------------------------------------------------------------------- bits

export function bits(rng: Rng): CaseSpec[] {
  const g = new Gen('bit', rng);
  for (const op of ['bt', 'bts', 'btr', 'btc']) {
    for (const size of WIDE) {
      for (let k = 0; k < 14; k++) {
        const st = g.state();
        const [d, s] = pickRegs(rng, [size, size], { distinct: true });
        put(st.regs, d, val(rng, size));
        put(st.regs, s, k < 6 ? BigInt([0, 1, size - 1, size, size + 1, 255][k]) : val(rng, size));
        g.add(`${op} r${size},r${size}`, `${op} ${d.name}, ${s.name}`, st);
      }
      for (let k = 0; k < 8; k++) {
        const st = g.state();
        const [d] = pickRegs(rng, [size]);
        put(st.regs, d, val(rng, size));
        const imm = k < 4 ? [0, size - 1, size, 255][k] : rng.int(256);
        g.add(`${op} r${size},imm8`, `${op} ${d.name}, ${imm}`, st);
      }
      // Memory with a register bit offset: a signed offset reaching far before or after the operand.
      for (let k = 0; k < 14; k++) {
        const st = g.state();
        const [s] = pickRegs(rng, [size]);
        const off = 2048 + (rng.int(64) - 32);
        const lim = size === 16 ? 2000 * 8 : 2000 * 8;
        const bit = k < 4 ? [0, -1, size, -size - 1][k] : rng.int(2 * lim) - lim;
        put(st.regs, s, BigInt.asUintN(size, BigInt(bit)));
        const lock = k % 4 === 3 && op !== 'bt' ? 'lock ' : '';
        g.add(`${lock}${op} m${size},r${size}`, `${lock}${op} ${memOp(rng, st.regs, [s], off, size)}, ${s.name}`, st);
      }
      for (let k = 0; k < 6; k++) {
        const st = g.state();
        const off = memOff(rng, size / 8);
        const lock = k % 3 === 2 && op !== 'bt' ? 'lock ' : '';
        g.add(`${lock}${op} m${size},imm8`, `${lock}${op} ${memOp(rng, st.regs, [], off, size)}, ${rng.int(256)}`, st);
      }
    }
  }
  // BSF/BSR: the SDM leaves the destination undefined for a zero source (the host's behaviour is reported).
  for (const op of ['bsf', 'bsr']) {
    for (const size of WIDE) {
      for (let k = 0; k < 24; k++) {
        const st = g.state();
        const [d, s] = pickRegs(rng, [size, size], { distinct: true });
        const v = k < 4 ? 0n : k < 12 ? 1n << BigInt(rng.int(size)) : k < 14 ? mask(size) : val(rng, size);
        put(st.regs, s, v);
        const zero = v === 0n;
        if (k % 6 === 5) {
          const off = memOff(rng, size / 8);
          putMem(st.mem, off, size, v);
          g.add(`${op} r${size},m${size}`, `${op} ${d.name}, ${memOp(rng, st.regs, [d], off, size)}`, st, zero ? { ignoreRegs: [d.idx], hostFact: `${op}${size}-zero` } : {});
        } else {
          g.add(`${op} r${size},r${size}`, `${op} ${d.name}, ${s.name}`, st, zero ? { ignoreRegs: [d.idx], hostFact: `${op}${size}-zero` } : {});
        }
      }
    }
  }
  // TZCNT/LZCNT encodings (F3 0F BC/BD) on the default CPU model, which advertises neither BMI1 nor LZCNT: they
  // execute as BSF/BSR (the F3 prefix ignored). The host has both, so its oracle is the plain BSF/BSR.
  for (const [op, as] of [['tzcnt', 'bsf'], ['lzcnt', 'bsr']] as const) {
    for (const size of WIDE) {
      for (let k = 0; k < 12; k++) {
        const st = g.state();
        const [d, s] = pickRegs(rng, [size, size], { distinct: true });
        const v = k < 2 ? 0n : k < 6 ? 1n << BigInt(rng.int(size)) : k < 7 ? mask(size) : val(rng, size);
        put(st.regs, s, v);
        const zero = v === 0n ? { ignoreRegs: [d.idx] } : {};
        if (k % 4 === 3) {
          const off = memOff(rng, size / 8);
          putMem(st.mem, off, size, v);
          const m = memOp(rng, st.regs, [d], off, size);
          g.add(`${op} r${size},m${size} without ${op === 'tzcnt' ? 'BMI1' : 'LZCNT'}`, `${as} ${d.name}, ${m}`, st, { ...zero, emuAsm: `${op} ${d.name}, ${m}` });
        } else {
          g.add(`${op} r${size},r${size} without ${op === 'tzcnt' ? 'BMI1' : 'LZCNT'}`, `${as} ${d.name}, ${s.name}`, st, { ...zero, emuAsm: `${op} ${d.name}, ${s.name}` });
        }
      }
    }
  }
  for (const size of [32, 64] as const) {
    for (let i = 0; i < 16; i++) {
      const st = g.state();
      g.add(`bswap r${size}`, `bswap ${reg(size, i).name}`, st);
    }
  }
  return g.out;
}

/**
 * POPCNT / LZCNT / TZCNT (ABM, BMI1). gcc emits `rep bsf` (the TZCNT encoding) for __builtin_ctz under generic
 * tuning, which a BMI1 CPU executes as TZCNT; only meaningful where the host has these (checked by CPUID in
 * the test). The emulated CPU advertises BMI1 and LZCNT for these cases (without them F3 0F BC/BD are BSF/BSR:
 * the `bit` family's cases).
 */
export function bitcount(rng: Rng): CaseSpec[] {
  const g = new Gen('bitcount', rng);
  for (const op of ['popcnt', 'lzcnt', 'tzcnt']) {
    for (const size of WIDE) {
      for (let k = 0; k < 16; k++) {
        const st = g.state();
        const [d, s] = pickRegs(rng, [size, size], { distinct: true });
        const v = k < 2 ? 0n : k < 6 ? 1n << BigInt(rng.int(size)) : k < 8 ? mask(size) : val(rng, size);
        put(st.regs, s, v);
        if (k % 5 === 4) {
          const off = memOff(rng, size / 8);
          putMem(st.mem, off, size, v);
          g.add(`${op} r${size},m${size}`, `${op} ${d.name}, ${memOp(rng, st.regs, [d], off, size)}`, st, { advertise: ['bmi1', 'lzcnt'] });
        } else {
          g.add(`${op} r${size},r${size}`, `${op} ${d.name}, ${s.name}`, st, { advertise: ['bmi1', 'lzcnt'] });
        }
      }
    }
  }
  return g.out;
}

// ---------------------------------------------------------------------------------------------- conditionals

export const CONDS = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'] as const;

/** Flags from a 5-bit combination of CF PF ZF SF OF, AF random, DF clear. */
function flagCombo(rng: Rng, c: number): bigint {
  let f = rng.bool() ? FL.AF : 0n;
  if (c & 1) f |= FL.CF;
  if (c & 2) f |= FL.PF;
  if (c & 4) f |= FL.ZF;
  if (c & 8) f |= FL.SF;
  if (c & 16) f |= FL.OF;
  return f;
}

export function conditionals(rng: Rng): CaseSpec[] {
  const g = new Gen('cond', rng);
  for (const cc of CONDS) {
    for (let c = 0; c < 32; c++) {
      // SETcc to a random 8-bit register (low, high or REX byte register).
      const st = g.state();
      st.rflags = flagCombo(rng, c);
      const [d] = pickRegs(rng, [8]);
      g.add(`set${cc} r8`, `set${cc} ${d.name}`, st);
      // Jcc short, taken or not: RAX tells.
      const sj = g.state();
      sj.rflags = flagCombo(rng, c);
      g.add(`j${cc} rel8`, `j${cc} 1f; mov eax, 1; 1:`, sj);
    }
    for (let c = 0; c < 8; c++) {
      const st = g.state();
      st.rflags = flagCombo(rng, rng.int(32));
      const off = memOff(rng, 1);
      g.add(`set${cc} m8`, `set${cc} ${memOp(rng, st.regs, [], off, 8)}`, st);
      // Jcc near (rel32) forward and short backward.
      const n = g.state();
      n.rflags = flagCombo(rng, rng.int(32));
      g.add(`j${cc} rel32`, `j${cc} 1f; mov eax, 1; jmp 2f; .fill 200, 1, 0xcc; 1: mov ebx, 1; 2:`, n);
      const b = g.state();
      b.rflags = flagCombo(rng, rng.int(32));
      g.add(`j${cc} back`, `jmp 2f; 1: mov ebx, 7; jmp 3f; 2: j${cc} 1b; mov ebx, 9; 3:`, b);
    }
    // CMOVcc: the 32-bit form zero-extends the destination even when the condition is false.
    for (const size of WIDE) {
      for (let k = 0; k < 10; k++) {
        const st = g.state();
        st.rflags = flagCombo(rng, rng.int(32));
        const [d, s] = pickRegs(rng, [size, size]);
        if (k >= 8) {
          const off = memOff(rng, size / 8);
          g.add(`cmov${cc} r${size},m${size}`, `cmov${cc} ${d.name}, ${memOp(rng, st.regs, [d], off, size)}`, st);
        } else {
          g.add(`cmov${cc} r${size},r${size}`, `cmov${cc} ${d.name}, ${s.name}`, st);
        }
      }
    }
  }
  // JRCXZ / JECXZ and LOOP forms.
  for (let k = 0; k < 12; k++) {
    const st = g.state();
    st.regs[1] = [0n, 1n, 0xffffffff00000000n, 0x100000000n, mask(64), 2n][k % 6];
    if (k < 6) g.add('jrcxz', 'jrcxz 1f; mov eax, 1; 1:', st);
    else g.add('jecxz', 'jecxz 1f; mov eax, 1; 1:', st);
  }
  for (const op of ['loop', 'loope', 'loopne']) {
    for (let k = 0; k < 6; k++) {
      const st = g.state();
      st.regs[1] = BigInt([1, 2, 5, 7, 0, 3][k]);
      st.rflags = flagCombo(rng, rng.int(32));
      // 0 in RCX would loop 2^64 times: keep the counts small and finite.
      if (st.regs[1] === 0n) st.regs[1] = 4n;
      g.add(op, `xor ebx, ebx; 1: inc ebx; ${op} 1b`, st);
    }
  }
  return g.out;
}

// ---------------------------------------------------------------------------------------------- misc data

export function converts(rng: Rng): CaseSpec[] {
  const g = new Gen('convert', rng);
  for (const op of ['cbw', 'cwde', 'cdqe', 'cwd', 'cdq', 'cqo']) {
    const E = [...edges(8), ...edges(16), ...edges(32), ...edges(64)];
    for (let k = 0; k < 14; k++) {
      const st = g.state();
      st.regs[0] = k < 8 ? (rng.u64() & ~0xffffn) | rng.pick(E) : k < 10 ? rng.pick(E) : rng.u64();
      g.add(op, op, st);
    }
  }
  // LAHF / SAHF and the flag instructions.
  for (let k = 0; k < 24; k++) {
    const st = g.state();
    g.add('lahf', 'lahf', st);
    const s2 = g.state();
    g.add('sahf', 'sahf', s2);
  }
  for (const op of ['clc', 'stc', 'cmc', 'cld', 'std']) {
    for (let k = 0; k < 4; k++) {
      const st = g.state();
      if (k >= 2) st.rflags |= FL.DF;
      g.add(op, op, st);
    }
  }
  return g.out;
}

export function atomics(rng: Rng): CaseSpec[] {
  const g = new Gen('atomic', rng);
  for (const size of SIZES) {
    const acc = reg(size, 0);
    for (let k = 0; k < 16; k++) {
      const st = g.state();
      const form = k % 4; // 0 reg, 1 mem, 2 lock mem, 3 reg with dest = accumulator
      const equal = (k >> 2) % 2 === 0;
      const v = val(rng, size);
      if (form === 1 || form === 2) {
        const [s] = pickRegs(rng, [size], { exclude: [0] });
        const off = memOff(rng, size / 8);
        putMem(st.mem, off, size, v);
        put(st.regs, acc, equal ? v : v ^ 1n);
        const lock = form === 2 ? 'lock ' : '';
        g.add(`${lock}cmpxchg m${size},r${size}`, `${lock}cmpxchg ${memOp(rng, st.regs, [s, reg(64, 0)], off, size)}, ${s.name}`, st);
      } else {
        const [d, s] = form === 3 ? [acc, pickRegs(rng, [size])[0]] : pickRegs(rng, [size, size], { exclude: [0], distinct: true });
        put(st.regs, d, v);
        if (d.idx !== 0) put(st.regs, acc, equal ? v : val(rng, size));
        g.add(`cmpxchg r${size},r${size}`, `cmpxchg ${d.name}, ${s.name}`, st);
      }
    }
    for (let k = 0; k < 12; k++) {
      const st = g.state();
      const form = k % 3;
      if (form === 0) {
        const [d, s] = pickRegs(rng, [size, size]);
        put(st.regs, d, val(rng, size));
        put(st.regs, s, val(rng, size));
        g.add(`xadd r${size},r${size}`, `xadd ${d.name}, ${s.name}`, st);
      } else {
        const [s] = pickRegs(rng, [size]);
        put(st.regs, s, val(rng, size));
        const off = memOff(rng, size / 8);
        putMem(st.mem, off, size, val(rng, size));
        const lock = form === 2 ? 'lock ' : '';
        g.add(`${lock}xadd m${size},r${size}`, `${lock}xadd ${memOp(rng, st.regs, [s], off, size)}, ${s.name}`, st);
      }
    }
    // LOCKed read-modify-write ALU and unary forms on memory.
    for (const op of ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'inc', 'dec', 'neg', 'not']) {
      for (let k = 0; k < 3; k++) {
        const st = g.state();
        const off = memOff(rng, size / 8);
        putMem(st.mem, off, size, val(rng, size));
        if (['inc', 'dec', 'neg', 'not'].includes(op)) {
          g.add(`lock ${op} m${size}`, `lock ${op} ${memOp(rng, st.regs, [], off, size)}`, st);
        } else if (k === 2) {
          g.add(`lock ${op} m${size},imm`, `lock ${op} ${memOp(rng, st.regs, [], off, size)}, ${immFor(rng, size, size !== 8 && rng.bool())}`, st);
        } else {
          const [s] = pickRegs(rng, [size]);
          put(st.regs, s, val(rng, size));
          g.add(`lock ${op} m${size},r${size}`, `lock ${op} ${memOp(rng, st.regs, [s], off, size)}, ${s.name}`, st);
        }
      }
    }
  }
  return g.out;
}

/** CMPXCHG8B / CMPXCHG16B (gcc emits the latter for 128-bit atomics with -mcx16; the operand must be 16-aligned). */
export function cmpxchgNb(rng: Rng): CaseSpec[] {
  const g = new Gen('cmpxchg8b/16b', rng);
  for (let k = 0; k < 8; k++) {
    const st = g.state();
    const wide = k >= 4;
    const bytes = wide ? 16 : 8;
    const off = memOff(rng, bytes) & ~(bytes - 1);
    const half = wide ? 64 : 32;
    const lo = rng.u64() & mask(half);
    const hi = rng.u64() & mask(half);
    putMem(st.mem, off, half, lo);
    putMem(st.mem, off + half / 8, half, hi);
    if (k % 2 === 0) {
      put(st.regs, reg(half as Size, 0), lo);
      put(st.regs, reg(half as Size, 2), hi);
    }
    const lock = k % 4 < 2 ? 'lock ' : '';
    const m = memOp(rng, st.regs, [reg(64, 0), reg(64, 2), reg(64, 1), reg(64, 3)], off, 64).replace('qword ptr', wide ? 'xmmword ptr' : 'qword ptr');
    g.add(`${lock}cmpxchg${bytes}b`, `${lock}cmpxchg${bytes}b ${m}`, st);
  }
  return g.out;
}

// ---------------------------------------------------------------------------------------------- stack, control

/** A stack pointer in the scratch page with room both ways. */
export function stackIn(rng: Rng, st: { regs: bigint[] }, aligned = true): void {
  st.regs[4] = DATA_BASE + BigInt(0x800 + (rng.int(64) - 32) * 8 + (aligned ? 0 : rng.int(8)));
}

export function stack(rng: Rng): CaseSpec[] {
  const g = new Gen('stack', rng);
  for (let i = 0; i < 16; i++) {
    const st = g.state();
    stackIn(rng, st);
    g.add('push r64', `push ${N64[i]}`, st);
    const s2 = g.state();
    stackIn(rng, s2);
    g.add('pop r64', `pop ${N64[i]}`, s2);
  }
  for (const imm of [0, 1, -1, 0x7f, -0x80, 0x1234, -0x12345678, 0x7fffffff]) {
    const st = g.state();
    stackIn(rng, st);
    g.add('push imm', `push ${imm}`, st);
  }
  for (let k = 0; k < 12; k++) {
    const st = g.state();
    stackIn(rng, st);
    const off = 0x100 + rng.int(0x400);
    const used = [reg(64, 4)];
    const forms = [
      () => `push ${memOp(rng, st.regs, used, off, 64)}`,
      () => `pop ${memOp(rng, st.regs, used, off, 64)}`,
    ];
    const asm = forms[k % 2]();
    g.add(asm.split(' ')[0] + ' m64', asm, st);
  }
  // RSP-relative operands: POP computes the address after incrementing RSP (SDM POP).
  for (const asm of ['pop qword ptr [rsp]', 'pop qword ptr [rsp + 8]', 'pop qword ptr [rsp - 8]', 'push qword ptr [rsp]', 'push qword ptr [rsp + 8]', 'pop rsp', 'push rsp']) {
    const st = g.state();
    stackIn(rng, st);
    // `pop rsp` loads a new stack pointer: point the popped value back into the scratch page.
    if (asm === 'pop rsp') putMem(st.mem, Number(st.regs[4] - DATA_BASE), 64, DATA_BASE + 0x300n);
    g.add(asm, asm, st);
  }
  for (let k = 0; k < 8; k++) {
    const st = g.state();
    stackIn(rng, st);
    st.rflags = BigInt(rng.u32()) & ARITH;
    g.add('pushfq', 'pushfq', st);
    const s2 = g.state();
    stackIn(rng, s2);
    // Only arithmetic flags and DF (TF or AC would trap / alignment-check on the host).
    putMem(s2.mem, Number(s2.regs[4] - DATA_BASE), 64, (BigInt(rng.u32()) & (ARITH | FL.DF)) | 2n);
    g.add('popfq', 'popfq', s2);
  }
  // POPF at CPL 3 with IOPL 0 (SDM POPF): IF and IOPL are left unchanged, VM/VIF/VIP are not loaded, NT/ID/RF
  // are; PUSHF shows what stuck. TF and AC stay clear (they would trap / alignment-check on the host).
  for (const bits of [0n, 0x200n, 0x3000n, 0x4000n, 0x200000n, 0x10000n, 0x20000n, 0x180000n, 0x3ff2d5n & ~0x40100n]) {
    const st = g.state();
    stackIn(rng, st);
    putMem(st.mem, Number(st.regs[4] - DATA_BASE), 64, bits | 2n | (BigInt(rng.u32()) & ARITH));
    g.add('popfq privileged bits', 'popfq; pushfq; pop rax', st);
  }
  // ENTER with nesting levels (frames copied from the old RBP chain) and LEAVE.
  for (const [size, level] of [[0, 0], [16, 0], [0x28, 1], [8, 2], [0x100, 3], [24, 5], [0, 31], [8, 33]] as const) {
    const st = g.state();
    stackIn(rng, st);
    st.regs[5] = DATA_BASE + BigInt(0xc00 + rng.int(32) * 8);
    g.add('enter', `enter ${size}, ${level}`, st);
  }
  for (let k = 0; k < 6; k++) {
    const st = g.state();
    st.regs[5] = DATA_BASE + BigInt(0x600 + rng.int(64) * 8 + (k === 5 ? 3 : 0));
    g.add('leave', 'leave', st);
  }
  return g.out;
}

/** 16-bit PUSH/POP (66 prefix): 2-byte stack slots, RSP moves by 2. gcc does not emit these. */
export function stack16(rng: Rng): CaseSpec[] {
  const g = new Gen('stack16', rng);
  for (let i = 0; i < 16; i++) {
    const s3 = g.state();
    stackIn(rng, s3, false);
    g.add('push r16', `push ${N16[i]}`, s3);
    const s4 = g.state();
    stackIn(rng, s4, false);
    g.add('pop r16', `pop ${N16[i]}`, s4);
  }
  for (let k = 0; k < 4; k++) {
    const st = g.state();
    stackIn(rng, st);
    g.add('pushw imm16', `pushw ${rng.int(0x10000)}`, st);
  }
  for (let k = 0; k < 6; k++) {
    const st = g.state();
    stackIn(rng, st, k >= 4);
    const off = 0x100 + rng.int(0x400);
    const m = memOp(rng, st.regs, [reg(64, 4)], off, 16);
    g.add(k % 2 ? 'pop m16' : 'push m16', `${k % 2 ? 'pop' : 'push'} ${m}`, st);
  }
  for (const asm of ['push sp', 'pop sp', 'pushfw', 'popfw']) {
    const st = g.state();
    stackIn(rng, st);
    if (asm === 'popfw') putMem(st.mem, Number(st.regs[4] - DATA_BASE), 16, (BigInt(rng.u32()) & (ARITH | FL.DF)) | 2n);
    g.add(asm, asm, st);
  }
  return g.out;
}

export function control(rng: Rng): CaseSpec[] {
  const g = new Gen('control', rng);
  const forms: [string, string][] = [
    ['call rel32', 'call 1f; mov ebx, 1; 1: pop rcx'],
    ['call/ret', 'call 1f; mov ebx, 2; jmp 2f; 1: mov edx, 3; ret; 2:'],
    ['call/ret imm16', 'push rax; call 1f; jmp 2f; 1: ret 8; 2:'],
    ['rep ret', 'call 1f; jmp 2f; 1: rep ret; 2:'],
    ['call r64', 'lea rax, [rip + 1f]; call rax; jmp 2f; 1: mov ebx, 5; ret; 2:'],
    ['call m64', 'lea rax, [rip + 1f]; mov [rsp - 64], rax; call qword ptr [rsp - 64]; jmp 2f; 1: mov ebx, 5; ret; 2:'],
    ['call m64 rip', 'call qword ptr [rip + 3f]; jmp 2f; 1: mov ebx, 6; ret; .p2align 3; 3: .quad 0x10000000 + 1b - 0b; 2:'],
    ['jmp rel8', 'jmp 1f; mov eax, 1; 1:'],
    ['jmp rel32', 'jmp 1f; mov eax, 1; .fill 300, 1, 0xcc; 1:'],
    ['jmp back', 'jmp 2f; 1: jmp 3f; 2: jmp 1b; 3:'],
    ['jmp r64', 'lea rcx, [rip + 1f]; jmp rcx; ud2; 1:'],
    ['jmp m64', 'lea rcx, [rip + 1f]; mov [rsp + 16], rcx; jmp qword ptr [rsp + 16]; ud2; 1:'],
    ['jmp r/m64 table', 'lea rcx, [rip + 4f]; jmp qword ptr [rcx + rdx*8]; 1: mov eax, 1; jmp 5f; 2: mov eax, 2; jmp 5f; .p2align 3; 4: .quad 0x10000000 + 1b - 0b, 0x10000000 + 2b - 0b; 5:'],
    ['mov rip-relative', 'mov eax, dword ptr [rip + 1f]; jmp 2f; 1: .long 0x89abcdef; 2:'],
    ['call nested', 'call 1f; jmp 3f; 1: call 2f; ret; 2: inc ebx; ret; 3:'],
  ];
  for (const [name, body] of forms) {
    for (let k = 0; k < 4; k++) {
      const st = g.state();
      stackIn(rng, st);
      st.regs[2] = BigInt(k & 1);
      // No undefined flags here; and the embedded data words must not be decoded as instructions for flag info.
      g.add(name, `0: ${body}`, st, { undef: 0n });
    }
  }
  return g.out;
}

// ---------------------------------------------------------------------------------------------- strings

export function strings(rng: Rng): CaseSpec[] {
  const g = new Gen('string', rng);
  const sfx: Record<number, string> = { 8: 'b', 16: 'w', 32: 'd', 64: 'q' };
  for (const op of ['movs', 'stos', 'lods', 'cmps', 'scas']) {
    for (const size of SIZES) {
      const w = size / 8;
      const prefixes = op === 'cmps' || op === 'scas' ? ['', 'repe ', 'repne '] : ['', 'rep '];
      for (const pre of prefixes) {
        for (const df of [0, 1]) {
          for (const count of pre ? [0, 1, 2, 5, 17, 40] : [1]) {
            const st = g.state();
            st.rflags |= df ? FL.DF : 0n;
            // Sources low, destinations high; moving down starts near the top of each region.
            const src = df ? 0x7f0 - rng.int(8) : 0x100 + rng.int(8);
            const dst = df ? 0xff0 - rng.int(8) : 0x900 + rng.int(8);
            st.regs[6] = DATA_BASE + BigInt(src);
            st.regs[7] = DATA_BASE + BigInt(dst);
            st.regs[1] = pre ? BigInt(count) : st.regs[1];
            // Make REPE/REPNE stop at a chosen element: equal runs with one difference (or none).
            const stopAt = rng.int(count + 2);
            const acc = rng.u64() & mask(size);
            for (let i = 0; i < 48; i++) {
              const e = BigInt(df ? -i : i);
              const so = Number(BigInt(src) + e * BigInt(w));
              const dO = Number(BigInt(dst) + e * BigInt(w));
              let v = rng.u64() & mask(size);
              if (op === 'scas') {
                v = (pre === 'repne ') === (i === stopAt) ? acc : acc ^ (1n << BigInt(rng.int(size)));
                putMem(st.mem, dO, size, v);
              } else if (op === 'cmps') {
                putMem(st.mem, so, size, v);
                const same = pre === 'repne ' ? i === stopAt : i !== stopAt;
                putMem(st.mem, dO, size, same ? v : v ^ (1n << BigInt(rng.int(size))));
              }
            }
            put(st.regs, reg(size, 0), acc);
            const name = `${pre}${op}${sfx[size]}${df ? ' DF=1' : ''}`;
            const operands =
              op === 'movs' ? `${ptr(size)} [rdi], ${ptr(size)} [rsi]`
              : op === 'cmps' ? `${ptr(size)} [rsi], ${ptr(size)} [rdi]`
              : op === 'stos' ? `${ptr(size)} [rdi], ${reg(size, 0).name}`
              : op === 'lods' ? `${reg(size, 0).name}, ${ptr(size)} [rsi]`
              : `${reg(size, 0).name}, ${ptr(size)} [rdi]`;
            g.add(name, `${pre}${op} ${operands}; cld`, st);
          }
        }
      }
    }
  }
  // Overlapping REP MOVSB copies (the result must be as if element by element).
  for (const [delta, count] of [[1, 40], [3, 64], [-5, 50], [8, 100], [0, 9]] as const) {
    const st = g.state();
    st.regs[6] = DATA_BASE + 0x400n;
    st.regs[7] = DATA_BASE + BigInt(0x400 + delta);
    st.regs[1] = BigInt(count);
    g.add('rep movsb overlap', 'rep movsb', st);
  }
  // A large REP STOSQ / MOVSQ (gcc's memset/memcpy inlining).
  for (const asm of ['rep stosq', 'rep movsq', 'rep stosb', 'rep movsb']) {
    const st = g.state();
    st.regs[6] = DATA_BASE;
    st.regs[7] = DATA_BASE + 0x800n;
    st.regs[1] = asm.endsWith('q') ? 250n : 2000n;
    g.add(`${asm} long`, asm, st);
  }
  return g.out;
}

// ---------------------------------------------------------------------------------------------- nops, faults

export function nops(rng: Rng): CaseSpec[] {
  const g = new Gen('nop', rng);
  const forms = [
    'nop', 'xchg eax, eax', 'xchg ax, ax', 'xchg rax, rax', 'pause', 'endbr64', '.byte 0x66, 0x90', 'nop dword ptr [rax]', 'nop dword ptr [rax + 0]',
    'nop word ptr [rax + rax*1 + 0]', 'nop dword ptr [rax + 0x12345678]', 'nop word ptr cs:[rax + rax*1 + 0]',
    '.byte 0x66, 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0, 0, 0, 0, 0', '.nops 15', '.byte 0x0f, 0x1f, 0xc0', 'nop r9',
  ];
  for (const f of forms) {
    for (let k = 0; k < 3; k++) {
      g.add(f, f, g.state());
    }
  }
  return g.out;
}

/** Snippets that must raise an exception: the vector must match (registers are not compared then). */
export function faults(rng: Rng): CaseSpec[] {
  const g = new Gen('fault', rng);
  const forms: [string, string][] = [
    ['ud2', 'ud2'],
    ['ud0', '.byte 0x0f, 0xff, 0xc0'],
    ['ud1', '.byte 0x0f, 0xb9, 0xc0'],
    ['invalid in 64-bit: push es', '.byte 0x06'],
    ['invalid in 64-bit: aaa', '.byte 0x37'],
    ['invalid in 64-bit: salc', '.byte 0xd6'],
    ['lock on a register', '.byte 0xf0; add eax, ebx'],
    ['lock on mov', '.byte 0xf0; mov dword ptr [rdi], eax'],
    ['lea with a register source', '.byte 0x8d, 0xc0'],
    ['int3', 'int3'],
    ['int 3', 'int 3'],
    ['hlt at CPL3', 'hlt'],
    ['cli at CPL3', 'cli'],
    ['sti at CPL3', 'sti'],
    ['in at CPL3', 'in al, dx'],
    ['out at CPL3', 'out 0x80, al'],
    ['mov cr0 at CPL3', 'mov rax, cr0'],
    ['mov to cr3 at CPL3', 'mov cr3, rax'],
    ['rdmsr at CPL3', 'rdmsr'],
    ['wrmsr at CPL3', 'wrmsr'],
    ['wbinvd at CPL3', 'wbinvd'],
    ['invlpg at CPL3', 'invlpg [rdi]'],
    ['lgdt at CPL3', 'lgdt [rdi]'],
    ['swapgs at CPL3', 'swapgs'],
    ['read past the scratch page', 'mov eax, dword ptr [rdi + 0x1000]'],
    ['write past the scratch page', 'mov dword ptr [rdi + 0x1000], eax'],
    ['read below the scratch page', 'mov al, byte ptr [rdi - 1]'],
    ['read of address 0', 'mov rax, qword ptr [0]'],
    ['write to the code page', 'mov byte ptr [rip], 0x90'],
    ['split across the page end', 'mov eax, dword ptr [rdi + 0xffe]'],
    ['non-canonical read', 'movabs rax, 0x8000000000000000; mov rax, qword ptr [rax]'],
    ['non-canonical stack push', 'movabs rsp, 0x8000000000000000; push rax'],
    ['push to unmapped stack', 'mov rsp, rdi; sub rsp, 8; push rax; push rax'],
    ['cmov reads memory even when false', 'cmp eax, eax; cmovne eax, dword ptr [rdi + 0x1000]'],
    ['div by zero', 'xor ecx, ecx; div ecx'],
    ['jmp into data (NX)', 'jmp rdi'],
    ['jmp non-canonical', 'movabs rax, 0x8000000000000000; jmp rax'],
    ['call into data (NX)', 'call rdi'],
    ['rep stosb runs off the page', 'mov ecx, 0x2000; rep stosb'],
    ['rep movsq reads off the page', 'lea rsi, [rdi + 0xf00]; lea rdi, [rdi + 0x100]; mov ecx, 0x40; rep movsq'],
    ['rep movsd writes off the page', 'lea rsi, [rdi + 0x100]; lea rdi, [rdi + 0xf04]; mov ecx, 0x80; rep movsd'],
    ['std rep stosw runs below the page', 'std; lea rdi, [rdi + 0x20]; mov ecx, 0x100; rep stosw'],
    ['repe cmpsb reads off the page', 'lea rsi, [rdi + 0xff8]; mov ecx, 0x100; mov rdi, rsi; repe cmpsb'],
    ['push, push, fault', 'mov rsp, rdi; add rsp, 16; push rax; push rbx; push rcx'],
    ['call pushes below the page', 'mov rsp, rdi; call 1f; 1:'],
    ['enter runs off the page', 'mov rsp, rdi; add rsp, 0x18; mov rbp, rsp; enter 0x10, 2'],
    ['xchg with unmapped memory', 'xchg qword ptr [rdi + 0x1000], rax'],
    ['lock xadd unmapped', 'lock xadd dword ptr [rdi - 4], eax'],
    ['movsq src mapped dst unmapped', 'mov rsi, rdi; add rdi, 0x1000; movsq'],
    ['fault after a few retired', 'add eax, ebx; mov dword ptr [rdi], eax; inc ecx; mov edx, dword ptr [rdi + 0x2000]; inc ecx'],
    ['jump into the middle of a block then fault', 'jmp 1f; add eax, 1; 1: add eax, 2; mov eax, dword ptr [rdi - 8]'],
  ];
  // A REPE/REPNE CMPS that faults mid-way: RSI/RDI/RCX reflect the completed iterations on every CPU, but the
  // flags are model-specific. Intel CPUs (which our CPUID names) keep the flags from before the instruction;
  // AMD CPUs leave those of the last completed comparison. On a non-Intel host the status flags at the fault
  // are therefore not compared for this form (everything else still is).
  const vendorFlags = hostCpuVendor() === 'GenuineIntel' ? {} : { undef: ARITH };
  for (const [name, asm] of forms) {
    const st = g.state();
    st.regs[7] = DATA_BASE;
    st.regs[2] = 0x80n;
    stackIn(rng, st);
    g.add(name, asm, st, name.startsWith('repe cmps') ? vendorFlags : {});
  }
  return g.out;
}
