// MMX and the SSE/SSE2 instructions on MMX registers against the host CPU: every form (register, memory and
// immediate operands, every imm8 class), edge lanes (0, -1, the saturation boundaries) and seeded random
// lanes, from x87 states with any TOP, tag word and register exponents, so that the x87-to-MMX transition
// (TOP = 0, all tags valid, ones in bits 79:64 of a written register; EMMS empties) is checked as well as the
// results; a few cases with an x87 exception pending (#MF before the instruction). The conversions run
// under random MXCSR values with float edge operands. Compared bit for bit: GPRs, flags, memory, fault,
// and the whole FXSAVE image (ST0-7 = the MMX registers with their exponents, FTW, FSW.TOP, MXCSR, XMM).

import { describe, expect, it } from 'vitest';
import { fxInit, prepareFp, runFp, setXmm, type FpSpec } from './diff/fp.js';
import { dval, mxcsr, sval } from './diff/fpValues.js';
import { nativeAvailable } from './diff/native.js';
import { Rng } from './diff/prng.js';
import { DATA_BYTES } from './diff/types.js';

const why = nativeAvailable();
const suite = why === null ? describe : describe.skip;

const EDGE32 = [0, -1, 0x80000000, 0x7fffffff, 0x80808080, 0x7f7f7f7f, 0x00ff00ff, 0xff00ff00, 0x80007fff, 0x7fff8000,
  0x0000ffff, 0xffff0000, 1, 0x01010101, 0x01000001, 0x00ffffff, 0xff000001];

function lane(rng: Rng): bigint {
  const w = (): number => (rng.u32() % 3 === 0 ? EDGE32[rng.u32() % EDGE32.length] : rng.u32()) >>> 0;
  return (BigInt(w()) << 32n) | BigInt(w());
}

type Kind = 'int' | 'single' | 'double';

function value(rng: Rng, kind: Kind): bigint {
  if (kind === 'double') return dval(rng);
  if (kind === 'single') return (BigInt(sval(rng)) << 32n) | BigInt(sval(rng));
  return lane(rng);
}

function memOf(rng: Rng, kind: Kind): Uint8Array {
  const m = new Uint8Array(DATA_BYTES);
  const v = new DataView(m.buffer);
  for (let i = 0; i < DATA_BYTES; i += 8) v.setBigUint64(i, value(rng, kind), true);
  return m;
}

/**
 * An FXSAVE64 image with random x87 registers (significands from int lanes, exponents all ones, random or
 * zero), a random TOP and tag byte; XMM registers of `kind`; MXCSR random for the conversions. One case in
 * 16 has an unmasked x87 exception pending (FSW.IE with FCW.IM clear).
 */
function fxWith(rng: Rng, kind: Kind): Uint8Array {
  const fx = fxInit(kind === 'int' ? 0x1f80 : mxcsr(rng));
  const v = new DataView(fx.buffer);
  for (let i = 0; i < 8; i++) {
    v.setBigUint64(32 + 16 * i, lane(rng), true);
    const e = rng.u32() % 3;
    v.setUint16(40 + 16 * i, e === 0 ? 0xffff : e === 1 ? rng.u32() & 0xffff : 0, true);
  }
  const top = rng.u32() % 2 === 0 ? 0 : rng.u32() & 7;
  const pending = rng.u32() % 16 === 0;
  v.setUint16(2, (top << 11) | (pending ? 0x81 : 0), true);
  if (pending) v.setUint16(0, 0x037e, true);
  fx[4] = rng.u32() % 3 === 0 ? 0xff : rng.u32() % 2 === 0 ? 0 : rng.u32() & 0xff;
  for (let r = 0; r < 16; r++) setXmm(fx, r, value(rng, kind), value(rng, kind));
  return fx;
}

/** MMi of an image = physical register i = image slot (i - TOP) & 7. */
function setMm(fx: Uint8Array, r: number, v: bigint): void {
  const top = (fx[3] >> 3) & 7;
  new DataView(fx.buffer).setBigUint64(32 + 16 * ((r - top) & 7), v, true);
}

const BINARY = [
  'paddb', 'paddw', 'paddd', 'paddq', 'psubb', 'psubw', 'psubd', 'psubq', 'paddsb', 'paddsw', 'paddusb', 'paddusw',
  'psubsb', 'psubsw', 'psubusb', 'psubusw', 'pcmpeqb', 'pcmpeqw', 'pcmpeqd', 'pcmpgtb', 'pcmpgtw', 'pcmpgtd',
  'packsswb', 'packuswb', 'packssdw', 'punpcklbw', 'punpcklwd', 'punpckldq', 'punpckhbw', 'punpckhwd', 'punpckhdq',
  'pand', 'pandn', 'por', 'pxor', 'pmullw', 'pmulhw', 'pmaddwd',
  // SSE and SSE2 on MMX registers
  'pavgb', 'pavgw', 'pminub', 'pmaxub', 'pminsw', 'pmaxsw', 'pmulhuw', 'psadbw', 'pmuludq',
];
const SHIFT = ['psllw', 'pslld', 'psllq', 'psrlw', 'psrld', 'psrlq', 'psraw', 'psrad'];

