// JavaScript for single eBPF instructions, shared by both code shapes of the compiler (compiler.ts): ALU,
// loads, stores and atomics with inline bounds checks, jump conditions, and the fault of an instruction the
// engines do not execute (isa.insnFault, the interpreter's message).

import { Cls, Mode, Op, cls, insnFault, isAluClass, isAtomicOp, outsideProgram, sizeBytes, type Insn } from './isa.js';
import { FRAME_SIZE, MAX_TAG, RegionTag, STACK_SIZE } from './Memory.js';

export type Const = readonly [number, number];
export const R = (r: number): [string, string] => [`r${r}l`, `r${r}h`];
export const fault = (msg: string, pc: number): string => `throw new F(${JSON.stringify(msg)}, ${pc});`;
/** Control reaching t outside a program of n slots: the interpreter's fault, at t. */
export const outside = (t: number, n: number): string => fault(outsideProgram(t, n), t);

/** Address computation into t (lo) / t2 (hi) for base register b plus offset off. */
export const addr = (b: number, off: number): string => {
  const [bl, bh] = R(b);
  if (off === 0) return `t = ${bl}; t2 = ${bh};`;
  const carry = off > 0 ? `((t >>> 0) < (${bl} >>> 0) ? 1 : 0)` : `((t >>> 0) > (${bl} >>> 0) ? -1 : 0)`;
  return `t = (${bl} + ${off}) | 0; t2 = (${bh} + ${carry}) | 0;`;
};

// Fast paths for the program memory and the stack (regions held in variables), else the general check.
export const check = (size: number, write: boolean, pc: number): string =>
  `o = t >>> 0; if (t2 === ${RegionTag.MEM} && o <= ${write ? 'M1W' : 'M1'} - ${size}) v = V1; else if (t2 === ${RegionTag.STACK} && o <= ${STACK_SIZE - size}) v = V2; ` +
  `else if ((t2 >>> 0) >= ${MAX_TAG} || (v = V[t2]) === undefined || o + ${size} > LN[t2]${write ? ' || WR[t2] === 0' : ''}) v = C(mem, t2, t, ${size}, ${write}, ${pc});`;

/**
 * dst *= the 64-bit constant (cl, ch), low 64 bits. The high word of the unsigned 32x32 product dl * cl is
 * exact in doubles when cl < 2^21 (product < 2^53); otherwise dl is split into 16-bit halves, each product
 * < 2^48 and exact. No rounding step as in u64.mul64.
 */
export function mulConst(dl: string, dh: string, cl: number, ch: number): string {
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
export function insnCode(x: Insn, i: number, srcKnown?: Const, frameR10 = false): string | undefined {
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
export function faultCode(insns: readonly Insn[], i: number): string {
  const x = insns[i]!, op = x.opcode;
  const msg = insnFault(op, x.dst, x.src, x.off, x.imm, i + 1 < insns.length);
  if (msg === undefined) return fault(`internal error: no code for instruction ${i} (opcode 0x${op.toString(16).padStart(2, '0')})`, i);
  if (x.dst <= 10 && x.src <= 10 && (op === 0xc3 || op === 0xdb)) return `${addr(x.dst, x.off)} ${check(sizeBytes(op), true, i)} ${fault(msg, i)}`;
  return fault(msg, i);
}

/** The condition of a conditional jump (JMP or JMP32 class), or undefined if it is not one. */
export function jumpCond(x: Insn, srcKnown?: Const): string | undefined {
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

/** r0-r10 as lo/hi locals, in order (handed to the slow path). */
export const REGS = Array.from({ length: 11 }, (_, r) => `r${r}l, r${r}h`).join(', ');
/** Generated statements filling the AF table from (pc, count) pairs. */
export const afterInit = (pairs: readonly number[]): string => {
  let out = '';
  for (let k = 0; k < pairs.length; k += 2) out += `AF[${pairs[k]}] = ${pairs[k + 1]}; `;
  return out;
};
