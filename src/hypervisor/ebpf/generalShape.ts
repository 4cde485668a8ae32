// The compiler's general code shape (docs/ebpf.md): for programs the structured shape cannot take (irreducible
// control flow, jumps between subprograms, writes to r10, instructions that fault, very large functions).
// Basic blocks become cases of `for (;;) switch (pc)` (or an if-chain when loop-free), in chunks of at most
// CHUNK instructions, with explicit frames (return pc and r6-r9 in typed arrays).

import { CallSrc, Op, branchTarget, cls, insnFault, isJmpClass, type Insn } from './isa.js';
import { FRAME_SIZE, MAX_FRAMES, RegionTag, STACK_SIZE, framePointer } from './Memory.js';
import { R, REGS, afterInit, fault, faultCode, insnCode, jumpCond, outside } from './codegen.js';

const FP0 = framePointer(0);


/** Instruction indices that start a basic block. */
function leaders(insns: readonly Insn[]): Set<number> {
  const L = new Set<number>([0]);
  for (let i = 0; i < insns.length; i++) {
    const x = insns[i]!;
    // (second slots of LDDW are scanned too: a jump into one makes it an instruction; see below)
    // An instruction that always faults ends its block, so that the block's budget check is exact for it.
    if (insnFault(x.opcode, x.dst, x.src, x.off, x.imm, i + 1 < insns.length) !== undefined) L.add(i + 1);
    if (!isJmpClass(cls(x.opcode))) continue;
    L.add(i + 1);
    const t = branchTarget(x, i);
    if (t !== undefined) L.add(t);
  }
  // A jump into the second slot of an LDDW (rejected by the verifier) executes that slot as an instruction,
  // as the interpreter does: the LDDW then ends its block and continues at the slot after.
  for (let changed = true; changed;) {
    changed = false;
    for (let i = 0; i + 1 < insns.length; i++) {
      if (insns[i]!.opcode === Op.LDDW && L.has(i + 1) && !L.has(i + 2)) {
        L.add(i + 2);
        changed = true;
      }
    }
  }
  return L;
}

/**
 * Instructions per generated function. V8 does not optimise very large functions (TurboFan's bytecode size
 * limit), so a long program is split at block boundaries into several functions that hand the registers over
 * in a typed array; within a chunk the registers stay in locals.
 */
const CHUNK = 128;

