// `nitro` (Pfoh et al., Nitro, 2011; for comparison): EFER.SCE cleared in the real EFER while the guest's
// view (RDMSR/WRMSR of EFER) is shadowed, so SYSCALL and SYSRET raise #UD; the exception bitmap takes #UD
// and the hypervisor emulates the instruction with the CPU's own SYSCALL/SYSRET. Two exits per syscall
// (entry and return; one for syscalls that never return through SYSRET).

import { Code } from 'iced-x86';
import { Efer, Exitable } from '../../emulator/cpu/arch.js';
import { ProcBased } from '../../emulator/vmx/controls.js';
import { chargeLog, MSR_EFER, syscallRecord, type Footprint, type InterceptionContext, type InterceptionStrategy } from './Strategy.js';

export class Nitro implements InterceptionStrategy {
  readonly name = 'nitro';
  readonly description = 'SYSCALL made to fault (EFER.SCE cleared, EFER shadowed), #UD trapped, SYSCALL/SYSRET emulated (two exits)';
  private guestEfer = 0;

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
    hypervisor.exceptionHandlers.push((m, vector, _errorCode, op) => {
      if (vector !== 6 || op === null || (this.guestEfer & Efer.SCE) === 0) return false;
      const isSyscall = op.code === Code.Syscall;
      if (!isSyscall && op.code !== Code.Sysretq && op.code !== Code.Sysretd) return false;
      if (isSyscall) {
        ctx.onSyscall(syscallRecord(m, this.name, 2, true));
        chargeLog(ctx);
      }
      // The VMM emulates the instruction (Nitro's handler): the CPU's own SYSCALL/SYSRET, run once with
      // the SCE the guest believes it set. It retires, as natively (the #UD path did not count it).
      m.chargeWork(ctx.costModel.work.emulateInstruction);
      const c = m.cpu;
      const efer = c.efer;
      c.efer = efer | Efer.SCE;
      try {
        op.fn(c, op);
      } catch (e) {
        // SYSRET's own #GP (CPL > 0, non-canonical RCX): natively the guest would take #GP, not #UD; this
        // guest never does, and the hypervisor then lets the #UD through rather than guessing.
        if (e === c.fault) return false;
        throw e;
      } finally {
        c.efer = efer;
      }
      c.icount++;
      return true;
    });
  }

  saveState(): Record<string, unknown> {
    return { guestEfer: this.guestEfer };
  }

  loadState(s: Record<string, unknown>): void {
    this.guestEfer = s.guestEfer as number;
  }

  footprint(): Footprint {
    return { kernelTextBytesChanged: 0, lstarVisibleToGuest: 'original', injectedPageHiddenByEpt: false,
      notes: ['RDMSR(EFER) shows SCE set although the real EFER has it clear'] };
  }
}
