// Block device: the ATA PIO subset of docs/machine.md (ports 0x1f0-0x1f7, IRQ 14, vector 0x2e) over a disk
// image in memory. Protocol as in ATA/ATAPI-6 (T13 1410D) sections 9.7 "PIO data-in" and 9.8 "PIO data-out",
// with every device-side delay zero (BSY is never seen set):
//
// - 0x1f2 sector count (0 = 256), 0x1f3-0x1f5 LBA bits 0-23, 0x1f6 low nibble LBA bits 24-27 (the upper bits
//   are stored and read back; only drive 0 exists and addressing is always LBA), 0x1f1 read: error register
//   (0x04 ABRT, 0x10 IDNF), write: features (ignored).
// - 0x1f7 write 0x20 READ SECTORS: each sector in turn is loaded into the buffer, DRQ set and IRQ 14 raised
//   (data-in: one interrupt per sector "ready"); the guest reads 512 bytes from 0x1f0; after the last one DRQ
//   clears.
// - 0x1f7 write 0x30 WRITE SECTORS: DRQ is set at once without an interrupt; after each 512 bytes written to
//   0x1f0 the sector is stored and IRQ 14 raised (data-out: ready for the next sector, or after the last
//   one, command complete with DRQ clear).
// - Sectors beyond the disk: status ERR, error IDNF, IRQ 14, no data phase. Any other command: ERR, ABRT.
// - 0x1f7 read: status (0x40 DRDY, 0x08 DRQ, 0x01 ERR); reading it withdraws a pending IRQ 14.
// - 0x1f0: any access size moves that many bytes (little endian); reads with no DRQ return 0 and writes
//   with no DRQ are ignored. REP INSW/INSD/OUTSW/OUTSD go through inString/outString in bulk.
//
// The image given to the constructor is never modified (and must not be by the caller): the device works
// on a copy (`disk`), and its saved state holds only the sectors written since construction, so a
// checkpoint costs what the guest wrote, not the disk size.

import { DeviceStateError, StateReader, type AccessSize, type Device, type DeviceContext, type PortRange } from './Device.js';

export const ATA_IRQ = 14;
export const SECTOR = 512;

export const AtaStatus = { bsy: 0x80, drdy: 0x40, drq: 0x08, err: 0x01 } as const;
export const AtaError = { abrt: 0x04, idnf: 0x10 } as const;
export const AtaCommand = { readSectors: 0x20, writeSectors: 0x30 } as const;

const Mode = { idle: 0, read: 1, write: 2 } as const;
type Mode = (typeof Mode)[keyof typeof Mode];

export class BlockDevice implements Device {
  readonly name = 'ata';
  readonly ports: readonly PortRange[] = [[0x1f0, 0x1f7]];
  /** The disk as the guest has written it. */
  readonly disk: Uint8Array;
  readonly sectors: number;
  status: number = AtaStatus.drdy;
  error = 0;
  /** Task-file registers 0x1f2-0x1f6 (sector count, LBA low/mid/high, device). */
  private readonly regs = new Uint8Array(5);
  private mode: Mode = Mode.idle;
  /** Sector being transferred and sectors left in the command (including it). */
  private lba = 0;
  private remaining = 0;
  private readonly buf = new Uint8Array(SECTOR);
  private pos = 0;
  private irqLine = false;
  /** Sectors written since construction (for saveState). */
  private readonly dirty = new Set<number>();
  sectorsRead = 0;
  sectorsWritten = 0;

  constructor(private readonly ctx: DeviceContext, private readonly image: Uint8Array) {
    if (image.length % SECTOR !== 0) {
      throw new Error(`ata: disk image of ${image.length} bytes is not a whole number of ${SECTOR}-byte sectors`);
    }
    this.disk = image.slice();
    this.sectors = image.length / SECTOR;
  }

  in(port: number, size: AccessSize): number {
    switch (port) {
      case 0x1f0: {
        if (this.mode !== Mode.read) return 0;
        let v = 0;
        for (let k = 0; k < size; k++) {
          v |= this.buf[this.pos++] << (8 * k);
          if (this.pos === SECTOR) this.sectorRead();
          if (this.mode !== Mode.read) break;
        }
        return v >>> 0;
      }
      case 0x1f1: return this.error;
      case 0x1f7:
        if (this.irqLine) {
          this.irqLine = false;
          this.ctx.lowerIrq(ATA_IRQ);
        }
        return this.status;
      default: return this.regs[port - 0x1f2];
    }
  }

  out(port: number, size: AccessSize, value: number): void {
    switch (port) {
      case 0x1f0:
        if (this.mode !== Mode.write) return;
        for (let k = 0; k < size; k++) {
          this.buf[this.pos++] = (value >>> (8 * k)) & 0xff;
          if (this.pos === SECTOR) this.sectorWritten();
          if (this.mode !== Mode.write) break;
        }
        return;
      case 0x1f1: return; // features
      case 0x1f7: this.command(value & 0xff); return;
      default: this.regs[port - 0x1f2] = value & 0xff;
    }
  }

  inString(port: number, size: AccessSize, dst: Uint8Array): void {
    if (port !== 0x1f0) return this.elementwiseIn(port, size, dst);
    let k = 0;
    while (k < dst.length && this.mode === Mode.read) {
      const n = Math.min(dst.length - k, SECTOR - this.pos);
      dst.set(this.buf.subarray(this.pos, this.pos + n), k);
      k += n;
      this.pos += n;
      if (this.pos === SECTOR) this.sectorRead();
    }
    dst.fill(0, k);
  }

