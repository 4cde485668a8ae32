// The verifier's abstract domain (verifier.ts): a register is uninitialised, a scalar with an unsigned 64-bit
// range, or a pointer into a granted region (a stack frame, program memory, the context) with an offset
// range; a state is the registers plus, per live stack frame, which bytes are written and which 8-byte slots
// hold a spilled register. Joins, widening with thresholds, and constant folding of ALU and jump instructions
// (RFC 9669 section 4 on u64 BigInts, an implementation independent of the interpreter's).

import { AluOp, Cls, JmpOp, Op, cls } from './isa.js';
import { FRAME_SIZE } from './Memory.js';

export const U64_MAX = (1n << 64n) - 1n;
export const MASK32 = 0xffffffffn;
export type RegionName = 'mem' | 'ctx';

export type Reg =
  | { t: 'uninit' }
  | { t: 'scalar'; min: bigint; max: bigint }
  | { t: 'ptr'; region: RegionName | 'stack'; frame: number; min: number; max: number };

export const UNINIT: Reg = { t: 'uninit' };
export const scalar = (min: bigint, max: bigint): Reg => ({ t: 'scalar', min, max });
export const constant = (v: bigint): Reg => scalar(BigInt.asUintN(64, v), BigInt.asUintN(64, v));
export const UNKNOWN: Reg = scalar(0n, U64_MAX);
export const isConst = (r: Reg): r is { t: 'scalar'; min: bigint; max: bigint } => r.t === 'scalar' && r.min === r.max;

export interface Frame {
  /** which of the frame's 512 bytes are written: bit k of word k >> 5 (a bitmask, so joins and compares are 16 words) */
  init: Uint32Array;
  /** 8-byte aligned spilled registers, by slot (0 = fp-512) */
  spill: Array<Reg | undefined>;
}
export interface State {
  regs: Reg[];
  frames: Frame[];
}

export const newFrame = (): Frame => ({ init: new Uint32Array(FRAME_SIZE / 32), spill: new Array<Reg | undefined>(FRAME_SIZE / 8).fill(undefined) });
/** Is byte k of the frame written? */
export const initAt = (f: Frame, k: number): boolean => ((f.init[k >> 5]! >>> (k & 31)) & 1) !== 0;
/** Mark bytes [a, b) of the frame written. */
export function markInit(f: Frame, a: number, b: number): void {
  for (let k = a; k < b; k++) f.init[k >> 5] |= 1 << (k & 31);
}
export const cloneFrame = (f: Frame): Frame => ({ init: f.init.slice(), spill: f.spill.slice() });
export const cloneState = (s: State): State => ({ regs: s.regs.slice(), frames: s.frames.slice() });

export function regEq(a: Reg, b: Reg): boolean {
  if (a.t !== b.t) return false;
  if (a.t === 'scalar' && b.t === 'scalar') return a.min === b.min && a.max === b.max;
  if (a.t === 'ptr' && b.t === 'ptr') return a.region === b.region && a.frame === b.frame && a.min === b.min && a.max === b.max;
  return true;
}

/** The join of two registers; `a` itself when it already contains `b` (so an unchanged state stays the same object). */
export function joinReg(a: Reg, b: Reg): Reg {
  if (a === b || a.t === 'uninit') return a;
  if (b.t === 'uninit') return UNINIT;
  if (a.t === 'scalar' && b.t === 'scalar') {
    if (b.min >= a.min && b.max <= a.max) return a;
    return scalar(a.min < b.min ? a.min : b.min, a.max > b.max ? a.max : b.max);
  }
  if (a.t === 'ptr' && b.t === 'ptr' && a.region === b.region && a.frame === b.frame) {
    if (b.min >= a.min && b.max <= a.max) return a;
    return { ...a, min: Math.min(a.min, b.min), max: Math.max(a.max, b.max) };
  }
  return UNKNOWN; // pointer on one path, something else on the other: usable as a value, never dereferenced
}

/**
 * Widening with thresholds (loops only): a bound that keeps growing jumps to the next program constant (or
 * power of two) instead of straight to the type's limit, so that a loop counter checked against a constant
 * stabilises at that constant's range rather than becoming unbounded.
 */
