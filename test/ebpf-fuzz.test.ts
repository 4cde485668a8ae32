// Fuzzing the verifier against the interpreter: random programs and mutated conformance programs (seeded
// PRNG, so every run sees the same programs). Every program the verifier accepts runs under the interpreter in
// strict mode, which checks each access against the granted regions, the current stack frame and the bytes
// written so far; a verified program must finish without any fault, and the compiled code must give the same
// r0, step count and final memory. Rejected programs still run (with a budget) in both engines: nothing may
// escape as a host exception.
import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { assemble } from '../src/hypervisor/ebpf/assembler.js';
import { compile } from '../src/hypervisor/ebpf/compiler.js';
import { disassemble } from '../src/hypervisor/ebpf/disassembler.js';
import { HelperId, hyperupcallHelpers } from '../src/hypervisor/ebpf/helpers.js';
import { interpret, type RunResult } from '../src/hypervisor/ebpf/interpreter.js';
import type { Insn } from '../src/hypervisor/ebpf/isa.js';
import { Memory, RegionTag, address } from '../src/hypervisor/ebpf/Memory.js';
import { parseDataFile } from '../src/hypervisor/ebpf/parseDataFile.js';
import { OUT, mul64, toBig } from '../src/hypervisor/ebpf/u64.js';
import { verify, type VerifierOptions } from '../src/hypervisor/ebpf/verifier.js';

/** xorshift32 */
function prng(seed: number): () => number {
  let s = seed | 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s >>> 0;
  };
}

const INTERESTING = [0, 1, 2, 3, 7, 8, 15, 16, 31, 32, 63, 64, 100, 255, 256, 0x7fff, 0x8000, 0xffff, 0x7fffffff, -1, -2, -8, -64, -0x80000000, 0x12345678];

function genProgram(rnd: () => number, memLen: number): string {
  const pick = <T,>(a: readonly T[]): T => a[rnd() % a.length]!;
  const imm = (): number => (rnd() % 3 === 0 ? (rnd() | 0) : pick(INTERESTING));
  // r6 keeps the memory pointer (restored into r1 after helper calls); random instructions never write it
  const DSTS = [0, 2, 3, 4, 5, 7, 8, 9];
  const reg = (): number => DSTS[rnd() % DSTS.length]!;
  const lines: string[] = ['mov r6, r1'];
  const n = 4 + (rnd() % 40);
  const sloppy = rnd() % 8 === 0; // sometimes leave registers and the stack uninitialised
  for (const r of DSTS) if (r !== 2 && (!sloppy || rnd() % 2)) lines.push(`mov r${r}, ${imm()}`);
  if (!sloppy) for (let k = 8; k <= 48; k += 8) lines.push(`stdw [r10-${k}], ${imm()}`);
  const jumps: Array<{ at: number; to: number }> = [];
  for (let k = 0; k < n; k++) {
    const kind = rnd() % 16;
    const w = rnd() % 2 === 0 ? '' : '32';
    const sz = pick(['b', 'h', 'w', 'dw']);
    const memOff = (rnd() % (memLen + 8)) - 2;
    const stackOff = -1 - (rnd() % 40);
    if (kind < 6) {
      const op = pick(['add', 'sub', 'mul', 'div', 'sdiv', 'or', 'and', 'lsh', 'rsh', 'mod', 'smod', 'xor', 'mov', 'arsh']);
      lines.push(rnd() % 2 ? `${op}${w} r${reg()}, r${reg()}` : `${op}${w} r${reg()}, ${imm()}`);
    } else if (kind === 6) {
      const u = pick(['neg', 'neg32', 'be16', 'be32', 'be64', 'le16', 'le32', 'bswap16', 'bswap64', 'movsx832', 'movsx1664', 'movsx3264']);
      lines.push(u.startsWith('movsx') ? `${u} r${reg()}, r${reg()}` : `${u} r${reg()}`);
    }
    else if (kind === 7) lines.push(`ldx${pick(['', 's'])}${pick(['b', 'h', 'w'])} r${reg()}, [r1${memOff < 0 ? memOff : `+${memOff}`}]`);
    else if (kind === 8) lines.push(`ldx${sz} r${reg()}, [r10${stackOff}]`);
    else if (kind === 9) lines.push(rnd() % 2 ? `st${sz} [r1+${Math.abs(memOff)}], ${imm()}` : `stx${sz} [r1+${Math.abs(memOff)}], r${reg()}`);
    else if (kind === 10) lines.push(rnd() % 2 ? `st${sz} [r10${stackOff}], ${imm()}` : `stx${sz} [r10${stackOff}], r${reg()}`);
    else if (kind === 11) lines.push(`lock ${pick(['', 'fetch '])}${pick(['add', 'or', 'and', 'xor'])}${w} [r10-8], r${reg()}`, '');
    else if (kind === 12) {
      // pointer arithmetic on a copy of r1 with a masked index
      const r = pick([3, 4, 5, 7, 8]);
      lines.push(`ldxb r${r}, [r1]`, `and r${r}, ${pick([7, 15, 31, 63])}`, `mov r9, r1`, `add r9, r${r}`, `ldxb r0, [r9]`);
    } else if (kind === 13) {
      // helper call: memset/memcpy/cmpxchg into mem or the stack
      const h = pick([HelperId.MEMSET, HelperId.MEMCPY, HelperId.CMPXCHG]);
      const src = h === HelperId.MEMCPY ? ['mov r2, r10', `add r2, ${-16 - (rnd() % 16)}`] : [`mov r2, ${rnd() % 4}`];
      lines.push(rnd() % 3 ? 'mov r1, r10' : 'mov r1, r6', `add r1, ${rnd() % 3 ? -8 - (rnd() % 16) : rnd() % 8}`, ...src, `mov r3, ${rnd() % 12}`, `call ${h}`,
        'mov r1, r6', `mov r2, ${imm()}`, `mov r3, ${imm()}`, `mov r4, ${imm()}`, `mov r5, ${imm()}`);
    } else if (kind === 14) {
      jumps.push({ at: lines.length, to: 0 });
      lines.push(rnd() % 2 ? `j${pick(['eq', 'ne', 'gt', 'ge', 'lt', 'le', 'sgt', 'sge', 'slt', 'sle', 'set'])}${w} r${reg()}, ${imm()}, @` : `jgt r${reg()}, r${reg()}, @`);
    } else lines.push(`lddw r${reg()}, ${BigInt.asUintN(64, BigInt(rnd()) << 32n | BigInt(rnd()))}`);
  }
  const body = lines.filter((l) => l !== '');
  const end = body.length;
  body.push('mov r0, r0', 'exit');
  // forward jumps to random later instructions (labels)
  const out = body.map((l, i) => ({ l, label: '' }));
  let lab = 0;
  for (let i = 0; i < body.length; i++) {
    if (!body[i]!.endsWith('@')) continue;
    const t = i + 1 + (rnd() % Math.max(1, end + 1 - i));
    const name = `L${lab++}`;
    out[i]!.l = body[i]!.replace('@', name);
    out[t]!.label += `${name}:\n`;
  }
  return out.map((o) => o.label + o.l).join('\n');
}

