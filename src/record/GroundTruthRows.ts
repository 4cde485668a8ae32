// ground_truth.arrow's rows (schema.ts), written straight into the batch's typed arrays by
// TraceWriter.onGroundTruth: no allocation, no BigInt per row (a task's name is encoded once while it repeats).

import type { GroundTruthEvent } from '../emulator/events.js';
import { GROUND_TRUTH_TYPE_NAMES } from './schema.js';
import { put64, type ColumnBuffer, type TableBuffer } from './TableBuffer.js';

export class GroundTruthRows {
  private readonly icount: Uint32Array; private readonly ts: Uint32Array; private readonly type: Uint32Array;
  private readonly typeName: Int8Array; private readonly pid: Uint32Array; private readonly tid: Uint32Array;
  private readonly ppid: Uint32Array; private readonly cr3: Uint32Array; private readonly a0: Uint32Array;
  private readonly a1: Uint32Array; private readonly a2: Uint32Array;
  private readonly typeNameCol: ColumnBuffer; private readonly nameCol: ColumnBuffer;
  private readonly encoder = new TextEncoder();
  /** The last name and its encoding (a task's comm repeats from event to event). */
  private lastName = '';
  private lastNameBytes = new Uint8Array(0);

  constructor(readonly table: TableBuffer, private readonly cpi: number) {
    const g = table;
    this.icount = g.words('icount'); this.ts = g.words('ts'); this.type = g.fixed('type');
    this.typeName = g.fixed('type_name'); this.pid = g.fixed('pid'); this.tid = g.fixed('tid'); this.ppid = g.fixed('ppid');
    this.cr3 = g.words('cr3'); this.a0 = g.words('a0'); this.a1 = g.words('a1'); this.a2 = g.words('a2');
    this.typeNameCol = g.col('type_name'); this.nameCol = g.col('name');
  }

  /** Add a row (the caller flushes a full batch). */
  add(e: GroundTruthEvent): void {
    const t = this.table;
    const r = t.rows;
    const r2 = r << 1;
    put64(this.icount, r2, e.icount);
    put64(this.ts, r2, e.icount * this.cpi);
    this.type[r] = e.type;
    const tn = this.typeNameCol;
    if (e.type >= 0 && e.type < GROUND_TRUTH_TYPE_NAMES.length) {
      this.typeName[r] = e.type;
      tn.setValid(r);
    } else {
      this.typeName[r] = 0;
      tn.setNull(r);
    }
    this.pid[r] = e.pid;
    this.tid[r] = e.tid;
    this.ppid[r] = e.ppid;
    put64(this.cr3, r2, e.cr3);
    put64(this.a0, r2, e.a0);
    put64(this.a1, r2, e.a1);
    put64(this.a2, r2, e.a2);
    if (e.name !== this.lastName) {
      this.lastName = e.name;
      this.lastNameBytes = this.encoder.encode(e.name.replace(/\0+$/, ''));
    }
    this.nameCol.setBytes(r, this.lastNameBytes);
    t.rows = r + 1;
  }
}
