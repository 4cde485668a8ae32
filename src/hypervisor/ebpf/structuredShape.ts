// The compiler's structured code shape (docs/ebpf.md): each subprogram one JS function, its control flow as
// nested labelled blocks and loops (Ramsey, "Beyond Relooper"), registers passed into and out of calls by
// liveness, constants propagated into the instruction code.

import { CallSrc, Cls, Mode, Op, branchTarget, cls, insnFault, isAluClass, isJmpClass, type Insn } from './isa.js';
import { FRAME_SIZE, MAX_FRAMES, RegionTag, STACK_SIZE, framePointer } from './Memory.js';
import { REGS, afterInit, insnCode, jumpCond, type Const } from './codegen.js';
import { basicBlocks, dominates, dominators, fallsThrough, instructionStarts, isLocalCall, subprogramEntries, type Block } from './cfg.js';

const FP0 = framePointer(0);
const isHelperCall = (x: Insn): boolean => x.opcode === Op.CALLX || (x.opcode === Op.CALL && x.src === CallSrc.HELPER);

/** The largest function (instructions) given the structured shape; larger ones make the whole program general. */
const MAX_FN_INSNS = 512;

const ARGS = 0x3e; // r1-r5
const MASK_R0_R9 = 0x3ff;

/**
 * Registers an instruction reads and (always) writes, as bit masks (bit r = register r). Local calls and exits
 * are handled by the caller. Atomics with FETCH (and XCHG) write src; CMPXCHG reads and writes r0.
 */
function useDef(x: Insn): [number, number] {
  const op = x.opcode, c = cls(op), d = 1 << x.dst, s = 1 << x.src, isX = (op & 8) !== 0;
  if (isAluClass(c)) {
    const code = op & 0xf0;
    if (code === 0xb0) return [isX ? s : 0, d];
    if (code === 0x80 || code === 0xd0) return [d, d];
    return [d | (isX ? s : 0), d];
  }
  if (op === Op.LDDW) return [0, d];
  if (c === Cls.LDX) return [s, d];
  if (c === Cls.ST) return [d, 0];
  if (c === Cls.STX) {
    if ((op & 0xe0) !== Mode.ATOMIC) return [d | s, 0];
    if (x.imm === 0xf1) return [d | s | 1, 1];
    return [d | s, (x.imm & 1) !== 0 ? s : 0];
  }
  if (op === Op.CALL) return [ARGS, 1]; // helper (local calls: see the liveness)
  if (op === Op.CALLX) return [ARGS | d, 1];
  if (isJmpClass(c) && op !== Op.JA && op !== Op.JA32 && op !== Op.EXIT) return [d | (isX ? s : 0), 0];
  return [0, 0];
}

interface Fn {
  start: number;
  end: number;
  blocks: Block[];
  /** Block indices in reverse postorder (reachable blocks only). */
  order: number[];
}