function mutate(rnd: () => number, p: readonly Insn[]): Insn[] {
  const q = p.map((x) => ({ ...x }));
  const muts = 1 + (rnd() % 3);
  for (let m = 0; m < muts && q.length > 0; m++) {
    const i = rnd() % q.length;
    const x = q[i]!;
    switch (rnd() % 8) {
      case 0: x.dst = rnd() % 11; break;
      case 1: x.src = rnd() % 11; break;
      case 2: x.off = rnd() % 2 ? x.off + (rnd() % 9) - 4 : ((rnd() % 1040) - 520); break;
      case 3: x.imm = rnd() % 2 ? x.imm + (rnd() % 9) - 4 : INTERESTING[rnd() % INTERESTING.length]!; break;
      case 4: x.opcode = p[rnd() % p.length]!.opcode; break;
      case 5: x.opcode = rnd() & 0xff; break;
      case 6: q.splice(i, 1); break;
      default: q.splice(i, 0, { ...q[rnd() % q.length]! }); break;
    }
  }
  return q;
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

  it('no verified program violates a granted region, and both engines agree', () => {
    // EBPF_FUZZ_SEED / EBPF_FUZZ_N run other (still deterministic) programs for a longer soak
    const rnd = prng(Number(process.env.EBPF_FUZZ_SEED ?? 0x9e3779b9));
    const helpers = hyperupcallHelpers();
    const allowed = [HelperId.MEMSET, HelperId.MEMCPY, HelperId.CMPXCHG];
    const corpus = readdirSync('../shared/bpf_conformance/tests').filter((f) => f.endsWith('.data')).sort()
      .map((f) => parseDataFile(readFileSync(`../shared/bpf_conformance/tests/${f}`, 'utf8')))
      .map((d) => ({ prog: assemble(d.asm), mem: d.mem }));
    const problems: string[] = [];
    let programs = 0, verified = 0, rejected = 0, faultsInRejected = 0;
    const TOTAL = Number(process.env.EBPF_FUZZ_N ?? 6000); // a fixed count (no wall clock): about 5 s here
    for (let k = 0; k < TOTAL; k++) {
      let prog: Insn[];
      let mem: Uint8Array;
      if (k % 2 === 0) {
        const c = corpus[rnd() % corpus.length]!;
        prog = mutate(rnd, c.prog);
        mem = c.mem.length > 0 ? c.mem : new Uint8Array(rnd() % 3 === 0 ? 0 : 16);
      } else {
        mem = Uint8Array.from({ length: 1 + (rnd() % 64) }, () => rnd() & 0xff);
        try {
          prog = assemble(genProgram(rnd, mem.length));
        } catch (e) {
          problems.push(`generator produced bad assembly: ${(e as Error).message}`);
          continue;
        }
      }
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
          a = interpret(prog, { ...e1, helpers, maxSteps: 5000 });
          b = compile(prog).run({ ...e2, helpers, maxSteps: 5000 });
          if (!a.ok) faultsInRejected++;
          if (a.ok !== b.ok || (a.ok && b.ok && a.value !== b.value)) problems.push(`engines differ on a rejected program: ${a.ok ? a.value : a.error} vs ${b.ok ? b.value : b.error}\n${disassemble(prog)}`);
          // a fault is the same fault: message and instruction
          else if (!a.ok && !b.ok && (a.error !== b.error || a.pc !== b.pc)) problems.push(`engines fault differently: ${a.error} at ${a.pc} vs ${b.error} at ${b.pc}\n${disassemble(prog)}`);
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
