// A full disk during `trace record` (issue 21): one line saying so (exit 3, no stack trace), no temporaries
// left behind, and the trace stays incomplete (`recording`, its marker describing what is whole on disk), so
// `trace info` and `trace replay` still read it. The full disk is a real one: a 1 MiB tmpfs, mounted when the
// test may (root with mount permission); elsewhere the test skips and says why.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TraceReader } from '../src/record/TraceReader.js';

const cli = join(process.cwd(), 'dist', 'src', 'cli', 'main.js');
const trace = join(process.cwd(), 'bin', 'trace.js');
const mnt = mkdtempSync(join(tmpdir(), 'vmtrace-enospc-'));
const mounted = existsSync(cli) && spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt]).status === 0;
if (!mounted) {
  rmSync(mnt, { recursive: true, force: true });
  console.warn(`ENOSPC test skipped: ${existsSync(cli) ? 'cannot mount a tmpfs here (needs root and mount permission)' : 'dist/ not built'}`);
}

function allFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' });
}

describe.skipIf(!mounted)('trace record on a full disk', () => {
  afterAll(() => {
    spawnSync('umount', [mnt]);
    rmSync(mnt, { recursive: true, force: true });
  });

  it('stops with one line, leaves no temporaries, and the trace stays readable and replayable', () => {
    const dir = join(mnt, 't');
    const r = spawnSync(process.execPath, [trace, 'record', 'syscall:n=200000', '-o', dir], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(3);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^trace: ${dir}: the disk is full \\(ENOSPC: .*\\): the recording stopped at icount \\d+; the trace is incomplete`));
    expect(allFiles(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(existsSync(join(dir, 'incomplete'))).toBe(true);
    expect(TraceReader.open(dir).state).toBe('recording');
    const info = spawnSync(process.execPath, [trace, 'info', dir], { encoding: 'utf8' });
    expect(info.status, info.stderr).toBe(0);
    expect(info.stdout).toContain('INCOMPLETE');
    const rep = spawnSync(process.execPath, [trace, 'replay', dir], { encoding: 'utf8' });
    expect(rep.status, rep.stdout + rep.stderr).toBe(0);
    expect(rep.stdout).toMatch(/^replay clean: /);
    expect(rep.stdout).toContain('the recording was cut');
  });
});
