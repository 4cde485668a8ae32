// `trace export --perfetto`: decoded with Perfetto's own published definitions (the vendored merged
// perfetto_trace.proto, parsed here independently of the writer), the stream has the track structure the
// docs promise, agrees with the trace's tables and the proctrack analysis, and equals the golden decoding
// of traces/golden/bigstacks (UPDATE_GOLDEN=1 npx vitest run test/export-perfetto.test.ts rewrites it).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { exportPerfetto, PerfettoIds } from '../src/export/perfetto.js';
import { runAnalysis } from '../src/cli/analyze.js';
import { TraceReader } from '../src/record/TraceReader.js';
import { syscallName } from '../src/hypervisor/interception/syscalls.js';

const GOLDEN = 'traces/golden/bigstacks';
const GOLDEN_OUT = 'test/golden/bigstacks.perfetto.jsonl';

interface Annotation { name: string; uint_value?: string; int_value?: string; string_value?: string }
interface Packet {
  timestamp?: string;
  trusted_packet_sequence_id?: number;
  track_descriptor?: { uuid: string; parent_uuid?: string; name?: string; process?: { pid: number; process_name: string };
    thread?: { pid: number; tid: string; thread_name: string }; counter?: Record<string, unknown> };
  track_event?: { type: string; track_uuid: string; name?: string; counter_value?: string; debug_annotations?: Annotation[] };
}

let root: string;
let packets: Packet[];

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'vmtrace-perfetto-'));
  await exportPerfetto(GOLDEN, join(root, 'a.pftrace'));
  const protos = protobuf.parse(readFileSync('vendor/perfetto/perfetto_trace.proto', 'utf8'), { keepCase: true }).root;
  const Trace = protos.lookupType('perfetto.protos.Trace');
  const decoded = Trace.toObject(Trace.decode(readFileSync(join(root, 'a.pftrace'))), { longs: String, enums: String }) as { packet: Packet[] };
  packets = decoded.packet;
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const arg = (e: NonNullable<Packet['track_event']>, name: string): Annotation | undefined => e.debug_annotations?.find((a) => a.name === name);

