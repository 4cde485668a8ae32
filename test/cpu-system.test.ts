// CPU unit tests for paging, exception delivery, IRETQ, SYSCALL/SYSRET, privilege checks, interrupts,
// self-modifying code and garbage input. Expected values come from the SDM (sections cited per test).

import { describe, expect, it } from 'vitest';
import { Stop } from '../src/emulator/cpu/Cpu.js';
import { Efer, Msr } from '../src/emulator/cpu/arch.js';
import { asm, assemblerMissing } from './helpers/asm.js';
import { BareMachine, IST1, KCODE, RSP0, STUBS, Sel } from './helpers/bareMachine.js';

const missing = assemblerMissing();
const suite = missing === null ? describe : describe.skip;
if (missing !== null) console.warn(`CPU system tests skipped: ${missing}`);

const USER_CODE = 0x400000n;
const USER_DATA = 0x401000n;
const USER_CODE_PHYS = 0x300000;
const USER_DATA_PHYS = 0x301000;

/** Enter user mode at USER_CODE with the user stack at the top of USER_DATA's page. */
function toUser(m: BareMachine, code: string): void {
  m.map4k(USER_CODE, USER_CODE_PHYS, 1 | 4);
  m.map4k(USER_DATA, USER_DATA_PHYS, 1 | 2 | 4, true);
  m.load(USER_CODE_PHYS, asm(code, Number(USER_CODE)));
  const cpu = m.cpu;
  cpu.setCpl(3);
  cpu.cs = Sel.ucode;
  cpu.ss = Sel.udata;
  cpu.setReg(4, USER_DATA + 0xff0n);
  cpu.setRip(USER_CODE);
}

/** The 64-bit interrupt frame at RSP (after an exception with an error code if `withError`). */
function frame(m: BareMachine, withError: boolean): { err: bigint; rip: bigint; cs: bigint; rflags: bigint; rsp: bigint; ss: bigint } {
  const sp = Number(m.cpu.getReg(4));
  const o = withError ? 8 : 0;
  return {
    err: withError ? m.get64(sp) : -1n,
    rip: m.get64(sp + o), cs: m.get64(sp + o + 8), rflags: m.get64(sp + o + 16), rsp: m.get64(sp + o + 24), ss: m.get64(sp + o + 32),
  };
}

