// Reference interpreter for RFC 9669 eBPF: every conformance group (base32/64, atomic32/64, divmul32/64) plus
// byte swaps, sign extension, 32-bit jumps, local calls and helper calls. Registers are int32 lo/hi pairs
// (exact 64-bit; see docs/ebpf.md for the measurement against BigInt). Every memory access goes through
// Memory.check; any fault (bounds, unknown opcode, budget, call depth) ends the run with an error result.

import { insnFault, isAtomicOp, outsideProgram, type Insn } from './isa.js';
import { EbpfFault, MAX_FRAMES, RegionTag, framePointer, type Memory } from './Memory.js';
import { callHelper, type HelperRegistry } from './helpers.js';
import {
  OUT, argWords, arsh64, bswap16, bswap32, lsh64, mul64, rsh64, sdiv32, sdiv64, slt64, smod32, smod64, toBig, udiv64, ult64, umod64,
} from './u64.js';

/**
 * `steps`: instructions executed plus the helpers' host work (helpers.ts), the same in both engines; for a
 * fault, up to and including the faulting instruction (maxSteps + 1 when the budget ran out).
 */
export type RunResult =
  | { ok: true; value: bigint; steps: number }
  | { ok: false; error: string; pc: number; steps: number };

export interface RunOptions {
  memory: Memory;
  /** Initial r1..r5 (u64). */
  args?: readonly bigint[];
  helpers?: HelperRegistry;
  /** Run-time instruction budget (the verifier's bound for loop-free code; required for looping code). */
  maxSteps?: number;
  /** Check every access against the verifier's granted regions in detail (Memory strict mode). */
  strict?: boolean;
  /**
   * Interpreter only: called before each instruction with its pc, the registers (lo/hi words) and the call
   * depth (the fuzz test's soundness oracle compares them with the verifier's abstract states).
   */
  onStep?: (pc: number, lo: Int32Array, hi: Int32Array, depth: number) => void;
}

export const DEFAULT_MAX_STEPS = 10_000_000;

/** A program pre-decoded into flat arrays (shared by the interpreter and the compiler). */
export interface Decoded {
  readonly length: number;
  readonly op: Uint8Array;
  readonly dst: Uint8Array;
  readonly src: Uint8Array;
  readonly off: Int32Array;
  readonly imm: Int32Array;
}

export function predecode(insns: readonly Insn[]): Decoded {
  const n = insns.length;
  const d = { length: n, op: new Uint8Array(n), dst: new Uint8Array(n), src: new Uint8Array(n), off: new Int32Array(n), imm: new Int32Array(n) };
  insns.forEach((x, i) => {
    d.op[i] = x.opcode;
    d.dst[i] = x.dst;
    d.src[i] = x.src;
    d.off[i] = x.off;
    d.imm[i] = x.imm;
  });
  return d;
}

const regIndex = (r: number, p: Decoded, pc: number): number => {
  if (r > 10) throw malformed(p, pc);
  return r;
};

/** The fault for the malformed instruction at pc (isa.insnFault: the message the compiled code raises too). */
function malformed(p: Decoded, pc: number): EbpfFault {
  const msg = insnFault(p.op[pc]!, p.dst[pc]!, p.src[pc]!, p.off[pc]!, p.imm[pc]!, pc + 1 < p.length);
  return new EbpfFault(msg ?? `internal error: instruction ${pc} is not malformed`, pc);
}

// Scratch registers and frames, reused by every run that is not nested in another (a helper may run a program).
interface Scratch { lo: Int32Array; hi: Int32Array; w: Int32Array; retPc: Int32Array; saved: Int32Array }
const newScratch = (): Scratch => ({
  lo: new Int32Array(11), hi: new Int32Array(11), w: new Int32Array(10), retPc: new Int32Array(MAX_FRAMES), saved: new Int32Array(MAX_FRAMES * 8),
});
const SCRATCH = newScratch();
let busy = false;