/** Structured source, or undefined when the program needs the general shape. */
export function structuredSource(insns: readonly Insn[]): string | undefined {
  const n = insns.length;
  if (n === 0) return undefined;
  // 1. instructions (LDDW second slots excluded) and what the structured shape supports
  const isInsn = instructionStarts(insns);
  for (let i = 0; i < n; i++) {
    if (!isInsn[i]) continue;
    const x = insns[i]!;
    if (insnFault(x.opcode, x.dst, x.src, x.off, x.imm, i + 1 < n) !== undefined) return undefined; // faults: general shape
    if ((useDef(x)[1] & (1 << 10)) !== 0) return undefined; // r10 is read-only (verifier rule 1)
    if (x.opcode === Op.LDDW && (x.src !== 0 || i + 1 >= n)) return undefined;
  }
  // 2. functions: the entry and every call target; jumps stay inside their function, nothing falls off its end
  for (let i = 0; i < n; i++) {
    if (!isInsn[i]) continue;
    const t = branchTarget(insns[i]!, i);
    if (t !== undefined && !(t >= 0 && t < n && isInsn[t])) return undefined;
  }
  const mainCalled = insns.some((x, i) => isInsn[i] === 1 && isLocalCall(x) && branchTarget(x, i) === 0);
  const entries = subprogramEntries(insns, isInsn);
  for (let k = 0; k < entries.length; k++) if ((entries[k + 1] ?? n) - entries[k]! > MAX_FN_INSNS) return undefined;
  for (let i = 0; i < n; i++) {
    if (!isInsn[i]) continue;
    const x = insns[i]!, op = x.opcode;
    if (op === Op.LDDW) continue;
    if (isJmpClass(cls(op))) {
      if (op === Op.EXIT || op === Op.JA || op === Op.JA32 || op === Op.CALLX) continue;
      if (op === Op.CALL) { if (x.src !== CallSrc.HELPER && x.src !== CallSrc.LOCAL) return undefined; continue; }
      if (jumpCond(x) === undefined) return undefined;
      continue;
    }
    if (insnCode(x, i) === undefined) return undefined;
  }
  const fnOf = new Int32Array(n);
  for (let k = 0; k < entries.length; k++) fnOf.fill(k, entries[k]!, entries[k + 1] ?? n);
  const fnIndex = new Map(entries.map((e, k) => [e, k]));
  for (let i = 0; i < n; i++) {
    if (!isInsn[i]) continue;
    const x = insns[i]!;
    const t = branchTarget(x, i);
    if (t !== undefined && !isLocalCall(x) && fnOf[t] !== fnOf[i]) return undefined;
    const nx = i + (x.opcode === Op.LDDW ? 2 : 1);
    if (fallsThrough(x) && (nx >= n || fnOf[nx] !== fnOf[i])) return undefined;
  }
  // 3. basic blocks (calls do not end a block), reverse postorder, dominators, reducibility
  const fns: Fn[] = entries.map((start, k) => ({ start, end: entries[k + 1] ?? n, ...basicBlocks(insns, isInsn, start, entries[k + 1] ?? n) }));
  const idoms = fns.map((f) => dominators(f.blocks, f.order));
  for (let k = 0; k < fns.length; k++) {
    const f = fns[k]!;
    for (const b of f.order) {
      for (const s of [f.blocks[b]!.next, f.blocks[b]!.target]) {
        if (s >= 0 && f.blocks[s]!.rpo <= f.blocks[b]!.rpo && !dominates(idoms[k]!, s, b)) return undefined; // irreducible
      }
    }
  }
  // 4. registers each function may write (r0-r5 seen by the caller), over the call graph
  const calleeOf = (x: Insn, i: number): number => fnIndex.get(branchTarget(x, i)!)!;
  const mayDef = new Int32Array(fns.length);
  for (let changed = true; changed;) {
    changed = false;
    fns.forEach((f, k) => {
      let m = mayDef[k]!;
      for (const b of f.order) for (const i of f.blocks[b]!.pcs) m |= isLocalCall(insns[i]!) ? mayDef[calleeOf(insns[i]!, i)]! : useDef(insns[i]!)[1];
      m &= 0x3f;
      if (m !== mayDef[k]) { mayDef[k] = m; changed = true; }
    });
  }
  // 5. liveness over all functions: PARAMS(f) = registers f may read before writing them (passed in),
  //    RET(f) = registers f may write that some caller reads after the call (passed back); an exit reads RET(f)
  //    (and r0 in the entry function)
  const params = new Int32Array(fns.length), rets = new Int32Array(fns.length);
  for (let changed = true; changed;) {
    changed = false;
    fns.forEach((f, k) => {
      const exitUse = (k === 0 ? 1 : 0) | rets[k]!;
      const liveIn = new Int32Array(f.blocks.length);
      for (let again = true; again;) {
        again = false;
        for (let j = f.order.length - 1; j >= 0; j--) {
          const bi = f.order[j]!, b = f.blocks[bi]!;
          let live = (b.next >= 0 ? liveIn[b.next]! : 0) | (b.target >= 0 ? liveIn[b.target]! : 0);
          for (let q = b.pcs.length - 1; q >= 0; q--) {
            const i = b.pcs[q]!, x = insns[i]!;
            if (x.opcode === Op.EXIT) live = exitUse;
            else if (isLocalCall(x)) {
              const g = calleeOf(x, i);
              const r = live & mayDef[g]!;
              if ((rets[g]! | r) !== rets[g]) { rets[g] |= r; changed = true; }
              live |= params[g]!;
            } else {
              const [u, d] = useDef(x);
              live = (live & ~d) | u;
            }
          }
          if (live !== liveIn[bi]) { liveIn[bi] = live; again = true; }
        }
      }
      const p = params[k]! | (liveIn[0]! & MASK_R0_R9);
      if (p !== params[k]) { params[k] = p; changed = true; }
    });
  }
  // 6. constant propagation (forward, per function): register values known at compile time
  type State = Array<Const | undefined>;
  const transfer = (s: State, i: number): void => {
    const x = insns[i]!, op = x.opcode;
    if (op === Op.LDDW) s[x.dst] = [x.imm, insns[i + 1]!.imm | 0];
    else if (op === 0xb7) s[x.dst] = [x.imm, x.imm >> 31];
    else if (op === 0xb4) s[x.dst] = [x.imm, 0];
    else {
      const d = isLocalCall(x) ? mayDef[calleeOf(x, i)]! : useDef(x)[1];
      for (let r = 0; r < 10; r++) if ((d >> r) & 1) s[r] = undefined;
    }
  };
  const consts = fns.map((f) => {
    const at: Array<State | undefined> = f.blocks.map(() => undefined);
    at[0] = new Array<Const | undefined>(10).fill(undefined);
    for (let changed = true; changed;) {
      changed = false;
      for (const bi of f.order) {
        const s0 = at[bi];
        if (s0 === undefined) continue;
        const s = s0.slice();
        for (const i of f.blocks[bi]!.pcs) transfer(s, i);
        for (const t of [f.blocks[bi]!.next, f.blocks[bi]!.target]) {
          if (t < 0) continue;
          const cur = at[t];
          if (cur === undefined) { at[t] = s.slice(); changed = true; continue; }
          for (let r = 0; r < 10; r++) {
            const a = cur[r], b = s[r];
            if (a !== undefined && (b === undefined || a[0] !== b[0] || a[1] !== b[1])) { cur[r] = undefined; changed = true; }
          }
        }
      }
    }
    return at;
  });
  // 7. code
  const after: number[] = []; // pairs (pc, instructions of its segment after it): exact steps at a fault
  const regList = (mask: number): string[] => {
    const out: string[] = [];
    for (let r = 0; r < 10; r++) if ((mask >> r) & 1) out.push(`r${r}l`, `r${r}h`);
    return out;
  };
  const retCode = (mask: number): string => {
    let s = '';
    for (let r = 0; r < 6; r++) if ((mask >> r) & 1) s += `RV[${2 * r}] = r${r}l; RV[${2 * r + 1}] = r${r}h; `;
    return s;
  };
  const fnSrc = fns.map((f, k) => {
    const called = k !== 0 || mainCalled;
    const exitCode = (k === 0 ? 'out[0] = r0l; out[1] = r0h; ' : '') + (called ? retCode(rets[k]!) : '') + 'return rem;';
    const blocks = f.blocks;
    const idom = idoms[k]!;
    const children: number[][] = blocks.map(() => []);
    const fwdIn = new Int32Array(blocks.length);
    const header = new Uint8Array(blocks.length);
    for (const b of f.order) {
      if (b !== 0) children[idom[b]!]!.push(b);
      for (const s of [blocks[b]!.next, blocks[b]!.target]) {
        if (s < 0) continue;
        if (blocks[s]!.rpo > blocks[b]!.rpo) fwdIn[s]++;
        else header[s] = 1;
      }
    }
    /**
     * The budget check for the counted instructions `pcs`, straight-line code: if the budget runs out among
     * them, the slow path (SL) runs the ones it still allows in the interpreter, which then raises the budget
     * fault at the exact instruction, so that their effects are the interpreter's.
     */
    const count = (pcs: number[]): string => {
      pcs.forEach((pc, j) => { if (j < pcs.length - 1) after.push(pc, pcs.length - 1 - j); });
      return `if ((rem -= ${pcs.length}) < 0) throw SL(rem + ${pcs.length}, ${pcs[0]}, depth, ${REGS});`;
    };
    const blockCode = (bi: number): string => {
      const b = blocks[bi]!;
      const s = consts[k]![bi]!.slice();
      const out: string[] = [];
      // a call does not end the block, but it does end a budget segment: the steps before a local call are
      // checked before it (like the interpreter, whose budget and call-depth faults come in that order), and a
      // helper's work is counted right after it
      let seg: number[] = [];
      for (const i of b.pcs) {
        seg.push(i);
        if (isLocalCall(insns[i]!) || isHelperCall(insns[i]!) || i === b.pcs[b.pcs.length - 1]) {
          out.push(count(seg));
          for (const j of seg) out.push(insnJs(j, s));
          seg = [];
        }
      }
      return out.join('\n');
    };
    /** One instruction (not the block's jump or exit); advances the constant state s. */
    const insnJs = (i: number, s: Array<Const | undefined>): string => {
      const x = insns[i]!, op = x.opcode;
      let js = '';
      if (op === Op.LDDW) js = `r${x.dst}l = ${x.imm}; r${x.dst}h = ${insns[i + 1]!.imm | 0};`;
      else if (isLocalCall(x)) {
        const g = calleeOf(x, i);
        let rv = '';
        for (let r = 0; r < 6; r++) if ((rets[g]! >> r) & 1) rv += ` r${r}l = RV[${2 * r}]; r${r}h = RV[${2 * r + 1}];`;
        js = `if (depth >= ${MAX_FRAMES - 1}) throw new F("call depth exceeds ${MAX_FRAMES} frames", ${i}); rem = f${g}(${['rem', 'depth + 1', ...regList(params[g]!)].join(', ')});${rv}`;
      } else if (op === Op.CALL || op === Op.CALLX) {
        const id = op === Op.CALL ? `${x.imm}` : `r${x.dst}l`;
        const guard = op === Op.CALLX ? `if (r${x.dst}h !== 0) throw new F("callx target is not a helper id", ${i}); ` : '';
        js = `${guard}t = H(helpers, mem, ${id}, r1l, r1h, r2l, r2h, r3l, r3h, r4l, r4h, r5l, r5h, ${i}); r0l = O[0]; r0h = O[1]; if (t !== 0 && (rem -= t) < 0) throw BW(rem, ${i});`;
      } else if (!isJmpClass(cls(op))) js = insnCode(x, i, (op & 8) !== 0 ? s[x.src] : undefined, true)!;
      transfer(s, i);
      return js;
    };
    const branch = (from: number, to: number): string => {
      if (blocks[to]!.rpo <= blocks[from]!.rpo) return `continue L${to};`;
      if (fwdIn[to]! >= 2) return `break B${to};`;
      return doTree(to);
    };
    const term = (bi: number): string => {
      const b = blocks[bi]!;
      const last = b.pcs[b.pcs.length - 1]!;
      const x = insns[last]!;
      if (x.opcode === Op.EXIT) return exitCode;
      if (x.opcode === Op.JA || x.opcode === Op.JA32) return branch(bi, b.target);
      if (b.target >= 0) {
        // the state at the jump (for a compare against a register with a known value)
        const s = consts[k]![bi]!.slice();
        for (const i of b.pcs.slice(0, -1)) transfer(s, i);
        const known = (x.opcode & 8) !== 0 ? s[x.src] : undefined;
        return `if (${jumpCond(x, known)}) {\n${branch(bi, b.target)}\n}\n${branch(bi, b.next)}`;
      }
      return branch(bi, b.next);
    };
    const nodeWithin = (bi: number, ys: number[], j: number): string => {
      if (j === ys.length) return `${blockCode(bi)}\n${term(bi)}`;
      const y = ys[j]!;
      return `B${y}: {\n${nodeWithin(bi, ys, j + 1)}\n}\n${doTree(y)}`;
    };
    const doTree = (bi: number): string => {
      const ys = children[bi]!.filter((c) => fwdIn[c]! >= 2).sort((a, b) => blocks[b]!.rpo - blocks[a]!.rpo);
      const inner = nodeWithin(bi, ys, 0);
      return header[bi] ? `L${bi}: for (;;) {\n${inner}\n}` : inner;
    };
    const body = doTree(0);
    const ps = regList(params[k]!);
    const locals: string[] = [];
    for (let r = 0; r < 10; r++) if (!((params[k]! >> r) & 1)) locals.push(`r${r}l = 0, r${r}h = 0`);
    return `function f${k}(${['rem', 'depth', ...ps].join(', ')}) {
  let ${[...locals, `r10l = ${FP0} - depth * ${FRAME_SIZE}, r10h = ${RegionTag.STACK}`].join(', ')};
  let t = 0, t2 = 0, o = 0, ol = 0, oh = 0, nl = 0, nh = 0, m = 0, x = 0, v;
  try {
${body}
  } catch (e) { throw FS(e, rem); }
}`;
  });
  const initArg = (r: number): string[] => (r >= 1 && r <= 5 ? [`init[${2 * r - 2}]`, `init[${2 * r - 1}]`] : ['0', '0']);
  const entryArgs: string[] = [];
  for (let r = 0; r < 10; r++) if ((params[0]! >> r) & 1) entryArgs.push(...initArg(r));
  return `"use strict";
// The run's memory, helpers and budget (saved and restored around a nested run of the same program).
let mem, helpers, out, MS = 0, V, LN, WR, V1, M1 = -1, M1W = -1, V2;
let busy = false;
// registers a callee passes back (written just before its return, read just after)
const RV = new Int32Array(12);
let BUD = 0;
// per pc: the instructions counted with it but after it (a fault's steps exclude them, as the interpreter's do)
const AF = new Int32Array(${n});
${afterInit(after)}
/** The budget ran out k instructions into the segment at pc: the interpreter runs those k, then faults. */
function SL(k, pc, depth, ...regs) { return S(pc, MS - k, depth, regs, mem, helpers, MS); }
/** A helper's work exhausted the budget: the fault at its call, with the steps so far. */
function BW(rem, pc) { const e = new F("instruction budget of " + MS + " exhausted", pc); e.steps = BUD - rem; return e; }
/** A fault on its way out of a function: its steps, from the remaining budget there. */
function FS(e, rem) { if (e instanceof F && e.steps < 0) e.steps = BUD - rem - (AF[e.pc] | 0); return e; }
${fnSrc.join('\n')}
return function run(mem_, init, maxSteps, out_, helpers_) {
  if (mem_.views[${RegionTag.STACK}] === undefined || mem_.lens[${RegionTag.STACK}] !== ${STACK_SIZE}) throw new F("the memory has no stack region", 0);
  const outer = busy ? [mem, helpers, out, MS, V, LN, WR, V1, M1, M1W, V2, BUD] : undefined;
  busy = true;
  mem = mem_; helpers = helpers_; out = out_; MS = maxSteps;
  V = mem.views; LN = mem.lens; WR = mem.writable;
  V1 = V[${RegionTag.MEM}]; M1 = V1 === undefined ? -1 : LN[${RegionTag.MEM}]; M1W = WR[${RegionTag.MEM}] ? M1 : -1; V2 = V[${RegionTag.STACK}];
  // the budget counts down (one variable per block check); beyond 2^52 steps nothing is exact anyway
  const budget = maxSteps < 4503599627370496 ? maxSteps : 4503599627370496;
  BUD = budget;
  try {
    return budget - f0(${['budget', '0', ...entryArgs].join(', ')});
  } finally {
    if (outer !== undefined) [mem, helpers, out, MS, V, LN, WR, V1, M1, M1W, V2, BUD] = outer;
    else mem = helpers = out = V = LN = WR = V1 = V2 = undefined;
    busy = outer !== undefined;
  }
};`;
}
