// `selective` (GEARS / Palacios selective exiting): an injected stub checks a per-syscall-number byte map
// and issues VMCALL only for the selected numbers; the others reach the guest's handler with no exit.
// The stub lives in the hypervisor's page (beyond guest memory, EPT execute-only), so its instructions do
// not count as guest instructions.

import { Decoder, DecoderOptions, Instruction, Mnemonic } from 'iced-x86';
import { UserError } from '../../cli/errors.js';
import { KERNEL_DIRECT_MAP } from './handlerInjection.js';
import { addr, chargeLog, syscallRecord, watchLstar, type Footprint, type InterceptionContext, type InterceptionStrategy } from './Strategy.js';
import { syscallNumber } from './syscalls.js';

const MAP_OFFSET = 2048;
const MAP_SIZE = 512;

/**
 * The stub (encodings from the SDM opcode map; checked by decoding them back with iced-x86 at install):
 *   cmp rax, 512 ; jae skip ; cmp byte [rax + map], 0 ; je skip ; vmcall ; skip: jmp handler
 */
function stubBytes(stubVa: number, mapVa: number, handler: number): Uint8Array {
  const b: number[] = [];
  const i32 = (v: number): void => {
    const x = v | 0;
    b.push(x & 255, (x >>> 8) & 255, (x >>> 16) & 255, (x >>> 24) & 255);
  };
  b.push(0x48, 0x3d); i32(MAP_SIZE); // cmp rax, imm32
  b.push(0x73, 0x0c); // jae +12 (over cmp/je/vmcall)
  b.push(0x80, 0xb8); i32(mapVa); b.push(0x00); // cmp byte [rax + disp32], 0 (disp32 sign-extends to the top 2 GiB)
  b.push(0x74, 0x03); // je +3 (over vmcall)
  b.push(0x0f, 0x01, 0xc1); // vmcall
  const jmpAt = stubVa + b.length;
  b.push(0xe9); i32(handler - (jmpAt + 5)); // jmp rel32
  return new Uint8Array(b);
}

export class Selective implements InterceptionStrategy {
  readonly name = 'selective';
  readonly description = 'injected stub with a per-syscall byte map: VMCALL only for the selected syscalls (GEARS/Palacios)';
  private stub = 0;
  private vmcallAt = 0;
  private handler = 0;
  readonly selected: number[];

  constructor(syscalls: readonly string[]) {
    if (syscalls.length === 0) throw new UserError('selective: name the syscalls to intercept (--syscalls exit,exit_group,...)');
    this.selected = syscalls.map((s) => {
      const n = syscallNumber(s);
      if (n < 0 || n >= MAP_SIZE) throw new UserError(`selective: syscall number ${n} outside 0..${MAP_SIZE - 1}`);
      return n;
    });
  }

  install(ctx: InterceptionContext): void {
    if (ctx.reservedBytes < 4096) throw new UserError('selective: no guest-physical page is reserved for the hypervisor');
    const phys = ctx.reservedPhys;
    const mmu = ctx.machine.cpu.mmu;
    const map = new Uint8Array(MAP_SIZE);
    for (const n of this.selected) map[n] = 1;
    mmu.writePhys(phys + MAP_OFFSET, map);
    this.stub = KERNEL_DIRECT_MAP + phys;
    if (ctx.vmcs.eptEnabled()) {
      ctx.ept.setPermissions(phys / 4096, 0b101); // the stub reads its map: read + execute, no write
      mmu.flushTlb();
    }
    watchLstar(ctx, true, (lo, hi) => {
      this.handler = addr(lo, hi);
      const code = stubBytes(this.stub, this.stub + MAP_OFFSET, this.handler);
      checkStub(code, this.stub);
      mmu.writePhys(phys, code);
      this.vmcallAt = this.stub + code.length - 5 - 3;
      return [this.stub % 4294967296 >>> 0, Math.floor(this.stub / 4294967296) | 0];
    });
    ctx.hypervisor.vmcallHandlers.push((m, op) => {
      if (op.addr !== this.vmcallAt) return false;
      ctx.onSyscall(syscallRecord(m, this.name, 1));
      chargeLog(ctx);
      m.cpu.rip = this.handler;
      return true;
    });
  }

  saveState(): Record<string, unknown> {
    return { handler: this.handler, vmcallAt: this.vmcallAt };
  }

  loadState(s: Record<string, unknown>): void {
    this.handler = s.handler as number;
    this.vmcallAt = s.vmcallAt as number;
  }

  footprint(): Footprint {
    return { kernelTextBytesChanged: 0, lstarVisibleToGuest: 'original', injectedPageHiddenByEpt: true,
      notes: [`exits only for syscalls ${this.selected.join(', ')}`] };
  }
}

/** Decode the stub back and check it is the intended instruction sequence (iced-x86 as the oracle). */
function checkStub(code: Uint8Array, ip: number): void {
  const d = new Decoder(64, code, DecoderOptions.None);
  d.ip = BigInt.asUintN(64, BigInt(ip));
  const ins = new Instruction();
  const seen: number[] = [];
  while (d.canDecode) {
    d.decodeOut(ins);
    seen.push(ins.mnemonic);
  }
  d.free();
  ins.free();
  const want = [Mnemonic.Cmp, Mnemonic.Jae, Mnemonic.Cmp, Mnemonic.Je, Mnemonic.Vmcall, Mnemonic.Jmp];
  if (seen.length !== want.length || seen.some((x, i) => x !== want[i])) throw new Error('selective: stub encoding does not decode as intended');
}