  outString(port: number, size: AccessSize, src: Uint8Array): void {
    if (port !== 0x1f0) {
      for (let k = 0; k < src.length; k += size) this.out(port, size, src[k]);
      return;
    }
    let k = 0;
    while (k < src.length && this.mode === Mode.write) {
      const n = Math.min(src.length - k, SECTOR - this.pos);
      this.buf.set(src.subarray(k, k + n), this.pos);
      k += n;
      this.pos += n;
      if (this.pos === SECTOR) this.sectorWritten();
    }
  }

  private elementwiseIn(port: number, size: AccessSize, dst: Uint8Array): void {
    for (let k = 0; k < dst.length; k += size) {
      const v = this.in(port, size);
      for (let b = 0; b < size; b++) dst[k + b] = (v >>> (8 * b)) & 0xff;
    }
  }

  private command(cmd: number): void {
    const r = this.regs;
    const count = r[0] === 0 ? 256 : r[0];
    const lba = r[1] | (r[2] << 8) | (r[3] << 16) | ((r[4] & 0x0f) << 24);
    this.mode = Mode.idle;
    this.pos = 0;
    this.error = 0;
    if (cmd !== AtaCommand.readSectors && cmd !== AtaCommand.writeSectors) {
      this.fail(AtaError.abrt);
      return;
    }
    if (lba + count > this.sectors) {
      this.fail(AtaError.idnf);
      return;
    }
    this.lba = lba;
    this.remaining = count;
    this.status = AtaStatus.drdy | AtaStatus.drq;
    if (cmd === AtaCommand.readSectors) {
      this.mode = Mode.read;
      this.loadSector();
    } else {
      this.mode = Mode.write; // data-out: the first DRQ comes without an interrupt
    }
  }

  private fail(err: number): void {
    this.error = err;
    this.status = AtaStatus.drdy | AtaStatus.err;
    this.raise();
  }

  private loadSector(): void {
    const off = this.lba * SECTOR;
    this.buf.set(this.disk.subarray(off, off + SECTOR));
    this.pos = 0;
    this.raise();
  }

  private sectorRead(): void {
    this.sectorsRead++;
    this.lba++;
    if (--this.remaining > 0) {
      this.loadSector();
    } else {
      this.mode = Mode.idle;
      this.status = AtaStatus.drdy;
    }
  }

  private sectorWritten(): void {
    this.disk.set(this.buf, this.lba * SECTOR); // in range: command() checked lba + count
    this.dirty.add(this.lba);
    this.sectorsWritten++;
    this.lba++;
    this.pos = 0;
    if (--this.remaining === 0) {
      this.mode = Mode.idle;
      this.status = AtaStatus.drdy;
    }
    this.raise();
  }

  private raise(): void {
    this.irqLine = true;
    this.ctx.raiseIrq(ATA_IRQ);
  }

  saveState(): unknown {
    const dirty = [...this.dirty].sort((a, b) => a - b);
    const data = new Uint8Array(dirty.length * SECTOR);
    dirty.forEach((s, i) => data.set(this.disk.subarray(s * SECTOR, (s + 1) * SECTOR), i * SECTOR));
    return {
      sectors: this.sectors, status: this.status, error: this.error, regs: this.regs.slice(), mode: this.mode,
      lba: this.lba, remaining: this.remaining, buf: this.buf.slice(), pos: this.pos, irqLine: this.irqLine,
      dirty, dirtyData: data, sectorsRead: this.sectorsRead, sectorsWritten: this.sectorsWritten,
    };
  }

  loadState(state: unknown): void {
    const r = new StateReader(this.name, state);
    if (r.uint('sectors') !== this.sectors) throw new DeviceStateError(this.name, `state is for a disk of ${r.num('sectors')} sectors, this one has ${this.sectors}`);
    const dirty = r.numList('dirty');
    const data = r.bytes('dirtyData', dirty.length * SECTOR);
    for (const s of dirty) if (!Number.isInteger(s) || s < 0 || s >= this.sectors) throw new DeviceStateError(this.name, `state names sector ${s}`);
    const mode = r.uint('mode', 2) as Mode;
    this.status = r.uint('status', 0xff);
    this.error = r.uint('error', 0xff);
    this.regs.set(r.bytes('regs', 5));
    this.lba = r.uint('lba', this.sectors);
    this.remaining = r.uint('remaining', 256);
    this.buf.set(r.bytes('buf', SECTOR));
    this.pos = r.uint('pos', SECTOR);
    this.irqLine = r.bool('irqLine');
    this.sectorsRead = r.uint('sectorsRead');
    this.sectorsWritten = r.uint('sectorsWritten');
    this.mode = mode;
    // Back to the image, then the sectors written before the checkpoint.
    for (const s of this.dirty) this.disk.set(this.image.subarray(s * SECTOR, (s + 1) * SECTOR), s * SECTOR);
    this.dirty.clear();
    dirty.forEach((s, i) => {
      this.disk.set(data.subarray(i * SECTOR, (i + 1) * SECTOR), s * SECTOR);
      this.dirty.add(s);
    });
  }
}
