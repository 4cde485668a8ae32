// The host CPU's identity, for tests whose oracle is one CPU model's implementation-specific results.

import { readFileSync } from 'node:fs';

export interface HostCpu { vendor: string; family: number; model: number; modelName: string }

/** vendor_id, cpu family, model and model name of the first processor in /proc/cpuinfo. */
export function hostCpu(): HostCpu {
  const info = readFileSync('/proc/cpuinfo', 'utf8').split('\n\n')[0];
  const field = (k: string): string => (new RegExp(`^${k}\\s*:\\s*(.*)$`, 'm').exec(info)?.[1] ?? '').trim();
  return { vendor: field('vendor_id'), family: Number(field('cpu family')), model: Number(field('model')), modelName: field('model name') };
}
