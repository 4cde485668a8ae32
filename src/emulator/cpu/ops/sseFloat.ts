// SSE/SSE2 floating point: ADD/SUB/MUL/DIV/MIN/MAX/SQRT (PS/PD/SS/SD), CMPxx, COMISS/COMISD/UCOMISS/UCOMISD,
// with MXCSR rounding, DAZ/FTZ, NaN propagation and the six exception flags as
// the SDM specifies them (vol. 1 chapter 11.5; tables 11-x per instruction in vol. 2), and #XM (or #UD
// without CR4.OSXMMEXCPT) for unmasked exceptions, in which case no destination is written. The conversions
// (CVT*) are in sseConvert.ts; the exact path both share is in sseExact.ts.
//
// Two paths per lane. The fast path computes in JavaScript doubles, which is exact for round-to-nearest when
// operands and result are normal (or exact zeros), MXCSR has every exception masked and neither DAZ nor FZ;
// singles are computed in double and rounded once with Math.fround, which is exact for + - * / sqrt because a
// double has more than 2 * 24 + 2 bits (no double-rounding error). Inexactness is either already flagged
// (PE is sticky) or checked exactly (error-free transforms). Anything else takes the exact software path
// (fpu/softfloat.ts).

import { type Instruction, Code, Mnemonic } from 'iced-x86';
import type { Cpu } from '../Cpu.js';
import type { Op } from '../Op.js';
import { F, K_EAGER } from '../flags.js';
import {
  DE, F32, F64, type Fmt, IE, INF, NAN, PE, type Val, ZE, ZERO, addVals, compareVals, defaultNaN,
  divVals, mulVals, packInf, packZero, quiet, sqrtVal, unpack,
} from '../fpu/softfloat.js';
import { AUX_MEM, TMP, type H, regXmm, rmXmm, src, use } from './sseCommon.js';
import { MIN_D, MIN_F, commit, env, laneRaw, raiseSimd, setLaneRaw, setupEnv } from './sseExact.js';
import { comisdTemplate, packedDoubleTemplate, scalarDoubleTemplate } from './sseTemplates.js';
import { XS, useTemplate } from './template.js';

const K = { ADD: 0, SUB: 1, MUL: 2, DIV: 3, MIN: 4, MAX: 5, SQRT: 6, CMP: 7 } as const;

/** Magnitude bounds inside which Dekker's product error is exact (no overflow in the split, no underflow). */
const SPLIT_MAX = 2 ** 995;
const ERR_MIN = 2 ** -960;
const SPLITTER = 134217729; // 2^27 + 1

/** MXCSR with every exception masked, round-to-nearest, no DAZ/FZ: the fast path's precondition. */
const FAST_CTRL = 0x1f80;

let prodHi = 0;
let prodLo = 0;
/** Dekker/Veltkamp exact product: a * b = prodHi + prodLo. */
function twoProd(a: number, b: number): void {
  const p = a * b;
  let t = SPLITTER * a;
  const ah = t - (t - a), al = a - ah;
  t = SPLITTER * b;
  const bh = t - (t - b), bl = b - bh;
  prodHi = p;
  prodLo = ((ah * bh - p) + ah * bl + al * bh) + al * bl;
}

// ---- the exact path ------------------------------------------------------------------------------------

/** NaN operands of a two-operand arithmetic op: IE for SNaN; the first operand's NaN wins (SDM table 4-7). */
function nanResult(a: Val, b: Val, f: Fmt): bigint {
  if (a.snan || b.snan) env.flags |= IE;
  return a.kind === NAN ? quiet(a.raw, f) : quiet(b.raw, f);
}

