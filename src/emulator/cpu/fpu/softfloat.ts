// Exact IEEE 754 binary floating point for the paths JavaScript doubles cannot take: rounding modes other
// than nearest-even, exception flags, denormal handling (DAZ/FTZ), and the x87's 64-bit-significand
// extended format. One generic implementation over three formats: a finite value is sign * m * 2^e with m an
// exact BigInt, results are computed exactly (add, mul) or with a sticky bit (div, sqrt) and rounded once.
// BigInt is fine here: the SSE handlers only come here when their double fast path cannot give the exact
// result and flags (see sse/arith.ts); x87 arithmetic always does.
//
// Behaviour follows the SDM (vol. 1 chapter 4.7-4.9, 11.5): tininess is detected after rounding, masked
// underflow is flagged only when the result is also inexact, FTZ flushes tiny results to zero with UE|PE.

export interface Fmt {
  /** Significand bits including the integer bit. */
  p: number;
  ebits: number;
  bias: number;
  /** Exponent of the smallest normal (unbiased), and of the largest finite. */
  emin: number;
  emax: number;
  /** The integer bit is stored (x87 extended). */
  explicit: boolean;
  /** Total width in bits. */
  width: number;
}

function fmt(p: number, ebits: number, explicit: boolean): Fmt {
  const bias = (1 << (ebits - 1)) - 1;
  return { p, ebits, bias, emin: 1 - bias, emax: bias, explicit, width: 1 + ebits + (explicit ? p : p - 1) };
}

export const F32 = fmt(24, 8, false);
export const F64 = fmt(53, 11, false);
export const F80 = fmt(64, 15, true);

/** Exception flag bits (MXCSR / x87 status word positions). */
export const IE = 1, DE = 2, ZE = 4, OE = 8, UE = 16, PE = 32;

/** Rounding control (MXCSR.RC / FCW.RC). */
export const RNE = 0, RDN = 1, RUP = 2, RTZ = 3;

/** Kinds of an unpacked value. */
export const ZERO = 0, FINITE = 1, INF = 2, NAN = 3;

/** Unpacked operand: value = (-1)^sign * m * 2^e for FINITE; raw bits kept for NaNs. */
export interface Val {
  kind: number;
  sign: number;
  m: bigint;
  e: number;
  /** The operand was a denormal (before DAZ). */
  denormal: boolean;
  /** NaN: signalling. */
  snan: boolean;
  raw: bigint;
}

/** The rounding environment of one operation and the flags it raised. */
export class Env {
  rc = RNE;
  /** Flush tiny results to zero (MXCSR.FZ), only when underflow is masked. */
  ftz = false;
  /** Treat denormal operands as zero (MXCSR.DAZ). */
  daz = false;
  /** Underflow is masked (decides how UE is reported: masked = tiny and inexact, unmasked = tiny). */
  uMasked = true;
  /** Overflow is masked (unmasked: only OE is reported, as the SSE unit does before #XM). */
  oMasked = true;
  /**
   * The x87's response to an unmasked overflow or underflow (SDM vol. 1 4.9.1.4/4.9.1.5): the result rounded
   * with an unbounded exponent, then its exponent divided (overflow) or multiplied (underflow) by 2^bias
   * adjust (24576 for extended precision) so that it is representable, is delivered.
   */
  biasAdjust = false;
  flags = 0;
  /** The last rounding rounded up in magnitude (x87 C1). */
  roundedUp = false;
}

const mask = (n: number): bigint => (1n << BigInt(n)) - 1n;

export function bitLength(m: bigint): number {
  return m === 0n ? 0 : m.toString(2).length;
}

