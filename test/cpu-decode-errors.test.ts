// A bug in our decoder or in a handler must surface as a host error, not as a guest #UD (the catch in
// cpu/ops/index.ts turns only UnsupportedForm, a family's "operand form we do not model", into #UD).
// The bug is injected by wrapping the ALU family's decoder; the instruction bytes are hand-encoded from the
// SDM opcode tables (01 /r ADD r/m32, r32; F4 HLT) so no assembler is needed.

import { Decoder, DecoderOptions } from 'iced-x86';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Stop } from '../src/emulator/cpu/Cpu.js';
import { Op } from '../src/emulator/cpu/Op.js';
import type { Handler } from '../src/emulator/cpu/Op.js';
import { decodeInstruction, undefinedOp } from '../src/emulator/cpu/ops/index.js';
import { UnsupportedForm } from '../src/emulator/cpu/ops/operands.js';
import { BareMachine, KCODE, STUBS } from './helpers/bareMachine.js';

const bug = vi.hoisted(() => ({ inDecoder: false, inHandler: false, unsupported: false }));

vi.mock('../src/emulator/cpu/ops/alu.js', async (importOriginal) => {
  const orig = await importOriginal<typeof import('../src/emulator/cpu/ops/alu.js')>();
  const brokenHandler: Handler = () => {
    // What a slip in a handler looks like at run time.
    throw new TypeError("Cannot read properties of undefined (reading 'lo')");
  };
  return {
    ...orig,
    decodeAlu: (ins: Parameters<typeof orig.decodeAlu>[0], op: Op): boolean => {
      if (bug.inDecoder) throw new TypeError('injected decoder bug');
      if (bug.unsupported) throw new UnsupportedForm('operand 1 is not a general-purpose register');
      const r = orig.decodeAlu(ins, op);
      if (r && bug.inHandler) op.fn = brokenHandler;
      return r;
    },
  };
});

afterEach(() => {
  bug.inDecoder = false;
  bug.inHandler = false;
  bug.unsupported = false;
});

/** ADD EAX, EBX (01 D8); HLT (F4). */
const ADD_EAX_EBX = [0x01, 0xd8];
const HLT = [0xf4];

function decode(bytes: number[]): Op {
  const d = new Decoder(64, new Uint8Array(bytes), DecoderOptions.None);
  const ins = d.decode();
  const op = new Op(undefinedOp, undefinedOp);
  try {
    decodeInstruction(ins, op);
  } finally {
    ins.free();
    d.free();
  }
  return op;
}

/** A CPU running `bytes` at KCODE, counting the exceptions it raises. */
function machine(bytes: number[]): { m: BareMachine; exceptions: number[] } {
  const m = new BareMachine();
  m.load(KCODE, new Uint8Array(bytes));
  const exceptions: number[] = [];
  m.cpu.hooks = {
    instruction: () => false,
    exception: (_c, vector) => {
      exceptions.push(vector);
      return false;
    },
    eptViolation: () => undefined,
  };
  return { m, exceptions };
}

describe('decoder and handler bugs are host errors, not guest #UD', () => {
  it('a decoder exception propagates out of decodeInstruction', () => {
    expect(decode(ADD_EAX_EBX).name).toBe('add_rr32');
    bug.inDecoder = true;
    expect(() => decode(ADD_EAX_EBX)).toThrow(TypeError);
  });

  it('a decoder exception while the CPU decodes a block ends the run with that error, no #UD delivered', () => {
    bug.inDecoder = true;
    const { m, exceptions } = machine([...ADD_EAX_EBX, ...HLT]);
    expect(() => m.runToHalt()).toThrow('injected decoder bug');
    expect(exceptions).toEqual([]);
  });

  it('a handler exception ends the run with that error, no #UD delivered', () => {
    bug.inHandler = true;
    const { m, exceptions } = machine([...ADD_EAX_EBX, ...HLT]);
    expect(() => m.runToHalt()).toThrow(TypeError);
    expect(exceptions).toEqual([]);
  });

  it('a family declining an operand form it does not model (UnsupportedForm) is #UD (vector 6) in the guest', () => {
    bug.unsupported = true;
    expect(decode(ADD_EAX_EBX).name).toBe('(unsupported)');
    const { m, exceptions } = machine([...ADD_EAX_EBX, ...HLT]);
    expect(m.runToHalt()).toBe(Stop.halt);
    expect(exceptions).toEqual([6]);
    expect(m.haltedVector()).toBe(6);
    expect(Number(m.cpu.getRip())).toBe(STUBS + 6 * 16 + 1);
  });
});
