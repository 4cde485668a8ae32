// x87 instructions beyond arithmetic against the host CPU, bit for bit in the whole x87 state, memory and
// EFLAGS: FXAM, FSCALE, FPREM, FPREM1, FXTRACT, FCMOVcc, FBLD, FBSTP, on the random stacks, edge values and
// control words of test/diff/x87gen.ts (rounding and precision control random, exceptions masked or not).
// FOP/FIP/FDP are compared only where the host stores them (an exception pending, test/diff/fp.ts).

import { describe, expect, it } from 'vitest';
import { prepareFp, runFp, type FpSpec } from './diff/fp.js';
import { nativeAvailable } from './diff/native.js';
import { Rng } from './diff/prng.js';
import { memOf, x87State } from './diff/x87gen.js';

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

export function x87SpecialSpecs(rng: Rng, rounds: number): FpSpec[] {
  const specs: FpSpec[] = [];
  const st = (): number => rng.u32() & 7;
  const off = (): number => (rng.u32() % 250) * 16;
  const add = (name: string, asm: string, mem = memOf(rng)): void => {
    // Arithmetic flags random for FCMOVcc; the snippet returns EFLAGS in RAX.
    const rflags = BigInt(rng.u32() & 0x8d5);
    specs.push({ name, asm: `${asm}; pushfq; pop rax`, fx: x87State(rng), mem, rflags });
  };
  for (let i = 0; i < rounds; i++) {
    for (const c of ['fxam', 'fscale', 'fprem', 'fprem1', 'fxtract']) add(`${c} #${i}`, c);
    for (const c of ['fcmovb', 'fcmove', 'fcmovbe', 'fcmovu', 'fcmovnb', 'fcmovne', 'fcmovnbe', 'fcmovnu']) {
      add(`${c} #${i}`, `${c} st(0), st(${st()})`);
    }
    add(`fbld #${i}`, `fbld tbyte ptr [rdi + ${off()}]`, bcdMem(rng));
    add(`fbstp #${i}`, `fbstp tbyte ptr [rdi + ${off()}]`);
    // A round trip through BCD of a value just loaded from BCD, and FBSTP of integers near the limits.
    add(`fbld fbstp #${i}`, `fbld tbyte ptr [rdi + ${off()}]; fbstp tbyte ptr [rdi + ${off()}]`, bcdMem(rng));
    add(`fild fbstp #${i}`, `fild qword ptr [rdi + ${off()}]; fbstp tbyte ptr [rdi + ${off()}]`);
  }
  return specs;
}

suite(why === null ? 'x87 special instructions vs host CPU' : `x87 special instructions vs host CPU (skipped: ${why})`, () => {
  it('FXAM, FSCALE, FPREM, FPREM1, FXTRACT, FCMOVcc, FBLD, FBSTP match the host bit for bit', () => {
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
