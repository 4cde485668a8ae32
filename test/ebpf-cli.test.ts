// `trace ebpf test|asm|disasm` through the real command parser.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { runCli } from '../src/cli/main.js';

async function trace(...args: string[]): Promise<{ out: string; err: string; code: number }> {
  let out = '', err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
  process.exitCode = 0;
  try {
    await runCli(['node', 'trace', ...args]);
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
  const code = Number(process.exitCode ?? 0);
  process.exitCode = 0;
  return { out, err, code };
}

describe('trace ebpf', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ebpf-cli-'));
  afterEach(() => {
    process.exitCode = 0;
  });

  it('test: PASS/FAIL per file, a summary line, non-zero exit on failure', async () => {
    const good = join(dir, 'good.data');
    const bad = join(dir, 'bad.data');
    writeFileSync(good, '-- asm\nmov %r0, 3\nexit\n-- result\n0x3\n');
    writeFileSync(bad, '-- asm\nmov %r0, 2\nexit\n-- result\n0x3\n');
    const ok = await trace('ebpf', 'test', good, '../shared/bpf_conformance/tests/prime.data');
    expect(ok.out).toBe(`PASS ${good}\nPASS ../shared/bpf_conformance/tests/prime.data (has loops: verified with allowLoops, run-time budget 1000000 instructions)\n2 passed, 0 failed\n`);
    expect(ok.code).toBe(0);
    const ko = await trace('ebpf', 'test', good, bad, join(dir, 'missing.data'));
    expect(ko.out).toContain(`FAIL ${bad}: interpreter: expected 0x3, got r0=0x2`);
    expect(ko.out).toContain(`FAIL ${join(dir, 'missing.data')}: no such file`);
    expect(ko.out.trimEnd().split('\n').at(-1)).toBe('1 passed, 2 failed');
    expect(ko.code).toBe(1);
  });

  it('test: nothing to test is a failure, not a pass', async () => {
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    const none = await trace('ebpf', 'test', empty);
    expect(none.out).toBe('0 passed, 0 failed\nno .data files to test\n');
    expect(none.code).toBe(1);
    const noResult = join(dir, 'noresult.data');
    writeFileSync(noResult, '-- asm\nmov %r0, 3\nexit\n');
    const skipped = await trace('ebpf', 'test', noResult);
    expect(skipped.out).toContain(`SKIP ${noResult}: neither result nor error`);
    expect(skipped.out).toContain('0 passed, 0 failed, 1 skipped\nnothing was tested');
    expect(skipped.code).toBe(1);
  });

  it('asm/disasm round trip, errors as one line', async () => {
    const src = join(dir, 'p.s');
    const bin = join(dir, 'p.bin');
    writeFileSync(src, 'mov r0, 1\nja +0\nexit\n');
    expect((await trace('ebpf', 'asm', src)).out).toBe('b700000001000000\n0500000000000000\n9500000000000000\n');
    await trace('ebpf', 'asm', src, '-o', bin);
    expect((await trace('ebpf', 'disasm', bin)).out).toBe('mov %r0, 1\nja +0\nexit\n');
    writeFileSync(src, 'mov r0, 1\nfrob r2\n');
    const e = await trace('ebpf', 'asm', src);
    expect(e.err).toBe(`trace: ${src}: line 2: unknown mnemonic frob in "frob r2"\n`);
    expect(e.code).toBe(2);
  });
});
