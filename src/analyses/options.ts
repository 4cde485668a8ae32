// Parsing and checking analysis options (strings from the command line, or values from a test), with
// clear errors for the user (UserError: one line, no stack trace).

import { UserError } from '../errors.js';
import { parseCount } from '../parseCount.js';
import type { OptionValues } from './result.js';
import { TraceReader } from '../record/TraceReader.js';

export function stringOption(o: OptionValues, key: string, flag: string, def: string, choices?: readonly string[]): string {
  const v = o[key];
  if (v === undefined) return def;
  if (typeof v !== 'string') throw new UserError(`${flag} needs a value`);
  if (choices && !choices.includes(v)) throw new UserError(`${flag} ${v}: expected one of ${choices.join(', ')}`);
  return v;
}

/** Open the trace an analysis reads; `--no-verify` (verify: false) skips the checksums (TraceReader.open). */
export function openTrace(dir: string, o: OptionValues): TraceReader {
  // Each file is checked the first time the analysis reads it: its output depends on those files only.
  return TraceReader.open(dir, { verify: o.verify === false ? false : 'on-read' });
}

export function boolOption(o: OptionValues, key: string, def: boolean): boolean {
  const v = o[key];
  if (v === undefined) return def;
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === 'yes' || v === '1') return true;
  if (v === 'false' || v === 'no' || v === '0') return false;
  throw new UserError(`--${key}: expected true or false, got ${v}`);
}

export function countOption(o: OptionValues, key: string, flag: string, def: number, min = 0): number {
  const v = o[key];
  if (v === undefined) return def;
  const n = typeof v === 'number' ? v : typeof v === 'string' ? parseCount(flag, v) : NaN;
  if (!Number.isSafeInteger(n) || n < min) throw new UserError(`${flag}: expected an integer >= ${min}`);
  return n;
}

/** A comma-separated list of counts (`1M,5M,20M`). */
export function countListOption(o: OptionValues, key: string, flag: string, def: readonly number[]): number[] {
  const v = o[key];
  if (v === undefined) return [...def];
  if (typeof v !== 'string' || v.trim() === '') throw new UserError(`${flag} needs a comma-separated list`);
  return v.split(',').map((s) => parseCount(flag, s));
}

/** A comma-separated list of names, each from `choices` (`all` = every choice). */
export function choiceListOption(o: OptionValues, key: string, flag: string, def: readonly string[], choices: readonly string[]): string[] {
  const v = o[key];
  if (v === undefined) return [...def];
  if (typeof v !== 'string' || v.trim() === '') throw new UserError(`${flag} needs a comma-separated list`);
  if (v === 'all') return [...choices];
  const out = v.split(',').map((s) => s.trim());
  for (const s of out) if (!choices.includes(s)) throw new UserError(`${flag} ${s}: expected one of ${choices.join(', ')} (or all)`);
  return out;
}
