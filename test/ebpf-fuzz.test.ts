// Fuzzing the verifier against the interpreter: random programs and mutated conformance programs (seeded
// PRNG, so every run sees the same programs). Every program the verifier accepts runs under the interpreter in
// strict mode, which checks each access against the granted regions, the current stack frame and the bytes
// written so far; a verified program must finish without any fault, and the compiled code must give the same
// r0, step count and final memory. The soundness oracle: the verifier records each abstract state it checks an
// instruction in, and at every instruction a concrete run executes, its registers must lie inside one of the
// states recorded there. Rejected programs still run (with a budget) in both engines, which must agree on the
// result or the fault (message, pc, steps) and the final memory: nothing may escape as a host exception.
import { describe, expect, it } from 'vitest';
import { assemble } from '../src/hypervisor/ebpf/assembler.js';
import { compile } from '../src/hypervisor/ebpf/compiler.js';
import { disassemble } from '../src/hypervisor/ebpf/disassembler.js';
import { HelperId, hyperupcallHelpers } from '../src/hypervisor/ebpf/helpers.js';
import { interpret, type RunOptions, type RunResult } from '../src/hypervisor/ebpf/interpreter.js';
import { AluOp, Cls, Src, type Insn } from '../src/hypervisor/ebpf/isa.js';
import { Memory, RegionTag, address, framePointer } from '../src/hypervisor/ebpf/Memory.js';
import { OUT, mul64, toBig } from '../src/hypervisor/ebpf/u64.js';
import { verify, type AbstractReg, type VerifierOptions } from '../src/hypervisor/ebpf/verifier.js';
import { FUZZ_N, FUZZ_SEED, INTERESTING, fuzzCases, prng } from './ebpf-corpus.js';

const TAG = { mem: RegionTag.MEM, ctx: RegionTag.CTX, stack: RegionTag.STACK } as const;

/** Is the concrete register (lo, hi) inside the abstract one? Pointers: region tag and offset, as 64-bit values. */
function covers(r: AbstractReg, lo: number, hi: number): boolean {
  if (r.t === 'uninit') return true;
  const v = toBig(lo, hi);
  if (r.t === 'scalar') return r.min <= v && v <= r.max;
  const off = BigInt.asIntN(64, v - address(TAG[r.region], r.region === 'stack' ? framePointer(r.frame) : 0));
  return (r.min === -Infinity || off >= BigInt(r.min)) && (r.max === Infinity || off <= BigInt(r.max));
}
const showReg = (r: AbstractReg): string => (r.t === 'uninit' ? 'uninit' : r.t === 'scalar' ? `[${r.min.toString(16)}, ${r.max.toString(16)}]` : `${r.region}${r.t === 'ptr' && r.region === 'stack' ? r.frame : ''}+[${r.min}, ${r.max}]`);

/**
 * Verify with recording, then run the interpreter and check every executed instruction's registers against the
 * states recorded there. Returns the verification and the first violation (undefined: none, or rejected).
 */
function soundness(prog: Insn[], vopts: VerifierOptions, run: RunOptions): { ok: boolean; violation?: string } {
  const states = new Map<number, AbstractReg[][]>();
  const v = verify(prog, { ...vopts, onState: (pc, regs) => {
    const list = states.get(pc) ?? [];
    list.push(regs.slice());
    states.set(pc, list);
  } });
  if (!v.ok) return { ok: false };
  let violation: string | undefined;
  interpret(prog, { ...run, onStep: (pc, lo, hi) => {
    if (violation !== undefined) return;
    const list = states.get(pc) ?? [];
    if (list.some((s) => s.every((r, k) => covers(r, lo[k]!, hi[k]!)))) return;
    const s = list[list.length - 1];
    const k = s === undefined ? -1 : s.findIndex((r, j) => !covers(r, lo[j]!, hi[j]!));
    violation = s === undefined ? `pc ${pc} executed but never analysed`
      : `pc ${pc}: r${k} = 0x${toBig(lo[k]!, hi[k]!).toString(16)} outside ${showReg(s[k]!)} (${list.length} states)`;
  } });
  return { ok: true, violation };
}

interface Env { memory: Memory; args: bigint[] }
function env(mem: Uint8Array): Env {
  return { memory: Memory.standard({ mem: mem.slice() }), args: [address(RegionTag.MEM, 0), BigInt(mem.length)] };
}
const same = (a: RunResult, b: RunResult): boolean =>
  a.ok === b.ok && (a.ok && b.ok ? a.value === b.value && a.steps === b.steps : true);

