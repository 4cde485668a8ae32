// `fill-the-gap` (seed 004 section 6.2): a VMCALL in the alignment padding before the syscall handler,
// LSTAR pointed at it, the original LSTAR shadowed so a guest RDMSR still reads it. One exit per syscall.

import { UserError } from '../../errors.js';
import { VMCALL, addr, chargeLog, va, words, syscallRecord, watchLstar, type Footprint, type InterceptionContext, type InterceptionStrategy } from './Strategy.js';

/** Bytes of 0xCC padding the strategy needs right before the handler. */
const NEED = VMCALL.length;

export class FillTheGap implements InterceptionStrategy {
  readonly name = 'fill-the-gap';
  readonly description = 'VMCALL written into the padding before the handler, LSTAR pointed at it and shadowed (one exit)';
  /** Where the VMCALL is planted (a canonical address as a signed number), or null. */
  private planted: number | null = null;
  private handler = 0;
  private changed = 0;
  readonly warnings: string[] = [];
  /** Fail at the first LSTAR without a gap (the guest's first handler), instead of going on unintercepted. */
  private requireGap = true;

  install(ctx: InterceptionContext): void {
    watchLstar(ctx, true, (lo, hi) => {
      const m = ctx.machine;
      const g = addr(lo, hi);
      // The guest moved its syscall entry (or wrote it again): undo the old patch first.
      if (this.planted !== null) {
        m.cpu.mmu.writeVirt(va(this.planted), new Uint8Array(NEED).fill(0xcc));
        this.planted = null;
        this.changed = 0;
      }
      let before: Uint8Array;
      try {
        before = m.cpu.mmu.readVirt(va(g - NEED), NEED);
      } catch {
        before = new Uint8Array(0);
      }
      if (before.length !== NEED || !before.every((b) => b === 0xcc)) {
        // No room: leave the guest's LSTAR as written (its syscalls go unseen) instead of failing the run.
        this.warnings.push(`no ${NEED}-byte gap of 0xCC padding before the syscall handler at 0x${va(g).toString(16)} (found ${Buffer.from(before).toString('hex')}): syscalls through it are not intercepted`);
        if (this.requireGap) throw new UserError(`fill-the-gap: ${this.warnings.at(-1)!}`);
        return [lo, hi];
      }
      m.cpu.mmu.writeVirt(va(g - NEED), VMCALL);
      this.changed = NEED;
      this.planted = g - NEED;
      this.handler = g;
      return words(g - NEED);
    }, this.warnings);
    ctx.hypervisor.vmcallHandlers.push((m, op) => {
      if (op.addr !== this.planted) return false;
      this.requireGap = false; // intercepting: later LSTAR moves degrade, they do not stop the run
      ctx.onSyscall(syscallRecord(m, this.name, 1));
      chargeLog(ctx);
      m.cpu.noRetire = true;
      m.cpu.rip = this.handler;
      return true;
    });
  }

  saveState(): Record<string, unknown> {
    return { planted: this.planted, handler: this.handler, changed: this.changed, warnings: this.warnings, requireGap: this.requireGap };
  }

  loadState(s: Record<string, unknown>): void {
    this.planted = s.planted as number | null;
    this.handler = s.handler as number;
    this.changed = s.changed as number;
    this.warnings.splice(0, this.warnings.length, ...(s.warnings as string[]));
    this.requireGap = s.requireGap as boolean;
  }

  footprint(): Footprint {
    return { kernelTextBytesChanged: this.changed, lstarVisibleToGuest: 'original', injectedPageHiddenByEpt: false,
      notes: ['the padding before the handler holds a VMCALL instead of INT3s', ...this.warnings] };
  }
}
