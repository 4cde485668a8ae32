// The eBPF instruction set (RFC 9669): opcode fields, and encode/decode of the 8-byte instruction format
// (RFC 9669 section 3) including the 16-byte wide LDDW (section 5.4).

/** Instruction classes, the low 3 bits of the opcode (RFC 9669 section 3.1). */
export const Cls = { LD: 0x00, LDX: 0x01, ST: 0x02, STX: 0x03, ALU: 0x04, JMP: 0x05, JMP32: 0x06, ALU64: 0x07 } as const;
export type Cls = (typeof Cls)[keyof typeof Cls];

/** Source bit of arithmetic and jump instructions (section 4): K = use imm, X = use src register. */
export const Src = { K: 0x00, X: 0x08 } as const;
export type Src = (typeof Src)[keyof typeof Src];

/** Arithmetic operation codes, the high 4 bits (section 4.1). */
export const AluOp = {
  ADD: 0x00, SUB: 0x10, MUL: 0x20, DIV: 0x30, OR: 0x40, AND: 0x50, LSH: 0x60, RSH: 0x70,
  NEG: 0x80, MOD: 0x90, XOR: 0xa0, MOV: 0xb0, ARSH: 0xc0, END: 0xd0,
} as const;
export type AluOp = (typeof AluOp)[keyof typeof AluOp];

/** Jump operation codes, the high 4 bits (section 4.3). */
export const JmpOp = {
  JA: 0x00, JEQ: 0x10, JGT: 0x20, JGE: 0x30, JSET: 0x40, JNE: 0x50, JSGT: 0x60, JSGE: 0x70,
  CALL: 0x80, EXIT: 0x90, JLT: 0xa0, JLE: 0xb0, JSLT: 0xc0, JSLE: 0xd0,
} as const;
export type JmpOp = (typeof JmpOp)[keyof typeof JmpOp];

/** Load/store size field (section 5.1). */
export const Size = { W: 0x00, H: 0x08, B: 0x10, DW: 0x18 } as const;
export type Size = (typeof Size)[keyof typeof Size];
/** Bytes accessed by a load/store opcode, from its size field (W 4, H 2, B 1, DW 8). */
export const sizeBytes = (opcode: number): 1 | 2 | 4 | 8 => {
  const f = (opcode >> 3) & 3;
  return f === 3 ? 8 : ((4 >> f) as 1 | 2 | 4);
};

/** Load/store mode field (section 5.1). ABS/IND are the deprecated packet-access group: not supported. */
export const Mode = { IMM: 0x00, ABS: 0x20, IND: 0x40, MEM: 0x60, MEMSX: 0x80, ATOMIC: 0xc0 } as const;
export type Mode = (typeof Mode)[keyof typeof Mode];

/** Atomic operations, held in imm (section 5.3). FETCH is a flag; XCHG and CMPXCHG always fetch. */
export const AtomicOp = { ADD: 0x00, OR: 0x40, AND: 0x50, XOR: 0xa0, FETCH: 0x01, XCHG: 0xe1, CMPXCHG: 0xf1 } as const;
export type AtomicOp = (typeof AtomicOp)[keyof typeof AtomicOp];

/** Is `imm` a defined atomic operation: add/or/and/xor with or without FETCH, XCHG, CMPXCHG (section 5.3)? */
export function isAtomicOp(imm: number): boolean {
  switch (imm & ~AtomicOp.FETCH) {
    case AtomicOp.ADD: case AtomicOp.OR: case AtomicOp.AND: case AtomicOp.XOR: return true;
    default: return imm === AtomicOp.XCHG || imm === AtomicOp.CMPXCHG;
  }
}

/** The src field of CALL (section 4.3.1): helper by id, local (pc-relative) call, helper by BTF id. */
export const CallSrc = { HELPER: 0, LOCAL: 1, BTF: 2 } as const;
export type CallSrc = (typeof CallSrc)[keyof typeof CallSrc];

