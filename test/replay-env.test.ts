// Record a run through RecordingEnvironment, replay it from the log alone (no devices), and check that the
// replayed exits equal the recorded ones; a changed input value is caught.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Machine, type Environment, type ExitPolicy } from '../src/emulator/machine.js';
import { INSTRUCTION_EXIT_REASON } from '../src/emulator/vmx/exitReasons.js';
import { enterGuest } from '../src/hypervisor/boot.js';
import { loadGuest } from '../src/hypervisor/loader.js';
import { getWorkload, loadOptions } from '../src/hypervisor/workloads.js';
import { InputKind, InputLogFile, InputLogWriter, readInputLog, type InputEntry } from '../src/replay/inputLog.js';
import { RecordingEnvironment } from '../src/replay/RecordingEnvironment.js';
import { InputDivergence, ReplayEnvironment } from '../src/replay/ReplayEnvironment.js';

const policy: ExitPolicy = { instructionExitReason: (k) => INSTRUCTION_EXIT_REASON[k], exceptionExits: () => false, externalInterruptExiting: true };

function build(make: (m: () => Machine) => Environment): { m: Machine; exits: number[][] } {
  const w = getWorkload('syscall');
  let m: Machine | null = null;
  const env = make(() => m as Machine);
  m = new Machine(env, { memoryBytes: w.memBytes, cyclesPerInstruction: 1, maxInstructions: 50_000_000, policy, costModel: { exitCost: () => 1500 } });
  enterGuest(m.cpu, loadGuest(m.cpu.mmu.u8, loadOptions(w, 1_000_000_000)));
  const exits: number[][] = [];
  m.subscribe({ onExit: (e) => exits.push([e.seq, e.icount, e.reason, ...e.words]) });
  return { m, exits };
}

/** A device-free stand-in: a UART that is always ready, and power-off. */
function stub(m: () => Machine): Environment {
  return {
    nextEventAt: () => Infinity,
    advanceTo: () => false,
    portIn: (p) => (p === 0x3fd ? 0x60 : 0xffffffff),
    portOut: (p, _s, v) => {
      if (p === 0x500) m().stop('guest-exit', v);
      return false;
    },
    deviceAt: () => 'none',
    inRaisedIrq: false,
    pendingVector: () => -1,
    acknowledge: () => -1,
  };
}

describe('record and replay through the input log', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vmtrace-replay-'));
  const logPath = join(dir, 'inputs.msgpack');
  const rec = (() => {
    const writer = new InputLogWriter(logPath);
    const r = build((m) => new RecordingEnvironment(stub(m), writer, () => m().cpu.ioIcount));
    const result = r.m.run();
    writer.close();
    return { ...r, result };
  })();

  it('replays with the same exits, register snapshots and instruction count, without devices', () => {
    const log = readInputLog(logPath);
    expect(log.length).toBeGreaterThan(100);
    expect(log.every((e) => e[0] === InputKind.portIn || e[0] === InputKind.portOut)).toBe(true);
    // Read from the file as `trace replay` does (forward readers holding one read each).
    const rep = build((m) => new ReplayEnvironment(() => new InputLogFile(logPath), () => m().cpu.ioIcount, (p, b) => m().cpu.mmu.writePhys(p, b), () => 'none'));
    // Power-off comes from the log's OUT to 0x500: the replay stops when the log is used up there.
    let stopped = false;
    const env = rep.m.env as ReplayEnvironment;
    rep.m.subscribe({ onExit: () => { if (env.atEnd && !stopped) { stopped = true; } } });
    const orig = env.portOut.bind(env);
    env.portOut = (p, s, v) => { const irq = orig(p, s, v); if (p === 0x500) rep.m.stop('guest-exit', v); return irq; };
    const r = rep.m.run();
    expect(r.reason).toBe('guest-exit');
    expect(r.icount).toBe(rec.result.icount);
    expect(rep.exits).toEqual(rec.exits);
    expect(env.atEnd).toBe(true);
  });

  it('a log entry that disagrees with the replayed guest is reported as a divergence naming the entry', () => {
    const log = readInputLog(logPath);
    // The 100th console byte as the log has it differs from what the guest writes in replay.
    const outs = log.map((e, k) => [e, k] as const).filter(([e]) => e[0] === InputKind.portOut && e[2] === 0x3f8);
    const i = outs[100][1];
    const bad: InputEntry[] = log.map((e, k) => (k === i ? [e[0], e[1], e[2], e[3], (e[4] as number) ^ 1, e[5]] : e));
    const rep = build((m) => new ReplayEnvironment(bad, () => m().cpu.ioIcount, (p, b) => m().cpu.mmu.writePhys(p, b), () => 'none'));
    let err: unknown = null;
    try {
      rep.m.run();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputDivergence);
    expect((err as InputDivergence).index).toBe(i);
    expect((err as InputDivergence).message).toContain(`portOut at icount ${log[i][1] as number}`);
  });
});

describe('the look-ahead for the next device event', () => {
  it('reads a log with device events far apart once, holding a bounded number of entries', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vmtrace-ahead-'));
    const logPath = join(dir, 'inputs.msgpack');
    // 200,000 port reads, then the first device event (far beyond the 65,536 entries the look-ahead holds).
    const w = new InputLogWriter(logPath);
    const n = 200_000;
    for (let i = 0; i < n; i++) w.add6(InputKind.portIn, 10 + i, 0x3fd, 1, i & 0xff, 0);
    w.add3(InputKind.advance, 10 + n, 1);
    w.add3(InputKind.acknowledge, 10 + n, 0x20);
    w.close();
    let icount = 0;
    const files: InputLogFile[] = [];
    const env = new ReplayEnvironment(() => {
      const f = new InputLogFile(logPath);
      files.push(f);
      return f;
    }, () => icount, () => {}, () => 'none');
    expect(env.nextEventAt()).toBe(10 + n);
    // The run's reader holds what lies from its position to the look-ahead's bound, not the 200,000 entries.
    expect(files[0]!.heldEntries).toBeLessThan(100_000);
    for (let i = 0; i < n; i++) {
      icount = 10 + i;
      expect(env.portIn(0x3fd, 1)).toBe(i & 0xff);
      if (i % 50_000 === 0) expect(files[0]!.heldEntries).toBeLessThan(100_000);
    }
    expect(env.advanceTo(10 + n)).toBe(true);
    icount = 10 + n;
    expect(env.acknowledge()).toBe(0x20);
    expect(env.atEnd).toBe(true);
    env.close();
  });
});
