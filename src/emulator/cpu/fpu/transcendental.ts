// The x87 transcendental functions in exact integer arithmetic: each result is computed in fixed point with
// at least ~190 correct bits relative to its magnitude (more fractional bits for tiny arguments), then rounded
// once to the 64-bit significand by softfloat's roundPack, so results are correctly rounded in every
// rounding mode (the SDM's accuracy statement, vol. 1 8.3.10, allows up to 1 ulp; see docs/machine.md for
// how this compares with the host CPU). Series: atanh for logarithms, Taylor for exp/sin/cos, atan with
// argument halving; pi and ln 2 by Machin-like formulas. BigInt is fine here: these instructions are rare.

import { bitLength } from './softfloat.js';

/** A value (-1)^sign * m * 2^e with a sticky bit folded into m when inexact (m = 0: zero). */
export interface Approx { sign: number; m: bigint; e: number; exact: boolean }

const GUARD = 200;

/**
 * sum over n of (+-1)^n / ((2n+1) k^(2n+1)), times 2^p, for an integer k > 1: atan(1/k) when the signs
 * alternate (Machin terms), atanh(1/k) when they do not.
 */
function inverseSeries(k: bigint, p: number, alternating: boolean): bigint {
  const one = 1n << BigInt(p);
  let term = one / k;
  const k2 = k * k;
  let sum = term;
  for (let n = 1n; term !== 0n; n++) {
    term /= k2;
    const t = term / (2n * n + 1n);
    sum += alternating && n % 2n === 1n ? -t : t;
  }
  return sum;
}

/** atan(1/k) * 2^p. */
const atanInv = (k: bigint, p: number): bigint => inverseSeries(k, p, true);

/** atanh(1/k) * 2^p. */
const atanhInv = (k: bigint, p: number): bigint => inverseSeries(k, p, false);

const CP = 20000; // enough for reductions of any argument with |x| < 2^63 at any working precision used here
let piCache = 0n;
let ln2Cache = 0n;

/** pi * 2^p (p <= CP). */
function pi(p: number): bigint {
  if (piCache === 0n) piCache = 16n * atanInv(5n, CP + 8) - 4n * atanInv(239n, CP + 8);
  return piCache >> BigInt(CP + 8 - p);
}

/** ln 2 * 2^p: 2 atanh(1/3). */
function ln2(p: number): bigint {
  if (ln2Cache === 0n) ln2Cache = 2n * atanhInv(3n, CP + 8);
  return ln2Cache >> BigInt(CP + 8 - p);
}

/** x = m * 2^e as fixed point with p fractional bits (truncated toward zero). */
function fix(m: bigint, e: number, p: number): bigint {
  const s = e + p;
  return s >= 0 ? m << BigInt(s) : m >> BigInt(-s);
}

/** a * b / 2^p truncated toward zero (so that series of negative terms reach 0). */
function mulFix(a: bigint, b: bigint, p: number): bigint {
  const r = a * b;
  return r < 0n ? -((-r) >> BigInt(p)) : r >> BigInt(p);
}

function divFix(a: bigint, b: bigint, p: number): bigint {
  return (a << BigInt(p)) / b;
}

/** Leading-bit exponent of m * 2^e. */
function expOf(m: bigint, e: number): number {
  return e + bitLength(m) - 1;
}

function result(v: bigint, p: number): Approx {
  const sign = v < 0n ? 1 : 0;
  const a = v < 0n ? -v : v;
  // The fixed-point value is an approximation: add a sticky bit below it.
  return { sign, m: (a << 1n) | 1n, e: -p - 1, exact: false };
}

/** e^y - 1 for fixed-point y (|y| < 1), Taylor series. */
function expm1Fix(y: bigint, p: number): bigint {
  let term = y;
  let sum = 0n;
  for (let n = 1n; term !== 0n; n++) {
    sum += term;
    term = mulFix(term, y, p) / (n + 1n);
  }
  return sum;
}

/** F2XM1: 2^x - 1 for finite nonzero x = (-1)^sign m 2^e, |x| <= 1. */
export function f2xm1(sign: number, m: bigint, e: number): Approx {
  const ex = expOf(m, e);
  if (ex >= 7) return { sign, m: 1n, e: 0, exact: false }; // outside the domain (undefined): saturate
  // 2^x - 1 with x a dyadic nonzero is irrational unless x = 1 or -1.
  if (m === 1n << BigInt(bitLength(m) - 1) && ex === 0) {
    return sign === 0 ? { sign: 0, m: 1n, e: 0, exact: true } : { sign: 1, m: 1n, e: -1, exact: true };
  }
  const p = GUARD + Math.max(0, -ex);
  const x = fix(m, e, p) * (sign ? -1n : 1n);
  return result(expm1Fix(mulFix(x, ln2(p + 8) >> 8n, p), p), p);
}

