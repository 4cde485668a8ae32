// Issue 20: the host outlives any guest. A registration is refused on its claimed length before anything is
// copied or decoded; each invocation starts with a zeroed stack; what programs make the host keep is bounded
// (per run and in all); and the guest is charged for the host work it causes, faulted runs included.
import { describe, expect, it } from 'vitest';
import { assemble as assembleSession } from '../src/replay/Session.js';
import { LiveEnvironment } from '../src/replay/LiveEnvironment.js';
import { assemble as asm } from '../src/hypervisor/ebpf/assembler.js';
import { compile } from '../src/hypervisor/ebpf/compiler.js';
import { HelperId } from '../src/hypervisor/ebpf/helpers.js';
import { predecode } from '../src/hypervisor/ebpf/interpreter.js';
import { encode } from '../src/hypervisor/ebpf/isa.js';
import { ANY_EXIT, HuError, HuEvent, REG_BYTES, REG_MAGIC, Reg, LIMITS, runProgram } from '../src/hypervisor/hyperupcalls/index.js';

/** A machine on the syscall workload; programs registered from the test (as test/hyperupcall.test.ts does). */
function bare() {
  const a = assembleSession({ workload: 'syscall:n=5', exitPreset: 'kvm-default', costModel: 'modern' }, (m, w) => new LiveEnvironment(m, w));
  const rt = a.hyperupcalls;
  const u8 = a.machine.cpu.mmu.u8;
  const base = a.workload.memBytes - 0x100000;
  const register = (src: string, o: { codeLen?: number; memLen?: number } = {}) => {
    const code = encode(asm(src));
    u8.set(code, base + 0x1000);
    const dv = new DataView(u8.buffer, u8.byteOffset + base, REG_BYTES);
    new Uint8Array(u8.buffer, u8.byteOffset + base, REG_BYTES).fill(0);
    dv.setUint32(Reg.magic, REG_MAGIC, true);
    dv.setUint32(Reg.event, HuEvent.vmExit, true);
    dv.setUint32(Reg.exitReason, ANY_EXIT, true);
    dv.setBigUint64(Reg.codeGpa, BigInt(o.codeLen !== undefined ? 0 : base + 0x1000), true);
    dv.setBigUint64(Reg.codeLen, BigInt(o.codeLen ?? code.length), true);
    dv.setBigUint64(Reg.memGpa, BigInt(base + 0x10000), true);
    dv.setBigUint64(Reg.memLen, BigInt(o.memLen ?? 4096), true);
    dv.setBigUint64(Reg.errGpa, BigInt(base + 0x800), true);
    dv.setBigUint64(Reg.errLen, 256n, true);
    const r = rt.register(BigInt(base));
    const err = Buffer.from(u8.subarray(base + 0x800, base + 0x900)).toString('latin1').split('\0')[0];
    return { r, err };
  };
  return { register, rt, a };
}

describe('the host outlives any guest (issue 20)', () => {
  it('6. a registration claiming a program as large as guest memory is refused on its length', () => {
    const { register, rt, a } = bare();
    const { r, err } = register('mov r0, 0\nexit', { codeLen: a.workload.memBytes - 0x200000 });
    expect(r).toBe(HuError.tooBig);
    expect(err).toMatch(/^bytecode of \d+ bytes exceeds the limit of 4096 instructions \(32768 bytes\)$/);
    expect(rt.programs).toHaveLength(0);
  });

  it('4. every invocation starts with a zeroed stack (nothing of the last one can leak)', () => {
    const { register, rt, a } = bare();
    expect(register('stdw [r10-8], 0x55\nmov r0, 0\nexit').r).toBe(0);
    a.machine.run(a.machine.cpu.icount + 200_000);
    const p = rt.programs[0]!;
    expect(p.stats.invocations).toBeGreaterThan(0);
    expect(p.memory.bytes[2]![4096 - 8]).toBe(0x55); // the last invocation left it there
    // a program the verifier would refuse (it reads the stack before writing it), run as if it had slipped through
    const leak = asm('ldxdw r0, [r10-8]\nexit');
    for (const engine of ['compiled', 'interpreter'] as const) {
      const q = { ...p, compiled: compile(leak), decoded: predecode(leak) };
      q.memory.bytes[2]!.fill(0x55, 4096 - 8);
      const res = runProgram(q, rt.helpers, engine, 100);
      expect(res.ok && res.value, engine).toBe(0n);
    }
  });

  it('8. trace_printk lines, IPIs and boosts are bounded per run and in all; the drops are counted', () => {
    const { register, rt, a } = bare();
    // per exit: 20 trace_printk calls (a 1 KiB format each: the granted region) and 20 boosts, loop-free
    const call = [`mov r1, r7`, 'mov r2, 1024', 'mov r3, 0', 'mov r4, 0', 'mov r5, 0', `call ${HelperId.TRACE_PRINTK}`, 'mov r1, r6', 'mov r2, 100', 'mov r3, 1000', `call ${HelperId.PRIORITY_BOOST}`];
    const src = ['mov r6, r1', 'mov r7, r2', ...Array.from({ length: 20 }, () => call).flat(), 'mov r0, 0', 'exit'].join('\n');
    const { r, err } = register(src);
    expect(err ?? '').toBe('');
    expect(r).toBe(0);
    a.machine.run(a.machine.cpu.icount + 2_000_000);
    const p = rt.programs[0]!;
    expect(p.stats.invocations).toBeGreaterThan(LIMITS.traceLines / LIMITS.traceLinesPerRun);
    expect(rt.traceLog).toHaveLength(LIMITS.traceLines);
    expect(rt.traceLog.every((l) => l.length <= 1024)).toBe(true);
    expect(rt.dropped.traceLog).toBe(p.stats.invocations * LIMITS.traceLinesPerRun - LIMITS.traceLines);
    expect(rt.boosts).toHaveLength(p.stats.invocations * LIMITS.boostsPerRun);
    expect(p.stats.faults).toBe(0);
  });

  it('8. a faulted run is charged the instructions it ran (and helper work is charged)', () => {
    const { register, rt, a } = bare();
    // hint_free_page outside a memory-pressure event faults, after 12 instructions
    const src = [...Array.from({ length: 10 }, () => 'mov r3, 1'), 'mov r2, 0', `call 32`, 'mov r0, 0', 'exit'].join('\n');
    expect(register(src).r).toBe(0);
    const before = a.machine.exitCycles;
    a.machine.run(a.machine.cpu.icount + 100_000);
    const p = rt.programs[0]!;
    expect(p.stats.invocations).toBeGreaterThan(0);
    expect(p.stats.faults).toBe(p.stats.invocations);
    expect(p.stats.lastFault).toMatch(/hint_free_page outside a memory-pressure event/);
    const cpi = a.costModel.cyclesPerInstruction, over = a.costModel.hyperupcall.overNative;
    expect(p.stats.steps).toBe(12 * p.stats.invocations);
    expect(p.stats.cycles).toBe(p.stats.invocations * (12 * cpi + over));
    expect(a.machine.exitCycles - before).toBeGreaterThanOrEqual(p.stats.cycles);
    // memset of the 4096-byte region: 64 steps of work on top of its 5 instructions
    const { register: reg2, rt: rt2, a: a2 } = bare();
    expect(reg2(`mov r1, r2\nmov r2, 0\nmov r3, 4096\ncall ${HelperId.MEMSET}\nmov r0, 0\nexit`).r).toBe(0);
    a2.machine.run(a2.machine.cpu.icount + 100_000);
    const q = rt2.programs[0]!;
    expect(q.stats.steps).toBe((6 + 64) * q.stats.invocations);
  });
});
