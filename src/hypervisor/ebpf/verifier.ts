// Verifier (seed paper section 3.4, after the Linux verifier in a simplified form). Checks, in order:
//  1. every instruction is a defined RFC 9669 encoding this runtime supports (reserved fields zero, r10
//     never written, LDDW's second slot well formed), the program is non-empty and at most `maxInsns` long;
//  2. control flow: jump and call targets inside the program and not into the middle of an LDDW, no path
//     falls off the end, every instruction reachable, no back-edges (loops) unless `allowLoops`, no recursion,
//     call depth within MAX_FRAMES;
//  3. abstract interpretation over the control-flow graph (states joined where paths meet, refined on
//     branch edges; widened in loops): registers are uninitialised, scalars with an unsigned range, or
//     pointers into a granted region (program memory, context, a stack frame) with an offset range. It rejects
//     reads of uninitialised registers or stack bytes, memory accesses not provably inside a granted region
//     (or writes to a read-only one), and helper calls that are unknown, not allowed, or whose arguments do
//     not match the registry's argument kinds.
// Division and modulo by zero (also by a register) are accepted: RFC 9669 section 4.1 defines their results.
// Not proven: termination of loops under `allowLoops` (a run-time instruction budget bounds them instead).

import { AluOp, CallSrc, Cls, Mode, Op, Src, branchTarget, cls, isAluClass, lddwValue, sizeBytes, type Insn } from './isa.js';
import { disassembleInsn } from './disassembler.js';
import { FRAME_SIZE, MAX_FRAMES } from './Memory.js';
import type { ArgSpec, HelperRegistry } from './helpers.js';
import { encodingError } from './encoding.js';
import { depthFirst, instructionStarts, successorsOf } from './cfg.js';
import {
  MASK32, NEGATED, refineCompare, U64_MAX, UNINIT, UNKNOWN, UNSIGNED_OF, bitsMax, cloneFrame, cloneState, constant, foldAlu, foldJmp, isConst, joinState,
  initAt, markInit, newFrame, s64, scalar, stateEq, widenState, type Reg, type RegionName, type State,
} from './abstractState.js';

export type { RegionName, Reg as AbstractReg } from './abstractState.js';

export const DEFAULT_MAX_INSNS = 4096;
/** Most instructions the analysis processes before it rejects the program (Linux's BPF_COMPLEXITY_LIMIT_INSNS). */
export const DEFAULT_MAX_PROCESSED = 1_000_000;
/** Rounds at a loop head after which widening ignores the thresholds. */
const WIDEN_HARD = 40;

export interface RegionSpec {
  size: number;
  writable: boolean;
}
/** What r1..r5 hold at entry. */
export type EntryArg = { kind: 'ptr'; region: RegionName } | { kind: 'scalar'; value?: bigint } | { kind: 'none' };

export interface VerifierOptions {
  /** Most instructions a program may have (default 4096, the paper's setting). */
  maxInsns?: number;
  /** Accept back-edges; the caller must then run with a run-time instruction budget. */
  allowLoops?: boolean;
  helpers?: HelperRegistry;
  /** Helper ids the program may call (default: every registered helper). */
  allowedHelpers?: readonly number[];
  /** Granted regions besides the stack. */
  regions?: Partial<Record<RegionName, RegionSpec>>;
  /** r1..r5 at entry (default: nothing initialised). */
  args?: readonly EntryArg[];
  /** Bound on analysis work (instructions processed, counting every call-site and loop revisit; default 1M, Linux's). */
  maxProcessed?: number;
  /**
   * Called with each abstract state the analysis checks an instruction in (the registers as it types them):
   * every concrete run of an accepted program must be inside one of the states recorded at each instruction it
   * executes (the fuzz test's soundness oracle).
   */
  onState?: (pc: number, regs: readonly Reg[]) => void;
}

export type Verification =
  /** `frames`: the deepest call chain, in stack frames (1: no local calls) */
  | { ok: true; processed: number; hasLoops: boolean; frames: number }
  | { ok: false; index: number; message: string };