/** ln(r) for fixed-point r in [0.5, 2]: 2 atanh((r - 1) / (r + 1)). */
function lnFix(r: bigint, p: number): bigint {
  const one = 1n << BigInt(p);
  const z = divFix(r - one, r + one, p);
  const z2 = mulFix(z, z, p);
  let term = z;
  let sum = 0n;
  for (let n = 1n; term !== 0n; n += 2n) {
    sum += term / n;
    term = mulFix(term, z2, p);
  }
  return 2n * sum;
}

/** log2(x) for finite positive x = m 2^e, exact when x is a power of two. */
export function log2(m: bigint, e: number, extra = 0): { v: bigint; p: number; exact: boolean } {
  const bl = bitLength(m);
  const k = e + bl - 1;
  const p = GUARD + extra;
  if (m === 1n << BigInt(bl - 1)) return { v: BigInt(k) << BigInt(p), p, exact: true };
  // x = r * 2^k with r in [1, 2); take r in [0.75, 1.5) for a faster series.
  let r = fix(m, e - k, p);
  let kk = k;
  if (r >= (3n << BigInt(p)) >> 1n) {
    r >>= 1n;
    kk += 1;
  }
  const l = divFix(lnFix(r << 8n, p + 8), ln2(p + 8), p + 8) >> 8n;
  return { v: (BigInt(kk) << BigInt(p)) + l, p, exact: false };
}

/** FYL2X: y * log2(x) for finite y, finite x > 0. */
export function fyl2x(ys: number, ym: bigint, ye: number, xm: bigint, xe: number): Approx {
  const kx = expOf(xm, xe);
  // Near 1, log2 x is small: enough fractional bits for its own magnitude (|log2 x| >= ~2^-64).
  const l = log2(xm, xe, kx === 0 || kx === -1 ? 70 : 0);
  if (l.exact) {
    const s = ys ^ (l.v < 0n ? 1 : 0);
    const a = l.v < 0n ? -l.v : l.v;
    return { sign: s, m: a * ym, e: ye - l.p, exact: true };
  }
  const v = l.v * ym; // * 2^(ye - p)
  const s = ys ^ (v < 0n ? 1 : 0);
  const a = v < 0n ? -v : v;
  return { sign: s, m: (a << 1n) | 1n, e: ye - l.p - 1, exact: false };
}

/** FYL2XP1: y * log2(x + 1) for finite y, finite nonzero x with |x| < 1 - sqrt(2)/2. */
export function fyl2xp1(ys: number, ym: bigint, ye: number, xs: number, xm: bigint, xe: number): Approx {
  const ex = expOf(xm, xe);
  const p = GUARD + Math.max(0, -ex);
  const x = fix(xm, xe, p) * (xs ? -1n : 1n);
  if (ex >= 0) {
    const l = log2((1n << BigInt(p)) + x, -p);
    const v = l.v * ym;
    return { sign: ys ^ (v < 0n ? 1 : 0), m: ((v < 0n ? -v : v) << 1n) | 1n, e: ye - l.p - 1, exact: false };
  }
  // ln(1 + x) = 2 atanh(x / (2 + x)).
  const z = divFix(x, (2n << BigInt(p)) + x, p);
  const z2 = mulFix(z, z, p);
  let term = z;
  let sum = 0n;
  for (let n = 1n; term !== 0n; n += 2n) {
    sum += term / n;
    term = mulFix(term, z2, p);
  }
  const l = divFix(2n * sum, ln2(p + 8) >> 8n, p);
  const v = l * ym;
  return { sign: ys ^ (v < 0n ? 1 : 0), m: ((v < 0n ? -v : v) << 1n) | 1n, e: ye - p - 1, exact: false };
}

/** atan(t) for fixed-point t in [0, 1], by halving the argument three times then the Taylor series. */
function atanFix(t: bigint, p: number): bigint {
  const one = 1n << BigInt(p);
  let halvings = 0;
  while (t > one >> 4n && halvings < 6) {
    // atan t = 2 atan(t / (1 + sqrt(1 + t^2))).
    const s = isqrtFix(one + mulFix(t, t, p), p);
    t = divFix(t, one + s, p);
    halvings++;
  }
  const t2 = mulFix(t, t, p);
  let term = t;
  let sum = 0n;
  for (let n = 1n; term !== 0n; n += 2n) {
    sum += (n % 4n === 1n ? term : -term) / n;
    term = mulFix(term, t2, p);
  }
  return sum << BigInt(halvings);
}

