// Assembler for the textual dialect of the bpf_conformance suite: `mnemonic operands` one per line, registers
// `%r0`..`%r10` (or `r0`..), memory operands `[%r1+2]`, labels `name:`, jump targets `label` or `+N`/`-N`,
// `call local name`, `call N` (helper), `call %rN` (callx), `lock [fetch] op [mem], %reg`. As in the suite's
// own assembler, the label `exit` names the first `exit` instruction unless the program defines it.

import { AluOp, AtomicOp, CallSrc, Cls, JmpOp, Mode, Op, Size, Src, lddwSlots, type Insn } from './isa.js';

export class AsmError extends Error {
  constructor(message: string, readonly line: number) {
    super(`line ${line}: ${message}`);
    this.name = 'AsmError';
  }
}

const ALU_OPS: Readonly<Record<string, number>> = {
  add: AluOp.ADD, sub: AluOp.SUB, mul: AluOp.MUL, div: AluOp.DIV, sdiv: AluOp.DIV, or: AluOp.OR, and: AluOp.AND,
  lsh: AluOp.LSH, rsh: AluOp.RSH, neg: AluOp.NEG, mod: AluOp.MOD, smod: AluOp.MOD, xor: AluOp.XOR, mov: AluOp.MOV,
  arsh: AluOp.ARSH,
};
const JMP_OPS: Readonly<Record<string, number>> = {
  jeq: JmpOp.JEQ, jgt: JmpOp.JGT, jge: JmpOp.JGE, jset: JmpOp.JSET, jne: JmpOp.JNE, jsgt: JmpOp.JSGT,
  jsge: JmpOp.JSGE, jlt: JmpOp.JLT, jle: JmpOp.JLE, jslt: JmpOp.JSLT, jsle: JmpOp.JSLE,
};
const SIZES: Readonly<Record<string, number>> = { b: Size.B, h: Size.H, w: Size.W, dw: Size.DW };
const ATOMIC_OPS: Readonly<Record<string, number>> = {
  add: AtomicOp.ADD, or: AtomicOp.OR, and: AtomicOp.AND, xor: AtomicOp.XOR, xchg: AtomicOp.XCHG, cmpxchg: AtomicOp.CMPXCHG,
};

/** Parse an integer literal: decimal or 0x-hex, optional sign. */
export function parseInt64(text: string): bigint | undefined {
  const m = /^([+-]?)(0x[0-9a-f]+|[0-9]+)$/i.exec(text.trim());
  if (!m) return undefined;
  const v = BigInt(m[2]!);
  return m[1] === '-' ? -v : v;
}

interface Fixup { slot: number; label: string; line: number; inImm: boolean }