/** Whole opcodes the rest of the code names directly. */
export const Op = {
  LDDW: 0x18,
  EXIT: 0x95,
  CALL: 0x85,
  /** call by register (LLVM's callx; not in RFC 9669): the helper id is in the dst register. */
  CALLX: 0x8d,
  JA: 0x05,
  JA32: 0x06,
  LE: 0xd4,
  BE: 0xdc,
  BSWAP: 0xd7,
} as const;

export const cls = (opcode: number): number => opcode & 0x07;
export const isAluClass = (c: number): boolean => c === Cls.ALU || c === Cls.ALU64;
export const isJmpClass = (c: number): boolean => c === Cls.JMP || c === Cls.JMP32;

/**
 * Where the jump or local call in slot `i` goes (section 4.3: i + 1 + offset, held in imm for JA32 and local
 * calls); undefined for exit, helper calls and everything that is not a jump.
 */
export function branchTarget(x: Insn, i: number): number | undefined {
  const op = x.opcode;
  if (!isJmpClass(cls(op))) return undefined;
  if (op === Op.JA32 || (op === Op.CALL && x.src === CallSrc.LOCAL)) return i + 1 + x.imm;
  if (op === Op.EXIT || op === Op.CALL || op === Op.CALLX) return undefined;
  return i + 1 + x.off;
}

/** One decoded instruction slot. For LDDW the first slot carries the full 64-bit value in `imm64`. */
export interface Insn {
  opcode: number;
  dst: number;
  src: number;
  /** signed 16-bit offset */
  off: number;
  /** signed 32-bit immediate */
  imm: number;
  /** LDDW only: the 64-bit immediate (u64); the slot after it is the second half. */
  imm64?: bigint;
}

export class EbpfDecodeError extends Error {
  constructor(message: string, readonly index: number) {
    super(message);
    this.name = 'EbpfDecodeError';
  }
}

/** Encode instruction slots (an LDDW is two slots: the second has opcode 0 and the high 32 bits in imm). */
export function encode(insns: readonly Insn[]): Uint8Array {
  const out = new Uint8Array(insns.length * 8);
  const dv = new DataView(out.buffer);
  insns.forEach((i, n) => {
    const p = n * 8;
    dv.setUint8(p, i.opcode & 0xff);
    dv.setUint8(p + 1, ((i.src & 0xf) << 4) | (i.dst & 0xf));
    dv.setInt16(p + 2, i.off, true);
    dv.setInt32(p + 4, i.imm | 0, true);
  });
  return out;
}

/** The two slots of `lddw dst, value`. */
export function lddwSlots(dst: number, value: bigint): [Insn, Insn] {
  const v = BigInt.asUintN(64, value);
  return [
    { opcode: Op.LDDW, dst, src: 0, off: 0, imm: Number(BigInt.asIntN(32, v)), imm64: v },
    { opcode: 0, dst: 0, src: 0, off: 0, imm: Number(BigInt.asIntN(32, v >> 32n)) },
  ];
}

/**
 * Decode bytes into instruction slots (one Insn per 8 bytes, so that jump offsets index the array). The first
 * slot of an LDDW gets `imm64`; the second slot stays as it is in the bytes (opcode 0) and is validated by the
 * verifier. Throws EbpfDecodeError for a length that is not a multiple of 8 or an LDDW cut off at the end.
 */
export function decode(bytes: Uint8Array): Insn[] {
  if (bytes.length % 8 !== 0) throw new EbpfDecodeError(`program length ${bytes.length} is not a multiple of 8`, bytes.length >> 3);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Insn[] = [];
  for (let p = 0; p < bytes.length; p += 8) {
    const regs = dv.getUint8(p + 1);
    out.push({ opcode: dv.getUint8(p), dst: regs & 0xf, src: regs >> 4, off: dv.getInt16(p + 2, true), imm: dv.getInt32(p + 4, true) });
  }
  for (let i = 0; i < out.length; i++) {
    const insn = out[i]!;
    if (insn.opcode !== Op.LDDW) continue;
    const next = out[i + 1];
    if (next === undefined) throw new EbpfDecodeError(`instruction ${i}: lddw needs a second slot but the program ends`, i);
    insn.imm64 = (BigInt(next.imm >>> 0) << 32n) | BigInt(insn.imm >>> 0);
    i++;
  }
  return out;
}