function isqrtFix(v: bigint, p: number): bigint {
  const n = v << BigInt(p);
  if (n < 2n) return n;
  let x = 1n << BigInt(Math.ceil(bitLength(n) / 2));
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}

/** FPATAN: atan2(y, x) for finite nonzero x and y. */
export function fpatan(ys: number, ym: bigint, ye: number, xs: number, xm: bigint, xe: number): Approx {
  const ey = expOf(ym, ye), ex = expOf(xm, xe);
  const p = GUARD + Math.max(0, ex - ey);
  // Which of |y|, |x| is smaller (exactly), then t = smaller / larger in [0, 1] scaled by 2^p.
  let ySmaller = ey < ex;
  if (ey === ex) {
    const e0 = Math.min(ye, xe);
    ySmaller = ym << BigInt(ye - e0) <= xm << BigInt(xe - e0);
  }
  const [sm, se, lm, le] = ySmaller ? [ym, ye, xm, xe] : [xm, xe, ym, ye];
  const sh = se - le + p;
  const t = sh >= 0 ? (sm << BigInt(sh)) / lm : sm / (lm << BigInt(-sh));
  let a = atanFix(t, p);
  if (!ySmaller) a = (pi(p) >> 1n) - a;
  if (xs === 1) a = pi(p) - a;
  return result(ys ? -a : a, p);
}

/** sin and cos of fixed-point r, |r| <= pi/4 (Taylor series). */
function sinCosFix(r: bigint, p: number): [bigint, bigint] {
  const one = 1n << BigInt(p);
  const r2 = mulFix(r, r, p);
  let s = 0n, c = 0n;
  let term = r;
  for (let n = 1n; term !== 0n; n += 2n) {
    s += term;
    term = -mulFix(term, r2, p) / ((n + 1n) * (n + 2n));
  }
  term = one;
  for (let n = 0n; term !== 0n; n += 2n) {
    c += term;
    term = -mulFix(term, r2, p) / ((n + 1n) * (n + 2n));
  }
  return [s, c];
}

/**
 * pi to 66 significant bits (2 integer, 64 fractional: floor(pi * 2^64), which is also pi rounded to 66
 * bits): the x87 reduces the arguments of FSIN/FCOS/FSINCOS/FPTAN modulo this approximation, not modulo pi
 * (SDM vol. 1 8.3.10). With it the results match the host bit for bit; with the true pi they differ by up
 * to thousands of ulps for large arguments.
 */
const PI66 = 0x3243f6a8885a308d3n;

/**
 * Reduce finite nonzero x (|x| < 2^63) modulo PI66/2 exactly: r = x - q pi/2 in fixed point with p bits
 * of relative precision and the quadrant q mod 4.
 */
function reduce(sign: number, m: bigint, e: number): { r: bigint; q: number; p: number } {
  const ex = expOf(m, e);
  // Cancellation near a multiple of pi/2 costs at most ~64 + 63 bits for 64-bit significands below 2^63.
  const p = GUARD + 140 + Math.max(0, -ex);
  const x = fix(m, e, p);
  const halfPi = PI66 << BigInt(p + 70 - 65);
  const xs = x << 70n;
  let q = xs / halfPi;
  let r = xs - q * halfPi;
  if (r > halfPi >> 1n) {
    q += 1n;
    r -= halfPi;
  }
  r >>= 70n;
  if (sign) {
    r = -r;
    q = -q;
  }
  return { r, q: Number(((q % 4n) + 4n) % 4n), p };
}

/** FSIN, FCOS, FPTAN (which = 0, 1, 2) of finite nonzero x with |x| < 2^63. */
export function trig(which: number, sign: number, m: bigint, e: number): Approx {
  const { r, q, p } = reduce(sign, m, e);
  const [s, c] = sinCosFix(r, p);
  const sinV = q === 0 ? s : q === 1 ? c : q === 2 ? -s : -c;
  const cosV = q === 0 ? c : q === 1 ? -s : q === 2 ? -c : s;
  if (which === 0) return result(sinV, p);
  if (which === 1) return result(cosV, p);
  return result(divFix(sinV, cosV, p), p);
}

/** k * pi / 4 (k = 1..4) with the given sign: the exact special results of FPATAN, rounded by the caller. */
export function piQuarters(sign: number, k: number): Approx {
  const p = GUARD;
  return { ...result((pi(p) * BigInt(k)) >> 2n, p), sign };
}
