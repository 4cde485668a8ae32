// Counts typed by a user (command-line options, analysis options, workload parameters): one parser for all
// of them, so `2M`, `500k` and `1_000_000` mean the same everywhere and a bad value gets the same message.

import { UserError } from './errors.js';

const SUFFIX: Readonly<Record<string, number>> = { '': 1, k: 1e3, K: 1e3, m: 1e6, M: 1e6, g: 1e9, G: 1e9 };

/**
 * A non-negative integer from `text`, for the option or parameter `what` (named in the error). Accepts `_`
 * separators and k/M/G suffixes (`500k`, `2M`, `1.5G`); the value must lie in [min, max] (default 0 and
 * Number.MAX_SAFE_INTEGER).
 */
export function parseCount(what: string, text: string, range: { min?: number; max?: number } = {}): number {
  const m = /^(\d[\d_]*)(\.\d+)?([kKmMgG]?)$/.exec(text.trim());
  if (!m) throw new UserError(`${what} ${text}: expected a non-negative integer (k/M/G suffixes allowed)`);
  const v = Number(`${m[1]!.replace(/_/g, '')}${m[2] ?? ''}`) * SUFFIX[m[3]!]!;
  if (!Number.isSafeInteger(v)) throw new UserError(`${what} ${text}: not an integer`);
  const min = range.min ?? 0;
  const max = range.max ?? Number.MAX_SAFE_INTEGER;
  if (v < min || v > max) throw new UserError(`${what} ${text}: expected ${max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `${min} to ${max}`}`);
  return v;
}
