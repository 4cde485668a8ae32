// RCPPS/RCPSS and RSQRTPS/RSQRTSS (SDM vol. 2): approximate reciprocals, the host CPU's results
// (fpu/rcp.ts). No SIMD floating-point exception and no MXCSR flag (SDM: "SIMD Floating-Point Exceptions:
// None"); the scalar forms keep the destination's upper three lanes.

import { type Instruction, Mnemonic } from 'iced-x86';
import type { Op } from '../Op.js';
import { rcp32, rsqrt32 } from '../fpu/rcp.js';
import { type H, regXmm, rmXmm, src, use } from './sseCommon.js';

const rcpps: H = (cpu, op) => {
  const s = src(cpu, op) * 4, d = op.d * 4, x = cpu.xmm;
  // Read all source lanes first: d may equal s.
  const a = x[s], b = x[s + 1], c = x[s + 2], e = x[s + 3];
  x[d] = rcp32(a); x[d + 1] = rcp32(b); x[d + 2] = rcp32(c); x[d + 3] = rcp32(e);
};
const rcpss: H = (cpu, op) => {
  const s = src(cpu, op);
  cpu.xmm[op.d * 4] = rcp32(cpu.xmm[s * 4]);
};
const rsqrtps: H = (cpu, op) => {
  const s = src(cpu, op) * 4, d = op.d * 4, x = cpu.xmm;
  const a = x[s], b = x[s + 1], c = x[s + 2], e = x[s + 3];
  x[d] = rsqrt32(a); x[d + 1] = rsqrt32(b); x[d + 2] = rsqrt32(c); x[d + 3] = rsqrt32(e);
};
const rsqrtss: H = (cpu, op) => {
  const s = src(cpu, op);
  cpu.xmm[op.d * 4] = rsqrt32(cpu.xmm[s * 4]);
};

/** Decode RCPPS/RCPSS/RSQRTPS/RSQRTSS xmm, xmm/m128 (aligned) or xmm/m32; false for anything else. */
export function decodeSseRcp(ins: Instruction, op: Op): boolean {
  const m = ins.mnemonic;
  const fn = m === Mnemonic.Rcpps ? rcpps : m === Mnemonic.Rcpss ? rcpss : m === Mnemonic.Rsqrtps ? rsqrtps : m === Mnemonic.Rsqrtss ? rsqrtss : null;
  if (fn === null) return false;
  const packed = fn === rcpps || fn === rsqrtps;
  if (!regXmm(ins, 0, op, 'd') || !rmXmm(ins, 1, op, packed ? 128 : 32, packed)) return false;
  return use(op, Mnemonic[m].toLowerCase(), fn);
}
