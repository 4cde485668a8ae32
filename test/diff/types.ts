// Shared by the native (host CPU) runner and the emulator runner of the differential ISA tests.
//
// A snippet is user-mode x86-64 code placed at CODE_BASE, entered with the given registers and arithmetic
// flags, with DATA_BYTES of scratch memory at DATA_BASE (read/write). The snippet ends by falling off its
// last byte: both runners append their own way of stopping there (the emulator stops when RIP reaches
// CODE_BASE + code.length). RSP is set by the case like any other register; a case that pushes/pops
// must point RSP into the scratch area.

export const CODE_BASE = 0x10000000n;
export const DATA_BASE = 0x20000000n;
export const DATA_BYTES = 4096;

export interface DiffCase {
  /** A label for failure messages, e.g. "add rax, rbx #17". */
  name: string;
  code: Uint8Array;
  /** rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8..r15 (encoding order). */
  regs: bigint[];
  /** Initial RFLAGS; only CF PF AF ZF SF OF DF are taken from here (bit positions as in RFLAGS). */
  rflags: bigint;
  /** Initial contents of the scratch memory (DATA_BYTES bytes). */
  mem: Uint8Array;
  /** x87/SSE state as a 512-byte FXSAVE64 image (FP cases only: then every case of a batch has one). */
  fx?: Uint8Array;
}

export interface DiffResult {
  regs: bigint[];
  /** CF PF AF ZF SF OF DF only (other bits masked to 0). */
  rflags: bigint;
  mem: Uint8Array;
  /** null if the snippet ran to its end; otherwise the exception vector (0 #DE, 6 #UD, 13 #GP, 14 #PF...). */
  fault: number | null;
  /** x87/SSE state after the snippet (or at the fault) as an FXSAVE64 image, for FP cases. */
  fx?: Uint8Array;
}

export const FLAGS_MASK = 0x0cd5n; // CF(0) PF(2) AF(4) ZF(6) SF(7) DF(10) OF(11)
