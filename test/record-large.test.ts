// One million exits through the writer and back through the reader (31 batches), checked with running
// sums taken from the events as they were published: nothing lost, reordered or mangled at batch borders.

import { afterAll, beforeAll, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExitWord } from '../src/emulator/events.js';
import { TraceWriter } from '../src/record/TraceWriter.js';
import { TraceReader } from '../src/record/TraceReader.js';
import { emitSynthetic } from './helpers/syntheticEvents.js';

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'vmtrace-large-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

it('1M exits round-trip with running checksums', async () => {
  const N = 1_000_000;
  const dir = join(root, 'big');
  const w = new TraceWriter(dir, {
    workload: { name: 'large' }, seed: 1, exitPreset: { name: 'x' }, costModel: { name: 'x', figures: {} },
    cyclesPerInstruction: 1,
  });
  let costSum = 0;
  let ripXorLo = 0;
  let ripXorHi = 0;
  let raxMix = 0;
  let lastIcount = 0;
  emitSynthetic({
    onExit: (e) => {
      costSum += e.cost;
      ripXorLo ^= e.words[ExitWord.rip]!;
      ripXorHi ^= e.words[ExitWord.rip + 1]!;
      raxMix = (Math.imul(raxMix, 31) + e.words[ExitWord.r15 + 1]!) | 0;
      lastIcount = e.icount;
      w.onExit(e);
    },
  }, { seed: 3, exits: N, exitsOnly: true, startIcount: 2 ** 40 });
  const m = w.close(true, 'guest-exit');
  expect(m.tables.exits).toMatchObject({ rows: N, batches: Math.ceil(N / 32768) });

  const r = TraceReader.open(dir);
  let rows = 0;
  let cost = 0;
  let lo = 0;
  let hi = 0;
  let mix = 0;
  let prev = -1;
  let seqOk = true;
  let icountOk = true;
  for await (const b of r.scan('exits', ['seq', 'icount', 'cost', 'rip', 'r15'])) {
    const seq = b.columns.seq;
    const ic = b.columns.icount;
    const c = b.columns.cost.values as Uint32Array;
    const rip = b.columns.rip.words!;
    const r15 = b.columns.r15.words!;
    for (let i = 0; i < b.length; i++) {
      if (seq.number(i) !== b.start + i) seqOk = false;
      const x = ic.number(i);
      if (x <= prev) icountOk = false;
      prev = x;
      cost += c[i]!;
      lo ^= rip[2 * i]!;
      hi ^= rip[2 * i + 1]!;
      mix = (Math.imul(mix, 31) + r15[2 * i + 1]!) | 0;
    }
    rows += b.length;
  }
  expect(rows).toBe(N);
  expect(seqOk).toBe(true);
  expect(icountOk).toBe(true);
  expect(prev).toBe(lastIcount);
  expect(cost).toBe(costSum);
  expect([lo, hi, mix]).toEqual([ripXorLo, ripXorHi, raxMix]);
});
