// Exit-by-exit checking of a replay against the recording, with rr's field-by-field register comparison.
//
// Exact mode: every replayed exit must equal the next recorded exit (seq, icount, guest TSC, modelled cycles
// and cost, vCPU, reason, qualification, instruction length, interruption info, which addresses are valid and
// their values, selectors, CPL and the full register snapshot), reported field by field as rr does.
// Subsequence mode (replay under another exit configuration): the recorded exits must appear, in order and
// unchanged, among the replayed ones; the others are counted as additional exits by reason. Guest time
// derives from icount, so the guest executes the same instructions either way.

import { EXIT_WORDS, ExitWord, GPR_NAMES, type ExitEvent } from '../emulator/events.js';

/** A recorded exit as the trace stores it (the subset the checker compares). */
export interface RecordedExit {
  seq: number;
  icount: number;
  tsc: number;
  cycles: number;
  cost: number;
  vcpu: number;
  hasGuestLinear: boolean;
  hasGuestPhysical: boolean;
  reason: number;
  instructionLength: number;
  interruptionInfo: number;
  interruptionErrorCode: number;
  cs: number;
  ss: number;
  cpl: number;
  /** Word k of the EXIT_WORDS uint32 words laid out by ExitWord (ExitEvent.words[k]). */
  word(k: number): number;
}

export interface FieldDiff {
  field: string;
  recorded: string;
  replayed: string;
}

export interface Divergence {
  /** Sequence number of the recorded exit that did not match (or was missing). */
  seq: number;
  icount: number;
  /** The replayed exit's icount and reason, when there was one. */
  replayedIcount: number | null;
  replayedReason: number | null;
  diffs: FieldDiff[];
  /** The last recorded exit that matched (seq, icount), or null if none did. */
  lastMatch: { seq: number; icount: number } | null;
  message: string;
}

const WORD_FIELDS: Array<[string, number]> = [
  ...GPR_NAMES.map((n, i) => [n, i * 2] as [string, number]),
  ['rip', ExitWord.rip], ['rflags', ExitWord.rflags], ['cr0', ExitWord.cr0], ['cr3', ExitWord.cr3], ['cr4', ExitWord.cr4],
  ['qualification', ExitWord.qualification], ['guest_linear', ExitWord.guestLinear], ['guest_physical', ExitWord.guestPhysical],
];

function hex64(lo: number, hi: number): string {
  return `0x${((BigInt(hi) << 32n) | BigInt(lo)).toString(16)}`;
}

/** What of an exit a replay can reproduce besides the guest's execution (both true in an exact replay). */
export interface Accounting {
  /** The exit's sequence number: the same exits before it (not under another exit configuration). */
  seq: boolean;
  /** Modelled `cycles` and `cost`: the recording's cost model, exit configuration and interception strategy. */
  cost: boolean;
}

const EXACT: Accounting = { seq: true, cost: true };
const NO_DIFFS: FieldDiff[] = [];

/** Word offsets of WORD_FIELDS, for the comparison every exit takes. */
const WORD_AT = Int32Array.from(WORD_FIELDS.map(([, at]) => at));

/**
 * Whether a replayed exit equals the recorded one in every field diffExit compares: the same comparisons,
 * without building the list of differences (every exit of a replay takes this path; diffExit then says what
 * differs in the one that does not match).
 */
export function sameExit(rec: RecordedExit, rep: ExitEvent, accounting: Accounting = EXACT): boolean {
  if ((accounting.seq && rec.seq !== rep.seq) || rec.icount !== rep.icount || rec.tsc !== rep.tsc) return false;
  if (accounting.cost && (rec.cycles !== rep.cycles || rec.cost !== rep.cost)) return false;
  if (rec.vcpu !== rep.vcpu || rec.hasGuestLinear !== rep.hasGuestLinear || rec.hasGuestPhysical !== rep.hasGuestPhysical ||
    rec.reason !== rep.reason || rec.instructionLength !== rep.instructionLength ||
    rec.interruptionInfo >>> 0 !== rep.interruptionInfo >>> 0 || rec.interruptionErrorCode >>> 0 !== rep.interruptionErrorCode >>> 0 ||
    rec.cs !== rep.cs || rec.ss !== rep.ss || rec.cpl !== rep.cpl) return false;
  const b = rep.words;
  for (let k = 0; k < WORD_AT.length; k++) {
    const at = WORD_AT[k]!;
    if (rec.word(at) !== b[at] || rec.word(at + 1) !== b[at + 1]) return false;
  }
  return true;
}

