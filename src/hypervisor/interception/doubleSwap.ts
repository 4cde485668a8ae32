// `double-swap` (seed 004 section 6.2, Double Instruction Swap): VMCALL over the handler's first bytes; on
// that exit restore them and plant a VMCALL after the first instruction; on the second exit swap back.
// Two exits per syscall. Its assumptions (no branch among the first instructions, the first instruction at
// least as long as a VMCALL so the patch does not split it... checked with the decoder) are reported.

import { Decoder, DecoderOptions, FlowControl, Instruction } from 'iced-x86';
import { UserError } from '../../errors.js';
import { VMCALL, addr, chargeLog, va, syscallRecord, watchLstar, type Footprint, type InterceptionContext, type InterceptionStrategy } from './Strategy.js';

export class DoubleSwap implements InterceptionStrategy {
  readonly name = 'double-swap';
  readonly description = 'VMCALL over the handler\'s first instruction, swapped with one after it on each exit (two exits)';
  private handler = 0;
  private second = 0;
  private savedFirst = new Uint8Array(0);
  private savedSecond = new Uint8Array(0);
  readonly warnings: string[] = [];
  private patchedOnce = false;

  install(ctx: InterceptionContext): void {
    watchLstar(ctx, false, (lo, hi) => {
      const m = ctx.machine;
      if (this.handler !== 0) this.write(ctx, this.handler, this.savedFirst); // LSTAR moved: undo the old patch
      this.second = 0;
      const g = addr(lo, hi);
      let code: Uint8Array;
      try {
        code = m.cpu.mmu.readVirt(va(g), 32);
      } catch {
        this.warnings.push(`the new syscall handler at 0x${va(g).toString(16)} is not mapped: not intercepted`);
        this.handler = 0;
        return [lo, hi];
      }
      const d = new Decoder(64, code, DecoderOptions.None);
      d.ip = va(g);
      const ins = new Instruction();
      d.decodeOut(ins);
      const l1 = ins.length;
      const branch = ins.flowControl !== FlowControl.Next;
      d.decodeOut(ins);
      const l2 = ins.length;
      d.free();
      ins.free();
      // The two assumptions of the technique (seed 004 section 6.2): execution must reach the second
      // patch point (no branch first), and each patch must cover whole instructions it can restore.
      if (branch) {
        const why = `the syscall handler at 0x${va(g).toString(16)} begins with a branch, so the second VMCALL would never run`;
        if (this.patchedOnce) {
          this.warnings.push(`${why}: not intercepted`);
          this.handler = 0;
          return [lo, hi];
        }
        throw new UserError(`double-swap: ${why}`);
      }
      this.patchedOnce = true;
      if (l1 < VMCALL.length) this.warnings.push(`first instruction is ${l1} bytes: the VMCALL also covers the next one`);
      if (l2 < VMCALL.length) this.warnings.push(`second instruction is ${l2} bytes: the second VMCALL spans into the third`);
      this.handler = g;
      this.second = g + l1;
      this.savedFirst = code.slice(0, VMCALL.length);
      this.savedSecond = code.slice(l1, l1 + VMCALL.length);
      this.write(ctx, g, VMCALL);
      return [lo, hi];
    }, this.warnings);
    ctx.hypervisor.vmcallHandlers.push((m, op) => {
      if (this.handler !== 0 && op.addr === this.handler) {
        // First exit: the syscall. Restore the first instruction, plant at the second.
        ctx.onSyscall(syscallRecord(m, this.name, 2));
        chargeLog(ctx);
        this.write(ctx, this.handler, this.savedFirst);
        this.write(ctx, this.second, VMCALL);
        m.cpu.noRetire = true;
        m.cpu.rip = this.handler;
        return true;
      }
      if (this.second !== 0 && op.addr === this.second) {
        this.write(ctx, this.second, this.savedSecond);
        this.write(ctx, this.handler, VMCALL);
        m.cpu.noRetire = true;
        m.cpu.rip = this.second;
        return true;
      }
      return false;
    });
  }

  /** Patch guest text through the guest's page tables (charged as VMM guest-memory accesses). */
  private write(ctx: InterceptionContext, at: number, bytes: Uint8Array): void {
    ctx.machine.cpu.mmu.writeVirt(va(at), bytes);
    ctx.machine.chargeWork(ctx.costModel.work.guestMemoryAccess);
  }

  saveState(): Record<string, unknown> {
    return { handler: this.handler, second: this.second, savedFirst: this.savedFirst, savedSecond: this.savedSecond, warnings: this.warnings, patchedOnce: this.patchedOnce };
  }

  loadState(s: Record<string, unknown>): void {
    this.handler = s.handler as number;
    this.second = s.second as number;
    this.savedFirst = Uint8Array.from(s.savedFirst as Uint8Array);
    this.savedSecond = Uint8Array.from(s.savedSecond as Uint8Array);
    this.warnings.splice(0, this.warnings.length, ...(s.warnings as string[]));
    this.patchedOnce = s.patchedOnce as boolean;
  }

  footprint(): Footprint {
    return { kernelTextBytesChanged: VMCALL.length, lstarVisibleToGuest: 'original', injectedPageHiddenByEpt: false,
      notes: ['the handler\'s first bytes are a VMCALL whenever the guest is not inside a syscall entry', ...this.warnings] };
  }
}
