// The trace directory, written from seeded synthetic event streams and read back three ways: with our own
// reader (every value of every table), with nodejs-polars (an independent Arrow implementation: row counts
// and values), and byte for byte against a second recording of the same stream. Interrupted and killed
// recordings stay readable; damaged traces give clear TraceErrors.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pl from 'nodejs-polars';
import { ExitWord, type ExitEvent, type GroundTruthEvent, type InterruptEvent, type IoEvent,
  type MachineObserver, type SyscallEvent } from '../src/emulator/events.js';
import { TraceWriter, type TraceWriterOptions } from '../src/record/TraceWriter.js';
import { TraceReader } from '../src/record/TraceReader.js';
import { newExitEvent } from '../src/record/ExitCursor.js';
import { TraceError } from '../src/errors.js';
import { closeOnSignal } from '../src/record/closeOnSignal.js';
import { emitSynthetic, SYNTHETIC_DEVICES, type SyntheticOptions } from './helpers/syntheticEvents.js';
import { EXIT_REASON_KEYS, MAX_EXIT_REASON, exitReasonKey } from '../src/emulator/vmx/exitReasons.js';
import { GROUND_TRUTH_TYPE_NAMES, INTERRUPT_TYPE_NAMES, TABLES, TABLE_NAMES, type TableName } from '../src/record/schema.js';

const CPI = 2;
let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'vmtrace-record-'));
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

function options(extra: Partial<TraceWriterOptions> = {}): TraceWriterOptions {
  return {
    workload: { name: 'synthetic', description: 'seeded synthetic event stream', params: { b: 2, a: 'x' } },
    seed: 7,
    exitPreset: { name: 'kvm-default', ioExiting: true, hltExiting: true },
    costModel: { name: 'skylake', figures: { roundTrip: 1200, ioHandler: 3000 } },
    cyclesPerInstruction: CPI,
    machine: { memBytes: 64 << 20, tscHz: 2_000_000_000 },
    devices: ['pic', 'pit'],
    batchRows: 1000,
    ...extra,
  };
}

/** Keeps a copy of every event (the publisher reuses its objects). */
class Collector implements MachineObserver {
  exits: ExitEvent[] = [];
  io: IoEvent[] = [];
  interrupts: InterruptEvent[] = [];
  gt: GroundTruthEvent[] = [];
  syscalls: SyscallEvent[] = [];
  console: number[] = [];
  onExit(e: ExitEvent): void { this.exits.push({ ...e, words: e.words.slice() }); }
  onIo(e: IoEvent): void { this.io.push({ ...e, data: e.data ? e.data.slice() : null }); }
  onInterrupt(e: InterruptEvent): void { this.interrupts.push({ ...e }); }
  onGroundTruth(e: GroundTruthEvent): void { this.gt.push({ ...e }); }
  onSyscall(e: SyscallEvent): void { this.syscalls.push({ ...e, args: e.args.slice() }); }
  onConsole(b: Uint8Array): void { for (const x of b) this.console.push(x); }
}

/** Fan events out to several observers. */
function tee(...obs: MachineObserver[]): MachineObserver {
  return {
    onExit: (e) => obs.forEach((o) => o.onExit?.(e)),
    onIo: (e) => obs.forEach((o) => o.onIo?.(e)),
    onInterrupt: (e) => obs.forEach((o) => o.onInterrupt?.(e)),
    onGroundTruth: (e) => obs.forEach((o) => o.onGroundTruth?.(e)),
    onSyscall: (e) => obs.forEach((o) => o.onSyscall?.(e)),
    onConsole: (b) => obs.forEach((o) => o.onConsole?.(b)),
  };
}

const word64 = (w: Uint32Array, at: number): bigint => (BigInt(w[at + 1]!) << 32n) | BigInt(w[at]!);

