// Hyperupcalls (seed 003) on the real guest: registration accepted and rejected with clear errors, the unified
// trace against exits.arrow (the recording's own exits: the oracle), free-page discovery against the guest
// kernel's own count, record + replay of a hyperupcall workload, and the committed bytecode.

import { cpSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { Packr, Unpackr } from 'msgpackr';
import { isLz4Frame, lz4Decompress } from '../src/record/compression.js';

/** A checkpoint file's msgpack bytes (recordings compress each checkpoint as one LZ4 frame by default). */
const plainCheckpoint = (b: Uint8Array): Uint8Array => (isLz4Frame(b) ? lz4Decompress(b) : b);
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pl from 'nodejs-polars';
import { describe, expect, it } from 'vitest';
import { recordTrace } from '../src/replay/recordTrace.js';
import { replayTrace } from '../src/replay/replayTrace.js';
import { assemble as assembleSession } from '../src/replay/Session.js';
import { LiveEnvironment } from '../src/replay/LiveEnvironment.js';
import { assemble as asm } from '../src/hypervisor/ebpf/assembler.js';
import { encode } from '../src/hypervisor/ebpf/isa.js';
import {
  ANY_EXIT, HuError, HuEvent, REG_BYTES, REG_MAGIC, Reg,
} from '../src/hypervisor/hyperupcalls/index.js';
import { assembleGuestPrograms, committedProgram } from '../src/hypervisor/hyperupcalls/programs.js';

const root = mkdtempSync(join(tmpdir(), 'vmtrace-hu-'));

/** A machine on the syscall workload (no hyperupcalls in its script): registration driven from the test. */
function bare() {
  const a = assembleSession({ workload: 'syscall:n=5', exitPreset: 'kvm-default', costModel: 'modern' }, (m, w) => new LiveEnvironment(m, w));
  const rt = a.hyperupcalls;
  const u8 = a.machine.cpu.mmu.u8;
  const base = a.workload.memBytes - 0x100000; // 1 MiB below the top of guest memory: scratch for the test
  const register = (src: string, o: { event?: number; memGpa?: number; memLen?: number; flags?: number } = {}) => {
    const code = encode(asm(src));
    u8.set(code, base + 0x1000);
    const dv = new DataView(u8.buffer, u8.byteOffset + base, REG_BYTES);
    new Uint8Array(u8.buffer, u8.byteOffset + base, REG_BYTES).fill(0);
    dv.setUint32(Reg.magic, REG_MAGIC, true);
    dv.setUint32(Reg.event, o.event ?? HuEvent.vmExit, true);
    dv.setUint32(Reg.exitReason, ANY_EXIT, true);
    dv.setUint32(Reg.flags, o.flags ?? 0, true);
    dv.setBigUint64(Reg.codeGpa, BigInt(base + 0x1000), true);
    dv.setBigUint64(Reg.codeLen, BigInt(code.length), true);
    dv.setBigUint64(Reg.memGpa, BigInt(o.memGpa ?? base + 0x10000), true);
    dv.setBigUint64(Reg.memLen, BigInt(o.memLen ?? 4096), true);
    dv.setBigUint64(Reg.errGpa, BigInt(base + 0x800), true);
    dv.setBigUint64(Reg.errLen, 256n, true);
    const r = rt.register(BigInt(base));
    const err = Buffer.from(u8.subarray(base + 0x800, base + 0x900)).toString('latin1').split('\0')[0];
    return { r, err, rt, a };
  };
  return { register, rt, a, base };
}

describe('registration (HC 1)', () => {
  it('accepts a safe program and runs it on every exit, charging modelled cycles', () => {
    const { register, rt, a } = bare();
    const { r } = register('ldxdw %r3, [%r2+8]\nadd %r3, 1\nstxdw [%r2+8], %r3\nmov %r0, 0\nexit');
    expect(r).toBe(0);
    const before = a.machine.exitCycles;
    a.machine.run();
    const p = rt.programs[0]!;
    expect(p.stats.invocations).toBe(a.machine.exitCount - p.firstExit);
    expect(p.stats.invocations).toBeGreaterThan(10);
    // the program counted the exits in guest memory (offset 8: a free page's first word is the kernel's free-list link)
    expect(Number(new DataView(p.memory.bytes[1]!.buffer, p.memory.bytes[1]!.byteOffset).getBigUint64(8, true))).toBe(p.stats.invocations);
    expect(p.stats.cycles).toBe(p.stats.invocations * (5 + a.costModel.hyperupcall.overNative));
    expect(a.machine.exitCycles - before).toBeGreaterThanOrEqual(p.stats.cycles);
  });

  it('rejects an unsafe program with the verifier message, written back to the guest', () => {
    const { register, rt } = bare();
    const { r, err } = register('mov %r3, 0x100000\nadd %r2, %r3\nstxdw [%r2+0], %r3\nmov %r0, 0\nexit');
    expect(r).toBe(HuError.rejected);
    expect(err).toMatch(/^verifier: instruction 2 .*outside|^verifier: instruction 2/);
    expect(rt.rejections[0]!.message).toBe(err);
    expect(rt.programs).toHaveLength(0);
  });

  it('rejects an unknown helper', () => {
    const { register } = bare();
    const { r, err } = register('call 99\nmov %r0, 0\nexit');
    expect(r).toBe(HuError.rejected);
    expect(err).toMatch(/helper/);
    expect(err).toMatch(/99/);
  });

  it('rejects a region over the 2% share, and accepts it when the share is raised', () => {
    const { register, rt, a } = bare();
    const share = Math.floor(a.workload.memBytes * 0.02);
    const big = register('mov %r0, 0\nexit', { memGpa: 0x200000, memLen: share + 4096 });
    expect(big.r).toBe(HuError.tooBig);
    expect(big.err).toContain('exceeds 2.0% of guest memory');
    expect(register('mov %r0, 0\nexit', { memGpa: 0x200000, memLen: share }).r).toBe(0);
    rt.options.share = 0.05;
    expect(register('mov %r0, 0\nexit', { memGpa: 0x200000, memLen: share + 4096 }).r).toBe(1);
  });

  it('rejects malformed blocks: bad magic, unknown event, region outside memory', () => {
    const { register, rt, base, a } = bare();
    expect(register('mov %r0, 0\nexit', { event: 77 }).err).toContain('unknown event 77');
    expect(register('mov %r0, 0\nexit', { memGpa: a.workload.memBytes - 100, memLen: 4096 }).r).toBe(HuError.fault);
    a.machine.cpu.mmu.u8[base] = 0;
    expect(rt.register(BigInt(base))).toBe(HuError.invalid);
    expect(rt.register(BigInt(a.workload.memBytes))).toBe(HuError.fault);
  });

  it('the guest sees the rejections on its console (bad-unsafe, bad-helper, trace-big)', () => {
    const a = assembleSession({ workload: join(root, 'bad.json'), exitPreset: 'kvm-default', costModel: 'modern' }, (m, wl) => new LiveEnvironment(m, wl));
    a.machine.run();
    const c = a.machine.consoleText();
    expect(c).toMatch(/kernel: hyperupcall bad-unsafe rejected \(-13\): verifier: instruction 2/);
    expect(c).toMatch(/kernel: hyperupcall bad-helper rejected \(-13\): verifier: .*helper/);
    expect(c).toMatch(/kernel: hyperupcall trace-big rejected \(-7\): granted region of \d+ bytes exceeds 2.0%/);
    expect(c).toContain('init: done, 0 failures');
  });
});

// A workload description for the rejection test (a file: workloads accept any description path).
import { writeFileSync } from 'node:fs';
import { resealFile } from './helpers/reseal.js';
writeFileSync(join(root, 'bad.json'), JSON.stringify({
  name: 'hyperupcall-bad', description: 'rejections', script: ['#hyperupcall bad-unsafe bad-helper trace-big', 'run true'],
}));

describe('unified tracing and free pages on a recorded trace', async () => {
  const dir = join(root, 'trace');
  const rec = await recordTrace({ workload: 'hyperupcall-trace', exitPreset: 'kvm-default', costModel: 'modern' }, dir);
  const lines = rec.console.split('\n');

  it('the guest ring shows the recording\'s exits, in order, from the registration on (startup CPUID included)', () => {
    expect(rec.result.reason).toBe('guest-exit');
    const recs = lines.map((l) => /^hu: exit (\d+) icount (\d+) reason (\d+) rip ([0-9a-f]+)$/.exec(l)).filter((m) => m !== null);
    expect(recs.length).toBeGreaterThan(100);
    const exits = pl.readIPC(readFileSync(join(dir, 'exits.arrow')));
    const seq = exits.getColumn('seq').toArray() as number[];
    const icount = exits.getColumn('icount').toArray() as number[];
    const reason = exits.getColumn('exit_reason').toArray() as number[];
    const rip = exits.getColumn('rip').toArray() as Array<bigint | number>;
    const first = Number(recs[0]![1]);
    recs.forEach((m, k) => {
      const s = Number(m[1]);
      expect(s, `record ${k}`).toBe(first + k); // contiguous: no exit missing between registration and the snapshot
      expect(seq[s]).toBe(s);
      expect(Number(m[2]), `icount of exit ${s}`).toBe(Number(icount[s]));
      expect(Number(m[3]), `reason of exit ${s}`).toBe(Number(reason[s]));
      expect(BigInt('0x' + m[4]), `rip of exit ${s}`).toBe(BigInt(rip[s]!));
    });
    // the registration's own VMCALL is the exit just before the first record
    expect(Number(reason[first - 1])).toBe(18);
    // the kernel's startup CPUID probe: three CPUID exits (reason 10) in kernel text, in the ring
    const cpuid = recs.filter((m) => m[3] === '10');
    expect(cpuid.length).toBe(3);
    for (const m of cpuid) expect(m[4]!.startsWith('ffffffff801')).toBe(true);
    expect(rec.console).toMatch(/kernel: cpu GenuineIntel/);
    // guest events share the log
    expect(lines.filter((l) => /^hu: guest exec pid \d+ syscall/.test(l))).toHaveLength(1);
    const summary = /hu: trace (\d+) records, head (\d+)/.exec(rec.console)!;
    expect(Number(summary[1])).toBe(recs.length + lines.filter((l) => l.startsWith('hu: guest ')).length);
  });

  it('free-page discovery finds exactly the free pages the guest kernel counts at power-off', () => {
    const m = /kernel: power-off status 0, (\d+) pages free/.exec(rec.console);
    expect(m).not.toBeNull();
    const rt = rec.assembled.hyperupcalls;
    expect(rt.freePageReports).toHaveLength(1);
    expect(rt.freePageReports[0]!.length).toBe(Number(m![1]));
    expect(rt.programs[1]!.stats.lastValue).toBe(BigInt(m![1]!)); // the program's own count (r0)
  });

  it('replays clean, and the replay\'s free-page report equals the guest\'s count', async () => {
    const rep = await replayTrace(dir);
    expect(rep.divergence).toBeNull();
    expect(rep.clean).toBe(true);
    const rt = rep.assembled.hyperupcalls;
    const free = Number(/kernel: power-off status 0, (\d+) pages free/.exec(rec.console)![1]);
    expect(rt.freePageReports).toHaveLength(1);
    const pages = rt.freePageReports[0]!;
    expect(pages.length).toBe(free);
    expect(new Set(pages).size).toBe(free);
    for (const p of pages) expect(p % 4096 === 0 && p < rep.assembled.workload.memBytes && p >= rep.assembled.loaded.freePhys).toBe(true);
    expect(rt.programs.map((p) => p.stats.faults)).toEqual([0, 0]);
  });
});

describe('shipped programs', () => {
  it('the committed bytecode is what our assembler makes of guest/hyperupcalls/*.asm', () => {
    const progs = assembleGuestPrograms();
    expect(progs.map((p) => p.name)).toEqual(['bad-helper', 'bad-unsafe', 'boost', 'freepages', 'guard', 'trace']);
    for (const p of progs) expect(Buffer.from(committedProgram(p.name)).equals(Buffer.from(p.bytes)), p.name).toBe(true);
  });
});

describe('trace analyze hyperupcalls', async () => {
  const { hyperupcallsAnalysis, invocationCosts } = await import('../src/analyses/hyperupcalls.js');
  const { getCostModel } = await import('../src/emulator/costModel.js');
  const dir = join(root, 'an');
  await recordTrace({ workload: 'hyperupcall-trace:n=5', exitPreset: 'kvm-default', costModel: 'modern' }, dir);

  it('reports both programs with the run\'s invocations and per-mechanism costs in the expected order', async () => {
    const r = await hyperupcallsAnalysis.run(dir, {});
    const progs = r.tables.find((t) => t.name === 'programs')!;
    expect(progs.rows.map((x) => x[0])).toEqual(['0:vm-exit', '1:memory-pressure']);
    const ov = r.tables.find((t) => t.name === 'overheads')!;
    const row = ov.rows[0]!;
    expect(row[3]).toBe((row[1] as number) + 250); // compiled = native + overNative
    const c = invocationCosts(getCostModel('modern'), 18);
    expect(c.native < c.compiled && c.compiled < c.interpreted && c.interpreted < c.hypercall && c.hypercall < c.upcall).toBe(true);
    expect(r.notes[0]).toMatch(/^replay clean/);
    // no server requests in this workload: no scheduler series, no guard
    expect(r.tables.find((t) => t.name === 'scheduler_activation')).toBeUndefined();
    expect(r.notes.join('\n')).toContain('no server requests in this trace');
    expect(r.tables.find((t) => t.name === 'guard')).toBeUndefined();
  });
});

describe('scheduler activation on hyperupcall-server (trace-driven Figure 2)', async () => {
  const { hyperupcallsAnalysis } = await import('../src/analyses/hyperupcalls.js');
  const { getWorkload } = await import('../src/hypervisor/workloads.js');
  const dir = join(root, 'server');
  const rec = await recordTrace({ workload: 'hyperupcall-server', exitPreset: 'kvm-default', costModel: 'modern' }, dir);
  const w = getWorkload('hyperupcall-server');
  const kinds = w.packets.map((p) => /^[a-z]+/.exec(Buffer.from(p.bytes.subarray(8)).toString('latin1'))![0]);
  const r = await hyperupcallsAnalysis.run(dir, {});
  const table = (name: string) => r.tables.find((t) => t.name === name)!;

  it('the boost program ran on every packet and boosted exactly the gets', () => {
    expect(rec.console).toContain('kernel: hyperupcall boost registered as 0');
    const rt = rec.assembled.hyperupcalls;
    expect(rt.programs[0]!.stats.invocations).toBe(w.packets.length); // 100 requests + quit
    const gets = kinds.filter((k) => k === 'get').length;
    expect(gets).toBeGreaterThan(20);
    expect(gets).toBeLessThan(w.packets.length - 20); // a mix: sets and deletes do not match
    expect(rt.boosts).toHaveLength(gets);
    for (const b of rt.boosts) expect([b.weight, b.durationUs]).toEqual([100, 100_000]);
  });

  it('the requests table is the trace\'s requests: kinds in schedule order, boosts on the gets, service times in guest time', () => {
    const req = table('requests');
    expect(req.rows.map((x) => x[1])).toEqual(kinds.slice(0, 100)); // quit has no reply
    for (const x of req.rows) {
      expect(x[6] !== null, `request ${String(x[0])}`).toBe(x[1] === 'get');
      expect(x[3] as number).toBeGreaterThan(x[2] as number);
      expect(x[4] as number).toBeGreaterThan(((x[3] as number) - (x[2] as number)) * 1); // instructions x CPI 1 plus exit work
      expect(x[5] as number).toBeCloseTo((x[4] as number) / 2.93e9 * 1e6, 6);
    }
    // arrivals are the NIC injections of the schedule's packets, in order
    const arr = req.rows.map((x) => x[2] as number);
    for (let i = 1; i < arr.length; i++) expect(arr[i]!).toBeGreaterThan(arr[i - 1]!);
  });

  it('reproduces the shape of Figure 2: base grows with overcommit, boosted stays nearly flat, the ratio grows', () => {
    const s = table('scheduler_activation');
    expect(s.rows.map((x) => x[0])).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const base = s.rows.map((x) => x[1] as number);
    const boosted = s.rows.map((x) => x[2] as number);
    const ratio = s.rows.map((x) => x[3] as number);
    expect(ratio[0]).toBeCloseTo(1, 9); // alone on the pCPU the boost changes nothing
    for (let i = 1; i < 8; i++) {
      expect(base[i]!).toBeGreaterThan(base[i - 1]!);
      expect(ratio[i]!).toBeGreaterThan(ratio[i - 1]!);
      expect(boosted[i]! - boosted[i - 1]!).toBeLessThan((base[i]! - base[i - 1]!) / 2);
    }
    expect(ratio[7]!).toBeGreaterThan(2);
  });

  it('is deterministic: a second analysis of the trace gives the same tables', async () => {
    const again = await hyperupcallsAnalysis.run(dir, {});
    expect(JSON.stringify(again.tables)).toBe(JSON.stringify(r.tables));
  });

  it('without the hyperupcall (the server workload) the series has no boosts: ratio 1 at every level', async () => {
    const d2 = join(root, 'plain-server');
    await recordTrace({ workload: 'server:count=100', exitPreset: 'kvm-default', costModel: 'modern' }, d2);
    const r2 = await hyperupcallsAnalysis.run(d2, {});
    const s = r2.tables.find((t) => t.name === 'scheduler_activation')!;
    for (const x of s.rows) expect(x[3]).toBeCloseTo(1, 9);
  });
});

describe('the guard (ATC\'18 protection use case) on hyperupcall-guard', async () => {
  const { hyperupcallsAnalysis } = await import('../src/analyses/hyperupcalls.js');
  const dir = join(root, 'guard');
  const rec = await recordTrace({ workload: 'hyperupcall-guard', exitPreset: 'kvm-default', costModel: 'modern' }, dir);
  // the same script without the guard registered
  writeFileSync(join(root, 'unguarded.json'), JSON.stringify({ name: 'unguarded', description: 'guard test without the guard', script: ['run guard'] }));
  const bare = await recordTrace({ workload: join(root, 'unguarded.json'), exitPreset: 'kvm-default', costModel: 'modern' }, join(root, 'unguarded'));

  it('blocks the rootkit writes (LSTAR elsewhere, CR0.WP cleared) and lets the legitimate ones through', () => {
    expect(rec.result.reason).toBe('guest-exit');
    expect(rec.console).toContain('guard: lstar legitimate: applied');
    expect(rec.console).toContain('guard: cr0 legitimate (set AM): applied');
    expect(rec.console).toContain('guard: lstar rootkit: blocked');
    expect(rec.console).toContain('guard: cr0 rootkit (clear WP): blocked');
    expect(rec.console).toContain('guard: log checked 4, blocked 2');
    expect(rec.console).toContain('syscall: 20 getpid calls'); // system calls still reach the real entry
    const rt = rec.assembled.hyperupcalls;
    expect(rt.skips.map((x) => x.reason)).toEqual([32, 28]);
    // the guest's log page holds what was refused: the rogue LSTAR value and a CR0 without WP
    const lines = [...rec.console.matchAll(/^guard: blocked seq (\d+) reason (\d+) what 0x([0-9a-f]+) value 0x([0-9a-f]+) rip ([0-9a-f]+)$/gm)];
    expect(lines.map((m) => [Number(m[1]), Number(m[2])])).toEqual(rt.skips.map((x) => [x.seq, x.reason]));
    expect(lines[0]![3]).toBe('c0000082');
    expect(BigInt('0x' + lines[1]![4]) & (1n << 16n)).toBe(0n);
  });

  it('without the guard the same rootkit writes take effect (it is the guard that blocks them)', () => {
    expect(bare.console).toContain('guard: lstar rootkit: applied');
    expect(bare.console).toContain('guard: cr0 rootkit (clear WP): applied');
    expect(bare.console).toContain('guard: lstar legitimate: applied');
    expect(bare.console).not.toContain('hypervisor notification');
  });

  it('the blocked exits are in exits.arrow with the attempted values; replay is clean and re-derives the blocks', async () => {
    const rt = rec.assembled.hyperupcalls;
    const exits = pl.readIPC(readFileSync(join(dir, 'exits.arrow')));
    const reason = exits.getColumn('exit_reason').toArray() as number[];
    const rcx = exits.getColumn('rcx').toArray() as Array<bigint | number>;
    const s0 = rt.skips[0]!.seq;
    expect(reason[s0]).toBe(32);
    expect(BigInt(rcx[s0]!)).toBe(0xc0000082n);
    const rep = await replayTrace(dir);
    expect(rep.clean).toBe(true);
    expect(rep.assembled.hyperupcalls.skips).toEqual(rt.skips);
  });

  it('send_vcpu_ipi is delivered: vector 48 injected once per block after the guest can take it, the kernel handles it', () => {
    const rt = rec.assembled.hyperupcalls;
    expect(rt.ipis.map((x) => x.vector)).toEqual([48, 48]);
    expect(rec.console).toContain('kernel: hypervisor notification 1 (vector 48): guard checked 3, blocked 1');
    expect(rec.console).toContain('kernel: hypervisor notification 2 (vector 48): guard checked 4, blocked 2');
    const ints = pl.readIPC(readFileSync(join(dir, 'interrupts.arrow')));
    const vec = ints.getColumn('vector').toArray() as number[];
    const at = (ints.getColumn('icount').toArray() as Array<number | bigint>).map(Number);
    const inj = at.filter((_, i) => vec[i] === 48);
    expect(inj).toHaveLength(2);
    // queued inside the kernel (IF clear), injected later, after an interrupt-window exit at the same icount
    const exits = pl.readIPC(readFileSync(join(dir, 'exits.arrow')));
    const reason = exits.getColumn('exit_reason').toArray() as number[];
    const eic = (exits.getColumn('icount').toArray() as Array<number | bigint>).map(Number);
    rt.ipis.forEach((x, k) => {
      expect(inj[k]!).toBeGreaterThan(x.icount);
      expect(reason.some((r, i) => r === 7 && eic[i] === inj[k])).toBe(true);
    });
  });

  it('trace analyze hyperupcalls shows the per-exit guard overhead beside the paper\'s +43', async () => {
    const r = await hyperupcallsAnalysis.run(dir, {});
    const g = r.tables.find((t) => t.name === 'guard')!;
    expect(g.rows.map((x) => [x[1], x[2], x[3]])).toEqual([[32, 2, 1], [28, 2, 1]]);
    for (const x of g.rows) {
      expect(x[6]).toBe((x[5] as number) + 250); // per exit = native + overNative
      expect(x[8]).toBe(43);
    }
    expect(r.tables.find((t) => t.name === 'guard_blocked')!.rows).toHaveLength(2);
    const paper = r.tables.find((t) => t.name === 'paper')!;
    expect(paper.rows.find((x) => String(x[0]).startsWith('guard'))![1]).toBe(43);
    expect(r.notes.join('\n')).toContain('send_vcpu_ipi delivered 2 interrupts');
  });
});

/** Replace a checkpoint of a trace and re-seal the manifest (its size/hash check would reject the edit). */
function resealCheckpoint(dir: string, name: string, bytes: Uint8Array): void {
  resealFile(dir, `checkpoints/${name}`, bytes);
}

describe('checkpoints carry the hyperupcall registry', async () => {
  const base = mkdtempSync(join(tmpdir(), 'vmtrace-hu-cp-'));
  type Replay = Awaited<ReturnType<typeof replayTrace>>;
  /** What the runtime registered and recorded, for comparing two runs (everything but the compiled code). */
  const registry = (a: Replay['assembled']) => {
    const rt = a.hyperupcalls;
    return {
      programs: rt.programs.map((p) => ({
        id: p.id, event: p.event, exitReason: p.exitReason, flags: p.flags, memGpa: p.memGpa, memLen: p.memLen, env: p.env, bytes: [...p.bytes],
        verifyProcessed: p.verifyProcessed, registeredAt: p.registeredAt, firstExit: p.firstExit, stats: p.stats, ctx: [...p.ctx],
      })),
      rejections: rt.rejections, boosts: rt.boosts, freePageReports: rt.freePageReports, ipis: rt.ipis, skips: rt.skips, traceLog: rt.traceLog,
      skipped: a.machine.skippedInstructions,
    };
  };
  /** Each program's granted region in guest memory (the trace ring, the guard's log page, ...). */
  const regions = (a: Replay['assembled']) => a.hyperupcalls.programs.map((p) => Buffer.from(a.machine.cpu.mmu.u8.subarray(p.memGpa, p.memGpa + p.memLen)).toString('hex'));
  /** Replay from the checkpoint at `from` against the full replay: clean, same end state, same hyperupcall results. */
  const checkFrom = (rec: Awaited<ReturnType<typeof recordTrace>>, full: Replay, rep: Replay, from: number) => {
    expect(rep.startIcount).toBe(from);
    expect(rep.divergence).toBeNull();
    expect(rep.inputDivergence).toBeNull();
    expect(rep.clean).toBe(true);
    expect(rep.matched).toBeLessThan(full.matched);
    expect(rep.matched + rep.result.exits - rep.replayedExits).toBe(full.matched); // exit-by-exit from the checkpoint's exit on
    expect(rep.icount).toBe(full.icount);
    expect(rep.result.cycles).toBe(full.result.cycles);
    expect(rep.result.exits).toBe(full.result.exits);
    expect(rep.stateDigest).toBe(full.stateDigest);
    expect(registry(rep.assembled)).toEqual(registry(full.assembled));
    expect(registry(full.assembled)).toEqual(registry(rec.assembled));
    expect(regions(rep.assembled)).toEqual(regions(rec.assembled));
    // replay does not simulate the UART: the console comes from the checkpoint, a prefix of the recording's
    expect(rec.console.startsWith(rep.assembled.machine.consoleText())).toBe(true);
    expect(rep.assembled.machine.consoleText()).toContain('kernel: hyperupcall');
  };

  const traceDir = join(base, 'trace');
  const traceRec = await recordTrace({ workload: 'hyperupcall-trace', exitPreset: 'kvm-default', costModel: 'modern' }, traceDir, { checkpointEvery: 200_000 });
  it('hyperupcall-trace: replay --from a checkpoint after the registrations is clean, with the same ring, counters and free pages', async () => {
    const rt = traceRec.assembled.hyperupcalls;
    expect(rt.programs).toHaveLength(2);
    expect(Math.max(...rt.programs.map((p) => p.registeredAt))).toBeLessThan(200_000);
    expect(rt.freePageReports).toHaveLength(1);
    const full = await replayTrace(traceDir);
    expect(full.clean).toBe(true);
    for (const from of [200_000, 1_400_000]) {
      const rep = await replayTrace(traceDir, { from });
      checkFrom(traceRec, full, rep, from);
      expect(rep.assembled.hyperupcalls.programs[0]!.stats.invocations).toBeGreaterThan(1000);
    }
  });

  const guardDir = join(base, 'guard');
  const guardRec = await recordTrace({ workload: 'hyperupcall-guard', exitPreset: 'kvm-default', costModel: 'modern' }, guardDir, { checkpointEvery: 4_000 });
  it('hyperupcall-guard: from before the blocks the replay re-derives them, from between them it keeps the first (skips, ipis, log page)', async () => {
    const rt = guardRec.assembled.hyperupcalls;
    expect(rt.skips.map((x) => x.reason)).toEqual([32, 28]);
    const [b0, b1] = rt.skips.map((x) => x.icount) as [number, number];
    const between = Math.ceil(b0 / 4_000) * 4_000;
    expect(between).toBeLessThan(b1);
    const before = Math.ceil(Math.max(...rt.programs.map((p) => p.registeredAt)) / 4_000) * 4_000;
    expect(before).toBeLessThan(b0);
    const full = await replayTrace(guardDir);
    expect(full.clean).toBe(true);
    for (const from of [before, between]) {
      const rep = await replayTrace(guardDir, { from });
      checkFrom(guardRec, full, rep, from);
      expect(rep.assembled.hyperupcalls.skips).toEqual(rt.skips);
      expect(rep.assembled.hyperupcalls.ipis).toEqual(rt.ipis);
    }
  });

  it('an older checkpoint that counted registrations but did not save them is refused with a clear message', async () => {
    const dir = join(base, 'guard-old');
    cpSync(guardDir, dir, { recursive: true });
    const name = readdirSync(join(dir, 'checkpoints')).find((n) => Number(n.slice(0, -'.msgpack'.length)) === 204_000)!;
    const file = join(dir, 'checkpoints', name);
    const cp = new Unpackr({ useRecords: false }).unpack(plainCheckpoint(readFileSync(file))) as { hypervisor: Record<string, unknown> };
    expect(cp.hypervisor.hyperupcalls).toBe(2);
    expect(cp.hypervisor.hyperupcallState).toBeDefined();
    delete cp.hypervisor.hyperupcallState;
    resealCheckpoint(dir, name, new Packr({ useRecords: false }).pack(cp));
    await expect(replayTrace(dir, { from: 204_000 })).rejects.toThrow(/registered 2 hyperupcall program\(s\) before this checkpoint, which was written by an older vmtrace that did not save them: replay from the start/);
  });

  const serverDir = join(base, 'server');
  const serverRec = await recordTrace({ workload: 'hyperupcall-server', exitPreset: 'kvm-default', costModel: 'modern' }, serverDir, { checkpointEvery: 1_000_000 });
  it('hyperupcall-server: from a checkpoint among the boosts the replay has the same boosts', async () => {
    const rt = serverRec.assembled.hyperupcalls;
    expect(rt.boosts.length).toBeGreaterThan(10);
    const from = 2_000_000;
    expect(rt.boosts.some((b) => b.icount < from) && rt.boosts.some((b) => b.icount > from)).toBe(true);
    const full = await replayTrace(serverDir);
    const rep = await replayTrace(serverDir, { from });
    checkFrom(serverRec, full, rep, from);
    expect(rep.assembled.hyperupcalls.boosts).toEqual(rt.boosts);
  });
});