/** Assemble source text into instruction slots (an LDDW takes two). */
export function assemble(source: string): Insn[] {
  const out: Insn[] = [];
  const labels = new Map<string, number>();
  const fixups: Fixup[] = [];
  let firstExit: number | undefined;
  const lines = source.split(/\r?\n/);
  for (let ln = 0; ln < lines.length; ln++) {
    const lineNo = ln + 1;
    const text = lines[ln]!.replace(/#.*$/, '').trim();
    if (text === '') continue;
    const fail = (msg: string): never => {
      throw new AsmError(`${msg} in "${text}"`, lineNo);
    };
    const labelMatch = /^([A-Za-z_.$][\w.$]*):\s*(.*)$/.exec(text);
    let body = text;
    if (labelMatch) {
      const name = labelMatch[1]!;
      if (labels.has(name)) fail(`duplicate label ${name}`);
      labels.set(name, out.length);
      body = labelMatch[2]!;
      if (body === '') continue;
    }
    const sp = body.search(/\s/);
    const mnemonic = (sp < 0 ? body : body.slice(0, sp)).toLowerCase();
    const rest = sp < 0 ? '' : body.slice(sp + 1).trim();
    const ops = rest === '' ? [] : rest.split(/\s*,\s*|\s+/).filter((s) => s !== '');

    const reg = (s: string | undefined): number => {
      const m = s === undefined ? null : /^%?r(\d+)$/i.exec(s);
      if (!m || Number(m[1]) > 10) return fail(`expected a register r0-r10, got ${s ?? 'nothing'}`);
      return Number(m[1]);
    };
    const isReg = (s: string | undefined): boolean => s !== undefined && /^%?r\d+$/i.test(s);
    const imm32 = (s: string | undefined): number => {
      const v = s === undefined ? undefined : parseInt64(s);
      if (v === undefined) return fail(`expected an immediate, got ${s ?? 'nothing'}`);
      if (v < -(2n ** 31n) || v >= 2n ** 32n) fail(`immediate ${s} does not fit in 32 bits`);
      return Number(BigInt.asIntN(32, v));
    };
    const mem = (s: string | undefined): { reg: number; off: number } => {
      const m = s === undefined ? null : /^\[\s*(%?r\d+)\s*(?:([+-])\s*(0x[0-9a-f]+|\d+))?\s*\]$/i.exec(s);
      if (!m) return fail(`expected a memory operand [reg+off], got ${s ?? 'nothing'}`);
      let off = m[3] === undefined ? 0 : Number(BigInt(m[3]));
      if (m[2] === '-') off = -off;
      if (off < -32768 || off > 32767) fail(`offset ${off} does not fit in 16 bits`);
      return { reg: reg(m[1]), off };
    };
    const count = (n: number): void => {
      if (ops.length !== n) fail(`${mnemonic} takes ${n} operand(s), got ${ops.length}`);
    };
    /** A jump target: +N/-N/N is an offset; anything else a label resolved at the end. */
    const target = (s: string | undefined, inImm: boolean): number => {
      if (s === undefined) return fail('missing jump target');
      const v = parseInt64(s);
      if (v !== undefined) {
        const lim = inImm ? 2n ** 31n : 2n ** 15n;
        if (v < -lim || v >= lim) fail(`jump offset ${s} out of range`);
        return Number(v);
      }
      if (!/^[A-Za-z_.$][\w.$]*$/.test(s)) fail(`bad jump target ${s}`);
      fixups.push({ slot: out.length, label: s, line: lineNo, inImm });
      return 0;
    };
    const emit = (opcode: number, dst: number, src: number, off: number, imm: number): void => {
      out.push({ opcode, dst, src, off, imm });
    };

    // Arithmetic: op, op32, op64, movsxNNMM.
    const alu = /^([a-z]+?)(32|64)?$/.exec(mnemonic);
    const movsx = /^movsx(8|16|32)(32|64)$/.exec(mnemonic);
    if (movsx) {
      count(2);
      const from = Number(movsx[1]);
      const c = movsx[2] === '32' ? Cls.ALU : Cls.ALU64;
      if (c === Cls.ALU && from === 32) fail('movsx3232 does not exist (RFC 9669 section 4.1)');
      emit(c | Src.X | AluOp.MOV, reg(ops[0]), reg(ops[1]), from, 0);
      continue;
    }
    const swap = /^(be|le|swap|bswap)(16|32|64)$/.exec(mnemonic);
    if (swap) {
      count(1);
      const opcode = swap[1] === 'be' ? Op.BE : swap[1] === 'le' ? Op.LE : Op.BSWAP;
      emit(opcode, reg(ops[0]), 0, 0, Number(swap[2]));
      continue;
    }
    if (alu && ALU_OPS[alu[1]!] !== undefined) {
      const name = alu[1]!;
      const c = alu[2] === '32' ? Cls.ALU : Cls.ALU64;
      const signed = name === 'sdiv' || name === 'smod' ? 1 : 0;
      const op = ALU_OPS[name]!;
      if (op === AluOp.NEG) {
        count(1);
        emit(c | AluOp.NEG, reg(ops[0]), 0, 0, 0);
        continue;
      }
      count(2);
      const dst = reg(ops[0]);
      if (isReg(ops[1])) emit(c | Src.X | op, dst, reg(ops[1]), signed, 0);
      else emit(c | Src.K | op, dst, 0, signed, imm32(ops[1]));
      continue;
    }
    // Jumps.
    if (mnemonic === 'exit') {
      count(0);
      if (firstExit === undefined) firstExit = out.length;
      emit(Op.EXIT, 0, 0, 0, 0);
      continue;
    }
    if (mnemonic === 'ja') {
      count(1);
      const off = target(ops[0], false);
      emit(Op.JA, 0, 0, off, 0);
      continue;
    }
    if (mnemonic === 'ja32') {
      count(1);
      const imm = target(ops[0], true);
      emit(Op.JA32, 0, 0, 0, imm);
      continue;
    }
    if (mnemonic === 'call') {
      if (ops[0] === 'local') {
        count(2);
        const imm = target(ops[1], true);
        emit(Op.CALL, 0, CallSrc.LOCAL, 0, imm);
      } else if (ops[0] === 'helper') {
        count(2);
        if (isReg(ops[1])) emit(Op.CALLX, reg(ops[1]), 0, 0, 0);
        else emit(Op.CALL, 0, CallSrc.HELPER, 0, imm32(ops[1]));
      } else {
        count(1);
        if (isReg(ops[0])) emit(Op.CALLX, reg(ops[0]), 0, 0, 0);
        else emit(Op.CALL, 0, CallSrc.HELPER, 0, imm32(ops[0]));
      }
      continue;
    }
    const jmp = /^([a-z]+?)(32)?$/.exec(mnemonic);
    if (jmp && JMP_OPS[jmp[1]!] !== undefined) {
      count(3);
      const c = jmp[2] === '32' ? Cls.JMP32 : Cls.JMP;
      const op = JMP_OPS[jmp[1]!]!;
      const dst = reg(ops[0]);
      const x = isReg(ops[1]);
      const src = x ? reg(ops[1]) : 0;
      const imm = x ? 0 : imm32(ops[1]);
      const off = target(ops[2], false);
      emit(c | (x ? Src.X : Src.K) | op, dst, src, off, imm);
      continue;
    }
    // Loads and stores.
    if (mnemonic === 'lddw') {
      count(2);
      const v = parseInt64(ops[1]!);
      if (v === undefined || v < -(2n ** 63n) || v >= 2n ** 64n) fail(`expected a 64-bit immediate, got ${ops[1]}`);
      out.push(...lddwSlots(reg(ops[0]), v!));
      continue;
    }
    const ldx = /^ldx(s?)(b|h|w|dw)$/.exec(mnemonic);
    if (ldx) {
      count(2);
      if (ldx[1] === 's' && ldx[2] === 'dw') fail('ldxsdw does not exist (RFC 9669 section 5.2)');
      const m = mem(ops[1]);
      emit(Cls.LDX | (ldx[1] === 's' ? Mode.MEMSX : Mode.MEM) | SIZES[ldx[2]!]!, reg(ops[0]), m.reg, m.off, 0);
      continue;
    }
    const st = /^st(x?)(b|h|w|dw)$/.exec(mnemonic);
    if (st) {
      count(2);
      const m = mem(ops[0]);
      if (st[1] === 'x') emit(Cls.STX | Mode.MEM | SIZES[st[2]!]!, m.reg, reg(ops[1]), m.off, 0);
      else emit(Cls.ST | Mode.MEM | SIZES[st[2]!]!, m.reg, 0, m.off, imm32(ops[1]));
      continue;
    }
    // Atomics: lock [fetch] op[32] [mem], %src ; xadd[w|dw|32] [mem], %src (the older spelling of lock add).
    if (mnemonic === 'lock' || mnemonic.startsWith('xadd')) {
      let fetch = false;
      let name: string;
      let rest2: string[];
      if (mnemonic === 'lock') {
        rest2 = [...ops];
        if (rest2[0] === 'fetch') {
          fetch = true;
          rest2.shift();
        }
        name = rest2.shift() ?? '';
      } else {
        rest2 = [...ops];
        name = mnemonic === 'xaddw' || mnemonic === 'xadd32' ? 'add32' : mnemonic === 'xadd' || mnemonic === 'xadddw' ? 'add' : '';
      }
      const am = /^([a-z]+?)(32)?$/.exec(name);
      const aop = am ? ATOMIC_OPS[am[1]!] : undefined;
      if (aop === undefined) fail(`unknown atomic operation ${name}`);
      if (rest2.length !== 2) fail('atomic operations take [mem], %reg');
      const m = mem(rest2[0]);
      let imm = aop!;
      if (fetch) {
        if (imm === AtomicOp.XCHG || imm === AtomicOp.CMPXCHG) fail(`${name} always fetches`);
        imm |= AtomicOp.FETCH;
      }
      emit(Cls.STX | Mode.ATOMIC | (am![2] === '32' ? Size.W : Size.DW), m.reg, reg(rest2[1]), m.off, imm);
      continue;
    }
    fail(`unknown mnemonic ${mnemonic}`);
  }
  if (!labels.has('exit') && firstExit !== undefined) labels.set('exit', firstExit);
  for (const f of fixups) {
    const at = labels.get(f.label);
    if (at === undefined) throw new AsmError(`undefined label ${f.label}`, f.line);
    const rel = at - f.slot - 1;
    const insn = out[f.slot]!;
    if (f.inImm) insn.imm = rel;
    else {
      if (rel < -32768 || rel > 32767) throw new AsmError(`jump to ${f.label} out of 16-bit range`, f.line);
      insn.off = rel;
    }
  }
  return out;
}
