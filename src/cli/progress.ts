// Progress on stderr for the long commands (record, replay, compare-interception's replays, export, report),
// drawn by cli-progress, only when stderr is a terminal: logs, pipes and tests stay clean. Host time appears
// here only (rates), never in a trace.

import cliProgress from 'cli-progress';
import type { RunResult } from '../emulator/machine.js';
import type { ProgressSink } from '../analyses/result.js';

/** Whether progress is drawn at all (stderr is a TTY). */
export const progressEnabled = (): boolean => process.stderr.isTTY === true;

interface Payload { label: string; detail: string }

function newBar(format: string): cliProgress.SingleBar {
  return new cliProgress.SingleBar({
    format, stream: process.stderr, hideCursor: true, clearOnComplete: false, stopOnComplete: false,
    etaBuffer: 50, fps: 5, barsize: 30, noTTYOutput: false,
  }, cliProgress.Presets.shades_classic);
}

/**
 * A bar over guest instructions for a machine run (record, replay): with `totalIcount` known (a replay of a
 * recording) a bar with percentage and ETA, else a counter of instructions, exits and MIPS.
 */
export function runProgress(label: string, totalIcount?: number): { update(r: RunResult, consoleLine?: string): void; done(): void } {
  if (!progressEnabled()) return { update: () => {}, done: () => {} };
  const known = totalIcount !== undefined && totalIcount > 0;
  const bar = newBar(known
    ? '{label} |{bar}| {percentage}% | ETA {eta_formatted} | {detail}'
    : '{label} | {detail}');
  const start = performance.now();
  let started = false;
  return {
    update(r: RunResult, consoleLine?: string): void {
      const s = (performance.now() - start) / 1000;
      const mips = s > 0 ? r.icount / s / 1e6 : 0;
      let detail = `${(r.icount / 1e6).toFixed(1)}M instructions, ${r.exits} exits, ${mips.toFixed(1)} MIPS`;
      // The guest's last console line (a kernel's boot messages), cut so the line fits the terminal.
      if (consoleLine !== undefined && consoleLine.length > 0) {
        const room = (process.stderr.columns ?? 120) - label.length - detail.length - (known ? 70 : 10);
        if (room > 10) detail += ` | ${consoleLine.slice(0, room)}`;
      }
      const payload: Payload = { label, detail };
      if (!started) {
        bar.start(known ? totalIcount : 1, 0, payload);
        started = true;
      }
      bar.update(known ? Math.min(r.icount, totalIcount) : 0, payload);
    },
    done(): void {
      if (started) bar.stop();
    },
  };
}

/** A ProgressSink (the analyses' and exporters' interface) drawn as one bar per stage. */
export function stageProgress(): ProgressSink & { done(): void } {
  if (!progressEnabled()) return { stage: () => {}, update: () => {}, done: () => {} };
  let bar: cliProgress.SingleBar | null = null;
  let label = '';
  let unit = '';
  const close = (): void => {
    bar?.stop();
    bar = null;
  };
  return {
    stage(l: string, total: number, u: string): void {
      close();
      label = l;
      unit = u;
      bar = newBar('{label} |{bar}| {percentage}% | {value}/{total} {detail} | ETA {eta_formatted}');
      bar.start(Math.max(1, total), 0, { label, detail: unit } satisfies Payload);
    },
    update(done: number): void {
      bar?.update(done, { label, detail: unit } satisfies Payload);
    },
    done: close,
  };
}
