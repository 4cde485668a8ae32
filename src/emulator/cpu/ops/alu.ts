// Integer ALU family: ADD OR ADC SBB AND SUB XOR CMP TEST, INC DEC NEG NOT (SDM vol. 2; flags per
// appendix A of vol. 1). Each (operation, operand form, size) is one handler built from the template text.

import { type Instruction, Mnemonic } from 'iced-x86';
import type { Op } from '../Op.js';
import { type Size, type Template, immv, mget, mset, norm, rget, rset, setFlags, setFlags64, useTemplate } from './template.js';
import { type BinaryForm as Form, decodeBinary, decodeRm } from './operands.js';
import { AUX_MEM } from './operandAccess.js';

type Binary = 'add' | 'or' | 'adc' | 'sbb' | 'and' | 'sub' | 'xor' | 'cmp' | 'test';

const KIND: Record<Binary, string> = {
  add: 'X.K_ADD', adc: 'X.K_ADD', sub: 'X.K_SUB', sbb: 'X.K_SUB', cmp: 'X.K_SUB',
  and: 'X.K_RES', or: 'X.K_RES', xor: 'X.K_RES', test: 'X.K_RES',
};
const WRITES: Record<Binary, boolean> = {
  add: true, adc: true, sub: true, sbb: true, cmp: false, and: true, or: true, xor: true, test: false,
};
const CARRY_IN: Record<Binary, boolean> = {
  add: false, adc: true, sub: false, sbb: true, cmp: false, and: false, or: false, xor: false, test: false,
};

/** Result expression for sizes < 64 (a, b normalised; c = carry-in). */
function expr32(opn: Binary, size: Size): string {
  switch (opn) {
    case 'add': return norm(size, 'a + b');
    case 'adc': return norm(size, 'a + b + c');
    case 'sub': case 'cmp': return norm(size, 'a - b');
    case 'sbb': return norm(size, 'a - b - c');
    case 'and': case 'test': return norm(size, 'a & b');
    case 'or': return norm(size, 'a | b');
    case 'xor': return norm(size, 'a ^ b');
  }
}

/** Statements computing rl, rh for 64-bit operands (al, ah, bl, bh; c = carry-in). */
function expr64(opn: Binary): string {
  switch (opn) {
    case 'add':
      return 'const rl = (al + bl) | 0; const rh = (ah + bh + ((rl >>> 0) < (al >>> 0) ? 1 : 0)) | 0;';
    case 'adc':
      return 'const rl = (al + bl + c) | 0; const rh = (ah + bh + ((c !== 0 ? (rl >>> 0) <= (al >>> 0) : (rl >>> 0) < (al >>> 0)) ? 1 : 0)) | 0;';
    case 'sub': case 'cmp':
      return 'const rl = (al - bl) | 0; const rh = (ah - bh - ((al >>> 0) < (bl >>> 0) ? 1 : 0)) | 0;';
    case 'sbb':
      return 'const rl = (al - bl - c) | 0; const rh = (ah - bh - ((c !== 0 ? (al >>> 0) <= (bl >>> 0) : (al >>> 0) < (bl >>> 0)) ? 1 : 0)) | 0;';
    case 'and': case 'test':
      return 'const rl = al & bl; const rh = ah & bh;';
    case 'or':
      return 'const rl = al | bl; const rh = ah | bh;';
    case 'xor':
      return 'const rl = al ^ bl; const rh = ah ^ bh;';
  }
}

function binaryTemplate(opn: Binary, form: Form, size: Size): Template {
  const name = `${opn}_${form}${size}`;
  const cin = CARRY_IN[opn] ? 'const c = X.getCF(cpu);' : '';
  const x = CARRY_IN[opn] ? 'c' : '0';
  const ea = form === 'rm' || form === 'mr' || form === 'mi' ? 'EA' : '';
  if (size !== 64) {
    const a = form === 'mr' || form === 'mi' ? mget(size) : rget(size, 'd');
    const b = form === 'rr' || form === 'mr' ? rget(size, 's') : form === 'rm' ? mget(size) : immv(size);
    const write = !WRITES[opn] ? '' : form === 'mr' || form === 'mi' ? mset(size, 'r') : rset(size, 'd', 'r');
    return {
      name,
      body: `${ea}\nconst a = ${a}; const b = ${b}; ${cin}\nconst r = ${expr32(opn, size)};\n${write}\n${setFlags(KIND[opn], size, 'a', 'b', 'r', x)}`,
    };
  }
  const loadA = form === 'mr' || form === 'mi' ? 'const al = M.read64(eal, eah), ah = M.hiOut;' : 'const al = L[$d], ah = H[$d];';
  const loadB = form === 'rr' || form === 'mr' ? 'const bl = L[$s], bh = H[$s];'
    : form === 'rm' ? 'const bl = M.read64(eal, eah), bh = M.hiOut;' : 'const bl = $imm, bh = $immh;';
  const write = !WRITES[opn] ? '' : form === 'mr' || form === 'mi' ? 'M.write64(eal, eah, rl, rh);' : 'L[$d] = rl; H[$d] = rh;';
  return {
    name,
    body: `${ea}\n${loadA} ${loadB} ${cin}\n${expr64(opn)}\n${write}\n${setFlags64(KIND[opn], 'al', 'ah', 'bl', 'bh', 'rl', 'rh', x)}`,
  };
}

