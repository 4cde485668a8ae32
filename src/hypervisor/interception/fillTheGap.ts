// `fill-the-gap` (seed 004 section 6.2): a VMCALL in the alignment padding before the syscall handler,
// LSTAR pointed at it, the original LSTAR shadowed so a guest RDMSR still reads it. One exit per syscall.

import { UserError } from '../../cli/errors.js';
import { VMCALL, addr, chargeLog, syscallRecord, watchLstar, type Footprint, type InterceptionContext, type InterceptionStrategy } from './Strategy.js';

/** Bytes of 0xCC padding the strategy needs right before the handler. */
const NEED = VMCALL.length;

export class FillTheGap implements InterceptionStrategy {
  readonly name = 'fill-the-gap';
  readonly description = 'VMCALL written into the padding before the handler, LSTAR pointed at it and shadowed (one exit)';
  private planted = -1;
  private handler = 0;
  private changed = 0;

  install(ctx: InterceptionContext): void {
    watchLstar(ctx, true, (lo, hi) => {
      const m = ctx.machine;
      const g = addr(lo, hi);
      const before = m.cpu.mmu.readVirt(BigInt.asUintN(64, BigInt(g - NEED)), NEED);
      if (!before.every((b) => b === 0xcc)) {
        throw new UserError(`fill-the-gap: no ${NEED}-byte gap of 0xCC padding before the syscall handler at 0x${BigInt.asUintN(64, BigInt(g)).toString(16)} (found ${Buffer.from(before).toString('hex')})`);
      }
      m.cpu.mmu.writeVirt(BigInt.asUintN(64, BigInt(g - NEED)), VMCALL);
      this.changed = NEED;
      this.planted = g - NEED;
      this.handler = g;
      const p = g - NEED;
      return [p % 4294967296 >>> 0, Math.floor(p / 4294967296) | 0];
    });
    ctx.hypervisor.vmcallHandlers.push((m, op) => {
      if (op.addr !== this.planted) return false;
      ctx.onSyscall(syscallRecord(m, this.name, 1));
      chargeLog(ctx);
      m.cpu.noRetire = true;
      m.cpu.rip = this.handler;
      return true;
    });
  }

  saveState(): Record<string, unknown> {
    return { planted: this.planted, handler: this.handler, changed: this.changed };
  }

  loadState(s: Record<string, unknown>): void {
    this.planted = s.planted as number;
    this.handler = s.handler as number;
    this.changed = s.changed as number;
  }

  footprint(): Footprint {
    return { kernelTextBytesChanged: this.changed, lstarVisibleToGuest: 'original', injectedPageHiddenByEpt: false,
      notes: ['the padding before the handler holds a VMCALL instead of INT3s'] };
  }
}