/** Run a program with the interpreter. Never throws for anything the program does. */
export function interpret(program: readonly Insn[] | Decoded, opts: RunOptions): RunResult {
  const nested = busy;
  busy = true;
  try {
    return run('op' in program ? program : predecode(program), opts, nested ? newScratch() : SCRATCH);
  } finally {
    busy = nested;
  }
}

/**
 * Continue a run in the middle of straight-line code: the compiled code's slow path when its budget runs out
 * inside a block (so that the instructions before the budget fault take effect exactly as here). `regs` holds
 * r0-r10 as lo/hi word pairs, `steps` the count so far; the run must end before any exit (it does: the budget
 * runs out inside the block).
 */
export function resume(p: Decoded, opts: RunOptions, pc: number, steps: number, depth: number, regs: ArrayLike<number>): RunResult {
  return run(p, opts, newScratch(), { pc, steps, depth, regs });
}

function run(p: Decoded, opts: RunOptions, scratch: Scratch, from?: { pc: number; steps: number; depth: number; regs: ArrayLike<number> }): RunResult {
  const mem = opts.memory;
  if (opts.strict) mem.enableStrict();
  const onStep = opts.onStep;
  const { lo, hi, w, retPc, saved } = scratch;
  lo.fill(0);
  hi.fill(0);
  argWords(opts.args ?? [], w);
  for (let i = 0; i < 5; i++) {
    lo[i + 1] = w[2 * i]!;
    hi[i + 1] = w[2 * i + 1]!;
  }
  lo[10] = framePointer(0);
  hi[10] = RegionTag.STACK;
  const maxSteps = opts.maxSteps ?? DEFAULT_MAX_STEPS;
  // Call frames (retPc, saved): return pc and the caller's r6-r9.
  let depth = 0;
  let pc = 0;
  let steps = 0;
  if (from !== undefined) {
    for (let r = 0; r <= 10; r++) {
      lo[r] = from.regs[2 * r]! | 0;
      hi[r] = from.regs[2 * r + 1]! | 0;
    }
    ({ pc, steps, depth } = from);
  }
  const { op: ops, dst: dsts, src: srcs, off: offs, imm: imms, length: n } = p;
  try {
    for (;;) {
      if (pc < 0 || pc >= n) throw new EbpfFault(outsideProgram(pc, n), pc);
      if (++steps > maxSteps) throw budgetFault(maxSteps, pc);
      if (onStep !== undefined) onStep(pc, lo, hi, depth);
      const op = ops[pc]!;
      const d = regIndex(dsts[pc]!, p, pc);
      const s = regIndex(srcs[pc]!, p, pc);
      const off = offs[pc]!;
      const imm = imms[pc]!;
      // Second operand: the src register (source bit X) or the sign-extended immediate (section 4).
      let blo: number, bhi: number;
      if (op & 8) {
        blo = lo[s]!;
        bhi = hi[s]!;
      } else {
        blo = imm;
        bhi = imm >> 31;
      }
      let alo = lo[d]!;
      let ahi = hi[d]!;
      let jump = false;
      switch (op) {
        // ---- ALU64 (section 4.1) ----
        case 0x07: case 0x0f: { // add
          const r = (alo + blo) | 0;
          hi[d] = (ahi + bhi + ((r >>> 0) < (alo >>> 0) ? 1 : 0)) | 0;
          lo[d] = r;
          break;
        }
        case 0x17: case 0x1f: { // sub
          const r = (alo - blo) | 0;
          hi[d] = (ahi - bhi - ((alo >>> 0) < (blo >>> 0) ? 1 : 0)) | 0;
          lo[d] = r;
          break;
        }
        case 0x27: case 0x2f: mul64(alo, ahi, blo, bhi); lo[d] = OUT[0]!; hi[d] = OUT[1]!; break;
        case 0x37: case 0x3f: // div / sdiv (offset 1)
          if (off !== 0 && off !== 1) throw malformed(p, pc);
          if (blo === 0 && bhi === 0) { lo[d] = 0; hi[d] = 0; break; }
          if (off === 1) sdiv64(alo, ahi, blo, bhi); else udiv64(alo, ahi, blo, bhi);
          lo[d] = OUT[0]!; hi[d] = OUT[1]!;
          break;
        case 0x47: case 0x4f: lo[d] = alo | blo; hi[d] = ahi | bhi; break;
        case 0x57: case 0x5f: lo[d] = alo & blo; hi[d] = ahi & bhi; break;
        case 0x67: case 0x6f: lsh64(alo, ahi, blo); lo[d] = OUT[0]!; hi[d] = OUT[1]!; break;
        case 0x77: case 0x7f: rsh64(alo, ahi, blo); lo[d] = OUT[0]!; hi[d] = OUT[1]!; break;
        case 0x87: { // neg
          const r = -alo | 0;
          hi[d] = (~ahi + (alo === 0 ? 1 : 0)) | 0;
          lo[d] = r;
          break;
        }
        case 0x97: case 0x9f: // mod / smod; modulo by zero leaves dst unchanged
          if (off !== 0 && off !== 1) throw malformed(p, pc);
          if (blo === 0 && bhi === 0) break;
          if (off === 1) smod64(alo, ahi, blo, bhi); else umod64(alo, ahi, blo, bhi);
          lo[d] = OUT[0]!; hi[d] = OUT[1]!;
          break;
        case 0xa7: case 0xaf: lo[d] = alo ^ blo; hi[d] = ahi ^ bhi; break;
        case 0xb7: lo[d] = blo; hi[d] = bhi; break;
        case 0xbf: // mov / movsx (section 4.1: offset 8/16/32 sign-extends)
          if (off === 0) { lo[d] = blo; hi[d] = bhi; }
          else if (off === 8) { lo[d] = (blo << 24) >> 24; hi[d] = lo[d]! >> 31; }
          else if (off === 16) { lo[d] = (blo << 16) >> 16; hi[d] = lo[d]! >> 31; }
          else if (off === 32) { lo[d] = blo; hi[d] = blo >> 31; }
          else throw malformed(p, pc);
          break;
        case 0xc7: case 0xcf: arsh64(alo, ahi, blo); lo[d] = OUT[0]!; hi[d] = OUT[1]!; break;
        case 0xd7: // bswap (section 4.2)
          if (imm === 16) { lo[d] = bswap16(alo); hi[d] = 0; }
          else if (imm === 32) { lo[d] = bswap32(alo); hi[d] = 0; }
          else if (imm === 64) { lo[d] = bswap32(ahi); hi[d] = bswap32(alo); }
          else throw malformed(p, pc);
          break;
        // ---- ALU (32-bit; the result is zero-extended) ----
        case 0x04: case 0x0c: lo[d] = (alo + blo) | 0; hi[d] = 0; break;
        case 0x14: case 0x1c: lo[d] = (alo - blo) | 0; hi[d] = 0; break;
        case 0x24: case 0x2c: lo[d] = Math.imul(alo, blo); hi[d] = 0; break;
        case 0x34: case 0x3c:
          if (off !== 0 && off !== 1) throw malformed(p, pc);
          if (blo === 0) lo[d] = 0;
          else lo[d] = off === 1 ? sdiv32(alo, blo) : ((alo >>> 0) / (blo >>> 0)) | 0;
          hi[d] = 0;
          break;
        case 0x44: case 0x4c: lo[d] = alo | blo; hi[d] = 0; break;
        case 0x54: case 0x5c: lo[d] = alo & blo; hi[d] = 0; break;
        case 0x64: case 0x6c: lo[d] = alo << (blo & 31); hi[d] = 0; break;
        case 0x74: case 0x7c: lo[d] = alo >>> (blo & 31); hi[d] = 0; break;
        case 0x84: lo[d] = -alo | 0; hi[d] = 0; break;
        case 0x94: case 0x9c: // modulo by zero: dst unchanged except the upper 32 bits are zeroed
          if (off !== 0 && off !== 1) throw malformed(p, pc);
          if (blo !== 0) lo[d] = off === 1 ? smod32(alo, blo) : (alo >>> 0) % (blo >>> 0) | 0;
          hi[d] = 0;
          break;
        case 0xa4: case 0xac: lo[d] = alo ^ blo; hi[d] = 0; break;
        case 0xb4: lo[d] = blo; hi[d] = 0; break;
        case 0xbc:
          if (off === 0) lo[d] = blo;
          else if (off === 8) lo[d] = (blo << 24) >> 24;
          else if (off === 16) lo[d] = (blo << 16) >> 16;
          else throw malformed(p, pc);
          hi[d] = 0;
          break;
        case 0xc4: case 0xcc: lo[d] = alo >> (blo & 31); hi[d] = 0; break;
        case 0xd4: // le: truncate (little-endian host order)
          if (imm === 16) { lo[d] = alo & 0xffff; hi[d] = 0; }
          else if (imm === 32) hi[d] = 0;
          else if (imm !== 64) throw malformed(p, pc);
          break;
        case 0xdc: // be: swap
          if (imm === 16) { lo[d] = bswap16(alo); hi[d] = 0; }
          else if (imm === 32) { lo[d] = bswap32(alo); hi[d] = 0; }
          else if (imm === 64) { lo[d] = bswap32(ahi); hi[d] = bswap32(alo); }
          else throw malformed(p, pc);
          break;
        // ---- JMP (64-bit compares; section 4.3) ----
        case 0x05: pc += off; break;
        case 0x15: case 0x1d: jump = alo === blo && ahi === bhi; break;
        case 0x25: case 0x2d: jump = ult64(blo, bhi, alo, ahi); break;
        case 0x35: case 0x3d: jump = !ult64(alo, ahi, blo, bhi); break;
        case 0x45: case 0x4d: jump = (alo & blo) !== 0 || (ahi & bhi) !== 0; break;
        case 0x55: case 0x5d: jump = alo !== blo || ahi !== bhi; break;
        case 0x65: case 0x6d: jump = slt64(blo, bhi, alo, ahi); break;
        case 0x75: case 0x7d: jump = !slt64(alo, ahi, blo, bhi); break;
        case 0xa5: case 0xad: jump = ult64(alo, ahi, blo, bhi); break;
        case 0xb5: case 0xbd: jump = !ult64(blo, bhi, alo, ahi); break;
        case 0xc5: case 0xcd: jump = slt64(alo, ahi, blo, bhi); break;
        case 0xd5: case 0xdd: jump = !slt64(blo, bhi, alo, ahi); break;
        // ---- JMP32 (compare the low 32 bits) ----
        case 0x06: pc += imm; break;
        case 0x16: case 0x1e: jump = alo === blo; break;
        case 0x26: case 0x2e: jump = alo >>> 0 > blo >>> 0; break;
        case 0x36: case 0x3e: jump = alo >>> 0 >= blo >>> 0; break;
        case 0x46: case 0x4e: jump = (alo & blo) !== 0; break;
        case 0x56: case 0x5e: jump = alo !== blo; break;
        case 0x66: case 0x6e: jump = alo > blo; break;
        case 0x76: case 0x7e: jump = alo >= blo; break;
        case 0xa6: case 0xae: jump = alo >>> 0 < blo >>> 0; break;
        case 0xb6: case 0xbe: jump = alo >>> 0 <= blo >>> 0; break;
        case 0xc6: case 0xce: jump = alo < blo; break;
        case 0xd6: case 0xde: jump = alo <= blo; break;
        // ---- calls and exit (section 4.3.1) ----
        case 0x85:
        case 0x8d: {
          if (op === 0x85 && s === 1) { // local call: new frame, r6-r9 preserved for the caller
            if (depth + 1 >= MAX_FRAMES) throw new EbpfFault(`call depth exceeds ${MAX_FRAMES} frames`, pc);
            retPc[depth] = pc + 1;
            for (let r = 0; r < 4; r++) {
              saved[depth * 8 + r] = lo[6 + r]!;
              saved[depth * 8 + 4 + r] = hi[6 + r]!;
            }
            depth++;
            // r10 is the new frame's pointer, both words (a program that wrote r10 must not move the callee's frame)
            lo[10] = framePointer(depth);
            hi[10] = RegionTag.STACK;
            mem.enterFrame(depth);
            pc += imm;
            break;
          }
          if (op === 0x85 && s !== 0) throw malformed(p, pc);
          const id = op === 0x85 ? imm : alo; // callx: helper id in dst (not in RFC 9669)
          if (op === 0x8d && ahi !== 0) throw new EbpfFault('callx target is not a helper id', pc);
          const work = callHelper(opts.helpers, mem, id, lo[1]!, hi[1]!, lo[2]!, hi[2]!, lo[3]!, hi[3]!, lo[4]!, hi[4]!, lo[5]!, hi[5]!, pc);
          lo[0] = OUT[0]!;
          hi[0] = OUT[1]!;
          // the helper's host work counts against the budget, after the call (helpers.ts)
          if (work !== 0 && (steps += work) > maxSteps) throw budgetFault(maxSteps, pc);
          break;
        }
        case 0x95:
          if (depth === 0) return { ok: true, value: toBig(lo[0]!, hi[0]!), steps };
          depth--;
          for (let r = 0; r < 4; r++) {
            lo[6 + r] = saved[depth * 8 + r]!;
            hi[6 + r] = saved[depth * 8 + 4 + r]!;
          }
          lo[10] = framePointer(depth);
          hi[10] = RegionTag.STACK;
          mem.leaveFrame(depth);
          pc = retPc[depth]! - 1;
          break;
        // ---- LDDW (section 5.4) ----
        case 0x18:
          if (s !== 0) throw malformed(p, pc);
          if (pc + 1 >= n) throw malformed(p, pc);
          lo[d] = imm;
          hi[d] = imms[pc + 1]!;
          pc++;
          break;
        // ---- loads (LDX MEM / MEMSX, section 5.2) ----
        case 0x61: case 0x69: case 0x71: case 0x79: case 0x81: case 0x89: case 0x91: {
          // isa.sizeBytes(op), written out: V8 does not inline calls into this large function (measured 15-20%
          // slower on the bench's filter program with the call)
          const size = ((op >> 3) & 3) === 3 ? 8 : 4 >> ((op >> 3) & 3);
          const a = (lo[s]! + off) | 0;
          const ah = (hi[s]! + (off >= 0 ? ((a >>> 0) < (lo[s]! >>> 0) ? 1 : 0) : ((a >>> 0) > (lo[s]! >>> 0) ? -1 : 0))) | 0;
          const v = mem.check(ah, a, size, false);
          const o = a >>> 0;
          switch (op) {
            case 0x61: lo[d] = v.getInt32(o, true); hi[d] = 0; break;
            case 0x69: lo[d] = v.getUint16(o, true); hi[d] = 0; break;
            case 0x71: lo[d] = v.getUint8(o); hi[d] = 0; break;
            case 0x79: lo[d] = v.getInt32(o, true); hi[d] = v.getInt32(o + 4, true); break;
            case 0x81: lo[d] = v.getInt32(o, true); hi[d] = lo[d]! >> 31; break;
            case 0x89: lo[d] = v.getInt16(o, true); hi[d] = lo[d]! >> 31; break;
            default: lo[d] = v.getInt8(o); hi[d] = lo[d]! >> 31; break;
          }
          break;
        }
        // ---- stores (ST / STX MEM) and atomics (section 5.3) ----
        case 0x62: case 0x6a: case 0x72: case 0x7a: case 0x63: case 0x6b: case 0x73: case 0x7b: case 0xc3: case 0xdb: {
          const size = ((op >> 3) & 3) === 3 ? 8 : 4 >> ((op >> 3) & 3); // isa.sizeBytes(op), see the loads
          const a = (alo + off) | 0;
          const ah = (ahi + (off >= 0 ? ((a >>> 0) < (alo >>> 0) ? 1 : 0) : ((a >>> 0) > (alo >>> 0) ? -1 : 0))) | 0;
          const o = a >>> 0;
          // ST stores the immediate (sign-extended for DW); STX the src register.
          const vlo = (op & 7) === 2 ? imm : lo[s]!;
          const vhi = (op & 7) === 2 ? imm >> 31 : hi[s]!;
          if (op === 0xc3 || op === 0xdb) {
            const v = mem.check(ah, a, size, true); // the access is checked before the operation
            if (!isAtomicOp(imm)) throw malformed(p, pc);
            atomic(v, o, size, imm, s, lo, hi);
            break;
          }
          const v = mem.check(ah, a, size, true);
          if (size === 4) v.setInt32(o, vlo, true);
          else if (size === 8) { v.setInt32(o, vlo, true); v.setInt32(o + 4, vhi, true); }
          else if (size === 2) v.setInt16(o, vlo, true);
          else v.setInt8(o, vlo);
          break;
        }
        default:
          throw malformed(p, pc);
      }
      if (jump) pc += off;
      pc++;
    }
  } catch (e) {
    if (e instanceof EbpfFault) return { ok: false, error: e.message, pc: e.pc >= 0 ? e.pc : pc, steps };
    // Anything else is a bug in this file, but still not allowed to escape as a host crash.
    return { ok: false, error: `internal error: ${(e as Error)?.message ?? String(e)}`, pc, steps };
  }
}

