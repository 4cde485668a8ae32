// The bpf_conformance suite (../shared/bpf_conformance/tests) through assembler, verifier, interpreter and
// compiler. Every file with a result must give that r0 in both engines; `-- error` files must fail (in the
// verifier or at run time). The files the verifier accepts only with allowLoops are listed, and checked to be
// exactly those: a file newly needing it (or no longer needing it) fails the test.
import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { conformanceGroup, runConformance, type ConformanceOutcome } from '../src/hypervisor/ebpf/conformance.js';

const DIR = '../shared/bpf_conformance/tests/';

/** Files this runtime genuinely cannot support, with the reason. (None at present.) */
const UNSUPPORTED: Record<string, string> = {};

/** Files with loops: the verifier cannot bound them, so they run under allowLoops with a run-time budget. */
const NEED_LOOPS = ['prime.data'];

describe('eBPF conformance suite', () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.data')).sort();
  const results = new Map<string, ConformanceOutcome>();
  for (const f of files) results.set(f, runConformance(readFileSync(DIR + f, 'utf8')));

  it('has the suite', () => expect(files.length).toBeGreaterThanOrEqual(270));

  it('prints the pass rate per group', () => {
    const groups = new Map<string, { files: number; skipped: number; interp: number; compiled: number; verified: number }>();
    for (const [f, r] of results) {
      const g = conformanceGroup(f);
      const e = groups.get(g) ?? { files: 0, skipped: 0, interp: 0, compiled: 0, verified: 0 };
      e.files++;
      if (r.status === 'skip') e.skipped++;
      if (r.interpreter?.ok) e.interp++;
      if (r.compiled?.ok) e.compiled++;
      if (r.verifier === 'accepted' && !r.neededLoops) e.verified++;
      groups.set(g, e);
    }
    const rows = [...groups.entries()].sort(([a], [b]) => a.localeCompare(b));
    const pct = (a: number, b: number): string => `${a}/${b} (${b === 0 ? '-' : ((100 * a) / b).toFixed(0)}%)`;
    const lines = [`${'group'.padEnd(16)} ${'interpreter'.padEnd(14)} ${'compiled'.padEnd(14)} ${'verified strict'.padEnd(16)} skipped`];
    for (const [g, e] of rows) {
      const n = e.files - e.skipped;
      lines.push(`${g.padEnd(16)} ${pct(e.interp, n).padEnd(14)} ${pct(e.compiled, n).padEnd(14)} ${pct(e.verified, n).padEnd(16)} ${e.skipped}`);
    }
    process.stdout.write(`\n${lines.join('\n')}\n`);
    // What each row must say follows from the suite's own files: every file with a `-- result` runs to that
    // result in both engines and is verified without allowLoops unless listed in NEED_LOOPS; a file with
    // neither `-- result` nor `-- error` is skipped; the groups together hold every file of the suite.
    const expected = new Map<string, { files: number; skipped: number; interp: number; compiled: number; verified: number }>();
    for (const f of files) {
      const text = readFileSync(DIR + f, 'utf8');
      const g = conformanceGroup(f);
      const e = expected.get(g) ?? { files: 0, skipped: 0, interp: 0, compiled: 0, verified: 0 };
      e.files++;
      const result = /^-- result$/m.test(text);
      if (!result && !/^-- error$/m.test(text)) e.skipped++;
      if (result && !(f in UNSUPPORTED)) {
        e.interp++;
        e.compiled++;
        if (!NEED_LOOPS.includes(f)) e.verified++;
      }
      expected.set(g, e);
    }
    expect(new Map(rows)).toEqual(expected);
    expect(rows.reduce((n, [, e]) => n + e.files, 0)).toBe(files.length);
  });

  it('passes every file it should, in both engines', () => {
    const failures: string[] = [];
    for (const [f, r] of results) {
      if (f in UNSUPPORTED) {
        expect(r.status, `${f} is listed as unsupported but passes: remove it from the list`).toBe('fail');
        continue;
      }
      if (r.status === 'fail') failures.push(`${f}: ${r.reason}`);
    }
    expect(failures).toEqual([]);
  });

  it('needs allowLoops for exactly the listed files', () => {
    const needed = [...results].filter(([, r]) => r.neededLoops).map(([f]) => f).sort();
    expect(needed).toEqual(NEED_LOOPS);
  });

  it('runs every non-skipped file through all four stages', () => {
    for (const [f, r] of results) {
      if (r.status === 'skip') continue;
      expect(r.interpreter, f).toBeDefined();
      expect(r.compiled, f).toBeDefined();
    }
  });

  it('expects failure from -- error files, of the kind the file names', () => {
    const bad = runConformance('-- asm\nmov %r0, 1\nexit\n-- error\nout of bounds memory load');
    expect(bad.status).toBe('fail');
    const good = runConformance('-- asm\nldxw %r0, [%r1+100]\nexit\n-- mem\n00 01\n-- error\nout of bounds');
    expect(good.status).toBe('pass');
    expect(good.reason).toMatch(/verifier: instruction 0/);
    // an error at another stage, or of another kind, is not the expected one
    const otherKind = runConformance('-- asm\nldxw %r0, [%r1+100]\nexit\n-- mem\n00 01\n-- error\nunknown opcode 0xff');
    expect(otherKind.status).toBe('fail');
    expect(otherKind.reason).toMatch(/is an error of kind memory, the file expects kind encoding/);
    const syntax = runConformance('-- asm\nfrobnicate %r0\nexit\n-- error\nout of bounds');
    expect(syntax.status).toBe('fail');
    expect(runConformance('-- asm\nfrobnicate %r0\nexit\n-- error\nsyntax error').status).toBe('pass');
    expect(runConformance('-- asm\nmov %r0, 0\nja -2\nexit\n-- error\ninfinite loop').status).toBe('pass');
    expect(runConformance('-- asm\nmov %r0, 0\ncall 99\nexit\n-- error\ninfinite loop').status).toBe('fail');
    // an expected error this runner cannot classify fails rather than passing on anything
    expect(runConformance('-- asm\nmov %r0, 0\ncall 99\nexit\n-- error\nsomething').status).toBe('fail');
  });

  it('detects a wrong result (the runner can fail)', () => {
    const r = runConformance('-- asm\nmov %r0, 2\nexit\n-- result\n0x3');
    expect(r.status).toBe('fail');
    expect(r.reason).toMatch(/expected 0x3, got r0=0x2/);
  });
});