/** One lane of ADD/SUB/MUL/DIV/SQRT/MIN/MAX exactly; env.flags accumulates. */
function laneSlow(kind: number, f: Fmt, ar: bigint, br: bigint): bigint {
  const a = unpack(ar, f, env);
  const b = unpack(br, f, env);
  if (kind === K.MIN || kind === K.MAX) {
    if (a.kind === NAN || b.kind === NAN) {
      env.flags |= IE;
      return env.daz && b.denormal ? packZero(b.sign, f) : br;
    }
    if ((a.denormal || b.denormal) && !env.daz) env.flags |= DE;
    const c = compareVals(a, b);
    // Equal (including +0/-0) or unordered: the second operand (SDM MINSD/MAXSD).
    if (kind === K.MIN) return c < 0 ? (env.daz && a.denormal ? packZero(a.sign, f) : ar) : (env.daz && b.denormal ? packZero(b.sign, f) : br);
    return c > 0 ? (env.daz && a.denormal ? packZero(a.sign, f) : ar) : (env.daz && b.denormal ? packZero(b.sign, f) : br);
  }
  if (kind === K.SQRT) {
    if (b.kind === NAN) {
      if (b.snan) env.flags |= IE;
      return quiet(br, f);
    }
    if (b.kind === ZERO) return packZero(b.sign, f);
    if (b.sign === 1) {
      env.flags |= IE;
      return defaultNaN(f);
    }
    if (b.denormal && !env.daz) env.flags |= DE;
    if (b.kind === INF) return br;
    return sqrtVal(b, f, env);
  }
  if (a.kind === NAN || b.kind === NAN) return nanResult(a, b, f);
  // A zero divisor is reported alone (ZE, or IE for 0/0): no DE for a denormal dividend (host).
  if (kind === K.DIV && b.kind === ZERO) {
    if (a.kind === ZERO) {
      env.flags |= IE;
      return defaultNaN(f);
    }
    if (a.kind !== INF) env.flags |= ZE;
    return packInf(a.sign ^ b.sign, f);
  }
  if ((a.denormal || b.denormal) && !env.daz) env.flags |= DE;
  switch (kind) {
    case K.ADD: case K.SUB: {
      const bs = kind === K.SUB ? b.sign ^ 1 : b.sign;
      if (a.kind === INF || b.kind === INF) {
        if (a.kind === INF && b.kind === INF && a.sign !== bs) {
          env.flags |= IE;
          return defaultNaN(f);
        }
        return packInf(a.kind === INF ? a.sign : bs, f);
      }
      return addVals(a, { ...b, sign: bs }, f, env);
    }
    case K.MUL: {
      const s = a.sign ^ b.sign;
      if (a.kind === INF || b.kind === INF) {
        if (a.kind === ZERO || b.kind === ZERO) {
          env.flags |= IE;
          return defaultNaN(f);
        }
        return packInf(s, f);
      }
      return mulVals(a, b, f, env);
    }
    default: { // DIV
      const s = a.sign ^ b.sign;
      if (a.kind === INF) {
        if (b.kind === INF) {
          env.flags |= IE;
          return defaultNaN(f);
        }
        return packInf(s, f);
      }
      if (b.kind === INF) return packZero(s, f);
      if (b.kind === ZERO) {
        if (a.kind === ZERO) {
          env.flags |= IE;
          return defaultNaN(f);
        }
        env.flags |= ZE;
        return packInf(s, f);
      }
      return divVals(a, b, f, env);
    }
  }
}

/** CMPPS/CMPPD/CMPSS/CMPSD predicate (imm8 bits 2:0) on one lane: true/false; sets IE/DE. */
function laneCompare(pred: number, f: Fmt, ar: bigint, br: bigint): boolean {
  const a = unpack(ar, f, env);
  const b = unpack(br, f, env);
  if (a.kind === NAN || b.kind === NAN) {
    // LT, LE, NLT, NLE signal on any NaN; EQ, UNORD, NEQ, ORD only on SNaN (SDM table 3-7).
    const signalling = pred === 1 || pred === 2 || pred === 5 || pred === 6;
    if (signalling || a.snan || b.snan) env.flags |= IE;
    return pred === 3 || pred === 4 || pred === 5 || pred === 6;
  }
  if ((a.denormal || b.denormal) && !env.daz) env.flags |= DE;
  const c = compareVals(a, b);
  switch (pred) {
    case 0: return c === 0;
    case 1: return c < 0;
    case 2: return c <= 0;
    case 3: return false;
    case 4: return c !== 0;
    case 5: return !(c < 0);
    case 6: return !(c <= 0);
    default: return true;
  }
}