export function generalSource(insns: readonly Insn[]): string {
  const n = insns.length;
  const lead = leaders(insns);
  const after: number[] = []; // pairs (pc, instructions of its block after it): exact steps at a fault
  // chunk starts: leaders, at least CHUNK instructions apart
  const chunkOf = new Int32Array(Math.max(n, 1));
  const starts: number[] = [0];
  for (let i = 0; i < n; i++) {
    if (i > 0 && i - starts[starts.length - 1]! >= CHUNK && insns[i - 1]!.opcode !== Op.LDDW) {
      lead.add(i); // a chunk starts a block
      starts.push(i);
    }
    chunkOf[i] = starts.length - 1;
  }
  const chunks: string[][] = starts.map(() => []);
  // A chunk without backward jumps inside it is emitted as a chain of `B<i>: if (pc === i) { block }` in
  // program order: forward jumps set pc and leave their block, later blocks test pc, and entering at any
  // leader works. This shape optimises well (no loop, no switch); V8 took 100+ ms to optimise a
  // loop-and-switch function of 64 instructions. Chunks with loops use `for (;;) switch (pc)`.
  const looping = starts.map(() => false);
  for (let i = 0; i < n; i++) {
    const t = branchTarget(insns[i]!, i);
    if (t !== undefined && t >= 0 && t <= i && chunkOf[t] === chunkOf[i]) looping[chunkOf[i]!] = true;
  }
  let cur = 0;
  let block = -1; // leader of the open block (if-chain chunks)
  const emit = (s: string): void => {
    chunks[cur]!.push(s);
  };
  /** Jump to instruction t (validated at compile time: out of range becomes a fault at run time). */
  const goto = (t: number, pc: number): string => {
    if (!(t >= 0 && t < n)) return outside(t, n);
    if (!lead.has(t)) return fault(`internal error: jump from ${pc} to ${t}, not a block`, pc);
    if (chunkOf[t] !== cur) return `pc = ${t}; break L;`;
    if (looping[cur]) return `pc = ${t}; continue L;`;
    return t > pc ? `pc = ${t}; break B${block};` : `pc = ${t}; break L;`;
  };
  /** After a return: the driver (if-chain chunks) or the switch finds the return point. */
  const dispatch = (): string => (looping[cur] ? 'continue L;' : 'break L;');
  /** Close the open block of an if-chain chunk, falling through to `next`. */
  const closeBlock = (next: string): void => {
    if (!looping[cur] && block >= 0) emit(`${next} }`);
    block = -1;
  };

  for (let i = 0; i < n; i++) {
    const x = insns[i]!;
    if (cur + 1 < starts.length && i === starts[cur + 1]) {
      if (looping[cur]) emit(`pc = ${i}; break L;`); // falls through into the next chunk
      else closeBlock(`pc = ${i};`);
      cur++;
    }
    if (lead.has(i) && !looping[cur]) {
      closeBlock(`pc = ${i};`);
      block = i;
      emit(`B${i}: if (pc === ${i}) {`);
    }
    if (lead.has(i)) {
      // block length: instructions up to the next leader (an LDDW counts once, like the interpreter's steps)
      const pcs: number[] = [];
      for (let j = i; j < n && (j === i || !lead.has(j)); j++) {
        pcs.push(j);
        if (insns[j]!.opcode === Op.LDDW) j++;
      }
      const len = pcs.length;
      pcs.forEach((pc, j) => { if (j < len - 1) after.push(pc, len - 1 - j); });
      // the budget running out inside the block: the interpreter runs the instructions it still allows, then
      // raises the budget fault at the exact instruction (structuredShape.ts, SL)
      emit(`${looping[cur] ? `case ${i}: ` : ''}steps += ${len}; if (steps > maxSteps) throw S(${i}, steps - ${len}, depth, [${REGS}], mem, helpers, maxSteps);`);
    }
    const { opcode: op, imm } = x;
    if (x.dst > 10 || x.src > 10) {
      emit(faultCode(insns, i));
      continue;
    }
    const [dl, dh] = R(x.dst);
    if (isJmpClass(cls(op))) {
      if (insnFault(op, x.dst, x.src, x.off, imm, true) !== undefined) { emit(faultCode(insns, i)); continue; }
      const target = branchTarget(x, i);
      if (op === Op.JA || op === Op.JA32) { emit(goto(target!, i)); continue; }
      if (op === Op.EXIT) {
        const restore = [6, 7, 8, 9].map((r, k) => `r${r}l = SV[depth * 8 + ${k}]; r${r}h = SV[depth * 8 + ${4 + k}];`).join(' ');
        emit(`if (depth === 0) { out[0] = r0l; out[1] = r0h; pc = -2; break L; } depth--; ${restore} r10l = ${FP0} - depth * ${FRAME_SIZE}; r10h = ${RegionTag.STACK}; pc = RP[depth]; ${dispatch()}`);
        continue;
      }
      if (op === Op.CALL && x.src === CallSrc.LOCAL) {
        const save = [6, 7, 8, 9].map((r, k) => `SV[depth * 8 + ${k}] = r${r}l; SV[depth * 8 + ${4 + k}] = r${r}h;`).join(' ');
        emit(`if (depth + 1 >= ${MAX_FRAMES}) throw new F("call depth exceeds ${MAX_FRAMES} frames", ${i}); RP[depth] = ${i + 1}; ${save} depth++; r10l = ${FP0} - depth * ${FRAME_SIZE}; r10h = ${RegionTag.STACK}; ${goto(target!, i)}`);
        continue;
      }
      if ((op === Op.CALL && x.src === CallSrc.HELPER) || op === Op.CALLX) {
        const id = op === Op.CALL ? `${imm}` : dl;
        const guard = op === Op.CALLX ? `if (${dh} !== 0) throw new F("callx target is not a helper id", ${i}); ` : '';
        emit(`${guard}t = H(helpers, mem, ${id}, r1l, r1h, r2l, r2h, r3l, r3h, r4l, r4h, r5l, r5h, ${i}); r0l = O[0]; r0h = O[1]; ` +
          `if (t !== 0 && (steps += t) > maxSteps) { const e = new F("instruction budget of " + maxSteps + " exhausted", ${i}); e.steps = steps; throw e; }`);
        continue;
      }
      const cond = jumpCond(x);
      if (cond === undefined) emit(faultCode(insns, i));
      else emit(`if (${cond}) { ${goto(target!, i)} }`);
      continue;
    }
    if (op === Op.LDDW) {
      if (x.src !== 0 || i + 1 >= n) emit(faultCode(insns, i));
      else emit(`${dl} = ${imm}; ${dh} = ${insns[i + 1]!.imm | 0};`);
      if (lead.has(i + 1)) emit(goto(i + 2, i));
      else i++;
      continue;
    }
    emit(insnCode(x, i) ?? faultCode(insns, i));
  }

  closeBlock(outside(n, n)); // falling off the end
  const load = Array.from({ length: 11 }, (_, r) => `r${r}l = R[${2 * r}], r${r}h = R[${2 * r + 1}]`).join(', ');
  const store = Array.from({ length: 11 }, (_, r) => `R[${2 * r}] = r${r}l; R[${2 * r + 1}] = r${r}h;`).join(' ');
  const chunkSrc = chunks.map((body, k) => `function c${k}(pc, R, ST, RP, SV, mem, maxSteps, out, helpers) {
  const V = mem.views, LN = mem.lens, WR = mem.writable;
  const V1 = V[${RegionTag.MEM}], M1 = V1 === undefined ? -1 : LN[${RegionTag.MEM}], M1W = WR[${RegionTag.MEM}] ? M1 : -1;
  const V2 = V[${RegionTag.STACK}];
  let ${load};
  let steps = ST[0], depth = ST[1], t = 0, t2 = 0, o = 0, ol = 0, oh = 0, nl = 0, nh = 0, m = 0, x = 0, v;
  try {
${looping[k] ? `  L: for (;;) {
    switch (pc) {
${body.join('\n')}
${k === chunks.length - 1 ? `      case -1: ${outside(n, n)} // falling off the end` : ''}
      default: break L; // a return into another chunk (or an invalid pc: the driver reports it)
    }
  }` : `  L: {
${body.join('\n')}
  }`}
  } catch (e) {
    // a fault's steps: the block's count less its instructions after the faulting one
    if (e instanceof F && e.steps < 0) e.steps = steps - (AF[e.pc] | 0);
    throw e;
  }
  ${store} ST[0] = steps; ST[1] = depth;
  return pc;
}`).join('\n');
  const source = `"use strict";
${chunkSrc}
const C_ = [${chunks.map((_, k) => `c${k}`).join(', ')}];
const chunkOf = new Int32Array([${Array.from(chunkOf).join(',')}]);
const AF = new Int32Array(${n});
${afterInit(after)}
const isLead = new Uint8Array(${n});
${[...lead].filter((l) => l < n).map((l) => `isLead[${l}] = 1;`).join(' ')}
// Per-program scratch, reused by every run that is not nested inside another run of the same program.
const R0 = new Int32Array(22), ST0 = new Float64Array(2), RP0 = new Int32Array(${MAX_FRAMES}), SV0 = new Int32Array(${MAX_FRAMES * 8});
let busy = false;
return function run(mem, init, maxSteps, out, helpers) {
  if (mem.views[${RegionTag.STACK}] === undefined || mem.lens[${RegionTag.STACK}] !== ${STACK_SIZE}) throw new F("the memory has no stack region", 0);
  const nested = busy;
  busy = true;
  try {
    return go(mem, init, maxSteps, out, helpers, nested ? new Int32Array(22) : R0, nested ? new Float64Array(2) : ST0,
      nested ? new Int32Array(${MAX_FRAMES}) : RP0, nested ? new Int32Array(${MAX_FRAMES * 8}) : SV0);
  } finally {
    busy = nested;
  }
};
function go(mem, init, maxSteps, out, helpers, R, ST, RP, SV) {
  R[0] = 0; R[1] = 0;
  for (let k = 0; k < 10; k++) R[2 + k] = init[k];
  for (let k = 12; k < 20; k++) R[k] = 0;
  R[20] = ${FP0}; R[21] = ${RegionTag.STACK}; ST[0] = 0; ST[1] = 0;
  let pc = 0;
  for (;;) {
    if (pc < 0 || pc >= ${n} || isLead[pc] === 0) {
      const e = new F(pc < 0 || pc >= ${n} ? P(pc, ${n}) : "internal error: return to " + pc + ", not a block", pc);
      e.steps = ST[0];
      throw e;
    }
    pc = C_[chunkOf[pc]](pc, R, ST, RP, SV, mem, maxSteps, out, helpers);
    if (pc === -2) return ST[0];
  }
}`;
  return source;
}
