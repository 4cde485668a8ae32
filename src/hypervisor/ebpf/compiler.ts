// Compiler from eBPF to a JavaScript function (`new Function`): the hypervisor "compiling the verified bytecode
// back to native code" (seed paper section 3.1), with V8 doing the last step. Design:
//  - registers are JS locals (r0l/r0h .. r10l/r10h, int32 lo/hi words), so V8 keeps them in machine registers;
//  - the program is split into basic blocks; each block is one `case` of a `switch (pc)` inside a loop, and
//    straight-line code falls through from case to case, so only taken jumps, calls and returns dispatch;
//  - immediates, shift counts, sizes and offsets are folded into the generated code;
//  - every memory access is bounds-checked inline against the granted regions (one compare on the region tag,
//    one on the offset); the slow path calls Memory.check, which raises the fault with its message;
//  - each block adds its instruction count to a step counter checked against the run-time budget.
// Invariant: every register local holds an int32 (a `>>>` result is always re-normalised with `| 0`), since
// 32-bit compares and equality tests read the locals directly.
// Semantics are the interpreter's (RFC 9669); the conformance test runs both on every file.

import { CallSrc, Cls, Mode, Op, branchTarget, cls, isAluClass, isAtomicOp, isJmpClass, sizeBytes, type Insn } from './isa.js';
import { EbpfFault, FRAME_SIZE, MAX_FRAMES, MAX_TAG, RegionTag, STACK_SIZE, framePointer, type Memory } from './Memory.js';
import { callHelper, type HelperRegistry } from './helpers.js';
import { DEFAULT_MAX_STEPS, type RunOptions, type RunResult } from './interpreter.js';
import * as U from './u64.js';

export interface CompiledProgram {
  /** Run the compiled code. Never throws for anything the program does. (`strict` is interpreter-only.) */
  run(opts: RunOptions): RunResult;
  /** The generated JavaScript (for inspection). */
  readonly source: string;
}

const FP0 = framePointer(0);
const NO_ARGS: readonly bigint[] = [];

