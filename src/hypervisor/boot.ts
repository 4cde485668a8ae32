// Put a loaded guest into the CPU: the register state the boot protocol (docs/machine.md) promises at the
// kernel's entry point.

import type { Cpu } from '../emulator/cpu/Cpu.js';
import type { LoadedGuest } from './loader.js';

export function enterGuest(cpu: Cpu, g: LoadedGuest): void {
  cpu.cr0 = Number(g.cr0) | 0;
  cpu.cr4 = Number(g.cr4);
  cpu.efer = Number(g.efer);
  cpu.setCpl(0);
  cpu.cs = 0x08;
  cpu.ss = 0x10;
  cpu.ds = cpu.es = cpu.fsSel = cpu.gsSel = 0x10;
  cpu.gdtrLimit = 0;
  cpu.idtrLimit = 0;
  cpu.syncPaging();
  cpu.setCr3(Number(g.cr3));
  cpu.setRflags(Number(g.rflags));
  for (let r = 0; r < 16; r++) cpu.setReg(r, 0n);
  cpu.setReg(7, g.rdi);
  cpu.setReg(4, g.rsp);
  cpu.setRip(g.entry);
}
