// The cost-model presets are complete (a cost for every SDM exit reason), every figure names a source, and
// the derived figures follow from the published ones they cite.

import { describe, expect, it } from 'vitest';
import { UserError } from '../src/errors.js';
import {
  COST_MODELS,
  COST_MODEL_NAMES,
  SOURCES,
  costOfExit,
  getCostModel,
  guestTsc,
  withRoundTrip,
} from '../src/emulator/costModel.js';
import { ALL_EXIT_REASONS, ExitReason, exitReasonKey } from '../src/emulator/vmx/exitReasons.js';

describe('cost-model presets', () => {
  it('exist under the names the issue asks for', () => {
    expect(COST_MODEL_NAMES).toEqual(['core2-2007', 'modern']);
  });

  for (const name of COST_MODEL_NAMES) {
    const m = COST_MODELS[name];
    describe(name, () => {
      it('has a non-negative handler cost and a source for every exit reason', () => {
        expect(Object.keys(m.handler).length).toBe(ALL_EXIT_REASONS.length);
        for (const r of ALL_EXIT_REASONS) {
          expect(Number.isInteger(m.handler[r])).toBe(true);
          expect(m.handler[r]).toBeGreaterThanOrEqual(0);
          const src = m.sources[`handler.${exitReasonKey(r)}`];
          expect(src, `source of handler.${exitReasonKey(r)}`).toBeDefined();
          expect(src!.citation.length).toBeGreaterThan(20);
        }
      });

      it('has a source for every scalar, work and hyperupcall figure', () => {
        for (const key of ['roundTrip', 'cyclesPerInstruction', 'tscHz']) expect(m.sources[key], key).toBeDefined();
        for (const key of Object.keys(m.work)) expect(m.sources[`work.${key}`], `work.${key}`).toBeDefined();
        for (const key of Object.keys(m.hyperupcall)) expect(m.sources[`hyperupcall.${key}`], `hyperupcall.${key}`).toBeDefined();
        for (const s of Object.values(m.sources)) expect(['published', 'derived', 'estimate', 'model-choice']).toContain(s.kind);
      });

      it('is frozen', () => {
        expect(Object.isFrozen(m)).toBe(true);
        expect(Object.isFrozen(m.handler)).toBe(true);
        expect(Object.isFrozen(m.work)).toBe(true);
      });

      it('charges nothing beyond the round trip for exits that end the run', () => {
        expect(costOfExit(m, ExitReason.TRIPLE_FAULT)).toBe(m.roundTrip);
      });
    });
  }

  it('uses the published round trips: SplitX 2,000 (modern), first-generation VT-x 2,409 (core2-2007)', () => {
    expect(COST_MODELS.modern.roundTrip).toBe(2000);
    expect(COST_MODELS.modern.sources.roundTrip!.citation).toMatch(/2,000 cycles/);
    expect(COST_MODELS['core2-2007'].roundTrip).toBe(2409);
    expect(SOURCES.adamsAgesen2006.citation).toMatch(/2,409/);
  });

  it('derives the log-record cost from seed 004 (5% of two VMCALL exits)', () => {
    const m = COST_MODELS['core2-2007'];
    const perSyscall = 2 * costOfExit(m, ExitReason.VMCALL);
    expect(Math.abs(m.work.logRecord - 0.05 * perSyscall)).toBeLessThan(5);
  });

  it('hyperupcall figures are those of Amit & Wei', () => {
    for (const m of Object.values(COST_MODELS)) {
      expect(m.hyperupcall.tracing).toBe(232);
      expect(m.hyperupcall.guard).toBe(43);
      expect(m.hyperupcall.overNative).toBeLessThanOrEqual(250);
    }
  });
});

describe('costOfExit, guestTsc, withRoundTrip, getCostModel', () => {
  it('adds round trip, handler and extra work', () => {
    const m = COST_MODELS.modern;
    expect(costOfExit(m, ExitReason.CPUID)).toBe(2000 + m.handler[ExitReason.CPUID]);
    expect(costOfExit(m, ExitReason.IO_INSTRUCTION, m.work.deviceIo)).toBe(2000 + m.handler[ExitReason.IO_INSTRUCTION] + m.work.deviceIo);
    expect(() => costOfExit(m, 35)).toThrow(RangeError);
  });

  it('guest time is the instruction count times CPI', () => {
    expect(guestTsc(COST_MODELS['core2-2007'], 123_456_789)).toBe(123_456_789 * COST_MODELS['core2-2007'].cyclesPerInstruction);
  });

  it('withRoundTrip changes only the round trip, and so every exit cost by the difference', () => {
    const base = COST_MODELS['core2-2007'];
    const m = withRoundTrip(base, 500);
    expect(m.roundTrip).toBe(500);
    expect(m.name).toBe('core2-2007@rt=500');
    for (const r of ALL_EXIT_REASONS) expect(costOfExit(base, r) - costOfExit(m, r)).toBe(2409 - 500);
    expect(m.sources.roundTrip!.kind).toBe('model-choice');
    expect(base.roundTrip).toBe(2409);
    expect(() => withRoundTrip(base, -1)).toThrow(RangeError);
  });

  it('getCostModel returns presets and names the known ones on a bad name', () => {
    expect(getCostModel('modern')).toBe(COST_MODELS.modern);
    expect(() => getCostModel('pentium4')).toThrow(UserError);
    expect(() => getCostModel('pentium4')).toThrow(/core2-2007, modern/);
    expect(() => getCostModel('toString')).toThrow(UserError);
  });
});

describe('docs/cost-model.md', () => {
  it('states every preset figure', async () => {
    const { readFileSync } = await import('node:fs');
    const doc = readFileSync(new URL('../docs/cost-model.md', import.meta.url), 'utf8');
    for (const m of Object.values(COST_MODELS)) {
      const figures = [m.roundTrip, m.tscHz, ...Object.values(m.work), ...Object.values(m.hyperupcall), ...new Set(Object.values(m.handler))];
      for (const f of figures) expect(doc, `${m.name}: ${f}`).toContain(f.toLocaleString('en-US'));
    }
  });
});

describe('costModelFigures and exitCostFunction', () => {
  it('flattens every figure under the keys of the sources table', async () => {
    const { costModelFigures } = await import('../src/emulator/costModel.js');
    for (const m of Object.values(COST_MODELS)) {
      const f = costModelFigures(m);
      expect(Object.keys(f)).toEqual([...Object.keys(f)].sort());
      for (const key of Object.keys(f)) expect(m.sources[key], key).toBeDefined();
      expect(f.roundTrip).toBe(m.roundTrip);
      expect(f['handler.EPT_VIOLATION']).toBe(m.handler[ExitReason.EPT_VIOLATION]);
      expect(f['hyperupcall.tracing']).toBe(232);
    }
  });

  it('exitCostFunction agrees with costOfExit for every reason and rejects unknown ones', async () => {
    const { exitCostFunction } = await import('../src/emulator/costModel.js');
    const m = COST_MODELS['core2-2007'];
    const fn = exitCostFunction(m);
    for (const r of ALL_EXIT_REASONS) expect(fn.exitCost(r)).toBe(costOfExit(m, r));
    expect(() => fn.exitCost(35)).toThrow(RangeError);
  });
});