/** Field-by-field differences between a recorded and a replayed exit (empty when equal). */
export function diffExit(rec: RecordedExit, rep: ExitEvent, accounting: Accounting = EXACT): FieldDiff[] {
  const d: FieldDiff[] = [];
  const scalar = (field: string, a: number | boolean, b: number | boolean): void => {
    if (a !== b) d.push({ field, recorded: String(a), replayed: String(b) });
  };
  if (accounting.seq) scalar('seq', rec.seq, rep.seq);
  scalar('icount', rec.icount, rep.icount);
  scalar('ts', rec.tsc, rep.tsc);
  if (accounting.cost) {
    scalar('cycles', rec.cycles, rep.cycles);
    scalar('cost', rec.cost, rep.cost);
  }
  scalar('cpu', rec.vcpu, rep.vcpu);
  scalar('guest_linear valid', rec.hasGuestLinear, rep.hasGuestLinear);
  scalar('guest_physical valid', rec.hasGuestPhysical, rep.hasGuestPhysical);
  scalar('exit_reason', rec.reason, rep.reason);
  scalar('instruction_length', rec.instructionLength, rep.instructionLength);
  scalar('interruption_info', rec.interruptionInfo >>> 0, rep.interruptionInfo >>> 0);
  scalar('interruption_error_code', rec.interruptionErrorCode >>> 0, rep.interruptionErrorCode >>> 0);
  scalar('cs', rec.cs, rep.cs);
  scalar('ss', rec.ss, rep.ss);
  scalar('cpl', rec.cpl, rep.cpl);
  for (const [name, at] of WORD_FIELDS) {
    if (rec.word(at) !== rep.words[at] || rec.word(at + 1) !== rep.words[at + 1]) {
      d.push({ field: name, recorded: hex64(rec.word(at), rec.word(at + 1)), replayed: hex64(rep.words[at]!, rep.words[at + 1]!) });
    }
  }
  return d;
}

export class ExitChecker {
  private pos = 0;
  /** The last recorded exit that matched (-1: none yet), as numbers: an object per matched exit was 2M
   *  allocations in a 2M-exit replay. */
  private lastMatchSeq = -1;
  private lastMatchIcount = 0;
  divergence: Divergence | null = null;
  matched = 0;
  /** Recorded exits passed over by `skip`. */
  skipped = 0;
  /** Cut recordings: replayed exits after the last recorded exit on disk. */
  beyond = 0;
  /** Cut recordings: recorded exits at or after the icount where the replay ended (past the input log's end). */
  unchecked = 0;
  /** Exits the replay produced that the recording does not have (subsequence mode), by reason. */
  readonly additional = new Map<number, number>();

  constructor(
    private readonly recorded: (index: number) => RecordedExit | undefined,
    private readonly recordedCount: number,
    private readonly subsequence: boolean,
    /** Index of the first recorded exit to check (replay from a checkpoint). */
    first = 0,
    /**
     * Recorded exits the replay is not expected to take (those the recording's interception strategy caused,
     * when replaying under another strategy): skipped and counted in `skipped`.
     */
    private readonly skip: ((rec: RecordedExit) => boolean) | null = null,
    /**
     * The recording was cut (its recorder killed): the exits on disk end somewhere, the run did not. Replayed
     * exits after the last one on disk are counted in `beyond`, recorded ones the replay did not reach (it ends
     * where the input log was cut) in `unchecked`.
     */
    private readonly cut = false,
    /** What besides the execution is compared (default: everything, an exact replay). */
    private readonly accounting: Accounting = subsequence ? { seq: false, cost: false } : EXACT,
  ) {
    if (EXIT_WORDS !== 48) throw new Error('exit snapshot layout changed');
    this.pos = first;
  }

