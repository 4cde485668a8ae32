// x87 against the host CPU, bit for bit in the whole x87 state (80-bit registers, TOP, tags, FSW flags and
// condition codes, FCW) plus memory and EFLAGS: loads/stores of every format, integer loads/stores, constants,
// arithmetic in all operand forms, FSQRT, FRNDINT, compares, stack manipulation; operands from edge values
// (signed zeros, denormals, pseudo-denormals, infinities, quiet/signalling NaNs with payloads, extremes,
// rounding boundaries, integer limits) and seeded random ones, on random stacks (TOP, empty slots) under
// random rounding and precision control with exceptions masked or unmasked (overflow/underflow stay masked:
// their unmasked responses, bias-adjusted results, are not implemented). FOP/FIP/FDP are not compared (not
// modelled; the AMD host stores them only with an exception pending).

import { describe, expect, it } from 'vitest';
import { fxInit, prepareFp, runFp, type FpSpec } from './diff/fp.js';
import { nativeAvailable } from './diff/native.js';
import { Rng } from './diff/prng.js';
import { DATA_BYTES } from './diff/types.js';

const why = nativeAvailable();
const suite = why === null ? describe : describe.skip;

/** 80-bit values as [sign/exponent, significand]. */
const X_EDGE: [number, bigint][] = [
  [0x0000, 0n], [0x8000, 0n], [0x3fff, 0x8000000000000000n], [0xbfff, 0x8000000000000000n], [0x3fff, 0xc000000000000000n],
  [0x0000, 1n], [0x8000, 0x7fffffffffffffffn], [0x0001, 0x8000000000000000n], [0x7ffe, 0xffffffffffffffffn],
  [0xfffe, 0xffffffffffffffffn], [0x7fff, 0x8000000000000000n], [0xffff, 0x8000000000000000n],
  [0x7fff, 0xc000000000000000n], [0xffff, 0xc000000000000000n], [0x7fff, 0xc000000000001234n], [0x7fff, 0xa000000000000000n],
  [0xffff, 0x8000000000000abcn], [0x3fff, 0x8000000000000001n], [0x403e, 0xffffffffffffffffn], [0x401d, 0xfffffffe00000000n],
  [0x401e, 0x8000000000000000n], [0xc01e, 0x8000000000000000n], [0x403e, 0x8000000000000000n], [0xc03e, 0x8000000000000000n],
  [0x3ffe, 0x8000000000000000n], [0x4000, 0xa000000000000000n], [0x43fe, 0xfffffffffffff800n], [0x3c01, 0x8000000000000000n],
  [0x407e, 0xffffff0000000000n], [0x3f81, 0x8000000000000000n], [0x3fff, 0xffffffffffffffffn], [0x4000, 0xc90fdaa22168c235n],
  [0x0000, 0x8000000000000000n],
];

function xval(rng: Rng): [number, bigint] {
  const k = rng.u32() % 6;
  if (k < 3) return X_EDGE[rng.u32() % X_EDGE.length];
  if (k === 3) {
    const [e, m] = X_EDGE[rng.u32() % X_EDGE.length];
    return [e, m ^ BigInt(rng.u32() % 4)];
  }
  // Normal, exponent near 1 (sums and products round often).
  return [((rng.u32() & 1) << 15) | (0x3fff + (rng.u32() % 64) - 32), (1n << 63n) | (rng.u64() >> 1n)];
}

function fcw(rng: Rng): number {
  const rc = rng.u32() & 3;
  const pc = [0, 2, 3, 3][rng.u32() & 3];
  const masked = rng.u32() % 3 !== 0;
  const masks = masked ? 0x3f : (rng.u32() & 0x27) | 0x18; // OE/UE always masked
  return (rc << 10) | (pc << 8) | 0x40 | masks;
}

function x87State(rng: Rng): Uint8Array {
  const fx = fxInit();
  const v = new DataView(fx.buffer);
  const top = rng.u32() & 7;
  const depth = rng.u32() % 9;
  v.setUint16(0, fcw(rng), true);
  v.setUint16(2, (top << 11) | (rng.u32() % 2 === 0 ? 0x20 : 0), true);
  // Abridged tag: physical register r valid when its ST index < depth, plus random holes.
  let tag = 0;
  for (let i = 0; i < 8; i++) if (i < depth && rng.u32() % 8 !== 0) tag |= 1 << ((top + i) & 7);
  v.setUint8(4, tag);
  for (let i = 0; i < 8; i++) {
    const [e, m] = xval(rng);
    v.setBigUint64(32 + 16 * i, m, true);
    v.setUint16(40 + 16 * i, e, true);
  }
  return fx;
}

function memOf(rng: Rng): Uint8Array {
  const m = new Uint8Array(DATA_BYTES);
  const v = new DataView(m.buffer);
  const D = [0n, 0x8000000000000000n, 1n, 0x7ff0000000000000n, 0x7ff8000000000001n, 0x7ff0000000000001n, 0x3ff0000000000000n, 0x7fefffffffffffffn, 0x000fffffffffffffn];
  for (let i = 0; i < DATA_BYTES; i += 16) {
    const k = rng.u32() % 3;
    if (k === 0) v.setBigUint64(i, D[rng.u32() % D.length], true);
    else v.setBigUint64(i, rng.u32() % 2 ? rng.u64() : (0x3ffn + BigInt(rng.u32() % 40) - 20n) << 52n | (rng.u64() >> 12n), true);
    if (rng.u32() % 4 === 0) v.setUint32(i, [0, 0x80000000, 0x7f800000, 0x7fc00001, 0x7f800001, 1, 0x7fffffff][rng.u32() % 7], true);
    const [e, mm] = xval(rng);
    v.setBigUint64(i + 8, rng.u32() % 2 ? mm : rng.u64(), true);
    if (rng.u32() % 2) v.setUint16(i + 16 - 16 + 8 + 0, v.getUint16(i + 8, true), true);
    void e;
  }
  return m;
}

