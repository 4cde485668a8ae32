// Registration of a hyperupcall (seed 003 3.3, HC 1): reading and checking the guest's registration block
// (docs/machine.md), then building the program: decode, verify (section 3.4), compile (section 3.1), and the
// context's fixed fields. The same build serves a registration from the guest and one restored from a
// checkpoint, so both verify with the same options and compile the same code.

import type { Machine } from '../../emulator/machine.js';
import { decode, type Insn } from '../ebpf/isa.js';
import { DEFAULT_MAX_INSNS, verify, type VerifierOptions } from '../ebpf/verifier.js';
import { compile } from '../ebpf/compiler.js';
import { predecode } from '../ebpf/interpreter.js';
import { Memory } from '../ebpf/Memory.js';
import type { HelperRegistry } from '../ebpf/helpers.js';
import { CTX_BYTES, Ctx, ENV_COUNT, EVENT_NAMES, HuError, REG_BYTES, REG_MAGIC, Reg, RegFlag } from './abi.js';
import type { HyperupcallOptions, HyperupcallProgram, Registration } from './program.js';

/** What registration needs from the runtime. */
export interface RegistrationHost {
  readonly machine: Machine;
  /** Guest memory the guest is told it has (bytes). */
  readonly memBytes: number;
  readonly options: HyperupcallOptions;
  readonly helpers: HelperRegistry;
  /** Programs registered so far. */
  readonly programCount: number;
}

/** A refused registration block: the negative result for RAX, the message, and the guest's error buffer. */
export interface Refusal {
  code: number;
  message: string;
  errGpa: number;
  errLen: number;
}

/** Largest granted region in bytes under the configured share (seed 003 3.1.2). */
export const maxRegionBytes = (h: { memBytes: number; options: HyperupcallOptions }): number => Math.floor(h.memBytes * h.options.share);

/** A registration block that passed the checks, and the guest's error buffer for a later rejection. */
export interface Block {
  registration: Registration;
  errGpa: number;
  errLen: number;
}

/** Read and check the registration block at guest-physical `blockGpa` (docs/machine.md). */
export function readRegistration(h: RegistrationHost, blockGpa: bigint): Block | Refusal {
  const u8 = h.machine.cpu.mmu.u8;
  if (blockGpa + BigInt(REG_BYTES) > BigInt(h.memBytes)) {
    return { code: HuError.fault, message: `registration block at 0x${blockGpa.toString(16)} is outside guest memory`, errGpa: 0, errLen: 0 };
  }
  const dv = new DataView(u8.buffer, u8.byteOffset + Number(blockGpa), REG_BYTES);
  const q = (o: number): number => {
    const v = dv.getBigUint64(o, true);
    return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
  };
  const errGpa = q(Reg.errGpa);
  const errLen = Math.min(q(Reg.errLen), 4096);
  const refuse = (code: number, message: string): Refusal => ({ code, message, errGpa, errLen });
  if (dv.getUint32(Reg.magic, true) !== REG_MAGIC) return refuse(HuError.invalid, 'registration block: bad magic (want "HUP1")');
  const event = dv.getUint32(Reg.event, true);
  if (EVENT_NAMES[event] === undefined) return refuse(HuError.invalid, `registration block: unknown event ${event}`);
  const exitReason = dv.getUint32(Reg.exitReason, true);
  const flags = dv.getUint32(Reg.flags, true);
  if ((flags & ~RegFlag.local) !== 0) return refuse(HuError.invalid, `registration block: unknown flags 0x${flags.toString(16)}`);
  const codeGpa = q(Reg.codeGpa);
  const codeLen = q(Reg.codeLen);
  if (codeLen === 0 || codeLen % 8 !== 0) return refuse(HuError.invalid, `bytecode length ${codeLen} is not a positive multiple of 8`);
  // the length before anything is copied or decoded: a guest may claim a program as large as its memory
  if (codeLen > DEFAULT_MAX_INSNS * 8) {
    return refuse(HuError.tooBig, `bytecode of ${codeLen} bytes exceeds the limit of ${DEFAULT_MAX_INSNS} instructions (${DEFAULT_MAX_INSNS * 8} bytes)`);
  }
  if (codeGpa + codeLen > h.memBytes) return refuse(HuError.fault, `bytecode at 0x${codeGpa.toString(16)}+${codeLen} is outside guest memory`);
  const local = (flags & RegFlag.local) !== 0;
  let memGpa = q(Reg.memGpa);
  let memLen = q(Reg.memLen);
  if (local) {
    memGpa = 0;
    memLen = h.memBytes;
  } else {
    if (memGpa + memLen > h.memBytes) return refuse(HuError.fault, `granted region 0x${memGpa.toString(16)}+${memLen} is outside guest memory`);
    const max = maxRegionBytes(h);
    if (memLen > max) {
      return refuse(HuError.tooBig, `granted region of ${memLen} bytes exceeds ${(h.options.share * 100).toFixed(1)}% of guest memory (${max} bytes)`);
    }
  }
  if (h.programCount >= h.options.maxPrograms) return refuse(HuError.noSpace, `at most ${h.options.maxPrograms} hyperupcalls`);
  const env: bigint[] = [];
  for (let i = 0; i < ENV_COUNT; i++) env.push(dv.getBigUint64(Reg.env + i * 8, true));
  return { registration: { event, exitReason, flags, memGpa, memLen, env, bytes: u8.slice(codeGpa, codeGpa + codeLen) }, errGpa, errLen };
}

