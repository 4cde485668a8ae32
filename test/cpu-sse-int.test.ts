// SSE/SSE2 moves, logic and packed-integer instructions against the host CPU: every implemented form
// (register and memory sources, aligned and misaligned, every imm8 class) over edge lanes (0, -1, the
// signed/unsigned saturation boundaries) and seeded random lanes. Compared bit for bit: all XMM registers,
// GPRs, flags, scratch memory, MXCSR and fault vectors.

import { describe, expect, it } from 'vitest';
import { fxInit, prepareFp, runFp, setXmm, type FpSpec } from './diff/fp.js';
import { nativeAvailable } from './diff/native.js';
import { Rng } from './diff/prng.js';
import { DATA_BYTES } from './diff/types.js';

const why = nativeAvailable();
const suite = why === null ? describe : describe.skip;

const EDGE32 = [0, -1, 0x80000000, 0x7fffffff, 0x80808080, 0x7f7f7f7f, 0x00ff00ff, 0xff00ff00, 0x80007fff, 0x7fff8000, 0x0000ffff, 0xffff0000, 1, 0x01010101];

function lane(rng: Rng): bigint {
  const w = (): number => (rng.u32() % 3 === 0 ? EDGE32[rng.u32() % EDGE32.length] : rng.u32()) >>> 0;
  return (BigInt(w()) << 32n) | BigInt(w());
}

function randomMem(rng: Rng): Uint8Array {
  const m = new Uint8Array(DATA_BYTES);
  for (let i = 0; i < DATA_BYTES; i += 8) {
    const v = lane(rng);
    for (let k = 0; k < 8; k++) m[i + k] = Number((v >> BigInt(8 * k)) & 0xffn);
  }
  return m;
}

function fxWith(rng: Rng): Uint8Array {
  const fx = fxInit();
  for (let r = 0; r < 16; r++) setXmm(fx, r, lane(rng), lane(rng));
  return fx;
}

const BINARY = [
  'pand', 'andps', 'andpd', 'pandn', 'andnps', 'andnpd', 'por', 'orps', 'orpd', 'pxor', 'xorps', 'xorpd',
  'paddb', 'paddw', 'paddd', 'paddq', 'psubb', 'psubw', 'psubd', 'psubq', 'paddsb', 'paddsw', 'paddusb', 'paddusw',
  'psubsb', 'psubsw', 'psubusb', 'psubusw', 'pcmpeqb', 'pcmpeqw', 'pcmpeqd', 'pcmpgtb', 'pcmpgtw', 'pcmpgtd',
  'pminub', 'pmaxub', 'pminsw', 'pmaxsw', 'pavgb', 'pavgw', 'pmullw', 'pmulhw', 'pmulhuw', 'pmuludq', 'pmaddwd',
  'psadbw', 'packsswb', 'packuswb', 'packssdw', 'punpcklbw', 'punpckhbw', 'punpcklwd', 'punpckhwd', 'punpckldq',
  'punpckhdq', 'punpcklqdq', 'punpckhqdq', 'unpcklps', 'unpckhps', 'unpcklpd', 'unpckhpd',
];
const SHIFT = ['psllw', 'pslld', 'psllq', 'psrlw', 'psrld', 'psrlq', 'psraw', 'psrad'];
const MOVES128 = ['movaps', 'movapd', 'movdqa', 'movups', 'movupd', 'movdqu'];

