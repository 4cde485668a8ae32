// Control transfer: JMP Jcc CALL RET (near, direct and indirect), JRCXZ, LOOP (SDM vol. 2). Each ends
// its block; the run loop set cpu.rip to the fall-through address before the block ran.

import { type Instruction, Mnemonic, OpKind } from 'iced-x86';
import type { Op } from '../Op.js';
import { useTemplate } from './template.js';
import { gpr, isMem, setMem } from './operands.js';
import { PUSH64 } from './data.js';

const JCC: Partial<Record<Mnemonic, number>> = {};
[Mnemonic.Jo, Mnemonic.Jno, Mnemonic.Jb, Mnemonic.Jae, Mnemonic.Je, Mnemonic.Jne, Mnemonic.Jbe, Mnemonic.Ja,
  Mnemonic.Js, Mnemonic.Jns, Mnemonic.Jp, Mnemonic.Jnp, Mnemonic.Jl, Mnemonic.Jge, Mnemonic.Jle, Mnemonic.Jg]
  .forEach((m, i) => (JCC[m] = i));

/** Jump to the 64-bit address (lo, hi); #GP(0) on a non-canonical target (SDM JMP: 64-bit mode). */
const JUMP = (lo: string, hi: string): string =>
  `{ const jl = ${lo}, jh = ${hi}; if (jh !== ((jh << 16) >> 16)) throw cpu.fault.set(13, 0); cpu.rip = jh * 4294967296 + (jl >>> 0); }`;

export function decodeControl(ins: Instruction, op: Op): boolean {
  const m = ins.mnemonic;
  const k0 = ins.op0Kind;
  const direct = k0 === OpKind.NearBranch64 || k0 === OpKind.NearBranch32 || k0 === OpKind.NearBranch16;
  if (direct) op.target = Number(BigInt.asIntN(64, ins.nearBranchTarget));
  const cc = JCC[m];
  if (cc !== undefined) {
    op.cc = cc;
    return useTemplate(op, { name: 'jcc', body: 'if (X.testCondition(cpu, $cc)) cpu.rip = $target;' });
  }
  switch (m) {
    case Mnemonic.Jmp:
      if (direct) return useTemplate(op, { name: 'jmp', body: 'cpu.rip = $target;' });
      if (k0 === OpKind.Register) {
        const g = gpr(ins.op0Register);
        if (g === null || g.size !== 64) return false;
        op.d = g.index;
        return useTemplate(op, { name: 'jmp_r', body: JUMP('L[$d]', 'H[$d]') });
      }
      if (isMem(k0) && !ins.isJmpFarIndirect) {
        setMem(ins, op);
        return useTemplate(op, { name: 'jmp_m', body: `EA const tl = M.read64(eal, eah), th = M.hiOut; ${JUMP('tl', 'th')}` });
      }
      return false;
    case Mnemonic.Call:
      if (direct) return useTemplate(op, { name: 'call', body: `${PUSH64('$nextLo', '$nextHi')} cpu.rip = $target;` });
      if (k0 === OpKind.Register) {
        const g = gpr(ins.op0Register);
        if (g === null || g.size !== 64) return false;
        op.d = g.index;
        // Check the target before pushing, so a bad target faults with RSP unchanged.
        return useTemplate(op, { name: 'call_r', body: `const tl = L[$d], th = H[$d]; if (th !== ((th << 16) >> 16)) throw cpu.fault.set(13, 0); ${PUSH64('$nextLo', '$nextHi')} cpu.rip = th * 4294967296 + (tl >>> 0);` });
      }
      if (isMem(k0) && !ins.isCallFarIndirect) {
        setMem(ins, op);
        return useTemplate(op, { name: 'call_m', body: `EA const tl = M.read64(eal, eah), th = M.hiOut; if (th !== ((th << 16) >> 16)) throw cpu.fault.set(13, 0); ${PUSH64('$nextLo', '$nextHi')} cpu.rip = th * 4294967296 + (tl >>> 0);` });
      }
      return false;
    case Mnemonic.Ret:
      if (ins.opCount === 1) {
        op.imm = ins.immediate16;
        return useTemplate(op, { name: 'ret_i', body: `const vl = M.read64(L[4], H[4]), vh = M.hiOut; if (vh !== ((vh << 16) >> 16)) throw cpu.fault.set(13, 0);
const s = (L[4] >>> 0) + 8 + $imm; L[4] = s | 0; H[4] = (H[4] + (s > 4294967295 ? 1 : 0)) | 0; cpu.rip = vh * 4294967296 + (vl >>> 0);` });
      }
      return useTemplate(op, { name: 'ret', body: `const vl = M.read64(L[4], H[4]), vh = M.hiOut; if (vh !== ((vh << 16) >> 16)) throw cpu.fault.set(13, 0);
{ const sl = (L[4] + 8) | 0; H[4] = (sl >>> 0) < 8 ? (H[4] + 1) | 0 : H[4]; L[4] = sl; } cpu.rip = vh * 4294967296 + (vl >>> 0);` });
    case Mnemonic.Jrcxz:
      return useTemplate(op, { name: 'jrcxz', body: 'if ((L[1] | H[1]) === 0) cpu.rip = $target;' });
    case Mnemonic.Jecxz:
      return useTemplate(op, { name: 'jecxz', body: 'if (L[1] === 0) cpu.rip = $target;' });
    case Mnemonic.Loop:
      return useTemplate(op, { name: 'loop', body: 'const l = (L[1] - 1) | 0; if (l === -1) H[1] = (H[1] - 1) | 0; L[1] = l; if ((l | H[1]) !== 0) cpu.rip = $target;' });
    case Mnemonic.Loope:
      return useTemplate(op, { name: 'loope', body: 'const z = X.testCondition(cpu, 4); const l = (L[1] - 1) | 0; if (l === -1) H[1] = (H[1] - 1) | 0; L[1] = l; if ((l | H[1]) !== 0 && z) cpu.rip = $target;' });
    case Mnemonic.Loopne:
      return useTemplate(op, { name: 'loopne', body: 'const z = X.testCondition(cpu, 4); const l = (L[1] - 1) | 0; if (l === -1) H[1] = (H[1] - 1) | 0; L[1] = l; if ((l | H[1]) !== 0 && !z) cpu.rip = $target;' });
    default:
      return false;
  }
}
