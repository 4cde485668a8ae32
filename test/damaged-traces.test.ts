// A deterministic corpus of damaged copies of one small trace (issue 21): every file the manifest lists,
// truncated at several points, with a byte flipped at 16 positions spread over the whole file (so every part
// of an Arrow file: magic, schema, dictionaries, record batches, footer), emptied, deleted, replaced by a
// directory, swapped with another file of the trace, and (in each Arrow file) counts in the flatbuffer
// metadata made huge. With verification on (the default), every variant is a
// TraceError naming the damaged file. With --no-verify, `trace info`, the `exits` analysis and replay give the
// undamaged answer or a TraceError/UserError: never an internal error (any other exception).

import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { recordTrace } from '../src/replay/recordTrace.js';
import { replayTrace } from '../src/replay/replayTrace.js';
import { TraceReader } from '../src/record/TraceReader.js';
import { TABLES } from '../src/record/schema.js';
import { TraceError, UserError } from '../src/errors.js';
import { traceInfo } from '../src/cli/info.js';
import { runAnalysis } from '../src/cli/analyze.js';
import { formatResult } from '../src/analyses/output.js';

interface Variant {
  name: string;
  file: string;
  damage: (dir: string) => void;
}

function variants(good: string, files: readonly string[]): Variant[] {
  const out: Variant[] = [];
  for (const [k, f] of files.entries()) {
    const size = statSync(join(good, f)).size;
    for (const at of [0, 1, Math.floor(size / 2), size - 1]) {
      if (at >= size) continue;
      out.push({ name: `${f} cut to ${at} bytes`, file: f, damage: (d) => truncateSync(join(d, f), at) });
    }
    for (let i = 0; i < 16; i++) {
      const at = Math.min(size - 1, Math.floor((i * size) / 15));
      out.push({
        name: `${f} byte ${at} flipped`, file: f, damage: (d) => {
          const b = readFileSync(join(d, f));
          b[at] = b[at]! ^ (1 << (i % 8));
          writeFileSync(join(d, f), b);
        },
      });
    }
    out.push({ name: `${f} deleted`, file: f, damage: (d) => unlinkSync(join(d, f)) });
    out.push({ name: `${f} replaced by a directory`, file: f, damage: (d) => { unlinkSync(join(d, f)); mkdirSync(join(d, f)); } });
    if (f.endsWith('.arrow')) out.push(...countVariants(good, f));
    const other = files[(k + 1) % files.length]!;
    out.push({ name: `${f} replaced by ${other}`, file: f, damage: (d) => writeFileSync(join(d, f), readFileSync(join(good, other))) });
  }
  return out;
}

// Flatbuffer navigation (flatbuffers' binary format: a table starts with an int32 back to its vtable, whose
// uint16 entries after two header fields are the fields' offsets in the table; offset fields hold a uint32
// forward offset) to reach the counts in an Arrow file's metadata.
const fieldAt = (b: Buffer, table: number, id: number): number => {
  const vt = table - b.readInt32LE(table);
  const off = b.readUInt16LE(vt + 4 + 2 * id);
  if (off === 0) throw new Error(`field ${id} absent`);
  return table + off;
};
const deref = (b: Buffer, p: number): number => p + b.readUInt32LE(p);

/**
 * Counts in the flatbuffer metadata set to 2^31-1 (the decoder loops over them; a flipped bit in one made a
 * run take over 17 minutes): the footer schema's field count and custom metadata count, and the buffer
 * count of the first record batch message.
 */
