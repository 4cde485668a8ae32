// Compiler from eBPF to JavaScript (`new Function`): the hypervisor "compiling the verified bytecode back to
// native code" (seed paper section 3.1), with V8 doing the last step. Two code shapes (docs/ebpf.md):
//  - structured (programs whose control flow is well formed: what the verifier accepts, and more): each
//    subprogram (the entry and every target of `call local`) becomes one JS function, so a local call is a JS
//    call and a return is a JS return. Inside a function the control-flow graph becomes nested labelled
//    blocks and loops (`break`/`continue`, Ramsey's "Beyond Relooper" construction for reducible graphs), so
//    no jump dispatches at run time. Registers passed into and out of a call are the ones live across it
//    (liveness over all functions); r6-r9 are callee-saved by construction, since the caller's locals are
//    untouched by the callee's. Registers with a compile-time constant value (constant propagation) are folded
//    into multiplies, shifts, ALU operands and compares.
//  - general (anything else, and programs with a function too large for V8 to optimise): basic blocks are cases
//    of `for (;;) switch (pc)` (or an if-chain when loop-free), in chunks of at most CHUNK instructions, with
//    explicit frames (return pc and r6-r9 in typed arrays).
// Both: registers are JS locals (r0l/r0h .. r10l/r10h, int32 lo/hi words); immediates, shift counts, sizes and
// offsets are folded; every memory access is bounds-checked inline against the granted regions (one compare on
// the region tag, one on the offset), the slow path calling Memory.check, which raises the fault; each block
// counts its instructions against the run-time budget, so the compiled code reports the interpreter's steps.
// Strict mode (Memory.strict, the verifier check) is interpreter-only: the compiled code does not track frames
// for it.
// Invariant: every register local holds an int32 (a `>>>` result is always re-normalised with `| 0`), since
// 32-bit compares and equality tests read the locals directly.
// Semantics are the interpreter's (RFC 9669); the conformance test runs both on every file, the fuzz test on
// thousands of random programs.

import { CallSrc, Cls, Mode, Op, branchTarget, cls, insnFault, isAluClass, isAtomicOp, isJmpClass, outsideProgram, sizeBytes, type Insn } from './isa.js';
import { EbpfFault, FRAME_SIZE, MAX_FRAMES, MAX_TAG, RegionTag, STACK_SIZE, framePointer, type Memory } from './Memory.js';
import { callHelper, type HelperRegistry } from './helpers.js';
import { DEFAULT_MAX_STEPS, type RunOptions, type RunResult } from './interpreter.js';
import * as U from './u64.js';

export interface CompiledProgram {
  /** Run the compiled code. Never throws for anything the program does. (`strict` is interpreter-only.) */
  run(opts: RunOptions): RunResult;
  /** The generated JavaScript (for inspection). */
  readonly source: string;
  /** Which code shape was generated (see the file comment). */
  readonly shape: 'structured' | 'general';
}

const FP0 = framePointer(0);
const NO_ARGS: readonly bigint[] = [];

// ---- code for single instructions (both shapes) ----

type Const = readonly [number, number];
const R = (r: number): [string, string] => [`r${r}l`, `r${r}h`];
const fault = (msg: string, pc: number): string => `throw new F(${JSON.stringify(msg)}, ${pc});`;
/** Control reaching t outside a program of n slots: the interpreter's fault, at t. */
const outside = (t: number, n: number): string => fault(outsideProgram(t, n), t);

/** Address computation into t (lo) / t2 (hi) for base register b plus offset off. */
const addr = (b: number, off: number): string => {
  const [bl, bh] = R(b);
  if (off === 0) return `t = ${bl}; t2 = ${bh};`;
  const carry = off > 0 ? `((t >>> 0) < (${bl} >>> 0) ? 1 : 0)` : `((t >>> 0) > (${bl} >>> 0) ? -1 : 0)`;
  return `t = (${bl} + ${off}) | 0; t2 = (${bh} + ${carry}) | 0;`;
};

