// VT-x exits on the machine, each under its VMCS control and not otherwise, with the SDM's exit
// qualification and interruption information; interrupt injection and the interrupt window.

import { describe, expect, it } from 'vitest';
import { Machine, type Environment } from '../src/emulator/machine.js';
import { ExitReason } from '../src/emulator/vmx/exitReasons.js';
import { Vmcs } from '../src/emulator/vmx/Vmcs.js';
import { PinBased, ProcBased } from '../src/emulator/vmx/controls.js';
import { vmcsPolicy } from '../src/hypervisor/vmcsPolicy.js';
import type { ExitEvent } from '../src/emulator/events.js';
import { asm, assemblerMissing } from './helpers/asm.js';
import { BareMachine, KCODE, STUBS } from './helpers/bareMachine.js';

const missing = assemblerMissing();
const suite = missing === null ? describe : describe.skip;

interface Exit { reason: number; qual: bigint; icount: number; info: number; len: number; rip: bigint }

/** A device-free environment with optional interrupt events: [icount, vector]. */
function env(events: Array<[number, number]> = []): Environment & { pending: number[] } {
  const pending: number[] = [];
  return {
    pending,
    nextEventAt: () => (events.length > 0 ? events[0][0] : Infinity),
    advanceTo(icount) {
      let raised = false;
      while (events.length > 0 && events[0][0] <= icount) {
        pending.push((events.shift() as [number, number])[1]);
        raised = true;
      }
      return raised;
    },
    portIn: () => 0xff,
    portOut: () => false,
    deviceAt: () => 'none',
    inRaisedIrq: false,
    pendingVector: () => (pending.length > 0 ? pending[0] : -1),
    acknowledge: () => pending.shift() ?? -1,
  };
}

function run(code: string, program: (v: Vmcs) => void, events: Array<[number, number]> = []): { exits: Exit[]; m: Machine; bare: BareMachine } {
  const vmcs = new Vmcs();
  program(vmcs);
  const m = new Machine(env(events), {
    memoryBytes: 16 << 20, cyclesPerInstruction: 1, policy: vmcsPolicy(vmcs), costModel: { exitCost: () => 1000 }, maxInstructions: 100_000,
  });
  const bare = new BareMachine(m.cpu);
  bare.load(KCODE, asm(code, KCODE));
  const exits: Exit[] = [];
  m.subscribe({
    onExit: (e: ExitEvent) => exits.push({
      reason: e.reason, qual: (BigInt(e.words[43]) << 32n) | BigInt(e.words[42]), icount: e.icount, info: e.interruptionInfo >>> 0,
      len: e.instructionLength, rip: (BigInt(e.words[33]) << 32n) | BigInt(e.words[32]),
    }),
  });
  m.run();
  return { exits, m, bare };
}

const reasons = (x: { exits: Exit[] }): number[] => x.exits.map((e) => e.reason);

