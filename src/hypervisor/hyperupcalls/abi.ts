// The guest/hypervisor ABI of hyperupcalls (docs/machine.md "Hyperupcall registration", docs/hyperupcalls.md):
// the registration block the guest passes to HC 1, event ids, result codes, and the context structure the
// hypervisor populates for every invocation (seed 003 Table 3).

/** "HUP1": first u32 of a registration block. */
export const REG_MAGIC = 0x31505548;
export const REG_BYTES = 128;
export const ENV_COUNT = 8;

/** Registration block field offsets (little endian). */
export const Reg = {
  magic: 0, event: 4, exitReason: 8, flags: 12, codeGpa: 16, codeLen: 24, memGpa: 32, memLen: 40,
  errGpa: 48, errLen: 56, env: 64,
} as const;

/** Registration flags. */
export const RegFlag = {
  /**
   * A local hyperupcall (seed 003 3.1.2: "local hyperupcalls ... address all of guest memory"): its memory is
   * all of guest-physical memory, read-only; loops are accepted and bounded by a run-time budget.
   */
  local: 1,
} as const;

/** Hyperupcall events (seed 003 3.1: hypervisor and guest agree on event ids). */
export const HuEvent = {
  vmExit: 1, interruptInjection: 2, packetReceived: 3, memoryPressure: 4, timer: 5,
} as const;
export type HuEvent = (typeof HuEvent)[keyof typeof HuEvent];
export const EVENT_NAMES: Readonly<Record<number, string>> = {
  1: 'vm-exit', 2: 'interrupt-injection', 3: 'packet-received', 4: 'memory-pressure', 5: 'timer',
};
/** Exit-reason filter value meaning "every exit". */
export const ANY_EXIT = 0xffffffff;

/** Negative results of HC 1 in RAX (Linux errno values, negated). */
export const HuError = {
  /** malformed block: magic, unknown event, flags, code length not a multiple of 8 or empty */
  invalid: -22,
  /** the block, code or region lies outside guest memory */
  fault: -14,
  /** the granted region exceeds the configured share of guest memory (2% by default) */
  tooBig: -7,
  /** the verifier rejected the program */
  rejected: -13,
  /** too many programs registered */
  noSpace: -28,
} as const;

/** Context structure (read-only to the program, r1 at entry), seed 003 Table 3. */
export const Ctx = {
  event: 0, exitReason: 4, qualification: 8, rip: 16, vcpu: 24, guestMask: 32, memLen: 40, memGpa: 48,
  icount: 56, exitSeq: 64, arg0: 72, arg1: 80, env: 96,
} as const;
export const CTX_BYTES = Ctx.env + ENV_COUNT * 8;

/** The NIC's vector and the timer's (docs/machine.md "Interrupt vectors"). */
export const NIC_VECTOR = 0x2b;
export const TIMER_VECTOR = 0x20;

/** Helpers this hypervisor adds to the seed-paper table (ids above the eBPF module's). */
export const ExtraHelperId = {
  /** hint_free_page(ctx, gpa): the program tells the hypervisor that a guest page is free (free-page discovery). */
  HINT_FREE_PAGE: 32,
} as const;

/**
 * What a VM-exit program returns in r0 (docs/hyperupcalls.md "Verdicts"): `proceed` lets the hypervisor
 * handle the exit as usual; `skip`, on an instruction's exit (WRMSR, MOV to CR, I/O, ...), completes the
 * instruction without its effect (RIP moves past it): a guard's way to block a write. Other values proceed.
 */
export const ExitVerdict = { proceed: 0, skip: 1 } as const;

/** get_exit_info fields (arg 2). */
export const ExitInfo = {
  reason: 0, qualification: 1, instructionLength: 2, guestLinear: 3, guestPhysical: 4, interruptionInfo: 5,
  seq: 6, icount: 7,
} as const;

/** get/set_vcpu_register numbers: 0-15 the GPRs in encoding order, then these. */
export const VcpuReg = { rip: 16, rflags: 17, cr0: 18, cr3: 19, cr4: 20 } as const;
