// The Whetstone oracle: guest/common/whetstone.c compiled with the guest's floating-point flags and run on the
// host CPU (test/whetstone.test.ts for our guest, test/linux-whetstone.test.ts for the Linux guest).
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

/** The host's output for `loops` loops, or null without an x86-64 gcc. */
export function nativeWhet(loops: number): string | null {
  if (process.arch !== 'x64') return null;
  try {
    const dir = join(process.cwd(), 'node_modules', '.cache', 'vmtrace-whet');
    mkdirSync(dir, { recursive: true });
    const exe = join(dir, `whet-${process.pid}`);
    // The guest's floating-point flags (guest/Makefile FPCFLAGS): SSE2 arithmetic, no contraction into FMA.
    execFileSync('gcc', ['-O2', '-std=gnu11', '-msse2', '-mfpmath=sse', '-ffp-contract=off', '-fno-math-errno', '-o', exe,
      'test/native/whetstone-main.c', 'guest/common/whetstone.c'], { stdio: ['ignore', 'ignore', 'pipe'] });
    return execFileSync(exe, [String(loops)]).toString();
  } catch {
    return null;
  }
}

/** The lines whose values both sides must print identically: each result's bits and the hash line. */
export const whetLines = (s: string): string[] => s.split('\n').map((l) => l.replace(/\r$/, '')).filter((l) => /^whet: (r\d+ |\d+ loops)/.test(l));
