// x87/SSE register state against the host CPU: FXSAVE/FXSAVE64 layout of random states, FXRSTOR of random
// images (then saved again), alignment and reserved-MXCSR #GP, LDMXCSR/STMXCSR, FNINIT, FNCLEX, FLDCW/FNSTCW,
// FNSTSW, FWAIT with a pending unmasked x87 exception (#MF), CLFLUSH. Each case's whole x87/SSE state
// (as the host's FXSAVE64 reports it) must match.

import { describe, expect, it } from 'vitest';
import { Cr0, Cr4 } from '../src/emulator/cpu/Cpu.js';
import { asm } from './helpers/asm.js';
import { BareMachine, KCODE } from './helpers/bareMachine.js';
import { fxRandom, prepareFp, runFp, type FpSpec } from './diff/fp.js';
import { nativeAvailable } from './diff/native.js';
import { Rng } from './diff/prng.js';
import { DATA_BYTES } from './diff/types.js';

const why = nativeAvailable();
const suite = why === null ? describe : describe.skip;

function memWith(img: Uint8Array, at: number): Uint8Array {
  const m = new Uint8Array(DATA_BYTES);
  for (let i = 0; i < DATA_BYTES; i++) m[i] = (i * 7 + 3) & 0xff;
  m.set(img, at);
  return m;
}

suite(why === null ? 'x87/SSE state vs host CPU' : `x87/SSE state vs host CPU (skipped: ${why})`, () => {
  it('FXSAVE, FXRSTOR, LDMXCSR, STMXCSR, FNINIT and the x87 control instructions match the host', () => {
    const rng = new Rng(16);
    const specs: FpSpec[] = [];
    const pat = (): Uint8Array => memWith(new Uint8Array(0), 0);
    // What FXSAVE stores that the comparison leaves out: MXCSR_MASK (the AMD host reports bit 17,
    // misaligned-SSE mode, the emulated CPU does not have it), and FOP/FIP/FDP when no unmasked x87
    // exception is pending (AMD stores zeros then, AMD APM FXSAVE; the SDM stores the last values).
    const saved = (img: Uint8Array, at: number): [number, number][] => {
      const v = new DataView(img.buffer);
      const pending = (v.getUint16(2, true) & ~v.getUint16(0, true) & 0x3f) !== 0;
      return pending ? [[at + 28, 4]] : [[at + 28, 4], [at + 6, 18]];
    };
    for (let i = 0; i < 40; i++) {
      const a = fxRandom(rng);
      specs.push({ name: `fxsave64 #${i}`, asm: 'fxsave64 [rdi]', fx: a, mem: pat(), memIgnore: saved(a, 0) });
      const b = fxRandom(rng);
      specs.push({ name: `fxsave #${i}`, asm: 'fxsave [rdi + 0x200]', fx: b, mem: pat(), memIgnore: saved(b, 0x200) });
      const img = fxRandom(rng);
      specs.push({ name: `fxrstor64 #${i}`, asm: 'fxrstor64 [rdi + 0x100]', fx: fxRandom(rng), mem: memWith(img, 0x100) });
      specs.push({ name: `fxrstor #${i}`, asm: 'fxrstor [rdi + 0x100]', fx: fxRandom(rng), mem: memWith(fxRandom(rng), 0x100) });
      // Reserved values without bit 17 (the AMD host accepts it: misaligned-SSE mode).
      const mx = i < 20 ? rng.u32() & 0xffff : (rng.u32() & ~0x20000) >>> 0;
      const m = pat();
      new DataView(m.buffer).setUint32(0x40, mx, true);
      specs.push({ name: `ldmxcsr 0x${mx.toString(16)}`, asm: 'ldmxcsr [rdi + 0x40]; stmxcsr [rdi + 0x44]', fx: fxRandom(rng), mem: m });
      const cw = rng.u32() & 0xffff;
      const m2 = pat();
      new DataView(m2.buffer).setUint16(0x40, cw, true);
      specs.push({ name: `fldcw 0x${cw.toString(16)}`, asm: 'fldcw [rdi + 0x40]; fnstcw [rdi + 0x50]; fnstsw [rdi + 0x52]', fx: fxRandom(rng), mem: m2 });
      specs.push({ name: `fninit #${i}`, asm: 'fninit', fx: fxRandom(rng) });
      specs.push({ name: `fnclex #${i}`, asm: 'fnclex; fnstsw ax', fx: fxRandom(rng) });
      specs.push({ name: `fwait #${i}`, asm: 'fwait', fx: fxRandom(rng) });
    }
    const bad = fxRandom(rng);
    new DataView(bad.buffer).setUint32(24, 0x10000, true);
    specs.push({ name: 'fxrstor64 reserved MXCSR', asm: 'fxrstor64 [rdi]', fx: fxRandom(rng), mem: memWith(bad, 0) });
    specs.push({ name: 'fxsave64 misaligned', asm: 'fxsave64 [rdi + 8]', fx: fxRandom(rng), mem: pat() });
    specs.push({ name: 'fxrstor64 misaligned', asm: 'fxrstor64 [rdi + 8]', fx: fxRandom(rng), mem: pat() });
    specs.push({ name: 'fxsave64 across the end of the page', asm: 'fxsave64 [rdi + 0xf00]', fx: fxRandom(rng), mem: pat() });
    specs.push({ name: 'clflush', asm: 'clflush [rdi + 0x80]; clflush [rdi + 0x1000]', fx: fxRandom(rng) });
    const { fails } = runFp(prepareFp(specs));
    expect(fails.length, `${fails.length} of ${specs.length} differ:\n\n${fails.slice(0, 10).join('\n\n')}`).toBe(0);
  }, 600_000);
});

