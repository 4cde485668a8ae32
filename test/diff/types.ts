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
  /**
   * What the emulator runs instead of `code` (same length or not): an encoding the host executes as something
   * else, whose meaning on the emulated CPU is `code`'s on the host (F3 0F BC is TZCNT on the host, BSF on a
   * CPU that does not advertise BMI1).
   */
  emuCode?: Uint8Array;
  /** CPUID features the emulated CPU advertises for this case beyond its default model (the host has them). */
  advertise?: readonly CpuFeature[];
}

/** Features a case can ask the emulated CPU to advertise (they change what an encoding executes as). */
export type CpuFeature = 'bmi1' | 'lzcnt';

/** The emulated CPU's CPUID table for a case: the default model plus `advertise` (SDM CPUID leaf 7, 0x80000001). */
export function cpuidFor(base: Map<number, [number, number, number, number]>, advertise: readonly CpuFeature[] = []): Map<number, [number, number, number, number]> {
  const t = new Map(base);
  const or = (leaf: number, reg: number, bit: number): void => {
    const r = [...(t.get(leaf * 65536) ?? [0, 0, 0, 0])] as [number, number, number, number];
    r[reg] |= 1 << bit;
    t.set(leaf * 65536, r);
  };
  if (advertise.includes('bmi1')) or(7, 1, 3);
  if (advertise.includes('lzcnt')) or(0x80000001, 2, 5);
  return t;
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