// Fast paths for the program memory and the stack (regions held in variables), else the general check.
const check = (size: number, write: boolean, pc: number): string =>
  `o = t >>> 0; if (t2 === ${RegionTag.MEM} && o <= ${write ? 'M1W' : 'M1'} - ${size}) v = V1; else if (t2 === ${RegionTag.STACK} && o <= ${STACK_SIZE - size}) v = V2; ` +
  `else if ((t2 >>> 0) >= ${MAX_TAG} || (v = V[t2]) === undefined || o + ${size} > LN[t2]${write ? ' || WR[t2] === 0' : ''}) v = C(mem, t2, t, ${size}, ${write}, ${pc});`;

/**
 * dst *= the 64-bit constant (cl, ch), low 64 bits. The high word of the unsigned 32x32 product dl * cl is
 * exact in doubles when cl < 2^21 (product < 2^53); otherwise dl is split into 16-bit halves, each product
 * < 2^48 and exact. No rounding step as in u64.mul64.
 */
function mulConst(dl: string, dh: string, cl: number, ch: number): string {
  const B = cl >>> 0;
  const byHi = ch !== 0 ? ` + Math.imul(${dl}, ${ch})` : '';
  if (B === 0) return `${dh} = ${ch !== 0 ? `Math.imul(${dl}, ${ch})` : '0'}; ${dl} = 0;`;
  if (B === 1) return byHi === '' ? '' : `${dh} = (${dh}${byHi}) | 0;`;
  const hi32 = B < 0x200000
    ? `((${dl} >>> 0) * ${B} / 4294967296 | 0)`
    : `(((${dl} >>> 16) * ${B} + ((${dl} & 65535) * ${B} / 65536 >>> 0)) / 65536 | 0)`;
  return `m = Math.imul(${dl}, ${cl}); ${dh} = (${hi32}${byHi} + Math.imul(${dh}, ${cl})) | 0; ${dl} = m;`;
}

/**
 * JS for an ALU, load, store or atomic instruction (not jumps, calls, exit or LDDW); undefined when the opcode
 * is not supported. `srcKnown`: the src register's value when the compiler knows it (ALU with a register
 * operand), folded like an immediate.
 */