export class VerifyError extends Error {
  constructor(readonly index: number, readonly reason: string, insns: readonly Insn[]) {
    super(index >= 0 ? `instruction ${index} (${disassembleInsn(insns, index)}): ${reason}` : reason);
    this.name = 'VerifyError';
  }
}

// -------------------------------------------------------------------------------------------------- verifier

export function verify(insns: readonly Insn[], opts: VerifierOptions = {}): Verification {
  try {
    return { ok: true, ...new Verifier(insns, opts).run() };
  } catch (e) {
    if (e instanceof VerifyError) return { ok: false, index: e.index, message: e.message };
    throw e;
  }
}

class Verifier {
  private readonly n: number;
  private readonly fail: (i: number, msg: string) => never;
  private processed = 0;
  /** subprogram entry -> its instructions in reverse postorder */
  private readonly rpo = new Map<number, number[]>();
  /** instruction -> successors within its subprogram (the call instruction's successor is the return point) */
  private readonly succ: number[][] = [];
  private readonly maxProcessed: number;
  /** targets of back-edges: where the analysis widens (none: the program has no loops) */
  private readonly loopHeads = new Set<number>();
  /** control-flow edges into each instruction within its subprogram (flow) */
  private edgesIn = new Uint32Array(0);

  constructor(private readonly insns: readonly Insn[], private readonly opts: VerifierOptions) {
    this.n = insns.length;
    this.fail = (i, msg) => {
      throw new VerifyError(i, msg, insns);
    };
    this.maxProcessed = opts.maxProcessed ?? DEFAULT_MAX_PROCESSED;
  }

  /** the deepest call chain in frames (flow) */
  private frames = 1;

  run(): { processed: number; hasLoops: boolean; frames: number } {
    this.structure();
    this.flow();
    this.analyze();
    return { processed: this.processed, hasLoops: this.loopHeads.size > 0, frames: this.frames };
  }

  /** 1 where a slot starts an instruction (0: an lddw's second slot) */
  private isInsn: Uint8Array = new Uint8Array(0);

  private structure(): void {
    const { insns, n } = this;
    const max = this.opts.maxInsns ?? DEFAULT_MAX_INSNS;
    if (n === 0) this.fail(-1, 'empty program');
    if (n > max) this.fail(max, `program has ${n} instructions, more than the limit of ${max}`);
    this.isInsn = instructionStarts(insns);
    for (let i = 0; i < n; i++) {
      if (!this.isInsn[i]) continue;
      const err = encodingError(insns, i);
      if (err !== undefined) this.fail(i, err);
    }
  }

  private target(i: number, t: number, what: string): number {
    if (t < 0 || t >= this.n) this.fail(i, `${what} target ${t} is outside the program (0..${this.n - 1})`);
    if (!this.isInsn[t]) this.fail(i, `${what} target ${t} is the second half of an lddw`);
    return t;
  }