export function widenReg(old: Reg, cur: Reg, thresholds: readonly bigint[]): Reg {
  if (thresholds.length === 0) return widenHard(old, cur);
  if (old.t === 'scalar' && cur.t === 'scalar') {
    const up = cur.max > old.max ? thresholds[atLeast(thresholds, cur.max)] ?? U64_MAX : cur.max;
    let down = cur.min;
    if (cur.min < old.min) {
      const k = atLeast(thresholds, cur.min + 1n) - 1; // the last threshold <= cur.min
      down = k >= 0 ? thresholds[k]! : 0n;
    }
    return scalar(down, up);
  }
  if (old.t === 'ptr' && cur.t === 'ptr') {
    // offsets: the same thresholds, mirrored for negative offsets (stack pointers)
    const small = (t: bigint | undefined): bigint | undefined => (t !== undefined && t <= 0x7fffffffn ? t : undefined);
    const up = cur.max > old.max && Number.isFinite(cur.max) ? small(thresholds[atLeast(thresholds, BigInt(Math.ceil(cur.max)))]) : undefined;
    const dn = cur.min < old.min && Number.isFinite(cur.min) ? small(thresholds[atLeast(thresholds, BigInt(Math.ceil(-cur.min)))]) : undefined;
    return {
      ...cur,
      max: cur.max > old.max ? (up === undefined ? Infinity : Number(up)) : cur.max,
      min: cur.min < old.min ? (cur.min >= 0 ? 0 : dn === undefined ? -Infinity : -Number(dn)) : cur.min,
    };
  }
  return cur;
}