function insnCode(x: Insn, i: number, srcKnown?: Const, frameR10 = false): string | undefined {
  const { opcode: op, off, imm } = x;
  const c = cls(op);
  const code = op & 0xf0;
  const isX = (op & 8) !== 0;
  const [dl, dh] = R(x.dst);
  let [sl, sh] = R(x.src);
  // the second operand when known at compile time: the immediate, or a register with a known value
  const bk: Const | undefined = !isX ? [imm, imm >> 31] : isAluClass(c) ? srcKnown : undefined;
  if (isX && bk !== undefined) {
    sl = `${bk[0]}`;
    sh = `${bk[1]}`;
  }
  const bl = isX ? sl : `${imm}`;
  const bh = isX ? sh : `${imm >> 31}`;
  if (isAluClass(c)) {
    const w64 = c === Cls.ALU64;
    if (w64) {
      switch (code) {
        case 0x00: return `t = (${dl} + ${bl}) | 0; ${dh} = (${dh} + ${bh} + ((t >>> 0) < (${dl} >>> 0) ? 1 : 0)) | 0; ${dl} = t;`;
        case 0x10: return `t = (${dl} - ${bl}) | 0; ${dh} = (${dh} - ${bh} - ((${dl} >>> 0) < (${bl} >>> 0) ? 1 : 0)) | 0; ${dl} = t;`;
        case 0x20: // low 64 bits of the product; the high word of lo*lo from the double product, see u64.mul64
          if (bk !== undefined) return mulConst(dl, dh, bk[0], bk[1]);
          return `m = Math.imul(${dl}, ${bl}); x = (${dl} >>> 0) * (${bl} >>> 0); ${dh} = (Math.round((x - (m >>> 0)) / 4294967296) + Math.imul(${dl}, ${bh}) + Math.imul(${dh}, ${bl})) | 0; ${dl} = m;`;
        case 0x30: case 0x90: {
          if (off !== 0 && off !== 1) break;
          const fn = code === 0x30 ? (off ? 'sdiv64' : 'udiv64') : off ? 'smod64' : 'umod64';
          const zero = code === 0x30 ? `${dl} = 0; ${dh} = 0;` : '';
          const body = `U.${fn}(${dl}, ${dh}, ${bl}, ${bh}); ${dl} = O[0]; ${dh} = O[1];`;
          if (!isX) return imm === 0 ? zero : body;
          return `if ((${sl} | ${sh}) === 0) { ${zero} } else { ${body} }`;
        }
        case 0x40: return `${dl} |= ${bl}; ${dh} |= ${bh};`;
        case 0x50: return `${dl} &= ${bl}; ${dh} &= ${bh};`;
        case 0xa0: return `${dl} ^= ${bl}; ${dh} ^= ${bh};`;
        case 0x60: case 0x70: case 0xc0: {
          const fn = code === 0x60 ? 'lsh64' : code === 0x70 ? 'rsh64' : 'arsh64';
          if (isX && bk === undefined) return `U.${fn}(${dl}, ${dh}, ${sl}); ${dl} = O[0]; ${dh} = O[1];`;
          const k = (bk !== undefined ? bk[0] : imm) & 63;
          if (k === 0) return '';
          if (code === 0x60) return k < 32 ? `${dh} = (${dh} << ${k}) | (${dl} >>> ${32 - k}); ${dl} = ${dl} << ${k};` : `${dh} = ${dl} << ${k - 32}; ${dl} = 0;`;
          if (code === 0x70) return k < 32 ? `${dl} = (${dl} >>> ${k}) | (${dh} << ${32 - k}); ${dh} = (${dh} >>> ${k}) | 0;` : `${dl} = (${dh} >>> ${k - 32}) | 0; ${dh} = 0;`;
          return k < 32 ? `${dl} = (${dl} >>> ${k}) | (${dh} << ${32 - k}); ${dh} = ${dh} >> ${k};` : `${dl} = ${dh} >> ${k - 32}; ${dh} = ${dh} >> 31;`;
        }
        case 0x80: if (!isX) { return `t = -${dl} | 0; ${dh} = (~${dh} + (${dl} === 0 ? 1 : 0)) | 0; ${dl} = t;`; } break;
        case 0xb0:
          if (!isX || off === 0) { return `${dl} = ${bl}; ${dh} = ${bh};`; }
          if (off === 8) { return `${dl} = (${sl} << 24) >> 24; ${dh} = ${dl} >> 31;`; }
          if (off === 16) { return `${dl} = (${sl} << 16) >> 16; ${dh} = ${dl} >> 31;`; }
          if (off === 32) { return `${dl} = ${sl}; ${dh} = ${dl} >> 31;`; }
          break;
        case 0xd0:
          if (isX) break;
          if (imm === 16) { return `${dl} = U.bswap16(${dl}); ${dh} = 0;`; }
          if (imm === 32) { return `${dl} = U.bswap32(${dl}); ${dh} = 0;`; }
          if (imm === 64) { return `t = U.bswap32(${dh}); ${dh} = U.bswap32(${dl}); ${dl} = t;`; }
          break;
      }
    } else {
      const z = `${dh} = 0;`;
      switch (code) {
        case 0x00: return `${dl} = (${dl} + ${bl}) | 0; ${z}`;
        case 0x10: return `${dl} = (${dl} - ${bl}) | 0; ${z}`;
        case 0x20: return `${dl} = Math.imul(${dl}, ${bl}); ${z}`;
        case 0x30: case 0x90: {
          if (off !== 0 && off !== 1) break;
          const q = code === 0x30
            ? (off ? `U.sdiv32(${dl}, ${bl})` : `((${dl} >>> 0) / (${bl} >>> 0)) | 0`)
            : (off ? `U.smod32(${dl}, ${bl})` : `((${dl} >>> 0) % (${bl} >>> 0)) | 0`);
          // division by zero: 0; modulo by zero: dst unchanged (upper half zeroed)
          const onZero = code === 0x30 ? `${dl} = 0;` : '';
          if (!isX) return imm === 0 ? `${onZero} ${z}` : `${dl} = ${q}; ${z}`;
          return `if (${sl} === 0) { ${onZero} } else { ${dl} = ${q}; } ${z}`;
        }
        case 0x40: return `${dl} |= ${bl}; ${z}`;
        case 0x50: return `${dl} &= ${bl}; ${z}`;
        case 0xa0: return `${dl} ^= ${bl}; ${z}`;
        case 0x60: return `${dl} = ${dl} << ${isX ? `(${sl} & 31)` : imm & 31}; ${z}`;
        case 0x70: return `${dl} = (${dl} >>> ${isX ? `(${sl} & 31)` : imm & 31}) | 0; ${z}`;
        case 0xc0: return `${dl} = ${dl} >> ${isX ? `(${sl} & 31)` : imm & 31}; ${z}`;
        case 0x80: if (!isX) { return `${dl} = -${dl} | 0; ${z}`; } break;
        case 0xb0:
          if (!isX || off === 0) { return `${dl} = ${bl}; ${z}`; }
          if (off === 8) { return `${dl} = (${sl} << 24) >> 24; ${z}`; }
          if (off === 16) { return `${dl} = (${sl} << 16) >> 16; ${z}`; }
          break;
        case 0xd0:
          if (op === Op.LE) {
            if (imm === 16) { return `${dl} &= 0xffff; ${z}`; }
            if (imm === 32) { return z; }
            if (imm === 64) return '';
          } else if (op === Op.BE) {
            if (imm === 16) { return `${dl} = U.bswap16(${dl}); ${z}`; }
            if (imm === 32) { return `${dl} = U.bswap32(${dl}); ${z}`; }
            if (imm === 64) { return `t = U.bswap32(${dh}); ${dh} = U.bswap32(${dl}); ${dl} = t;`; }
          }
          break;
      }
    }
    return undefined;
  }
  const size = sizeBytes(op);
  // Address and bounds check. With frameR10 (r10 never written: r10 = the stack tag and 4096 - 512 * depth,
  // depth 0..7), an access at r10 + off with -512 <= off <= -size is inside the stack region at every depth.
  const at = (b: number, write: boolean): string =>
    frameR10 && b === 10 && off >= -FRAME_SIZE && off <= -size ? `o = r10l + ${off}; v = V2;` : `${addr(b, off)} ${check(size, write, i)}`;
  if (c === Cls.LDX && ((op & 0xe0) === Mode.MEM || ((op & 0xe0) === Mode.MEMSX && size !== 8))) {
    const sx = (op & 0xe0) === Mode.MEMSX;
    const rd = size === 8 ? `${dl} = v.getInt32(o, true); ${dh} = v.getInt32(o + 4, true);`
      : size === 4 ? `${dl} = v.getInt32(o, true); ${dh} = ${sx ? `${dl} >> 31` : '0'};`
        : size === 2 ? `${dl} = v.${sx ? 'getInt16' : 'getUint16'}(o, true); ${dh} = ${sx ? `${dl} >> 31` : '0'};`
          : `${dl} = v.${sx ? 'getInt8' : 'getUint8'}(o); ${dh} = ${sx ? `${dl} >> 31` : '0'};`;
    return `${at(x.src, false)} ${rd}`;
  }
  if ((c === Cls.ST || c === Cls.STX) && (op & 0xe0) === Mode.MEM) {
    const vl = c === Cls.ST ? `${imm}` : sl;
    const vh = c === Cls.ST ? `${imm >> 31}` : sh;
    const wr = size === 8 ? `v.setInt32(o, ${vl}, true); v.setInt32(o + 4, ${vh}, true);`
      : size === 4 ? `v.setInt32(o, ${vl}, true);` : size === 2 ? `v.setInt16(o, ${vl}, true);` : `v.setInt8(o, ${vl});`;
    return `${at(x.dst, true)} ${wr}`;
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
    if (!isAtomicOp(imm) || body === undefined) return undefined;
    return `${at(x.dst, true)} ${oldRead} ${body}${imm === 0xf1 ? '' : imm === 0xe1 ? ` ${sl} = ol; ${sh} = oh;` : fetch}`;
  }
  return undefined;
}