  /** Successors (cfg.ts, checked), function entries, reachability, back-edges, recursion. */
  private flow(): void {
    const { insns, n } = this;
    const calls = new Map<number, number>(); // call insn -> callee entry
    for (let i = 0; i < n; i++) {
      if (!this.isInsn[i]) {
        this.succ.push([]);
        continue;
      }
      const { next, target, callee } = successorsOf(insns, i);
      const fall = (): number => {
        if (next! >= n) this.fail(i, 'execution falls off the end of the program');
        return next!;
      };
      let s: number[];
      if (next === undefined) s = target === undefined ? [] : [this.target(i, target, 'jump')]; // exit, ja
      else if (callee !== undefined) {
        calls.set(i, this.target(i, callee, 'call'));
        s = [fall()];
      } else if (target !== undefined) {
        const taken = this.target(i, target, 'jump');
        s = [fall(), taken];
      } else s = [fall()];
      this.succ.push(s);
    }
    // Subprograms: DFS from each entry without following calls; an instruction belongs to exactly one.
    const owner = new Int32Array(n).fill(-1);
    const entries: number[] = [0];
    const seenEntry = new Set([0]);
    const callGraph = new Map<number, Set<number>>();
    for (let e = 0; e < entries.length; e++) {
      const entry = entries[e]!;
      const callees = new Set<number>();
      callGraph.set(entry, callees);
      const order = depthFirst(entry, n, (v) => this.succ[v]!, {
        visit: (v) => {
          if (owner[v] !== -1 && owner[v] !== entry) this.fail(v, `instruction ${v} is reached from two subprograms (entries ${owner[v]} and ${entry})`);
          owner[v] = entry;
          const callee = calls.get(v);
          if (callee === undefined) return;
          callees.add(callee);
          if (!seenEntry.has(callee)) {
            seenEntry.add(callee);
            entries.push(callee);
          }
        },
        backEdge: (v, w) => {
          if (!this.opts.allowLoops) this.fail(v, `back-edge to instruction ${w}: loops are not allowed`);
          this.loopHeads.add(w);
        },
      });
      this.rpo.set(entry, order);
    }
    this.edgesIn = new Uint32Array(n);
    for (let i = 0; i < n; i++) for (const t of this.succ[i]!) this.edgesIn[t]++;
    for (let i = 0; i < n; i++) {
      if (this.isInsn[i] && owner[i] === -1) this.fail(i, 'unreachable instruction');
    }
    // No recursion; depth of the call graph within MAX_FRAMES.
    const depthOf = new Map<number, number>();
    const onPath = new Set<number>();
    const dfs = (f: number, site: number): number => {
      if (onPath.has(f)) this.fail(site, `recursive call into the subprogram at ${f}`);
      const known = depthOf.get(f);
      if (known !== undefined) return known;
      onPath.add(f);
      let d = 1;
      for (const g of callGraph.get(f)!) {
        const callSite = [...calls.entries()].find(([ci, t]) => t === g && owner[ci] === f)![0];
        d = Math.max(d, 1 + dfs(g, callSite));
      }
      onPath.delete(f);
      depthOf.set(f, d);
      return d;
    };
    const depth = dfs(0, 0);
    this.frames = depth;
    if (depth > MAX_FRAMES) {
      const deepest = [...calls.keys()][0] ?? 0;
      this.fail(deepest, `call chain ${depth} frames deep, more than ${MAX_FRAMES}`);
    }
  }

  // ------------------------------------------------------------------------------------ abstract interpretation

  private analyze(): void {
    const regs: Reg[] = new Array<Reg>(11).fill(UNINIT);
    const regions = this.opts.regions ?? {};
    (this.opts.args ?? []).slice(0, 5).forEach((a, k) => {
      if (a.kind === 'ptr') {
        if (regions[a.region] === undefined) throw new Error(`verifier options: argument r${k + 1} points into region ${a.region}, which is not granted`);
        regs[k + 1] = { t: 'ptr', region: a.region, frame: 0, min: 0, max: 0 };
      } else if (a.kind === 'scalar') regs[k + 1] = a.value === undefined ? UNKNOWN : constant(a.value);
    });
    regs[10] = { t: 'ptr', region: 'stack', frame: 0, min: 0, max: 0 };
    this.analyzeFunction(0, { regs, frames: [newFrame()] }, 0);
  }