function countVariants(good: string, f: string): Variant[] {
  const b = readFileSync(join(good, f));
  const footer = b.length - 10 - b.readInt32LE(b.length - 10);
  const schema = deref(b, fieldAt(b, deref(b, footer), 1));
  const fieldsCount = deref(b, fieldAt(b, schema, 1));
  const metadataCount = deref(b, fieldAt(b, schema, 2));
  // Messages follow the 8-byte magic: 0xFFFFFFFF, int32 metadata length, the Message flatbuffer.
  const message = deref(b, 16);
  let header = deref(b, fieldAt(b, message, 2));
  if (b[fieldAt(b, message, 1)] === 2) header = deref(b, fieldAt(b, header, 1)); // a DictionaryBatch's data
  const buffersCount = deref(b, fieldAt(b, header, 2));
  return ([['the footer schema\'s field count', fieldsCount], ['the footer schema\'s metadata count', metadataCount],
    ['the first batch\'s buffer count', buffersCount]] as const).map(([what, at]) => ({
    name: `${f}: ${what} (at byte ${at}) set to 2^31-1`, file: f, damage: (d: string) => {
      const c = readFileSync(join(d, f));
      c.writeUInt32LE(0x7fffffff, at);
      writeFileSync(join(d, f), c);
    },
  }));
}

const isClear = (e: unknown): boolean => e instanceof TraceError || e instanceof UserError;
/** A report with the trace's path (and the title's underline, as long as the path) taken out. */
const norm = (text: string, dir: string): string => text.replaceAll(dir, '<dir>').replace(/^=+$/gm, '');

/**
 * Damage one copy of the trace in place, run `f` on it, and put the damaged file back from the good trace
 * (copying the whole trace per variant cost ~80 ms of the ~100 ms a variant takes).
 */
async function withDamage<T>(good: string, work: string, v: Variant, f: () => T | Promise<T>): Promise<T> {
  v.damage(work);
  try {
    return await f();
  } finally {
    rmSync(join(work, v.file), { recursive: true, force: true });
    cpSync(join(good, v.file), join(work, v.file));
  }
}

