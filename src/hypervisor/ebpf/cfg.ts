// The control-flow graph of an eBPF program, shared by the verifier and the compiler: which slots start an
// instruction (an LDDW's second slot does not, RFC 9669 section 5.4), each instruction's successors (a local
// call's successor is its return point; the callee is a separate subprogram, section 4.3.1), depth-first
// orders with back-edges, basic blocks of a subprogram and their dominators (Cooper, Harvey and Kennedy,
// "A Simple, Fast Dominance Algorithm", 2001).

import { CallSrc, Op, branchTarget, cls, isJmpClass, type Insn } from './isa.js';

export const isLocalCall = (x: Insn): boolean => x.opcode === Op.CALL && x.src === CallSrc.LOCAL;
/** Can control continue at the next instruction (everything but exit and the unconditional jumps)? */
export const fallsThrough = (x: Insn): boolean => x.opcode !== Op.EXIT && x.opcode !== Op.JA && x.opcode !== Op.JA32;
/** The slot after instruction i (an LDDW takes two). */
export const nextSlot = (insns: readonly Insn[], i: number): number => i + (insns[i]!.opcode === Op.LDDW ? 2 : 1);
/** A jump within the subprogram (conditional or not): not a call, not exit. */
export const isJump = (x: Insn): boolean =>
  isJmpClass(cls(x.opcode)) && x.opcode !== Op.CALL && x.opcode !== Op.CALLX && x.opcode !== Op.EXIT;

/** 1 for each slot that starts an instruction, 0 for the second slot of an LDDW. */
export function instructionStarts(insns: readonly Insn[]): Uint8Array {
  const isInsn = new Uint8Array(insns.length);
  for (let i = 0; i < insns.length; i++) {
    isInsn[i] = 1;
    if (insns[i]!.opcode === Op.LDDW) i++;
  }
  return isInsn;
}

/** Where control goes from instruction i, as raw slot numbers (not checked against the program's bounds). */
export interface Successors {
  /** the fall-through slot (the return point of a local call); undefined after exit or ja */
  next: number | undefined;
  /** a jump's target; undefined for everything else */
  target: number | undefined;
  /** a local call's callee entry */
  callee: number | undefined;
}

export function successorsOf(insns: readonly Insn[], i: number): Successors {
  const x = insns[i]!;
  const t = branchTarget(x, i);
  const call = isLocalCall(x);
  return { next: fallsThrough(x) ? nextSlot(insns, i) : undefined, target: call ? undefined : t, callee: call ? t : undefined };
}

/** The subprogram entries: 0 and every local call's target inside the program, sorted. */
export function subprogramEntries(insns: readonly Insn[], isInsn: Uint8Array): number[] {
  const set = new Set<number>([0]);
  for (let i = 0; i < insns.length; i++) {
    if (!isInsn[i] || !isLocalCall(insns[i]!)) continue;
    const t = branchTarget(insns[i]!, i)!;
    if (t >= 0 && t < insns.length) set.add(t);
  }
  return [...set].sort((a, b) => a - b);
}

export interface DfsHooks {
  /** v is reached for the first time */
  visit?(v: number): void;
  /** the edge v -> w closes a cycle (w is on the DFS stack): w is a loop header */
  backEdge?(v: number, w: number): void;
}

/**
 * Iterative depth-first search from `entry` over `succ` (nodes 0..size-1); returns the reached nodes in
 * reverse postorder (every forward edge goes from earlier to later in it).
 */
export function depthFirst(entry: number, size: number, succ: (v: number) => readonly number[], hooks: DfsHooks = {}): number[] {
  const color = new Uint8Array(size); // 0 unseen, 1 on the stack, 2 done
  const post: number[] = [];
  const stack: Array<[number, number]> = [[entry, 0]];
  color[entry] = 1;
  hooks.visit?.(entry);
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const v = top[0];
    const s = succ(v);
    if (top[1] < s.length) {
      const w = s[top[1]++]!;
      if (color[w] === 1) hooks.backEdge?.(v, w);
      else if (color[w] === 0) {
        color[w] = 1;
        hooks.visit?.(w);
        stack.push([w, 0]);
      }
    } else {
      color[v] = 2;
      post.push(v);
      stack.pop();
    }
  }
  return post.reverse();
}