/**
 * The code of an instruction the engines do not execute (a register, opcode or field outside what they run):
 * the interpreter's fault (isa.insnFault), raised where the interpreter raises it (for an atomic with an
 * undefined operation, after its memory access has been checked).
 */
function faultCode(insns: readonly Insn[], i: number): string {
  const x = insns[i]!, op = x.opcode;
  const msg = insnFault(op, x.dst, x.src, x.off, x.imm, i + 1 < insns.length);
  if (msg === undefined) return fault(`internal error: no code for instruction ${i} (opcode 0x${op.toString(16).padStart(2, '0')})`, i);
  if (x.dst <= 10 && x.src <= 10 && (op === 0xc3 || op === 0xdb)) return `${addr(x.dst, x.off)} ${check(sizeBytes(op), true, i)} ${fault(msg, i)}`;
  return fault(msg, i);
}

/** The condition of a conditional jump (JMP or JMP32 class), or undefined if it is not one. */
function jumpCond(x: Insn, srcKnown?: Const): string | undefined {
  const op = x.opcode;
  const [dl, dh] = R(x.dst);
  const isX = (op & 8) !== 0;
  const k = !isX ? ([x.imm, x.imm >> 31] as const) : srcKnown;
  const [bl, bh] = k !== undefined ? [`${k[0]}`, `${k[1]}`] : R(x.src);
  if (cls(op) === Cls.JMP) {
    switch (op & 0xf0) {
      case 0x10: return `${dl} === ${bl} && ${dh} === ${bh}`;
      case 0x50: return `${dl} !== ${bl} || ${dh} !== ${bh}`;
      case 0x40: return `(${dl} & ${bl}) !== 0 || (${dh} & ${bh}) !== 0`;
      case 0x20: return `(${dh} >>> 0) > (${bh} >>> 0) || (${dh} === ${bh} && (${dl} >>> 0) > (${bl} >>> 0))`;
      case 0x30: return `(${dh} >>> 0) > (${bh} >>> 0) || (${dh} === ${bh} && (${dl} >>> 0) >= (${bl} >>> 0))`;
      case 0xa0: return `(${dh} >>> 0) < (${bh} >>> 0) || (${dh} === ${bh} && (${dl} >>> 0) < (${bl} >>> 0))`;
      case 0xb0: return `(${dh} >>> 0) < (${bh} >>> 0) || (${dh} === ${bh} && (${dl} >>> 0) <= (${bl} >>> 0))`;
      case 0x60: return `${dh} > ${bh} || (${dh} === ${bh} && (${dl} >>> 0) > (${bl} >>> 0))`;
      case 0x70: return `${dh} > ${bh} || (${dh} === ${bh} && (${dl} >>> 0) >= (${bl} >>> 0))`;
      case 0xc0: return `${dh} < ${bh} || (${dh} === ${bh} && (${dl} >>> 0) < (${bl} >>> 0))`;
      case 0xd0: return `${dh} < ${bh} || (${dh} === ${bh} && (${dl} >>> 0) <= (${bl} >>> 0))`;
    }
  } else if (cls(op) === Cls.JMP32) {
    switch (op & 0xf0) {
      case 0x10: return `${dl} === ${bl}`;
      case 0x50: return `${dl} !== ${bl}`;
      case 0x40: return `(${dl} & ${bl}) !== 0`;
      case 0x20: return `(${dl} >>> 0) > (${bl} >>> 0)`;
      case 0x30: return `(${dl} >>> 0) >= (${bl} >>> 0)`;
      case 0xa0: return `(${dl} >>> 0) < (${bl} >>> 0)`;
      case 0xb0: return `(${dl} >>> 0) <= (${bl} >>> 0)`;
      case 0x60: return `${dl} > ${bl}`;
      case 0x70: return `${dl} >= ${bl}`;
      case 0xc0: return `${dl} < ${bl}`;
      case 0xd0: return `${dl} <= ${bl}`;
    }
  }
  return undefined;
}