suite('paging (SDM 4.5-4.8)', () => {
  it('translates 4 KiB, 2 MiB and 1 GiB pages and sets accessed/dirty bits', () => {
    const m = new BareMachine();
    // 4 KiB: 0x7000_0000_0000 -> 0x310000. 2 MiB: PD entry 4 (8 MiB) is identity. 1 GiB: PDPT[1] -> phys 0.
    const pte = m.map4k(0x7000_0000_0000n, 0x310000, 3);
    m.set64(0x2000 + 8, 0x83n); // PDPT[1]: 1 GiB page at VA 0x40000000 -> 0
    m.dv.setUint32(0x310010, 0x11223344, true);
    m.dv.setUint32(0x800020, 0x55667788, true);
    m.load(KCODE, asm(`
      mov rax, 0x700000000010
      mov ebx, [rax]
      mov dword ptr [rax+8], 0xabcd
      mov ecx, [0x800020]
      mov rdx, 0x40800020
      mov edx, [rdx]
      hlt`, KCODE));
    expect(m.runToHalt()).toBe(Stop.halt);
    const cpu = m.cpu;
    expect(cpu.getReg(3)).toBe(0x11223344n);
    expect(cpu.getReg(1)).toBe(0x55667788n);
    expect(cpu.getReg(2)).toBe(0x55667788n); // the 1 GiB page aliases physical 0x800020
    expect(m.dv.getUint32(0x310018, true)).toBe(0xabcd);
    expect(m.get64(pte) & 0x60n).toBe(0x60n); // A and D on the 4 KiB PTE
    expect(m.get64(0x2000 + 8) & 0x20n).toBe(0x20n); // A on the 1 GiB entry
    expect(m.get64(0x2000 + 8) & 0x40n).toBe(0n); // never written through: D clear
  });

  it('raises #PF with the SDM error code and CR2 for each kind of violation (SDM 4.7)', () => {
    const cases: Array<{ name: string; code: string; err: number; addr: bigint; setup?: (m: BareMachine) => void }> = [
      { name: 'user write to a read-only page', code: 'mov rax, 0x402000\nmov byte ptr [rax], 1', err: 0x7, addr: 0x402000n,
        setup: (m) => m.map4k(0x402000n, 0x302000, 1 | 4) },
      { name: 'user read of a supervisor page', code: 'mov rax, 0x402008\nmov rbx, [rax]', err: 0x5, addr: 0x402008n,
        setup: (m) => m.map4k(0x402000n, 0x302000, 1 | 2) },
      { name: 'user read of a not-present page', code: 'mov rax, 0x403000\nmov rbx, [rax]', err: 0x4, addr: 0x403000n },
      { name: 'user write to a not-present page', code: 'mov rax, 0x403010\nmov [rax], rbx', err: 0x6, addr: 0x403010n },
      { name: 'fetch from an NX page', code: 'mov rax, 0x401000\njmp rax', err: 0x15, addr: 0x401000n },
      { name: 'reserved bit set in a PTE', code: 'mov rax, 0x402000\nmov rbx, [rax]', err: 0xd, addr: 0x402000n,
        setup: (m) => { const at = m.map4k(0x402000n, 0x302000, 1 | 4); m.set64(at, m.get64(at) | (1n << 45n)); } },
    ];
    for (const c of cases) {
      const m = new BareMachine();
      m.cpu.efer |= Efer.NXE;
      m.cpu.syncPaging();
      toUser(m, `${c.code}\nud2`);
      c.setup?.(m);
      expect(m.runToHalt(), c.name).toBe(Stop.halt);
      expect(m.haltedVector(), c.name).toBe(14);
      const f = frame(m, true);
      expect(f.err, c.name).toBe(BigInt(c.err));
      expect((BigInt(m.cpu.cr2Hi >>> 0) << 32n) | BigInt(m.cpu.cr2Lo >>> 0), c.name).toBe(c.addr);
      // Privilege change: the frame holds the user SS:RSP and the stack switched to RSP0 (SDM 6.14.2).
      expect(f.cs, c.name).toBe(BigInt(Sel.ucode));
      expect(f.ss, c.name).toBe(BigInt(Sel.udata));
      expect(Number(m.cpu.getReg(4)), c.name).toBe(RSP0 - 48);
      expect(m.cpu.cpl, c.name).toBe(0);
    }
  });

  it('a CR3 write flushes the TLB and INVLPG drops one translation', () => {
    const m = new BareMachine();
    const pte = m.map4k(0x7000_0000_0000n, 0x310000, 3);
    m.dv.setUint32(0x310000, 1, true);
    m.dv.setUint32(0x311000, 2, true);
    m.dv.setUint32(0x312000, 3, true);
    m.load(KCODE, asm(`
      mov rax, 0x700000000000
      mov ebx, [rax]          # 1, now cached
      mov rdx, ${pte}
      mov qword ptr [rdx], 0x311003
      mov ecx, [rax]          # still 1: stale TLB entry (SDM 4.10.4.4)
      invlpg [rax]
      mov esi, [rax]          # 2
      mov qword ptr [rdx], 0x312003
      mov rdi, cr3
      mov cr3, rdi
      mov edi, [rax]          # 3
      hlt`, KCODE));
    expect(m.runToHalt()).toBe(Stop.halt);
    expect([1, 3, 6, 7].map((r) => m.cpu.getReg(r))).toEqual([1n, 1n, 2n, 3n]);
  });
});

