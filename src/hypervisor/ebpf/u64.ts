// Exact 64-bit arithmetic on int32 lo/hi pairs (the representation the interpreter and the compiled code use;
// measured against BigInt in docs/ebpf.md). Results of two-word operations land in OUT[0] (lo), OUT[1] (hi).

export const OUT = new Int32Array(2);

export const toBig = (lo: number, hi: number): bigint =>
  hi === 0 ? BigInt(lo >>> 0) : hi > 0 && hi < 0x200000 ? BigInt(hi * 4294967296 + (lo >>> 0)) : (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);

/** Split u64 arguments into lo/hi words (out[2k], out[2k+1]) for k < 5. */
export function argWords(args: readonly bigint[], out: Int32Array): void {
  for (let k = 0; k < 5; k++) {
    const a = args[k];
    if (a === undefined) {
      out[2 * k] = 0;
      out[2 * k + 1] = 0;
    } else if (a >= 0n && a <= 0x1fffffffffffffn) {
      const v = Number(a);
      out[2 * k] = v % 4294967296 | 0;
      out[2 * k + 1] = Math.floor(v / 4294967296) | 0;
    } else {
      const u = BigInt.asUintN(64, a);
      out[2 * k] = Number(u & 0xffffffffn) | 0;
      out[2 * k + 1] = Number(u >> 32n) | 0;
    }
  }
}

export function fromBig(v: bigint): void {
  OUT[0] = Number(BigInt.asIntN(32, v));
  OUT[1] = Number(BigInt.asIntN(32, v >> 32n));
}

/**
 * Low 64 bits of a 64x64 product. The high word of the unsigned 32x32 product lo*lo comes from the double
 * product x: x is within 2^11 of the exact value (< 2^64), so (x - low word) / 2^32 is within 2^-20 of the
 * exact high word and rounding recovers it. Checked against BigInt in test/ebpf-fuzz.test.ts.
 */
export function mul64(alo: number, ahi: number, blo: number, bhi: number): void {
  const m = Math.imul(alo, blo);
  const x = (alo >>> 0) * (blo >>> 0);
  OUT[1] = (Math.round((x - (m >>> 0)) / 4294967296) + Math.imul(alo, bhi) + Math.imul(ahi, blo)) | 0;
  OUT[0] = m;
}

// RFC 9669 section 4.1: division by zero gives 0; modulo by zero leaves dst unchanged (callers handle zero).
/** Unsigned 64-bit quotient, divisor non-zero. */
export function udiv64(alo: number, ahi: number, blo: number, bhi: number): void {
  if (ahi === 0 && bhi === 0) {
    OUT[0] = ((alo >>> 0) / (blo >>> 0)) | 0;
    OUT[1] = 0;
    return;
  }
  fromBig(toBig(alo, ahi) / toBig(blo, bhi));
}

export function umod64(alo: number, ahi: number, blo: number, bhi: number): void {
  if (ahi === 0 && bhi === 0) {
    OUT[0] = (alo >>> 0) % (blo >>> 0) | 0;
    OUT[1] = 0;
    return;
  }
  fromBig(toBig(alo, ahi) % toBig(blo, bhi));
}

const sbig = (lo: number, hi: number): bigint => (BigInt(hi) << 32n) | BigInt(lo >>> 0);

/** Signed 64-bit quotient truncated toward zero, divisor non-zero; INT64_MIN / -1 wraps to INT64_MIN. */
export function sdiv64(alo: number, ahi: number, blo: number, bhi: number): void {
  fromBig(BigInt.asIntN(64, sbig(alo, ahi) / sbig(blo, bhi)));
}

/** Signed 64-bit remainder (sign of the dividend, truncated division), divisor non-zero. */
export function smod64(alo: number, ahi: number, blo: number, bhi: number): void {
  fromBig(sbig(alo, ahi) % sbig(blo, bhi));
}

/** Signed 32-bit quotient, divisor non-zero; INT32_MIN / -1 = INT32_MIN. Returns int32. */
export const sdiv32 = (a: number, b: number): number => (b === -1 ? -a | 0 : (a / b) | 0);
/** Signed 32-bit remainder, divisor non-zero. */
export const smod32 = (a: number, b: number): number => (b === -1 ? 0 : a % b | 0);

export function lsh64(lo: number, hi: number, n: number): void {
  n &= 63;
  if (n === 0) { OUT[0] = lo; OUT[1] = hi; }
  else if (n < 32) { OUT[1] = (hi << n) | (lo >>> (32 - n)); OUT[0] = lo << n; }
  else { OUT[1] = lo << (n - 32); OUT[0] = 0; }
}

export function rsh64(lo: number, hi: number, n: number): void {
  n &= 63;
  if (n === 0) { OUT[0] = lo; OUT[1] = hi; }
  else if (n < 32) { OUT[0] = (lo >>> n) | (hi << (32 - n)); OUT[1] = hi >>> n; }
  else { OUT[0] = hi >>> (n - 32); OUT[1] = 0; }
}

export function arsh64(lo: number, hi: number, n: number): void {
  n &= 63;
  if (n === 0) { OUT[0] = lo; OUT[1] = hi; }
  else if (n < 32) { OUT[0] = (lo >>> n) | (hi << (32 - n)); OUT[1] = hi >> n; }
  else { OUT[0] = hi >> (n - 32); OUT[1] = hi >> 31; }
}

export const bswap16 = (x: number): number => ((x & 0xff) << 8) | ((x >>> 8) & 0xff);
export const bswap32 = (x: number): number =>
  ((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | ((x >>> 24) & 0xff);

/** Unsigned 64-bit a < b. */
export const ult64 = (alo: number, ahi: number, blo: number, bhi: number): boolean =>
  ahi === bhi ? (alo >>> 0) < (blo >>> 0) : (ahi >>> 0) < (bhi >>> 0);
/** Signed 64-bit a < b. */
export const slt64 = (alo: number, ahi: number, blo: number, bhi: number): boolean =>
  ahi === bhi ? (alo >>> 0) < (blo >>> 0) : ahi < bhi;
