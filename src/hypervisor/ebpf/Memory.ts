// The memory an eBPF program may touch: a few explicitly granted regions, every access bounds-checked.
// Addresses are synthetic 64-bit values: the high word is the region's tag, the low word the byte offset in
// it, so that a pointer can never reach host memory and one compare on the high word finds the region.

export const RegionTag = { MEM: 1, STACK: 2, CTX: 3 } as const;
export type RegionTag = (typeof RegionTag)[keyof typeof RegionTag];
/** Tags 1..MAX_TAG-1 are usable; 0 is never a region (so a small integer is never a valid pointer). */
export const MAX_TAG = 8;

/** Bytes of stack per call frame (RFC 9669 section 2.2 suggests 512) and the deepest call chain. */
export const FRAME_SIZE = 512;
export const MAX_FRAMES = 8;
export const STACK_SIZE = FRAME_SIZE * MAX_FRAMES;
/** The frame pointer (r10) of call depth d, as an offset in the stack region (frames grow down). */
export const framePointer = (depth: number): number => STACK_SIZE - depth * FRAME_SIZE;

export interface RegionInit {
  name: string;
  bytes: Uint8Array;
  writable: boolean;
}

/** A run-time fault: becomes an error result, never an exception out of run(). */
export class EbpfFault extends Error {
  /** Steps of the run up to the fault (set by the engine that raised it; -1 until then). */
  steps = -1;
  constructor(message: string, public pc = -1) {
    super(message);
    this.name = 'EbpfFault';
  }
}

export const address = (tag: number, offset: number): bigint => (BigInt(tag) << 32n) | BigInt(offset >>> 0);

export class Memory {
  /** Indexed by tag. */
  readonly views: Array<DataView | undefined> = new Array<DataView | undefined>(MAX_TAG).fill(undefined);
  readonly bytes: Array<Uint8Array | undefined> = new Array<Uint8Array | undefined>(MAX_TAG).fill(undefined);
  readonly lens = new Int32Array(MAX_TAG);
  readonly writable = new Uint8Array(MAX_TAG);
  readonly names: string[] = new Array<string>(MAX_TAG).fill('');
  /**
   * Strict mode (the fuzzer's check of the verifier's claims): stack accesses must lie in the current or a
   * caller's frame (offset >= stackFloor) and stack reads must only touch bytes written before in that frame.
   */
  strict = false;
  stackFloor = 0;
  stackInit: Uint8Array | undefined;
  /** Strict-mode violations (each also faults the run). */
  readonly violations: string[] = [];

  /** A memory with the given regions at the fixed tags, plus a fresh stack. */
  static standard(opts: { mem?: Uint8Array; memWritable?: boolean; ctx?: Uint8Array; ctxWritable?: boolean } = {}): Memory {
    const m = new Memory();
    m.grant(RegionTag.MEM, { name: 'mem', bytes: opts.mem ?? new Uint8Array(0), writable: opts.memWritable ?? true });
    m.grant(RegionTag.STACK, { name: 'stack', bytes: new Uint8Array(STACK_SIZE), writable: true });
    if (opts.ctx) m.grant(RegionTag.CTX, { name: 'ctx', bytes: opts.ctx, writable: opts.ctxWritable ?? false });
    return m;
  }

  grant(tag: number, r: RegionInit): void {
    if (!Number.isInteger(tag) || tag <= 0 || tag >= MAX_TAG) throw new RangeError(`region tag ${tag} out of 1..${MAX_TAG - 1}`);
    if (r.bytes.length > 0x7fffffff) throw new RangeError('region larger than 2 GiB');
    this.views[tag] = new DataView(r.bytes.buffer, r.bytes.byteOffset, r.bytes.byteLength);
    this.bytes[tag] = r.bytes;
    this.lens[tag] = r.bytes.length;
    this.writable[tag] = r.writable ? 1 : 0;
    this.names[tag] = r.name;
  }

  /** Begin strict checking (called by the interpreter at the start of a checked run). */
  enableStrict(): void {
    this.strict = true;
    this.stackFloor = framePointer(1);
    this.stackInit = new Uint8Array(STACK_SIZE);
  }

  /**
   * Check an access of `size` bytes at (hi, lo) and return the region's view; throws EbpfFault when it is not
   * entirely inside one granted region (or writes a read-only one).
   */
  check(hi: number, lo: number, size: number, write: boolean): DataView {
    const off = lo >>> 0;
    const v = hi >>> 0 < MAX_TAG ? this.views[hi] : undefined;
    if (v === undefined || off + size > this.lens[hi]!) {
      throw new EbpfFault(`${write ? 'write' : 'read'} of ${size} byte(s) at 0x${(hi >>> 0).toString(16)}_${off.toString(16).padStart(8, '0')} is outside every granted region`);
    }
    if (write && this.writable[hi] === 0) throw new EbpfFault(`write to read-only region ${this.names[hi]}`);
    if (this.strict) this.strictCheck(hi, off, size, write);
    return v;
  }

  private strictCheck(hi: number, off: number, size: number, write: boolean): void {
    if (hi !== RegionTag.STACK) return;
    const init = this.stackInit!;
    let bad: string | undefined;
    if (off < this.stackFloor) bad = `stack access at offset ${off} below the current frame (floor ${this.stackFloor})`;
    else if (write) init.fill(1, off, off + size);
    else {
      for (let i = off; i < off + size; i++) if (init[i] === 0) bad = `read of uninitialised stack byte at offset ${i}`;
    }
    if (bad !== undefined) {
      this.violations.push(bad);
      throw new EbpfFault(`strict check: ${bad}`);
    }
  }

  /** Strict mode: a call enters frame `depth` (fresh, uninitialised bytes). */
  enterFrame(depth: number): void {
    if (!this.strict) return;
    this.stackFloor = framePointer(depth + 1);
    this.stackInit!.fill(0, this.stackFloor, framePointer(depth));
  }

  leaveFrame(depth: number): void {
    if (this.strict) this.stackFloor = framePointer(depth + 1);
  }

  /** A byte range for helpers: `len` bytes at 64-bit `addr`, checked like any access. */
  span(addr: bigint, len: number, write: boolean): Uint8Array {
    const a = BigInt.asUintN(64, addr);
    const hi = Number(a >> 32n) | 0;
    const lo = Number(a & 0xffffffffn) | 0;
    if (len === 0) return new Uint8Array(0);
    this.check(hi, lo, len, write);
    const off = lo >>> 0;
    return this.bytes[hi]!.subarray(off, off + len);
  }
}