suite('exceptions, interrupts and IRETQ (SDM 6.12-6.14)', () => {
  it('delivers #UD in the kernel, and IRETQ returns past the faulting instruction', () => {
    const m = new BareMachine();
    const handler = 0x180000;
    m.setGate(6, handler, 0, 0);
    m.load(handler, asm('mov r15, [rsp]\nadd qword ptr [rsp], 2\niretq', handler));
    m.load(KCODE, asm('mov rax, 1\nud2\nmov rbx, 42\nhlt', KCODE));
    expect(m.runToHalt()).toBe(Stop.halt);
    expect(m.cpu.getReg(3)).toBe(42n);
    expect(m.cpu.getReg(15)).toBe(BigInt(KCODE + 7)); // RIP of the ud2 (after the 7-byte mov)
    expect(Number(m.cpu.getReg(4))).toBe(RSP0 - 0x100);
  });

  it('aligns the stack, switches to IST1, clears IF through an interrupt gate and keeps it in a trap gate', () => {
    const m = new BareMachine();
    m.setGate(3, STUBS + 3 * 16, 3, 1, 0xe);
    m.setGate(4, STUBS + 4 * 16, 3, 0, 0xf);
    m.load(KCODE, asm('mov rsp, 0x9e008\nsti\nint3', KCODE));
    expect(m.runToHalt()).toBe(Stop.halt);
    expect(m.haltedVector()).toBe(3);
    expect(Number(m.cpu.getReg(4))).toBe(IST1 - 40);
    expect(frame(m, false).rsp).toBe(0x9e008n);
    expect(frame(m, false).rip).toBe(BigInt(KCODE + 9)); // INT3 is a trap: the return address follows it
    expect(m.cpu.getRflags() & 0x200).toBe(0);
    const m2 = new BareMachine();
    m2.setGate(4, STUBS + 4 * 16, 3, 0, 0xf);
    m2.load(KCODE, asm('mov rsp, 0x9e008\nsti\nint 4', KCODE));
    expect(m2.runToHalt()).toBe(Stop.halt);
    expect(m2.haltedVector()).toBe(4);
    expect(Number(m2.cpu.getReg(4))).toBe(0x9e000 - 40); // aligned down to 16 first
    expect(m2.cpu.getRflags() & 0x200).toBe(0x200);
  });

  it('INT n from user mode to a DPL-0 gate is #GP(vector*8+2)', () => {
    const m = new BareMachine();
    toUser(m, 'int 0x80');
    expect(m.runToHalt()).toBe(Stop.halt);
    expect(m.haltedVector()).toBe(13);
    expect(frame(m, true).err).toBe(BigInt(0x80 * 8 + 2));
  });

  it('a fault while delivering a fault becomes #DF, and a fault delivering #DF is a triple fault', () => {
    const m = new BareMachine();
    m.load(KCODE, asm('mov rsp, 0x7fff000000\nud2', KCODE)); // unmapped stack: #PF while pushing the #UD frame
    expect(m.runToHalt()).toBe(Stop.tripleFault);
    // #UD is benign, so its delivery's #PF is delivered serially (SDM table 6-5): with the same broken stack
    // the #PF delivery faults again (#PF then #PF = #DF), and #DF's frame faults too: triple fault.
    expect(m.cpu.tripleFaulted).toBe(true);
    const m2 = new BareMachine();
    m2.setGate(8, STUBS + 8 * 16, 0, 1); // #DF on IST1, a good stack
    m2.load(KCODE, asm('mov rsp, 0x7fff000000\nud2', KCODE));
    expect(m2.runToHalt()).toBe(Stop.halt);
    expect(m2.haltedVector()).toBe(8);
    expect(frame(m2, true).err).toBe(0n);
  });

  it('delivers an injected external interrupt only when IF is set, after the STI shadow (SDM 6.8.3)', () => {
    const m = new BareMachine();
    m.load(KCODE, asm('cli\nnop\nnop\nsti\nmov rax, 1\nmov rbx, 2\nhlt', KCODE));
    const cpu = m.cpu;
    cpu.irqPending = true;
    const s = cpu.run(cpu.icount + 1000);
    expect(s).toBe(Stop.interrupt);
    // The interrupt becomes deliverable after the instruction following STI: rax set, rbx not yet.
    expect(cpu.getReg(0)).toBe(1n);
    expect(cpu.getReg(3)).toBe(0n);
    expect(cpu.icount).toBe(5);
    cpu.irqPending = false;
    cpu.deliverInterrupt(0x20);
    expect(m.runToHalt()).toBe(Stop.halt);
    expect(m.haltedVector()).toBe(0x20);
    expect(frame(m, false).rip).toBe(BigInt(KCODE + 1 + 1 + 1 + 1 + 7));
  });
});

