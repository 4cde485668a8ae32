// Data movement: MOV MOVZX MOVSX MOVSXD LEA XCHG PUSH POP CMOVcc SETcc CBW..CQO BSWAP CMPXCHG XADD
// LEAVE ENTER NOP (SDM vol. 2).

import { type Instruction, Code, Mnemonic, OpKind, Register } from 'iced-x86';
import type { Cpu } from '../Cpu.js';
import type { Op } from '../Op.js';
import { F, K_EAGER, getArith } from '../flags.js';
import { type Size, type Template, mget, mset, norm, rget, rset, setFlags, setFlags64, immv, useTemplate } from './template.js';
import { type BinaryForm, decodeBinary, decodeRegRm, decodeRm, gpr, isImm, isMem, setImm, setMem, setReg } from './operands.js';
import { AUX_MEM } from './operandAccess.js';
import { StackCursor } from '../StackCursor.js';

/** 64-bit push of (vl, vh): write first, then move RSP, so a faulting push changes nothing. */
export const PUSH64 = (vl: string, vh: string): string =>
  `{ const sl = (L[4] - 8) | 0; const sh = (L[4] >>> 0) < 8 ? (H[4] - 1) | 0 : H[4]; M.write64(sl, sh, ${vl}, ${vh}); L[4] = sl; H[4] = sh; }`;
/** 64-bit pop into constants vl, vh. */
export const POP64 = 'const vl = M.read64(L[4], H[4]), vh = M.hiOut; { const sl = (L[4] + 8) | 0; H[4] = (sl >>> 0) < 8 ? (H[4] + 1) | 0 : H[4]; L[4] = sl; }';

function t(name: string, body: string): Template {
  return { name, body };
}

function movTemplate(form: BinaryForm, size: Size): Template {
  const name = `mov_${form}${size}`;
  if (size === 64) {
    switch (form) {
      case 'rr': return t(name, 'L[$d] = L[$s]; H[$d] = H[$s];');
      case 'ri': return t(name, 'L[$d] = $imm; H[$d] = $immh;');
      case 'rm': return t(name, 'EA const vl = M.read64(eal, eah); H[$d] = M.hiOut; L[$d] = vl;');
      case 'mr': return t(name, 'EA M.write64(eal, eah, L[$s], H[$s]);');
      case 'mi': return t(name, 'EA M.write64(eal, eah, $imm, $immh);');
    }
  }
  switch (form) {
    case 'rr': return t(name, rset(size, 'd', rget(size, 's')));
    case 'ri': return t(name, rset(size, 'd', immv(size)));
    case 'rm': return t(name, `EA const v = ${mget(size)}; ${rset(size, 'd', 'v')}`);
    case 'mr': return t(name, `EA ${mset(size, rget(size, 's'))}`);
    case 'mi': return t(name, `EA ${mset(size, immv(size))}`);
  }
}

/** Sign-extend a normalised value of `from` bits to int32. */
function sx(from: Size, v: string): string {
  return from === 8 ? `((${v} << 24) >> 24)` : from === 16 ? `((${v} << 16) >> 16)` : `(${v} | 0)`;
}

function extendTemplate(signed: boolean, mem: boolean, from: Size, to: Size): Template {
  const name = `mov${signed ? 's' : 'z'}x_${mem ? 'm' : 'r'}${from}_${to}`;
  const src = mem ? mget(from) : rget(from, 's');
  const pre = mem ? 'EA ' : '';
  if (to === 64) {
    if (signed) return t(name, `${pre}const v = ${sx(from, src)}; L[$d] = v; H[$d] = v >> 31;`);
    return t(name, `${pre}const v = ${src}; L[$d] = v; H[$d] = 0;`);
  }
  const v = signed ? sx(from, src) : src;
  return t(name, `${pre}const v = ${v}; ${rset(to, 'd', norm(to, 'v'))}`);
}

