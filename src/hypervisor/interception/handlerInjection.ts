// `handler-injection` (seed 004 section 6.2, Additional Handler Injection): a new handler page (a VMCALL)
// in guest-physical memory the guest does not use, reachable in every address space through the kernel's
// direct map, executable only (EPT hides it from guest reads and writes), LSTAR pointed at it and shadowed.
// One exit per syscall; the guest's kernel text is untouched. The hypervisor resumes the guest at the
// original handler itself. The page lies above cpu.hypervisorFrom (the hypervisor's memory), so what runs
// there does not count as guest instructions.

import { VMCALL, addr, chargeLog, injectedPage, words, syscallRecord, watchLstar, type Footprint, type InterceptionContext, type InterceptionStrategy } from './Strategy.js';

export class HandlerInjection implements InterceptionStrategy {
  readonly name = 'handler-injection';
  readonly description = 'an injected handler page (VMCALL) outside guest memory, EPT execute-only, LSTAR pointed at it and shadowed (one exit)';
  private stub = 0;
  private handler = 0;
  private hidden = false;

  install(ctx: InterceptionContext): void {
    const page = injectedPage(ctx, this.name, 0b100); // execute only
    ctx.machine.cpu.mmu.writePhys(page.phys, VMCALL);
    this.stub = page.virt;
    this.hidden = page.hidden;
    watchLstar(ctx, true, (lo, hi) => {
      this.handler = addr(lo, hi);
      return words(this.stub);
    });
    ctx.hypervisor.vmcallHandlers.push((m, op) => {
      if (op.addr !== this.stub) return false;
      ctx.onSyscall(syscallRecord(m, this.name, 1));
      chargeLog(ctx);
      m.cpu.rip = this.handler; // the stub page is the hypervisor's: its VMCALL does not retire
      return true;
    });
  }

  saveState(): Record<string, unknown> {
    return { handler: this.handler };
  }

  loadState(s: Record<string, unknown>): void {
    this.handler = s.handler as number;
  }

  footprint(): Footprint {
    return { kernelTextBytesChanged: 0, lstarVisibleToGuest: 'original', injectedPageHiddenByEpt: this.hidden,
      notes: ['the handler page lies beyond the memory size the guest is told (boot_info.mem_bytes) and is mapped by the kernel\'s existing direct map, so no page-table change is needed'] };
  }
}
