// The CPU model a Linux guest sees: an Intel Core of the Ivy Bridge generation (family 6, model 58 = 0x3a,
// stepping 9: CPUID signature 0x306a9, SDM vol. 4 table 2-1 "06_3AH"), reduced to the features this
// emulator implements, the way a VMM filters CPUID (KVM_SET_CPUID2). It is the same reduction as the QEMU
// oracle's `-cpu qemu64,vendor=GenuineIntel,family=6,model=58,stepping=9,-de,-mce,-mca,-mtrr,-pat,-pse36,
// -clflush,-sep,-pni,-cx16,-lahf_lm,-svm,-apic,-hypervisor,...` (shared notes, linux.md), so both
// machines give the kernel the same answers. Leaves and bits: SDM vol. 2A, CPUID.

type Leaf = [number, number, number, number];

function str4(s: string): number {
  return (s.charCodeAt(0) | (s.charCodeAt(1) << 8) | (s.charCodeAt(2) << 16) | (s.charCodeAt(3) << 24)) | 0;
}

/** CPUID.1:EDX bits (SDM table 3-11). */
export const Cpuid1Edx = {
  FPU: 1 << 0, PSE: 1 << 3, TSC: 1 << 4, MSR: 1 << 5, PAE: 1 << 6, CX8: 1 << 8, PGE: 1 << 13, CMOV: 1 << 15,
  MMX: 1 << 23, FXSR: 1 << 24, SSE: 1 << 25, SSE2: 1 << 26,
} as const;

/** CPUID.80000001H:EDX bits. */
export const CpuidExtEdx = { SYSCALL: 1 << 11, NX: 1 << 20, LM: 1 << 29 } as const;

export const IVY_BRIDGE_SIGNATURE = 0x000306a9;

/** Highest basic leaf (0xd, as an Ivy Bridge and QEMU's qemu64) and extended leaf (0x80000008). */
export const MAX_BASIC_LEAF = 0xd;
export const MAX_EXTENDED_LEAF = 0x80000008;

/**
 * The table (key = leaf * 65536 + subleaf, as Cpu.cpuidTable). Every leaf up to the maxima is present, and
 * leaves with subleaves (4, 7, 0xb, 0xd) list the ones the kernel asks for, so no lookup falls back to
 * another subleaf's values.
 */
export function linuxCpuid(): Map<number, Leaf> {
  const m = new Map<number, Leaf>();
  const set = (leaf: number, sub: number, r: Leaf): void => {
    m.set(leaf * 65536 + sub, r.map((x) => x | 0) as Leaf);
  };
  const v = 'GenuineIntel';
  set(0, 0, [MAX_BASIC_LEAF, str4(v.slice(0, 4)), str4(v.slice(8, 12)), str4(v.slice(4, 8))]);
  const e = Cpuid1Edx;
  // EBX: one logical processor (bits 23:16), CLFLUSH line size 8 quadwords (bits 15:8; informative while
  // CLFLUSH itself is not advertised), initial APIC id 0. ECX: none (no SSE3, no hypervisor bit).
  set(1, 0, [IVY_BRIDGE_SIGNATURE, 0x00010800, 0,
    e.FPU | e.PSE | e.TSC | e.MSR | e.PAE | e.CX8 | e.PGE | e.CMOV | e.MMX | e.FXSR | e.SSE | e.SSE2]);
  set(2, 0, [1, 0, 0, 0]); // one iteration, no descriptors
  set(3, 0, [0, 0, 0, 0]);
  for (let s = 0; s < 4; s++) set(4, s, [0, 0, 0, 0]); // no deterministic cache parameters (type 0 = null)
  set(5, 0, [0, 0, 0, 0]); // no MONITOR/MWAIT
  set(6, 0, [0, 0, 0, 0]); // no thermal / power management
  for (let s = 0; s < 3; s++) set(7, s, [0, 0, 0, 0]); // no structured extended features, max subleaf 0
  for (const l of [8, 9, 0xa, 0xc]) set(l, 0, [0, 0, 0, 0]);
  for (let s = 0; s < 2; s++) set(0xb, s, [0, 0, 0, 0]); // no x2APIC topology (EBX = 0: leaf not valid)
  for (let s = 0; s < 2; s++) set(0xd, s, [0, 0, 0, 0]); // no XSAVE
  set(0x80000000, 0, [MAX_EXTENDED_LEAF, 0, 0, 0]);
  set(0x80000001, 0, [0, 0, 0, CpuidExtEdx.SYSCALL | CpuidExtEdx.NX | CpuidExtEdx.LM]);
  const brand = 'vmtrace x86-64 (Intel family 6 model 58)'.padEnd(48, '\0');
  for (let i = 0; i < 3; i++) {
    const s = brand.slice(i * 16, i * 16 + 16);
    set(0x80000002 + i, 0, [str4(s.slice(0, 4)), str4(s.slice(4, 8)), str4(s.slice(8, 12)), str4(s.slice(12, 16))]);
  }
  set(0x80000005, 0, [0, 0, 0, 0]);
  set(0x80000006, 0, [0, 0, 0, 0]);
  set(0x80000007, 0, [0, 0, 0, 0]);
  // 32 physical address bits (the MMU treats PTE bits 32-51 as reserved: guest RAM is below 2 GiB), 48 linear.
  set(0x80000008, 0, [0x00003020, 0, 0, 0]);
  return m;
}

/**
 * CPUID leaves of the emulated CPU for our own guest (the Cpu's default; a Linux guest gets linuxCpuid): a 64-bit
 * Intel-like CPU with only what we emulate.
 */
export function defaultCpuid(): Map<number, [number, number, number, number]> {
  const m = new Map<number, [number, number, number, number]>();
  const vendor = 'GenuineIntel';
  m.set(0, [1, str4(vendor.slice(0, 4)), str4(vendor.slice(8, 12)), str4(vendor.slice(4, 8))]);
  // Leaf 1 EDX: FPU(0) (the x87 instruction set, transcendentals included), PSE(3) TSC(4) MSR(5) PAE(6) CX8(8)
  // APIC(9) SEP(11) PGE(13) CMOV(15) (with FPU: FCMOVcc, FCOMI), MMX(23), FXSR(24), SSE(25), SSE2(26): every
  // form of each is implemented (docs/machine.md "x87 and SSE"; test/cpu-cpuid-features.test.ts checks every
  // advertised feature's forms against iced-x86's feature lists).
  const e = Cpuid1Edx;
  const edx1 = e.FPU | e.PSE | e.TSC | e.MSR | e.PAE | e.CX8 | (1 << 9) | (1 << 11) | e.PGE | e.CMOV | e.MMX | e.FXSR | e.SSE | e.SSE2;
  // ECX: VMX(5) as the guest sees a VT-x machine's vCPU? No: guests of a VMM do not see VMX; set the
  // hypervisor-present bit (31), as KVM does.
  m.set(1 * 65536, [IVY_BRIDGE_SIGNATURE, 0, 1 << 31, edx1]);
  m.set(0x80000000 * 65536, [0x80000001 | 0, 0, 0, 0]);
  // 0x80000001 EDX: SYSCALL(11) NX(20) Page1GB(26) LM(29).
  m.set(0x80000001 * 65536, [0, 0, 0, (1 << 11) | (1 << 20) | (1 << 26) | (1 << 29)]);
  return m;
}
