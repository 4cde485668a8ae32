// Generators of x87 differential cases: 80-bit edge values, random x87 states (TOP, tags, FCW) as FXSAVE64
// images, and scratch memory holding edge and random m32/m64/m80 values.

import { fxInit } from './fp.js';
import { Rng } from './prng.js';
import { DATA_BYTES } from './types.js';

/** 80-bit values as [sign/exponent, significand]. */
export const X_EDGE: [number, bigint][] = [
  [0x0000, 0n], [0x8000, 0n], [0x3fff, 0x8000000000000000n], [0xbfff, 0x8000000000000000n], [0x3fff, 0xc000000000000000n],
  [0x0000, 1n], [0x8000, 0x7fffffffffffffffn], [0x0001, 0x8000000000000000n], [0x7ffe, 0xffffffffffffffffn],
  [0xfffe, 0xffffffffffffffffn], [0x7fff, 0x8000000000000000n], [0xffff, 0x8000000000000000n],
  [0x7fff, 0xc000000000000000n], [0xffff, 0xc000000000000000n], [0x7fff, 0xc000000000001234n], [0x7fff, 0xa000000000000000n],
  [0xffff, 0x8000000000000abcn], [0x3fff, 0x8000000000000001n], [0x403e, 0xffffffffffffffffn], [0x401d, 0xfffffffe00000000n],
  [0x401e, 0x8000000000000000n], [0xc01e, 0x8000000000000000n], [0x403e, 0x8000000000000000n], [0xc03e, 0x8000000000000000n],
  [0x3ffe, 0x8000000000000000n], [0x4000, 0xa000000000000000n], [0x43fe, 0xfffffffffffff800n], [0x3c01, 0x8000000000000000n],
  [0x407e, 0xffffff0000000000n], [0x3f81, 0x8000000000000000n], [0x3fff, 0xffffffffffffffffn], [0x4000, 0xc90fdaa22168c235n],
  [0x0000, 0x8000000000000000n],
];

export function xval(rng: Rng): [number, bigint] {
  const k = rng.u32() % 6;
  if (k < 3) return X_EDGE[rng.u32() % X_EDGE.length];
  if (k === 3) {
    const [e, m] = X_EDGE[rng.u32() % X_EDGE.length];
    return [e, m ^ BigInt(rng.u32() % 4)];
  }
  // Normal, exponent near 1 (sums and products round often).
  return [((rng.u32() & 1) << 15) | (0x3fff + (rng.u32() % 64) - 32), (1n << 63n) | (rng.u64() >> 1n)];
}

export function fcw(rng: Rng): number {
  const rc = rng.u32() & 3;
  const pc = [0, 2, 3, 3][rng.u32() & 3];
  const masked = rng.u32() % 3 !== 0;
  const masks = masked ? 0x3f : rng.u32() & 0x3f; // unmasked: any subset, OE/UE included
  return (rc << 10) | (pc << 8) | 0x40 | masks;
}

export function x87State(rng: Rng): Uint8Array {
  const fx = fxInit();
  const v = new DataView(fx.buffer);
  const top = rng.u32() & 7;
  const depth = rng.u32() % 9;
  v.setUint16(0, fcw(rng), true);
  v.setUint16(2, (top << 11) | (rng.u32() % 2 === 0 ? 0x20 : 0), true);
  // Abridged tag: physical register r valid when its ST index < depth, plus random holes.
  let tag = 0;
  for (let i = 0; i < 8; i++) if (i < depth && rng.u32() % 8 !== 0) tag |= 1 << ((top + i) & 7);
  v.setUint8(4, tag);
  // Earlier x87 pointers (canonical addresses; FOP 11 bits): register-only instructions show whether they keep FDP.
  v.setUint16(6, rng.u32() & 0x7ff, true);
  v.setBigUint64(8, 0x10000000n + BigInt(rng.u32() & 0xffff), true);
  v.setBigUint64(16, 0x20000000n + BigInt(rng.u32() & 0xfff), true);
  for (let i = 0; i < 8; i++) {
    const [e, m] = xval(rng);
    v.setBigUint64(32 + 16 * i, m, true);
    v.setUint16(40 + 16 * i, e, true);
  }
  return fx;
}

export function memOf(rng: Rng): Uint8Array {
  const m = new Uint8Array(DATA_BYTES);
  const v = new DataView(m.buffer);
  const D = [0n, 0x8000000000000000n, 1n, 0x7ff0000000000000n, 0x7ff8000000000001n, 0x7ff0000000000001n, 0x3ff0000000000000n, 0x7fefffffffffffffn, 0x000fffffffffffffn];
  for (let i = 0; i < DATA_BYTES; i += 16) {
    const k = rng.u32() % 3;
    if (k === 0) v.setBigUint64(i, D[rng.u32() % D.length], true);
    else v.setBigUint64(i, rng.u32() % 2 ? rng.u64() : (0x3ffn + BigInt(rng.u32() % 40) - 20n) << 52n | (rng.u64() >> 12n), true);
    if (rng.u32() % 4 === 0) v.setUint32(i, [0, 0x80000000, 0x7f800000, 0x7fc00001, 0x7f800001, 1, 0x7fffffff][rng.u32() % 7], true);
    const [e, mm] = xval(rng);
    v.setBigUint64(i + 8, rng.u32() % 2 ? mm : rng.u64(), true);
    if (rng.u32() % 2) v.setUint16(i + 16 - 16 + 8 + 0, v.getUint16(i + 8, true), true);
    void e;
  }
  return m;
}