  /** Analyse the subprogram at `entry` from `init`; returns the join of its exit states (undefined: never returns). */
  private analyzeFunction(entry: number, init: State, depth: number): State | undefined {
    const order = this.rpo.get(entry)!;
    const pos = new Map<number, number>();
    order.forEach((v, k) => pos.set(v, k));
    const inState = new Map<number, State>();
    const visits = new Map<number, number>();
    inState.set(entry, init);
    const pending = new Uint8Array(order.length);
    pending[0] = 1;
    let exit: State | undefined;
    let any = true;
    while (any) {
      any = false;
      for (let k = 0; k < order.length; k++) {
        if (!pending[k]) continue;
        pending[k] = 0;
        const i = order[k]!;
        const st = inState.get(i)!;
        if (++this.processed > this.maxProcessed) this.fail(i, `program too complex to verify (more than ${this.maxProcessed} instructions processed)`);
        this.opts.onState?.(i, st.regs);
        const outs = this.step(i, st, depth);
        for (const [t, s] of outs) {
          if (t === -1) {
            exit = exit === undefined ? s : joinState(exit, s);
            continue;
          }
          const old = inState.get(t);
          // an instruction with one way in (not a loop head) has its predecessor's out-state: no join needed
          let next = old === undefined || (this.edgesIn[t] === 1 && !this.loopHeads.has(t)) ? s : joinState(old, s);
          if (old !== undefined && next !== s) {
            const v = (visits.get(t) ?? 0) + 1;
            visits.set(t, v);
            // widen at loop heads: with thresholds after a few rounds, to the limits after many (bounded work)
            if (v > 8 && this.loopHeads.has(t)) next = widenState(old, next, v > WIDEN_HARD ? [] : this.thresholds());
            if (next === old || stateEq(old, next)) continue;
          }
          inState.set(t, next);
          const pt = pos.get(t)!;
          pending[pt] = 1;
          if (pt <= k) any = true; // a back-edge: another sweep
        }
      }
    }
    return exit;
  }

  private thresholdCache: bigint[] | undefined;
  /** Widening thresholds: every immediate (and its neighbours), the region sizes, 2^k and 2^k - 1. */
  private thresholds(): bigint[] {
    if (this.thresholdCache) return this.thresholdCache;
    const set = new Set<bigint>();
    const add = (v: bigint): void => {
      for (const d of [-1n, 0n, 1n]) {
        const w = v + d;
        if (w >= 0n && w <= U64_MAX) set.add(w);
      }
    };
    for (const x of this.insns) {
      add(BigInt.asUintN(64, BigInt(x.imm)));
      add(BigInt(x.imm >>> 0));
    }
    for (const r of Object.values(this.opts.regions ?? {})) if (r) add(BigInt(r.size));
    for (const a of this.opts.args ?? []) if (a.kind === 'scalar' && a.value !== undefined) add(BigInt.asUintN(64, a.value));
    for (let k = 0n; k <= 64n; k++) add(1n << k);
    this.thresholdCache = [...set].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return this.thresholdCache;
  }

  private readReg(i: number, st: State, r: number): Reg {
    const v = st.regs[r]!;
    if (v.t === 'uninit') this.fail(i, `reads r${r}, which is not initialised`);
    return v;
  }

  /** Transfer function: [successor or -1 for a return, state] pairs. */
  private step(i: number, inp: State, depth: number): Array<[number, State]> {
    const x = this.insns[i]!;
    const op = x.opcode;
    const c = cls(op);
    const st = cloneState(inp);
    const succ = this.succ[i]!;
    const next = succ[0]!;
    if (isAluClass(c)) {
      st.regs[x.dst] = this.alu(i, st, x);
      return [[next, st]];
    }
    if (op === Op.LDDW) {
      st.regs[x.dst] = constant(lddwValue(this.insns, i));
      return [[next, st]];
    }
    if (c === Cls.LDX) {
      const size = sizeBytes(op);
      const base = this.readReg(i, st, x.src);
      const loaded = this.access(i, st, base, x.src, x.off, size, 'read');
      st.regs[x.dst] = (op & 0xe0) === Mode.MEMSX ? UNKNOWN : loaded ?? scalar(0n, size === 8 ? U64_MAX : (1n << BigInt(8 * size)) - 1n);
      return [[next, st]];
    }
    if (c === Cls.ST || c === Cls.STX) {
      const size = sizeBytes(op);
      const base = this.readReg(i, st, x.dst);
      if ((op & 0xe0) === Mode.ATOMIC) {
        this.readReg(i, st, x.src);
        if (x.imm === 0xf1) this.readReg(i, st, 0);
        this.access(i, st, base, x.dst, x.off, size, 'atomic');
        const fetched = size === 8 ? UNKNOWN : scalar(0n, MASK32);
        if (x.imm === 0xf1) st.regs[0] = fetched;
        else if (x.imm & 1) st.regs[x.src] = fetched;
        return [[next, st]];
      }
      const value = c === Cls.ST ? constant(BigInt(x.imm)) : this.readReg(i, st, x.src);
      this.access(i, st, base, x.dst, x.off, size, 'write', value);
      return [[next, st]];
    }
    // jumps
    if (op === Op.EXIT) {
      this.readReg(i, st, 0);
      if (depth === 0) return [];
      return [[-1, st]];
    }
    if (op === Op.JA || op === Op.JA32) return [[next, st]];
    if (op === Op.CALL && x.src === CallSrc.LOCAL) return [[next, this.localCall(i, st, depth, branchTarget(x, i)!)]];
    if (op === Op.CALL || op === Op.CALLX) {
      let id = x.imm;
      if (op === Op.CALLX) {
        const r = this.readReg(i, st, x.dst);
        if (!isConst(r) || r.min > 0x7fffffffn) this.fail(i, `callx through r${x.dst}, which is not a known helper id`);
        id = Number(r.min);
      }
      this.helperCall(i, st, id);
      return [[next, st]];
    }
    return this.branch(i, st, x, next, succ[1]!);
  }