suite('VM exits under VMCS controls (SDM 26.1-26.2, 28.2)', () => {
  it('CPUID and VMCALL exit unconditionally', () => {
    const r = run('cpuid\nvmcall\ncli\nhlt', () => {});
    expect(reasons(r)).toEqual([ExitReason.CPUID, ExitReason.VMCALL]);
    expect(r.exits[0].len).toBe(2);
    expect(r.exits[1].len).toBe(3);
    expect(r.exits[0].rip).toBe(BigInt(KCODE));
  });

  it('HLT exits only with HLT exiting', () => {
    expect(reasons(run('cli\nhlt', () => {}))).toEqual([]);
    expect(reasons(run('cli\nhlt', (v) => { v.primaryProcessorBasedControls |= ProcBased.HLT_EXITING; }))).toEqual([ExitReason.HLT]);
  });

  it('RDTSC exits only with RDTSC exiting, and returns icount x CPI either way', () => {
    const off = run('nop\nnop\nrdtsc\ncli\nhlt', () => {});
    const on = run('nop\nnop\nrdtsc\ncli\nhlt', (v) => { v.primaryProcessorBasedControls |= ProcBased.RDTSC_EXITING; });
    expect(reasons(off)).toEqual([]);
    expect(reasons(on)).toEqual([ExitReason.RDTSC]);
    expect(on.exits[0].icount).toBe(2);
    for (const x of [off, on]) expect(x.m.cpu.getReg(0)).toBe(2n);
  });

  it('INVLPG exits with the linear address as qualification', () => {
    const r = run('mov rax, 0x123456789\ninvlpg [rax + 0x10]\ncli\nhlt', (v) => { v.primaryProcessorBasedControls |= ProcBased.INVLPG_EXITING; });
    expect(reasons(r)).toEqual([ExitReason.INVLPG]);
    expect(r.exits[0].qual).toBe(0x123456799n);
  });

  it('I/O exits follow the I/O bitmaps, with size, direction, encoding and port in the qualification (table 28-5)', () => {
    const code = 'mov dx, 0x81\nin al, 0x80\nout dx, ax\nin eax, dx\ncli\nhlt';
    expect(reasons(run(code, () => {}))).toEqual([]);
    const uncond = run(code, (v) => { v.primaryProcessorBasedControls |= ProcBased.UNCONDITIONAL_IO_EXITING; });
    expect(uncond.exits.map((e) => e.qual)).toEqual([
      (0x80n << 16n) | 0x40n | 0x08n | 0n, // IN AL, imm8: size 1, IN, immediate
      (0x81n << 16n) | 1n, // OUT DX, AX: size 2, OUT, DX
      (0x81n << 16n) | 0x08n | 3n, // IN EAX, DX: size 4
    ]);
    const bitmap = run(code, (v) => { v.primaryProcessorBasedControls |= ProcBased.USE_IO_BITMAPS; v.setIoIntercept(0x81, true); });
    expect(bitmap.exits.map((e) => e.qual & 0xffffn)).toEqual([1n, 0x0bn]);
  });

  it('MOV to CR3 exits with CR3-load exiting unless the value is a CR3-target value; qualification per table 28-3', () => {
    const code = 'mov rbx, cr3\nmov cr3, rbx\ncli\nhlt';
    expect(reasons(run(code, () => {}))).toEqual([]);
    const r = run(code, (v) => { v.primaryProcessorBasedControls |= ProcBased.CR3_LOAD_EXITING | ProcBased.CR3_STORE_EXITING; });
    // mov rbx, cr3: CR 3, access type 1 (from CR), GPR 3; mov cr3, rbx: access type 0.
    expect(r.exits.map((e) => [e.reason, e.qual])).toEqual([[ExitReason.CR_ACCESS, 0x313n], [ExitReason.CR_ACCESS, 0x303n]]);
    const t = run(code, (v) => { v.primaryProcessorBasedControls |= ProcBased.CR3_LOAD_EXITING; v.cr3TargetCount = 1; v.cr3TargetValuesLo[0] = 0x1000; });
    expect(reasons(t)).toEqual([]);
  });

  it('exceptions exit through the exception bitmap with interruption information, and are then delivered', () => {
    const r = run('ud2', (v) => { v.exceptionBitmap = 1 << 6; });
    expect(reasons(r)).toEqual([ExitReason.EXCEPTION_NMI]);
    expect(r.exits[0].info).toBe(0x80000306); // valid, hardware exception, vector 6
    expect(r.bare.haltedVector()).toBe(6); // re-injected: the guest's handler ran
    const bp = run('int3', (v) => { v.exceptionBitmap = 1 << 3; });
    expect(bp.exits[0].info).toBe(0x80000603); // software exception
    expect(reasons(run('ud2', () => {}))).toEqual([]);
  });

  it('a device interrupt exits as an external interrupt and is injected when IF allows; otherwise after an interrupt-window exit', () => {
    const code = 'mov ecx, 100\n1: dec ecx\njnz 1b\nsti\nmov ecx, 100\n2: dec ecx\njnz 2b\ncli\nhlt';
    const r = run(code, (v) => { v.pinBasedControls |= PinBased.EXTERNAL_INTERRUPT_EXITING; }, [[50, 0x20]]);
    // At icount 50 IF is clear: exit 1, then the window opens after STI and the instruction after it.
    expect(reasons(r)).toEqual([ExitReason.EXTERNAL_INTERRUPT, ExitReason.INTERRUPT_WINDOW]);
    expect(r.exits[0].icount).toBe(50);
    expect(r.exits[0].info).toBe(0x80000020);
    expect(r.exits[1].icount).toBe(1 + 200 + 1 + 1); // after STI and the one instruction its shadow covers
    expect(r.bare.haltedVector()).toBe(0x20);
    const noExit = run(code, () => {}, [[50, 0x20]]);
    expect(reasons(noExit)).toEqual([ExitReason.INTERRUPT_WINDOW]);
    expect(noExit.bare.haltedVector()).toBe(0x20);
  });
});