/** Run op.t (kind) over `lanes` lanes of format f exactly, then commit or raise #XM. */
function slowArith(cpu: Cpu, op: Op, f: Fmt, lanes: number, s: number): void {
  const mx = cpu.mxcsr;
  setupEnv(mx);
  const x = cpu.xmm;
  const d = op.d;
  for (let i = 0; i < lanes; i++) {
    const a = laneRaw(x, d, i, f);
    const b = laneRaw(x, s, i, f);
    let r: bigint;
    if (op.t === K.CMP) r = laneCompare(op.imm & 7, f, a, b) ? (f === F32 ? 0xffffffffn : 0xffffffffffffffffn) : 0n;
    else r = laneSlow(op.t, f, a, b);
    setLaneRaw(x, TMP, i, f, r);
  }
  commit(cpu, mx, d, f === F32 ? lanes : lanes * 2);
}


// ---- fast paths ------------------------------------------------------------------------------------------

/** Result of fastD/fastS when it succeeds (else NaN is returned and the exact path runs). */
let inexact = false;

/** A double lane on the fast path; returns NaN when the exact path must run. */
function fastD(kind: number, a: number, b: number, checkInexact: boolean): number {
  const aa = Math.abs(a), ab = Math.abs(b);
  if (!(aa >= MIN_D || a === 0) || !(ab >= MIN_D || b === 0) || aa === Infinity || ab === Infinity) return NaN;
  let r: number;
  inexact = false;
  switch (kind) {
    case K.ADD: case K.SUB: {
      const bb = kind === K.SUB ? -b : b;
      r = a + bb;
      if (r !== 0 && !(Math.abs(r) >= MIN_D && Math.abs(r) < Infinity)) return NaN;
      if (checkInexact) {
        const bv = r - a;
        inexact = (a - (r - bv)) + (bb - bv) !== 0;
      }
      return r;
    }
    case K.MUL:
      r = a * b;
      if (r === 0 ? a !== 0 && b !== 0 : !(Math.abs(r) >= MIN_D && Math.abs(r) < Infinity)) return NaN;
      if (checkInexact && r !== 0) {
        if (aa > SPLIT_MAX || ab > SPLIT_MAX || Math.abs(r) < ERR_MIN) return NaN;
        twoProd(a, b);
        inexact = prodLo !== 0;
      }
      return r;
    case K.DIV:
      if (b === 0) return NaN;
      r = a / b;
      if (r === 0 ? a !== 0 : !(Math.abs(r) >= MIN_D && Math.abs(r) < Infinity)) return NaN;
      if (checkInexact && r !== 0) {
        if (Math.abs(r) > SPLIT_MAX || ab > SPLIT_MAX || aa < ERR_MIN) return NaN;
        twoProd(r, b);
        inexact = prodHi !== a || prodLo !== 0;
      }
      return r;
    case K.SQRT:
      if (b < 0) return NaN;
      r = Math.sqrt(b);
      if (checkInexact && r !== 0) {
        if (ab < ERR_MIN) return NaN;
        twoProd(r, r);
        inexact = prodHi !== b || prodLo !== 0;
      }
      return r;
    default:
      return NaN;
  }
}

