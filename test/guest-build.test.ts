// Rebuilding the guest from source must reproduce the committed images byte for byte (guest/Makefile is
// reproducible: no timestamps, no build ids, fixed relative paths). Only meaningful with the toolchain the
// images were built with (guest/images/TOOLCHAIN); skipped with a message otherwise.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { guestDir } from '../src/hypervisor/workloads.js';

const gdir = guestDir();
const recorded = readFileSync(join(gdir, 'images', 'TOOLCHAIN'), 'utf8');

function toolchain(): string | null {
  try {
    const gcc = execFileSync('gcc', ['--version'], { encoding: 'utf8' }).split('\n')[0];
    const ld = execFileSync('ld', ['--version'], { encoding: 'utf8' }).split('\n')[0];
    execFileSync('make', ['--version'], { stdio: 'ignore' });
    return `${gcc}\n${ld}\n`;
  } catch {
    return null;
  }
}

const have = toolchain();
const reason =
  have === null ? 'gcc, ld or make not installed'
  : have !== recorded ? `toolchain differs from the one recorded in guest/images/TOOLCHAIN (have: ${have.trim().replace('\n', ' / ')})`
  : null;
if (reason !== null) console.warn(`guest reproducible-build test skipped: ${reason}`);

describe.skipIf(reason !== null)('guest build', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'vmtrace-guest-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('rebuilds byte-identical images', () => {
    const out = join(tmp, 'images');
    execFileSync('make', ['-s', '-C', gdir, `BUILD=${join(tmp, 'build')}`, `OUT=${out}`], { stdio: 'pipe' });
    const list = (d: string): string[] => readdirSync(d, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath ?? (e as unknown as { path: string }).path, e.name).slice(d.length + 1))
      .sort();
    const committed = list(join(gdir, 'images')).filter((f) => !f.startsWith('linux/')); // make -C guest linux
    expect(list(out)).toEqual(committed);
    expect(committed).toContain('kernel.elf');
    for (const f of committed) {
      const a = readFileSync(join(gdir, 'images', f));
      const b = readFileSync(join(out, f));
      expect(b.equals(a), `${f} differs from the committed image`).toBe(true);
    }
  }, 120_000);
});
