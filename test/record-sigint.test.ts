// Ctrl-C during `trace record`: the trace is closed valid, marked incomplete, with where and why it stopped.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pl from 'nodejs-polars';
import { describe, expect, it } from 'vitest';
import { TraceReader } from '../src/record/TraceReader.js';

const cli = join(process.cwd(), 'dist', 'src', 'cli', 'main.js');
const suite = existsSync(cli) ? describe : describe.skip;
if (!existsSync(cli)) console.warn('SIGINT test skipped: dist/ not built (npm install builds it)');

suite('trace record and SIGINT', () => {
  it('closes the trace valid and marked incomplete', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'vmtrace-sigint-')), 'long');
    // A long run (about a billion instructions): interrupted well before its end.
    const child = spawn(process.execPath, [join(process.cwd(), 'bin', 'trace.js'), 'record', 'dhrystone:runs=2000000', '-o', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    // Wait until recording is under way (the incomplete marker exists), then interrupt.
    for (let i = 0; i < 200 && !existsSync(join(dir, 'incomplete')); i++) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 1500));
    child.kill('SIGINT');
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    expect(code, out).toBe(3);
    expect(out).toContain('INCOMPLETE');
    const reader = TraceReader.open(dir);
    const m = reader.manifest;
    expect(m.complete).toBe(false);
    expect(m.stop?.reason).toBe('interrupted');
    expect(m.stop?.icount ?? 0).toBeGreaterThan(0);
    expect(existsSync(join(dir, 'incomplete'))).toBe(false);
    // The files are valid Arrow files with what was recorded before the signal.
    expect(pl.readIPC(readFileSync(join(dir, 'exits.arrow'))).height).toBe(m.totals.exits);
  }, 60_000);
});