  private alu(i: number, st: State, x: Insn): Reg {
    const op = x.opcode;
    const w64 = cls(op) === Cls.ALU64;
    const code = op & 0xf0;
    const isX = (op & Src.X) !== 0;
    // a byte swap has no source operand: its source bit selects big-endian (RFC 9669 section 4.2)
    const src: Reg = code === AluOp.END ? constant(0n)
      : isX ? this.readReg(i, st, x.src) : constant(w64 || code === AluOp.MOV ? BigInt(x.imm) : BigInt(x.imm) & MASK32);
    const dst: Reg = code === AluOp.MOV ? UNINIT : this.readReg(i, st, x.dst);
    if (code === AluOp.MOV && !isX) return constant(w64 ? BigInt(x.imm) : BigInt(x.imm) & MASK32);
    if (code === AluOp.MOV && x.off === 0 && w64) return src; // plain 64-bit copy keeps pointer types
    // Pointer arithmetic: ptr +/- bounded scalar (64-bit only).
    if (w64 && (code === AluOp.ADD || code === AluOp.SUB) && (dst.t === 'ptr' || src.t === 'ptr')) {
      if (dst.t === 'ptr' && src.t === 'ptr') return UNKNOWN; // difference (or sum) of pointers: a plain value
      const p = (dst.t === 'ptr' ? dst : src) as Extract<Reg, { t: 'ptr' }>;
      const s = (dst.t === 'ptr' ? src : dst) as Extract<Reg, { t: 'scalar' }>;
      if (code === AluOp.SUB && dst.t !== 'ptr') return UNKNOWN; // scalar - ptr
      let lo: number, hi: number;
      const smin = s64(s.min), smax = s64(s.max);
      if (smin <= smax && smin >= -(1n << 31n) && smax < 1n << 31n) {
        lo = Number(smin);
        hi = Number(smax);
      } else {
        lo = -Infinity;
        hi = Infinity;
      }
      if (code === AluOp.SUB) [lo, hi] = [-hi, -lo];
      return { ...p, min: p.min + lo, max: p.max + hi };
    }
    // Any other operation on a pointer: a plain number, unknown except for the result's width (a 32-bit
    // operation zero-extends its result, section 4.1; a byte swap of width 16 or 32 zero-extends too, one of
    // width 64 keeps every bit, the region tag included). Never usable as a pointer again.
    if (dst.t === 'ptr' || src.t === 'ptr') {
      const width = code === AluOp.END ? x.imm : w64 ? 64 : 32;
      return width >= 64 ? UNKNOWN : scalar(0n, (1n << BigInt(width)) - 1n);
    }
    const a = dst as Extract<Reg, { t: 'scalar' }>;
    const b = src as Extract<Reg, { t: 'scalar' }>;
    if ((code === AluOp.MOV || isConst(a)) && isConst(b)) return constant(foldAlu(op, x.off, x.imm, code === AluOp.MOV ? 0n : a.min, b.min));
    if (code === AluOp.END && isConst(a)) return constant(foldAlu(op, x.off, x.imm, a.min, 0n));
    const full = w64 ? U64_MAX : MASK32;
    const fits = (v: bigint): boolean => v <= full;
    const aIn = w64 || a.max <= MASK32; // the 32-bit operation sees the same value
    const bIn = w64 || b.max <= MASK32;
    switch (code) {
      case AluOp.MOV:
        if (x.off === 0 && !w64 && b.max <= MASK32) return b;
        return scalar(0n, full);
      case AluOp.ADD:
        if (aIn && bIn && fits(a.max + b.max)) return scalar(a.min + b.min, a.max + b.max);
        break;
      case AluOp.SUB:
        if (aIn && bIn && a.min >= b.max) return scalar(a.min - b.max, a.max - b.min);
        break;
      case AluOp.MUL:
        if (aIn && bIn && fits(a.max * b.max)) return scalar(a.min * b.min, a.max * b.max);
        break;
      case AluOp.AND: {
        const m = (aIn ? a.max : full) < (bIn ? b.max : full) ? (aIn ? a.max : full) : (bIn ? b.max : full);
        return scalar(0n, m);
      }
      case AluOp.OR: case AluOp.XOR:
        if (aIn && bIn) return scalar(0n, bitsMax(a.max > b.max ? a.max : b.max));
        break;
      case AluOp.LSH:
        if (aIn && isConst(b)) {
          const k = b.min & (w64 ? 63n : 31n);
          if (fits(a.max << k)) return scalar(a.min << k, a.max << k);
        }
        break;
      case AluOp.RSH:
        if (aIn && isConst(b)) {
          const k = b.min & (w64 ? 63n : 31n);
          return scalar(a.min >> k, a.max >> k);
        }
        if (aIn) return scalar(0n, a.max);
        break;
      case AluOp.ARSH:
        if (isConst(b) && a.max < (w64 ? 1n << 63n : 1n << 31n)) {
          const k = b.min & (w64 ? 63n : 31n);
          return scalar(a.min >> k, a.max >> k);
        }
        break;
      case AluOp.DIV:
        if (x.off === 0 && aIn && bIn) {
          if (b.min > 0n) return scalar(a.min / b.max, a.max / b.min);
          return scalar(0n, a.max); // divisor may be zero: result 0 (RFC 9669 section 4.1)
        }
        break;
      case AluOp.MOD:
        if (x.off === 0 && aIn && bIn) {
          // modulo by zero leaves dst unchanged, so the result never exceeds dst
          return scalar(0n, b.min > 0n && b.max - 1n < a.max ? b.max - 1n : a.max);
        }
        break;
      case AluOp.END: {
        const w = BigInt(x.imm);
        if (op === Op.LE && aIn && a.max < 1n << w) return a;
        return scalar(0n, w === 64n ? U64_MAX : (1n << w) - 1n);
      }
    }
    return scalar(0n, full);
  }

