// Exceptions raised while executing an instruction. One preallocated object per CPU is thrown by value
// (not an Error: no stack capture), caught by the run loop, which restores RIP to the faulting
// instruction and delivers the exception (SDM vol. 3 chapter 6).

/** Exception vectors (SDM 6.3.1), plus internal pseudo-vectors >= 256 that never reach the guest. */
export const Vector = {
  DE: 0, DB: 1, NMI: 2, BP: 3, OF: 4, BR: 5, UD: 6, NM: 7, DF: 8, TS: 10, NP: 11, SS: 12, GP: 13, PF: 14,
  MF: 16, AC: 17, MC: 18, XM: 19,
  /** Internal: an access violated EPT permissions; becomes VM exit 48, never a guest exception. */
  EPT_VIOLATION: 256,
  /** Internal: the current block must stop after this instruction (self-modifying code, mode change). */
  RESTART: 257,
} as const;

/** Vectors that push an error code (SDM table 6-1). */
export function hasErrorCode(vector: number): boolean {
  return vector === 8 || (vector >= 10 && vector <= 14) || vector === 17 || vector === 21;
}

export class CpuFault {
  vector = 0;
  errorCode = 0;
  /** For #PF: the faulting linear address (becomes CR2). */
  addrLo = 0;
  addrHi = 0;
  /** The fault is #GP(0) from a non-canonical address (becomes #SS(0) for stack accesses, SDM 6.15). */
  nonCanonical = false;

  set(vector: number, errorCode: number): this {
    this.vector = vector;
    this.errorCode = errorCode;
    this.nonCanonical = false;
    return this;
  }

  setNonCanonical(): this {
    this.set(13, 0);
    this.nonCanonical = true;
    return this;
  }

  setPageFault(errorCode: number, lo: number, hi: number): this {
    this.vector = Vector.PF;
    this.errorCode = errorCode;
    this.nonCanonical = false;
    this.addrLo = lo;
    this.addrHi = hi;
    return this;
  }
}