suite('far return', () => {
  it('RETFQ reloads CS at the same privilege (as a kernel reloading CS after LGDT does)', () => {
    const m = new BareMachine();
    m.load(KCODE, asm('push 0x08\nlea rax, [rip + after]\npush rax\nretfq\nafter:\nmov rbx, cs\nhlt', KCODE));
    expect(m.runToHalt()).toBe(Stop.halt);
    expect(m.cpu.getReg(3)).toBe(0x08n);
    expect(Number(m.cpu.getReg(4))).toBe(RSP0 - 0x100);
  });

  it('RETFQ to an outer privilege level also pops RSP and SS', () => {
    const m = new BareMachine();
    m.map4k(USER_CODE, USER_CODE_PHYS, 1 | 4);
    m.map4k(USER_DATA, USER_DATA_PHYS, 1 | 2 | 4, true);
    m.load(USER_CODE_PHYS, asm('mov rbx, cs\nmov rcx, ss\nud2', Number(USER_CODE)));
    m.load(KCODE, asm(`push ${Sel.udata}\npush ${Number(USER_DATA) + 0x800}\npush ${Sel.ucode}\npush ${Number(USER_CODE)}\nretfq`, KCODE));
    expect(m.runToHalt()).toBe(Stop.halt);
    expect(m.haltedVector()).toBe(6);
    expect(m.cpu.getReg(3)).toBe(BigInt(Sel.ucode));
    expect(m.cpu.getReg(1)).toBe(BigInt(Sel.udata));
    expect(frame(m, false).rsp).toBe(USER_DATA + 0x800n);
  });
});

suite('SYSCALL / SYSRET and privilege checks', () => {
  function syscallMachine(): BareMachine {
    const m = new BareMachine();
    const cpu = m.cpu;
    cpu.writeMsr(Msr.EFER, cpu.efer | Efer.SCE, 0);
    // STAR[47:32] = kernel CS 0x08, STAR[63:48] = 0x18 (user SS 0x23, user CS 0x2b).
    cpu.writeMsr(Msr.STAR, 0, (0x18 << 16) | 0x08);
    cpu.writeMsr(Msr.LSTAR, 0x180000, 0);
    cpu.writeMsr(Msr.FMASK, 0x700, 0); // clear TF, IF, DF
    return m;
  }

  it('SYSCALL saves RIP/RFLAGS in RCX/R11, masks RFLAGS, and SYSRET returns to user mode (SDM SYSCALL)', () => {
    const m = syscallMachine();
    m.load(0x180000, asm('mov r12, rcx\nmov r13, r11\nmov r14, cs\nmov rax, 99\nsysretq', 0x180000));
    toUser(m, 'std\nsyscall\nmov rbx, cs\nmov rdx, ss\ncld\nud2');
    m.cpu.setRflags(0x202);
    expect(m.runToHalt()).toBe(Stop.halt);
    const cpu = m.cpu;
    expect(m.haltedVector()).toBe(6);
    expect(cpu.getReg(12)).toBe(USER_CODE + 3n); // std (1) + syscall (2)
    expect(cpu.getReg(13)).toBe(0x602n); // IF and DF were set at SYSCALL
    expect(cpu.getReg(14)).toBe(0x08n);
    expect(cpu.getReg(0)).toBe(99n);
    expect(cpu.getReg(3)).toBe(BigInt(Sel.ucode));
    expect(cpu.getReg(2)).toBe(BigInt(Sel.udata));
    expect(frame(m, false).rflags & 0x200n).toBe(0x200n); // R11's IF restored by SYSRET (DF was cleared by CLD)
  });

  it('SYSCALL without EFER.SCE is #UD (what Nitro-style interception relies on)', () => {
    const m = syscallMachine();
    m.cpu.writeMsr(Msr.EFER, m.cpu.efer & ~Efer.SCE, 0);
    toUser(m, 'syscall');
    m.runToHalt();
    expect(m.haltedVector()).toBe(6);
    expect(frame(m, false).rip).toBe(USER_CODE);
  });

  for (const [name, code] of [['HLT', 'hlt'], ['CLI', 'cli'], ['STI', 'sti'], ['IN', 'in al, 0x60'], ['OUT', 'out dx, al'],
    ['MOV CR3', 'mov rax, cr3'], ['RDMSR', 'rdmsr'], ['WRMSR', 'wrmsr'], ['LGDT', 'lgdt [rsp]'], ['INVLPG', 'invlpg [rsp]'],
    ['SWAPGS', 'swapgs'], ['SYSRET', 'sysretq']] as const) {
    it(`CPL 3 executing ${name} gets #GP(0)`, () => {
      const m = syscallMachine();
      toUser(m, code);
      m.runToHalt();
      expect(m.haltedVector()).toBe(13);
      expect(frame(m, true).err).toBe(0n);
      expect(frame(m, true).rip).toBe(USER_CODE);
    });
  }

  it('POPF at CPL 3 with IOPL 0 cannot change IF or IOPL (SDM POPF)', () => {
    const m = syscallMachine();
    toUser(m, 'push 0x3ed5\npopf\npushf\npop rax\nud2');
    m.cpu.setRflags(0x202);
    m.runToHalt();
    expect(m.haltedVector()).toBe(6);
    // Arithmetic flags, DF and TF? TF (0x100) is not in 0x3ed5; IF stays 1, IOPL stays 0, NT (0x4000) not set.
    expect(m.cpu.getReg(0)).toBe(BigInt((0x3ed5 & 0x0cd5) | 0x202));
  });
});

