// x87 instructions beyond arithmetic against the host CPU, bit for bit in the whole x87 state, memory and
// EFLAGS: FXAM, FSCALE, FPREM, FPREM1, FXTRACT, FCMOVcc, FBLD, FBSTP, on the random stacks, edge values and
// control words of test/diff/x87gen.ts (rounding and precision control random, exceptions masked or not).
// FOP/FIP/FDP are compared only where the host stores them (an exception pending, test/diff/fp.ts).

import { describe, expect, it } from 'vitest';
import { prepareFp, runFp, type FpSpec } from './diff/fp.js';
import { nativeAvailable } from './diff/native.js';
import { Rng } from './diff/prng.js';
import { DATA_BYTES } from './diff/types.js';
import { memOf, x87State, xval } from './diff/x87gen.js';

const why = nativeAvailable();
const suite = why === null ? describe : describe.skip;

/** Scratch memory whose 16-byte slots start with packed BCD values (valid digits; some at the limits). */
function bcdMem(rng: Rng): Uint8Array {
  const m = memOf(rng);
  for (let i = 0; i < m.length; i += 16) {
    const k = rng.u32() % 4;
    for (let j = 0; j < 9; j++) {
      const d = k === 0 ? 0 : k === 1 ? 0x99 : ((rng.u32() % 10) << 4) | (rng.u32() % 10);
      m[i + j] = k === 3 && j > 2 ? 0 : d;
    }
    m[i + 9] = rng.u32() % 2 === 0 ? 0 : 0x80;
  }
  return m;
}

/** Scratch memory of int32 scale factors around the overflow and underflow thresholds (+-16384, +-16445, ...). */
function scaleMem(rng: Rng): Uint8Array {
  const m = new Uint8Array(DATA_BYTES);
  const v = new DataView(m.buffer);
  for (let i = 0; i < DATA_BYTES; i += 4) {
    const base = [16383, 16384, 16400, 16445, 16446, 16500, 20000, 1 << 20, 0x7fffffff][rng.u32() % 9];
    v.setInt32(i, (rng.u32() % 2 === 0 ? base : -base) + (rng.u32() % 5) - 2, true);
  }
  return m;
}

/** Scratch memory with an x87 environment and eight 80-bit registers (an FSAVE image) at offset 0x400. */
function envMem(rng: Rng): Uint8Array {
  const m = memOf(rng);
  const v = new DataView(m.buffer);
  v.setUint32(0x400, (rng.u32() & 0xffff0000) | (rng.u32() % 2 ? 0x037f : rng.u32() & 0x1f3f), true);
  v.setUint32(0x404, rng.u32(), true);
  v.setUint32(0x408, rng.u32() % 2 ? rng.u32() | 0xffff : rng.u32(), true);
  for (let o = 0x40c; o < 0x41c; o += 4) v.setUint32(o, rng.u32(), true);
  for (let i = 0; i < 8; i++) {
    const [e, mm] = xval(rng);
    v.setBigUint64(0x41c + 10 * i, mm, true);
    v.setUint16(0x424 + 10 * i, e, true);
  }
  return m;
}

