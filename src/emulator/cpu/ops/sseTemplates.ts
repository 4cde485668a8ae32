// Templates (see template.ts) for the SSE2 forms compiled code runs most: scalar and packed double
// ADD/SUB/MUL/DIV, UCOMISD/COMISD, CVTSI2SD r32/r64, MOVSD and the 128-bit moves. Compiled blocks inline
// them with the register numbers as constants, so V8 keeps the doubles unboxed and no call is made on the
// common path. Each does only the case that needs no rounding or flag logic and otherwise calls the
// family's general handler code (X.S.*), which the differential tests check; the fast case is the same
// one sseFloat.ts's handlers take (operands and result normal or zero, MXCSR 0x1fa0: all exceptions
// masked, round to nearest, no DAZ/FZ, PE already set so no flag can change).

import type { Template } from './template.js';

/** Smallest normal double: below it (denormals) the exact path runs. */
const MIN = '2.2250738585072014e-308';
/** SSE available (CR0.EM/TS clear, CR4.OSFXSR set) or the check that faults. */
const CHECK = 'if ((cpu.cr0 & 12) !== 0 || (cpu.cr4 & 512) === 0) X.S.checkSse(cpu);';
const SRC = 16;

const OPS = ['+', '-', '*', '/'] as const;
const NAMES = ['add', 'sub', 'mul', 'div'] as const;

/** Read 64 bits at (eal, eah) into the source slot. */
function load64(): string {
  return `EA const XI_ = cpu.xmm; const w0_ = M.read64(eal, eah); XI_[${SRC * 4}] = w0_; XI_[${SRC * 4 + 1}] = M.hiOut;`;
}

/** Read 128 bits at (eal, eah) (16-byte aligned when `aligned`: #GP(0) otherwise) into words w0_..w3_. */
function read128(aligned: boolean): string {
  return `EA ${aligned ? 'if ((eal & 15) !== 0) X.S.gp(cpu);' : ''} const w0_ = M.read64(eal, eah), w1_ = M.hiOut; ` +
    'const e2_ = (eal + 8) | 0; const w2_ = M.read64(e2_, (e2_ >>> 0) < (eal >>> 0) ? (eah + 1) | 0 : eah), w3_ = M.hiOut;';
}

/** Expression: lane a op b = r needs no rounding/flag logic (for the result zero case per operation). */
function plain(k: number, a: string, b: string, r: string): string {
  const zeroOk = k <= 1 ? 'true' : k === 2 ? `(${a} === 0 || ${b} === 0)` : `${a} === 0`;
  return `(Math.abs(${a}) >= ${MIN} || ${a} === 0) && Math.abs(${a}) < Infinity && ` +
    `(Math.abs(${b}) >= ${MIN} || ${b} === 0) && Math.abs(${b}) < Infinity && ` +
    `((Math.abs(${r}) >= ${MIN} && Math.abs(${r}) < Infinity) || (${r} === 0 && ${zeroOk}))`;
}

/** ADDSD/SUBSD/MULSD/DIVSD xmm, xmm/m64 (k = 0..3). */
export function scalarDoubleTemplate(k: number, mem: boolean): Template {
  const b = mem ? String(SRC) : '$s';
  return {
    name: `sse.${NAMES[k]}sd.${mem ? 'm' : 'r'}`,
    body: `${CHECK} ${mem ? load64() : ''}
const D_ = cpu.xmmD; const a_ = D_[$d * 2], b_ = D_[${b} * 2]; const r_ = a_ ${OPS[k]} b_;
if ((cpu.mxcsr & 0xffe0) === 0x1fa0 && ${plain(k, 'a_', 'b_', 'r_')}) D_[$d * 2] = r_;
else X.S.arithD(cpu, OP, ${b});`,
  };
}

/** ADDPD/SUBPD/MULPD/DIVPD xmm, xmm/m128 (memory 16-byte aligned). */
export function packedDoubleTemplate(k: number, mem: boolean): Template {
  const b = mem ? String(SRC) : '$s';
  const load = mem
    ? `${read128(true)} const XI_ = cpu.xmm; XI_[${SRC * 4}] = w0_; XI_[${SRC * 4 + 1}] = w1_; XI_[${SRC * 4 + 2}] = w2_; XI_[${SRC * 4 + 3}] = w3_;`
    : '';
  return {
    name: `sse.${NAMES[k]}pd.${mem ? 'm' : 'r'}`,
    body: `${CHECK} ${load}
const D_ = cpu.xmmD; const a0_ = D_[$d * 2], b0_ = D_[${b} * 2], a1_ = D_[$d * 2 + 1], b1_ = D_[${b} * 2 + 1];
const r0_ = a0_ ${OPS[k]} b0_, r1_ = a1_ ${OPS[k]} b1_;
if ((cpu.mxcsr & 0xffe0) === 0x1fa0 && ${plain(k, 'a0_', 'b0_', 'r0_')} && ${plain(k, 'a1_', 'b1_', 'r1_')}) {
  D_[$d * 2] = r0_; D_[$d * 2 + 1] = r1_;
} else X.S.arithD(cpu, OP, ${b});`,
  };
}

