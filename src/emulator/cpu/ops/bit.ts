// Bit instructions: BT BTS BTR BTC (register and immediate bit offsets, memory bit strings) and BSF BSR
// (SDM vol. 2). BT*: CF = the bit; ZF unchanged; OF SF AF PF undefined (we keep them). BSF/BSR: ZF = source
// is zero, destination unchanged then (as Intel and AMD processors do); other flags undefined.

import { type Instruction, Mnemonic } from 'iced-x86';
import type { Cpu } from '../Cpu.js';
import type { Op } from '../Op.js';
import { F, K_EAGER, getArith } from '../flags.js';
import { decodeRegRm, decodeRm, isImm, setReg } from './operands.js';
import { AUX_MEM, readAtEa, readDst, readSource, writeDst, writeReg } from './operandAccess.js';

const BitOp = { bt: 0, bts: 1, btr: 2, btc: 3 } as const;
type BitOp = (typeof BitOp)[keyof typeof BitOp];
const AUX_IMM = 2;

function bitHandler(kind: BitOp) {
  return (cpu: Cpu, op: Op): void => {
    const size = op.size;
    let bit: number;
    if ((op.aux & AUX_IMM) !== 0) {
      bit = op.imm & (size - 1);
      readDst(cpu, op);
    } else {
      // Register bit offset: for a memory operand it selects any bit of a bit string (signed offset).
      const offLo = cpu.lo[op.s];
      const offHi = cpu.hi[op.s];
      if ((op.aux & AUX_MEM) !== 0) {
        op.ea(cpu, op);
        // byte displacement = (offset >> log2(size)) * (size / 8), offset sign-extended at operand size
        let offset: number;
        if (size === 64) offset = offHi * 4294967296 + (offLo >>> 0);
        else if (size === 32) offset = offLo;
        else offset = (offLo << 16) >> 16;
        const units = Math.floor(offset / size);
        bit = offset - units * size;
        const delta = units * (size / 8);
        const s = (cpu.eaLo >>> 0) + delta;
        const lo = s % 4294967296;
        const carry = Math.floor(s / 4294967296);
        cpu.eaLo = lo | 0;
        cpu.eaHi = (cpu.eaHi + carry) | 0;
        readAtEa(cpu, size);
        apply(cpu, op, kind, bit);
        return;
      }
      bit = offLo & (size - 1);
      readDst(cpu, op);
    }
    apply(cpu, op, kind, bit);
  };
}

/** Test (and set, reset, complement) `bit` of the operand read into cpu.t0/t1; written back to where it was read. */
function apply(cpu: Cpu, op: Op, kind: BitOp, bit: number): void {
  let lo = cpu.t0;
  let hi = op.size === 64 ? cpu.t1 : 0;
  const inHi = bit >= 32;
  const mask = 1 << (bit & 31);
  const cf = ((inHi ? hi : lo) & mask) !== 0 ? 1 : 0;
  if (kind !== BitOp.bt) {
    const w = inHi ? hi : lo;
    const nw = kind === BitOp.bts ? w | mask : kind === BitOp.btr ? w & ~mask : w ^ mask;
    if (inHi) hi = nw;
    else lo = nw;
    writeDst(cpu, op, lo, hi);
  }
  const f = getArith(cpu);
  cpu.fk = K_EAGER;
  cpu.fx = (f & ~F.CF) | cf;
}

function bsfBsr(reverse: boolean) {
  return (cpu: Cpu, op: Op): void => {
    // Source operand: memory (AUX_MEM) or register s; destination register d.
    const size = op.size;
    readSource(cpu, op);
    const lo = cpu.t0;
    const hi = size === 64 ? cpu.t1 : 0;
    const f = getArith(cpu) & ~F.ZF;
    cpu.fk = K_EAGER;
    if ((lo | hi) === 0) {
      cpu.fx = f | F.ZF;
      return;
    }
    let idx: number;
    if (reverse) idx = hi !== 0 ? 63 - Math.clz32(hi) : 31 - Math.clz32(lo);
    else idx = lo !== 0 ? 31 - Math.clz32(lo & -lo) : 63 - Math.clz32(hi & -hi);
    cpu.fx = f;
    writeReg(cpu, op.d, 0, size, idx, 0);
  };
}