/** A single lane (values already widened to double); NaN when the exact path must run. */
function fastS(kind: number, a: number, b: number): number {
  const aa = Math.abs(a), ab = Math.abs(b);
  if (!(aa >= MIN_F || a === 0) || !(ab >= MIN_F || b === 0) || aa === Infinity || ab === Infinity) return NaN;
  let r64: number;
  switch (kind) {
    case K.ADD: r64 = a + b; break;
    case K.SUB: r64 = a - b; break;
    case K.MUL: r64 = a * b; break;
    case K.DIV: if (b === 0) return NaN; r64 = a / b; break;
    case K.SQRT: if (b < 0) return NaN; r64 = Math.sqrt(b); break;
    default: return NaN;
  }
  const r = Math.fround(r64);
  if (r === 0 ? (kind === K.MUL ? a !== 0 && b !== 0 : kind === K.DIV ? a !== 0 : false) : !(Math.abs(r) >= MIN_F && Math.abs(r) < Infinity)) return NaN;
  switch (kind) {
    case K.ADD: case K.SUB: {
      // The double sum of two singles can itself be inexact (exponents far apart): check it exactly.
      const bb = kind === K.SUB ? -b : b;
      const bv = r64 - a;
      inexact = r !== r64 || (a - (r64 - bv)) + (bb - bv) !== 0;
      break;
    }
    case K.MUL: inexact = r !== r64; break; // 24 x 24 bits: the double product is exact
    case K.DIV: inexact = r * b !== a; break; // r * b is exact in double
    default: inexact = r * r !== b;
  }
  return r;
}

// ---- arithmetic handlers ---------------------------------------------------------------------------------

/** ADDSD/SUBSD/MULSD/DIVSD/SQRTSD/MINSD/MAXSD/CMPSD and the PD forms (op.size = 64 scalar, 128 packed). */
const arithD: H = (cpu, op) => arithGeneric(cpu, op, src(cpu, op));

function arithGeneric(cpu: Cpu, op: Op, s: number): void {
  const lanes = op.size === 128 ? 2 : 1;
  const mx = cpu.mxcsr;
  if ((mx & 0xffc0) === FAST_CTRL && op.t <= K.SQRT && op.t !== K.MIN && op.t !== K.MAX) {
    const D = cpu.xmmD, d = op.d * 2, b = s * 2, t = TMP * 2;
    const pe = (mx & PE) === 0;
    let anyInexact = false;
    let ok = true;
    for (let i = 0; i < lanes; i++) {
      const r = fastD(op.t, D[d + i], D[b + i], pe);
      if (r !== r) { ok = false; break; }
      D[t + i] = r;
      anyInexact ||= inexact;
    }
    if (ok) {
      D[d] = D[t];
      if (lanes === 2) D[d + 1] = D[t + 1];
      if (anyInexact) cpu.mxcsr = mx | PE;
      return;
    }
  }
  slowArith(cpu, op, F64, lanes, s);
}

/** Scalar double ADD/SUB/MUL/DIV with PE already set (the steady state of FP code): no flag can change. */
const scalarD: H = (cpu, op) => {
  const s = src(cpu, op);
  if ((cpu.mxcsr & 0xffe0) === 0x1fa0) {
    const D = cpu.xmmD, d = op.d * 2;
    const a = D[d], b = D[s * 2];
    const aa = Math.abs(a), ab = Math.abs(b);
    if ((aa >= MIN_D || a === 0) && aa < Infinity && (ab >= MIN_D || b === 0) && ab < Infinity) {
      let r: number;
      switch (op.t) {
        case 0: r = a + b; break;
        case 1: r = a - b; break;
        case 2: r = a * b; if (r === 0 && a !== 0 && b !== 0) r = NaN; break;
        default: r = b === 0 ? NaN : a / b; if (r === 0 && a !== 0) r = NaN;
      }
      const ar = Math.abs(r);
      if ((ar >= MIN_D && ar < Infinity) || r === 0) {
        D[d] = r;
        return;
      }
    }
  }
  arithGeneric(cpu, op, s);
};

/** Packed double ADD/SUB/MUL/DIV with PE already set: both lanes on the fast path or the general one. */
const packedD: H = (cpu, op) => {
  const s = src(cpu, op);
  if ((cpu.mxcsr & 0xffe0) === 0x1fa0) {
    const D = cpu.xmmD, d = op.d * 2, b = s * 2;
    const r0 = laneD(op.t, D[d], D[b]);
    const r1 = laneD(op.t, D[d + 1], D[b + 1]);
    if (r0 === r0 && r1 === r1) {
      D[d] = r0;
      D[d + 1] = r1;
      return;
    }
  }
  arithGeneric(cpu, op, s);
};