export function unpack(raw: bigint, f: Fmt, env: Env | null): Val {
  const fracBits = f.explicit ? f.p : f.p - 1;
  const frac = raw & mask(fracBits);
  const exp = Number((raw >> BigInt(fracBits)) & mask(f.ebits));
  const sign = Number((raw >> BigInt(f.width - 1)) & 1n);
  const v: Val = { kind: FINITE, sign, m: 0n, e: 0, denormal: false, snan: false, raw };
  const emaxBiased = (1 << f.ebits) - 1;
  if (exp === emaxBiased) {
    const f2 = f.explicit ? frac & mask(f.p - 1) : frac;
    if (f2 === 0n) v.kind = INF;
    else {
      v.kind = NAN;
      v.snan = ((f2 >> BigInt(f.p - 2)) & 1n) === 0n;
    }
    return v;
  }
  if (exp === 0) {
    if (frac === 0n) {
      v.kind = ZERO;
      return v;
    }
    v.denormal = true;
    if (env !== null && env.daz) {
      v.kind = ZERO;
      return v;
    }
    v.m = frac;
    v.e = f.emin - (f.p - 1);
    return v;
  }
  v.m = f.explicit ? frac : frac | (1n << BigInt(f.p - 1));
  v.e = exp - f.bias - (f.p - 1);
  if (v.m === 0n) v.kind = ZERO; // x87 pseudo-zero (integer bit clear); not produced by SSE formats
  return v;
}

export function packInf(sign: number, f: Fmt): bigint {
  const fracBits = f.explicit ? f.p : f.p - 1;
  const exp = BigInt((1 << f.ebits) - 1) << BigInt(fracBits);
  return (BigInt(sign) << BigInt(f.width - 1)) | exp | (f.explicit ? 1n << 63n : 0n);
}

export function packZero(sign: number, f: Fmt): bigint {
  return BigInt(sign) << BigInt(f.width - 1);
}

/** The default ("indefinite") quiet NaN: negative, quiet bit only (SDM table 4-3). */
export function defaultNaN(f: Fmt): bigint {
  return packInf(1, f) | (1n << BigInt(f.p - 2));
}

/** The NaN quieted (quiet bit set). */
export function quiet(raw: bigint, f: Fmt): bigint {
  return raw | (1n << BigInt(f.p - 2));
}

/** The largest finite value with a p-bit significand (x87 precision control keeps the 80-bit exponent). */
function largest(sign: number, f: Fmt, p = f.p): bigint {
  const fracBits = f.explicit ? f.p : f.p - 1;
  const exp = BigInt((1 << f.ebits) - 2) << BigInt(fracBits);
  return (BigInt(sign) << BigInt(f.width - 1)) | exp | (mask(fracBits) & ~mask(f.p - p));
}

/** Round m / 2^s (s > 0) to an integer per env.rc and sign; sets env.roundedUp. Returns [q, inexact]. */
function roundShift(m: bigint, s: number, sign: number, rc: number, env: Env): [bigint, boolean] {
  if (s <= 0) {
    env.roundedUp = false;
    return [m << BigInt(-s), false];
  }
  const S = BigInt(s);
  let q = m >> S;
  const rem = m & mask(s);
  if (rem === 0n) {
    env.roundedUp = false;
    return [q, false];
  }
  const half = 1n << (S - 1n);
  let up: boolean;
  switch (rc) {
    case RNE: up = rem > half || (rem === half && (q & 1n) === 1n); break;
    case RDN: up = sign === 1; break;
    case RUP: up = sign === 0; break;
    default: up = false;
  }
  if (up) q += 1n;
  env.roundedUp = up;
  return [q, true];
}

/**
 * Round the exact value (-1)^sign * m * 2^e (m > 0) to format f and pack it, raising OE/UE/PE in env.
 * `p` overrides the precision (x87 precision control rounds to 24 or 53 bits within the 80-bit format).
 */