describe('trace export --perfetto: decoded with perfetto_trace.proto', () => {
  it('descriptors before events, one sequence, time-ordered, slices balanced per track', () => {
    const known = new Set<string>();
    let last = -1;
    const depth = new Map<string, number>();
    for (const p of packets) {
      expect(p.trusted_packet_sequence_id).toBe(1);
      if (p.track_descriptor) {
        expect(known.has(p.track_descriptor.uuid)).toBe(false);
        if (p.track_descriptor.parent_uuid) expect(known.has(p.track_descriptor.parent_uuid)).toBe(true);
        known.add(p.track_descriptor.uuid);
        continue;
      }
      const e = p.track_event!;
      expect(known.has(e.track_uuid), `event on undeclared track ${e.track_uuid}`).toBe(true);
      const ts = Number(p.timestamp);
      expect(ts).toBeGreaterThanOrEqual(last);
      last = ts;
      if (e.type === 'TYPE_SLICE_BEGIN') depth.set(e.track_uuid, (depth.get(e.track_uuid) ?? 0) + 1);
      if (e.type === 'TYPE_SLICE_END') {
        const d = (depth.get(e.track_uuid) ?? 0) - 1;
        expect(d).toBeGreaterThanOrEqual(0);
        depth.set(e.track_uuid, d);
      }
    }
    for (const [, d] of depth) expect(d).toBe(0);
  });

  it('every VM exit is a slice on the vCPU track, with reason, qualification and cost as in exits.arrow', () => {
    const reader = TraceReader.open(GOLDEN);
    const m = reader.manifest;
    const vcpu = String(PerfettoIds.vcpuBase);
    const begins = packets.filter((p) => p.track_event?.track_uuid === vcpu && p.track_event.type === 'TYPE_SLICE_BEGIN');
    expect(begins.length).toBe(m.totals.exits);
    const byName = new Map<string, number>();
    for (const b of begins) byName.set(b.track_event!.name!, (byName.get(b.track_event!.name!) ?? 0) + 1);
    expect(byName).toEqual(new Map(m.exits_by_reason.map((r) => [r.name, r.count])));
    const tscHz = m.machine.tsc_hz as number;
    let k = 0;
    for (const b of reader.scan('exits', ['icount', 'cost', 'exit_reason', 'qualification'])) {
      for (let i = 0; i < b.length; i++, k++) {
        const e = begins[k]!.track_event!;
        expect(Number(begins[k]!.timestamp)).toBe(Math.round((b.columns.icount.number(i) * m.machine.cycles_per_instruction * 1e9) / tscHz));
        expect(arg(e, 'reason')!.uint_value).toBe(String(b.columns.exit_reason.number(i)));
        expect(arg(e, 'cost')!.uint_value).toBe(String(b.columns.cost.number(i)));
        expect(BigInt(arg(e, 'qualification')!.string_value!)).toBe(b.columns.qualification.bigint(i));
      }
    }
  });

  it('reconstructed processes and threads are the proctrack tables (declared death, exec-link); syscalls on their threads', async () => {
    const r = await runAnalysis(GOLDEN, 'proctrack', { death: 'declared', execLink: true });
    const procs = r.tables.find((t) => t.name === 'processes')!.rows;
    const threads = r.tables.find((t) => t.name === 'threads')!.rows;
    const sys = r.tables.find((t) => t.name === 'syscalls')!.rows;
    const descr = packets.map((p) => p.track_descriptor).filter((d) => d !== undefined);
    const reconProcs = descr.filter((d) => d.process && d.process.pid >= PerfettoIds.reconPidBase && d.process.pid < PerfettoIds.truePidBase);
    expect(reconProcs.map((d) => d.process!.pid - PerfettoIds.reconPidBase)).toEqual(procs.map((p) => p[0]));
    const reconThreads = descr.filter((d) => d.thread && Number(d.thread.tid) >= PerfettoIds.reconTidBase && Number(d.thread.tid) < PerfettoIds.trueTidBase);
    expect(reconThreads.map((d) => [Number(d.thread!.tid) - PerfettoIds.reconTidBase, d.thread!.pid - PerfettoIds.reconPidBase]))
      .toEqual(threads.map((t) => [t[0], t[1]]));
    // Each syscall of the analysis (icount order) is an instant on its utid's track, named by its number.
    const instants = packets.filter((p) => p.track_event?.type === 'TYPE_INSTANT' && arg(p.track_event, 'number') !== undefined
      && Number(p.track_event.track_uuid) >= PerfettoIds.reconThreadBase && Number(p.track_event.track_uuid) < PerfettoIds.trueProcBase);
    expect(instants.map((p) => [Number(p.track_event!.track_uuid) - PerfettoIds.reconThreadBase, p.track_event!.name]))
      .toEqual(sys.map((s) => [s[4], syscallName(s[1] as number)]));
  });

  it('ground truth on its own tracks: a process per instance, running slices per context switch, counters', () => {
    const reader = TraceReader.open(GOLDEN);
    let creates = 0, switches = 0, alive = 0;
    for (const b of reader.scan('ground_truth', ['type', 'a0'])) {
      for (let i = 0; i < b.length; i++) {
        const t = b.columns.type.number(i);
        if (t === 1) creates++;
        if (t === 5) switches++;
        if (t === 1 && (b.columns.a0.lo(i) & 1) === 0) alive++; // user process created
        if (t === 2) alive--; // (kernel threads do not exit in this workload)
      }
    }
    const descr = packets.map((p) => p.track_descriptor).filter((d) => d !== undefined);
    expect(descr.filter((d) => d.process && d.process.pid >= PerfettoIds.truePidBase).length).toBe(creates);
    const running = packets.filter((p) => p.track_event?.name === 'running');
    expect(running.length).toBeGreaterThan(0);
    expect(running.length).toBeLessThanOrEqual(switches);
    const trueProcs = packets.filter((p) => p.track_event?.track_uuid === String(PerfettoIds.trueLiveProcs));
    for (const c of trueProcs) expect(Number(c.track_event!.counter_value ?? 0)).toBeGreaterThanOrEqual(0);
    expect(Number(trueProcs.at(-1)!.track_event!.counter_value ?? 0)).toBe(alive);
  });

  it('equals the golden decoding, and the same bytes twice', async () => {
    const text = `${packets.map((p) => JSON.stringify(p)).join('\n')}\n`;
    if (process.env.UPDATE_GOLDEN) writeFileSync(GOLDEN_OUT, text);
    expect(existsSync(GOLDEN_OUT), `${GOLDEN_OUT} missing (UPDATE_GOLDEN=1 writes it)`).toBe(true);
    expect(text).toBe(readFileSync(GOLDEN_OUT, 'utf8'));
    await exportPerfetto(GOLDEN, join(root, 'b.pftrace'));
    expect(readFileSync(join(root, 'b.pftrace')).equals(readFileSync(join(root, 'a.pftrace')))).toBe(true);
  });
});
