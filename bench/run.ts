// `npm run bench` runs every group; `npm run bench -- <group>` runs one. Each group prints its headline
// figures as `FIGURE <name> <value> <unit>` lines.
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const dir = path.dirname(fileURLToPath(import.meta.url));
const groups = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .map((f) => f.slice(0, -'.bench.ts'.length))
  .sort();
const wanted = process.argv.slice(2).filter((a) => a !== '--');
const unknown = wanted.filter((w) => !groups.includes(w));
if (unknown.length > 0) {
  process.stderr.write(`bench: unknown group(s) ${unknown.join(', ')}; groups: ${groups.join(', ')}\n`);
  process.exit(2);
}
for (const group of wanted.length > 0 ? wanted : groups) {
  process.stdout.write(`# bench group ${group}\n`);
  const mod = (await import(path.join(dir, `${group}.bench.ts`))) as { run: () => Promise<void> };
  await mod.run();
}