/** Instruction indices that start a basic block. */
function leaders(insns: readonly Insn[]): Set<number> {
  const L = new Set<number>([0]);
  for (let i = 0; i < insns.length; i++) {
    const x = insns[i]!;
    // (second slots of LDDW are scanned too: a jump into one makes it an instruction; see below)
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

export function compile(insns: readonly Insn[]): CompiledProgram {
  const n = insns.length;
  const lead = leaders(insns);
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
  const R = (r: number): [string, string] => [`r${r}l`, `r${r}h`];
  const fault = (msg: string, pc: number): string => `throw new F(${JSON.stringify(msg)}, ${pc});`;
  const unsupported = (op: number, pc: number): string => fault(`unknown or unsupported opcode 0x${op.toString(16).padStart(2, '0')}`, pc);
  /** Jump to instruction t (validated at compile time: out of range becomes a fault at run time). */
  const goto = (t: number, pc: number): string => {
    if (!(t >= 0 && t < n && lead.has(t))) return fault(`jump from ${pc} to ${t} outside the program`, pc);
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
  /** Address computation into t (lo) / t2 (hi) for base register b plus offset off. */
  const addr = (b: number, off: number): string => {
    const [bl, bh] = R(b);
    if (off === 0) return `t = ${bl}; t2 = ${bh};`;
    const carry = off > 0 ? `((t >>> 0) < (${bl} >>> 0) ? 1 : 0)` : `((t >>> 0) > (${bl} >>> 0) ? -1 : 0)`;
    return `t = (${bl} + ${off}) | 0; t2 = (${bh} + ${carry}) | 0;`;
  };
  // Fast paths for the program memory and the stack (regions held in locals), else the general check.
  const check = (size: number, write: boolean, pc: number): string =>
    `o = t >>> 0; if (t2 === ${RegionTag.MEM} && o <= ${write ? 'M1W' : 'M1'} - ${size}) v = V1; else if (t2 === ${RegionTag.STACK} && o <= ${STACK_SIZE - size}) v = V2; ` +
    `else if ((t2 >>> 0) >= ${MAX_TAG} || (v = V[t2]) === undefined || o + ${size} > LN[t2]${write ? ' || WR[t2] === 0' : ''}) v = C(mem, t2, t, ${size}, ${write}, ${pc});`;

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
      let len = 0;
      for (let j = i; j < n && (j === i || !lead.has(j)); j++) {
        len++;
        if (insns[j]!.opcode === Op.LDDW) j++;
      }
      emit(`${looping[cur] ? `case ${i}: ` : ''}steps += ${len}; if (steps > maxSteps) throw new F("instruction budget of " + maxSteps + " exhausted", ${i});`);
    }
    const { opcode: op, off, imm } = x;
    if (x.dst > 10 || x.src > 10) {
      emit(fault(`invalid register r${Math.max(x.dst, x.src)}`, i));
      continue;
    }
    const [dl, dh] = R(x.dst);
    const [sl, sh] = R(x.src);
    const isX = (op & 8) !== 0;
    const bl = isX ? sl : `${imm}`;
    const bh = isX ? sh : `${imm >> 31}`;
    const c = cls(op);
    const code = op & 0xf0;
    if (isAluClass(c)) {
      const w64 = c === Cls.ALU64;
      if (w64) {
        switch (code) {
          case 0x00: emit(`t = (${dl} + ${bl}) | 0; ${dh} = (${dh} + ${bh} + ((t >>> 0) < (${dl} >>> 0) ? 1 : 0)) | 0; ${dl} = t;`); continue;
          case 0x10: emit(`t = (${dl} - ${bl}) | 0; ${dh} = (${dh} - ${bh} - ((${dl} >>> 0) < (${bl} >>> 0) ? 1 : 0)) | 0; ${dl} = t;`); continue;
          case 0x20: // low 64 bits of the product; the high word of lo*lo from the double product, see u64.mul64
            emit(`m = Math.imul(${dl}, ${bl}); x = (${dl} >>> 0) * (${bl} >>> 0); ${dh} = (Math.round((x - (m >>> 0)) / 4294967296) + Math.imul(${dl}, ${bh}) + Math.imul(${dh}, ${bl})) | 0; ${dl} = m;`);
            continue;
          case 0x30: case 0x90: {
            if (off !== 0 && off !== 1) break;
            const fn = code === 0x30 ? (off ? 'sdiv64' : 'udiv64') : off ? 'smod64' : 'umod64';
            const zero = code === 0x30 ? `${dl} = 0; ${dh} = 0;` : '';
            const body = `U.${fn}(${dl}, ${dh}, ${bl}, ${bh}); ${dl} = O[0]; ${dh} = O[1];`;
            if (!isX) emit(imm === 0 ? zero : body);
            else emit(`if ((${sl} | ${sh}) === 0) { ${zero} } else { ${body} }`);
            continue;
          }
          case 0x40: emit(`${dl} |= ${bl}; ${dh} |= ${bh};`); continue;
          case 0x50: emit(`${dl} &= ${bl}; ${dh} &= ${bh};`); continue;
          case 0xa0: emit(`${dl} ^= ${bl}; ${dh} ^= ${bh};`); continue;
          case 0x60: case 0x70: case 0xc0: {
            const fn = code === 0x60 ? 'lsh64' : code === 0x70 ? 'rsh64' : 'arsh64';
            if (isX) { emit(`U.${fn}(${dl}, ${dh}, ${sl}); ${dl} = O[0]; ${dh} = O[1];`); continue; }
            const k = imm & 63;
            if (k === 0) continue;
            if (code === 0x60) emit(k < 32 ? `${dh} = (${dh} << ${k}) | (${dl} >>> ${32 - k}); ${dl} = ${dl} << ${k};` : `${dh} = ${dl} << ${k - 32}; ${dl} = 0;`);
            else if (code === 0x70) emit(k < 32 ? `${dl} = (${dl} >>> ${k}) | (${dh} << ${32 - k}); ${dh} = (${dh} >>> ${k}) | 0;` : `${dl} = (${dh} >>> ${k - 32}) | 0; ${dh} = 0;`);
            else emit(k < 32 ? `${dl} = (${dl} >>> ${k}) | (${dh} << ${32 - k}); ${dh} = ${dh} >> ${k};` : `${dl} = ${dh} >> ${k - 32}; ${dh} = ${dh} >> 31;`);
            continue;
          }
          case 0x80: if (!isX) { emit(`t = -${dl} | 0; ${dh} = (~${dh} + (${dl} === 0 ? 1 : 0)) | 0; ${dl} = t;`); continue; } break;
          case 0xb0:
            if (!isX || off === 0) { emit(`${dl} = ${bl}; ${dh} = ${bh};`); continue; }
            if (off === 8) { emit(`${dl} = (${sl} << 24) >> 24; ${dh} = ${dl} >> 31;`); continue; }
            if (off === 16) { emit(`${dl} = (${sl} << 16) >> 16; ${dh} = ${dl} >> 31;`); continue; }
            if (off === 32) { emit(`${dl} = ${sl}; ${dh} = ${dl} >> 31;`); continue; }
            break;
          case 0xd0:
            if (isX) break;
            if (imm === 16) { emit(`${dl} = U.bswap16(${dl}); ${dh} = 0;`); continue; }
            if (imm === 32) { emit(`${dl} = U.bswap32(${dl}); ${dh} = 0;`); continue; }
            if (imm === 64) { emit(`t = U.bswap32(${dh}); ${dh} = U.bswap32(${dl}); ${dl} = t;`); continue; }
            break;
        }
      } else {
        const z = `${dh} = 0;`;
        switch (code) {
          case 0x00: emit(`${dl} = (${dl} + ${bl}) | 0; ${z}`); continue;
          case 0x10: emit(`${dl} = (${dl} - ${bl}) | 0; ${z}`); continue;
          case 0x20: emit(`${dl} = Math.imul(${dl}, ${bl}); ${z}`); continue;
          case 0x30: case 0x90: {
            if (off !== 0 && off !== 1) break;
            const q = code === 0x30
              ? (off ? `U.sdiv32(${dl}, ${bl})` : `((${dl} >>> 0) / (${bl} >>> 0)) | 0`)
              : (off ? `U.smod32(${dl}, ${bl})` : `((${dl} >>> 0) % (${bl} >>> 0)) | 0`);
            // division by zero: 0; modulo by zero: dst unchanged (upper half zeroed)
            const onZero = code === 0x30 ? `${dl} = 0;` : '';
            if (!isX) emit(imm === 0 ? `${onZero} ${z}` : `${dl} = ${q}; ${z}`);
            else emit(`if (${sl} === 0) { ${onZero} } else { ${dl} = ${q}; } ${z}`);
            continue;
          }
          case 0x40: emit(`${dl} |= ${bl}; ${z}`); continue;
          case 0x50: emit(`${dl} &= ${bl}; ${z}`); continue;
          case 0xa0: emit(`${dl} ^= ${bl}; ${z}`); continue;
          case 0x60: emit(`${dl} = ${dl} << ${isX ? `(${sl} & 31)` : imm & 31}; ${z}`); continue;
          case 0x70: emit(`${dl} = (${dl} >>> ${isX ? `(${sl} & 31)` : imm & 31}) | 0; ${z}`); continue;
          case 0xc0: emit(`${dl} = ${dl} >> ${isX ? `(${sl} & 31)` : imm & 31}; ${z}`); continue;
          case 0x80: if (!isX) { emit(`${dl} = -${dl} | 0; ${z}`); continue; } break;
          case 0xb0:
            if (!isX || off === 0) { emit(`${dl} = ${bl}; ${z}`); continue; }
            if (off === 8) { emit(`${dl} = (${sl} << 24) >> 24; ${z}`); continue; }
            if (off === 16) { emit(`${dl} = (${sl} << 16) >> 16; ${z}`); continue; }
            break;
          case 0xd0:
            if (op === Op.LE) {
              if (imm === 16) { emit(`${dl} &= 0xffff; ${z}`); continue; }
              if (imm === 32) { emit(z); continue; }
              if (imm === 64) continue;
            } else if (op === Op.BE) {
              if (imm === 16) { emit(`${dl} = U.bswap16(${dl}); ${z}`); continue; }
              if (imm === 32) { emit(`${dl} = U.bswap32(${dl}); ${z}`); continue; }
              if (imm === 64) { emit(`t = U.bswap32(${dh}); ${dh} = U.bswap32(${dl}); ${dl} = t;`); continue; }
            }
            break;
        }
      }
      emit(unsupported(op, i));
      continue;
    }
    if (isJmpClass(c)) {
      const target = branchTarget(x, i);
      if (op === Op.JA || op === Op.JA32) { emit(goto(target!, i)); continue; }
      if (op === Op.EXIT) {
        const restore = [6, 7, 8, 9].map((r, k) => `r${r}l = SV[depth * 8 + ${k}]; r${r}h = SV[depth * 8 + ${4 + k}];`).join(' ');
        emit(`if (depth === 0) { out[0] = r0l; out[1] = r0h; pc = -2; break L; } depth--; ${restore} r10l = ${FP0} - depth * ${FRAME_SIZE}; mem.leaveFrame(depth); pc = RP[depth]; ${dispatch()}`);
        continue;
      }
      if (op === Op.CALL && x.src === CallSrc.LOCAL) {
        const save = [6, 7, 8, 9].map((r, k) => `SV[depth * 8 + ${k}] = r${r}l; SV[depth * 8 + ${4 + k}] = r${r}h;`).join(' ');
        emit(`if (depth + 1 >= ${MAX_FRAMES}) throw new F("call depth exceeds ${MAX_FRAMES} frames", ${i}); RP[depth] = ${i + 1}; ${save} depth++; r10l = ${FP0} - depth * ${FRAME_SIZE}; mem.enterFrame(depth); ${goto(target!, i)}`);
        continue;
      }
      if ((op === Op.CALL && x.src === CallSrc.HELPER) || op === Op.CALLX) {
        const id = op === Op.CALL ? `${imm}` : dl;
        const guard = op === Op.CALLX ? `if (${dh} !== 0) throw new F("callx target is not a helper id", ${i}); ` : '';
        emit(`${guard}H(helpers, mem, ${id}, r1l, r1h, r2l, r2h, r3l, r3h, r4l, r4h, r5l, r5h, ${i}); r0l = O[0]; r0h = O[1];`);
        continue;
      }
      const jop = code;
      let cond: string | undefined;
      if (c === Cls.JMP) {
        switch (jop) {
          case 0x10: cond = `${dl} === ${bl} && ${dh} === ${bh}`; break;
          case 0x50: cond = `${dl} !== ${bl} || ${dh} !== ${bh}`; break;
          case 0x40: cond = `(${dl} & ${bl}) !== 0 || (${dh} & ${bh}) !== 0`; break;
          case 0x20: cond = `(${dh} >>> 0) > (${bh} >>> 0) || (${dh} === ${bh} && (${dl} >>> 0) > (${bl} >>> 0))`; break;
          case 0x30: cond = `(${dh} >>> 0) > (${bh} >>> 0) || (${dh} === ${bh} && (${dl} >>> 0) >= (${bl} >>> 0))`; break;
          case 0xa0: cond = `(${dh} >>> 0) < (${bh} >>> 0) || (${dh} === ${bh} && (${dl} >>> 0) < (${bl} >>> 0))`; break;
          case 0xb0: cond = `(${dh} >>> 0) < (${bh} >>> 0) || (${dh} === ${bh} && (${dl} >>> 0) <= (${bl} >>> 0))`; break;
          case 0x60: cond = `${dh} > ${bh} || (${dh} === ${bh} && (${dl} >>> 0) > (${bl} >>> 0))`; break;
          case 0x70: cond = `${dh} > ${bh} || (${dh} === ${bh} && (${dl} >>> 0) >= (${bl} >>> 0))`; break;
          case 0xc0: cond = `${dh} < ${bh} || (${dh} === ${bh} && (${dl} >>> 0) < (${bl} >>> 0))`; break;
          case 0xd0: cond = `${dh} < ${bh} || (${dh} === ${bh} && (${dl} >>> 0) <= (${bl} >>> 0))`; break;
        }
      } else {
        switch (jop) {
          case 0x10: cond = `${dl} === ${bl}`; break;
          case 0x50: cond = `${dl} !== ${bl}`; break;
          case 0x40: cond = `(${dl} & ${bl}) !== 0`; break;
          case 0x20: cond = `(${dl} >>> 0) > (${bl} >>> 0)`; break;
          case 0x30: cond = `(${dl} >>> 0) >= (${bl} >>> 0)`; break;
          case 0xa0: cond = `(${dl} >>> 0) < (${bl} >>> 0)`; break;
          case 0xb0: cond = `(${dl} >>> 0) <= (${bl} >>> 0)`; break;
          case 0x60: cond = `${dl} > ${bl}`; break;
          case 0x70: cond = `${dl} >= ${bl}`; break;
          case 0xc0: cond = `${dl} < ${bl}`; break;
          case 0xd0: cond = `${dl} <= ${bl}`; break;
        }
      }
      if (cond === undefined) emit(unsupported(op, i));
      else emit(`if (${cond}) { ${goto(target!, i)} }`);
      continue;
    }
    if (op === Op.LDDW) {
      if (x.src !== 0) emit(fault(`lddw with src ${x.src} (map/variable references) is not supported`, i));
      else if (i + 1 >= n) emit(fault('lddw without its second slot', i));
      else emit(`${dl} = ${imm}; ${dh} = ${insns[i + 1]!.imm | 0};`);
      if (lead.has(i + 1)) emit(goto(i + 2, i));
      else i++;
      continue;
    }
    const size = sizeBytes(op);
    if (c === Cls.LDX && ((op & 0xe0) === Mode.MEM || ((op & 0xe0) === Mode.MEMSX && size !== 8))) {
      const sx = (op & 0xe0) === Mode.MEMSX;
      const rd = size === 8 ? `${dl} = v.getInt32(o, true); ${dh} = v.getInt32(o + 4, true);`
        : size === 4 ? `${dl} = v.getInt32(o, true); ${dh} = ${sx ? `${dl} >> 31` : '0'};`
          : size === 2 ? `${dl} = v.${sx ? 'getInt16' : 'getUint16'}(o, true); ${dh} = ${sx ? `${dl} >> 31` : '0'};`
            : `${dl} = v.${sx ? 'getInt8' : 'getUint8'}(o); ${dh} = ${sx ? `${dl} >> 31` : '0'};`;
      emit(`${addr(x.src, off)} ${check(size, false, i)} ${rd}`);
      continue;
    }
    if ((c === Cls.ST || c === Cls.STX) && (op & 0xe0) === Mode.MEM) {
      const vl = c === Cls.ST ? `${imm}` : sl;
      const vh = c === Cls.ST ? `${imm >> 31}` : sh;
      const wr = size === 8 ? `v.setInt32(o, ${vl}, true); v.setInt32(o + 4, ${vh}, true);`
        : size === 4 ? `v.setInt32(o, ${vl}, true);` : size === 2 ? `v.setInt16(o, ${vl}, true);` : `v.setInt8(o, ${vl});`;
      emit(`${addr(x.dst, off)} ${check(size, true, i)} ${wr}`);
      continue;
    }
    if (c === Cls.STX && (op & 0xe0) === Mode.ATOMIC && (size === 4 || size === 8)) {
      const w = size === 8;
      const sH = w ? sh : '0';
      let body: string | undefined;
      const oldRead = `ol = v.getInt32(o, true); oh = ${w ? 'v.getInt32(o + 4, true)' : '0'};`;
      const store = (nl: string, nh: string): string => `v.setInt32(o, ${nl}, true);${w ? ` v.setInt32(o + 4, ${nh}, true);` : ''}`;
      const fetch = (imm & 1) !== 0 ? ` ${sl} = ol; ${sh} = oh;` : '';
      switch (imm & ~1) {
        case 0x00: body = `nl = (ol + ${sl}) | 0; nh = (oh + ${sH} + ((nl >>> 0) < (ol >>> 0) ? 1 : 0)) | 0; ${store('nl', 'nh')}`; break;
        case 0x40: body = store(`ol | ${sl}`, `oh | ${sH}`); break;
        case 0x50: body = store(`ol & ${sl}`, `oh & ${sH}`); break;
        case 0xa0: body = store(`ol ^ ${sl}`, `oh ^ ${sH}`); break;
      }
      if (imm === 0xe1) body = store(sl, sH);
      if (imm === 0xf1) body = `if (ol === r0l${w ? ' && oh === r0h' : ''}) { ${store(sl, sH)} } r0l = ol; r0h = oh;`;
      if (!isAtomicOp(imm) || body === undefined) emit(fault(`unknown atomic operation 0x${(imm >>> 0).toString(16)}`, i));
      else emit(`${addr(x.dst, off)} ${check(size, true, i)} ${oldRead} ${body}${imm === 0xf1 ? '' : imm === 0xe1 ? ` ${sl} = ol; ${sh} = oh;` : fetch}`);
      continue;
    }
    emit(unsupported(op, i));
  }

  closeBlock(`throw new F("execution fell off the end of the program", ${n - 1});`);
  const load = Array.from({ length: 11 }, (_, r) => `r${r}l = R[${2 * r}], r${r}h = R[${2 * r + 1}]`).join(', ');
  const store = Array.from({ length: 11 }, (_, r) => `R[${2 * r}] = r${r}l; R[${2 * r + 1}] = r${r}h;`).join(' ');
  const chunkSrc = chunks.map((body, k) => `function c${k}(pc, R, ST, RP, SV, mem, maxSteps, out, helpers) {
  const V = mem.views, LN = mem.lens, WR = mem.writable;
  const V1 = V[${RegionTag.MEM}], M1 = V1 === undefined ? -1 : LN[${RegionTag.MEM}], M1W = WR[${RegionTag.MEM}] ? M1 : -1;
  const V2 = V[${RegionTag.STACK}];
  let ${load};
  let steps = ST[0], depth = ST[1], t = 0, t2 = 0, o = 0, ol = 0, oh = 0, nl = 0, nh = 0, m = 0, x = 0, v;
${looping[k] ? `  L: for (;;) {
    switch (pc) {
${body.join('\n')}
${k === chunks.length - 1 ? `      case -1: throw new F("execution fell off the end of the program", ${n - 1});` : ''}
      default: break L; // a return into another chunk (or an invalid pc: the driver reports it)
    }
  }` : `  L: {
${body.join('\n')}
  }`}
  ${store} ST[0] = steps; ST[1] = depth;
  return pc;
}`).join('\n');
  const source = `"use strict";
${chunkSrc}
const C_ = [${chunks.map((_, k) => `c${k}`).join(', ')}];
const chunkOf = new Int32Array([${Array.from(chunkOf).join(',')}]);
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
    if (pc < 0 || pc >= ${n} || isLead[pc] === 0) throw new F("jump to " + pc + " outside the program", pc);
    pc = C_[chunkOf[pc]](pc, R, ST, RP, SV, mem, maxSteps, out, helpers);
    if (pc === -2) return ST[0];
  }
}`;
  const factory = new Function('U', 'O', 'F', 'C', 'H', source) as (...a: unknown[]) => CompiledFn;
  const fn = factory(U, U.OUT, EbpfFault, checkSlow, callHelper);
  // r1-r5 in and r0 out, shared by every run: go() copies init before any helper can start a nested run, and a
  // nested run's r0 is read before the outer run writes its own
  const init = new Int32Array(10);
  const res = new Int32Array(2);
  return {
    source,
    run(opts: RunOptions): RunResult {
      U.argWords(opts.args ?? NO_ARGS, init);
      try {
        const steps = fn(opts.memory, init, opts.maxSteps ?? DEFAULT_MAX_STEPS, res, opts.helpers);
        return { ok: true, value: U.toBig(res[0]!, res[1]!), steps };
      } catch (e) {
        if (e instanceof EbpfFault) return { ok: false, error: e.message, pc: e.pc, steps: -1 };
        return { ok: false, error: `internal error: ${(e as Error)?.message ?? String(e)}`, pc: -1, steps: -1 };
      }
    },
  };
}

type CompiledFn = (mem: Memory, init: Int32Array, maxSteps: number, out: Int32Array, helpers: HelperRegistry | undefined) => number;

/** The slow path of an inline bounds check: Memory.check raises the fault; this adds the pc. */
function checkSlow(mem: Memory, hi: number, lo: number, size: number, write: boolean, pc: number): DataView {
  try {
    return mem.check(hi, lo, size, write);
  } catch (e) {
    if (e instanceof EbpfFault) e.pc = pc;
    throw e;
  }
}
