// `handler-injection` (seed 004 section 6.2, Additional Handler Injection): a new handler page (a VMCALL)
// in guest-physical memory the guest does not use, mapped executable in every address space by the kernel's
// own page tables (ctx.kernel.injection: our guest's direct map beyond its memory; Linux's text/rodata gap),
// executable only (EPT hides it from guest reads and writes), LSTAR pointed at it and shadowed. One exit per
// syscall; the guest's kernel text is untouched. The hypervisor resumes the guest at the original handler
// itself. The page is the hypervisor's (cpu.hypervisorFrom / hypervisorPages), so what runs there does not
// count as guest instructions.

import { VMCALL, addr, chargeLog, injectedPage, words, syscallRecord, watchLstar, type Footprint, type InterceptionContext, type InterceptionStrategy } from './Strategy.js';

export class HandlerInjection implements InterceptionStrategy {
  readonly name = 'handler-injection';
  readonly description = 'an injected handler page (VMCALL) outside guest memory, EPT execute-only, LSTAR pointed at it and shadowed (one exit)';
  private stub = 0;
  private handler = 0;
  private hidden = false;
  private where = '';
  readonly notes: string[] = [];

  install(ctx: InterceptionContext): void {
    const page = injectedPage(ctx, this.name, 0b100); // execute only
    ctx.machine.cpu.mmu.writePhys(page.phys, VMCALL);
    this.stub = page.virt;
    this.hidden = page.hidden;
    this.where = 'refused' in ctx.kernel.injection ? '' : ctx.kernel.injection.note;
    watchLstar(ctx, true, (lo, hi) => {
      this.handler = addr(lo, hi);
      return words(this.stub);
    }, this.notes);
    ctx.hypervisor.vmcallHandlers.push((m, op) => {
      if (op.addr !== this.stub) return false;
      ctx.onSyscall(syscallRecord(m, this.name, 1));
      chargeLog(ctx);
      m.cpu.rip = this.handler; // the stub page is the hypervisor's: its VMCALL does not retire
      return true;
    });
  }

  saveState(): Record<string, unknown> {
    return { handler: this.handler, notes: this.notes };
  }

  loadState(s: Record<string, unknown>): void {
    this.handler = s.handler as number;
    this.notes.splice(0, this.notes.length, ...((s.notes as string[] | undefined) ?? []));
  }

  footprint(): Footprint {
    return { kernelTextBytesChanged: 0, lstarVisibleToGuest: 'original', injectedPageHiddenByEpt: this.hidden,
      notes: [this.where, ...this.notes] };
  }
}