  /**
   * Check an access through pointer `base` (+ insn offset) of `size` bytes; for stack reads returns a spilled
   * register when one is restored exactly. `value` is what a write stores (for spill tracking).
   */
  private access(i: number, st: State, base: Reg, baseReg: number, off: number, size: number, kind: 'read' | 'write' | 'atomic', value?: Reg, mark = true): Reg | undefined {
    if (base.t !== 'ptr') {
      this.fail(i, `r${baseReg} is ${base.t === 'scalar' ? (isConst(base) ? `the number 0x${base.min.toString(16)}` : 'a number') : 'uninitialised'}, not a pointer into a granted region`);
    }
    const lo = base.min + off;
    const hi = base.max + off + size; // exclusive
    const write = kind !== 'read';
    if (!Number.isFinite(lo) || !Number.isFinite(hi)) this.fail(i, `pointer r${baseReg} into ${base.region} has an unbounded offset`);
    if (base.region === 'stack') {
      const span = lo === hi - size ? `fp${lo < 0 ? lo : `+${lo}`}` : `fp${lo}..fp${hi - size}`;
      if (lo < -FRAME_SIZE || hi > 0) this.fail(i, `${size}-byte ${kind} at ${span} is outside the ${FRAME_SIZE}-byte stack frame`);
      const frameIdx = base.frame;
      const fr = st.frames[frameIdx]!;
      const a = lo + FRAME_SIZE, b = hi + FRAME_SIZE; // byte range in the frame
      if (kind !== 'write') {
        for (let k = a; k < b; k++) if (!initAt(fr, k)) this.fail(i, `${size}-byte ${kind} at ${span} reads uninitialised stack byte fp${k - FRAME_SIZE}`);
      }
      const exact = lo === hi - size;
      if (kind === 'read') {
        if (exact && size === 8 && a % 8 === 0) return fr.spill[a / 8];
        return undefined;
      }
      const f = cloneFrame(fr);
      st.frames[frameIdx] = f;
      for (let s = Math.floor(a / 8); s * 8 < b; s++) f.spill[s] = undefined;
      if (exact && kind === 'write' && mark) {
        markInit(f, a, b);
        if (size === 8 && a % 8 === 0 && value !== undefined && value.t !== 'uninit') f.spill[a / 8] = value;
      }
      return undefined;
    }
    const spec = this.opts.regions?.[base.region];
    if (spec === undefined) this.fail(i, `region ${base.region} is not granted`);
    if (lo < 0 || hi > spec!.size) {
      const span = lo === hi - size ? `offset ${lo}` : `offsets ${lo}..${hi - size}`;
      this.fail(i, `${size}-byte ${kind} at ${span} of ${base.region} is outside the granted ${spec!.size} bytes`);
    }
    if (write && !spec!.writable) this.fail(i, `${kind} to read-only region ${base.region}`);
    return undefined;
  }

