// Perfetto's trace format, encoded with protobufjs against Perfetto's own published definitions
// (vendor/perfetto/perfetto_trace.proto: the merged trace protos of google/perfetto, Apache-2.0, with its
// LICENSE beside it). A trace file is a `perfetto.protos.Trace`: `repeated TracePacket packet = 1`, so
// packets are written one after the other as field-1 length-delimited records, and memory holds one
// chunk of packets, never the whole trace.

import { closeSync, existsSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

/** The vendored merged proto, found from this module (src/export or dist/src/export) up to the package root. */
export function perfettoProtoPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const p = join(dir, 'vendor', 'perfetto', 'perfetto_trace.proto');
    if (existsSync(p)) return p;
    dir = dirname(dir);
  }
  throw new Error('vendor/perfetto/perfetto_trace.proto not found beside the package');
}

let root: protobuf.Root | null = null;

/**
 * Perfetto's trace protos (parsed once per process: ~0.7 MB of .proto text), field names kept as the .proto
 * spells them (track_event, debug_annotations), not camelCased.
 */
export function perfettoProtos(): protobuf.Root {
  root ??= protobuf.parse(readFileSync(perfettoProtoPath(), 'utf8'), { keepCase: true }).root;
  return root;
}

/** TrackEvent.Type (perfetto_trace.proto). */
export const TrackEventType = { sliceBegin: 1, sliceEnd: 2, instant: 3, counter: 4 } as const;
/** TracePacket.SequenceFlags: SEQ_INCREMENTAL_STATE_CLEARED. */
const SEQ_INCREMENTAL_STATE_CLEARED = 1;
/** All packets come from one writer: one trusted sequence. */
export const SEQUENCE_ID = 1;

/** A debug annotation (an argument of an event, shown in Perfetto UI's details and in the args table). */
export type Arg = { name: string; uint_value: number } | { name: string; int_value: number } | { name: string; string_value: string }
  | { name: string; double_value: number };

const FLUSH_BYTES = 1 << 20;

/** Writes TracePackets to a file as a Trace. */
export class PerfettoWriter {
  private readonly packetType: protobuf.Type;
  private writer = protobuf.Writer.create();
  private fd: number;
  private first = true;
  packets = 0;
  bytes = 0;

  constructor(path: string) {
    this.packetType = perfettoProtos().lookupType('perfetto.protos.TracePacket');
    this.fd = openSync(path, 'w');
  }

  /** Append one TracePacket (an object in protobufjs's field naming, as perfetto_trace.proto spells them). */
  packet(p: Record<string, unknown>): void {
    p.trusted_packet_sequence_id = SEQUENCE_ID;
    if (this.first) {
      p.sequence_flags = SEQ_INCREMENTAL_STATE_CLEARED;
      this.first = false;
    }
    // Field 1 of Trace, wire type 2 (length-delimited): tag byte 0x0a.
    this.packetType.encode(p, this.writer.uint32(10).fork()).ldelim();
    this.packets++;
    if (this.writer.len >= FLUSH_BYTES) this.flush();
  }

  trackDescriptor(d: Record<string, unknown>): void {
    this.packet({ track_descriptor: d });
  }

  event(ts: number, trackUuid: number, type: number, name: string | undefined, args?: Arg[]): void {
    const ev: Record<string, unknown> = { type, track_uuid: trackUuid };
    if (name !== undefined) ev.name = name;
    if (args !== undefined) ev.debug_annotations = args;
    this.packet({ timestamp: ts, track_event: ev });
  }

  counter(ts: number, trackUuid: number, value: number): void {
    this.packet({ timestamp: ts, track_event: { type: TrackEventType.counter, track_uuid: trackUuid, counter_value: value } });
  }

  private flush(): void {
    const buf = this.writer.finish();
    writeSync(this.fd, buf);
    this.bytes += buf.length;
    this.writer = protobuf.Writer.create();
  }

  close(): void {
    if (this.fd < 0) return;
    this.flush();
    closeSync(this.fd);
    this.fd = -1;
  }
}