/** One double lane when no flag can change (PE set), or NaN. */
function laneD(kind: number, a: number, b: number): number {
  const aa = Math.abs(a), ab = Math.abs(b);
  if (!((aa >= MIN_D || a === 0) && aa < Infinity && (ab >= MIN_D || b === 0) && ab < Infinity)) return NaN;
  let r: number;
  switch (kind) {
    case 0: r = a + b; break;
    case 1: r = a - b; break;
    case 2: r = a * b; if (r === 0 && a !== 0 && b !== 0) return NaN; break;
    default: if (b === 0) return NaN; r = a / b; if (r === 0 && a !== 0) return NaN;
  }
  const ar = Math.abs(r);
  return (ar >= MIN_D && ar < Infinity) || r === 0 ? r : NaN;
}

/** Single lanes (1 or 4) ADD/SUB/MUL/DIV with PE already set. */
const fastSingle: H = (cpu, op) => {
  const s = src(cpu, op);
  if ((cpu.mxcsr & 0xffe0) === 0x1fa0) {
    const S = cpu.xmmS, d = op.d * 4, b = s * 4, t = TMP * 4;
    const n = op.size === 128 ? 4 : 1;
    let ok = true;
    for (let i = 0; i < n; i++) {
      const r = laneS(op.t, S[d + i], S[b + i]);
      if (r !== r) {
        ok = false;
        break;
      }
      S[t + i] = r;
    }
    if (ok) {
      const x = cpu.xmm;
      for (let i = 0; i < n; i++) x[d + i] = x[t + i];
      return;
    }
  }
  arithSGeneric(cpu, op, s);
};

function laneS(kind: number, a: number, b: number): number {
  const aa = Math.abs(a), ab = Math.abs(b);
  if (!((aa >= MIN_F || a === 0) && aa < Infinity && (ab >= MIN_F || b === 0) && ab < Infinity)) return NaN;
  let r: number;
  switch (kind) {
    case 0: r = Math.fround(a + b); break;
    case 1: r = Math.fround(a - b); break;
    case 2: r = Math.fround(a * b); if (r === 0 && a !== 0 && b !== 0) return NaN; break;
    default: if (b === 0) return NaN; r = Math.fround(a / b); if (r === 0 && a !== 0) return NaN;
  }
  const ar = Math.abs(r);
  return (ar >= MIN_F && ar < Infinity) || r === 0 ? r : NaN;
}

const arithS: H = (cpu, op) => arithSGeneric(cpu, op, src(cpu, op));

function arithSGeneric(cpu: Cpu, op: Op, s: number): void {
  const lanes = op.size === 128 ? 4 : 1;
  const mx = cpu.mxcsr;
  if ((mx & 0xffc0) === FAST_CTRL && op.t <= K.SQRT && op.t !== K.MIN && op.t !== K.MAX) {
    const S = cpu.xmmS, d = op.d * 4, b = s * 4, t = TMP * 4;
    let anyInexact = false;
    let ok = true;
    for (let i = 0; i < lanes; i++) {
      const r = fastS(op.t, S[d + i], S[b + i]);
      if (r !== r) { ok = false; break; }
      S[t + i] = r;
      anyInexact ||= inexact;
    }
    if (ok) {
      const x = cpu.xmm;
      for (let i = 0; i < lanes; i++) x[d + i] = x[t + i];
      if (anyInexact) cpu.mxcsr = mx | PE;
      return;
    }
  }
  slowArith(cpu, op, F32, lanes, s);
}

/** COMISS/COMISD/UCOMISS/UCOMISD: ZF PF CF = unordered 111, > 000, < 001, = 100; OF SF AF cleared. */
const comis: H = (cpu, op) => comisFrom(cpu, op, src(cpu, op));

