// The eBPF fuzz generator (seeded, so every run sees the same programs): random programs in the assembler's
// dialect and mutations of the conformance suite's programs. Used by test/ebpf-fuzz.test.ts and by
// bench/ebpf.bench.ts (FIGURE ebpf.verify_worst_ms over the same corpus).
import { readFileSync, readdirSync } from 'node:fs';
import { assemble } from '../src/hypervisor/ebpf/assembler.js';
import { HelperId } from '../src/hypervisor/ebpf/helpers.js';
import { parseDataFile } from '../src/hypervisor/ebpf/parseDataFile.js';
import type { Insn } from '../src/hypervisor/ebpf/isa.js';

/** xorshift32 */
export function prng(seed: number): () => number {
  let s = seed | 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s >>> 0;
  };
}

export const INTERESTING = [0, 1, 2, 3, 7, 8, 15, 16, 31, 32, 63, 64, 100, 255, 256, 0x7fff, 0x8000, 0xffff, 0x7fffffff, -1, -2, -8, -64, -0x80000000, 0x12345678];

export function genProgram(rnd: () => number, memLen: number, n = 4 + (rnd() % 40)): string {
  const pick = <T,>(a: readonly T[]): T => a[rnd() % a.length]!;
  const imm = (): number => (rnd() % 3 === 0 ? (rnd() | 0) : pick(INTERESTING));
  // r6 keeps the memory pointer (restored into r1 after helper calls); random instructions never write it
  const DSTS = [0, 2, 3, 4, 5, 7, 8, 9];
  const reg = (): number => DSTS[rnd() % DSTS.length]!;
  const lines: string[] = ['mov r6, r1'];
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

export function mutate(rnd: () => number, p: readonly Insn[]): Insn[] {
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

/** The conformance suite's programs and memories (the mutation corpus). */
export function conformancePrograms(): Array<{ prog: Insn[]; mem: Uint8Array }> {
  const dir = '../shared/bpf_conformance/tests';
  return readdirSync(dir).filter((f) => f.endsWith('.data')).sort()
    .map((f) => parseDataFile(readFileSync(`${dir}/${f}`, 'utf8')))
    .map((d) => ({ prog: assemble(d.asm), mem: d.mem }));
}

export interface FuzzCase {
  /** undefined: the generator produced assembly that does not assemble (`error`) */
  prog: Insn[] | undefined;
  mem: Uint8Array;
  error?: string;
}

/** The fuzz corpus: `n` programs from `seed`, alternately a mutated conformance program and a generated one. */
export function* fuzzCases(seed: number, n: number, corpus = conformancePrograms()): Generator<FuzzCase> {
  const rnd = prng(seed);
  for (let k = 0; k < n; k++) {
    if (k % 2 === 0) {
      const c = corpus[rnd() % corpus.length]!;
      yield { prog: mutate(rnd, c.prog), mem: c.mem.length > 0 ? c.mem : new Uint8Array(rnd() % 3 === 0 ? 0 : 16) };
    } else {
      const mem = Uint8Array.from({ length: 1 + (rnd() % 64) }, () => rnd() & 0xff);
      try {
        yield { prog: assemble(genProgram(rnd, mem.length)), mem };
      } catch (e) {
        yield { prog: undefined, mem, error: (e as Error).message };
      }
    }
  }
}

/** The fuzz corpus's seed and size (EBPF_FUZZ_SEED / EBPF_FUZZ_N run other, still deterministic, programs). */
export const FUZZ_SEED = Number(process.env.EBPF_FUZZ_SEED ?? 0x9e3779b9);
export const FUZZ_N = Number(process.env.EBPF_FUZZ_N ?? 6000);