/** UCOMISD/COMISD xmm, xmm/m64: ordered operands that are normal, zero or infinite set ZF/CF directly. */
export function comisdTemplate(mem: boolean): Template {
  const b = mem ? String(SRC) : '$s';
  return {
    name: `sse.comisd.${mem ? 'm' : 'r'}`,
    body: `${CHECK} ${mem ? load64() : ''}
const D_ = cpu.xmmD; const a_ = D_[$d * 2], b_ = D_[${b} * 2];
if ((Math.abs(a_) >= ${MIN} || a_ === 0) && (Math.abs(b_) >= ${MIN} || b_ === 0)) {
  cpu.fk = X.K_EAGER; cpu.fx = a_ === b_ ? X.F.ZF : a_ < b_ ? X.F.CF : 0;
} else X.S.comis(cpu, OP, ${b});`,
  };
}

/** CVTSI2SD xmm, r32 (always exact) and r64 (exact when it fits in 32 bits; else the general code). */
export function cvtsi2sdTemplate(bits: 32 | 64): Template {
  return {
    name: `sse.cvtsi2sd.r${bits}`,
    body: bits === 32
      ? `${CHECK} cpu.xmmD[$d * 2] = L[$s];`
      : `${CHECK} if (H[$s] === (L[$s] >> 31)) cpu.xmmD[$d * 2] = L[$s]; else X.S.cvtFromInt(cpu, OP, 0);`,
  };
}

/** MOVSD xmm, m64 (zeroes the upper half) / xmm, xmm (merges the low half); MOVQ xmm, m64 is the load. */
export function movsdLoadTemplate(mem: boolean): Template {
  return mem
    ? { name: 'sse.movsd.load', body: `${CHECK} EA const XI_ = cpu.xmm; const w0_ = M.read64(eal, eah); XI_[$d * 4] = w0_; XI_[$d * 4 + 1] = M.hiOut; XI_[$d * 4 + 2] = 0; XI_[$d * 4 + 3] = 0;` }
    : { name: 'sse.movsd.rr', body: `${CHECK} const XI_ = cpu.xmm; XI_[$d * 4] = XI_[$s * 4]; XI_[$d * 4 + 1] = XI_[$s * 4 + 1];` };
}

/** MOVSD/MOVQ m64, xmm. */
export function movsdStoreTemplate(): Template {
  return { name: 'sse.movsd.store', body: `${CHECK} EA const XI_ = cpu.xmm; M.write64(eal, eah, XI_[$s * 4], XI_[$s * 4 + 1]);` };
}

/** MOVAPS/MOVAPD/MOVDQA/MOVUPS/MOVUPD/MOVDQU xmm, xmm/m128. */
export function mov128LoadTemplate(mem: boolean, aligned: boolean): Template {
  if (!mem) {
    return { name: 'sse.mov128.rr', body: `${CHECK} const XI_ = cpu.xmm; XI_[$d * 4] = XI_[$s * 4]; XI_[$d * 4 + 1] = XI_[$s * 4 + 1]; XI_[$d * 4 + 2] = XI_[$s * 4 + 2]; XI_[$d * 4 + 3] = XI_[$s * 4 + 3];` };
  }
  return {
    name: `sse.mov128.load${aligned ? 'a' : 'u'}`,
    body: `${CHECK} ${read128(aligned)} const XI_ = cpu.xmm; XI_[$d * 4] = w0_; XI_[$d * 4 + 1] = w1_; XI_[$d * 4 + 2] = w2_; XI_[$d * 4 + 3] = w3_;`,
  };
}

/** The store forms to m128 (nothing is written if either half faults). */
export function mov128StoreTemplate(aligned: boolean): Template {
  return {
    name: `sse.mov128.store${aligned ? 'a' : 'u'}`,
    body: `${CHECK} EA ${aligned ? 'if ((eal & 15) !== 0) X.S.gp(cpu);' : ''} const XI_ = cpu.xmm;
if ((eal & 0xfff) > 0xff0) M.probeWrite(eal, eah, 16);
M.write64(eal, eah, XI_[$s * 4], XI_[$s * 4 + 1]);
const e2_ = (eal + 8) | 0; M.write64(e2_, (e2_ >>> 0) < (eal >>> 0) ? (eah + 1) | 0 : eah, XI_[$s * 4 + 2], XI_[$s * 4 + 3]);`,
  };
}