void STUBS;

suite('EPT permission traps (SDM 29.3.3.2, exit reason 48)', () => {
  it('a write to a page EPT makes read-only exits with the access and the page permissions, and is retried once allowed', async () => {
    const { Ept } = await import('../src/emulator/vmx/Ept.js');
    const vmcs = new Vmcs();
    const m = new Machine(env(), { memoryBytes: 16 << 20, cyclesPerInstruction: 1, policy: vmcsPolicy(vmcs), costModel: { exitCost: () => 1000 }, maxInstructions: 100_000 });
    const ept = new Ept((16 << 20) / 4096);
    m.cpu.mmu.eptPerm = ept.perm;
    const bare = new BareMachine(m.cpu);
    bare.load(KCODE, asm('mov rax, 0x600008\nmov qword ptr [rax], 77\nmov rbx, [rax]\ncli\nhlt', KCODE));
    ept.setPermissions(0x600, 0b101); // R and X, no W
    m.cpu.mmu.flushTlb();
    const exits: Array<{ reason: number; qual: number; gpa: number; gla: number; icount: number }> = [];
    m.subscribe({ onExit: (e) => exits.push({ reason: e.reason, qual: e.words[42], gpa: e.words[46], gla: e.words[44], icount: e.icount }) });
    let violations = 0;
    m.handler = {
      handleEptViolation: (mm) => {
        violations++;
        ept.setPermissions(0x600, 0b111);
        mm.cpu.mmu.flushTlb();
        return true;
      },
    };
    m.run();
    expect(violations).toBe(1);
    expect(exits.map((e) => e.reason)).toEqual([ExitReason.EPT_VIOLATION]);
    // Qualification: bit 1 (data write), bits 3-5 = the page's R.X permissions, bits 7-8 linear address valid and translated.
    expect(exits[0].qual).toBe(0b10 | (0b101 << 3) | (1 << 7) | (1 << 8));
    expect(exits[0].gpa).toBe(0x600008);
    expect(exits[0].gla).toBe(0x600008);
    expect(exits[0].icount).toBe(1);
    expect(m.cpu.getReg(3)).toBe(77n);
  });
});

