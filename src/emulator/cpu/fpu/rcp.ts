// RCPSS/RCPPS and RSQRTSS/RSQRTPS on single-precision encodings. Their results are implementation-specific
// (SDM vol. 2 RCPPS/RSQRTPS: relative error at most 1.5 x 2^-12); these are the host CPU's, measured by
// scripts/rcp/measure.mts (which documents the method and checks this model on all 2^32 inputs): the result
// depends only on the sign, the exponent (its parity for RSQRT) and the top 12 significand bits; tiny RCP
// results are flushed to zero; no MXCSR flag is set and MXCSR's modes do not matter.

import { RCP_HEX, RSQRT_EVEN_HEX, RSQRT_ODD_HEX } from './rcpTable.js';

function decode(hex: string): Int32Array {
  const t = new Int32Array(4096);
  for (let i = 0; i < 4096; i++) t[i] = parseInt(hex.slice(3 * i, 3 * i + 3), 16) << 11;
  return t;
}

const RCP = decode(RCP_HEX);
/** RSQRT by the parity of the unbiased exponent: [0] for inputs like 1.m (and 4 x 1.m ...), [1] for 2 x 1.m. */
const RSQRT = [decode(RSQRT_EVEN_HEX), decode(RSQRT_ODD_HEX)] as const;

/** RCP of the single encoded as int32 `x`. */
export function rcp32(x: number): number {
  const s = x & 0x80000000, e = (x >>> 23) & 255;
  if (e === 255) return (x & 0x7fffff) !== 0 ? x | 0x400000 : s; // NaN quieted; 1/inf = signed zero
  if (e === 0) return s | 0x7f800000; // zero and denormals: signed infinity
  const re = 253 - e;
  return re <= 0 ? s : s | (re << 23) | RCP[(x >>> 11) & 4095];
}

/** RSQRT of the single encoded as int32 `x`. */
export function rsqrt32(x: number): number {
  const s = x & 0x80000000, e = (x >>> 23) & 255;
  if (e === 255) return (x & 0x7fffff) !== 0 ? x | 0x400000 : s !== 0 ? 0xffc00000 | 0 : 0;
  if (e === 0) return s | 0x7f800000; // +-0 and denormals: signed infinity
  if (s !== 0) return 0xffc00000 | 0; // negative: the default NaN
  const p = (e - 127) & 1;
  return ((126 - ((e - 127 - p) >> 1)) << 23) | RSQRT[p][(x >>> 11) & 4095];
}
