// traces/README.md documents every column of every table with the type and nullability the writer uses
// (schema.ts): a column added, renamed or retyped without its documentation fails here.

import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { EXIT_REASON_KEYS } from '../src/emulator/vmx/exitReasons.js';
import { FORMAT_VERSION, TABLES, TABLE_NAMES, WITNESS } from '../src/record/schema.js';

const readme = readFileSync(new URL('../traces/README.md', import.meta.url), 'utf8');

/** Column rows of the README section `### \`<file>\``: name -> [type, nullable]. */
function documented(file: string): Map<string, [string, boolean]> {
  const start = readme.indexOf(`### \`${file}\``);
  expect(start, `section for ${file}`).toBeGreaterThanOrEqual(0);
  const end = readme.indexOf('\n### ', start + 1);
  const out = new Map<string, [string, boolean]>();
  for (const line of readme.slice(start, end < 0 ? undefined : end).split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    if (cells.length < 5 || !cells[1]!.startsWith('`')) continue;
    for (const m of cells[1]!.matchAll(/`([a-z0-9_]+)`/g)) out.set(m[1]!, [cells[2]!, cells[3] === 'yes']);
  }
  return out;
}

describe('traces/README.md', () => {
  it(`documents format version ${FORMAT_VERSION}`, () => {
    expect(readme).toContain(`(format version ${FORMAT_VERSION})`);
  });

  // the required tables and the optional witness.arrow
  for (const spec of [...TABLE_NAMES.map((t) => TABLES[t]), WITNESS]) {
    it(`documents every column of ${spec.file} with its type`, () => {
      const doc = documented(spec.file);
      const want = spec.columns.map((c) => [c.name, [c.type === 'dict' ? 'dictionary<int8, utf8>' : c.type, c.nullable]]);
      expect([...doc]).toEqual(want);
    });
  }

  it('lists every exit-reason name of the dictionary', () => {
    for (const [n, key] of EXIT_REASON_KEYS.entries()) {
      if (key.startsWith('RESERVED_') || (n >= 19 && n <= 25)) continue; // grouped rows in the README
      expect(readme, key).toContain(`| ${n} | ${key} |`);
    }
  });
});
