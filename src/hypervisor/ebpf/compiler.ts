// Compiler from eBPF to JavaScript (`new Function`): the hypervisor "compiling the verified bytecode back to
// native code" (seed paper section 3.1), with V8 doing the last step. Two code shapes (docs/ebpf.md):
//  - structured (programs whose control flow is well formed: what the verifier accepts, and more): each
//    subprogram (the entry and every target of `call local`) becomes one JS function, so a local call is a JS
//    call and a return is a JS return. Inside a function the control-flow graph becomes nested labelled
//    blocks and loops (`break`/`continue`, Ramsey's "Beyond Relooper" construction for reducible graphs), so
//    no jump dispatches at run time. Registers passed into and out of a call are the ones live across it
//    (liveness over all functions); r6-r9 are callee-saved by construction, since the caller's locals are
//    untouched by the callee's. Registers with a compile-time constant value (constant propagation) are folded
//    into multiplies, shifts, ALU operands and compares.
//  - general (anything else, and programs with a function too large for V8 to optimise): basic blocks are cases
//    of `for (;;) switch (pc)` (or an if-chain when loop-free), in chunks of at most CHUNK instructions, with
//    explicit frames (return pc and r6-r9 in typed arrays).
// Both: registers are JS locals (r0l/r0h .. r10l/r10h, int32 lo/hi words); immediates, shift counts, sizes and
// offsets are folded; every memory access is bounds-checked inline against the granted regions (one compare on
// the region tag, one on the offset), the slow path calling Memory.check, which raises the fault; each block
// counts its instructions against the run-time budget, so the compiled code reports the interpreter's steps.
// Strict mode (Memory.strict, the verifier check) is interpreter-only: the compiled code does not track frames
// for it.
// Invariant: every register local holds an int32 (a `>>>` result is always re-normalised with `| 0`), since
// 32-bit compares and equality tests read the locals directly.
// Semantics are the interpreter's (RFC 9669); the conformance test runs both on every file, the fuzz test on
// thousands of random programs.
import { outsideProgram, type Insn } from './isa.js';
import { EbpfFault, type Memory } from './Memory.js';
import { callHelper, type HelperRegistry } from './helpers.js';
import { DEFAULT_MAX_STEPS, predecode, resume, type RunOptions, type RunResult } from './interpreter.js';
import { generalSource } from './generalShape.js';
import { structuredSource } from './structuredShape.js';
import * as U from './u64.js';

export interface CompiledProgram {
  /** Run the compiled code. Never throws for anything the program does. (`strict` is interpreter-only.) */
  run(opts: RunOptions): RunResult;
  /** The generated JavaScript (for inspection). */
  readonly source: string;
  /** Which code shape was generated (see the file comment). */
  readonly shape: 'structured' | 'general';
}

const NO_ARGS: readonly bigint[] = [];

// ---- compile ----

export function compile(program: readonly Insn[]): CompiledProgram {
  // Every field the generated source inlines is an integer of its encoding's type, whatever the caller built
  // the instructions from (a field that is not becomes what the interpreter's typed arrays make of it): no
  // field can inject code, and both engines run the same instructions.
  const decoded = predecode(program);
  const insns: Insn[] = Array.from({ length: decoded.length }, (_, i) => ({
    opcode: decoded.op[i]!, dst: decoded.dst[i]!, src: decoded.src[i]!, off: decoded.off[i]!, imm: decoded.imm[i]!,
  }));
  const structured = structuredSource(insns);
  const source = structured ?? generalSource(insns);
  const factory = new Function('U', 'O', 'F', 'C', 'H', 'P', 'S', source) as (...a: unknown[]) => CompiledFn;
  /** The slow path when the budget runs out inside a block: the interpreter from there (interpreter.resume). */
  const slow = (pc: number, steps: number, depth: number, regs: ArrayLike<number>, memory: Memory, helpers: HelperRegistry | undefined, maxSteps: number): EbpfFault => {
    const r = resume(decoded, { memory, helpers, maxSteps }, pc, steps, depth, regs);
    const e = new EbpfFault(r.ok ? `internal error: the budget did not run out in the block at ${pc}` : r.error, r.ok ? pc : r.pc);
    e.steps = r.steps;
    return e;
  };
  const fn = factory(U, U.OUT, EbpfFault, checkSlow, callHelper, outsideProgram, slow);
  // r1-r5 in and r0 out, shared by every run: the code reads init before any helper can start a nested run,
  // and a nested run's r0 is read before the outer run writes its own
  const init = new Int32Array(10);
  const res = new Int32Array(2);
  return {
    source,
    shape: structured !== undefined ? 'structured' : 'general',
    run(opts: RunOptions): RunResult {
      U.argWords(opts.args ?? NO_ARGS, init);
      try {
        const steps = fn(opts.memory, init, opts.maxSteps ?? DEFAULT_MAX_STEPS, res, opts.helpers);
        return { ok: true, value: U.toBig(res[0]!, res[1]!), steps };
      } catch (e) {
        if (e instanceof EbpfFault) return { ok: false, error: e.message, pc: e.pc, steps: e.steps };
        return { ok: false, error: `internal error: ${(e as Error)?.message ?? String(e)}`, pc: -1, steps: -1 };
      }
    },
  };
}

type CompiledFn = (mem: Memory, init: Int32Array, maxSteps: number, out: Int32Array, helpers: HelperRegistry | undefined) => number;

/** The slow path of an inline bounds check: Memory.check raises the fault; this adds the pc. */
function checkSlow(mem: Memory, hi: number, lo: number, size: number, write: boolean, pc: number): DataView {
  try {
    return mem.check(hi, lo, size, write);
  } catch (e) {
    if (e instanceof EbpfFault) e.pc = pc;
    throw e;
  }
}
