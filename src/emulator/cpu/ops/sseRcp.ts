// RCPPS/RCPSS and RSQRTPS/RSQRTSS (SDM vol. 2): approximate reciprocals, the host CPU's results
// (fpu/rcp.ts). No SIMD floating-point exception and no MXCSR flag (SDM: "SIMD Floating-Point Exceptions:
// None"); the scalar forms keep the destination's upper three lanes.

import { type Instruction, Mnemonic } from 'iced-x86';
import type { Op } from '../Op.js';
import { rcp32, rsqrt32 } from '../fpu/rcp.js';
import { type H, regXmm, rmXmm, src, use } from './sseCommon.js';

/** The packed form of a single-lane function: all four lanes of the source (read first: d may equal s). */
function packed(f: (x: number) => number): H {
  return (cpu, op) => {
    const s = src(cpu, op) * 4, d = op.d * 4, x = cpu.xmm;
    const a = x[s], b = x[s + 1], c = x[s + 2], e = x[s + 3];
    x[d] = f(a); x[d + 1] = f(b); x[d + 2] = f(c); x[d + 3] = f(e);
  };
}
/** The scalar form: lane 0 only, the destination's other lanes kept. */
function scalar(f: (x: number) => number): H {
  return (cpu, op) => {
    const s = src(cpu, op);
    cpu.xmm[op.d * 4] = f(cpu.xmm[s * 4]);
  };
}
const rcpps = packed(rcp32);
const rcpss = scalar(rcp32);
const rsqrtps = packed(rsqrt32);
const rsqrtss = scalar(rsqrt32);

/** Decode RCPPS/RCPSS/RSQRTPS/RSQRTSS xmm, xmm/m128 (aligned) or xmm/m32; false for anything else. */
export function decodeSseRcp(ins: Instruction, op: Op): boolean {
  const m = ins.mnemonic;
  const fn = m === Mnemonic.Rcpps ? rcpps : m === Mnemonic.Rcpss ? rcpss : m === Mnemonic.Rsqrtps ? rsqrtps : m === Mnemonic.Rsqrtss ? rsqrtss : null;
  if (fn === null) return false;
  const packed = fn === rcpps || fn === rsqrtps;
  if (!regXmm(ins, 0, op, 'd') || !rmXmm(ins, 1, op, packed ? 128 : 32, packed)) return false;
  return use(op, Mnemonic[m].toLowerCase(), fn);
}