const CONDITIONAL: Partial<Record<Mnemonic, number>> = {};
const SETCC: Partial<Record<Mnemonic, number>> = {};
{
  const c = [Mnemonic.Cmovo, Mnemonic.Cmovno, Mnemonic.Cmovb, Mnemonic.Cmovae, Mnemonic.Cmove, Mnemonic.Cmovne,
    Mnemonic.Cmovbe, Mnemonic.Cmova, Mnemonic.Cmovs, Mnemonic.Cmovns, Mnemonic.Cmovp, Mnemonic.Cmovnp,
    Mnemonic.Cmovl, Mnemonic.Cmovge, Mnemonic.Cmovle, Mnemonic.Cmovg];
  const s = [Mnemonic.Seto, Mnemonic.Setno, Mnemonic.Setb, Mnemonic.Setae, Mnemonic.Sete, Mnemonic.Setne,
    Mnemonic.Setbe, Mnemonic.Seta, Mnemonic.Sets, Mnemonic.Setns, Mnemonic.Setp, Mnemonic.Setnp,
    Mnemonic.Setl, Mnemonic.Setge, Mnemonic.Setle, Mnemonic.Setg];
  c.forEach((m, i) => (CONDITIONAL[m] = i));
  s.forEach((m, i) => (SETCC[m] = i));
}

function xlat(cpu: Cpu, op: Op): void {
  const L = cpu.lo;
  let s = (L[3] >>> 0) + (L[0] & 255);
  let hi = cpu.hi[3] + (s > 0xffffffff ? 1 : 0);
  if (op.seg !== 0) {
    s = (s >>> 0) + ((op.seg === 1 ? cpu.fsBaseLo : cpu.gsBaseLo) >>> 0);
    hi += (op.seg === 1 ? cpu.fsBaseHi : cpu.gsBaseHi) + (s > 0xffffffff ? 1 : 0);
  }
  L[0] = (L[0] & -256) | cpu.mmu.read8(s | 0, hi | 0);
}

/** 16-bit PUSH of a register (aux 0), immediate (1) or memory word (2). */
function push16(cpu: Cpu, op: Op): void {
  let v: number;
  if (op.aux === 0) v = cpu.lo[op.s] & 0xffff;
  else if (op.aux === 1) v = op.imm & 0xffff;
  else {
    op.ea(cpu, op);
    v = cpu.mmu.read16(cpu.eaLo, cpu.eaHi);
  }
  const L = cpu.lo;
  const H = cpu.hi;
  const sl = (L[4] - 2) | 0;
  const sh = (L[4] >>> 0) < 2 ? (H[4] - 1) | 0 : H[4];
  cpu.mmu.write16(sl, sh, v);
  L[4] = sl;
  H[4] = sh;
}

/** 16-bit POP into a register (aux 0, upper bits kept) or memory (2; address computed after RSP moves). */
function pop16(cpu: Cpu, op: Op): void {
  const L = cpu.lo;
  const H = cpu.hi;
  const v = cpu.mmu.read16(L[4], H[4]);
  const sl0 = L[4];
  const sh0 = H[4];
  const s = (L[4] >>> 0) + 2;
  L[4] = s | 0;
  if (s > 0xffffffff) H[4] = (H[4] + 1) | 0;
  if (op.aux === 0) {
    L[op.d] = (L[op.d] & -65536) | v;
    return;
  }
  try {
    op.ea(cpu, op);
    cpu.mmu.write16(cpu.eaLo, cpu.eaHi, v);
  } catch (e) {
    L[4] = sl0;
    H[4] = sh0;
    throw e;
  }
}

/** CMPXCHG8B m64 (SDM): compare EDX:EAX with m64; equal: ZF=1, m64 = ECX:EBX; else ZF=0, EDX:EAX = m64. */
function cmpxchg8b(cpu: Cpu, op: Op): void {
  op.ea(cpu, op);
  const m = cpu.mmu;
  const lo = cpu.eaLo;
  const hi = cpu.eaHi;
  // The destination is written in either case (the old value on failure), so it must be writable.
  m.probeWrite(lo, hi, 8);
  const vl = m.read64(lo, hi);
  const vh = m.hiOut;
  const L = cpu.lo;
  const f = getArith(cpu) & ~F.ZF;
  cpu.fk = K_EAGER;
  if (vl === L[0] && vh === L[2]) {
    m.write64(lo, hi, L[3], L[1]);
    cpu.fx = f | F.ZF;
  } else {
    m.write64(lo, hi, vl, vh);
    L[0] = vl;
    cpu.hi[0] = 0;
    L[2] = vh;
    cpu.hi[2] = 0;
    cpu.fx = f;
  }
}