type Cell = bigint | number | string | null;
/** Expected rows, column by column in schema order, derived from the events (the format's definition). */
function expectedRows(c: Collector): Record<TableName, Cell[][]> {
  const exits = c.exits.map((e): Cell[] => {
    const reason = e.reason & 0xffff;
    const w = e.words;
    return [
      BigInt(e.seq), BigInt(e.icount), BigInt(e.tsc), BigInt(e.cycles), e.cost, e.vcpu, reason,
      reason <= MAX_EXIT_REASON ? EXIT_REASON_KEYS[reason]! : null,
      word64(w, ExitWord.qualification), e.instructionLength, e.interruptionInfo, e.interruptionErrorCode,
      e.hasGuestLinear ? word64(w, ExitWord.guestLinear) : null,
      e.hasGuestPhysical ? word64(w, ExitWord.guestPhysical) : null,
      word64(w, ExitWord.rip), word64(w, ExitWord.rsp), word64(w, ExitWord.rflags),
      word64(w, ExitWord.cr0), word64(w, ExitWord.cr3), word64(w, ExitWord.cr4), e.cs, e.ss, e.cpl,
      ...(['rax', 'rcx', 'rdx', 'rbx', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'] as const)
        .map((r) => word64(w, ExitWord[r])),
    ];
  });
  const hex = (b: Uint8Array | null): string | null => (b ? Buffer.from(b).toString('hex') : null);
  const io = c.io.map((e): Cell[] => [BigInt(e.icount), BigInt(e.icount * CPI), BigInt(e.exitSeq), e.port, e.size,
    e.direction, e.value, hex(e.data), e.device]);
  const interrupts = c.interrupts.map((e): Cell[] => [BigInt(e.icount), BigInt(e.icount * CPI), e.vector, e.type,
    INTERRUPT_TYPE_NAMES[e.type]!, e.errorCode < 0 ? null : e.errorCode]);
  const gt = c.gt.map((e): Cell[] => [BigInt(e.icount), BigInt(e.icount * CPI), e.type,
    e.type < GROUND_TRUTH_TYPE_NAMES.length ? GROUND_TRUTH_TYPE_NAMES[e.type]! : null, e.pid, e.tid, e.ppid,
    BigInt(e.cr3), BigInt(e.a0), BigInt(e.a1), BigInt(e.a2), e.name]);
  const pair = (lo: number, hi: number): bigint => (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
  const syscalls = c.syscalls.map((e): Cell[] => [BigInt(e.icount), BigInt(e.icount * CPI), BigInt(e.exitSeq), e.exits,
    e.strategy, e.number, ...[0, 1, 2, 3, 4, 5].map((i) => pair(e.args[2 * i]!, e.args[2 * i + 1]!)), BigInt(e.cr3),
    pair(e.rspLo, e.rspHi), pair(e.ripLo, e.ripHi)]);
  return { exits, io, interrupts, ground_truth: gt, syscalls };
}

/** Every row of a table through TraceReader.scan, as Cells (binary as hex). */
async function readRows(r: TraceReader, table: TableName): Promise<Cell[][]> {
  const cols = TABLES[table].columns;
  const rows: Cell[][] = [];
  let next = 0;
  for await (const b of r.scan(table, cols.map((c) => c.name))) {
    expect(b.start).toBe(next);
    next += b.length;
    for (let i = 0; i < b.length; i++) {
      rows.push(cols.map((c): Cell => {
        const v = b.columns[c.name]!;
        if (v.isNull(i)) return null;
        switch (c.type) {
          case 'int64': case 'uint64': return v.bigint(i);
          case 'dict': case 'utf8': return v.string(i);
          case 'binary': return Buffer.from(v.bytes(i)!).toString('hex');
          default: return v.number(i);
        }
      }));
    }
  }
  return rows;
}

function record(dir: string, s: SyntheticOptions, opts: Partial<TraceWriterOptions> = {}): { c: Collector; w: TraceWriter; icount: number } {
  const c = new Collector();
  const w = new TraceWriter(dir, options(opts));
  w.addImage('kernel.elf', new TextEncoder().encode('not really a kernel'));
  const icount = emitSynthetic(tee(c, w), s);
  return { c, w, icount };
}

const STREAM: SyntheticOptions = { seed: 42, exits: 5500, startIcount: 2 ** 32 - 2_000_000, oddReasonEvery: 101 };

describe('trace directory round trip', () => {
  let dir: string;
  let c: Collector;
  beforeAll(() => {
    dir = join(root, 'a');
    const rec = record(dir, STREAM);
    c = rec.c;
    rec.w.writeFile('inputs.msgpack', new Uint8Array([1, 2, 3]));
    rec.w.writeFile('checkpoints/0001.msgpack', 'x');
    rec.w.close(true, { reason: 'guest-exit', icount: rec.icount, cycles: 123 });
  });

  it('the stream exercises every table, nulls, string I/O and 64-bit values past 2^32', () => {
    expect(c.exits.length).toBe(5500);
    expect(c.io.length).toBeGreaterThan(1000);
    expect(c.io.some((e) => e.data !== null)).toBe(true);
    expect(c.interrupts.length).toBeGreaterThan(300);
    expect(c.gt.length).toBeGreaterThan(100);
    expect(c.syscalls.length).toBeGreaterThan(100);
    expect(c.exits.some((e) => (e.reason & 0xffff) > MAX_EXIT_REASON)).toBe(true);
    expect(c.exits.at(-1)!.icount).toBeGreaterThan(2 ** 32);
  });

  it('our reader returns every value of every table', async () => {
    const r = TraceReader.open(dir);
    expect(r.state).toBe('complete');
    const want = expectedRows(c);
    for (const t of TABLE_NAMES) {
      const got = await readRows(r, t);
      expect(got.length, t).toBe(want[t].length);
      for (let i = 0; i < got.length; i++) {
        if (JSON.stringify(got[i], (_k, v) => (typeof v === 'bigint' ? `${v}n` : v))
          !== JSON.stringify(want[t][i], (_k, v) => (typeof v === 'bigint' ? `${v}n` : v))) {
          expect(got[i], `${t} row ${i}`).toEqual(want[t][i]);
        }
      }
    }
    expect(r.console()).toBe(Buffer.from(c.console).toString('utf8'));
    expect(new TextDecoder().decode(r.readImage('kernel.elf'))).toBe('not really a kernel');
    expect(readFileSync(r.filePath('checkpoints/0001.msgpack'), 'utf8')).toBe('x');
    r.verify();
  });

  it('the exit cursor gives back the very ExitEvents that were published', () => {
    const cursor = TraceReader.open(dir).exitCursor();
    const e = newExitEvent();
    let n = 0;
    while (cursor.nextEvent(e)) {
      const want = c.exits[n]!;
      if (JSON.stringify({ ...e, words: [...e.words] }) !== JSON.stringify({ ...want, reason: want.reason & 0xffff, words: [...want.words] })) {
        expect({ ...e, words: [...e.words] }, `exit ${n}`).toEqual({ ...want, reason: want.reason & 0xffff, words: [...want.words] });
      }
      n++;
    }
    expect(n).toBe(c.exits.length);
    expect(cursor.position).toBe(n);
    expect(cursor.nextEvent(e)).toBe(false);
  });

  it('the manifest holds the run description, totals and per-reason counts', () => {
    const m = TraceReader.open(dir).manifest;
    expect(m.complete).toBe(true);
    expect(m.stop).toEqual({ reason: 'guest-exit', detail: '', status: 0, icount: c.exits.at(-1)!.icount, last_exit_seq: 5499 });
    expect(m.workload).toEqual({ name: 'synthetic', description: 'seeded synthetic event stream', params: { a: 'x', b: '2' } });
    expect(m.cost_model).toEqual({ name: 'skylake', figures: { ioHandler: 3000, roundTrip: 1200 } });
    expect(m.exit_preset.name).toBe('kvm-default');
    expect(m.machine.cycles_per_instruction).toBe(CPI);
    expect(m.totals).toMatchObject({ exits: 5500, io: c.io.length, interrupts: c.interrupts.length,
      ground_truth: c.gt.length, console_bytes: c.console.length, cycles: 123 });
    const counts = new Map<number, number>();
    for (const e of c.exits) counts.set(e.reason & 0xffff, (counts.get(e.reason & 0xffff) ?? 0) + 1);
    expect(m.exits_by_reason).toEqual([...counts].sort((a, b) => a[0] - b[0]).map(([reason, count]) => ({ reason, name: exitReasonKey(reason), count })));
    expect(m.tables.exits).toMatchObject({ rows: 5500, batches: 6 });
    expect(m.images).toHaveLength(1);
    expect(m.files.map((f) => f.path)).toEqual(['checkpoints/0001.msgpack', 'console.txt', 'exits.arrow', 'ground_truth.arrow',
      `images/${m.images[0]!.sha256}`, 'inputs.msgpack', 'interrupts.arrow', 'io.arrow', 'syscalls.arrow']);
    expect(existsSync(join(dir, 'incomplete'))).toBe(false);
    // Nothing host-dependent: no absolute path of the recording machine anywhere in the manifest.
    expect(readFileSync(join(dir, 'manifest.json'), 'utf8')).not.toContain(root);
  });

  it('nodejs-polars reads every table with the right row counts, types and values', () => {
    const read = (t: TableName) => pl.readIPC(readFileSync(join(dir, TABLES[t].file)));
    const exits = read('exits');
    expect(exits.height).toBe(c.exits.length);
    expect(exits.columns).toEqual(TABLES.exits.columns.map((col) => col.name));
    expect(exits.getColumn('seq').toArray()).toEqual(c.exits.map((e) => e.seq));
    expect(exits.getColumn('icount').toArray()).toEqual(c.exits.map((e) => e.icount));
    expect(exits.getColumn('cost').toArray()).toEqual(c.exits.map((e) => e.cost));
    expect(exits.getColumn('exit_reason_name').toArray()).toEqual(c.exits.map((e) => ((e.reason & 0xffff) <= MAX_EXIT_REASON ? EXIT_REASON_KEYS[e.reason & 0xffff] : null)));
    expect(exits.getColumn('rip').toArray()).toEqual(c.exits.map((e) => word64(e.words, ExitWord.rip)));
    expect(exits.getColumn('r15').toArray()).toEqual(c.exits.map((e) => word64(e.words, ExitWord.r15)));
    expect(exits.getColumn('guest_physical').toArray()).toEqual(c.exits.map((e) => (e.hasGuestPhysical ? word64(e.words, ExitWord.guestPhysical) : null)));
    expect(exits.getColumn('guest_linear').nullCount()).toBe(c.exits.filter((e) => !e.hasGuestLinear).length);

    const io = read('io');
    expect(io.height).toBe(c.io.length);
    expect(io.getColumn('exit_seq').toArray()).toEqual(c.io.map((e) => e.exitSeq));
    expect(io.getColumn('ts').toArray()).toEqual(c.io.map((e) => e.icount * CPI));
    expect(io.getColumn('device').toArray()).toEqual(c.io.map((e) => e.device));
    expect(io.getColumn('data').nullCount()).toBe(c.io.filter((e) => e.data === null).length);

    const intr = read('interrupts');
    expect(intr.height).toBe(c.interrupts.length);
    expect(intr.getColumn('error_code').toArray()).toEqual(c.interrupts.map((e) => (e.errorCode < 0 ? null : e.errorCode)));
    expect(intr.getColumn('type_name').toArray()).toEqual(c.interrupts.map((e) => INTERRUPT_TYPE_NAMES[e.type]));

    const gt = read('ground_truth');
    expect(gt.height).toBe(c.gt.length);
    expect(gt.getColumn('name').toArray()).toEqual(c.gt.map((e) => e.name));
    expect(gt.getColumn('a2').toArray()).toEqual(c.gt.map((e) => BigInt(e.a2)));
    expect(gt.getColumn('pid').toArray()).toEqual(c.gt.map((e) => e.pid));

    const sc = read('syscalls');
    expect(sc.height).toBe(c.syscalls.length);
    expect(sc.getColumn('number').toArray()).toEqual(c.syscalls.map((e) => e.number));
    expect(sc.getColumn('strategy').toArray()).toEqual(c.syscalls.map((e) => e.strategy));
    expect(sc.getColumn('exit_seq').toArray()).toEqual(c.syscalls.map((e) => e.exitSeq));
    expect(sc.getColumn('rsp').toArray()).toEqual(c.syscalls.map((e) => (BigInt(e.rspHi) << 32n) | BigInt(e.rspLo)));
  });

  it('every device of the stream is in the dictionary, declared ones first', async () => {
    const r = TraceReader.open(dir);
    for await (const b of r.scan('io', ['device'])) {
      expect(b.columns.device.dictionary!.slice(0, 3)).toEqual(['pic', 'pit', 'none']);
      expect([...b.columns.device.dictionary!].sort()).toEqual([...SYNTHETIC_DEVICES].sort());
      break;
    }
  });
});

describe('determinism', () => {
  it('two recordings of the same stream are byte-identical, file by file', () => {
    const a = join(root, 'same1');
    const b = join(root, 'same2');
    for (const d of [a, b]) {
      const { w, icount } = record(d, STREAM);
      w.close(true, { reason: 'guest-exit', icount });
    }
    const files = (d: string): string[] => readdirSync(d, { recursive: true }).map(String).filter((f) => statSync(join(d, f)).isFile()).sort();
    expect(files(a)).toEqual(files(b));
    expect(files(a)).toContain('manifest.json');
    for (const f of files(a)) expect(readFileSync(join(a, f)).equals(readFileSync(join(b, f))), f).toBe(true);
    // A different seed changes the data (the comparison above can fail).
    const other = join(root, 'other');
    const { w } = record(other, { ...STREAM, seed: 43 });
    w.close(true, 'guest-exit');
    expect(readFileSync(join(other, 'exits.arrow')).equals(readFileSync(join(a, 'exits.arrow')))).toBe(false);
  });
});

describe('interrupted recordings', () => {
  it('close(false) mid-stream leaves valid files and a manifest saying where and why it stopped', async () => {
    const dir = join(root, 'interrupted');
    const { c, w } = record(dir, { ...STREAM, exits: 2345 });
    const m = w.close(false, { reason: 'interrupted', detail: 'received SIGINT' });
    expect(m.complete).toBe(false);
    expect(m.stop).toMatchObject({ reason: 'interrupted', detail: 'received SIGINT', icount: c.exits.at(-1)!.icount, last_exit_seq: 2344 });
    const r = TraceReader.open(dir);
    expect(r.state).toBe('stopped');
    expect((await readRows(r, 'exits')).length).toBe(2345);
    expect(pl.readIPC(readFileSync(join(dir, 'exits.arrow'))).height).toBe(2345);
    expect(pl.readIPC(readFileSync(join(dir, 'io.arrow'))).height).toBe(c.io.length);
    // Events after close are ignored, not written into closed files.
    emitSynthetic(w, { seed: 1, exits: 10 });
    expect(TraceReader.open(dir).manifest.totals.exits).toBe(2345);
  });

  it('a recorder killed without closing leaves an `incomplete` trace whose flushed batches are readable', async () => {
    const dir = join(root, 'killed');
    const { c, w } = record(dir, { ...STREAM, exits: 3500 });
    // The writer thread has written the batches handed to it (a process dying before that loses them: the
    // marker lists what is on disk, never more).
    w.settle();
    // No close(): as if the process died. Three full 1000-row batches of exits.arrow are on disk.
    expect(existsSync(join(dir, 'manifest.json'))).toBe(false);
    const r = TraceReader.open(dir);
    expect(r.state).toBe('recording');
    expect(r.manifest.complete).toBe(false);
    expect(r.rowCount('exits')).toBe(3000);
    // The marker's per-reason counts describe the same 3000 rows, not the 500 still in memory.
    expect(r.manifest.exits_by_reason.reduce((n, e) => n + e.count, 0)).toBe(3000);
    const rows = await readRows(r, 'exits');
    expect(rows).toEqual(expectedRows(c).exits.slice(0, 3000));
    const ioRows = await readRows(r, 'io');
    expect(ioRows.length).toBe(r.rowCount('io'));
    expect(ioRows).toEqual(expectedRows(c).io.slice(0, ioRows.length));
    // A table with nothing flushed yet has no batches.
    expect((await readRows(r, 'ground_truth')).length).toBe(r.rowCount('ground_truth'));
    // A batch half-written when the process died: bytes past what the marker lists are ignored.
    appendFileSync(join(dir, 'exits.arrow'), new Uint8Array(777).fill(0xab));
    expect((await readRows(TraceReader.open(dir), 'exits')).length).toBe(3000);

  });

  it('closeOnSignal closes the writer as incomplete on SIGINT, and can be removed', () => {
    const dir = join(root, 'signal');
    const { w } = record(dir, { ...STREAM, exits: 1500 });
    const before = process.listenerCount('SIGINT');
    const beforeTerm = process.listenerCount('SIGTERM');
    const seen: string[] = [];
    const remove = closeOnSignal(w, { after: (s) => seen.push(s) });
    expect(process.listenerCount('SIGINT')).toBe(before + 1);
    expect(process.listenerCount('SIGTERM')).toBe(beforeTerm + 1);
    process.emit('SIGINT');
    expect(seen).toEqual(['SIGINT']);
    const m = TraceReader.open(dir).manifest;
    expect(m).toMatchObject({ complete: false, stop: { reason: 'interrupted', detail: 'received SIGINT' } });
    expect(m.totals.exits).toBe(1500);
    remove();
    expect(process.listenerCount('SIGINT')).toBe(before);
    expect(process.listenerCount('SIGTERM')).toBe(beforeTerm);
  });

  it('closeOnSignal with onSignal leaves stopping to the run loop', () => {
    const dir = join(root, 'signal2');
    const { w } = record(dir, { ...STREAM, exits: 10 });
    let asked = '';
    const remove = closeOnSignal(w, { onSignal: (s) => { asked = s; } });
    process.emit('SIGTERM');
    remove();
    expect(asked).toBe('SIGTERM');
    expect(w.closed).toBe(false);
    w.close(false, { reason: 'interrupted', detail: 'SIGTERM' });
  });
});

describe('bad traces give clear TraceErrors', () => {
  let good: string;
  beforeAll(() => {
    good = join(root, 'good');
    const { w, icount } = record(good, { ...STREAM, exits: 3000 });
    w.close(true, { reason: 'guest-exit', icount });
  });
  const copy = (name: string): string => {
    const d = join(root, name);
    rmSync(d, { recursive: true, force: true });
    cpSync(good, d, { recursive: true });
    return d;
  };
  const drain = async (r: TraceReader, t: TableName): Promise<number> => {
    let n = 0;
    for await (const b of r.batches(t)) n += b.numRows;
    return n;
  };

  it('missing directory, not a trace', () => {
    expect(() => TraceReader.open(join(root, 'nope'))).toThrow(/no trace directory/);
    const empty = join(root, 'empty');
    mkdirSync(empty);
    expect(() => TraceReader.open(empty)).toThrow(TraceError);
    expect(() => TraceReader.open(empty)).toThrow(/not a vmtrace trace/);
  });

  it('corrupt manifest, unknown format version', () => {
    const d = copy('badmanifest');
    writeFileSync(join(d, 'manifest.json'), '{"format": "vmtrace", "format_ver');
    expect(() => TraceReader.open(d)).toThrow(/manifest\.json is corrupt: not valid JSON/);
    const m = JSON.parse(readFileSync(join(good, 'manifest.json'), 'utf8'));
    writeFileSync(join(d, 'manifest.json'), JSON.stringify({ ...m, format_version: 99 }));
    expect(() => TraceReader.open(d)).toThrow(/format version 99 is not supported/);
    writeFileSync(join(d, 'manifest.json'), JSON.stringify({ ...m, tables: undefined }));
    expect(() => TraceReader.open(d)).toThrow(/field "tables" is missing/);
  });

  it('an Arrow file cut before its footer', async () => {
    const d = copy('truncated');
    const p = join(d, 'exits.arrow');
    truncateSync(p, statSync(p).size - 100);
    expect(() => TraceReader.open(d)).toThrow(/exits\.arrow is \d+ bytes but the manifest records \d+: the file is truncated/);
    // Even with a manifest that agrees with the cut file, the missing footer is caught.
    const m = JSON.parse(readFileSync(join(d, 'manifest.json'), 'utf8'));
    const entry = m.files.find((f: { path: string }) => f.path === 'exits.arrow');
    entry.bytes = statSync(p).size;
    delete entry.blocks; // (their count follows the size: whole-file XXH64 only, as in older traces)
    writeFileSync(join(d, 'manifest.json'), JSON.stringify(m));
    expect(() => TraceReader.open(d)).toThrow(/exits\.arrow does not match its XXH64 checksum in the manifest: the file is damaged/);
    // Unverified, the reader's structural checks still catch it.
    const r = TraceReader.open(d, { verify: false });
    await expect(drain(r, 'exits')).rejects.toThrow(/exits\.arrow is truncated or corrupt: no Arrow footer/);
    expect(await drain(r, 'io')).toBe(r.rowCount('io'));
  });

  it('damaged bytes inside an Arrow file', async () => {
    const d = copy('corrupt');
    const p = join(d, 'interrupts.arrow');
    const bytes = readFileSync(p);
    // Overwrite the footer's flatbuffer (just before the length + magic): the file cannot be decoded.
    bytes.fill(0xff, bytes.length - 40, bytes.length - 10);
    writeFileSync(p, bytes);
    expect(() => TraceReader.open(d)).toThrow(/interrupts\.arrow does not match its XXH64 checksum/);
    const r = TraceReader.open(d, { verify: false });
    await expect(drain(r, 'interrupts')).rejects.toThrow(TraceError);
    expect(() => r.verify()).toThrow(/interrupts\.arrow does not match its XXH64 checksum/);
    // A damaged value in a record batch body is only found by verify().
    const d2 = copy('corrupt2');
    const p2 = join(d2, 'exits.arrow');
    const b2 = readFileSync(p2);
    b2[5000] = b2[5000]! ^ 1;
    writeFileSync(p2, b2);
    expect(() => TraceReader.open(d2)).toThrow(/exits\.arrow does not match/);
    expect(() => TraceReader.open(d2, { verify: false }).verify()).toThrow(/exits\.arrow does not match/);
  });

  it('a damaged message header in the middle of a file', async () => {
    const d = copy('badmessage');
    const p = join(d, 'exits.arrow');
    const bytes = readFileSync(p);
    // The first message after the 8-byte magic is the dictionary batch; damage its continuation marker.
    expect(bytes.readInt32LE(8)).toBe(-1);
    bytes.writeInt32LE(0x12345678, 8);
    writeFileSync(p, bytes);
    expect(() => TraceReader.open(d)).toThrow(/exits\.arrow does not match its XXH64 checksum/);
    expect(() => TraceReader.open(d, { verify: false }).openTable('exits')).toThrow(/exits\.arrow is corrupt: no message continuation marker at byte 8/);
  });

  it('a table that is not what the format says', async () => {
    const d = copy('swapped');
    writeFileSync(join(d, 'io.arrow'), readFileSync(join(good, 'interrupts.arrow')));
    const m = JSON.parse(readFileSync(join(d, 'manifest.json'), 'utf8'));
    const entry = m.files.find((f: { path: string }) => f.path === 'io.arrow');
    entry.bytes = statSync(join(d, 'io.arrow')).size;
    // The block checksums must cover the file's bytes: with the old blocks the manifest itself is refused.
    writeFileSync(join(d, 'manifest.json'), JSON.stringify(m));
    expect(() => TraceReader.open(d)).toThrow(/manifest\.json is corrupt: the block checksums of io\.arrow are malformed/);
    delete entry.blocks;
    writeFileSync(join(d, 'manifest.json'), JSON.stringify(m));
    expect(() => TraceReader.open(d)).toThrow(/io\.arrow does not match its XXH64 checksum/);
    await expect(drain(TraceReader.open(d, { verify: false }), 'io')).rejects.toThrow(/io\.arrow: 6 columns, the format has 9/);
  });

  it('the writer refuses to overwrite what is not a trace, and replaces a trace only when asked', () => {
    const d = join(root, 'occupied');
    mkdirSync(d);
    writeFileSync(join(d, 'notes.txt'), 'mine');
    expect(() => new TraceWriter(d, options())).toThrow(/not empty and does not hold a trace/);
    expect(() => new TraceWriter(d, options({ overwrite: true }))).toThrow(/not empty and does not hold a trace/);
    const t = copy('replace');
    expect(() => new TraceWriter(t, options())).toThrow(/already holds a trace/);
    const w = new TraceWriter(t, options({ overwrite: true }));
    w.close(true, 'guest-exit');
    expect(TraceReader.open(t).manifest.totals.exits).toBe(0);
    expect(() => w.filePath('../escape')).toThrow(TraceError);
    // A directory that cannot be created (its parent is a file).
    expect(() => new TraceWriter(join(d, 'notes.txt', 'trace'), options())).toThrow(/cannot create trace directory/);
  });

  it('extra file names cannot escape the trace or shadow its own files', () => {
    const w = new TraceWriter(join(root, 'names'), options());
    expect(() => w.filePath('/etc/passwd')).toThrow(/relative path/);
    expect(() => w.filePath('../x')).toThrow(/relative path/);
    expect(() => w.filePath('manifest.json')).toThrow(/reserved/);
    expect(() => w.filePath('exits.arrow')).toThrow(/reserved/);
    expect(() => w.filePath('images/abc')).toThrow(/reserved/);
    expect(w.filePath('checkpoints/1.msgpack')).toBe(join(root, 'names', 'checkpoints', '1.msgpack'));
    w.close(true, 'guest-exit');
  });

  it('an empty recording is a valid trace polars can read', async () => {
    const d = join(root, 'emptytrace');
    const w = new TraceWriter(d, options());
    w.close(true, { reason: 'guest-exit', icount: 0 });
    const r = TraceReader.open(d);
    for (const t of TABLE_NAMES) {
      expect(await drain(r, t)).toBe(0);
      expect(pl.readIPC(readFileSync(join(d, TABLES[t].file))).height).toBe(0);
    }
  });
});
