// The exact (software) path shared by the SSE float arithmetic (sseFloat.ts) and conversions
// (sseConvert.ts): one softfloat Env set up from MXCSR, raw lane access as bigint, and the commit that merges
// the flags into MXCSR and raises #XM (or #UD without CR4.OSXMMEXCPT) for unmasked exceptions (SDM vol. 1 11.5).

import type { Cpu } from '../Cpu.js';
import { Cr4 } from '../arch.js';
import { Vector } from '../faults.js';
import { DE, Env, F32, type Fmt, IE, ZE } from '../fpu/softfloat.js';
import { TMP } from './sseCommon.js';

/** Smallest normal double and single. */
export const MIN_D = 2.2250738585072014e-308;
export const MIN_F = 1.1754943508222875e-38;

export function raiseSimd(cpu: Cpu): never {
  throw cpu.fault.set((cpu.cr4 & Cr4.OSXMMEXCPT) !== 0 ? Vector.XM : Vector.UD, 0);
}

export const env = new Env();

export function setupEnv(mx: number): void {
  env.rc = (mx >> 13) & 3;
  env.ftz = (mx & 0x8000) !== 0;
  env.daz = (mx & 0x40) !== 0;
  env.uMasked = (mx & 0x800) !== 0;
  env.oMasked = (mx & 0x400) !== 0;
  env.flags = 0;
}

export function laneRaw(x: Int32Array, slot: number, lane: number, f: Fmt): bigint {
  if (f === F32) return BigInt(x[slot * 4 + lane] >>> 0);
  const i = slot * 4 + lane * 2;
  return (BigInt(x[i + 1] >>> 0) << 32n) | BigInt(x[i] >>> 0);
}

export function setLaneRaw(x: Int32Array, slot: number, lane: number, f: Fmt, v: bigint): void {
  if (f === F32) {
    x[slot * 4 + lane] = Number(v & 0xffffffffn) | 0;
    return;
  }
  const i = slot * 4 + lane * 2;
  x[i] = Number(v & 0xffffffffn) | 0;
  x[i + 1] = Number((v >> 32n) & 0xffffffffn) | 0;
}

/**
 * Merge env.flags into MXCSR and write the result words, or raise #XM/#UD when an exception is unmasked
 * (destination untouched). An unmasked pre-computation exception (IE, DE, ZE) in any lane records only the
 * pre-computation flags of all lanes (SDM vol. 1 11.5.2; as the host does).
 */
export function commit(cpu: Cpu, mx: number, d: number, words: number): void {
  const flags = env.flags;
  const unmasked = ~(mx >> 7) & 63;
  const pre = flags & (IE | DE | ZE);
  if ((pre & unmasked) !== 0) {
    cpu.mxcsr = mx | pre;
    raiseSimd(cpu);
  }
  cpu.mxcsr = mx | flags;
  if ((flags & unmasked) !== 0) raiseSimd(cpu);
  const x = cpu.xmm;
  for (let k = 0; k < words; k++) x[d * 4 + k] = x[TMP * 4 + k];
}