describe('eBPF fuzz: verifier vs strict interpreter vs compiler', () => {
  it('mul64 matches BigInt', () => {
    const rnd = prng(7);
    for (let k = 0; k < 50_000; k++) {
      const v = [rnd() | 0, rnd() | 0, rnd() | 0, rnd() | 0].map((x) => (k % 4 === 0 ? INTERESTING[(x >>> 0) % INTERESTING.length]! | 0 : x));
      mul64(v[0]!, v[1]!, v[2]!, v[3]!);
      expect(toBig(OUT[0]!, OUT[1]!)).toBe(BigInt.asUintN(64, toBig(v[0]!, v[1]!) * toBig(v[2]!, v[3]!)));
    }
  });

  it('strict mode faults on what only it checks (so the fuzz check below can fail)', () => {
    // both programs stay inside the stack region, so a plain run succeeds
    const cases: Array<[string, RegExp]> = [
      ['ldxdw r0, [r10-8]\nexit', /read of uninitialised stack byte at offset 40(8[89]|9\d)/],
      ['mov r0, 0\nstb [r10-513], 1\nexit', /stack access at offset 3583 below the current frame/],
    ];
    for (const [src, why] of cases) {
      const prog = assemble(src);
      expect(interpret(prog, { memory: Memory.standard() }).ok, src).toBe(true);
      const memory = Memory.standard();
      const r = interpret(prog, { memory, strict: true });
      expect(r.ok ? 'ok' : r.error, src).toMatch(/^strict check: /);
      expect(memory.violations, src).toEqual([expect.stringMatching(why)]);
    }
  });

  it('every ALU operation on a pointer is modelled exactly or gives an unknown number (issue 20, class 1)', () => {
    // r3 = a pointer (program memory, the context, the stack at fp-8), then one ALU operation with an immediate
    // or with r4 (a number, or a pointer): the verifier's type for r3 afterwards must contain the concrete value
    const helpers = hyperupcallHelpers();
    const vopts: VerifierOptions = {
      helpers, regions: { mem: { size: 64, writable: true }, ctx: { size: 64, writable: false } },
      args: [{ kind: 'ptr', region: 'mem' }, { kind: 'ptr', region: 'ctx' }],
    };
    const ptrs = ['mov r3, r1', 'mov r3, r2', 'mov r3, r10\nadd r3, -8'];
    const r4s = ['mov r4, 3', 'mov r4, r2', 'mov r4, r10', 'mov r4, -1'];
    const problems: string[] = [];
    let checked = 0;
    for (const cls of [Cls.ALU, Cls.ALU64]) {
      for (let code: number = AluOp.ADD; code <= AluOp.END; code += 0x10) {
        for (const x of [Src.K, Src.X]) {
          const offs = code === AluOp.DIV || code === AluOp.MOD ? [0, 1] : code === AluOp.MOV && x === Src.X ? [0, 8, 16, 32] : [0];
          const imms = code === AluOp.END ? [16, 32, 64] : x === Src.X ? [0] : [0, 5, 32, -1];
          for (const off of offs) for (const imm of imms) for (const p of ptrs) for (const r4 of r4s) {
            const op: Insn = { opcode: cls | code | x, dst: 3, src: x === Src.X && code !== AluOp.END && code !== AluOp.NEG ? 4 : 0, off, imm };
            if (code === AluOp.NEG && x === Src.X) continue;
            if (code === AluOp.END && cls === Cls.ALU64 && x === Src.X) continue;
            const prog = [...assemble(`${p}\n${r4}`), op, ...assemble('mov r0, 0\nexit')];
            const memory = Memory.standard({ mem: new Uint8Array(64), ctx: new Uint8Array(64) });
            const s = soundness(prog, vopts, { memory, args: [address(RegionTag.MEM, 0), address(RegionTag.CTX, 0)], helpers });
            if (!s.ok) continue;
            checked++;
            if (s.violation !== undefined) problems.push(`${s.violation}\n${disassemble(prog)}`);
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(1000);
    expect(problems.slice(0, 3)).toEqual([]);
  });

  it('no verified program violates a granted region, and both engines agree', () => {
    // EBPF_FUZZ_SEED / EBPF_FUZZ_N run other (still deterministic) programs for a longer soak
    const rnd = prng(FUZZ_SEED ^ 0x5bd1e995); // budgets for the rejected programs (the corpus has its own)
    const helpers = hyperupcallHelpers();
    const allowed = [HelperId.MEMSET, HelperId.MEMCPY, HelperId.CMPXCHG];
    const problems: string[] = [];
    let programs = 0, verified = 0, rejected = 0, faultsInRejected = 0;
    const TOTAL = FUZZ_N; // a fixed count (no wall clock)
    for (const c of fuzzCases(FUZZ_SEED, TOTAL)) {
      if (c.prog === undefined) {
        problems.push(`generator produced bad assembly: ${c.error}`);
        continue;
      }
      const prog = c.prog, mem = c.mem;
      programs++;
      const vopts: VerifierOptions = {
        helpers,
        allowedHelpers: allowed,
        regions: { mem: { size: mem.length, writable: true } },
        args: [{ kind: 'ptr', region: 'mem' }, { kind: 'scalar', value: BigInt(mem.length) }],
      };
      let v;
      try {
        v = verify(prog, vopts);
      } catch (e) {
        problems.push(`verifier threw ${(e as Error).message}\n${disassemble(prog)}`);
        continue;
      }
      const e1 = env(mem), e2 = env(mem);
      let a: RunResult, b: RunResult;
      try {
        if (v.ok) {
          verified++;
          const e0 = env(mem);
          const sound = soundness(prog, vopts, { ...e0, helpers });
          if (sound.violation !== undefined) problems.push(`unsound: ${sound.violation}\n${disassemble(prog)}`);
          a = interpret(prog, { ...e1, helpers, strict: true });
          const compiled = compile(prog);
          b = compiled.run({ ...e2, helpers });
          // every verified program gets the structured code shape (docs/ebpf.md)
          if (compiled.shape !== 'structured') problems.push(`verified program compiled to the ${compiled.shape} shape\n${disassemble(prog)}`);
          if (!a.ok) problems.push(`verified program faulted: ${a.error} at ${a.pc}; violations ${e1.memory.violations.join('; ')}\n${disassemble(prog)}`);
          else if (!same(a, b)) problems.push(`engines differ: interpreter ${JSON.stringify(a, (_k, x) => (typeof x === 'bigint' ? x.toString(16) : x))} compiled ${JSON.stringify(b, (_k, x) => (typeof x === 'bigint' ? x.toString(16) : x))}\n${disassemble(prog)}`);
          else if (Buffer.compare(Buffer.from(e1.memory.bytes[RegionTag.MEM]!), Buffer.from(e2.memory.bytes[RegionTag.MEM]!)) !== 0) problems.push(`final memory differs\n${disassemble(prog)}`);
        } else {
          rejected++;
          // budgets that often end inside a block
          const budget = rnd() % 2 === 0 ? 5000 : 5 + (rnd() % 60);
          a = interpret(prog, { ...e1, helpers, maxSteps: budget });
          b = compile(prog).run({ ...e2, helpers, maxSteps: budget });
          if (!a.ok) faultsInRejected++;
          if (a.ok !== b.ok || (a.ok && b.ok && (a.value !== b.value || a.steps !== b.steps))) problems.push(`engines differ on a rejected program: ${a.ok ? a.value : a.error} vs ${b.ok ? b.value : b.error}\n${disassemble(prog)}`);
          // a fault is the same fault: message, instruction and steps so far
          else if (!a.ok && !b.ok && (a.error !== b.error || a.pc !== b.pc || a.steps !== b.steps)) problems.push(`engines fault differently: ${a.error} at ${a.pc} (${a.steps} steps) vs ${b.error} at ${b.pc} (${b.steps} steps)\n${disassemble(prog)}`);
          // and leave the same guest memory (the budget may run out inside a block: issue 20, class 5)
          else if (Buffer.compare(Buffer.from(e1.memory.bytes[RegionTag.MEM]!), Buffer.from(e2.memory.bytes[RegionTag.MEM]!)) !== 0) problems.push(`final memory differs on a rejected program\n${disassemble(prog)}`);
          if (a.ok === false && a.error.startsWith('internal error')) problems.push(`interpreter internal error ${a.error}\n${disassemble(prog)}`);
          if (b.ok === false && b.error.startsWith('internal error')) problems.push(`compiled internal error ${b.error}\n${disassemble(prog)}`);
        }
      } catch (err) {
        problems.push(`host exception escaped: ${(err as Error).stack}\n${disassemble(prog)}`);
      }
      if (problems.length > 5) break;
    }
    process.stdout.write(`\nfuzz: ${programs} programs, ${verified} verified, ${rejected} rejected (${faultsInRejected} of those fault at run time)\n`);
    expect(problems.slice(0, 3)).toEqual([]);
    expect(programs).toBe(TOTAL);
    expect(verified).toBeGreaterThanOrEqual(1000);
    expect(faultsInRejected).toBeGreaterThan(0); // the fuzzer does reach unsafe programs
  });
});