  /** Feed one replayed exit; returns false once diverged (the caller stops the machine). */
  onExit(e: ExitEvent): boolean {
    if (this.divergence !== null) return false;
    const rec = this.next();
    if (rec === undefined) {
      if (this.cut) {
        this.beyond++;
        return true;
      }
      if (this.subsequence) {
        this.additional.set(e.reason, (this.additional.get(e.reason) ?? 0) + 1);
        return true;
      }
      this.diverge(null, e, [{ field: 'exit', recorded: '(none: the recording ends here)', replayed: `reason ${e.reason} at icount ${e.icount}` }]);
      return false;
    }
    const diffs = sameExit(rec, e, this.accounting) ? NO_DIFFS : diffExit(rec, e, this.accounting);
    if (diffs.length === 0) {
      this.pos++;
      this.matched++;
      this.lastMatchSeq = rec.seq;
      this.lastMatchIcount = rec.icount;
      return true;
    }
    if (this.subsequence && (e.icount < rec.icount || (e.icount === rec.icount && e.reason !== rec.reason))) {
      // An exit only this configuration takes: allowed before the next recorded one.
      this.additional.set(e.reason, (this.additional.get(e.reason) ?? 0) + 1);
      return true;
    }
    if (this.subsequence && e.icount > rec.icount) {
      this.diverge(rec, e, [{
        field: 'exit', recorded: `reason ${rec.reason} at icount ${rec.icount}`,
        replayed: '(not taken: this exit configuration must include every recorded exit)',
      }]);
      return false;
    }
    this.diverge(rec, e, diffs);
    return false;
  }

  /** The next recorded exit to match, past the skipped ones. */
  private next(): RecordedExit | undefined {
    let rec = this.recorded(this.pos);
    if (this.skip !== null) {
      while (rec !== undefined && this.skip(rec)) {
        this.skipped++;
        rec = this.recorded(++this.pos);
      }
    }
    return rec;
  }

  /**
   * At the end of the replay: every recorded exit must have been seen (of a cut recording, every one before
   * the icount where the replay ended: `recordedCount` bounds the count of the others).
   */
  finish(finalIcount: number): Divergence | null {
    const rec = this.divergence === null ? this.next() : undefined;
    if (rec !== undefined && this.cut && rec.icount >= finalIcount) {
      this.unchecked = this.recordedCount - this.pos;
      return null;
    }
    if (rec !== undefined) {
      this.diverge(rec, null, [{ field: 'exit', recorded: `reason ${rec.reason} at icount ${rec.icount}`, replayed: `(none: the replay ended at icount ${finalIcount})` }]);
    }
    return this.divergence;
  }

  private diverge(rec: RecordedExit | null, e: ExitEvent | null, diffs: FieldDiff[]): void {
    const seq = rec?.seq ?? this.pos;
    const icount = rec?.icount ?? e?.icount ?? 0;
    const lastMatch = this.lastMatchSeq < 0 ? null : { seq: this.lastMatchSeq, icount: this.lastMatchIcount };
    const last = lastMatch === null ? 'no exit matched before it' : `last match: exit ${lastMatch.seq} at icount ${lastMatch.icount}`;
    const lines = diffs.map((d) => `  ${d.field.padEnd(24)} recorded ${d.recorded.padEnd(20)} replayed ${d.replayed}`);
    this.divergence = {
      seq, icount, replayedIcount: e?.icount ?? null, replayedReason: e?.reason ?? null, diffs, lastMatch,
      message: `divergence at exit ${seq} (icount ${icount}); ${last}\n${lines.join('\n')}`,
    };
  }
}
