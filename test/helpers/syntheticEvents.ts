// Seeded synthetic machine-event streams, for testing and benchmarking the trace format without the
// emulator. Events are published the way the machine publishes them: one reused object per kind (and one
// reused `words` array), so a subscriber that keeps a reference instead of copying is caught.

import { InterruptionType } from '../../src/emulator/vmx/qualification.js';
import { EXIT_WORDS, ExitWord, IoDirection, type ExitEvent, type GroundTruthEvent, type InterruptEvent,
  type IoEvent, type MachineObserver, type SyscallEvent } from '../../src/emulator/events.js';

/** xorshift128 (Marsaglia 2003): a small deterministic PRNG; Math.random is not allowed in vmtrace. */
export class Prng {
  // State in an Int32Array: uint32 values above 2^31 in object fields would be boxed doubles.
  private readonly s = new Int32Array(4);
  constructor(seed: number) {
    const s = this.s;
    s[0] = seed >>> 0 || 1; s[1] = 0x9e3779b9; s[2] = 0x243f6a88; s[3] = 0xb7e15162;
    for (let i = 0; i < 16; i++) this.u32();
  }
  u32(): number {
    const st = this.s;
    let t = st[3]!;
    const s = st[0]!;
    st[3] = st[2]!; st[2] = st[1]!; st[1] = s;
    t ^= t << 11; t ^= t >>> 8;
    st[0] = t ^ s ^ (s >>> 19);
    return st[0]! >>> 0;
  }
  /** Uniform integer in [0, n). */
  below(n: number): number {
    return Math.floor((this.u32() / 4294967296) * n);
  }
}

export const SYNTHETIC_DEVICES = ['pic', 'pit', 'ata', 'uart', 'power', 'nic', 'none'] as const;
const REASONS = [0, 1, 7, 10, 12, 14, 16, 18, 28, 30, 30, 30, 31, 32, 48, 48, 52];
const GT_NAMES = ['init', 'sh', 'memcached', 'gen', 'kworker', 'caf\u00e9', ''];

export interface SyntheticOptions {
  seed: number;
  exits: number;
  /** icount of the first exit (to exercise the high word of int64 columns). */
  startIcount?: number;
  /** Exit reasons past the SDM table (null names) every this many exits (0 = never). */
  oddReasonEvery?: number;
  /** Only exits (for benchmarks). */
  exitsOnly?: boolean;
}

/**
 * Publish a stream of `exits` exits with I/O, interrupts, ground truth and console output interleaved,
 * all drawn from a PRNG seeded with `seed`. Returns the final icount.
 */