export function x87SpecialSpecs(rng: Rng, rounds: number): FpSpec[] {
  const specs: FpSpec[] = [];
  const st = (): number => rng.u32() & 7;
  const off = (): number => (rng.u32() % 250) * 16;
  const add = (name: string, asm: string, mem = memOf(rng), fcwMasks = 0): void => {
    // Arithmetic flags random for FCMOVcc; the snippet returns EFLAGS in RAX. fcwMasks: exceptions kept masked.
    const rflags = BigInt(rng.u32() & 0x8d5);
    const fx = x87State(rng);
    const v = new DataView(fx.buffer);
    v.setUint16(0, v.getUint16(0, true) | fcwMasks, true);
    specs.push({ name, asm: `${asm}; pushfq; pop rax`, fx, mem, rflags });
  };
  for (let i = 0; i < rounds; i++) {
    for (const c of ['fxam', 'fprem', 'fprem1', 'fxtract']) add(`${c} #${i}`, c);
    // FSCALE with overflow/underflow masked, and with the random FCW (often unmasked: C1 and PE of the
    // bias-adjusted result, or of +-inf/+-0 beyond the adjusted range).
    add(`fscale #${i}`, 'fscale', memOf(rng), 0x18);
    add(`fscale any FCW #${i}`, 'fscale', memOf(rng));
    // Scale factors that overflow or underflow most values, from random FCW (OE/UE often unmasked).
    add(`fscale big #${i}`, `fild dword ptr [rdi + ${off()}]; fxch; fscale`, scaleMem(rng));
    for (const c of ['fcmovb', 'fcmove', 'fcmovbe', 'fcmovu', 'fcmovnb', 'fcmovne', 'fcmovnbe', 'fcmovnu']) {
      add(`${c} #${i}`, `${c} st(0), st(${st()})`);
    }
    add(`fbld #${i}`, `fbld tbyte ptr [rdi + ${off()}]`, bcdMem(rng));
    add(`fbstp #${i}`, `fbstp tbyte ptr [rdi + ${off()}]`);
    // A round trip through BCD of a value just loaded from BCD, and FBSTP of integers near the limits.
    add(`fbld fbstp #${i}`, `fbld tbyte ptr [rdi + ${off()}]; fbstp tbyte ptr [rdi + ${off()}]`, bcdMem(rng));
    add(`fild fbstp #${i}`, `fild qword ptr [rdi + ${off()}]; fbstp tbyte ptr [rdi + ${off()}]`);
    // Environment and whole-state saves; the store after an arithmetic instruction shows FOP/FIP/FDP.
    add(`fnstenv #${i}`, `fnstenv [rdi + ${off()}]`);
    add(`fstenv #${i}`, `fstenv [rdi + ${off()}]`);
    add(`fnsave #${i}`, `fnsave [rdi + ${off()}]`);
    add(`fsave #${i}`, `fsave [rdi + ${off()}]`);
    add(`fadd fnstenv #${i}`, `fadd qword ptr [rdi + ${off()}]; fnstenv [rdi + ${off()}]`);
    add(`fmul fnsave #${i}`, `fmul st(0), st(${st()}); fnsave [rdi + ${off()}]`);
    add(`fldenv #${i}`, 'fldenv [rdi + 0x400]', envMem(rng));
    add(`frstor #${i}`, 'frstor [rdi + 0x400]', envMem(rng));
    add(`frstor fld1 #${i}`, 'frstor [rdi + 0x400]; fld1', envMem(rng));
    add(`fnsave frstor #${i}`, 'fnsave [rdi + 0x200]; fld1; frstor [rdi + 0x200]');
    add(`fnstenv fldenv #${i}`, 'fnstenv [rdi + 0x200]; fld1; fldenv [rdi + 0x200]');
    // The 16-bit formats (operand-size prefix).
    add(`fnstenv16 #${i}`, `fadd qword ptr [rdi + ${off()}]; .byte 0x66; fnstenv [rdi + ${off()}]`);
    add(`fnsave16 #${i}`, `fmul st(0), st(${st()}); .byte 0x66; fnsave [rdi + ${off()}]`);
    add(`fldenv16 #${i}`, '.byte 0x66; fldenv [rdi + 0x400]', envMem(rng));
    add(`frstor16 #${i}`, '.byte 0x66; frstor [rdi + 0x400]', envMem(rng));
    // Waiting forms of the control instructions, FNOP, FSTPNCE (D9 D8+i), FNENI (DB E0, a no-op on a 387+).
    add(`fstcw #${i}`, `fstcw [rdi + ${off()}]`);
    add(`fstsw #${i}`, `fstsw [rdi + ${off()}]`);
    add(`fstsw ax #${i}`, 'fstsw ax');
    add(`fclex #${i}`, 'fclex');
    add(`finit #${i}`, 'finit');
    add(`fnop #${i}`, 'fnop');
    add(`fstpnce #${i}`, `.byte 0xd9, ${0xd8 + st()}`);
    add(`fneni #${i}`, '.byte 0xdb, 0xe0');
  }
  return specs;
}

suite(why === null ? 'x87 special instructions vs host CPU' : `x87 special instructions vs host CPU (skipped: ${why})`, () => {
  it('FXAM, FSCALE, FPREM, FPREM1, FXTRACT, FCMOVcc, FBLD, FBSTP, FSTENV, FSAVE, FLDENV, FRSTOR match the host bit for bit', () => {
    const specs = x87SpecialSpecs(new Rng(0x8701), Number(process.env.X87_ROUNDS ?? 24) * 4);
    const { fails } = runFp(prepareFp(specs));
    const byForm = new Map<string, number>();
    for (const f of fails) {
      const k = f.split('\n')[0].replace(/ #\d+$/, '');
      byForm.set(k, (byForm.get(k) ?? 0) + 1);
    }
    console.log(`x87 special differential: ${specs.length} cases, ${fails.length} mismatches ${[...byForm].map(([k, n]) => `${k}:${n}`).join(' ')}`);
    expect(fails.length, `${fails.length} of ${specs.length} differ:\n\n${fails.slice(0, 12).join('\n\n')}`).toBe(0);
  }, 600_000);
});
