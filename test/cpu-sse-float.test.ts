// SSE/SSE2 floating point against the host CPU, bit for bit with MXCSR flags and #XM: arithmetic, min/max,
// sqrt, compares, COMIS/UCOMIS and conversions, scalar and packed, single and double. Operands come from
// curated edge values (signed zeros, denormals, smallest/largest normals, infinities, quiet and signalling
// NaNs with payloads, values one half-ulp from rounding boundaries, integer-conversion limits) and a seeded
// generator; every case runs under a random MXCSR: each rounding mode, DAZ/FZ, exceptions masked, unmasked
// or mixed, with sticky flags set or clear (a third with MXCSR as programs run: the double fast path).

import { describe, expect, it } from 'vitest';
import { fxInit, prepareFp, runFp, setXmm, type FpSpec } from './diff/fp.js';
import { nativeAvailable } from './diff/native.js';
import { Rng } from './diff/prng.js';
import { DATA_BYTES } from './diff/types.js';
import { dval, mxcsr, sval } from './diff/fpValues.js';

const why = nativeAvailable();
const suite = why === null ? describe : describe.skip;

function fpState(rng: Rng, single: boolean): Uint8Array {
  const fx = fxInit(mxcsr(rng));
  for (let r = 0; r < 16; r++) {
    if (single) {
      const w = (): bigint => BigInt(sval(rng));
      setXmm(fx, r, (w() << 32n) | w(), (w() << 32n) | w());
    } else setXmm(fx, r, dval(rng), dval(rng));
  }
  return fx;
}

function memOf(rng: Rng, single: boolean): Uint8Array {
  const m = new Uint8Array(DATA_BYTES);
  const v = new DataView(m.buffer);
  for (let i = 0; i < DATA_BYTES; i += 8) {
    if (single) {
      v.setUint32(i, sval(rng), true);
      v.setUint32(i + 4, sval(rng), true);
    } else v.setBigUint64(i, dval(rng), true);
  }
  return m;
}

const ARITH = ['add', 'sub', 'mul', 'div', 'min', 'max', 'sqrt'];

export function floatSpecs(rng: Rng, rounds: number): FpSpec[] {
  const specs: FpSpec[] = [];
  const x = (): number => rng.u32() % 16;
  const off = (): number => (rng.u32() % 200) * 16;
  const add = (name: string, asm: string, single: boolean, regs?: FpSpec['regs']): void => {
    specs.push({ name, asm, fx: fpState(rng, single), mem: memOf(rng, single), regs });
  };
  for (let i = 0; i < rounds; i++) {
    for (const m of ARITH) {
      for (const [sfx, single] of [['sd', false], ['ss', true], ['pd', false], ['ps', true]] as const) {
        add(`${m}${sfx} reg #${i}`, `${m}${sfx} xmm${x()}, xmm${x()}`, single);
        if (i % 2 === 0) add(`${m}${sfx} mem #${i}`, `${m}${sfx} xmm${x()}, [rdi + ${off()}]`, single);
      }
    }
    for (const [sfx, single] of [['sd', false], ['ss', true], ['pd', false], ['ps', true]] as const) {
      add(`cmp${sfx} #${i}`, `cmp${sfx} xmm${x()}, xmm${x()}, ${rng.u32() & 7}`, single);
    }
    for (const m of ['comisd', 'ucomisd']) add(`${m} #${i}`, `${m} xmm${x()}, xmm${x()}; pushfq; pop rax`, false);
    for (const m of ['comiss', 'ucomiss']) add(`${m} #${i}`, `${m} xmm${x()}, xmm${x()}; pushfq; pop rax`, true);
    const big = (): bigint => [0n, 1n, -1n, 0x7fffffffn, -0x80000000n, 0x1000001n, 0x20000000000001n, -0x7fffffffffffffffn, 0x7fffffffffffffffn][rng.u32() % 9] + BigInt(rng.u32() % 3) - 1n;
    for (const m of ['cvtsi2sd', 'cvtsi2ss']) {
      add(`${m} r32 #${i}`, `${m} xmm${x()}, eax`, false, { 0: rng.u32() % 2 ? big() : rng.u64() });
      add(`${m} r64 #${i}`, `${m} xmm${x()}, rax`, false, { 0: rng.u32() % 2 ? big() : rng.u64() });
    }
    for (const m of ['cvtsd2si', 'cvttsd2si']) {
      add(`${m} r32 #${i}`, `${m} eax, xmm${x()}`, false);
      add(`${m} r64 #${i}`, `${m} rax, xmm${x()}`, false);
    }
    for (const m of ['cvtss2si', 'cvttss2si']) {
      add(`${m} r32 #${i}`, `${m} eax, xmm${x()}`, true);
      add(`${m} r64 #${i}`, `${m} rax, xmm${x()}`, true);
    }
    add(`cvtsd2ss #${i}`, `cvtsd2ss xmm${x()}, xmm${x()}`, false);
    add(`cvtpd2ps #${i}`, `cvtpd2ps xmm${x()}, xmm${x()}`, false);
    add(`cvtss2sd #${i}`, `cvtss2sd xmm${x()}, xmm${x()}`, true);
    add(`cvtps2pd #${i}`, `cvtps2pd xmm${x()}, xmm${x()}`, true);
    add(`cvtdq2pd #${i}`, `cvtdq2pd xmm${x()}, xmm${x()}`, true);
    add(`cvtdq2ps #${i}`, `cvtdq2ps xmm${x()}, xmm${x()}`, true);
    for (const m of ['cvtpd2dq', 'cvttpd2dq']) add(`${m} #${i}`, `${m} xmm${x()}, xmm${x()}`, false);
    for (const m of ['cvtps2dq', 'cvttps2dq']) add(`${m} #${i}`, `${m} xmm${x()}, xmm${x()}`, true);
  }
  return specs;
}

suite(why === null ? 'SSE/SSE2 floating point vs host CPU' : `SSE/SSE2 floating point vs host CPU (skipped: ${why})`, () => {
  it('arithmetic, compares and conversions match the host bit for bit, MXCSR flags and #XM included', () => {
    const specs = floatSpecs(new Rng(0xf10a7), Number(process.env.SSE_FLOAT_ROUNDS ?? 60));
    const { fails } = runFp(prepareFp(specs));
    const byForm = new Map<string, number>();
    for (const f of fails) {
      const k = f.split('\n')[0].replace(/ #\d+$/, '');
      byForm.set(k, (byForm.get(k) ?? 0) + 1);
    }
    console.log(`SSE float differential: ${specs.length} cases, ${fails.length} mismatches ${[...byForm].map(([k, n]) => `${k}:${n}`).join(' ')}`);
    expect(fails.length, `${fails.length} of ${specs.length} differ:\n\n${fails.slice(0, 12).join('\n\n')}`).toBe(0);
  }, 600_000);

  // The same cases through the run loop's blocks and through JIT-compiled blocks, where the SSE templates
  // (ops/sseTemplates.ts) are inlined: fewer rounds, each case runs 65 times.
  it('the same in interpreted and JIT-compiled blocks', () => {
    const specs = floatSpecs(new Rng(0xb10c), Number(process.env.SSE_FLOAT_JIT_ROUNDS ?? 6));
    const { fails } = runFp(prepareFp(specs), { blocks: true });
    console.log(`SSE float differential, blocks and JIT: ${specs.length} cases, ${fails.length} mismatches`);
    expect(fails.length, `${fails.length} of ${specs.length} differ:\n\n${fails.slice(0, 12).join('\n\n')}`).toBe(0);
  }, 600_000);
});