/** The fault when the budget runs out at pc (both engines raise this one). */
export const budgetFault = (maxSteps: number, pc: number): EbpfFault => new EbpfFault(`instruction budget of ${maxSteps} exhausted`, pc);

/** Atomic read-modify-write (single-threaded, so plain loads and stores are atomic). RFC 9669 section 5.3. */
function atomic(v: DataView, o: number, size: number, imm: number, s: number, lo: Int32Array, hi: Int32Array): void {
  const oldLo = v.getInt32(o, true);
  const oldHi = size === 8 ? v.getInt32(o + 4, true) : 0;
  const slo = lo[s]!, shi = size === 8 ? hi[s]! : 0;
  let nlo: number, nhi: number;
  switch (imm & ~1) {
    case 0x00:
      nlo = (oldLo + slo) | 0;
      nhi = (oldHi + shi + ((nlo >>> 0) < (oldLo >>> 0) ? 1 : 0)) | 0;
      break;
    case 0x40: nlo = oldLo | slo; nhi = oldHi | shi; break;
    case 0x50: nlo = oldLo & slo; nhi = oldHi & shi; break;
    case 0xa0: nlo = oldLo ^ slo; nhi = oldHi ^ shi; break;
    case 0xe0: nlo = slo; nhi = shi; break;
    default: { // 0xf0 cmpxchg: compare with r0 (its low 32 bits for the 32-bit form); r0 gets the old value
      const eq = oldLo === lo[0]! && (size === 4 || oldHi === hi[0]!);
      nlo = eq ? slo : oldLo;
      nhi = eq ? shi : oldHi;
      lo[0] = oldLo;
      hi[0] = oldHi;
      break;
    }
  }
  v.setInt32(o, nlo, true);
  if (size === 8) v.setInt32(o + 4, nhi, true);
  // FETCH (and xchg): src gets the old value, zero-extended for the 32-bit form.
  if ((imm & 1) !== 0 && imm !== 0xf1) {
    lo[s] = oldLo;
    hi[s] = oldHi;
  }
}