/** Write a refusal's message into the guest's error buffer (NUL-terminated, cut to the buffer). */
export function writeRefusal(h: RegistrationHost, r: Refusal): void {
  const { errGpa, errLen, message } = r;
  if (!(errGpa > 0 && errLen > 0 && errGpa + errLen <= h.memBytes)) return;
  const msg = Buffer.from(message.slice(0, errLen - 1), 'latin1');
  const out = new Uint8Array(Math.min(errLen, msg.length + 1));
  out.set(msg.subarray(0, out.length - 1));
  h.machine.cpu.mmu.writePhys(errGpa, out);
}

/**
 * Decode, verify and compile a registration (the block's fields, already checked) into program `id`, or
 * return why it is rejected.
 */
export function buildProgram(h: RegistrationHost, r: Registration, id: number, registeredAt: number, firstExit: number): HyperupcallProgram | string {
  const { event, exitReason, flags, memGpa, memLen, env, bytes } = r;
  const u8 = h.machine.cpu.mmu.u8;
  const local = (flags & RegFlag.local) !== 0;
  let insns: Insn[];
  try {
    insns = decode(bytes);
  } catch (e) {
    return `bytecode does not decode: ${(e as Error).message}`;
  }
  const vopts: VerifierOptions = {
    helpers: h.helpers,
    allowLoops: local,
    regions: { mem: { size: memLen, writable: !local }, ctx: { size: CTX_BYTES, writable: false } },
    args: [{ kind: 'ptr', region: 'ctx' }, { kind: 'ptr', region: 'mem' }],
  };
  const v = verify(insns, vopts);
  if (!v.ok) return `verifier: ${v.message}`;
  const ctx = new Uint8Array(CTX_BYTES);
  const memory = Memory.standard({ mem: u8.subarray(memGpa, memGpa + memLen), memWritable: !local, ctx, ctxWritable: false });
  const p: HyperupcallProgram = {
    id, event, exitReason, flags, memGpa, memLen, env, insns, bytes, verifyProcessed: v.processed, verifierOptions: vopts, stackFrames: v.frames,
    compiled: compile(insns), decoded: predecode(insns), memory, ctx, ctxView: new DataView(ctx.buffer),
    stats: { invocations: 0, steps: 0, cycles: 0, faults: 0, lastFault: '', lastValue: 0n, lastRunOk: false }, registeredAt,
    firstExit,
  };
  const cv = p.ctxView;
  cv.setUint32(Ctx.event, event, true);
  cv.setBigUint64(Ctx.guestMask, BigInt(pow2Mask(h.memBytes)), true);
  cv.setBigUint64(Ctx.memLen, BigInt(memLen), true);
  cv.setBigUint64(Ctx.memGpa, BigInt(memGpa), true);
  env.forEach((x, i) => cv.setBigUint64(Ctx.env + i * 8, x, true));
  return p;
}

function pow2Mask(n: number): number {
  let m = 1;
  while (m < n) m *= 2;
  return m - 1;
}