export function roundPack(sign: number, m: bigint, e: number, f: Fmt, env: Env, p = f.p): bigint {
  if (m === 0n) return packZero(sign, f);
  const bl = bitLength(m);
  // Exponent of the leading bit, and rounding with an unbounded exponent range (tininess after rounding).
  let E = e + bl - 1;
  let [q, inexact] = roundShift(m, bl - p, sign, env.rc, env);
  if (bitLength(q) > p) {
    q >>= 1n;
    E += 1;
  }
  const tiny = E < f.emin;
  // Unmasked underflow/overflow: the flag, and PE when the result rounded with an unbounded exponent is
  // inexact (the SSE unit then faults without storing; as measured on the host).
  if (env.biasAdjust && (tiny ? !env.uMasked : E > f.emax && !env.oMasked)) {
    // x87: the bias-adjusted value (SDM vol. 1 4.9.1.4-5), PE when the unbounded result is inexact. Only
    // FSCALE gets beyond the adjusted range: then +-0 or +-inf with PE, C1 = 1 for infinity (measured).
    const adj = tiny ? E + BIAS_ADJUST[f.ebits] : E - BIAS_ADJUST[f.ebits];
    const flag = tiny ? UE : OE;
    if (adj < f.emin || adj > f.emax) {
      env.flags |= flag | PE;
      env.roundedUp = !tiny;
      return tiny ? packZero(sign, f) : packInf(sign, f);
    }
    env.flags |= inexact ? flag | PE : flag;
    return packAdjusted(sign, q, adj, f, p);
  }
  if (tiny && !env.uMasked) {
    env.flags |= inexact ? UE | PE : UE;
    return packZero(sign, f);
  }
  if (E > f.emax && !env.oMasked) {
    env.flags |= inexact ? OE | PE : OE;
    return packInf(sign, f);
  }
  if (tiny) {
    if (env.ftz && env.uMasked) {
      env.flags |= UE | PE;
      env.roundedUp = false;
      return packZero(sign, f);
    }
    // Denormal: the significand's last bit has weight 2^(emin - (p - 1)) (with x87 precision control the
    // reduced significand keeps its place: the low f.p - p bits stay zero, as measured on the host).
    [q, inexact] = roundShift(m, f.emin - (p - 1) - e, sign, env.rc, env);
    q <<= BigInt(f.p - p);
    if (inexact) env.flags |= UE | PE;
    const fracBits = f.explicit ? f.p : f.p - 1;
    // q may have rounded up into the smallest normal: its bit p-1 then is the exponent field's 1.
    if (f.explicit) {
      const normal = (q >> BigInt(f.p - 1)) !== 0n;
      return (BigInt(sign) << BigInt(f.width - 1)) | (normal ? 1n << BigInt(fracBits) : 0n) | q;
    }
    return (BigInt(sign) << BigInt(f.width - 1)) | q;
  }
  if (E > f.emax) {
    env.flags |= OE | PE;
    const rc = env.rc;
    const toInf = rc === RNE || (rc === RUP && sign === 0) || (rc === RDN && sign === 1);
    env.roundedUp = toInf;
    return toInf ? packInf(sign, f) : largest(sign, f, p);
  }
  if (inexact) env.flags |= PE;
  // Reduced precision (x87 PC): q has p bits; place it at the top of the format's significand.
  if (p < f.p) q <<= BigInt(f.p - p);
  const fracBits = f.explicit ? f.p : f.p - 1;
  const biased = BigInt(E + f.bias);
  const stored = f.explicit ? q : q & mask(fracBits);
  return (BigInt(sign) << BigInt(f.width - 1)) | (biased << BigInt(fracBits)) | stored;
}

/** Bias adjustment by exponent width: 192 (single), 1536 (double), 24576 (extended) (SDM vol. 1 table 4-x). */
const BIAS_ADJUST: Record<number, number> = { 8: 192, 11: 1536, 15: 24576 };

/** Pack a p-bit significand q (leading bit set) with exponent E, which the caller knows to be in range. */
function packAdjusted(sign: number, q: bigint, E: number, f: Fmt, p: number): bigint {
  if (p < f.p) q <<= BigInt(f.p - p);
  const fracBits = f.explicit ? f.p : f.p - 1;
  const stored = f.explicit ? q : q & mask(fracBits);
  return (BigInt(sign) << BigInt(f.width - 1)) | (BigInt(E + f.bias) << BigInt(fracBits)) | stored;
}

/** Exact sum of two finite or zero values, rounded. Zero results: +0 except -0 in round-down (IEEE 6.3). */
export function addVals(a: Val, b: Val, f: Fmt, env: Env, p = f.p): bigint {
  if (a.kind === ZERO && b.kind === ZERO) {
    const s = a.sign === b.sign ? a.sign : env.rc === RDN ? 1 : 0;
    return packZero(s, f);
  }
  if (a.kind === ZERO) return roundPack(b.sign, b.m, b.e, f, env, p);
  if (b.kind === ZERO) return roundPack(a.sign, a.m, a.e, f, env, p);
  const e = Math.min(a.e, b.e);
  const ma = a.m << BigInt(a.e - e);
  const mb = b.m << BigInt(b.e - e);
  let s = (a.sign ? -ma : ma) + (b.sign ? -mb : mb);
  if (s === 0n) return packZero(env.rc === RDN ? 1 : 0, f);
  let sign = 0;
  if (s < 0n) {
    sign = 1;
    s = -s;
  }
  return roundPack(sign, s, e, f, env, p);
}