function comisFrom(cpu: Cpu, op: Op, s: number): void {
  const mx = cpu.mxcsr;
  // Fast: neither operand NaN or denormal (no flags possible).
  const a0 = op.size === 32 ? cpu.xmmS[op.d * 4] : cpu.xmmD[op.d * 2];
  const b0 = op.size === 32 ? cpu.xmmS[s * 4] : cpu.xmmD[s * 2];
  const min = op.size === 32 ? MIN_F : MIN_D;
  if ((Math.abs(a0) >= min || a0 === 0) && (Math.abs(b0) >= min || b0 === 0)) {
    cpu.fk = K_EAGER;
    cpu.fx = a0 === b0 ? F.ZF : a0 < b0 ? F.CF : 0;
    return;
  }
  const f = op.size === 32 ? F32 : F64;
  setupEnv(mx);
  const a = unpack(laneRaw(cpu.xmm, op.d, 0, f), f, env);
  const b = unpack(laneRaw(cpu.xmm, s, 0, f), f, env);
  let fl: number;
  if (a.kind === NAN || b.kind === NAN) {
    if (op.imm === 1 || a.snan || b.snan) env.flags |= IE; // op.imm = 1: COMIS (signals on QNaN)
    fl = F.ZF | F.PF | F.CF;
  } else {
    if ((a.denormal || b.denormal) && !env.daz) env.flags |= DE;
    const c = compareVals(a, b);
    fl = c === 0 ? F.ZF : c < 0 ? F.CF : 0;
  }
  cpu.mxcsr = mx | env.flags;
  if ((env.flags & ~(mx >> 7) & 63) !== 0) raiseSimd(cpu);
  cpu.fk = K_EAGER;
  cpu.fx = fl;
}

// The general code the SSE templates (sseTemplates.ts) fall back to.
XS.arithD = arithGeneric;
XS.comis = comisFrom;

// ---- decoding --------------------------------------------------------------------------------------------

interface ArithForm { kind: number; single: boolean; packed: boolean }
const ARITH: Partial<Record<Mnemonic, ArithForm>> = {};
for (const [name, kind] of [['Add', K.ADD], ['Sub', K.SUB], ['Mul', K.MUL], ['Div', K.DIV], ['Min', K.MIN], ['Max', K.MAX], ['Sqrt', K.SQRT], ['Cmp', K.CMP]] as const) {
  for (const [suffix, single, packed] of [['ps', true, true], ['pd', false, true], ['ss', true, false], ['sd', false, false]] as const) {
    const m = (Mnemonic as unknown as Record<string, Mnemonic>)[name + suffix];
    if (m !== undefined) ARITH[m] = { kind, single, packed };
  }
}

export function decodeSseFloat(ins: Instruction, op: Op): boolean {
  const m = ins.mnemonic;
  const code = ins.code;
  const a = ARITH[m];
  if (a !== undefined) {
    // CMPSD's string form is not ours (the string decoder takes it first).
    if (code === Code.Cmpsd_m32_m32) return false;
    const bits = a.packed ? 128 : a.single ? 32 : 64;
    if (!regXmm(ins, 0, op, 'd') || !rmXmm(ins, 1, op, bits, a.packed)) return false;
    op.t = a.kind;
    if (a.kind === K.CMP) op.imm = ins.immediate8;
    const basic = a.kind <= K.DIV;
    if (!a.single && basic) {
      const mem = (op.aux & AUX_MEM) !== 0;
      return useTemplate(op, a.packed ? packedDoubleTemplate(a.kind, mem) : scalarDoubleTemplate(a.kind, mem));
    }
    const fn = a.single ? (basic ? fastSingle : arithS) : !basic ? arithD : a.packed ? packedD : scalarD;
    return use(op, Mnemonic[m].toLowerCase(), fn);
  }
  switch (m) {
    case Mnemonic.Comiss: case Mnemonic.Ucomiss: case Mnemonic.Comisd: case Mnemonic.Ucomisd: {
      const bits = m === Mnemonic.Comiss || m === Mnemonic.Ucomiss ? 32 : 64;
      if (!regXmm(ins, 0, op, 'd') || !rmXmm(ins, 1, op, bits, false)) return false;
      op.imm = m === Mnemonic.Comiss || m === Mnemonic.Comisd ? 1 : 0;
      if (bits === 64) return useTemplate(op, comisdTemplate((op.aux & AUX_MEM) !== 0));
      return use(op, Mnemonic[m].toLowerCase(), comis);
    }
    default:
      return false;
  }
}