export function mmxSpecs(rng: Rng, perForm: number): FpSpec[] {
  const specs: FpSpec[] = [];
  const add = (name: string, asm: string, kind: Kind = 'int', opts: Partial<FpSpec> = {}): void => {
    specs.push({ name, asm, fx: fxWith(rng, kind), mem: memOf(rng, kind), ...opts });
  };
  const mm = (): number => rng.u32() % 8;
  const x = (): number => rng.u32() % 16;
  const off = (): number => rng.u32() % 4088;
  for (let i = 0; i < perForm; i++) {
    for (const m of BINARY) {
      add(`${m} reg #${i}`, `${m} mm${mm()}, mm${mm()}`);
      const size = m.startsWith('punpckl') ? 'dword' : 'qword';
      add(`${m} mem #${i}`, `${m} mm${mm()}, ${size} ptr [rdi + ${off()}]`);
    }
    for (const m of SHIFT) {
      const c = [0, 1, 7, 8, 15, 16, 31, 32, 63, 64, 200][rng.u32() % 11];
      add(`${m} imm #${i}`, `${m} mm${mm()}, ${c}`);
      const fx = fxWith(rng, 'int');
      const r = mm();
      setMm(fx, r, BigInt(rng.u32() % 3 === 0 ? rng.u32() % 70 : rng.u32()) | (rng.u32() % 4 === 0 ? 1n << 40n : 0n));
      add(`${m} mm count #${i}`, `${m} mm${mm()}, mm${r}`, 'int', { fx });
      add(`${m} mem count #${i}`, `${m} mm${mm()}, qword ptr [rdi + ${off()}]`);
    }
    add(`movd mm, r32 #${i}`, `movd mm${mm()}, eax`, 'int', { regs: { 0: lane(rng) } });
    add(`movd mm, m32 #${i}`, `movd mm${mm()}, dword ptr [rdi + ${off()}]`);
    add(`movq mm, r64 #${i}`, `movq mm${mm()}, rbx`, 'int', { regs: { 3: lane(rng) } });
    add(`movq mm, mm #${i}`, `movq mm${mm()}, mm${mm()}`);
    add(`movq mm, m64 #${i}`, `movq mm${mm()}, qword ptr [rdi + ${off()}]`);
    add(`movd r32, mm #${i}`, `movd ecx, mm${mm()}`, 'int', { regs: { 1: lane(rng) } });
    add(`movd m32, mm #${i}`, `movd dword ptr [rdi + ${off()}], mm${mm()}`);
    add(`movq r64, mm #${i}`, `movq rdx, mm${mm()}`);
    add(`movq m64, mm #${i}`, `movq qword ptr [rdi + ${off()}], mm${mm()}`);
    add(`movntq #${i}`, `movntq qword ptr [rdi + ${off()}], mm${mm()}`);
    add(`emms #${i}`, 'emms');
    add(`pshufw reg #${i}`, `pshufw mm${mm()}, mm${mm()}, ${rng.u32() & 255}`);
    add(`pshufw mem #${i}`, `pshufw mm${mm()}, qword ptr [rdi + ${off()}], ${rng.u32() & 255}`);
    add(`pextrw r32 #${i}`, `pextrw eax, mm${mm()}, ${rng.u32() & 255}`, 'int', { regs: { 0: lane(rng) } });
    add(`pextrw r64 #${i}`, `pextrw r10, mm${mm()}, ${rng.u32() & 255}`, 'int', { regs: { 10: lane(rng) } });
    add(`pinsrw r32 #${i}`, `pinsrw mm${mm()}, esi, ${rng.u32() & 255}`, 'int', { regs: { 6: lane(rng) } });
    add(`pinsrw m16 #${i}`, `pinsrw mm${mm()}, word ptr [rdi + ${off()}], ${rng.u32() & 255}`);
    add(`pmovmskb r32 #${i}`, `pmovmskb r9d, mm${mm()}`, 'int', { regs: { 9: lane(rng) } });
    add(`pmovmskb r64 #${i}`, `pmovmskb rax, mm${mm()}`);
    add(`maskmovq #${i}`, `maskmovq mm${mm()}, mm${mm()}`, 'int', { regs: { 7: 0x20000000n + BigInt(rng.u32() % 4088) } });
    add(`movq2dq #${i}`, `movq2dq xmm${x()}, mm${mm()}`);
    add(`movdq2q #${i}`, `movdq2q mm${mm()}, xmm${x()}`);
    add(`cvtpi2ps reg #${i}`, `cvtpi2ps xmm${x()}, mm${mm()}`, 'single');
    add(`cvtpi2ps mem #${i}`, `cvtpi2ps xmm${x()}, qword ptr [rdi + ${off()}]`, 'int', { fx: fxWith(rng, 'single') });
    add(`cvtpi2pd reg #${i}`, `cvtpi2pd xmm${x()}, mm${mm()}`, 'double');
    add(`cvtpi2pd mem #${i}`, `cvtpi2pd xmm${x()}, qword ptr [rdi + ${off()}]`, 'int', { fx: fxWith(rng, 'double') });
    for (const m of ['cvtps2pi', 'cvttps2pi']) {
      add(`${m} reg #${i}`, `${m} mm${mm()}, xmm${x()}`, 'single');
      add(`${m} mem #${i}`, `${m} mm${mm()}, qword ptr [rdi + ${off()}]`, 'single');
    }
    for (const m of ['cvtpd2pi', 'cvttpd2pi']) {
      add(`${m} reg #${i}`, `${m} mm${mm()}, xmm${x()}`, 'double');
      add(`${m} mem #${i}`, `${m} mm${mm()}, xmmword ptr [rdi + ${(rng.u32() % 255) * 16}]`, 'double');
    }
    // MMX then x87: the x87 instruction sees the transition's state (a full stack of NaN-like registers).
    add(`paddb; fld1 #${i}`, `paddb mm${mm()}, mm${mm()}; fld1`);
    add(`emms; fld1 #${i}`, `movq mm${mm()}, rax; emms; fld1`, 'int', { regs: { 0: lane(rng) } });
  }
  // Faults leave the x87 state as it was: a misaligned CVTPD2PI source (#GP) and memory beyond the page (#PF).
  add('cvtpd2pi misaligned', 'cvtpd2pi mm1, xmmword ptr [rdi + 8]', 'double');
  add('paddw mem beyond the page', 'paddw mm2, qword ptr [rdi + 0x1ffc]');
  add('movq m64 across the end of the page', 'movq qword ptr [rdi + 0xffc], mm3');
  add('pinsrw m16 beyond the page', 'pinsrw mm3, word ptr [rdi + 0x1000], 1');
  add('maskmovq across the end of the page', 'maskmovq mm1, mm2', 'int', { regs: { 7: 0x20000ffcn } });
  // Masks selecting only bytes on the mapped page, none, or only bytes past it (the SDM leaves faults on
  // masked-off bytes implementation-specific; the host decides), for MASKMOVQ and MASKMOVDQU.
  for (const mask of [0x0000000080808080n, 0n, 0x8000000000000000n, 0xffffffffffffffffn]) {
    const fx = fxWith(rng, 'int');
    setMm(fx, 2, mask);
    add(`maskmovq mask ${mask.toString(16)} across the end of the page`, 'maskmovq mm1, mm2', 'int', { fx, regs: { 7: 0x20000ffcn } });
    const fx2 = fxWith(rng, 'int');
    setXmm(fx2, 2, mask, 0n);
    add(`maskmovdqu mask ${mask.toString(16)} across the end of the page`, 'maskmovdqu xmm1, xmm2', 'int', { fx: fx2, regs: { 7: 0x20000ff8n } });
  }
  return specs;
}