export function intSpecs(rng: Rng, perForm: number): FpSpec[] {
  const specs: FpSpec[] = [];
  const add = (name: string, asm: string, opts: Partial<FpSpec> = {}): void => {
    specs.push({ name, asm, fx: fxWith(rng), mem: randomMem(rng), ...opts });
  };
  const x = (): number => rng.u32() % 16;
  const off = (): number => (rng.u32() % 200) * 16;
  for (let i = 0; i < perForm; i++) {
    for (const m of BINARY) {
      add(`${m} reg #${i}`, `${m} xmm${x()}, xmm${x()}`);
      add(`${m} mem #${i}`, `${m} xmm${x()}, [rdi + ${off()}]`);
    }
    for (const m of SHIFT) {
      const c = [0, 1, 7, 8, 15, 16, 31, 32, 63, 64, 200][rng.u32() % 11];
      add(`${m} imm #${i}`, `${m} xmm${x()}, ${c}`);
      const fx = fxWith(rng);
      const r = x();
      setXmm(fx, r, BigInt(rng.u32() % 3 === 0 ? rng.u32() % 70 : rng.u32()) | (rng.u32() % 4 === 0 ? 1n << 40n : 0n), lane(rng));
      add(`${m} xmm count #${i}`, `${m} xmm${x()}, xmm${r}`, { fx });
    }
    for (const m of ['pslldq', 'psrldq']) add(`${m} #${i}`, `${m} xmm${x()}, ${[0, 1, 5, 8, 15, 16, 255][rng.u32() % 7]}`);
    for (const m of ['pshufd', 'pshuflw', 'pshufhw', 'shufps', 'shufpd']) {
      add(`${m} reg #${i}`, `${m} xmm${x()}, xmm${x()}, ${rng.u32() & 255}`);
      add(`${m} mem #${i}`, `${m} xmm${x()}, [rdi + ${off()}], ${rng.u32() & 255}`);
    }
    for (const m of MOVES128) {
      add(`${m} load #${i}`, `${m} xmm${x()}, [rdi + ${off()}]`);
      add(`${m} store #${i}`, `${m} [rdi + ${off()}], xmm${x()}`);
      add(`${m} reg #${i}`, `${m} xmm${x()}, xmm${x()}`);
    }
    for (const m of ['movntps', 'movntpd', 'movntdq']) add(`${m} #${i}`, `${m} [rdi + ${off()}], xmm${x()}`);
    add(`movss load #${i}`, `movss xmm${x()}, [rdi + ${rng.u32() % 4000}]`);
    add(`movss reg #${i}`, `movss xmm${x()}, xmm${x()}`);
    add(`movss store #${i}`, `movss [rdi + ${rng.u32() % 4000}], xmm${x()}`);
    add(`movsd load #${i}`, `movsd xmm${x()}, [rdi + ${rng.u32() % 4000}]`);
    add(`movsd reg #${i}`, `movsd xmm${x()}, xmm${x()}`);
    add(`movsd store #${i}`, `movsd [rdi + ${rng.u32() % 4000}], xmm${x()}`);
    add(`movq load #${i}`, `movq xmm${x()}, [rdi + ${rng.u32() % 4000}]`);
    add(`movq reg #${i}`, `movq xmm${x()}, xmm${x()}`);
    add(`movq store #${i}`, `movq [rdi + ${rng.u32() % 4000}], xmm${x()}`);
    add(`movd from gpr #${i}`, `movd xmm${x()}, eax`, { regs: { 0: lane(rng) } });
    add(`movq from gpr #${i}`, `movq xmm${x()}, rbx`, { regs: { 3: lane(rng) } });
    add(`movd from mem #${i}`, `movd xmm${x()}, dword ptr [rdi + ${rng.u32() % 4000}]`);
    add(`movd to gpr #${i}`, `movd ecx, xmm${x()}`, { regs: { 1: lane(rng) } });
    add(`movq to gpr #${i}`, `movq rdx, xmm${x()}`);
    add(`movd to mem #${i}`, `movd dword ptr [rdi + ${rng.u32() % 4000}], xmm${x()}`);
    for (const m of ['movlps', 'movlpd', 'movhps', 'movhpd']) {
      add(`${m} load #${i}`, `${m} xmm${x()}, qword ptr [rdi + ${rng.u32() % 4000}]`);
      add(`${m} store #${i}`, `${m} qword ptr [rdi + ${rng.u32() % 4000}], xmm${x()}`);
    }
    add(`movhlps #${i}`, `movhlps xmm${x()}, xmm${x()}`);
    add(`movlhps #${i}`, `movlhps xmm${x()}, xmm${x()}`);
    add(`movmskps #${i}`, `movmskps eax, xmm${x()}`);
    add(`movmskpd #${i}`, `movmskpd rax, xmm${x()}`);
    add(`pmovmskb #${i}`, `pmovmskb r9d, xmm${x()}`);
    add(`pextrw #${i}`, `pextrw eax, xmm${x()}, ${rng.u32() & 255}`);
    add(`pinsrw reg #${i}`, `pinsrw xmm${x()}, esi, ${rng.u32() & 255}`, { regs: { 6: lane(rng) } });
    add(`pinsrw mem #${i}`, `pinsrw xmm${x()}, word ptr [rdi + ${rng.u32() % 4000}], ${rng.u32() & 255}`);
    add(`movnti #${i}`, `movnti [rdi + ${(rng.u32() % 500) * 8}], rax; movnti [rdi + ${(rng.u32() % 1000) * 4}], ecx`, { regs: { 0: lane(rng), 1: lane(rng) } });
    add(`maskmovdqu #${i}`, `maskmovdqu xmm${x()}, xmm${x()}`, { regs: { 7: 0x20000000n + BigInt(rng.u32() % 4000) } });
  }
  // Alignment: the aligned forms fault on a misaligned memory operand, the unaligned ones do not.
  for (const m of ['movaps', 'movdqa', 'pxor', 'paddb', 'pshufd', 'movntdq', 'movups', 'movdqu', 'pcmpeqb']) {
    const asm = m === 'movntdq' ? `${m} [rdi + 8], xmm1` : m === 'pshufd' ? `${m} xmm1, [rdi + 4], 0x1b` : `${m} xmm1, [rdi + 1]`;
    add(`${m} misaligned`, asm);
  }
  add('movdqu across the end of the page', 'movdqu [rdi + 0xff8], xmm3');
  add('movdqu load across the end of the page', 'movdqu xmm3, [rdi + 0xff8]');
  return specs;
}

suite(why === null ? 'SSE/SSE2 integer vs host CPU' : `SSE/SSE2 integer vs host CPU (skipped: ${why})`, () => {
  it('moves, logic, packed integer, shuffles and shifts match the host bit for bit', () => {
    const specs = intSpecs(new Rng(0x55e2), 8);
    const { fails } = runFp(prepareFp(specs));
    console.log(`SSE integer differential: ${specs.length} cases, ${fails.length} mismatches`);
    expect(fails.length, `${fails.length} of ${specs.length} differ:\n\n${fails.slice(0, 10).join('\n\n')}`).toBe(0);
  }, 600_000);

  it('the same in interpreted and JIT-compiled blocks (the move templates, ops/sseTemplates.ts)', () => {
    const specs = intSpecs(new Rng(0xb10c), 1);
    const { fails } = runFp(prepareFp(specs), { blocks: true });
    console.log(`SSE integer differential, blocks and JIT: ${specs.length} cases, ${fails.length} mismatches`);
    expect(fails.length, `${fails.length} of ${specs.length} differ:\n\n${fails.slice(0, 10).join('\n\n')}`).toBe(0);
  }, 600_000);
});