describe('damaged traces', async () => {
  const root = mkdtempSync(join(tmpdir(), 'vmtrace-damaged-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const good = join(root, 'good');
  await recordTrace({ workload: 'syscall:n=40', exitPreset: 'kvm-default', costModel: 'modern' }, good, { checkpointEvery: 100_000 });
  const manifest = TraceReader.open(good).manifest;
  const files = manifest.files.map((f) => f.path).filter((p) => !p.startsWith('images/') || p === manifest.images[0]!.path);
  const all = variants(good, files);
  const info = norm(await traceInfo(good), good);
  const exits = norm(formatResult(await runAnalysis(good, 'exits')), good);

  it('covers every file of the trace, and every file has a checkpoint and an input log to damage', () => {
    expect(files).toEqual(expect.arrayContaining(['exits.arrow', 'io.arrow', 'interrupts.arrow', 'ground_truth.arrow', 'syscalls.arrow', 'console.txt', 'inputs.msgpack']));
    expect(files.some((f) => f.startsWith('checkpoints/'))).toBe(true);
    expect(all.length).toBeGreaterThan(200);
  });

  it('with verification on, every variant is a TraceError naming the damaged file', async () => {
    const missed: string[] = [];
    const d = join(root, 'verify');
    cpSync(good, d, { recursive: true });
    for (const v of all) {
      await withDamage(good, d, v, () => {
        try {
          TraceReader.open(d);
          missed.push(`${v.name}: opened without error`);
        } catch (e) {
          if (!(e instanceof TraceError) || !(e.message.includes(v.file))) missed.push(`${v.name}: ${String(e)}`);
        }
      });
    }
    expect(missed).toEqual([]);
  });

  it('with verification on, the exits analysis (checking the files it reads as it opens them) names damage to exits.arrow, and damage to files it does not read leaves its output alone', async () => {
    const wrong: string[] = [];
    const d = join(root, 'on-read');
    cpSync(good, d, { recursive: true });
    for (const v of all) {
      await withDamage(good, d, v, async () => {
        try {
          const got = norm(formatResult(await runAnalysis(d, 'exits')), d);
          if (v.file === 'exits.arrow') wrong.push(`${v.name}: no error`);
          else if (got !== exits) wrong.push(`${v.name}: output changed`);
        } catch (e) {
          // Sizes and missing files are checked on open for every file; checksums for the files read.
          if (!isClear(e) || !(e as Error).message.includes(v.file)) wrong.push(`${v.name}: ${String(e)}`);
        }
      });
    }
    expect(wrong).toEqual([]);
  });

  it('with --no-verify, info and the exits analysis give the undamaged output or a clear error, never an internal error', async () => {
    const internal: string[] = [];
    const d = join(root, 'no-verify');
    cpSync(good, d, { recursive: true });
    for (const v of all) {
      await withDamage(good, d, v, async () => {
        for (const [what, run, want] of [
          ['info', async () => norm(await traceInfo(d, { verify: false }), d), info],
          ['exits', async () => norm(formatResult(await runAnalysis(d, 'exits', { verify: false })), d), exits],
        ] as const) {
          try {
            const got = await run();
            // Damage the analysis does not read (a console byte, an image, the input log) leaves its answer alone.
            if (got !== want && what === 'exits' && /arrow/.test(v.file) && v.file !== 'exits.arrow') internal.push(`${v.name}: ${what} changed`);
          } catch (e) {
            if (!isClear(e)) internal.push(`${v.name}: ${what}: ${String(e)}`);
          }
        }
      });
    }
    expect(internal).toEqual([]);
  });

  it('with --no-verify, replay of damaged recorded exits or input log is clean, a divergence or a clear error naming the file, never an internal error', async () => {
    const internal: string[] = [];
    const named: string[] = [];
    const d = join(root, 'no-verify-replay');
    cpSync(good, d, { recursive: true });
    for (const v of all.filter((x) => x.file === 'exits.arrow' || x.file === 'inputs.msgpack')) {
      await withDamage(good, d, v, async () => {
        try {
          await replayTrace(d, { verify: false });
        } catch (e) {
          if (!isClear(e)) internal.push(`${v.name}: ${String(e)}`);
          else if ((e as Error).message.includes(v.file)) named.push((e as Error).message);
        }
      });
    }
    expect(internal).toEqual([]);
    // The exit reader's thread reports damage it finds in a batch's buffers as the replay's TraceError.
    expect(named.filter((m) => /^exits\.arrow is corrupt: record batch \d+: column \w+ does not decompress/.test(m)).length).toBeGreaterThan(0);
  });
});

// Per-block checksums (issue 21): an analysis that reads a few columns of a table checks the 16 KiB blocks
// it reads, not the whole file. A trace whose exits.arrow spans many blocks and several record batches,
// compressed and not, gets one byte flipped in each of 48 blocks spread over the file (every block when fewer): the verified `exits` analysis must name
// exits.arrow or give exactly the undamaged output (the damage lay in bytes it does not read, such as other
// columns' buffers), never a different answer; the same damage read with --no-verify shows which variants do
// change the answer when nothing checks them. Some variants must be caught (the analysis's own columns,
// metadata and footer are checked) and `trace info`, which checks whole files, must catch every one.
/** A byte in the middle of each record batch's values buffer of each of `columns` of exits.arrow. */
function columnBytes(dir: string, columns: readonly string[]): number[] {
  const file = TraceReader.open(dir).openTable('exits');
  try {
    const out: number[] = [];
    for (let i = 0; i < file.numBatches; i++) {
      const { header, bodyStart } = file.batchLayout(i);
      for (const c of columns) {
        const k = TABLES.exits.columns.findIndex((x) => x.name === c);
        expect(TABLES.exits.columns.slice(0, k).every((x) => x.type !== 'binary' && x.type !== 'utf8')).toBe(true);
        const buf = header.buffers[2 * k + 1]!; // validity, values per fixed-width column
        out.push(bodyStart + Number(buf.offset) + Math.floor(Number(buf.length) / 2));
      }
    }
    return out;
  } finally {
    file.close();
  }
}

describe('damaged traces, checked block by block', async () => {
  const root = mkdtempSync(join(tmpdir(), 'vmtrace-damaged-blocks-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  for (const compression of ['lz4', 'none'] as const) {
    it(`${compression}: every byte the exits analysis reads is checked, and damage it does not read leaves its output alone`, async () => {
      const good = join(root, `good-${compression}`);
      await recordTrace({ workload: 'syscall:n=12000', exitPreset: 'kvm-default', costModel: 'modern' }, good, { compression, batchRows: 4096 });
      const m = TraceReader.open(good).manifest;
      const ref = m.files.find((f) => f.path === 'exits.arrow')!;
      expect(ref.blocks).toBeDefined();
      const blockBytes = ref.blocks!.bytes;
      expect(ref.bytes).toBeGreaterThan(10 * blockBytes);
      expect(m.tables.exits.batches).toBeGreaterThan(1);
      const want = norm(formatResult(await runAnalysis(good, 'exits')), good);
      const d = join(root, `work-${compression}`);
      cpSync(good, d, { recursive: true });
      const wrong: string[] = [];
      let caught = 0;
      let unchanged = 0;
      let changedUnverified = 0;
      const blocks = Math.ceil(ref.bytes / blockBytes);
      const picked = [...new Set(Array.from({ length: Math.min(48, blocks) }, (_, i) => Math.floor((i * blocks) / Math.min(48, blocks))))];
      // And bytes in the two columns the analysis reads, in every record batch (their buffer regions from the
      // batches' Arrow metadata): damage there changes the answer when unchecked.
      const targeted = columnBytes(good, ['exit_reason', 'cost']);
      expect(targeted.length).toBe(2 * m.tables.exits.batches);
      const flips = [...picked.map((k) => Math.min(ref.bytes - 1, k * blockBytes + 4999 + 7 * k)), ...targeted];
      for (const [n, at] of flips.entries()) {
        const inColumn = n >= picked.length; // the targeted bytes come last
        const v: Variant = {
          name: `exits.arrow byte ${at} (block ${Math.floor(at / blockBytes)}${inColumn ? ', a column the analysis reads' : ''}) flipped`,
          file: 'exits.arrow', damage: (dir) => {
            const b = readFileSync(join(dir, 'exits.arrow'));
            b[at] = b[at]! ^ 0x10;
            writeFileSync(join(dir, 'exits.arrow'), b);
          },
        };
        await withDamage(good, d, v, async () => {
          try {
            const got = norm(formatResult(await runAnalysis(d, 'exits')), d);
            if (got !== want) wrong.push(`${v.name}: verified analysis gave a different answer`);
            else if (inColumn) wrong.push(`${v.name}: not caught`);
            else unchanged++;
          } catch (e) {
            if (!isClear(e) || !(e as Error).message.includes('exits.arrow')) wrong.push(`${v.name}: ${String(e)}`);
            else caught++;
          }
          try {
            const got = norm(formatResult(await runAnalysis(d, 'exits', { verify: false })), d);
            if (got !== want) changedUnverified++;
            else if (inColumn && compression === 'none') wrong.push(`${v.name}: --no-verify: the same answer (the byte is not one the analysis uses?)`);
          } catch (e) {
            if (!isClear(e)) wrong.push(`${v.name}: --no-verify: ${String(e)}`);
          }
          try {
            await traceInfo(d);
            wrong.push(`${v.name}: trace info (whole-file checksums) found nothing`);
          } catch (e) {
            if (!(e instanceof TraceError) || !e.message.includes('exits.arrow')) wrong.push(`${v.name}: info: ${String(e)}`);
          }
        });
      }
      expect(wrong).toEqual([]);
      expect(caught).toBeGreaterThanOrEqual(targeted.length);
      expect(unchanged).toBeGreaterThan(0);
      expect(caught + unchanged).toBe(flips.length);
      if (compression === 'none') expect(changedUnverified).toBeGreaterThanOrEqual(targeted.length);
    }, 300_000);
  }
});
