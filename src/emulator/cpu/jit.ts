// Hot-block compilation: a block that has run JIT_THRESHOLD times is turned into one JavaScript function by
// splicing the same instruction templates the interpreter handlers are built from, with every Op field
// (registers, immediates, displacements) substituted as a constant and the addressing inlined. V8 then
// keeps registers and flags state in a single optimized function per hot loop (the measured ~2x over
// per-op dispatch in shared/notes/emulator.md). Hand-written handlers are called as they are.
//
// Faults: the compiled function keeps the index of the running op in a local and publishes it in
// cpu.jitIndex when something is thrown, so the run loop restores RIP and icount exactly as for
// interpreted blocks. Self-modifying code: after each op that may store, it compares cpu.codeGen (bumped by
// every invalidation of decoded code) and stops the block before the next op if code changed.

import type { Cpu } from './Cpu.js';
import type { Op } from './Op.js';
import { eaAbs, eaBase, eaBaseDisp, eaBaseIndex, eaIndex } from './ea.js';
import { X, templateOf } from './ops/template.js';
import { Vector } from './faults.js';

export type JitFn = (cpu: Cpu, ops: Op[]) => void;

/** Executions of a block before it is compiled (compiling costs ~40-90 us; only hot code pays back). */
export const JIT_THRESHOLD = 64;

const TWO32 = 4294967296;

function lit(v: number): string {
  return v < 0 ? `(${v})` : String(v);
}

/** Inline effective-address code for op k, defining eal / eah. */
function eaCode(op: Op, k: number): string {
  const d = op.disp;
  switch (op.ea) {
    case eaAbs:
      return `const eal = ${lit(op.disp)}, eah = ${lit(op.disph)};`;
    case eaBase:
      return `const eal = L[${op.base}], eah = H[${op.base}];`;
    case eaBaseDisp:
      return `const s_ = (L[${op.base}] >>> 0) + ${lit(d)}; const eal = s_ | 0, eah = (H[${op.base}] + (s_ - (s_ >>> 0)) / ${TWO32}) | 0;`;
    case eaBaseIndex: {
      const sc = op.scale;
      const ih = sc === 0 ? `H[${op.index}]` : `((H[${op.index}] << ${sc}) | (L[${op.index}] >>> ${32 - sc}))`;
      return `const s_ = (L[${op.base}] >>> 0) + ((L[${op.index}] << ${sc}) >>> 0) + ${lit(d)}; ` +
        `const eal = s_ | 0, eah = (H[${op.base}] + ${ih} + (s_ - (s_ >>> 0)) / ${TWO32}) | 0;`;
    }
    case eaIndex: {
      const sc = op.scale;
      const ih = sc === 0 ? `H[${op.index}]` : `((H[${op.index}] << ${sc}) | (L[${op.index}] >>> ${32 - sc}))`;
      return `const s_ = ((L[${op.index}] << ${sc}) >>> 0) + ${lit(d)}; const eal = s_ | 0, eah = (${ih} + (s_ - (s_ >>> 0)) / ${TWO32}) | 0;`;
    }
    default:
      return `ops[${k}].ea(cpu, ops[${k}]); const eal = cpu.eaLo, eah = cpu.eaHi;`;
  }
}

function opCode(op: Op, k: number): { code: string; mayStore: boolean } {
  const t = templateOf(op.fn);
  if (t === undefined) return { code: `ops[${k}].fn(cpu, ops[${k}]);`, mayStore: true };
  const code = t.body
    .replace(/\bEA\b;?/g, () => eaCode(op, k))
    .replace(/\bOP\b/g, `ops[${k}]`)
    .replace(/\$([a-zA-Z]+)/g, (_, f: string) => {
      const v = (op as unknown as Record<string, unknown>)[f];
      if (typeof v !== 'number') throw new Error(`template ${t.name}: field ${f} is not a number`);
      return lit(v);
    });
  return { code, mayStore: /M\.(write|probeWrite)/.test(code) };
}

/** Compile a block's ops into one function; null if it cannot (the block keeps being interpreted). */
export function compileBlock(ops: Op[]): JitFn | null {
  const parts: string[] = [];
  const last = ops.length - 1;
  for (let k = 0; k <= last; k++) {
    let c: { code: string; mayStore: boolean };
    try {
      c = opCode(ops[k], k);
    } catch {
      return null;
    }
    parts.push(k === 0 ? `{ ${c.code} }` : `i = ${k}; { ${c.code} }`);
    if (c.mayStore && k < last) parts.push(`if (cpu.codeGen !== g0) { i = ${k + 1}; throw cpu.fault.set(${Vector.RESTART}, 0); }`);
  }
  const src = `"use strict"; return function jitBlock(cpu, ops) {
const L = cpu.lo, H = cpu.hi, M = cpu.mmu; const g0 = cpu.codeGen; let i = 0;
try {
${parts.join('\n')}
} catch (e) { cpu.jitIndex = i; throw e; }
};`;
  try {
    // eslint-disable-next-line @typescript-eslint/no-implied-eval
    return (new Function('X', src) as (x: typeof X) => JitFn)(X);
  } catch {
    return null;
  }
}