/** CMPXCHG16B m128: RDX:RAX vs m128, RCX:RBX stored on equality; #GP(0) unless 16-byte aligned (SDM). */
function cmpxchg16b(cpu: Cpu, op: Op): void {
  op.ea(cpu, op);
  const m = cpu.mmu;
  const lo = cpu.eaLo;
  const hi = cpu.eaHi;
  if ((lo & 15) !== 0) throw cpu.fault.set(13, 0);
  const hl = (lo + 8) | 0;
  m.probeWrite(lo, hi, 16);
  const al = m.read64(lo, hi);
  const ah = m.hiOut;
  const bl = m.read64(hl, hi);
  const bh = m.hiOut;
  const L = cpu.lo;
  const H = cpu.hi;
  const f = getArith(cpu) & ~F.ZF;
  cpu.fk = K_EAGER;
  if (al === L[0] && ah === H[0] && bl === L[2] && bh === H[2]) {
    m.write64(lo, hi, L[3], H[3]);
    m.write64(hl, hi, L[1], H[1]);
    cpu.fx = f | F.ZF;
  } else {
    m.write64(lo, hi, al, ah);
    m.write64(hl, hi, bl, bh);
    L[0] = al; H[0] = ah; L[2] = bl; H[2] = bh;
    cpu.fx = f;
  }
}

/** ENTER's pushes go below this cursor; RSP is written at the end. */
const enterSp = new StackCursor();

/** ENTER imm16, imm8 with 64-bit operand size (SDM ENTER; nesting level taken modulo 32). */
function enter(cpu: Cpu, op: Op): void {
  const L = cpu.lo;
  const H = cpu.hi;
  const m = cpu.mmu;
  const alloc = op.imm & 0xffff;
  const level = op.immh & 31;
  enterSp.at(L[4], H[4]);
  enterSp.push64(m, L[5], H[5]);
  const frameLo = enterSp.lo;
  const frameHi = enterSp.hi;
  if (level > 0) {
    let bl = L[5];
    let bh = H[5];
    for (let i = 1; i < level; i++) {
      const nl = (bl - 8) | 0;
      bh = (bl >>> 0) < 8 ? (bh - 1) | 0 : bh;
      bl = nl;
      const vl = m.read64(bl, bh);
      enterSp.push64(m, vl, m.hiOut);
    }
    enterSp.push64(m, frameLo, frameHi);
  }
  const sl = enterSp.lo;
  const sh = enterSp.hi;
  const s = (sl >>> 0) - alloc;
  const nl = s | 0;
  const nh = s < 0 ? (sh - 1) | 0 : sh;
  // The new stack top must be writable (SDM ENTER: #SS/#PF if the allocation faults).
  if (alloc > 0) m.probeWrite(nl, nh, 1);
  L[5] = frameLo;
  H[5] = frameHi;
  L[4] = nl;
  H[4] = nh;
}

