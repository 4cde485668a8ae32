// Hyperupcalls on an unmodified Linux (docs/hyperupcalls.md "On Linux"): the kernel has no registration path,
// so the kernel-module witness is one (linux:witness=hyperupcall: vmt_witness.ko registers vmtrace's tracing
// program with VMCALL HC 1 on a ring it allocates, and appends its own fork/exec/exit events to that ring).
// Checked on one Linux run: the registration is accepted (console, the module's START report); the program
// ran on every exit after its registration (the hyperupcalls analysis, which replays the trace, against the
// exits table the recorder wrote); the ring in guest memory at the end is the unified log of seed 003 4.1:
// its hypervisor records are exits.arrow's rows (seq, icount, reason, rip) and its guest records are the
// module's fork/exec/exit reports, each right after the I/O exit of that report's own OUT.

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { recordTrace } from '../src/replay/recordTrace.js';
import { guestDir } from '../src/hypervisor/workloads.js';
import { TraceReader } from '../src/record/TraceReader.js';
import { readWitness } from '../src/record/witnessTable.js';
import { hyperupcallsAnalysis } from '../src/analyses/hyperupcalls.js';
import { WitnessFlag, WitnessKind } from '../src/emulator/events.js';
import { ExitReason } from '../src/emulator/vmx/exitReasons.js';

const haveImage = existsSync(join(guestDir(), 'images', 'linux', 'manifest.json'));
if (!haveImage) console.warn('linux-hyperupcalls tests skipped: no Linux guest image under guest/images/linux (make -C guest linux)');

const RING_SLOTS = 4096;
const RING_HDR = 64;

describe.skipIf(!haveImage)('hyperupcalls on Linux through the witness module (linux:run=spawn,witness=hyperupcall)', async () => {
  const root = mkdtempSync(join(tmpdir(), 'vmtrace-linux-hu-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const dir = join(root, 'spawn');
  const rec = await recordTrace({ workload: 'linux:run=spawn,witness=hyperupcall', exitPreset: 'kvm-default', costModel: 'modern' }, dir, { checkpointEvery: 0 });
  const reader = TraceReader.open(dir);
  const w = readWitness(reader)!;
  const rt = rec.assembled.hyperupcalls;
  const prog = rt.programs[0]!;
  // exits.arrow: seq -> [icount, reason, rip]
  const exits: Array<[number, number, bigint]> = [];
  for (const b of reader.batches('exits')) {
    for (let i = 0; i < b.numRows; i++) exits.push([Number(b.getChild('icount')!.get(i)), b.getChild('exit_reason')!.get(i) as number, b.getChild('rip')!.get(i) as bigint]);
  }

  it('the module registers the tracing program with VMCALL, and reports so', () => {
    expect(rec.result.reason).toBe('guest-exit');
    expect(rec.result.status).toBe(0);
    expect(rec.console).toMatch(/vmt_witness: hyperupcall trace registered \(id 0, ring at physical 0x[0-9a-f]+\)/);
    expect(rec.console).toContain('spawn: 100 children, 100 exit statuses correct');
    expect(rt.rejections).toEqual([]);
    expect(rt.programs.length).toBe(1);
    expect([prog.event, prog.exitReason]).toEqual([1, 0xffffffff]);
    expect(prog.memLen).toBe(33 * 4096);
    // the registration is the VMCALL exit just before the program's first exit
    expect(exits[prog.firstExit - 1]![1]).toBe(ExitReason.VMCALL);
    const start = w[0]!;
    expect(start.kind).toBe(WitnessKind.start);
    expect(start.flags & WitnessFlag.hyperupcall).toBe(WitnessFlag.hyperupcall);
    expect(start.arg).toBe(prog.id);
  });

  it('trace analyze <dir> hyperupcalls: the replay re-registers it and it ran on every exit after its registration', async () => {
    const r = await hyperupcallsAnalysis.run(dir, {});
    expect(r.notes[0]).toMatch(/^replay clean: (\d+) of \1 exits matched/);
    const programs = r.tables.find((t) => t.name === 'programs')!;
    expect(programs.rows.length).toBe(1);
    const col = (n: string): number => programs.columns.findIndex((c) => c.name === n);
    const row = programs.rows[0]!;
    expect(row[col('invocations')]).toBe(exits.length - prog.firstExit);
    expect(row[col('insns')]).toBe(prog.insns.length);
    expect(row[col('faults')]).toBe(0);
    expect(row[col('region_bytes')]).toBe(33 * 4096);
    const paper = r.tables.find((t) => t.name === 'paper')!;
    expect(paper.rows.find((x) => String(x[0]).startsWith('tracing over native'))![2]).toBe(rec.assembled.costModel.hyperupcall.overNative);
  }, 600_000);

  it('the ring is the unified log: exits.arrow\'s exits and the module\'s events, interleaved as they happened', () => {
    const ring = rec.assembled.machine.cpu.mmu.readPhys(prog.memGpa, prog.memLen);
    const dv = new DataView(ring.buffer, ring.byteOffset, ring.byteLength);
    const head = Number(dv.getBigUint64(0, true));
    const lifecycle = w.filter((e) => e.kind === WitnessKind.fork || e.kind === WitnessKind.exec || e.kind === WitnessKind.exit);
    // Every exit after the registration got a record, and every fork/exec/exit the module reported.
    expect(head).toBe(exits.length - prog.firstExit + lifecycle.length);
    const recs: Array<{ seq: number; icount: number; reason: number; rip: bigint }> = [];
    for (let n = Math.max(0, head - RING_SLOTS); n < head; n++) {
      const o = RING_HDR + (n % RING_SLOTS) * 32;
      recs.push({ seq: Number(dv.getBigUint64(o, true)), icount: Number(dv.getBigUint64(o + 8, true)), reason: Number(dv.getBigUint64(o + 16, true)), rip: dv.getBigUint64(o + 24, true) });
    }
    const guest = recs.filter((r) => r.reason >= 0x10000);
    expect(guest.length).toBeGreaterThan(50);
    // the last guest records are the last lifecycle reports, in order
    const reports = lifecycle.slice(lifecycle.length - guest.length);
    const typeOf = (e: (typeof w)[number]): number =>
      e.kind === WitnessKind.exec ? 7 : e.kind === WitnessKind.fork ? (e.pid === e.tgid ? 1 : 3) : e.pid === e.tgid ? 2 : 4;
    const name8 = (s: string): bigint => [...s.slice(0, 8)].reduce((v, c, i) => v | (BigInt(c.charCodeAt(0)) << BigInt(8 * i)), 0n);
    let gi = 0;
    for (let i = 0; i < recs.length; i++) {
      const r = recs[i]!;
      if (r.reason < 0x10000) {
        const x = exits[r.seq]!;
        expect([r.icount, r.reason, r.rip], `exit record seq ${r.seq}`).toEqual([x[0], x[1], x[2]]);
        continue;
      }
      const e = reports[gi++]!;
      expect([r.seq, r.reason, r.rip], `guest record ${gi}`).toEqual([e.pid, 0x10000 | typeOf(e), name8(e.comm)]);
      // right after the exit of the report's own OUT (port 0x518)
      const prev = recs[i - 1]!;
      expect([prev.reason, prev.icount]).toEqual([ExitReason.IO_INSTRUCTION, e.icount]);
    }
    expect(gi).toBe(guest.length);
  });
}, 900_000);