export function emitSynthetic(obs: MachineObserver, o: SyntheticOptions): number {
  const rng = new Prng(o.seed);
  const words = new Uint32Array(EXIT_WORDS);
  const exit: ExitEvent = {
    kind: 'exit', seq: 0, icount: 0, tsc: 0, cycles: 0, cost: 0, vcpu: 0, reason: 0, instructionLength: 0,
    interruptionInfo: 0, interruptionErrorCode: 0, hasGuestLinear: false, hasGuestPhysical: false,
    cs: 0, ss: 0, cpl: 0, words,
  };
  const io: IoEvent = { kind: 'io', icount: 0, exitSeq: -1, port: 0, size: 1, direction: IoDirection.out, value: 0, data: null, device: 'none' };
  const intr: InterruptEvent = { kind: 'interrupt', icount: 0, vector: 0, type: InterruptionType.externalInterrupt, errorCode: -1 };
  const gt: GroundTruthEvent = { kind: 'groundTruth', icount: 0, type: 1, pid: 0, tid: 0, ppid: 0, cr3: 0, a0: 0, a1: 0, a2: 0, name: '' };
  const sc: SyscallEvent = {
    kind: 'syscall', icount: 0, exitSeq: 0, strategy: 'none', number: 0, args: new Array<number>(12).fill(0),
    cr3: 0, rspLo: 0, rspHi: 0, ripLo: 0, ripHi: 0, exits: 1,
  };
  const strategies = ['double-swap', 'fill-the-gap', 'handler-injection', 'selective', 'nitro'];
  const stringBuf = new Uint8Array(256);
  const consoleBuf = new Uint8Array(64);
  const cpi = 2;
  let icount = o.startIcount ?? 1000;
  let cycles = icount * cpi;
  for (let seq = 0; seq < o.exits; seq++) {
    icount += 1 + rng.below(5000);
    const odd = o.oddReasonEvery ? seq % o.oddReasonEvery === o.oddReasonEvery - 1 : false;
    const reason = odd ? [86, 200, 65535][rng.below(3)]! : REASONS[rng.below(REASONS.length)]!;
    const cost = 500 + rng.below(20000);
    cycles += cost + rng.below(3);
    for (let i = 0; i < EXIT_WORDS; i++) words[i] = rng.u32();
    exit.seq = seq;
    exit.icount = icount;
    exit.tsc = icount * cpi;
    exit.cycles = cycles;
    exit.cost = cost;
    exit.vcpu = rng.below(4);
    exit.reason = reason;
    exit.instructionLength = rng.below(16);
    exit.interruptionInfo = rng.u32();
    exit.interruptionErrorCode = rng.u32();
    exit.hasGuestLinear = rng.below(3) === 0;
    exit.hasGuestPhysical = reason === 48;
    // As the machine does (events.ts): undefined addresses are 0 in `words`.
    if (!exit.hasGuestLinear) words[ExitWord.guestLinear] = words[ExitWord.guestLinear + 1] = 0;
    if (!exit.hasGuestPhysical) words[ExitWord.guestPhysical] = words[ExitWord.guestPhysical + 1] = 0;
    exit.cs = rng.below(65536);
    exit.ss = rng.below(65536);
    exit.cpl = rng.below(4);
    obs.onExit?.(exit);
    if (o.exitsOnly) continue;

    if (reason === 30 || rng.below(8) === 0) {
      io.icount = icount;
      io.exitSeq = reason === 30 ? seq : -1;
      io.port = rng.below(65536);
      io.size = [1, 2, 4][rng.below(3)]!;
      io.direction = rng.below(2) as IoDirection;
      io.value = rng.u32();
      if (rng.below(6) === 0) {
        const n = rng.below(stringBuf.length);
        for (let i = 0; i < n; i++) stringBuf[i] = rng.below(256);
        io.data = stringBuf.subarray(0, n);
      } else io.data = null;
      io.device = SYNTHETIC_DEVICES[rng.below(SYNTHETIC_DEVICES.length)]!;
      obs.onIo?.(io);
    }
    if (rng.below(10) === 0) {
      intr.icount = icount;
      intr.vector = rng.below(256);
      intr.type = ([0, 2, 3, 4, 5, 6] as const)[rng.below(6)]!;
      intr.errorCode = rng.below(2) === 0 ? -1 : rng.u32();
      obs.onInterrupt?.(intr);
    }
    if (rng.below(20) === 0) {
      gt.icount = icount;
      gt.type = rng.below(9); // 8 is not a GT type: exercises null type_name
      gt.pid = rng.below(100);
      gt.tid = rng.below(1000);
      gt.ppid = rng.below(100);
      gt.cr3 = rng.below(1 << 20) * 4096;
      gt.a0 = rng.u32() * 2048 + rng.below(2048); // up to 2^43
      gt.a1 = rng.u32();
      gt.a2 = rng.below(2) === 0 ? 0 : 2 ** 52 + rng.u32();
      gt.name = GT_NAMES[rng.below(GT_NAMES.length)]!;
      obs.onGroundTruth?.(gt);
    }
    if (reason === 18 || (reason === 0 && rng.below(4) === 0)) {
      sc.icount = icount - 1;
      sc.exitSeq = seq;
      sc.strategy = strategies[rng.below(strategies.length)]!;
      sc.exits = sc.strategy === 'double-swap' || sc.strategy === 'nitro' ? 2 : 1;
      sc.number = rng.below(512);
      for (let i = 0; i < 12; i++) sc.args[i] = rng.u32();
      sc.cr3 = rng.below(1 << 20) * 4096;
      sc.rspLo = rng.u32();
      sc.rspHi = rng.below(0x8000);
      sc.ripLo = rng.u32();
      sc.ripHi = rng.below(0x8000);
      obs.onSyscall?.(sc);
    }
    if (rng.below(15) === 0) {
      const n = 1 + rng.below(consoleBuf.length - 1);
      for (let i = 0; i < n; i++) consoleBuf[i] = 32 + rng.below(95);
      consoleBuf[n - 1] = 10;
      obs.onConsole?.(consoleBuf.subarray(0, n));
    }
  }
  return icount;
}
