// A one-line progress display on stderr, only when stderr is a terminal (silent otherwise, so logs and
// pipes stay clean). Host time appears here only, never in a trace.

import type { RunResult } from '../emulator/machine.js';

export function progressLine(label: string): { update(r: RunResult, consoleLine?: string): void; done(): void } {
  const tty = process.stderr.isTTY === true;
  const start = performance.now();
  let shown = false;
  return {
    update(r: RunResult, consoleLine?: string): void {
      if (!tty) return;
      const s = (performance.now() - start) / 1000;
      const mips = s > 0 ? r.icount / s / 1e6 : 0;
      let text = `${label}: ${(r.icount / 1e6).toFixed(1)}M instructions, ${r.exits} exits, ${mips.toFixed(1)} MIPS`;
      // The guest's last console line (a kernel's boot messages), cut to the terminal's width.
      if (consoleLine !== undefined && consoleLine.length > 0) text += ` | ${consoleLine}`;
      const cols = process.stderr.columns ?? 120;
      process.stderr.write(`\r${text.slice(0, cols - 1).padEnd(cols - 1)}`);
      shown = true;
    },
    done(): void {
      if (tty && shown) process.stderr.write('\n');
    },
  };
}