export interface Block {
  start: number;
  /** Instruction indices (LDDW: its first slot only). */
  pcs: number[];
  /** Successors: fall-through/next first, then the jump target. */
  next: number; // block index or -1
  target: number; // block index or -1
  /** position in the reverse postorder (-1: unreachable) */
  rpo: number;
}

/**
 * Basic blocks of the subprogram occupying slots [start, end): a block ends at a jump or exit (calls do not end
 * a block), and starts at the subprogram's entry, after a jump and at every jump target. The caller has
 * checked that jumps stay inside [start, end) and that nothing falls off its end. Returns the blocks (block 0
 * at `start`) and their reverse postorder (reachable blocks only; each block's `rpo` set).
 */
export function basicBlocks(insns: readonly Insn[], isInsn: Uint8Array, start: number, end: number): { blocks: Block[]; order: number[] } {
  const lead = new Set<number>([start]);
  for (let i = start; i < end; i++) {
    if (!isInsn[i] || !isJump(insns[i]!) && insns[i]!.opcode !== Op.EXIT) continue;
    if (i + 1 < end) lead.add(i + 1);
    const t = branchTarget(insns[i]!, i);
    if (t !== undefined) lead.add(t);
  }
  const blocks: Block[] = [];
  const blockAt = new Map<number, number>();
  for (let i = start; i < end; i++) {
    if (!isInsn[i]) continue;
    if (lead.has(i)) {
      blockAt.set(i, blocks.length);
      blocks.push({ start: i, pcs: [], next: -1, target: -1, rpo: -1 });
    }
    blocks[blocks.length - 1]!.pcs.push(i);
  }
  for (const b of blocks) {
    const last = b.pcs[b.pcs.length - 1]!;
    const s = successorsOf(insns, last);
    if (s.next !== undefined) b.next = blockAt.get(s.next)!;
    if (s.target !== undefined) b.target = blockAt.get(s.target)!;
  }
  const order = depthFirst(0, blocks.length, (b) => {
    const { next, target } = blocks[b]!;
    return next >= 0 ? (target >= 0 ? [next, target] : [next]) : target >= 0 ? [target] : [];
  });
  order.forEach((b, k) => { blocks[b]!.rpo = k; });
  return { blocks, order };
}

/** Immediate dominators of the blocks (block 0 is the entry, its own idom; -1: unreachable). */
export function dominators(blocks: readonly Block[], order: readonly number[]): Int32Array {
  const idom = new Int32Array(blocks.length).fill(-1);
  const preds: number[][] = blocks.map(() => []);
  for (const b of order) for (const s of [blocks[b]!.next, blocks[b]!.target]) if (s >= 0) preds[s]!.push(b);
  idom[0] = 0;
  const intersect = (a: number, b: number): number => {
    while (a !== b) {
      while (blocks[a]!.rpo > blocks[b]!.rpo) a = idom[a]!;
      while (blocks[b]!.rpo > blocks[a]!.rpo) b = idom[b]!;
    }
    return a;
  };
  for (let changed = true; changed;) {
    changed = false;
    for (const b of order) {
      if (b === 0) continue;
      let d = -1;
      for (const p of preds[b]!) if (idom[p]! >= 0) d = d < 0 ? p : intersect(p, d);
      if (d !== idom[b]) { idom[b] = d; changed = true; }
    }
  }
  return idom;
}

/** Does block a dominate block b? */
export function dominates(idom: Int32Array, a: number, b: number): boolean {
  for (;;) {
    if (a === b) return true;
    if (b === 0) return false;
    b = idom[b]!;
  }
}