suite('self-modifying code and garbage input', () => {
  it('a store into code that is already decoded takes effect on the next execution', () => {
    const m = new BareMachine();
    // The loop body's `mov eax, imm32` immediate is patched by the loop itself.
    m.load(KCODE, asm(`
      xor ecx, ecx
    again:
      mov eax, 1
      add ebx, eax
      inc ecx
      mov dword ptr [rip + again + 1], 100
      cmp ecx, 3
      jne again
      hlt`, KCODE));
    expect(m.runToHalt()).toBe(Stop.halt);
    // The first pass adds 1, later passes 100 (the patch happens within the same block as the mov).
    expect(m.cpu.getReg(3)).toBe(201n);
  });

  it('the hypervisor physical-write API invalidates decoded code', () => {
    const m = new BareMachine();
    m.load(KCODE, asm('mov eax, 5\nhlt', KCODE));
    expect(m.runToHalt()).toBe(Stop.halt);
    expect(m.cpu.getReg(0)).toBe(5n);
    m.cpu.mmu.writePhys(KCODE + 1, new Uint8Array([7, 0, 0, 0]));
    m.cpu.setRip(BigInt(KCODE));
    m.cpu.halted = false;
    expect(m.runToHalt()).toBe(Stop.halt);
    expect(m.cpu.getReg(0)).toBe(7n);
  });

  it('random bytes as code only ever produce guest exceptions, never a host error', () => {
    let seed = 0x9e3779b9;
    const rnd = (): number => {
      seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5;
      return seed >>> 0;
    };
    let faults = 0;
    let executed = 0;
    for (let round = 0; round < 12; round++) {
      const m = new BareMachine();
      const cpu = m.cpu;
      const code = new Uint8Array(4096);
      for (let i = 0; i < code.length; i++) code[i] = rnd() & 255;
      m.load(KCODE, code);
      // Every exception: count it and resume one byte further, in the kernel (CPL 0 runs the most instructions).
      cpu.hooks = {
        instruction: () => false,
        exception: (c) => {
          faults++;
          // Back to a sane kernel context (random code may have changed CPL with IRETQ/RETF or CR3).
          c.setCpl(0);
          c.cs = 0x08;
          c.setRip(BigInt(KCODE + (rnd() % 4000)));
          c.setReg(4, BigInt(RSP0 - 0x100));
          return true;
        },
        eptViolation: () => { throw new Error('no EPT'); },
      };
      for (let step = 0; step < 120; step++) {
        const before = cpu.icount;
        const s = cpu.run(cpu.icount + 50);
        executed += cpu.icount - before;
        expect(s).not.toBe(Stop.noProgress);
        if (s === Stop.halt || s === Stop.tripleFault) {
          cpu.halted = false;
          cpu.tripleFaulted = false;
          cpu.setRip(BigInt(KCODE + (rnd() % 4000)));
        }
      }
    }
    expect(faults).toBeGreaterThan(50);
    expect(executed).toBeGreaterThan(1000);
  });
});
