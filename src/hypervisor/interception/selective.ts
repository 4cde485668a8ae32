// `selective` (GEARS / Palacios selective exiting): an injected stub checks a per-syscall-number byte map
// and issues VMCALL only for the selected numbers; the others reach the guest's handler with no exit.
// The stub lives in the hypervisor's page (beyond guest memory, EPT execute-only), so its instructions do
// not count as guest instructions.

import { BlockEncoder, BlockEncoderOptions, Code, Instruction, MemoryOperand, Register } from 'iced-x86';
import { UserError } from '../../errors.js';
import { addr, chargeLog, injectedPage, syscallRecord, va, watchLstar, words, type Footprint, type InterceptionContext, type InterceptionStrategy } from './Strategy.js';
import { syscallNumber } from './syscalls.js';

const MAP_OFFSET = 2048;
const MAP_SIZE = 512;

/**
 * The stub, encoded by iced-x86's BlockEncoder (instruction `ip`s are labels it resolves):
 *   cmp rax, 512 ; jae skip ; cmp byte [rax + map], 0 ; je skip ; vmcall ; skip: jmp handler
 * Returns the bytes and the VMCALL's offset in them.
 */
function stubBytes(stubVa: number, mapVa: number, handler: number): { code: Uint8Array; vmcallOffset: number } {
  const SKIP = 5n; // label: the ip of the jmp
  const ins = [
    Instruction.createRegI32(Code.Cmp_rm64_imm32, Register.RAX, MAP_SIZE),
    Instruction.createBranch(Code.Jae_rel8_64, SKIP),
    // disp32 sign-extends: the map lies in the top 2 GiB (the kernel's direct map).
    Instruction.createMemI32(Code.Cmp_rm8_imm8, new MemoryOperand(Register.RAX, Register.None, 1, va(mapVa), 8, false, Register.None), 0),
    Instruction.createBranch(Code.Je_rel8_64, SKIP),
    Instruction.create(Code.Vmcall),
    Instruction.createBranch(Code.Jmp_rel32_64, va(handler)),
  ];
  const enc = new BlockEncoder(64, BlockEncoderOptions.None);
  let code: Uint8Array;
  try {
    ins.forEach((x, i) => {
      x.ip = BigInt(i);
      enc.add(x);
    });
    code = enc.encode(va(stubVa));
  } finally {
    enc.free();
    for (const x of ins) x.free();
  }
  // The VMCALL (3 bytes) sits right before the final JMP rel32 (5 bytes: the handler is not near the stub).
  const vmcallOffset = code.length - 5 - 3;
  if (code[vmcallOffset] !== 0x0f || code[vmcallOffset + 1] !== 0x01 || code[vmcallOffset + 2] !== 0xc1 || code[code.length - 5] !== 0xe9) {
    throw new Error('selective: unexpected stub layout from the encoder');
  }
  return { code, vmcallOffset };
}

export class Selective implements InterceptionStrategy {
  readonly name = 'selective';
  readonly description = 'injected stub with a per-syscall byte map: VMCALL only for the selected syscalls (GEARS/Palacios)';
  private stub = 0;
  private vmcallAt = 0;
  private handler = 0;
  /** The selected numbers in the guest kernel's own table (resolved at install: a Linux kernel knows names ours does not). */
  selected: number[] = [];
  readonly notes: string[] = [];

  constructor(private readonly syscalls: readonly string[]) {
    if (syscalls.length === 0) throw new UserError('selective: name the syscalls to intercept (--syscalls exit,exit_group,...)');
    // Numbers can be checked now; names only against the guest kernel's table.
    this.resolve((x) => (/^\s*\d+\s*$/.test(x) ? syscallNumber(x) : 0));
  }

  private resolve(number: (s: string) => number): number[] {
    return this.syscalls.map((s) => {
      const n = number(s);
      if (n < 0 || n >= MAP_SIZE) throw new UserError(`selective: syscall number ${n} outside 0..${MAP_SIZE - 1}`);
      return n;
    });
  }

  install(ctx: InterceptionContext): void {
    // Names are the guest kernel's: a Linux kernel's from its sys_call_table (src/hypervisor/linux/linuxGuestKernel.ts).
    this.selected = this.resolve((s) => ctx.kernel.syscallNumber(s));
    const { phys, virt } = injectedPage(ctx, this.name, 0b101); // the stub reads its map: read + execute, no write
    const mmu = ctx.machine.cpu.mmu;
    const map = new Uint8Array(MAP_SIZE);
    for (const n of this.selected) map[n] = 1;
    mmu.writePhys(phys + MAP_OFFSET, map);
    this.stub = virt;
    watchLstar(ctx, true, (lo, hi) => {
      this.handler = addr(lo, hi);
      const { code, vmcallOffset } = stubBytes(this.stub, this.stub + MAP_OFFSET, this.handler);
      mmu.writePhys(phys, code);
      this.vmcallAt = this.stub + vmcallOffset;
      return words(this.stub);
    }, this.notes);
    ctx.hypervisor.vmcallHandlers.push((m, op) => {
      if (op.addr !== this.vmcallAt) return false;
      ctx.onSyscall(syscallRecord(m, this.name, 1));
      chargeLog(ctx);
      m.cpu.rip = this.handler;
      return true;
    });
  }

  saveState(): Record<string, unknown> {
    return { handler: this.handler, vmcallAt: this.vmcallAt, notes: this.notes };
  }

  loadState(s: Record<string, unknown>): void {
    this.handler = s.handler as number;
    this.vmcallAt = s.vmcallAt as number;
    this.notes.splice(0, this.notes.length, ...((s.notes as string[] | undefined) ?? []));
  }

  footprint(): Footprint {
    return { kernelTextBytesChanged: 0, lstarVisibleToGuest: 'original', injectedPageHiddenByEpt: true,
      notes: [`exits only for syscalls ${this.selected.join(', ')}`, ...this.notes] };
  }
}
