// The one count parser (src/parseCount.ts) that `trace record`, `trace replay --from` and the analyses'
// options share: the same spelling means the same number everywhere, and bad input is a UserError naming it.

import { describe, expect, it } from 'vitest';
import { parseCount } from '../src/parseCount.js';
import { UserError } from '../src/errors.js';
import { countOption } from '../src/analyses/options.js';

describe('parseCount', () => {
  it('reads plain numbers, _ separators and k/M/G suffixes', () => {
    expect(parseCount('--n', '0')).toBe(0);
    expect(parseCount('--n', '1_000_000')).toBe(1_000_000);
    expect(parseCount('--n', '500k')).toBe(500_000);
    expect(parseCount('--n', '2M')).toBe(2_000_000);
    expect(parseCount('--n', '1.5G')).toBe(1_500_000_000);
    expect(parseCount('--n', ' 7 ')).toBe(7);
  });

  it('rejects what is not a non-negative integer, naming the option', () => {
    for (const bad of ['-1', '', 'x', '1.5', '0x10', '1e3', '2T', '9007199254740993']) {
      expect(() => parseCount('--max-exits', bad), bad).toThrow(UserError);
    }
    expect(() => parseCount('--max-exits', '-1')).toThrow(/--max-exits -1: expected a non-negative integer/);
  });

  it('checks the range it is given', () => {
    expect(parseCount('--slice', '1k', { min: 1, max: 1000 })).toBe(1000);
    expect(() => parseCount('--slice', '0', { min: 1 })).toThrow(/--slice 0: expected at least 1/);
    expect(() => parseCount('--slice', '2k', { min: 1, max: 1000 })).toThrow(/--slice 2k: expected 1 to 1000/);
  });

  it('is the parser the analyses use', () => {
    expect(countOption({ exits: '2M' }, 'exits', '--exits', 0)).toBe(2_000_000);
    expect(() => countOption({ exits: '-3' }, 'exits', '--exits', 0)).toThrow(/--exits -3/);
  });
});