type Unary = 'inc' | 'dec' | 'neg' | 'not';

const SIGN_MIN: Record<Size, string> = { 8: '0x80', 16: '0x8000', 32: '(0x80000000 | 0)', 64: '(0x80000000 | 0)' };

function unaryTemplate(opn: Unary, mem: boolean, size: Size): Template {
  const name = `${opn}_${mem ? 'm' : 'r'}${size}`;
  const ea = mem ? 'EA' : '';
  if (size !== 64) {
    const a = mem ? mget(size) : rget(size, 'd');
    const w = (v: string): string => (mem ? mset(size, v) : rset(size, 'd', v));
    let body: string;
    switch (opn) {
      case 'inc':
        body = `const r = ${norm(size, 'a + 1')}; const cf = X.getCF(cpu);\n${w('r')}\n` +
          `${setFlags('X.K_RES', size, 'a', '1', 'r', `cf | ((r & 15) === 0 ? 16 : 0) | (r === ${SIGN_MIN[size]} ? 2048 : 0)`)}`;
        break;
      case 'dec':
        body = `const r = ${norm(size, 'a - 1')}; const cf = X.getCF(cpu);\n${w('r')}\n` +
          `${setFlags('X.K_RES', size, 'a', '1', 'r', `cf | ((r & 15) === 15 ? 16 : 0) | (a === ${SIGN_MIN[size]} ? 2048 : 0)`)}`;
        break;
      case 'neg':
        body = `const r = ${norm(size, '-a')};\n${w('r')}\n${setFlags('X.K_SUB', size, '0', 'a', 'r', '0')}`;
        break;
      case 'not':
        body = `${w(norm(size, '~a'))}`;
        break;
    }
    return { name, body: `${ea}\nconst a = ${a};\n${body}` };
  }
  const load = mem ? 'const al = M.read64(eal, eah), ah = M.hiOut;' : 'const al = L[$d], ah = H[$d];';
  const w = mem ? 'M.write64(eal, eah, rl, rh);' : 'L[$d] = rl; H[$d] = rh;';
  let body: string;
  switch (opn) {
    case 'inc':
      body = `const rl = (al + 1) | 0; const rh = rl === 0 ? (ah + 1) | 0 : ah; const cf = X.getCF(cpu);\n${w}\n` +
        setFlags64('X.K_RES', 'al', 'ah', '1', '0', 'rl', 'rh', `cf | ((rl & 15) === 0 ? 16 : 0) | (rh === (0x80000000 | 0) && rl === 0 ? 2048 : 0)`);
      break;
    case 'dec':
      body = `const rl = (al - 1) | 0; const rh = al === 0 ? (ah - 1) | 0 : ah; const cf = X.getCF(cpu);\n${w}\n` +
        setFlags64('X.K_RES', 'al', 'ah', '1', '0', 'rl', 'rh', `cf | ((rl & 15) === 15 ? 16 : 0) | (ah === (0x80000000 | 0) && al === 0 ? 2048 : 0)`);
      break;
    case 'neg':
      body = `const rl = (-al) | 0; const rh = (~ah + (al === 0 ? 1 : 0)) | 0;\n${w}\n` +
        setFlags64('X.K_SUB', '0', '0', 'al', 'ah', 'rl', 'rh', '0');
      break;
    case 'not':
      body = `const rl = ~al, rh = ~ah;\n${w}`;
      break;
  }
  return { name, body: `${ea}\n${load}\n${body}` };
}

const BINARY: Partial<Record<Mnemonic, Binary>> = {
  [Mnemonic.Add]: 'add', [Mnemonic.Or]: 'or', [Mnemonic.Adc]: 'adc', [Mnemonic.Sbb]: 'sbb',
  [Mnemonic.And]: 'and', [Mnemonic.Sub]: 'sub', [Mnemonic.Xor]: 'xor', [Mnemonic.Cmp]: 'cmp', [Mnemonic.Test]: 'test',
};
const UNARY: Partial<Record<Mnemonic, Unary>> = {
  [Mnemonic.Inc]: 'inc', [Mnemonic.Dec]: 'dec', [Mnemonic.Neg]: 'neg', [Mnemonic.Not]: 'not',
};

/** Fill `op` for an ALU instruction; false if `ins` is not one. */
export function decodeAlu(ins: Instruction, op: Op): boolean {
  const m = ins.mnemonic;
  const bin = BINARY[m];
  if (bin !== undefined) {
    const form = decodeBinary(ins, op);
    return useTemplate(op, binaryTemplate(bin, form, op.size as Size));
  }
  const un = UNARY[m];
  if (un !== undefined) {
    op.size = decodeRm(ins, 0, op, 'd');
    return useTemplate(op, unaryTemplate(un, (op.aux & AUX_MEM) !== 0, op.size as Size));
  }
  return false;
}