  private helperCall(i: number, st: State, id: number): void {
    const reg = this.opts.helpers;
    const spec = reg?.get(id);
    if (spec === undefined) this.fail(i, `unknown helper id ${id}`);
    if (this.opts.allowedHelpers !== undefined && !this.opts.allowedHelpers.includes(id)) this.fail(i, `helper ${spec!.name} (${id}) is not allowed for this program`);
    // sizes and plain values first, so that a pointer's extent is known when it is checked
    // and the pointers read before those written, so that a write never makes its own source initialised
    // (memcpy(fp-16, fp-16, 8) reads fp-16 before anything writes it)
    const rank = (a: ArgSpec): number => (a.kind !== 'ptr' ? 0 : a.access === 'read' ? 1 : a.access === 'readwrite' ? 2 : 3);
    const order = spec!.args.map((a, k) => [a, k] as const).sort(([a], [b]) => rank(a) - rank(b));
    order.forEach(([a, k]) => {
      const r = k + 1;
      const v = this.readReg(i, st, r);
      const sizeOf = (idx: number): number => Number((this.readReg(i, st, idx + 1) as Extract<Reg, { t: 'scalar' }>).max);
      if (a.kind === 'size') {
        if (v.t !== 'scalar') this.fail(i, `argument r${r} of ${spec!.name} must be a byte count, not a pointer`);
        if ((v as Extract<Reg, { t: 'scalar' }>).max > BigInt(a.max)) this.fail(i, `argument r${r} of ${spec!.name} may be ${(v as Extract<Reg, { t: 'scalar' }>).max}, more than ${a.max}`);
      } else if (a.kind === 'ctx') {
        if (v.t !== 'ptr' || v.region !== 'ctx' || v.min !== 0 || v.max !== 0) this.fail(i, `argument r${r} of ${spec!.name} must be the context pointer`);
      } else if (a.kind === 'ptr') {
        if (v.t !== 'ptr') this.fail(i, `argument r${r} of ${spec!.name} must be a pointer into a granted region`);
        const size = a.size ?? (a.sizeArg !== undefined ? sizeOf(a.sizeArg) : 1);
        if (size > 0) {
          const sizeExact = a.size !== undefined || (a.sizeArg !== undefined && isConst(st.regs[a.sizeArg + 1]!));
          // checked as one access of the maximum size (it may exceed one instruction's 8); a stack write of
          // inexact size drops the spills it may cover but marks no byte written
          if (a.access === 'readwrite') this.access(i, st, v, r, 0, size, 'atomic');
          else if (a.access === 'write') this.access(i, st, v, r, 0, size, 'write', undefined, sizeExact);
          else this.access(i, st, v, r, 0, size, 'read');
        }
      }
    });
    for (let r = 1; r <= 5; r++) st.regs[r] = UNINIT;
    st.regs[0] = UNKNOWN;
  }