// Availability of x87/SSE per CR0.EM/MP/TS and CR4.OSFXSR/OSXMMEXCPT (SDM vol. 3 table 2-2 and 13.x, the
// instruction pages' exception tables): these bits are kernel-only, so the host cannot be the oracle here.
describe('x87/SSE availability (CR0.EM/MP/TS, CR4.OSFXSR/OSXMMEXCPT)', () => {
  const NM = 7, UD = 6, XM = 19;
  const run = (code: string, cr0Set: number, cr4Set: number, cr4Clear = 0): number => {
    const m = new BareMachine();
    m.cpu.cr0 |= cr0Set;
    if ((cr0Set & Cr0.MP) === 0) m.cpu.cr0 &= ~Cr0.MP;
    m.cpu.cr4 = (m.cpu.cr4 | cr4Set) & ~cr4Clear;
    m.load(KCODE, asm(`lea rdi, [rip + area]\n${code}\nhlt\n.balign 16\narea: .fill 1024, 1, 0`, KCODE));
    m.runToHalt();
    return m.haltedVector();
  };
  const SSE = Cr4.OSFXSR | Cr4.OSXMMEXCPT;
  it('raises #NM, #UD and #XM as the SDM tables say', () => {
    expect(run('movaps xmm0, xmm1', 0, SSE)).toBe(-1);
    expect(run('movaps xmm0, xmm1', Cr0.TS, SSE)).toBe(NM);
    expect(run('movaps xmm0, xmm1', Cr0.EM, SSE)).toBe(UD);
    expect(run('movaps xmm0, xmm1', 0, 0, SSE)).toBe(UD); // CR4.OSFXSR clear
    expect(run('addsd xmm0, xmm1', Cr0.EM | Cr0.TS, SSE)).toBe(UD); // EM wins over TS
    expect(run('ldmxcsr [rdi]', Cr0.TS, SSE)).toBe(NM);
    expect(run('fxsave64 [rdi]', Cr0.TS, 0, SSE)).toBe(NM); // FXSAVE does not need OSFXSR
    expect(run('fxsave64 [rdi]', Cr0.EM, SSE)).toBe(UD);
    expect(run('fninit', Cr0.EM, SSE)).toBe(NM); // x87: EM or TS -> #NM
    expect(run('fninit', Cr0.TS, SSE)).toBe(NM);
    expect(run('fwait', Cr0.TS, SSE)).toBe(-1); // WAIT: #NM only with MP and TS
    expect(run('fwait', Cr0.TS | Cr0.MP, SSE)).toBe(NM);
    // An unmasked divide-by-zero: #XM with OSXMMEXCPT, #UD without it.
    const xm = 'mov dword ptr [rdi], 0x1d80\nldmxcsr [rdi]\nmov rax, 1\ncvtsi2sd xmm0, rax\nxorpd xmm1, xmm1\ndivsd xmm0, xmm1';
    expect(run(xm, 0, SSE)).toBe(XM);
    expect(run(xm, 0, Cr4.OSFXSR, Cr4.OSXMMEXCPT)).toBe(UD);
  });

  it('MMX and the SSE forms on MMX registers (SDM vol. 3 tables 22-4..22-8): EM #UD, TS #NM, OSFXSR only for SSE conversions', () => {
    const MF = 16;
    for (const code of ['paddb mm0, mm1', 'pavgb mm0, [rdi]', 'emms', 'movq mm0, rax', 'pshufw mm0, mm1, 3', 'maskmovq mm0, mm1']) {
      expect(run(code, 0, SSE), code).toBe(-1);
      expect(run(code, Cr0.EM, SSE), code).toBe(UD);
      expect(run(code, Cr0.TS, SSE), code).toBe(NM);
      expect(run(code, Cr0.EM | Cr0.TS, SSE), code).toBe(UD);
      expect(run(code, 0, 0, SSE), code).toBe(-1); // table 22-7/22-8 list no OSFXSR condition
    }
    for (const code of ['cvtpi2ps xmm0, mm1', 'cvtps2pi mm0, xmm1', 'cvtpd2pi mm0, xmm1', 'movq2dq xmm0, mm1', 'movdq2q mm0, xmm1']) {
      expect(run(code, 0, SSE), code).toBe(-1);
      expect(run(code, 0, 0, SSE), code).toBe(UD); // tables 22-4..22-6: CR4.OSFXSR = 0 -> #UD
      expect(run(code, Cr0.TS, SSE), code).toBe(NM);
    }
    // A pending unmasked x87 exception: #MF before any MMX instruction, and before CVTPI2PS xmm, mm but
    // not before its m64 form (SDM CVTPI2PS; the differential test checks the same on the host in user mode).
    const pending = 'mov word ptr [rdi], 0x37b\nfldcw [rdi]\nfldz\nfld1\nfdiv st(0), st(1)\n';
    expect(run(`${pending}emms`, Cr0.NE, SSE)).toBe(MF);
    expect(run(`${pending}cvtpi2ps xmm0, mm1`, Cr0.NE, SSE)).toBe(MF);
    expect(run(`${pending}cvtpi2ps xmm0, [rdi]`, Cr0.NE, SSE)).toBe(-1);
  });
});