/**
 * The 64-bit immediate of an LDDW: its two slots' imm fields, which is what the engines load (imm64, kept by
 * decode and the assembler, may disagree with the slots in an instruction array built by other code).
 */
export function lddwValue(insns: readonly Insn[], i: number): bigint {
  const a = insns[i]!;
  const b = insns[i + 1];
  if (b === undefined && a.imm64 !== undefined) return a.imm64;
  return (BigInt((b?.imm ?? 0) >>> 0) << 32n) | BigInt(a.imm >>> 0);
}

/** The fault message for executing at `pc` outside a program of `n` slots (a jump there, or falling off the end). */
export const outsideProgram = (pc: number, n: number): string => `pc ${pc} outside the program (0..${n - 1})`;

/**
 * Why executing an instruction with these fields faults whatever the machine state (the engines' fault message,
 * the same for the interpreter and the compiled code), or undefined if the engines execute it. The interpreter
 * raises it from its throwing branches; the compiler compiles such an instruction to this fault. Checked in the
 * interpreter's order: registers (dst first), then the opcode and its fields. `hasSecondSlot`: a slot follows
 * (LDDW). An atomic with an undefined operation (imm) faults only after its memory access has been checked.
 */
export function insnFault(op: number, dst: number, src: number, off: number, imm: number, hasSecondSlot: boolean): string | undefined {
  if (dst > 10) return `invalid register r${dst}`;
  if (src > 10) return `invalid register r${src}`;
  const c = cls(op);
  const code = op & 0xf0;
  const isX = (op & Src.X) !== 0;
  const divmod = c === Cls.ALU64 ? (code === AluOp.DIV ? 'div' : 'mod') : code === AluOp.DIV ? 'div32' : 'mod32';
  let bad = false;
  if (isAluClass(c)) {
    switch (code) {
      case AluOp.DIV: case AluOp.MOD:
        if (off !== 0 && off !== 1) return `${divmod} with invalid offset ${off}`;
        break;
      case AluOp.NEG: bad = isX; break;
      case AluOp.MOV:
        if (isX && off !== 0 && off !== 8 && off !== 16 && (off !== 32 || c !== Cls.ALU64)) {
          return `${c === Cls.ALU64 ? 'movsx' : 'movsx32'} with invalid offset ${off}`;
        }
        break;
      case AluOp.END:
        if (c === Cls.ALU64 && isX) bad = true;
        else if (imm !== 16 && imm !== 32 && imm !== 64) return `${c === Cls.ALU64 ? 'bswap' : isX ? 'be' : 'le'} width ${imm}`;
        break;
      default: bad = code > AluOp.END;
    }
  } else if (isJmpClass(c)) {
    if (op === Op.CALL) {
      if (src > CallSrc.LOCAL) return `call with src ${src} (helper by BTF id) is not supported`;
    } else if (op !== Op.CALLX && op !== Op.EXIT) {
      // JA (JMP) / JA32 (JMP32) with K, and the conditional jumps; CALL and EXIT codes exist only in JMP
      bad = code === JmpOp.JA ? isX : code === JmpOp.CALL || code === JmpOp.EXIT || code > JmpOp.JSLE;
    }
  } else if (c === Cls.LD) {
    const mode = op & 0xe0;
    if (mode === Mode.ABS || mode === Mode.IND) return 'legacy packet access (ABS/IND) is not supported';
    if (op !== Op.LDDW) bad = true;
    else if (src !== 0) return `lddw with src ${src} (map/variable references) is not supported`;
    else if (!hasSecondSlot) return 'lddw without its second slot';
  } else {
    const mode = op & 0xe0;
    const size = sizeBytes(op);
    if (c === Cls.LDX) bad = !(mode === Mode.MEM || (mode === Mode.MEMSX && size !== 8));
    else if (mode === Mode.ATOMIC && c === Cls.STX && size >= 4) {
      if (!isAtomicOp(imm)) return `unknown atomic operation 0x${(imm >>> 0).toString(16)}`;
    } else bad = mode !== Mode.MEM;
  }
  return bad ? `unknown opcode 0x${op.toString(16).padStart(2, '0')}` : undefined;
}