/** Index of the first of the sorted `ts` that is >= v (ts.length: none). */
function atLeast(ts: readonly bigint[], v: bigint): number {
  let lo = 0, hi = ts.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ts[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Widening without thresholds: a bound that moved goes to its limit (after many rounds at a loop head). */
function widenHard(old: Reg, cur: Reg): Reg {
  if (old.t === 'scalar' && cur.t === 'scalar') return scalar(cur.min < old.min ? 0n : cur.min, cur.max > old.max ? U64_MAX : cur.max);
  if (old.t === 'ptr' && cur.t === 'ptr') return { ...cur, min: cur.min < old.min ? -Infinity : cur.min, max: cur.max > old.max ? Infinity : cur.max };
  return cur;
}

/**
 * Widen a loop head's state: the registers and the spilled registers of every frame (a counter kept on the
 * stack must stabilise like one kept in a register). `thresholds` empty: widen to the limits.
 */
export function widenState(old: State, cur: State, thresholds: readonly bigint[]): State {
  return {
    regs: cur.regs.map((r, j) => widenReg(old.regs[j]!, r, thresholds)),
    frames: cur.frames.map((f, k) => {
      const o = old.frames[k]!;
      if (f === o) return f;
      let g: Frame | undefined;
      for (let s = 0; s < f.spill.length; s++) {
        const x = o.spill[s], y = f.spill[s];
        if (x === undefined || y === undefined || regEq(x, y)) continue;
        g ??= cloneFrame(f);
        g.spill[s] = widenReg(x, y, thresholds);
      }
      return g ?? f;
    }),
  };
}

/** The join of two frames; `a` itself when it already contains `b` (nothing allocated). */
export function joinFrame(a: Frame, b: Frame): Frame {
  if (a === b) return a;
  let f: Frame | undefined;
  for (let i = 0; i < a.init.length; i++) {
    const w = a.init[i]! & b.init[i]!;
    if (w === a.init[i]) continue;
    f ??= cloneFrame(a);
    f.init[i] = w;
  }
  for (let k = 0; k < a.spill.length; k++) {
    const x = a.spill[k];
    if (x === undefined) continue;
    const y = b.spill[k];
    const j = y === undefined ? undefined : joinReg(x, y);
    if (j === x) continue;
    f ??= cloneFrame(a);
    f.spill[k] = j;
  }
  return f ?? a;
}

export function frameEq(a: Frame, b: Frame): boolean {
  if (a === b) return true;
  for (let i = 0; i < a.init.length; i++) if (a.init[i] !== b.init[i]) return false;
  for (let k = 0; k < a.spill.length; k++) {
    const x = a.spill[k], y = b.spill[k];
    if (x === undefined ? y !== undefined : y === undefined || !regEq(x, y)) return false;
  }
  return true;
}

/** The join of two states; `a` itself when it already contains `b` (the fixpoint test is then free). */
export function joinState(a: State, b: State): State {
  let regs: Reg[] | undefined, frames: Frame[] | undefined;
  for (let i = 0; i < a.regs.length; i++) {
    const r = joinReg(a.regs[i]!, b.regs[i]!);
    if (r === a.regs[i]) continue;
    regs ??= a.regs.slice();
    regs[i] = r;
  }
  for (let i = 0; i < a.frames.length; i++) {
    const f = joinFrame(a.frames[i]!, b.frames[i]!);
    if (f === a.frames[i]) continue;
    frames ??= a.frames.slice();
    frames[i] = f;
  }
  return regs === undefined && frames === undefined ? a : { regs: regs ?? a.regs, frames: frames ?? a.frames };
}

export function stateEq(a: State, b: State): boolean {
  return a.regs.every((r, i) => regEq(r, b.regs[i]!)) && a.frames.every((f, i) => frameEq(f, b.frames[i]!));
}

// ------------------------------------------------------------------------------------------ constant folding

export const s64 = (v: bigint): bigint => BigInt.asIntN(64, v);
const bswap = (v: bigint, bytes: number): bigint => {
  let r = 0n;
  for (let i = 0; i < bytes; i++) r = (r << 8n) | ((v >> BigInt(8 * i)) & 0xffn);
  return r;
};

/** RFC 9669 section 4 semantics on u64 BigInts (an implementation independent of the interpreter's). */
export function foldAlu(op: number, off: number, imm: number, a: bigint, b: bigint): bigint {
  const w64 = cls(op) === Cls.ALU64;
  const code = op & 0xf0;
  if (code === AluOp.END) {
    const w = BigInt(imm);
    if (op === Op.LE) return w === 64n ? a : a & ((1n << w) - 1n);
    return bswap(a, imm / 8);
  }
  if (!w64) {
    const x = a & MASK32, y = b & MASK32;
    let r: bigint;
    switch (code) {
      case AluOp.ADD: r = x + y; break;
      case AluOp.SUB: r = x - y; break;
      case AluOp.MUL: r = x * y; break;
      case AluOp.DIV: r = y === 0n ? 0n : off === 1 ? BigInt.asIntN(32, x) / BigInt.asIntN(32, y) : x / y; break;
      case AluOp.MOD: r = y === 0n ? x : off === 1 ? BigInt.asIntN(32, x) % BigInt.asIntN(32, y) : x % y; break;
      case AluOp.OR: r = x | y; break;
      case AluOp.AND: r = x & y; break;
      case AluOp.XOR: r = x ^ y; break;
      case AluOp.LSH: r = x << (y & 31n); break;
      case AluOp.RSH: r = x >> (y & 31n); break;
      case AluOp.ARSH: r = BigInt.asIntN(32, x) >> (y & 31n); break;
      case AluOp.NEG: r = -x; break;
      default: // MOV / MOVSX
        r = off === 8 ? BigInt.asIntN(8, y) : off === 16 ? BigInt.asIntN(16, y) : y;
    }
    return r & MASK32;
  }
  let r: bigint;
  switch (code) {
    case AluOp.ADD: r = a + b; break;
    case AluOp.SUB: r = a - b; break;
    case AluOp.MUL: r = a * b; break;
    case AluOp.DIV: r = b === 0n ? 0n : off === 1 ? s64(a) / s64(b) : a / b; break;
    case AluOp.MOD: r = b === 0n ? a : off === 1 ? s64(a) % s64(b) : a % b; break;
    case AluOp.OR: r = a | b; break;
    case AluOp.AND: r = a & b; break;
    case AluOp.XOR: r = a ^ b; break;
    case AluOp.LSH: r = a << (b & 63n); break;
    case AluOp.RSH: r = a >> (b & 63n); break;
    case AluOp.ARSH: r = s64(a) >> (b & 63n); break;
    case AluOp.NEG: r = -a; break;
    default:
      r = off === 8 ? BigInt.asIntN(8, b) : off === 16 ? BigInt.asIntN(16, b) : off === 32 ? BigInt.asIntN(32, b) : b;
  }
  return BigInt.asUintN(64, r);
}

/** Does the jump go? (constant operands) */
export function foldJmp(op: number, a: bigint, b: bigint): boolean {
  const w32 = cls(op) === Cls.JMP32;
  const x = w32 ? a & MASK32 : a, y = w32 ? b & MASK32 : b;
  const sxv = (v: bigint): bigint => (w32 ? BigInt.asIntN(32, v) : s64(v));
  switch (op & 0xf0) {
    case JmpOp.JEQ: return x === y;
    case JmpOp.JNE: return x !== y;
    case JmpOp.JSET: return (x & y) !== 0n;
    case JmpOp.JGT: return x > y;
    case JmpOp.JGE: return x >= y;
    case JmpOp.JLT: return x < y;
    case JmpOp.JLE: return x <= y;
    case JmpOp.JSGT: return sxv(x) > sxv(y);
    case JmpOp.JSGE: return sxv(x) >= sxv(y);
    case JmpOp.JSLT: return sxv(x) < sxv(y);
    default: return sxv(x) <= sxv(y); // JSLE
  }
}

export const bitsMax = (v: bigint): bigint => {
  let m = 0n;
  while (m < v) m = (m << 1n) | 1n;
  return m;
};

/** A signed compare and the unsigned one it equals when both operands are non-negative. */
export const UNSIGNED_OF: Readonly<Record<number, number>> = { [JmpOp.JSGT]: JmpOp.JGT, [JmpOp.JSGE]: JmpOp.JGE, [JmpOp.JSLT]: JmpOp.JLT, [JmpOp.JSLE]: JmpOp.JLE };
/** The condition that holds on the fall-through edge (JSET: no refinement either way). */
export const NEGATED: Readonly<Record<number, number>> = {
  [JmpOp.JEQ]: JmpOp.JNE, [JmpOp.JNE]: JmpOp.JEQ, [JmpOp.JGT]: JmpOp.JLE, [JmpOp.JLE]: JmpOp.JGT,
  [JmpOp.JGE]: JmpOp.JLT, [JmpOp.JLT]: JmpOp.JGE, [JmpOp.JSET]: JmpOp.JSET,
};

type Range = { min: bigint; max: bigint };
/**
 * Refine the unsigned ranges (p, q) of the operands of a compare under "p OP q" holding (OP: JEQ, JNE, JGT, JGE,
 * JLT, JLE; JSET refines nothing); undefined when it cannot hold.
 */
export function refineCompare(op: number, p: Range, q: Range): [Range, Range] | undefined {
  let [pl, ph, ql, qh] = [p.min, p.max, q.min, q.max];
  switch (op) {
    case JmpOp.JEQ: pl = ql = pl > ql ? pl : ql; ph = qh = ph < qh ? ph : qh; break;
    case JmpOp.JNE:
      if (pl === ph && ql === qh && pl === ql) return undefined;
      if (ql === qh) { if (pl === ql) pl++; if (ph === ql) ph--; }
      if (pl === ph) { if (ql === pl) ql++; if (qh === pl) qh--; }
      break;
    case JmpOp.JGT: if (pl <= ql) pl = ql + 1n; if (qh >= ph) qh = ph - 1n; break;
    case JmpOp.JGE: if (pl < ql) pl = ql; if (qh > ph) qh = ph; break;
    case JmpOp.JLT: if (ph >= qh) ph = qh - 1n; if (ql <= pl) ql = pl + 1n; break;
    case JmpOp.JLE: if (ph > qh) ph = qh; if (ql < pl) ql = pl; break;
    default: return [p, q]; // JSET: no refinement
  }
  if (pl > ph || ql > qh || ph < 0n || qh < 0n) return undefined;
  return [{ min: pl, max: ph }, { min: ql, max: qh }];
}