export function decodeData(ins: Instruction, op: Op): boolean {
  const m = ins.mnemonic;
  const k0 = ins.op0Kind;
  const k1 = ins.op1Kind;
  switch (m) {
    case Mnemonic.Mov: {
      if (k0 !== OpKind.Register && k0 !== OpKind.Memory) return false;
      if (k0 === OpKind.Register && gpr(ins.op0Register) === null) return false; // MOV CR/DR/Sreg: system
      if (k1 === OpKind.Register && gpr(ins.op1Register) === null) return false;
      const form = decodeBinary(ins, op);
      return useTemplate(op, movTemplate(form, op.size as Size));
    }
    case Mnemonic.Movzx:
    case Mnemonic.Movsx:
    case Mnemonic.Movsxd: {
      const to = setReg(ins, 0, op, 'd');
      const from = decodeRm(ins, 1, op, 's');
      const mem = (op.aux & AUX_MEM) !== 0;
      op.size = to;
      if (m === Mnemonic.Movsxd && from === 32 && to === 64) {
        return useTemplate(op, extendTemplate(true, mem, 32, 64));
      }
      if (from === 32 || from === to) {
        // MOVSXD r32, r/m32 (and 16-bit forms): a plain move.
        return useTemplate(op, movTemplate(mem ? 'rm' : 'rr', to));
      }
      return useTemplate(op, extendTemplate(m !== Mnemonic.Movzx, mem, from, to));
    }
    case Mnemonic.Lea: {
      const size = setReg(ins, 0, op, 'd');
      setMem(ins, op);
      op.size = size;
      if (size === 64) return useTemplate(op, t('lea64', 'EA L[$d] = eal; H[$d] = eah;'));
      return useTemplate(op, t(`lea${size}`, `EA ${rset(size, 'd', norm(size, 'eal'))}`));
    }
    case Mnemonic.Xchg: {
      if (isMem(k0) || isMem(k1)) {
        setMem(ins, op);
        const size = setReg(ins, isMem(k0) ? 1 : 0, op, 's');
        op.size = size;
        if (size === 64) return useTemplate(op, t('xchg_m64', 'EA M.probeWrite(eal, eah, 8); const vl = M.read64(eal, eah), vh = M.hiOut; M.write64(eal, eah, L[$s], H[$s]); L[$s] = vl; H[$s] = vh;'));
        return useTemplate(op, t(`xchg_m${size}`, `EA M.probeWrite(eal, eah, ${size / 8}); const v = ${mget(size)}; ${mset(size, rget(size, 's'))} ${rset(size, 's', 'v')}`));
      }
      const size = setReg(ins, 0, op, 'd');
      setReg(ins, 1, op, 's');
      op.size = size;
      if (size === 64) return useTemplate(op, t('xchg_rr64', 'const vl = L[$d], vh = H[$d]; L[$d] = L[$s]; H[$d] = H[$s]; L[$s] = vl; H[$s] = vh;'));
      // Note: xchg eax, eax (90 is NOP; 87 C0 zero-extends) is handled by iced as NOP or this form.
      return useTemplate(op, t(`xchg_rr${size}`, `const a = ${rget(size, 'd')}, b = ${rget(size, 's')}; ${rset(size, 'd', 'b')} ${rset(size, 's', 'a')}`));
    }
    case Mnemonic.Xlatb: {
      // XLAT: AL = [RBX + zero-extended AL] (SDM XLAT/XLATB), DS (flat) or an FS/GS override.
      const seg = ins.segmentPrefix;
      op.seg = seg === Register.FS ? 1 : seg === Register.GS ? 2 : 0;
      op.fn = xlat;
      op.name = 'xlat';
      return true;
    }
    case Mnemonic.Cmpxchg8b:
    case Mnemonic.Cmpxchg16b:
      setMem(ins, op);
      op.size = m === Mnemonic.Cmpxchg8b ? 64 : 128;
      op.fn = m === Mnemonic.Cmpxchg8b ? cmpxchg8b : cmpxchg16b;
      op.name = m === Mnemonic.Cmpxchg8b ? 'cmpxchg8b' : 'cmpxchg16b';
      return true;
    case Mnemonic.Push: {
      if (ins.stackPointerIncrement === -2) {
        // 16-bit push (66h): 2 bytes, RSP - 2 (SDM PUSH, operand size 16).
        if (k0 === OpKind.Register) {
          const g = gpr(ins.op0Register);
          if (g === null) return false;
          op.s = g.index;
          op.aux = 0;
        } else if (isImm(k0)) {
          setImm(ins, 0, op);
          op.aux = 1;
        } else {
          setMem(ins, op);
          op.aux = 2;
        }
        op.fn = push16;
        op.name = 'push16';
        return true;
      }
      if (k0 === OpKind.Register) {
        const g = gpr(ins.op0Register);
        if (g === null) return false; // PUSH FS/GS: system
        if (g.size !== 64) return false;
        op.d = g.index;
        return useTemplate(op, t('push_r64', PUSH64('L[$d]', 'H[$d]')));
      }
      if (isImm(k0)) {
        if (ins.stackPointerIncrement !== -8) return false;
        setImm(ins, 0, op);
        return useTemplate(op, t('push_i64', PUSH64('$imm', '$immh')));
      }
      if (isMem(k0)) {
        if (ins.stackPointerIncrement !== -8) return false;
        setMem(ins, op);
        return useTemplate(op, t('push_m64', `EA const vl = M.read64(eal, eah), vh = M.hiOut; ${PUSH64('vl', 'vh')}`));
      }
      return false;
    }
    case Mnemonic.Pop: {
      if (ins.stackPointerIncrement === 2) {
        if (k0 === OpKind.Register) {
          const g = gpr(ins.op0Register);
          if (g === null) return false;
          op.d = g.index;
          op.aux = 0;
        } else {
          setMem(ins, op);
          op.aux = 2;
        }
        op.fn = pop16;
        op.name = 'pop16';
        return true;
      }
      if (ins.stackPointerIncrement !== 8) return false;
      if (k0 === OpKind.Register) {
        const g = gpr(ins.op0Register);
        if (g === null) return false;
        op.d = g.index;
        return useTemplate(op, t('pop_r64', `${POP64} L[$d] = vl; H[$d] = vh;`));
      }
      if (isMem(k0)) {
        // POP m64: the address is computed after RSP is incremented (SDM POP: "If the destination operand
        // uses RSP as a base register, its value is computed after the POP increments RSP").
        setMem(ins, op);
        return useTemplate(op, t('pop_m64', `const sl0 = L[4], sh0 = H[4]; ${POP64} try { EA M.write64(eal, eah, vl, vh); } catch (e) { L[4] = sl0; H[4] = sh0; throw e; }`));
      }
      return false;
    }
    case Mnemonic.Enter:
      op.imm = ins.immediate16;
      op.immh = ins.immediate8_2nd;
      op.fn = enter;
      op.name = 'enter';
      return true;
    case Mnemonic.Leave: {
      // LEAVE with a 66h prefix (16-bit pop of BP) is not something gcc emits: #UD rather than a wrong result.
      if (ins.code !== Code.Leaveq) return false;
      return useTemplate(op, t('leave64', 'const vl = M.read64(L[5], H[5]), vh = M.hiOut; { const sl = (L[5] + 8) | 0; H[4] = (sl >>> 0) < 8 ? (H[5] + 1) | 0 : H[5]; L[4] = sl; } L[5] = vl; H[5] = vh;'));
    }
    case Mnemonic.Cbw: return useTemplate(op, t('cbw', 'L[0] = (L[0] & -65536) | (((L[0] << 24) >> 24) & 65535);'));
    case Mnemonic.Cwde: return useTemplate(op, t('cwde', 'L[0] = (L[0] << 16) >> 16; H[0] = 0;'));
    case Mnemonic.Cdqe: return useTemplate(op, t('cdqe', 'H[0] = L[0] >> 31;'));
    case Mnemonic.Cwd: return useTemplate(op, t('cwd', 'L[2] = (L[2] & -65536) | (((L[0] << 16) >> 31) & 65535);'));
    case Mnemonic.Cdq: return useTemplate(op, t('cdq', 'L[2] = L[0] >> 31; H[2] = 0;'));
    case Mnemonic.Cqo: return useTemplate(op, t('cqo', 'L[2] = H[0] >> 31; H[2] = H[0] >> 31;'));
    case Mnemonic.Bswap: {
      const size = setReg(ins, 0, op, 'd');
      if (size === 64) return useTemplate(op, t('bswap64', 'const a = L[$d], b = H[$d]; L[$d] = ((b >>> 24) | ((b >>> 8) & 0xff00) | ((b << 8) & 0xff0000) | (b << 24)); H[$d] = ((a >>> 24) | ((a >>> 8) & 0xff00) | ((a << 8) & 0xff0000) | (a << 24));'));
      if (size === 32) return useTemplate(op, t('bswap32', 'const a = L[$d]; L[$d] = ((a >>> 24) | ((a >>> 8) & 0xff00) | ((a << 8) & 0xff0000) | (a << 24)); H[$d] = 0;'));
      // BSWAP r16 is undefined (SDM); real CPUs write 0 to the low word.
      return useTemplate(op, t('bswap16', 'L[$d] = L[$d] & -65536;'));
    }
    case Mnemonic.Cmpxchg:
      return useTemplate(op, cmpxchgTemplate(decodeBinary(ins, op) === 'mr', op.size as Size));
    case Mnemonic.Xadd:
      return useTemplate(op, xaddTemplate(decodeBinary(ins, op) === 'mr', op.size as Size));
    case Mnemonic.Nop:
    case Mnemonic.Pause:
    case Mnemonic.Endbr64:
    case Mnemonic.Lfence:
    case Mnemonic.Mfence:
    case Mnemonic.Sfence:
    case Mnemonic.Prefetchnta:
    case Mnemonic.Prefetcht0:
    case Mnemonic.Prefetcht1:
    case Mnemonic.Prefetcht2:
    case Mnemonic.Prefetchw:
      return useTemplate(op, t('nop', ''));
    default: {
      const cc = CONDITIONAL[m];
      if (cc !== undefined) {
        op.cc = cc;
        decodeRegRm(ins, op);
        return useTemplate(op, cmovTemplate((op.aux & AUX_MEM) !== 0, op.size as Size));
      }
      const sc = SETCC[m];
      if (sc !== undefined) {
        op.cc = sc;
        op.size = decodeRm(ins, 0, op, 'd');
        if ((op.aux & AUX_MEM) !== 0) return useTemplate(op, t('setcc_m', 'EA M.write8(eal, eah, X.testCondition(cpu, $cc) ? 1 : 0);'));
        return useTemplate(op, t('setcc_r', rset(8, 'd', 'X.testCondition(cpu, $cc) ? 1 : 0')));
      }
      return false;
    }
  }
}

