// The differential case families in a fixed order, and the host CPU features some of them need.

import {
  alu, atomics, bitcount, bits, cmpxchgNb, conditionals, control, converts, doubleShifts, faults, moves, muldiv, nops,
  shifts, stack, stack16, strings, unary, type CaseSpec,
} from './cases.js';
import { flagChains, prefixes, programs } from './programs.js';
import { Rng } from './prng.js';

/** Host CPU features (Linux /proc/cpuinfo flag names) a family needs to be meaningful natively. */
export const REQUIRES: Record<string, string[]> = { bitcount: ['popcnt', 'abm', 'bmi1'], 'cmpxchg8b/16b': ['cx16'], convert: ['lahf_lm'], flagchain: ['lahf_lm'], program: ['lahf_lm'] };

/** Every family, in a fixed order, from one seed. */
export const FAMILIES: Record<string, (rng: Rng) => CaseSpec[]> = {
  alu,
  unary,
  mov: moves,
  shift: shifts,
  shld: doubleShifts,
  muldiv,
  bit: bits,
  bitcount,
  cond: conditionals,
  convert: converts,
  atomic: atomics,
  'cmpxchg8b/16b': cmpxchgNb,
  stack,
  stack16,
  control,
  string: strings,
  nop: nops,
  fault: faults,
  prefix: prefixes,
  flagchain: flagChains,
  program: programs,
};

export function generate(seed = 0x5eed): CaseSpec[] {
  const out: CaseSpec[] = [];
  let i = 0;
  for (const make of Object.values(FAMILIES)) out.push(...make(new Rng(seed + 0x1000 * i++)));
  return out;
}
