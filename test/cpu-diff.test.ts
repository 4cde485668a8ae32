// Differential test of the CPU interpreter against the host CPU: every integer instruction family in all
// operand sizes (test/diff/cases.ts) runs natively (test/diff/native.c) and in the emulator along three
// paths: single-stepped (test/diff/emu.ts), as whole interpreted blocks, and as JIT-compiled blocks
// (test/diff/emuBlocks.ts). Registers, the flags the SDM defines, scratch memory and fault vectors must
// match; at a fault, so must the state the exception handler would see.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAMILIES, REQUIRES, generate } from './diff/families.js';
import { compare, disassemble, prepare, type Prepared } from './diff/compare.js';
import { runEmulated } from './diff/emu.js';
import { lastEntryCompiled, runEmulatedBlocks } from './diff/emuBlocks.js';
import { hostCpuFlags, nativeAvailable, runNative } from './diff/native.js';
import type { DiffResult } from './diff/types.js';

const why = nativeAvailable();
const suite = why === null ? describe : describe.skip;
const SHOW = 12;
const PATHS = ['step', 'blocks', 'jit'] as const;
type Path = (typeof PATHS)[number];

const form = (p: Prepared): string => p.spec.name.replace(/ #\d+:.*$/, '');

function attempt<T>(f: () => T): T | Error {
  try {
    return f();
  } catch (e) {
    return e instanceof Error ? e : new Error(String(e));
  }
}

suite(why === null ? 'CPU vs host CPU (differential)' : `CPU vs host CPU (differential) skipped: ${why}`, () => {
  let cases: Prepared[] = [];
  let host: DiffResult[] = [];
  const kept = new Map<number, Record<Path, DiffResult | Error>>();
  const summary: string[] = [];
  let compiledEntries = 0;

  beforeAll(() => {
    cases = prepare(generate());
    host = runNative(cases);
  });

  function emulated(i: number): Record<Path, DiffResult | Error> {
    const k = kept.get(i);
    if (k) return k;
    const step = attempt(() => runEmulated(cases[i]));
    const b = attempt(() => runEmulatedBlocks(cases[i]));
    if (!(b instanceof Error) && lastEntryCompiled()) compiledEntries++;
    const r = { step, blocks: b instanceof Error ? b : b.interpreted, jit: b instanceof Error ? b : b.compiled };
    // Keep only what the zero-source test reads again (results hold a scratch copy each).
    if (cases[i].spec.hostFact) kept.set(i, r);
    return r;
  }

  /** Differences of one case along all paths; identical reports are merged ("step/blocks/jit"). */
  function check(i: number, got: Record<Path, DiffResult | Error>): string | null {
    const c = cases[i];
    const reports = new Map<string, Path[]>();
    for (const path of PATHS) {
      const g = got[path];
      const d =
        g instanceof Error
          ? `${c.name}\n  asm: ${c.spec.asm}\n${disassemble(c.code)}\n  emulator threw: ${g.message}`
          : compare(c, host[i], g, ['host', 'EMU']);
      if (d !== null) reports.set(d, [...(reports.get(d) ?? []), path]);
    }
    if (reports.size === 0) return null;
    return [...reports].map(([d, paths]) => d.replaceAll('EMU', `emulator(${paths.join('/')})`)).join('\n');
  }

  for (const family of Object.keys(FAMILIES)) {
    const missing = why === null ? (REQUIRES[family] ?? []).filter((f) => !hostCpuFlags().has(f)) : [];
    const test = missing.length ? it.skip : it;
    test(`${family}: emulator matches the host${missing.length ? ` (skipped: host CPU lacks ${missing.join(' ')})` : ''}`, () => {
      const idx = cases.flatMap((c, i) => (c.spec.family === family ? [i] : []));
      expect(idx.length).toBeGreaterThan(0);
      const fails: string[] = [];
      const badForms = new Map<string, number>();
      const allForms = new Map<string, number>();
      let faults = 0;
      let undefDiffer = 0;
      for (const i of idx) {
        const c = cases[i];
        allForms.set(form(c), (allForms.get(form(c)) ?? 0) + 1);
        if (host[i].fault !== null) faults++;
        const got = emulated(i);
        const d = check(i, got);
        const s = got.step;
        if (!(s instanceof Error) && s.fault === null && host[i].fault === null && ((s.rflags ^ host[i].rflags) & c.undef) !== 0n) undefDiffer++;
        if (d !== null) {
          fails.push(d);
          badForms.set(form(c), (badForms.get(form(c)) ?? 0) + 1);
        }
      }
      summary.push(
        `${family.padEnd(13)} ${String(idx.length).padStart(5)} cases ${String(allForms.size).padStart(4)} forms` +
          ` ${String(faults).padStart(4)} faulting on the host ${String(fails.length).padStart(5)} mismatches` +
          ` (${undefDiffer} differ only in SDM-undefined flags)`,
      );
      if (fails.length > 0) {
        const forms = [...badForms].map(([f, n]) => `${f} (${n}/${allForms.get(f)})`).join(', ');
        throw new Error(
          `${fails.length} of ${idx.length} ${family} cases differ from the host CPU.\nForms: ${forms}\n\n` +
            `First ${Math.min(SHOW, fails.length)}:\n\n${fails.slice(0, SHOW).join('\n\n')}`,
        );
      }
    });
  }

  // The SDM leaves BSF/BSR's destination undefined for a zero source, so the family test above does not
  // compare it; Intel and AMD CPUs leave it unchanged and Linux's ffs()/fls() rely on that on x86-64.
  it('BSF/BSR with a zero source: emulator leaves the destination as the host does', () => {
    const facts = new Map<string, string>();
    const fails: string[] = [];
    cases.forEach((c, i) => {
      const tag = c.spec.hostFact;
      if (!tag || host[i].fault !== null) return;
      const d = c.spec.ignoreRegs?.[0] ?? -1;
      const before = c.regs[d];
      const after = host[i].regs[d];
      const what =
        after === before ? 'destination unchanged'
        : after === (before & 0xffffffffn) ? 'destination zero-extended from 32 bits'
        : after === (before & 0xffffn) ? 'destination zero-extended from 16 bits'
        : `destination changed to 0x${after.toString(16)}`;
      facts.set(tag, facts.has(tag) && facts.get(tag) !== what ? 'varies' : what);
      const got = emulated(i);
      for (const path of PATHS) {
        const g = got[path];
        if (g instanceof Error) fails.push(`${c.name}: emulator(${path}) threw ${g.message}`);
        else if (g.regs[d] !== after) fails.push(`${c.name}: host 0x${after.toString(16)} emulator(${path}) 0x${g.regs[d].toString(16)} (input 0x${before.toString(16)})`);
      }
    });
    summary.push(`host, zero source: ${[...facts].map(([t, w]) => `${t}: ${w}`).join('; ')}`);
    expect(facts.size).toBeGreaterThan(0);
    expect(fails, fails.slice(0, SHOW).join('\n')).toEqual([]);
  });

  // Guards the JIT path from silently being the interpreter (threshold or compile rules changing).
  it('the "jit" path really runs compiled blocks', () => {
    expect(compiledEntries).toBeGreaterThan(cases.length / 2);
  });

  afterAll(() => {
    if (summary.length) {
      console.log(
        `differential CPU test summary (${cases.length} cases; emulator paths ${PATHS.join(', ')}; ` +
          `${compiledEntries} cases ran their entry block JIT-compiled):\n  ${summary.join('\n  ')}`,
      );
    }
  });
});
