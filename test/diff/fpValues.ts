// Curated and seeded floating-point operands and MXCSR values of the SSE differential tests (cpu-sse-float,
// cpu-mmx): signed zeros, denormals, smallest/largest normals, infinities, quiet and signalling NaNs with
// payloads, values one half-ulp from rounding boundaries, integer-conversion limits.

import type { Rng } from './prng.js';

export const D_EDGE: bigint[] = [
  0x0000000000000000n, 0x8000000000000000n, 0x0000000000000001n, 0x800fffffffffffffn, 0x000fffffffffffffn,
  0x0010000000000000n, 0x8010000000000000n, 0x3ff0000000000000n, 0xbff0000000000000n, 0x3ff8000000000000n,
  0x7fefffffffffffffn, 0xffefffffffffffffn, 0x7ff0000000000000n, 0xfff0000000000000n, 0x7ff8000000000000n,
  0xfff8000000000000n, 0x7ff8000000000123n, 0x7ff0000000000001n, 0xfff4000000000abcn, 0x3ff0000000000001n,
  0x3cb0000000000000n, 0x3ca0000000000000n, 0x4340000000000000n, 0x41dfffffffc00000n, 0x41e0000000000000n,
  0xc1e0000000000000n, 0xc1e0000000200000n, 0x43e0000000000000n, 0xc3e0000000000000n, 0x3fe0000000000000n,
  0x4004000000000000n, 0x400c000000000000n, 0x0008000000000000n, 0x0010000000000001n, 0x7fe0000000000000n,
  0x3fefffffffffffffn, 0x36a0000000000000n, 0x47efffffe0000000n, 0x47f0000000000000n, 0x380fffffe0000000n,
];
export const S_EDGE: number[] = [
  0x00000000, 0x80000000, 0x00000001, 0x807fffff, 0x007fffff, 0x00800000, 0x80800000, 0x3f800000, 0xbf800000,
  0x3fc00000, 0x7f7fffff, 0xff7fffff, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000, 0x7fc00123, 0x7f800001,
  0xffa00abc, 0x3f800001, 0x33800000, 0x33000000, 0x4b800000, 0x4effffff, 0x4f000000, 0xcf000000, 0xcf000001,
  0x5f000000, 0xdf000000, 0x3f000000, 0x40200000, 0x40600000, 0x00400000, 0x00800001, 0x7f000000, 0x3f7fffff,
];

export function dval(rng: Rng): bigint {
  const k = rng.u32() % 8;
  if (k < 3) return D_EDGE[rng.u32() % D_EDGE.length];
  if (k === 3) {
    // Near a rounding boundary: an edge value with its low bits perturbed.
    return D_EDGE[rng.u32() % D_EDGE.length] ^ BigInt(rng.u32() % 8);
  }
  if (k === 4) {
    // Random exponent near 1 with random significand (products/sums round often).
    const e = 1023n + BigInt((rng.u32() % 60) - 30);
    return (BigInt(rng.u32() & 1) << 63n) | (e << 52n) | (rng.u64() & ((1n << 52n) - 1n));
  }
  return rng.u64();
}

export function sval(rng: Rng): number {
  const k = rng.u32() % 8;
  if (k < 3) return S_EDGE[rng.u32() % S_EDGE.length] >>> 0;
  if (k === 3) return (S_EDGE[rng.u32() % S_EDGE.length] ^ (rng.u32() % 8)) >>> 0;
  if (k === 4) {
    const e = 127 + (rng.u32() % 40) - 20;
    return (((rng.u32() & 1) << 31) | (e << 23) | (rng.u32() & 0x7fffff)) >>> 0;
  }
  return rng.u32();
}

export function mxcsr(rng: Rng): number {
  // A third of the cases run as programs do (all masked, nearest, PE clear or already set): the fast path.
  if (rng.u32() % 3 === 0) return rng.u32() % 2 === 0 ? 0x1f80 : 0x1fa0;
  const rc = rng.u32() & 3;
  const k = rng.u32() % 4;
  const masks = k < 2 ? 0x3f : k === 2 ? 0 : rng.u32() & 0x3f;
  const flags = rng.u32() % 2 === 0 ? 0 : rng.u32() & 0x3f;
  const daz = rng.u32() % 5 === 0 ? 0x40 : 0;
  const fz = rng.u32() % 5 === 0 ? 0x8000 : 0;
  return (rc << 13) | (masks << 7) | flags | daz | fz;
}
