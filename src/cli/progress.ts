// A one-line progress display on stderr, only when stderr is a terminal (silent otherwise, so logs and
// pipes stay clean). Host time appears here only, never in a trace.

import type { RunResult } from '../emulator/machine.js';

export function progressLine(label: string): { update(r: RunResult): void; done(): void } {
  const tty = process.stderr.isTTY === true;
  const start = performance.now();
  let shown = false;
  return {
    update(r: RunResult): void {
      if (!tty) return;
      const s = (performance.now() - start) / 1000;
      const mips = s > 0 ? r.icount / s / 1e6 : 0;
      process.stderr.write(`\r${label}: ${(r.icount / 1e6).toFixed(1)}M instructions, ${r.exits} exits, ${mips.toFixed(1)} MIPS   `);
      shown = true;
    },
    done(): void {
      if (tty && shown) process.stderr.write('\n');
    },
  };
}
