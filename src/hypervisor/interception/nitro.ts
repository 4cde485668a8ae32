// `nitro` (Pfoh et al., Nitro, 2011; for comparison): EFER.SCE cleared in the real EFER while the guest's
// view (RDMSR/WRMSR of EFER) is shadowed, so SYSCALL and SYSRET raise #UD; the exception bitmap takes #UD
// and the hypervisor emulates the instruction exactly as the CPU would (SDM SYSCALL, SYSRET). Two exits per
// syscall (entry and return), and the return value is visible at SYSRET.

import { Efer, Exitable } from '../../emulator/cpu/arch.js';
import { ProcBased } from '../../emulator/vmx/controls.js';
import { chargeLog, MSR_EFER, syscallRecord, type Footprint, type InterceptionContext, type InterceptionStrategy, type SyscallRecord } from './Strategy.js';

const TWO32 = 4294967296;

export class Nitro implements InterceptionStrategy {
  readonly name = 'nitro';
  readonly description = 'SYSCALL made to fault (EFER.SCE cleared, EFER shadowed), #UD trapped, SYSCALL/SYSRET emulated (two exits)';
  private guestEfer = 0;
  /** Syscalls in flight per (CR3, user RSP) until their SYSRET, to attach the return value. */
  private readonly open = new Map<string, SyscallRecord>();

  install(ctx: InterceptionContext): void {
    const { vmcs, hypervisor } = ctx;
    vmcs.primaryProcessorBasedControls |= ProcBased.USE_MSR_BITMAPS;
    vmcs.setMsrIntercept(MSR_EFER, true, true);
    vmcs.exceptionBitmap |= 1 << 6;
    const cpu = ctx.machine.cpu;
    this.guestEfer = cpu.efer;
    hypervisor.instructionHandlers.push((m, kind, op) => {
      if ((m.cpu.lo[1] >>> 0) !== MSR_EFER) return false;
      if (kind === Exitable.wrmsr) {
        this.guestEfer = m.cpu.lo[0] >>> 0;
        if (!m.cpu.writeMsr(MSR_EFER, (this.guestEfer & ~Efer.SCE) | 0, m.cpu.lo[2])) return false; // let the CPU raise #GP
        m.cpu.rip = op.next;
        return true;
      }
      if (kind === Exitable.rdmsr) {
        m.cpu.lo[0] = this.guestEfer | 0;
        m.cpu.hi[0] = 0;
        m.cpu.lo[2] = 0;
        m.cpu.hi[2] = 0;
        m.cpu.rip = op.next;
        return true;
      }
      return false;
    });
    hypervisor.exceptionHandlers.push((m, vector) => {
      if (vector !== 6 || (this.guestEfer & Efer.SCE) === 0) return false;
      const c = m.cpu;
      const at = c.getRip();
      let bytes: Uint8Array;
      try {
        bytes = c.mmu.readVirt(at, 3);
      } catch {
        return false;
      }
      if (bytes[0] === 0x0f && bytes[1] === 0x05) {
        const rec = syscallRecord(m, this.name, 2, true);
        ctx.onSyscall(rec);
        chargeLog(ctx);
        this.open.set(`${c.cr3}:${rec.rspHi}:${rec.rspLo}`, rec);
        // The VMM fetches, decodes and emulates the SYSCALL (Nitro's handler).
        m.chargeWork(ctx.costModel.work.emulateInstruction);
        emulateSyscall(m.cpu, Number(at) + 2);
        return true;
      }
      const rex = bytes[0] === 0x48;
      if ((rex && bytes[1] === 0x0f && bytes[2] === 0x07) || (bytes[0] === 0x0f && bytes[1] === 0x07)) {
        if (c.cpl !== 0) return false; // #GP would be raised natively: leave it to the CPU path
        m.chargeWork(ctx.costModel.work.emulateInstruction);
        emulateSysret(m.cpu, rex, this.open);
        return true;
      }
      return false;
    });
  }

  saveState(): Record<string, unknown> {
    return { guestEfer: this.guestEfer, open: [...this.open.entries()] };
  }

  loadState(s: Record<string, unknown>): void {
    this.guestEfer = s.guestEfer as number;
    this.open.clear();
    for (const [k, v] of s.open as Array<[string, SyscallRecord]>) this.open.set(k, v);
  }

  footprint(): Footprint {
    return { kernelTextBytesChanged: 0, lstarVisibleToGuest: 'original', injectedPageHiddenByEpt: false,
      notes: ['RDMSR(EFER) shows SCE set although the real EFER has it clear'] };
  }
}

type Cpu = InterceptionContext['machine']['cpu'];

/** SYSCALL as the CPU executes it (src/emulator/cpu/ops/system.ts), then it retires. */
function emulateSyscall(cpu: Cpu, next: number): void {
  const rf = cpu.getRflags();
  cpu.lo[1] = next % TWO32 | 0;
  cpu.hi[1] = Math.floor(next / TWO32) | 0;
  cpu.lo[11] = rf & ~(1 << 16);
  cpu.hi[11] = 0;
  cpu.setRflags(rf & ~cpu.fmask & ~(1 << 16));
  const sel = cpu.star.hi & 0xffff;
  cpu.cs = sel & 0xfffc;
  cpu.ss = (sel + 8) & 0xfffc;
  cpu.setCpl(0);
  cpu.rip = cpu.lstar.hi * TWO32 + (cpu.lstar.lo >>> 0);
  cpu.icount++; // the guest's SYSCALL retires (the #UD path did not count it)
}

/** SYSRET as the CPU executes it; attaches RAX to the record of the syscall this returns from. */
function emulateSysret(cpu: Cpu, rex64: boolean, open: Map<string, SyscallRecord>): void {
  const sel = cpu.star.hi >>> 16;
  const ret = cpu.lo[0] >>> 0;
  cpu.cs = ((rex64 ? sel + 16 : sel) & 0xfffc) | 3;
  cpu.ss = ((sel + 8) & 0xfffc) | 3;
  cpu.setRflags((cpu.lo[11] & 0x3c7fd7) | 2);
  cpu.setCpl(3);
  cpu.rip = rex64 ? cpu.hi[1] * TWO32 + (cpu.lo[1] >>> 0) : cpu.lo[1] >>> 0;
  cpu.icount++;
  // The thread returns to the user stack it entered from: match on (CR3, user RSP).
  const key = `${cpu.cr3}:${cpu.hi[4] >>> 0}:${cpu.lo[4] >>> 0}`;
  const rec = open.get(key);
  if (rec !== undefined) {
    rec.ret = ret;
    open.delete(key);
  }
}
