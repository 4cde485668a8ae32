// Control registers and the TLB/caches: MOV to/from CR0 CR2 CR3 CR4 CR8, CLTS, LMSW, INVLPG, WBINVD, INVD
// (SDM vol. 2). op.aux of MOV CR / CLTS / LMSW holds the low bits of the control-register-access exit
// qualification (SDM vol. 3 28.2.1 table 28-3: vmx/qualification.ts CrAccessType): bits 3:0 the CR number,
// 5:4 the access type, 6 LMSW's operand type, 11:8 the GPR. LMSW's source data is in op.imm.

import { type Instruction, Mnemonic, OpKind, Register } from 'iced-x86';
import type { Cpu } from '../Cpu.js';
import { Cr0, Cr4, Exitable } from '../arch.js';
import type { Op } from '../Op.js';
import { CrAccessType } from '../../vmx/qualification.js';
import { gpr, setMem } from './operands.js';
import { type H, AUX_WORD_MEM, gp0, hooked, ud, use, wordOperand } from './hooked.js';

const CR4_ALLOWED = Cr4.PSE | Cr4.PAE | Cr4.PGE | Cr4.TSD | (1 << 3) /* DE */ | (1 << 9) /* OSFXSR */ |
  (1 << 10) /* OSXMMEXCPT */ | (1 << 16) /* FSGSBASE */;

function writeCr(cpu: Cpu, cr: number, lo: number, hi: number): void {
  switch (cr) {
    case 0: {
      if (hi !== 0) gp0(cpu);
      // Long mode requires PG and PE; clearing them (or setting PG without PE) is #GP (SDM MOV CR).
      if ((lo & Cr0.PG) === 0 || (lo & Cr0.PE) === 0) gp0(cpu);
      // NW without CD is #GP.
      if ((lo & (1 << 29)) !== 0 && (lo & (1 << 30)) === 0) gp0(cpu);
      cpu.cr0 = lo | Cr0.ET;
      cpu.syncPaging();
      cpu.mmu.flushTlb();
      return;
    }
    case 2:
      cpu.cr2Lo = lo;
      cpu.cr2Hi = hi;
      return;
    case 3: {
      // Bits 51:MAXPHYADDR are reserved; our guest-physical space is below 4 GiB.
      if (hi !== 0) gp0(cpu);
      cpu.setCr3(lo >>> 0);
      return;
    }
    case 4: {
      if (hi !== 0 || (lo & ~CR4_ALLOWED) !== 0 || (lo & Cr4.PAE) === 0) gp0(cpu);
      cpu.cr4 = lo;
      cpu.syncPaging();
      cpu.mmu.flushTlb();
      return;
    }
    case 8:
      if (hi !== 0 || (lo & ~15) !== 0) gp0(cpu);
      cpu.cr8 = lo;
      return;
    default:
      ud(cpu);
  }
}

function readCr(cpu: Cpu, cr: number): [number, number] {
  switch (cr) {
    case 0: return [cpu.cr0, 0];
    case 2: return [cpu.cr2Lo, cpu.cr2Hi];
    case 3: return [cpu.cr3, 0];
    case 4: return [cpu.cr4, 0];
    case 8: return [cpu.cr8, 0];
    default: return ud(cpu);
  }
}

const movToCr: H = (cpu, op) => {
  cpu.requireCpl0();
  if (hooked(cpu, Exitable.movToCr, op)) return;
  writeCr(cpu, op.aux & 15, cpu.lo[op.d], cpu.hi[op.d]);
};

const movFromCr: H = (cpu, op) => {
  cpu.requireCpl0();
  if (hooked(cpu, Exitable.movFromCr, op)) return;
  const [lo, hi] = readCr(cpu, op.aux & 15);
  cpu.lo[op.d] = lo;
  cpu.hi[op.d] = hi;
};

const clts: H = (cpu, op) => {
  cpu.requireCpl0();
  if (hooked(cpu, Exitable.movToCr, op)) return;
  cpu.cr0 &= ~Cr0.TS;
};

const lmsw: H = (cpu, op) => {
  cpu.requireCpl0();
  let v: number;
  if ((op.aux & AUX_WORD_MEM) !== 0) {
    op.ea(cpu, op);
    v = cpu.mmu.read16(cpu.eaLo, cpu.eaHi);
  } else {
    v = cpu.lo[op.s] & 0xffff;
  }
  op.imm = v;
  if (hooked(cpu, Exitable.movToCr, op)) return;
  // LMSW loads PE MP EM TS only, and cannot clear PE (SDM LMSW).
  cpu.cr0 = (cpu.cr0 & ~0xe) | (v & 0xf) | Cr0.PE;
};

const invlpg: H = (cpu, op) => {
  cpu.requireCpl0();
  op.ea(cpu, op);
  if (hooked(cpu, Exitable.invlpg, op)) return;
  cpu.mmu.invalidatePage(cpu.eaLo, cpu.eaHi);
};

const privilegedNop = (kind: Exitable | 0): H => (cpu, op) => {
  cpu.requireCpl0();
  if (kind !== 0) hooked(cpu, kind, op);
};

const CR_REGS: Partial<Record<Register, number>> = {
  [Register.CR0]: 0, [Register.CR2]: 2, [Register.CR3]: 3, [Register.CR4]: 4, [Register.CR8]: 8,
};

/** Decode MOV CR, CLTS, LMSW, INVLPG, WBINVD, INVD (all end their block); null if `ins` is not one. */
export function decodeControlRegisters(ins: Instruction, op: Op): boolean | null {
  const k0 = ins.op0Kind;
  const k1 = ins.op1Kind;
  switch (ins.mnemonic) {
    case Mnemonic.Mov: {
      const cr0 = k0 === OpKind.Register ? CR_REGS[ins.op0Register] : undefined;
      const cr1 = k1 === OpKind.Register ? CR_REGS[ins.op1Register] : undefined;
      if (cr0 !== undefined) {
        const g = gpr(ins.op1Register);
        if (g === null) return null;
        op.d = g.index;
        op.aux = cr0 | (CrAccessType.movToCr << 4) | (g.index << 8);
        return use(op, 'mov_to_cr', movToCr, true);
      }
      if (cr1 !== undefined) {
        const g = gpr(ins.op0Register);
        if (g === null) return null;
        op.d = g.index;
        op.aux = cr1 | (CrAccessType.movFromCr << 4) | (g.index << 8);
        return use(op, 'mov_from_cr', movFromCr, true);
      }
      return null;
    }
    case Mnemonic.Clts:
      op.aux = 0 | (CrAccessType.clts << 4);
      return use(op, 'clts', clts, true);
    case Mnemonic.Lmsw:
      op.aux = CrAccessType.lmsw << 4;
      if (!wordOperand(ins, 0, op, 's')) return null;
      return use(op, 'lmsw', lmsw, true);
    case Mnemonic.Invlpg:
      setMem(ins, op);
      return use(op, 'invlpg', invlpg, true);
    case Mnemonic.Wbinvd: return use(op, 'wbinvd', privilegedNop(Exitable.wbinvd), true);
    case Mnemonic.Invd: return use(op, 'invd', privilegedNop(0), true);
    default: return null;
  }
}
