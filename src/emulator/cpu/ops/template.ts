// Instruction semantics are written once, as small JavaScript templates, and turned into one handler per
// (operation, operand form, size) with `new Function`, so that each handler is its own function for V8:
// the arithmetic is inlined and every call site inside it stays monomorphic (closures made by a shared
// factory would share type feedback and go megamorphic). The same template text can later be inlined into
// compiled blocks with the operand fields as constants.
//
// Template language (plain JavaScript plus):
//   $name       a field of the Op (op.name in the interpreter)
//   EA          computes the memory operand's address into the constants `eal`, `eah`
//   OP          the Op itself (for calls into a hand-written slow path)
// In scope: `cpu` (the Cpu), `op` (the Op), `L` / `H` (low / high words of the 16 GPRs), `M` (the Mmu),
// and the helper namespace `X` (flag kinds and shared helpers, see below).

import type { Cpu } from '../Cpu.js';
import type { Handler, Op } from '../Op.js';
import { K_ADD, K_EAGER, K_RES, K_SUB, PARITY, F, getArith, getCF, testCondition, setArith } from '../flags.js';
import { checkSse } from '../fpu/fpuState.js';
import { Vector } from '../faults.js';

/** A slow path an SSE template falls back to: the handler's general code with the source in slot `s`. */
export type SlowPath = (cpu: Cpu, op: Op, s: number) => void;
const unset: SlowPath = () => {
  throw new Error('SSE slow path not registered');
};

/**
 * What the SSE templates call: availability checks and the slow paths of the SSE families, which register
 * them when they load (they import this module, so it cannot import them).
 */
export const XS = {
  checkSse,
  gp(cpu: Cpu): never {
    throw cpu.fault.set(Vector.GP, 0);
  },
  arithD: unset,
  comis: unset,
  cvtFromInt: unset,
};

/** Helpers reachable from templates as `X.name`. */
export const X = {
  K_ADD, K_SUB, K_RES, K_EAGER, PARITY, F, getArith, getCF, testCondition, setArith, S: XS,
} as const;

export interface Template {
  name: string;
  body: string;
}

const handlers = new Map<string, Handler>();
/** Handler -> the template it was built from (the block compiler inlines templates). */
const templates = new Map<Handler, Template>();

/** The template a handler was built from, or undefined for a hand-written handler. */
export function templateOf(fn: Handler): Template | undefined {
  return templates.get(fn);
}

/** Build (once) the interpreter handler for a template. */
export function handler(t: Template): Handler {
  const cached = handlers.get(t.name);
  if (cached !== undefined) return cached;
  const body = expand(t.body);
  let fn: Handler;
  try {
    // eslint-disable-next-line @typescript-eslint/no-implied-eval
    const factory = new Function('X', `"use strict"; return function ${sanitize(t.name)}(cpu, op) {\n` +
      `const L = cpu.lo, H = cpu.hi, M = cpu.mmu;\n${body}\n};`) as (x: typeof X) => Handler;
    fn = factory(X);
  } catch (e) {
    throw new Error(`template ${t.name} does not compile: ${(e as Error).message}\n${body}`);
  }
  handlers.set(t.name, fn);
  templates.set(fn, t);
  return fn;
}

/** Give `op` the handler built from `tpl`, and its name. */
export function useTemplate(op: Op, tpl: Template): true {
  op.fn = handler(tpl);
  op.name = tpl.name;
  return true;
}

function sanitize(name: string): string {
  return name.replace(/[^A-Za-z0-9_]/g, '_');
}

function expand(body: string): string {
  return body
    .replace(/\bEA\b;?/g, 'op.ea(cpu, op); const eal = cpu.eaLo, eah = cpu.eaHi;')
    .replace(/\bOP\b/g, 'op')
    .replace(/\$([a-zA-Z]+)/g, 'op.$1');
}

// ---- code snippets shared by the families ----------------------------------------------------------

export type Size = 8 | 16 | 32 | 64;
export const SIZE_CODE: Record<Size, number> = { 8: 0, 16: 1, 32: 2, 64: 3 };

/** Expression reading register `r` (an Op field name such as 'd') at size (< 64). */
export function rget(size: Size, r: 'd' | 's' | 't'): string {
  switch (size) {
    case 8: return `((L[$${r}] >>> $${r}sh) & 255)`;
    case 16: return `(L[$${r}] & 65535)`;
    default: return `L[$${r}]`;
  }
}

/** Statement writing value expression `v` to register `r` at size (< 64; 32 zero-extends, SDM 3.4.1.1). */
export function rset(size: Size, r: 'd' | 's' | 't', v: string): string {
  switch (size) {
    case 8: return `L[$${r}] = (L[$${r}] & ~(255 << $${r}sh)) | ((${v} & 255) << $${r}sh);`;
    case 16: return `L[$${r}] = (L[$${r}] & -65536) | (${v} & 65535);`;
    default: return `L[$${r}] = ${v}; H[$${r}] = 0;`;
  }
}

/** Expression reading memory at (eal, eah) at size (< 64), normalised as registers are. */
export function mget(size: Size): string {
  switch (size) {
    case 8: return 'M.read8(eal, eah)';
    case 16: return 'M.read16(eal, eah)';
    default: return 'M.read32(eal, eah)';
  }
}

export function mset(size: Size, v: string): string {
  switch (size) {
    case 8: return `M.write8(eal, eah, ${v});`;
    case 16: return `M.write16(eal, eah, ${v});`;
    default: return `M.write32(eal, eah, ${v});`;
  }
}

/** Mask normalising a value of this size (< 64) as stored in lazy flags and registers. */
export function norm(size: Size, v: string): string {
  switch (size) {
    case 8: return `((${v}) & 255)`;
    case 16: return `((${v}) & 65535)`;
    default: return `((${v}) | 0)`;
  }
}

/** Immediate of this size, normalised. */
export function immv(size: Size): string {
  return size === 8 ? '($imm & 255)' : size === 16 ? '($imm & 65535)' : '$imm';
}

/** Record lazy flags for sizes < 64. */
export function setFlags(kind: string, size: Size, d: string, s: string, r: string, x: string): string {
  return `cpu.fk = ${kind}; cpu.fsz = ${SIZE_CODE[size]}; cpu.fd = ${d}; cpu.fs = ${s}; cpu.fr = ${r}; cpu.fx = ${x};`;
}

/** Record lazy flags for 64-bit operations. */
export function setFlags64(kind: string, dl: string, dh: string, sl: string, sh: string, rl: string, rh: string, x: string): string {
  return `cpu.fk = ${kind}; cpu.fsz = 3; cpu.fd = ${dl}; cpu.fdh = ${dh}; cpu.fs = ${sl}; cpu.fsh = ${sh}; cpu.fr = ${rl}; cpu.frh = ${rh}; cpu.fx = ${x};`;
}