suite('monitor trap flag, preemption timer, hypercalls, MSR shadows', () => {
  it('MTF exits after every instruction (reason 37)', () => {
    const r = run('nop\nnop\nnop\ncli\nhlt', (v) => { v.primaryProcessorBasedControls |= ProcBased.MONITOR_TRAP_FLAG; });
    expect(r.exits.filter((e) => e.reason === ExitReason.MONITOR_TRAP_FLAG).map((e) => e.icount)).toEqual([1, 2, 3, 4, 5]);
  });

  it('the preemption timer exits every value x 32 instructions (reason 52)', () => {
    const r = run('mov ecx, 1000\n1: dec ecx\njnz 1b\ncli\nhlt', (v) => { v.pinBasedControls |= PinBased.ACTIVATE_PREEMPTION_TIMER; v.preemptionTimerValue = 10; });
    const at = r.exits.filter((e) => e.reason === ExitReason.PREEMPTION_TIMER).map((e) => e.icount);
    expect(at.slice(0, 3)).toEqual([320, 640, 960]);
  });

  it('VMCALL runs the hypercall table (HC_NOP returns 0, unknown numbers -ENOSYS) and RDMSR of a shadowed MSR reads the shadow', async () => {
    const { Hypervisor, HYPERCALL_ENOSYS } = await import('../src/hypervisor/Hypervisor.js');
    const vmcs = new Vmcs();
    vmcs.primaryProcessorBasedControls |= ProcBased.USE_MSR_BITMAPS;
    vmcs.setMsrIntercept(0xc0000082, true, false);
    const hv = new Hypervisor();
    hv.msrShadows.set(0xc0000082, [0x11223344, 0xffffffff]);
    const m = new Machine(env(), { memoryBytes: 16 << 20, cyclesPerInstruction: 1, policy: vmcsPolicy(vmcs), costModel: { exitCost: () => 1000 }, maxInstructions: 100_000, handler: hv });
    const bare = new BareMachine(m.cpu);
    bare.load(KCODE, asm(`
      mov eax, 0
      vmcall
      mov rbx, rax
      mov eax, 77
      vmcall
      mov rsi, rax
      mov ecx, 0xc0000082
      mov eax, 0xabcd
      xor edx, edx
      wrmsr
      rdmsr
      cli
      hlt`, KCODE));
    m.run();
    expect(m.cpu.getReg(3)).toBe(0n);
    expect(BigInt.asIntN(64, m.cpu.getReg(6))).toBe(BigInt(HYPERCALL_ENOSYS));
    // WRMSR went to the real MSR (not intercepted), RDMSR exited and read the shadow.
    expect(m.cpu.lstar.lo).toBe(0xabcd);
    expect(m.cpu.getReg(0)).toBe(0x11223344n);
    expect(m.cpu.getReg(2)).toBe(0xffffffffn);
    expect(m.exitsByReason.get(ExitReason.MSR_READ)).toBe(1);
    expect(m.exitsByReason.get(ExitReason.MSR_WRITE)).toBeUndefined();
  });
});

suite('one VMCS: the controls that decide an exit and the exit information it reports (SDM 25.9, 28.2)', () => {
  it('an I/O exit fills the exit-information fields of the VMCS whose controls made it exit', () => {
    let programmed: Vmcs | null = null;
    const r = run('mov dx, 0x80\nmov al, 1\nout dx, al\ncli\nhlt', (v) => {
      programmed = v;
      v.primaryProcessorBasedControls |= ProcBased.UNCONDITIONAL_IO_EXITING;
    });
    const v = programmed as unknown as Vmcs;
    expect(r.m.vmcs).toBe(v);
    expect(reasons(r)).toEqual([ExitReason.IO_INSTRUCTION]);
    // SDM table 28-5: port in bits 31:16, size - 1 in 2:0, direction (0 = OUT) in bit 3, DX operand (bit 6 clear).
    expect(v.basicExitReason()).toBe(ExitReason.IO_INSTRUCTION);
    expect(v.exitQualificationValue()).toBe(0x80 << 16);
    expect(r.exits[0].qual).toBe(BigInt(0x80 << 16));
  });

  it('an assembled session gives its machine the VMCS the exit preset programmed', async () => {
    const { assemble } = await import('../src/replay/Session.js');
    const { LiveEnvironment } = await import('../src/replay/LiveEnvironment.js');
    const s = assemble({ workload: 'syscall', exitPreset: 'kvm-default', costModel: 'modern', maxExits: 20 },
      (m, w) => new LiveEnvironment(m, w));
    expect(s.machine.vmcs).toBe(s.vmcs);
    let last = -1;
    s.machine.subscribe({ onExit: (e) => { last = e.reason; } });
    s.machine.run();
    expect(s.machine.exitCount).toBe(20);
    expect(s.vmcs.basicExitReason()).toBe(last);
  });
});