function cmovTemplate(mem: boolean, size: Size): Template {
  const name = `cmov_${mem ? 'm' : 'r'}${size}`;
  // The source is read (and may fault) whether or not the condition holds (SDM CMOVcc); a 32-bit
  // destination is zero-extended even when the condition is false.
  if (size === 64) {
    const src = mem ? 'EA const vl = M.read64(eal, eah), vh = M.hiOut;' : 'const vl = L[$s], vh = H[$s];';
    return t(name, `${src} if (X.testCondition(cpu, $cc)) { L[$d] = vl; H[$d] = vh; }`);
  }
  const src = mem ? `EA const v = ${mget(size)};` : `const v = ${rget(size, 's')};`;
  if (size === 32) return t(name, `${src} if (X.testCondition(cpu, $cc)) L[$d] = v; H[$d] = 0;`);
  return t(name, `${src} if (X.testCondition(cpu, $cc)) { ${rset(size, 'd', 'v')} }`);
}

function cmpxchgTemplate(mem: boolean, size: Size): Template {
  const name = `cmpxchg_${mem ? 'm' : 'r'}${size}`;
  // Compare the accumulator with the destination; flags as CMP acc, dest (SDM CMPXCHG). A memory
  // destination is always written (with its old value on failure), so check writability first.
  if (size === 64) {
    const load = mem ? 'EA M.probeWrite(eal, eah, 8); const dl = M.read64(eal, eah), dh = M.hiOut;' : 'const dl = L[$d], dh = H[$d];';
    const store = (vl: string, vh: string): string => (mem ? `M.write64(eal, eah, ${vl}, ${vh});` : `L[$d] = ${vl}; H[$d] = ${vh};`);
    return t(name, `${load} const al = L[0], ah = H[0];
const rl = (al - dl) | 0; const rh = (ah - dh - ((al >>> 0) < (dl >>> 0) ? 1 : 0)) | 0;
if (al === dl && ah === dh) { ${store('L[$s]', 'H[$s]')} } else { ${mem ? store('dl', 'dh') : ''} L[0] = dl; H[0] = dh; }
${setFlags64('X.K_SUB', 'al', 'ah', 'dl', 'dh', 'rl', 'rh', '0')}`);
  }
  const load = mem ? `EA M.probeWrite(eal, eah, ${size / 8}); const d = ${mget(size)};` : `const d = ${rget(size, 'd')};`;
  const store = (v: string): string => (mem ? mset(size, v) : rset(size, 'd', v));
  const acc = size === 8 ? '(L[0] & 255)' : size === 16 ? '(L[0] & 65535)' : 'L[0]';
  const setAcc = size === 8 ? 'L[0] = (L[0] & -256) | d;' : size === 16 ? 'L[0] = (L[0] & -65536) | d;' : 'L[0] = d; H[0] = 0;';
  return t(name, `${load} const a = ${acc}; const r = ${norm(size, 'a - d')};
if (a === d) { ${store(rget(size, 's'))} } else { ${mem ? store('d') : ''} ${setAcc} }
${setFlags('X.K_SUB', size, 'a', 'd', 'r', '0')}`);
}

