// The recorded exits, one at a time, as the ExitEvents the machine published: what the replayer compares
// its own exits against, field by field, from inside the machine's synchronous onExit callback.
// Allocation-free per exit (one batch is decoded every 32768 exits).

import { EXIT_WORDS, ExitWord, type ExitEvent } from '../emulator/events.js';
import { ColumnView } from './ColumnView.js';
import { EXITS, EXIT_WORD_COLUMNS } from './schema.js';
import type { TableFileReader } from './TableFileReader.js';

const index = (name: string): number => EXITS.columns.findIndex((c) => c.name === name);
const COL = Object.fromEntries(['seq', 'icount', 'ts', 'cycles', 'cost', 'cpu', 'exit_reason', 'instruction_length',
  'interruption_info', 'interruption_error_code', 'guest_linear', 'guest_physical', 'cs', 'ss', 'cpl']
  .map((n) => [n, index(n)])) as Record<'seq' | 'icount' | 'ts' | 'cycles' | 'cost' | 'cpu' | 'exit_reason' |
  'instruction_length' | 'interruption_info' | 'interruption_error_code' | 'guest_linear' | 'guest_physical' |
  'cs' | 'ss' | 'cpl', number>;

/** A fresh ExitEvent to read into. */
export function newExitEvent(): ExitEvent {
  return {
    kind: 'exit', seq: 0, icount: 0, tsc: 0, cycles: 0, cost: 0, vcpu: 0, reason: 0, instructionLength: 0,
    interruptionInfo: 0, interruptionErrorCode: 0, hasGuestLinear: false, hasGuestPhysical: false,
    cs: 0, ss: 0, cpl: 0, words: new Uint32Array(EXIT_WORDS),
  };
}

export class ExitCursor {
  private batchIndex = 0;
  private row = 0;
  private length = 0;
  private cols: ColumnView[] = [];
  private words: Uint32Array[] = [];
  private readonly wordDst = Int32Array.from(EXIT_WORD_COLUMNS.map(([, w]) => w));
  private readonly wordCol = EXIT_WORD_COLUMNS.map(([name]) => index(name));
  /** Exits returned so far (the seq of the next one, in an intact trace). */
  position = 0;

  constructor(private readonly file: TableFileReader) {}

  /** Fill `into` with the next recorded exit; false (and the file closed) after the last one. */
  next(into: ExitEvent): boolean {
    if (this.row === this.length && !this.load()) return false;
    const i = this.row++;
    const c = this.cols;
    into.seq = c[COL.seq]!.number(i);
    into.icount = c[COL.icount]!.number(i);
    into.tsc = c[COL.ts]!.number(i);
    into.cycles = c[COL.cycles]!.number(i);
    into.cost = c[COL.cost]!.number(i);
    into.vcpu = c[COL.cpu]!.number(i);
    into.reason = c[COL.exit_reason]!.number(i);
    into.instructionLength = c[COL.instruction_length]!.number(i);
    into.interruptionInfo = c[COL.interruption_info]!.number(i);
    into.interruptionErrorCode = c[COL.interruption_error_code]!.number(i);
    into.hasGuestLinear = !c[COL.guest_linear]!.isNull(i);
    into.hasGuestPhysical = !c[COL.guest_physical]!.isNull(i);
    into.cs = c[COL.cs]!.number(i);
    into.ss = c[COL.ss]!.number(i);
    into.cpl = c[COL.cpl]!.number(i);
    const w = into.words;
    for (let k = 0; k < this.words.length; k++) {
      const src = this.words[k]!;
      const d = this.wordDst[k]!;
      w[d] = src[2 * i]!;
      w[d + 1] = src[2 * i + 1]!;
    }
    // Undefined addresses travel as 0 in ExitEvent (events.ts), whatever the null slot holds.
    if (!into.hasGuestLinear) w[ExitWord.guestLinear] = w[ExitWord.guestLinear + 1] = 0;
    if (!into.hasGuestPhysical) w[ExitWord.guestPhysical] = w[ExitWord.guestPhysical + 1] = 0;
    this.position++;
    return true;
  }

  close(): void {
    this.file.close();
  }

  private load(): boolean {
    if (this.batchIndex >= this.file.numBatches) {
      this.close();
      return false;
    }
    const batch = this.file.batch(this.batchIndex++);
    this.cols = EXITS.columns.map((spec, k) => new ColumnView(spec, batch.numRows, batch.getChildAt(k)!.data[0]!));
    this.words = this.wordCol.map((k) => this.cols[k]!.words!);
    this.row = 0;
    this.length = batch.numRows;
    return this.length > 0 || this.load();
  }
}
