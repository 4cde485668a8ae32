// A device clock of a fixed frequency (the 8254's 1.193182 MHz input, the MC146818's 32.768 kHz crystal)
// driven by guest time: guest seconds = icount x cyclesPerInstruction / tscHz (docs/machine.md "Time"), so
// clock edge k falls at a fixed instruction count and a device that counts edges is deterministic.
//
// Edge k (k >= 1) of a clock of f Hz is at guest time k / f; it has happened at instruction i when
// i x CPI x f / tscHz >= k. Both directions are exact integer arithmetic on doubles: the ratio is reduced
// (P / Q with P = CPI x f / g, Q = tscHz / g) and the products are split so no intermediate exceeds 2^53.
// Exact while edge numbers and instruction counts stay below 2^53. Not per instruction: devices call it at
// an IN/OUT or when an event falls due.

export class GuestClock {
  /** Edges per Q instructions. */
  private readonly p: number;
  /** Instructions per P edges. */
  private readonly q: number;

  constructor(readonly hz: number, cyclesPerInstruction: number, tscHz: number) {
    if (!Number.isInteger(hz) || hz <= 0) throw new Error(`device clock: frequency must be a positive integer, got ${hz}`);
    if (!Number.isInteger(cyclesPerInstruction) || cyclesPerInstruction <= 0) {
      throw new Error(`device clock: cycles per instruction must be a positive integer, got ${cyclesPerInstruction}`);
    }
    if (!Number.isInteger(tscHz) || tscHz <= 0) throw new Error(`device clock: TSC frequency must be a positive integer, got ${tscHz}`);
    const num = hz * cyclesPerInstruction;
    const g = gcd(num, tscHz);
    this.p = num / g;
    this.q = tscHz / g;
    if (this.p * this.q > Number.MAX_SAFE_INTEGER) throw new Error(`device clock: ${hz} Hz against a ${tscHz} Hz TSC needs more than 53-bit arithmetic`);
  }

  /** Edges that have happened by instruction `icount` (floor(icount x P / Q)). */
  ticksAt(icount: number): number {
    const r = icount % this.q;
    return ((icount - r) / this.q) * this.p + Math.floor((r * this.p) / this.q);
  }

  /** The first instruction count at which edge `tick` has happened (ceil(tick x Q / P)). */
  icountOf(tick: number): number {
    const r = tick % this.p;
    return ((tick - r) / this.p) * this.q + Math.ceil((r * this.q) / this.p);
  }
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}
