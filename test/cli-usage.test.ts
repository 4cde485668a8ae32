// Bad options and workload parameters on the command line (issue 21): a usage error (exit 2, one line on
// stderr) before anything runs, so no trace directory is created and no guest program records its usage
// message as a "complete" run.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const cli = join(process.cwd(), 'dist', 'src', 'cli', 'main.js');
const suite = existsSync(cli) ? describe : describe.skip;
if (!existsSync(cli)) console.warn('CLI usage test skipped: dist/ not built (npm install builds it)');
const trace = join(process.cwd(), 'bin', 'trace.js');

function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [trace, ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

suite('usage errors before anything runs', () => {
  const root = mkdtempSync(join(tmpdir(), 'vmtrace-usage-'));

  it.each([
    [['fcopy:buf=-1'], /parameter buf="-1": expected an integer from 1 to 65536/],
    [['fcopy:buf=abc'], /parameter buf="abc": expected an integer from 1 to 65536/],
    [['fcopy:buf='], /parameter buf="": expected an integer/],
    [['fcopy:buf=1e30'], /parameter buf="1e30"/],
    [['dhrystone:runs=1e30'], /parameter runs="1e30": expected an integer from 1 to 1000000000/],
    [['dhrystone:runs=1.5'], /parameter runs="1.5"/],
    [['fcopy:bogus=1'], /unknown parameter "bogus" \(parameters: buf, reps, size\)/],
    [['linux:run=fcopy,buf=0'], /workload fcopy: parameter buf="0": expected an integer from 1 to 65536/],
    [['linux:run=fcopy,size=5'], /fcopy's parameter "size" is fixed on Linux \(it shapes a file built into the initramfs; settable: buf, reps\)/],
    [['linux:run=fcopy,bogus=1'], /workload linux: unknown parameter "bogus" \(parameters: run, witness, buf, reps\)/],
    [['syscall', '--seed', ''], /--seed : expected a non-negative integer/],
    [['syscall', '--syscalls', 'getpid'], /--syscalls needs --intercept selective/],
    [['syscall', '--intercept', 'nitro', '--syscalls', 'getpid'], /--syscalls needs --intercept selective/],
  ])('trace record %j', (args, message) => {
    const out = join(root, `t${args.join('_').replace(/[^A-Za-z0-9]/g, '_')}`);
    const r = run(['record', ...args, '-o', out]);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stdout).toBe('');
    expect(existsSync(out)).toBe(false);
  });

  it('trace workloads lists each parameter with its default and range', () => {
    const r = run(['workloads']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/fcopy:buf=1024 {2}\(1\.\.65536: bytes per read and write/);
    expect(r.stdout).toMatch(/dhrystone:runs=20000 {2}\(1\.\.1000000000/);
  });
});