/**
 * Bit counts (SDM POPCNT, LZCNT, TZCNT): result in d; flags as each instruction defines them. LZCNT and TZCNT
 * are BSR and BSF on a CPU whose CPUID does not advertise them (Cpu.lzcnt, Cpu.bmi1): their encodings are BSR
 * and BSF with an F3 prefix, which older CPUs ignore; gcc relies on it for `rep bsf`.
 */
function bitCount(kind: 'popcnt' | 'lzcnt' | 'tzcnt') {
  return (cpu: Cpu, op: Op): void => {
    if (kind === 'tzcnt' && !cpu.bmi1) return BSF(cpu, op);
    if (kind === 'lzcnt' && !cpu.lzcnt) return BSR(cpu, op);
    const size = op.size;
    readSource(cpu, op);
    const lo = cpu.t0;
    const hi = size === 64 ? cpu.t1 : 0;
    let r: number;
    if (kind === 'popcnt') {
      r = pop32(lo) + pop32(hi);
    } else if (kind === 'lzcnt') {
      if (size === 64) r = hi !== 0 ? Math.clz32(hi) : 32 + Math.clz32(lo);
      else r = Math.clz32(lo) - (32 - size);
    } else if ((lo | hi) === 0) {
      r = size;
    } else {
      r = lo !== 0 ? 31 - Math.clz32(lo & -lo) : 63 - Math.clz32(hi & -hi);
    }
    cpu.fk = K_EAGER;
    if (kind === 'popcnt') {
      // POPCNT clears OF SF AF CF PF and sets ZF for a zero source.
      cpu.fx = (lo | hi) === 0 ? F.ZF : 0;
    } else {
      // LZCNT/TZCNT: CF = source is zero, ZF = result is zero; OF SF AF PF undefined (kept).
      const keep = getArith(cpu) & (F.OF | F.SF | F.AF | F.PF);
      cpu.fx = keep | ((lo | hi) === 0 ? F.CF : 0) | (r === 0 ? F.ZF : 0);
    }
    writeReg(cpu, op.d, 0, size, r, 0);
  };
}

function pop32(v: number): number {
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

const COUNT: Partial<Record<Mnemonic, (cpu: Cpu, op: Op) => void>> = {
  [Mnemonic.Popcnt]: bitCount('popcnt'), [Mnemonic.Lzcnt]: bitCount('lzcnt'), [Mnemonic.Tzcnt]: bitCount('tzcnt'),
};

const HANDLERS = [bitHandler(BitOp.bt), bitHandler(BitOp.bts), bitHandler(BitOp.btr), bitHandler(BitOp.btc)];
const BSF = bsfBsr(false);
const BSR = bsfBsr(true);
const KINDS: Partial<Record<Mnemonic, BitOp>> = {
  [Mnemonic.Bt]: BitOp.bt, [Mnemonic.Bts]: BitOp.bts, [Mnemonic.Btr]: BitOp.btr, [Mnemonic.Btc]: BitOp.btc,
};

export function decodeBit(ins: Instruction, op: Op): boolean {
  const m = ins.mnemonic;
  const kind = KINDS[m];
  if (kind !== undefined) {
    op.size = decodeRm(ins, 0, op, 'd');
    if (isImm(ins.op1Kind)) {
      op.aux |= AUX_IMM;
      op.imm = ins.immediate8;
    } else {
      setReg(ins, 1, op, 's');
    }
    op.fn = HANDLERS[kind];
    op.name = ['bt', 'bts', 'btr', 'btc'][kind];
    return true;
  }
  const count = COUNT[m];
  if (count !== undefined) {
    decodeRegRm(ins, op);
    op.fn = count;
    op.name = Mnemonic[m].toLowerCase();
    return true;
  }
  if (m === Mnemonic.Bsf || m === Mnemonic.Bsr) {
    decodeRegRm(ins, op);
    op.fn = m === Mnemonic.Bsf ? BSF : BSR;
    op.name = m === Mnemonic.Bsf ? 'bsf' : 'bsr';
    return true;
  }
  return false;
}
