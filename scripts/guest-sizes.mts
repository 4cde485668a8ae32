// Regenerates guest/README.md's "Sizes" table: each workload named on the command line as `trace record` runs it
// by default (kvm-default, modern, handler-injection), one Markdown row each. Usage:
//   npx tsx scripts/guest-sizes.mts syscall pipe spawn ...
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { recordTrace } from '../src/replay/recordTrace.js';
import { TraceReader } from '../src/record/TraceReader.js';
import { GroundTruthType } from '../src/emulator/events.js';
const root = mkdtempSync(join(tmpdir(), 'sizes-'));
const names = process.argv.slice(2);
const fmt = (n: number) => n.toLocaleString('en-US');
for (const w of names) {
  const dir = join(root, w.replace(/[:=,]/g, '_'));
  const r = await recordTrace({ workload: w, exitPreset: 'kvm-default', costModel: 'modern' }, dir, { checkpointEvery: 0 });
  const reader = TraceReader.open(dir);
  let live = 0, max = 0;
  for (const b of reader.scan('ground_truth', ['type'])) for (let i = 0; i < b.length; i++) {
    const t = b.columns.type.number(i);
    if (t === GroundTruthType.procCreate) max = Math.max(max, ++live);
    else if (t === GroundTruthType.procExit) live--;
  }
  const m = r.assembled.machine;
  const t = reader.manifest.totals;
  console.log(`| ${w} | ${fmt(t.icount)} | ${fmt(t.icount - m.haltedInstructions)} | ${fmt(t.exits)} | ${fmt(t.syscalls)} | ${fmt(t.ground_truth)} | ${max} |`);
}