suite(why === null ? 'MMX vs host CPU' : `MMX vs host CPU (skipped: ${why})`, () => {
  it('every MMX form and the SSE/SSE2 forms on MMX registers match the host bit for bit, x87 state included', () => {
    const specs = mmxSpecs(new Rng(0x3307), Number(process.env.MMX_ROUNDS ?? 8));
    const { fails } = runFp(prepareFp(specs));
    const byForm = new Map<string, number>();
    for (const f of fails) {
      const k = f.split('\n')[0].replace(/ #\d+$/, '');
      byForm.set(k, (byForm.get(k) ?? 0) + 1);
    }
    console.log(`MMX differential: ${specs.length} cases, ${fails.length} mismatches ${[...byForm].map(([k, n]) => `${k}:${n}`).join(' ')}`);
    expect(fails.length, `${fails.length} of ${specs.length} differ:\n\n${fails.slice(0, 10).join('\n\n')}`).toBe(0);
  }, 600_000);

  it('the same in interpreted and JIT-compiled blocks', () => {
    const specs = mmxSpecs(new Rng(0xb10c), 1);
    const { fails } = runFp(prepareFp(specs), { blocks: true });
    console.log(`MMX differential, blocks and JIT: ${specs.length} cases, ${fails.length} mismatches`);
    expect(fails.length, `${fails.length} of ${specs.length} differ:\n\n${fails.slice(0, 10).join('\n\n')}`).toBe(0);
  }, 600_000);
});
