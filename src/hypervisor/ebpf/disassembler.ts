// Disassembler producing the assembler's dialect (round-trips: assemble(disassemble(p)) encodes to the same
// bytes). Jump targets are printed as relative offsets (+N/-N), which the assembler accepts.

import { AluOp, AtomicOp, CallSrc, Cls, JmpOp, Mode, Op, Src, cls, sizeBytes, isAluClass, isJmpClass, lddwValue, type Insn } from './isa.js';

const ALU_NAMES: Readonly<Record<number, string>> = {
  [AluOp.ADD]: 'add', [AluOp.SUB]: 'sub', [AluOp.MUL]: 'mul', [AluOp.DIV]: 'div', [AluOp.OR]: 'or', [AluOp.AND]: 'and',
  [AluOp.LSH]: 'lsh', [AluOp.RSH]: 'rsh', [AluOp.NEG]: 'neg', [AluOp.MOD]: 'mod', [AluOp.XOR]: 'xor', [AluOp.MOV]: 'mov',
  [AluOp.ARSH]: 'arsh',
};
const JMP_NAMES: Readonly<Record<number, string>> = {
  [JmpOp.JEQ]: 'jeq', [JmpOp.JGT]: 'jgt', [JmpOp.JGE]: 'jge', [JmpOp.JSET]: 'jset', [JmpOp.JNE]: 'jne',
  [JmpOp.JSGT]: 'jsgt', [JmpOp.JSGE]: 'jsge', [JmpOp.JLT]: 'jlt', [JmpOp.JLE]: 'jle', [JmpOp.JSLT]: 'jslt',
  [JmpOp.JSLE]: 'jsle',
};
const SIZE_NAMES: Readonly<Record<number, string>> = { 1: 'b', 2: 'h', 4: 'w', 8: 'dw' };
const ATOMIC_NAMES: Readonly<Record<number, string>> = {
  [AtomicOp.ADD]: 'add', [AtomicOp.OR]: 'or', [AtomicOp.AND]: 'and', [AtomicOp.XOR]: 'xor',
};

const r = (n: number): string => `%r${n}`;
const rel = (n: number): string => (n < 0 ? `${n}` : `+${n}`);
const memop = (reg: number, off: number): string => (off === 0 ? `[${r(reg)}]` : off < 0 ? `[${r(reg)}${off}]` : `[${r(reg)}+${off}]`);
const hex = (n: number): string => (n < 0 ? `-0x${(-n).toString(16)}` : `0x${n.toString(16)}`);

/** One instruction (at slot `i`) as text; `.byte`-style `unknown` text for an opcode the ISA does not define. */
export function disassembleInsn(insns: readonly Insn[], i: number): string {
  const x = insns[i];
  if (x === undefined) return '<end of program>';
  const c = cls(x.opcode);
  const unknown = `unknown opcode 0x${x.opcode.toString(16).padStart(2, '0')}`;
  if (isAluClass(c)) {
    const op = x.opcode & 0xf0;
    const suffix = c === Cls.ALU ? '32' : '';
    if (op === AluOp.END) {
      const kind = x.opcode === Op.BSWAP ? 'bswap' : x.opcode === Op.BE ? 'be' : x.opcode === Op.LE ? 'le' : undefined;
      return kind ? `${kind}${x.imm} ${r(x.dst)}` : unknown;
    }
    let name = ALU_NAMES[op];
    if (name === undefined) return unknown;
    if (op === AluOp.NEG) return `neg${suffix} ${r(x.dst)}`;
    if ((op === AluOp.DIV || op === AluOp.MOD) && x.off === 1) name = `s${name}`;
    if (op === AluOp.MOV && (x.opcode & Src.X) && x.off !== 0) return `movsx${x.off}${c === Cls.ALU ? '32' : '64'} ${r(x.dst)}, ${r(x.src)}`;
    return `${name}${suffix} ${r(x.dst)}, ${x.opcode & Src.X ? r(x.src) : x.imm}`;
  }
  if (isJmpClass(c)) {
    const op = x.opcode & 0xf0;
    if (x.opcode === Op.EXIT) return 'exit';
    if (x.opcode === Op.JA) return `ja ${rel(x.off)}`;
    if (x.opcode === Op.JA32) return `ja32 ${rel(x.imm)}`;
    if (x.opcode === Op.CALL) return x.src === CallSrc.LOCAL ? `call local ${rel(x.imm)}` : x.src === CallSrc.HELPER ? `call ${x.imm}` : unknown;
    if (x.opcode === Op.CALLX) return `call ${r(x.dst)}`;
    const name = JMP_NAMES[op];
    if (name === undefined) return unknown;
    const suffix = c === Cls.JMP32 ? '32' : '';
    return `${name}${suffix} ${r(x.dst)}, ${x.opcode & Src.X ? r(x.src) : x.imm}, ${rel(x.off)}`;
  }
  const size = sizeBytes(x.opcode);
  const mode = x.opcode & 0xe0;
  if (x.opcode === Op.LDDW) return `lddw ${r(x.dst)}, 0x${lddwValue(insns, i).toString(16)}`;
  if (c === Cls.LDX && (mode === Mode.MEM || (mode === Mode.MEMSX && size !== 8))) {
    return `ldx${mode === Mode.MEMSX ? 's' : ''}${SIZE_NAMES[size]} ${r(x.dst)}, ${memop(x.src, x.off)}`;
  }
  if (c === Cls.ST && mode === Mode.MEM) return `st${SIZE_NAMES[size]} ${memop(x.dst, x.off)}, ${hex(x.imm)}`;
  if (c === Cls.STX && mode === Mode.MEM) return `stx${SIZE_NAMES[size]} ${memop(x.dst, x.off)}, ${r(x.src)}`;
  if (c === Cls.STX && mode === Mode.ATOMIC && (size === 4 || size === 8)) {
    const s32 = size === 4 ? '32' : '';
    const m = `${memop(x.dst, x.off)}, ${r(x.src)}`;
    if (x.imm === AtomicOp.XCHG) return `lock xchg${s32} ${m}`;
    if (x.imm === AtomicOp.CMPXCHG) return `lock cmpxchg${s32} ${m}`;
    const name = ATOMIC_NAMES[x.imm & ~AtomicOp.FETCH];
    if (name === undefined) return unknown;
    return `lock ${x.imm & AtomicOp.FETCH ? 'fetch ' : ''}${name}${s32} ${m}`;
  }
  return unknown;
}

/** A whole program, one instruction per line (the second slot of an LDDW prints nothing). */
export function disassemble(insns: readonly Insn[]): string {
  const lines: string[] = [];
  for (let i = 0; i < insns.length; i++) {
    lines.push(disassembleInsn(insns, i));
    if (insns[i]!.opcode === Op.LDDW) i++;
  }
  return lines.join('\n') + '\n';
}
