// syscalls.arrow's rows (schema.ts), written straight into the batch's typed arrays by TraceWriter.onSyscall:
// no allocation, no BigInt per row.

import type { SyscallEvent } from '../emulator/events.js';
import { TraceError } from '../errors.js';
import { INTERCEPT_STRATEGY_NAMES } from './schema.js';
import { put64, type TableBuffer } from './TableBuffer.js';

export class SyscallRows {
  private readonly icount: Uint32Array; private readonly ts: Uint32Array; private readonly exitSeq: Uint32Array;
  private readonly exits: Uint8Array; private readonly strategy: Int8Array; private readonly number: Uint32Array;
  private readonly cr3: Uint32Array; private readonly rsp: Uint32Array; private readonly rip: Uint32Array;
  /** arg0..arg5, looked up once instead of per row. */
  private readonly args: Uint32Array[];
  /** The last strategy name and its dictionary code (one strategy per run). */
  private lastStrategy = '';
  private lastStrategyCode = -1;

  constructor(readonly table: TableBuffer, private readonly cpi: number) {
    const t = table;
    this.icount = t.words('icount'); this.ts = t.words('ts'); this.exitSeq = t.words('exit_seq');
    this.exits = t.fixed('exits'); this.strategy = t.fixed('strategy'); this.number = t.fixed('number');
    this.cr3 = t.words('cr3'); this.rsp = t.words('rsp'); this.rip = t.words('rip');
    this.args = [0, 1, 2, 3, 4, 5].map((i) => t.words(`arg${i}`));
  }

  /** Add a row (the caller flushes a full batch). */
  add(e: SyscallEvent): void {
    const t = this.table;
    const r = t.rows;
    const r2 = r << 1;
    put64(this.icount, r2, e.icount);
    put64(this.ts, r2, e.icount * this.cpi);
    put64(this.exitSeq, r2, e.exitSeq);
    this.exits[r] = e.exits;
    if (e.strategy !== this.lastStrategy || this.lastStrategyCode < 0) {
      const code = INTERCEPT_STRATEGY_NAMES.indexOf(e.strategy);
      if (code < 0) throw new TraceError(`syscalls.arrow: unknown interception strategy "${e.strategy}"`);
      this.lastStrategy = e.strategy;
      this.lastStrategyCode = code;
    }
    this.strategy[r] = this.lastStrategyCode;
    this.number[r] = e.number;
    const args = e.args;
    for (let i = 0; i < 6; i++) {
      const w = this.args[i]!;
      w[r2] = args[2 * i]!;
      w[r2 + 1] = args[2 * i + 1]!;
    }
    this.cr3[r2] = e.cr3 >>> 0;
    this.cr3[r2 + 1] = 0;
    this.rsp[r2] = e.rspLo;
    this.rsp[r2 + 1] = e.rspHi;
    this.rip[r2] = e.ripLo;
    this.rip[r2 + 1] = e.ripHi;
    t.rows = r + 1;
  }
}