function xaddTemplate(mem: boolean, size: Size): Template {
  const name = `xadd_${mem ? 'm' : 'r'}${size}`;
  if (size === 64) {
    const load = mem ? 'EA M.probeWrite(eal, eah, 8); const al = M.read64(eal, eah), ah = M.hiOut;' : 'const al = L[$d], ah = H[$d];';
    const store = mem ? 'M.write64(eal, eah, rl, rh);' : 'L[$d] = rl; H[$d] = rh;';
    return t(name, `${load} const bl = L[$s], bh = H[$s];
const rl = (al + bl) | 0; const rh = (ah + bh + ((rl >>> 0) < (al >>> 0) ? 1 : 0)) | 0;
L[$s] = al; H[$s] = ah; ${store}
${setFlags64('X.K_ADD', 'al', 'ah', 'bl', 'bh', 'rl', 'rh', '0')}`);
  }
  const load = mem ? `EA M.probeWrite(eal, eah, ${size / 8}); const a = ${mget(size)};` : `const a = ${rget(size, 'd')};`;
  const store = mem ? mset(size, 'r') : rset(size, 'd', 'r');
  return t(name, `${load} const b = ${rget(size, 's')}; const r = ${norm(size, 'a + b')};
${rset(size, 's', 'a')} ${store}
${setFlags('X.K_ADD', size, 'a', 'b', 'r', '0')}`);
}