// ---- the general shape ----

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

function generalSource(insns: readonly Insn[]): string {
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
      // the budget fault names the instruction that exceeds it, the (len - (steps - maxSteps))-th of the block
      const at = pcs[len - 1] === i + len - 1 ? `${i + len} - (steps - maxSteps)` : `[${pcs.join(', ')}][${len} - (steps - maxSteps)]`;
      emit(`${looping[cur] ? `case ${i}: ` : ''}steps += ${len}; if (steps > maxSteps) throw new F("instruction budget of " + maxSteps + " exhausted", ${at});`);
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
        emit(`if (depth === 0) { out[0] = r0l; out[1] = r0h; pc = -2; break L; } depth--; ${restore} r10l = ${FP0} - depth * ${FRAME_SIZE}; pc = RP[depth]; ${dispatch()}`);
        continue;
      }
      if (op === Op.CALL && x.src === CallSrc.LOCAL) {
        const save = [6, 7, 8, 9].map((r, k) => `SV[depth * 8 + ${k}] = r${r}l; SV[depth * 8 + ${4 + k}] = r${r}h;`).join(' ');
        emit(`if (depth + 1 >= ${MAX_FRAMES}) throw new F("call depth exceeds ${MAX_FRAMES} frames", ${i}); RP[depth] = ${i + 1}; ${save} depth++; r10l = ${FP0} - depth * ${FRAME_SIZE}; ${goto(target!, i)}`);
        continue;
      }
      if ((op === Op.CALL && x.src === CallSrc.HELPER) || op === Op.CALLX) {
        const id = op === Op.CALL ? `${imm}` : dl;
        const guard = op === Op.CALLX ? `if (${dh} !== 0) throw new F("callx target is not a helper id", ${i}); ` : '';
        emit(`${guard}H(helpers, mem, ${id}, r1l, r1h, r2l, r2h, r3l, r3h, r4l, r4h, r5l, r5h, ${i}); r0l = O[0]; r0h = O[1];`);
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
${looping[k] ? `  L: for (;;) {
    switch (pc) {
${body.join('\n')}
${k === chunks.length - 1 ? `      case -1: ${outside(n, n)} // falling off the end` : ''}
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
    if (pc < 0 || pc >= ${n} || isLead[pc] === 0) throw new F(pc < 0 || pc >= ${n} ? P(pc, ${n}) : "internal error: return to " + pc + ", not a block", pc);
    pc = C_[chunkOf[pc]](pc, R, ST, RP, SV, mem, maxSteps, out, helpers);
    if (pc === -2) return ST[0];
  }
}`;
  return source;
}

// ---- the structured shape ----

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

interface Block {
  start: number;
  /** Instruction indices (LDDW: its first slot only). */
  pcs: number[];
  /** Successors: fall-through/next first, then the jump target. */
  next: number; // block index or -1
  target: number; // block index or -1
  rpo: number;
}

interface Fn {
  start: number;
  end: number;
  blocks: Block[];
  /** Block indices in reverse postorder (reachable blocks only). */
  order: number[];
}

const isLocalCall = (x: Insn): boolean => x.opcode === Op.CALL && x.src === CallSrc.LOCAL;

/** Structured source, or undefined when the program needs the general shape. */
function structuredSource(insns: readonly Insn[]): string | undefined {
  const n = insns.length;
  if (n === 0) return undefined;
  // 1. instructions (LDDW second slots excluded) and what the structured shape supports
  const isInsn = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const x = insns[i]!;
    isInsn[i] = 1;
    if (insnFault(x.opcode, x.dst, x.src, x.off, x.imm, i + 1 < n) !== undefined) return undefined; // faults: general shape
    if ((useDef(x)[1] & (1 << 10)) !== 0) return undefined; // r10 is read-only (verifier rule 1)
    const op = x.opcode;
    if (op === Op.LDDW) {
      if (x.src !== 0 || i + 1 >= n) return undefined;
      i++;
    }
  }
  // 2. functions: the entry and every call target; jumps stay inside their function, nothing falls off its end
  const entrySet = new Set<number>([0]);
  for (let i = 0; i < n; i++) {
    if (!isInsn[i]) continue;
    const x = insns[i]!;
    const t = branchTarget(x, i);
    if (t !== undefined && !(t >= 0 && t < n && isInsn[t])) return undefined;
    if (isLocalCall(x)) entrySet.add(t!);
  }
  const mainCalled = insns.some((x, i) => isInsn[i] === 1 && isLocalCall(x) && branchTarget(x, i) === 0);
  const entries = [...entrySet].sort((a, b) => a - b);
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
  const falls = (x: Insn): boolean => x.opcode !== Op.EXIT && x.opcode !== Op.JA && x.opcode !== Op.JA32;
  for (let i = 0; i < n; i++) {
    if (!isInsn[i]) continue;
    const x = insns[i]!;
    const t = branchTarget(x, i);
    if (t !== undefined && !isLocalCall(x) && fnOf[t] !== fnOf[i]) return undefined;
    const nx = i + (x.opcode === Op.LDDW ? 2 : 1);
    if (falls(x) && (nx >= n || fnOf[nx] !== fnOf[i])) return undefined;
  }
  // 3. basic blocks (calls do not end a block), reverse postorder, dominators, reducibility
  const fns: Fn[] = entries.map((start, k) => ({ start, end: entries[k + 1] ?? n, blocks: [], order: [] }));
  for (const f of fns) {
    const lead = new Set<number>([f.start]);
    for (let i = f.start; i < f.end; i++) {
      if (!isInsn[i]) continue;
      const x = insns[i]!;
      if (!isJmpClass(cls(x.opcode)) || x.opcode === Op.CALL || x.opcode === Op.CALLX) continue;
      if (i + 1 < f.end) lead.add(i + 1);
      const t = branchTarget(x, i);
      if (t !== undefined) lead.add(t);
    }
    const blockAt = new Map<number, number>();
    for (let i = f.start; i < f.end; i++) {
      if (!isInsn[i]) continue;
      if (lead.has(i)) {
        blockAt.set(i, f.blocks.length);
        f.blocks.push({ start: i, pcs: [], next: -1, target: -1, rpo: -1 });
      }
      f.blocks[f.blocks.length - 1]!.pcs.push(i);
    }
    for (const b of f.blocks) {
      const last = b.pcs[b.pcs.length - 1]!;
      const x = insns[last]!;
      const nx = last + (x.opcode === Op.LDDW ? 2 : 1);
      if (falls(x)) b.next = blockAt.get(nx)!;
      const isJump = isJmpClass(cls(x.opcode)) && x.opcode !== Op.CALL && x.opcode !== Op.CALLX && x.opcode !== Op.EXIT;
      if (isJump) b.target = blockAt.get(branchTarget(x, last)!)!;
    }
    // reverse postorder (iterative DFS)
    const post: number[] = [];
    const seen = new Uint8Array(f.blocks.length);
    const stack: Array<[number, number]> = [[0, 0]];
    seen[0] = 1;
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const b = f.blocks[top[0]]!;
      const succ = top[1] === 0 ? b.next : top[1] === 1 ? b.target : -2;
      top[1]++;
      if (succ === -2) {
        post.push(top[0]);
        stack.pop();
      } else if (succ >= 0 && !seen[succ]) {
        seen[succ] = 1;
        stack.push([succ, 0]);
      }
    }
    f.order = post.reverse();
    f.order.forEach((b, k) => { f.blocks[b]!.rpo = k; });
  }
  // dominators (Cooper, Harvey, Kennedy), per function
  const idoms = fns.map((f) => {
    const idom = new Int32Array(f.blocks.length).fill(-1);
    const preds: number[][] = f.blocks.map(() => []);
    for (const b of f.order) for (const s of [f.blocks[b]!.next, f.blocks[b]!.target]) if (s >= 0) preds[s]!.push(b);
    idom[0] = 0;
    const intersect = (a: number, b: number): number => {
      while (a !== b) {
        while (f.blocks[a]!.rpo > f.blocks[b]!.rpo) a = idom[a]!;
        while (f.blocks[b]!.rpo > f.blocks[a]!.rpo) b = idom[b]!;
      }
      return a;
    };
    for (let changed = true; changed;) {
      changed = false;
      for (const b of f.order) {
        if (b === 0) continue;
        let d = -1;
        for (const p of preds[b]!) if (idom[p]! >= 0) d = d < 0 ? p : intersect(p, d);
        if (d !== idom[b]) { idom[b] = d; changed = true; }
      }
    }
    return idom;
  });
  const dominates = (idom: Int32Array, a: number, b: number): boolean => {
    for (;;) {
      if (a === b) return true;
      if (b === 0) return false;
      b = idom[b]!;
    }
  };
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
  const budget: number[][] = []; // per block (global id): the pcs of its counted instructions
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
    /** The budget check for the counted instructions `pcs` (a budget fault names the exact instruction). */
    const count = (pcs: number[]): string => {
      budget.push(pcs);
      return `if ((rem -= ${pcs.length}) < 0) throw BF(rem + ${pcs.length}, ${budget.length - 1});`;
    };
    const blockCode = (bi: number): string => {
      const b = blocks[bi]!;
      const s = consts[k]![bi]!.slice();
      const out: string[] = [];
      // a local call does not end the block, but it does end a budget segment: the steps before the call are
      // checked before it (like the interpreter, whose budget and call-depth faults come in that order)
      let seg: number[] = [];
      for (const i of b.pcs) {
        seg.push(i);
        if (isLocalCall(insns[i]!) || i === b.pcs[b.pcs.length - 1]) {
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
        js = `${guard}H(helpers, mem, ${id}, r1l, r1h, r2l, r2h, r3l, r3h, r4l, r4h, r5l, r5h, ${i}); r0l = O[0]; r0h = O[1];`;
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
${body}
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
// per block: the pc of each counted instruction (the exact pc of a budget fault)
const BP = ${JSON.stringify(budget)};
function BF(k, b) {
  const p = BP[b];
  return new F("instruction budget of " + MS + " exhausted", p[k < 0 ? 0 : k >= p.length ? p.length - 1 : k]);
}
${fnSrc.join('\n')}
return function run(mem_, init, maxSteps, out_, helpers_) {
  if (mem_.views[${RegionTag.STACK}] === undefined || mem_.lens[${RegionTag.STACK}] !== ${STACK_SIZE}) throw new F("the memory has no stack region", 0);
  const outer = busy ? [mem, helpers, out, MS, V, LN, WR, V1, M1, M1W, V2] : undefined;
  busy = true;
  mem = mem_; helpers = helpers_; out = out_; MS = maxSteps;
  V = mem.views; LN = mem.lens; WR = mem.writable;
  V1 = V[${RegionTag.MEM}]; M1 = V1 === undefined ? -1 : LN[${RegionTag.MEM}]; M1W = WR[${RegionTag.MEM}] ? M1 : -1; V2 = V[${RegionTag.STACK}];
  // the budget counts down (one variable per block check); beyond 2^52 steps nothing is exact anyway
  const budget = maxSteps < 4503599627370496 ? maxSteps : 4503599627370496;
  try {
    return budget - f0(${['budget', '0', ...entryArgs].join(', ')});
  } finally {
    if (outer !== undefined) [mem, helpers, out, MS, V, LN, WR, V1, M1, M1W, V2] = outer;
    else mem = helpers = out = V = LN = WR = V1 = V2 = undefined;
    busy = outer !== undefined;
  }
};`;
}

// ---- compile ----

export function compile(insns: readonly Insn[]): CompiledProgram {
  const structured = structuredSource(insns);
  const source = structured ?? generalSource(insns);
  const factory = new Function('U', 'O', 'F', 'C', 'H', 'P', source) as (...a: unknown[]) => CompiledFn;
  const fn = factory(U, U.OUT, EbpfFault, checkSlow, callHelper, outsideProgram);
  // r1-r5 in and r0 out, shared by every run: the code reads init before any helper can start a nested run,
  // and a nested run's r0 is read before the outer run writes its own
  const init = new Int32Array(10);
  const res = new Int32Array(2);
  return {
    source,
    shape: structured !== undefined ? 'structured' : 'general',
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