export function mulVals(a: Val, b: Val, f: Fmt, env: Env, p = f.p): bigint {
  const sign = a.sign ^ b.sign;
  if (a.kind === ZERO || b.kind === ZERO) return packZero(sign, f);
  return roundPack(sign, a.m * b.m, a.e + b.e, f, env, p);
}

/** a / b for finite a and finite nonzero b. */
export function divVals(a: Val, b: Val, f: Fmt, env: Env, p = f.p): bigint {
  const sign = a.sign ^ b.sign;
  if (a.kind === ZERO) return packZero(sign, f);
  const k = Math.max(0, p + 3 + bitLength(b.m) - bitLength(a.m));
  const n = a.m << BigInt(k);
  let q = n / b.m;
  const r = n % b.m;
  let e = a.e - b.e - k;
  if (r !== 0n) {
    q = (q << 1n) | 1n;
    e -= 1;
  }
  return roundPack(sign, q, e, f, env, p);
}

export function isqrt(n: bigint): bigint {
  if (n < 2n) return n;
  let x = 1n << BigInt(Math.ceil(bitLength(n) / 2));
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}

/** sqrt of a finite positive value. */
export function sqrtVal(a: Val, f: Fmt, env: Env, p = f.p): bigint {
  let m = a.m;
  let e = a.e;
  // Enough bits for p + 2 result bits, and an even exponent.
  let k = Math.max(0, 2 * (p + 3) - bitLength(m));
  if ((e - k) % 2 !== 0) k += 1;
  m <<= BigInt(k);
  e -= k;
  let r = isqrt(m);
  let re = e / 2;
  if (r * r !== m) {
    r = (r << 1n) | 1n;
    re -= 1;
  }
  return roundPack(0, r, re, f, env, p);
}

/**
 * Convert a finite value to an integer of `bits` bits (signed), rounding per env.rc (or truncating).
 * Returns null when it does not fit (the caller stores the integer indefinite and raises IE).
 */
export function toInt(a: Val, bits: number, rc: number, env: Env): bigint | null {
  if (a.kind === ZERO) return 0n;
  let q: bigint;
  let inexact: boolean;
  if (a.e >= 0) {
    if (a.e > bits + 1) return null;
    q = a.m << BigInt(a.e);
    inexact = false;
  } else {
    [q, inexact] = roundShift(a.m, -a.e, a.sign, rc, env);
  }
  const v = a.sign ? -q : q;
  const lim = 1n << BigInt(bits - 1);
  if (v >= lim || v < -lim) return null;
  if (inexact) env.flags |= PE;
  return v;
}

/** Round an integer value to format f. */
export function fromInt(v: bigint, f: Fmt, env: Env): bigint {
  if (v === 0n) return packZero(0, f);
  return v < 0n ? roundPack(1, -v, 0, f, env) : roundPack(0, v, 0, f, env);
}

/** Compare finite/inf values (no NaNs): -1, 0, 1. */
export function compareVals(a: Val, b: Val): number {
  const za = a.kind === ZERO, zb = b.kind === ZERO;
  if (za && zb) return 0;
  const sa = a.sign ? -1 : 1;
  if (za) return b.sign ? 1 : -1;
  if (zb) return a.sign ? -1 : 1;
  if (a.sign !== b.sign) return sa;
  let c: number;
  if (a.kind === INF || b.kind === INF) c = a.kind === b.kind ? 0 : a.kind === INF ? 1 : -1;
  else {
    const e = Math.min(a.e, b.e);
    const ma = a.m << BigInt(a.e - e), mb = b.m << BigInt(b.e - e);
    c = ma === mb ? 0 : ma > mb ? 1 : -1;
  }
  return a.sign ? -c : c;
}
