// CPUID advertises only what is implemented: for every leaf-1 EDX feature bit a CPUID table sets, every
// instruction form iced-x86 (an oracle nobody here wrote: its per-instruction CpuidFeature lists) assigns to
// that feature and to no feature outside the table, valid in 64-bit mode, must decode to a handler, not to #UD.
// Exceptions are listed with their reason. The forms of the features not advertised are counted and printed.

import { Code, CodeExt, CpuidFeature, Instruction, OpCodeOperandKind, OpKind, Register } from 'iced-x86';
import { describe, expect, it } from 'vitest';
import { Op } from '../src/emulator/cpu/Op.js';
import { defaultCpuid, linuxCpuid } from '../src/emulator/cpu/cpuModel.js';
import { eaNone } from '../src/emulator/cpu/ea.js';
import { decodeInstruction, undefinedOp } from '../src/emulator/cpu/ops/index.js';

/** Leaf-1 EDX bits (SDM vol. 2A table 3-11) and the iced-x86 features they stand for. */
const EDX_FEATURES: [number, string, CpuidFeature[]][] = [
  [0, 'FPU', [CpuidFeature.FPU, CpuidFeature.FPU287, CpuidFeature.FPU387]],
  [15, 'CMOV', [CpuidFeature.CMOV]],
  [23, 'MMX', [CpuidFeature.MMX]],
  [24, 'FXSR', [CpuidFeature.FXSR]],
  [25, 'SSE', [CpuidFeature.SSE]],
  [26, 'SSE2', [CpuidFeature.SSE2]],
];
const BASE = new Set([CpuidFeature.INTEL8086, CpuidFeature.INTEL186, CpuidFeature.INTEL286, CpuidFeature.INTEL386, CpuidFeature.INTEL486, CpuidFeature.X64]);

/** An instance of `code` with plausible operands (registers, [rdi] memory, imm8). */
function instance(code: Code): Instruction {
  const info = CodeExt.opCode(code);
  const ins = Instruction.create(code);
  const n = info.opCount;
  for (let i = 0; i < n; i++) {
    const k = OpCodeOperandKind[info.opKind(i)];
    // "x_or_mem" operands take the register form; "mem" ones [rdi].
    if (k === 'mem') {
      ins.setOpKind(i, OpKind.Memory);
    } else if (k === 'imm8') {
      ins.setOpKind(i, OpKind.Immediate8);
      ins.immediate8 = 1;
    } else {
      ins.setOpKind(i, OpKind.Register);
      const r = k.startsWith('st0') ? Register.ST0 : k.startsWith('sti') ? Register.ST1 : k.startsWith('xmm') ? Register.XMM1 + i
        : k.startsWith('mm') ? Register.MM1 + i : k.startsWith('r64') ? Register.RAX + i : k.startsWith('r32') ? Register.EAX + i
          : k.startsWith('r16') ? Register.AX + i : k === 'ax' ? Register.AX : k === 'al' ? Register.AL : Register.None;
      ins.setOpRegister(i, r);
    }
  }
  if (n > 0 && [...Array(n).keys()].some((i) => ins.opKind(i) === OpKind.Memory)) ins.memoryBase = Register.RDI;
  info.free();
  return ins;
}

/** Forms per advertised-feature name whose iced-x86 features are all within `edx`, and which of them are #UD. */
function coverage(edx: number): Map<string, { total: number; missing: string[] }> {
  const allowed = new Set(BASE);
  for (const [bit, , fs] of EDX_FEATURES) if ((edx >>> bit) & 1) for (const f of fs) allowed.add(f);
  const out = new Map<string, { total: number; missing: string[] }>();
  for (const [, name] of EDX_FEATURES) out.set(name, { total: 0, missing: [] });
  for (let code = 1; Code[code] !== undefined; code++) {
    const info = CodeExt.opCode(code);
    const valid = info.mode64 && info.isInstruction;
    info.free();
    if (!valid) continue;
    const probe = Instruction.create(code);
    const feats = [...probe.cpuidFeatures()] as CpuidFeature[];
    probe.free();
    const mine = EDX_FEATURES.filter(([, , fs]) => feats.some((f) => fs.includes(f)));
    if (mine.length === 0 || !feats.every((f) => allowed.has(f))) continue;
    const ins = instance(code);
    const op = new Op(undefinedOp, eaNone);
    decodeInstruction(ins, op);
    ins.free();
    for (const [, name] of mine) {
      const e = out.get(name)!;
      e.total++;
      if (op.fn === undefinedOp) e.missing.push(Code[code]);
    }
  }
  return out;
}

/** Forms allowed to be #UD although their feature is advertised, and why. */
const EXCEPTIONS: Record<string, string> = {
  // 8087/80287 leftovers that a 387 and later execute as FNOP (SDM: FENI, FDISI, FSETPM are ignored); and FSTPNCE.
  Fneni: 'FNOP on 387+', Feni: 'FNOP on 387+', Fndisi: 'FNOP on 387+', Fdisi: 'FNOP on 387+', Fnsetpm: 'FNOP on 387+', Fsetpm: 'FNOP on 387+',
};

const ALL_EDX = EDX_FEATURES.reduce((m, [bit]) => m | (1 << bit), 0);

/** Every advertised feature's forms implemented; the counts of all six features (advertised or not) printed. */
function checkModel(label: string, edx: number): void {
  const cov = coverage(ALL_EDX);
  const report: string[] = [];
  for (const [bit, name] of EDX_FEATURES) {
    const c = cov.get(name)!;
    const missing = c.missing.filter((m) => EXCEPTIONS[m] === undefined);
    report.push(`${name}${(edx >>> bit) & 1 ? ' (advertised)' : ''}: ${c.total - c.missing.length}/${c.total}`);
    if ((edx >>> bit) & 1) expect(missing.join(' '), `${name} is advertised but #UD`).toBe('');
  }
  console.log(`${label} CPUID: ${report.join(', ')}`);
}

describe('CPUID leaf 1 EDX advertises only implemented features', () => {
  it('the default CPU (our guest): FPU, CMOV, MMX, FXSR, SSE, SSE2, every form of each implemented', () => {
    const edx = defaultCpuid().get(1 * 65536)![3] >>> 0;
    checkModel('default', edx);
    for (const [bit] of EDX_FEATURES) expect((edx >>> bit) & 1).toBe(1);
  });

  it('the Linux guest model: the same six (x86-64 Linux requires FPU, CMOV, FXSR, SSE, SSE2: REQUIRED_MASK0)', () => {
    const edx = linuxCpuid().get(1 * 65536)![3] >>> 0;
    checkModel('linux', edx);
    for (const [bit] of EDX_FEATURES) expect((edx >>> bit) & 1).toBe(1);
  });
});
