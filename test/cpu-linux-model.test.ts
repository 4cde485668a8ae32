// The debug registers and the model-specific registers of the Linux CPU model (src/emulator/cpu/cpuModel.ts,
// ops/debugRegisters.ts). Privileged, so the host CPU cannot be the oracle from user space; expected values
// are the SDM's (vol. 3 17.2 for DR6/DR7 fixed bits, vol. 4 tables 2-2/2-20 for the MSRs) and the values
// QEMU's Intel vCPU reports for the same MSRs (MISC_ENABLE = fast strings, BIOS_SIGN_ID = revision 1).

import { describe, expect, it } from 'vitest';
import { Cpu, Stop } from '../src/emulator/cpu/Cpu.js';
import { linuxCpuid } from '../src/emulator/cpu/cpuModel.js';
import { asm, assemblerMissing } from './helpers/asm.js';
import { BareMachine, KCODE, Sel, TSS } from './helpers/bareMachine.js';

const missing = assemblerMissing();
const suite = missing === null ? describe : describe.skip;
if (missing !== null) console.warn(`Linux CPU model tests skipped: ${missing}`);

suite('MOV DR (SDM vol. 3 17.2)', () => {
  it('reads the reset values, keeps DR0-3 whole and forces the fixed bits of DR6 and DR7', () => {
    const m = new BareMachine();
    m.load(KCODE, asm(`
      mov r8, dr6
      mov r9, dr7
      mov rax, 0x123456789abcdef0
      mov dr3, rax
      mov r10, dr3
      xor eax, eax
      mov dr6, rax
      mov r11, dr6
      mov eax, 0xffffffff
      mov dr7, rax
      mov r12, dr7
      xor eax, eax
      mov dr7, rax
      mov r13, dr5
      hlt`, KCODE));
    expect(m.runToHalt()).toBe(Stop.halt);
    expect(m.haltedVector()).toBe(-1);
    const r = (n: number): bigint => m.cpu.getReg(n);
    expect(r(8)).toBe(0xffff0ff0n);
    expect(r(9)).toBe(0x400n);
    expect(r(10)).toBe(0x123456789abcdef0n);
    expect(r(11)).toBe(0xffff0ff0n);
    expect(r(12)).toBe(0xffff2fffn);
    expect(r(13)).toBe(0x400n); // DR5 aliases DR7 while CR4.DE is clear
  });

  it('faults: #UD for DR4/DR5 with CR4.DE, #GP for bits 63:32 of DR7 and at CPL 3', () => {
    let m = new BareMachine();
    m.cpu.cr4 |= 1 << 3;
    m.load(KCODE, asm('mov rax, dr4\nhlt', KCODE));
    m.runToHalt();
    expect(m.haltedVector()).toBe(6);
    m = new BareMachine();
    m.load(KCODE, asm('mov rax, 0x100000000\nmov dr7, rax\nhlt', KCODE));
    m.runToHalt();
    expect(m.haltedVector()).toBe(13);
  });
});

suite('MSRs of the Linux CPU model (SDM vol. 4)', () => {
  it('reads the MSRs Linux reads and faults on ones this model does not have', () => {
    const m = new BareMachine(new Cpu({ memoryBytes: 16 << 20, cpuid: linuxCpuid() }));
    m.load(KCODE, asm(`
      mov ecx, 0x1a0
      rdmsr
      mov r8, rax
      mov ecx, 0x8b
      rdmsr
      mov r9, rdx
      mov ecx, 0x3a
      mov eax, 5
      xor edx, edx
      wrmsr
      rdmsr
      mov r10, rax
      mov ecx, 0xc0011029
      rdmsr
      hlt`, KCODE));
    expect(m.runToHalt()).toBe(Stop.halt);
    expect(m.cpu.getReg(8)).toBe(1n);
    expect(m.cpu.getReg(9)).toBe(1n);
    expect(m.cpu.getReg(10)).toBe(5n);
    expect(m.haltedVector()).toBe(13); // AMD's DE_CFG does not exist on an Intel CPU
  });

  it('IA32_FEATURE_CONTROL is read-only once its lock bit is set', () => {
    const m = new BareMachine(new Cpu({ memoryBytes: 16 << 20, cpuid: linuxCpuid() }));
    m.load(KCODE, asm('mov ecx, 0x3a\nmov eax, 1\nxor edx, edx\nwrmsr\nmov eax, 5\nwrmsr\nhlt', KCODE));
    m.runToHalt();
    expect(m.haltedVector()).toBe(13);
    expect(m.cpu.featureControl).toBe(1);
  });

  it('CPUID: the Ivy Bridge signature, the features implemented, nothing else', () => {
    const t = linuxCpuid();
    expect(t.get(1 * 65536)![0]).toBe(0x306a9);
    const edx = t.get(1 * 65536)![3] >>> 0;
    // FPU PSE TSC MSR PAE CX8 PGE CMOV MMX FXSR SSE SSE2
    expect(edx).toBe(0x0780a179);
    expect(t.get(1 * 65536)![2]).toBe(0); // no SSE3, no hypervisor bit
    expect(t.get(0x80000001 * 65536)![3] >>> 0).toBe(((1 << 11) | (1 << 20) | (1 << 29)) >>> 0);
  });
});

suite('I/O permission bit map (SDM vol. 1 19.5.2)', () => {
  /** CPL 3 code doing `code`, with a TSS whose I/O map at 0x68 allows exactly ports 0x80 and 0x3f8-0x3ff (of 0-0x407). */
  function userIo(code: string, limit = 0x68 + 0x80): BareMachine {
    const m = new BareMachine();
    const cpu = m.cpu;
    m.dv.setUint16(TSS + 0x66, 0x68, true);
    m.cpu.mmu.u8.fill(0xff, TSS + 0x68, TSS + 0x68 + 0x81); // ports 0-0x407: the map ends with the limit
    m.cpu.mmu.u8[TSS + 0x68 + 0x10] = 0xfe; // port 0x80
    m.cpu.mmu.u8[TSS + 0x68 + 0x7f] = 0x00; // ports 0x3f8-0x3ff
    cpu.trLimit = limit;
    m.map4k(0x400000n, 0x300000, 1 | 4);
    m.map4k(0x401000n, 0x301000, 1 | 2 | 4, true);
    m.load(0x300000, asm(`${code}\nud2`, 0x400000));
    cpu.setCpl(3);
    cpu.cs = Sel.ucode;
    cpu.ss = Sel.udata;
    cpu.setReg(4, 0x401ff0n);
    cpu.setRip(0x400000n);
    return m;
  }

  it('allows the ports whose bits are clear, at CPL 3 with IOPL 0', () => {
    const m = userIo('mov al, 1\nout 0x80, al\nmov dx, 0x3f8\nout dx, al\nin al, dx');
    m.runToHalt();
    expect(m.haltedVector()).toBe(6); // reached the ud2
  });

  it('faults on a port whose bit is set, on an access that spans into one, and on a map past the TSS limit', () => {
    for (const [code, limit] of [['out 0x81, al', undefined], ['mov dx, 0x3fe\nout dx, eax', undefined], ['mov dx, 0x7f\nout dx, ax', undefined], ['out 0x80, al', 0x68 + 0x10]] as const) {
      const m = userIo(code, limit);
      m.runToHalt();
      expect(m.haltedVector(), code).toBe(13);
    }
  });
});