  private localCall(i: number, st: State, depth: number, target: number): State {
    if (depth + 1 >= MAX_FRAMES) this.fail(i, `call depth exceeds ${MAX_FRAMES} frames`);
    const callee: State = {
      regs: st.regs.map((r, k) => (k >= 1 && k <= 5 ? r : UNINIT)),
      frames: [...st.frames, newFrame()],
    };
    callee.regs[10] = { t: 'ptr', region: 'stack', frame: depth + 1, min: 0, max: 0 };
    const ret = this.analyzeFunction(target, callee, depth + 1);
    if (ret === undefined) this.fail(i, `the subprogram at ${target} never returns`);
    const dead = (r: Reg): Reg => (r.t === 'ptr' && r.region === 'stack' && r.frame > depth ? UNKNOWN : r);
    const out: State = { regs: st.regs.slice(), frames: ret!.frames.slice(0, depth + 1).map((f) => {
      if (!f.spill.some((s) => s !== undefined && s.t === 'ptr' && s.region === 'stack' && s.frame > depth)) return f;
      const g = cloneFrame(f);
      g.spill = g.spill.map((s) => (s === undefined ? s : dead(s)));
      return g;
    }) };
    out.regs[0] = dead(ret!.regs[0]!);
    for (let r = 1; r <= 5; r++) out.regs[r] = UNINIT;
    return out;
  }

  private branch(i: number, st: State, x: Insn, fall: number, taken: number): Array<[number, State]> {
    const op = x.opcode;
    const a = this.readReg(i, st, x.dst);
    const w32 = cls(op) === Cls.JMP32;
    const b: Reg = op & Src.X ? this.readReg(i, st, x.src) : constant(w32 ? BigInt(x.imm) & MASK32 : BigInt(x.imm));
    if (a.t !== 'scalar' || b.t !== 'scalar') return [[fall, st], [taken, cloneState(st)]];
    if (isConst(a) && isConst(b)) return foldJmp(op, a.min, b.min) ? [[taken, st]] : [[fall, st]];
    const lim = w32 ? MASK32 : U64_MAX;
    if (a.max > lim || b.max > lim) return [[fall, st], [taken, cloneState(st)]]; // 32-bit compare of wider values
    let code = op & 0xf0;
    // signed compares act like unsigned ones when both ranges are non-negative
    const signBit = w32 ? 1n << 31n : 1n << 63n;
    const nonNeg = a.max < signBit && b.max < signBit;
    const unsigned = UNSIGNED_OF[code];
    if (unsigned !== undefined) {
      if (!nonNeg) return [[fall, st], [taken, cloneState(st)]];
      code = unsigned;
    }
    // refine (a, b) under "a OP b" holding (t) or not (f); undefined: impossible
    const out: Array<[number, State]> = [];
    const apply = (c2: number, target: number): void => {
      const r = refineCompare(c2, a, b);
      if (r === undefined) return;
      const s = cloneState(st);
      s.regs[x.dst] = scalar(r[0].min, r[0].max);
      if (op & Src.X && x.src !== x.dst) s.regs[x.src] = scalar(r[1].min, r[1].max);
      out.push([target, s]);
    };
    apply(NEGATED[code]!, fall);
    apply(code, taken);
    return out;
  }
}