const ARITH = ['fadd', 'fsub', 'fsubr', 'fmul', 'fdiv', 'fdivr'];

export function x87Specs(rng: Rng, rounds: number): FpSpec[] {
  const specs: FpSpec[] = [];
  const st = (): number => rng.u32() & 7;
  const off = (): number => (rng.u32() % 250) * 16;
  const ignore = ['FOP', 'FIP', 'FDP'];
  const add = (name: string, asm: string): void => {
    specs.push({ name, asm: `${asm}; pushfq; pop rax`, fx: x87State(rng), mem: memOf(rng), ignore });
  };
  for (let i = 0; i < rounds; i++) {
    for (const m of ARITH) {
      add(`${m} st0,sti #${i}`, `${m} st(0), st(${st()})`);
      add(`${m} sti,st0 #${i}`, `${m} st(${st()}), st(0)`);
      add(`${m}p #${i}`, `${m}p st(${st()}), st(0)`);
      add(`${m} m64 #${i}`, `${m} qword ptr [rdi + ${off()}]`);
      add(`${m} m32 #${i}`, `${m} dword ptr [rdi + ${off() + 4}]`);
      add(`fi${m.slice(1)} m32 #${i}`, `fi${m.slice(1)} dword ptr [rdi + ${off()}]`);
      add(`fi${m.slice(1)} m16 #${i}`, `fi${m.slice(1)} word ptr [rdi + ${off()}]`);
    }
    add(`fld m32 #${i}`, `fld dword ptr [rdi + ${off() + 4}]`);
    add(`fld m64 #${i}`, `fld qword ptr [rdi + ${off()}]`);
    add(`fld m80 #${i}`, `fld tbyte ptr [rdi + ${off() + 8}]`);
    add(`fld st #${i}`, `fld st(${st()})`);
    for (const p of ['fst', 'fstp']) {
      add(`${p} m32 #${i}`, `${p} dword ptr [rdi + ${off()}]`);
      add(`${p} m64 #${i}`, `${p} qword ptr [rdi + ${off()}]`);
      add(`${p} st #${i}`, `${p} st(${st()})`);
    }
    add(`fstp m80 #${i}`, `fstp tbyte ptr [rdi + ${off()}]`);
    for (const [sz, w] of [['word', 16], ['dword', 32], ['qword', 64]] as const) {
      add(`fild m${w} #${i}`, `fild ${sz} ptr [rdi + ${off()}]`);
      if (w !== 64) add(`fist m${w} #${i}`, `fist ${sz} ptr [rdi + ${off()}]`);
      add(`fistp m${w} #${i}`, `fistp ${sz} ptr [rdi + ${off()}]`);
      add(`fisttp m${w} #${i}`, `fisttp ${sz} ptr [rdi + ${off()}]`);
    }
    for (const c of ['fld1', 'fldz', 'fldpi', 'fldl2e', 'fldl2t', 'fldlg2', 'fldln2', 'fchs', 'fabs', 'fsqrt', 'frndint', 'ftst', 'fincstp', 'fdecstp', 'fcompp', 'fucompp']) {
      add(`${c} #${i}`, c);
    }
    add(`fxch #${i}`, `fxch st(${st()})`);
    add(`ffree #${i}`, `ffree st(${st()})`);
    for (const c of ['fcom', 'fcomp', 'fucom', 'fucomp', 'fcomi', 'fcomip', 'fucomi', 'fucomip']) add(`${c} st #${i}`, `${c} st(0), st(${st()})`.replace(/^(fcom|fcomp|fucom|fucomp) st\(0\), /, '$1 '));
    add(`fcom m64 #${i}`, `fcom qword ptr [rdi + ${off()}]`);
    add(`fcomp m32 #${i}`, `fcomp dword ptr [rdi + ${off() + 4}]`);
    add(`ficom m32 #${i}`, `ficom dword ptr [rdi + ${off()}]`);
    add(`ficomp m16 #${i}`, `ficomp word ptr [rdi + ${off()}]`);
  }
  return specs;
}

suite(why === null ? 'x87 vs host CPU' : `x87 vs host CPU (skipped: ${why})`, () => {
  it('loads, stores, arithmetic, compares and stack operations match the host bit for bit', () => {
    const specs = x87Specs(new Rng(0x87), Number(process.env.X87_ROUNDS ?? 24));
    const { fails } = runFp(prepareFp(specs));
    const byForm = new Map<string, number>();
    for (const f of fails) {
      const k = f.split('\n')[0].replace(/ #\d+$/, '');
      byForm.set(k, (byForm.get(k) ?? 0) + 1);
    }
    console.log(`x87 differential: ${specs.length} cases, ${fails.length} mismatches ${[...byForm].map(([k, n]) => `${k}:${n}`).join(' ')}`);
    expect(fails.length, `${fails.length} of ${specs.length} differ:\n\n${fails.slice(0, 12).join('\n\n')}`).toBe(0);
  }, 600_000);
});
