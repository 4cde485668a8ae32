// Multi-instruction differential cases: flag producers followed by every flag consumer (lazy-flag state
// handed from one instruction kind to the next, also inside JIT-compiled blocks), random straight-line
// programs, and prefix oddities.
//
// Flag bookkeeping while generating: `undef` is the set of flags the SDM leaves undefined at this point
// (SDM Vol. 1 Appendix A / each instruction's "Flags Affected"); a consumer only reads defined flags, so
// every result of a program is architecturally defined. The final flags are masked from iced-x86's info.

import { CONDS, FL, Gen, ARITH, hex, immFor, pickRegs, ptr, put, putMem, reg, val, type CaseSpec, type Reg, type Size, SIZES } from './cases.js';
import { Rng } from './prng.js';
import { DATA_BASE } from './types.js';

const { CF, PF, AF, ZF, SF, OF } = FL;
const ALL6 = ARITH;

/** Flags each condition code reads (SDM Vol. 1 Appendix B). */
export const COND_FLAGS: Record<(typeof CONDS)[number], bigint> = {
  o: OF, no: OF, b: CF, ae: CF, e: ZF, ne: ZF, be: CF | ZF, a: CF | ZF,
  s: SF, ns: SF, p: PF, np: PF, l: SF | OF, ge: SF | OF, le: ZF | SF | OF, g: ZF | SF | OF,
};

/** Scratch base register of these cases (never an operand), and the stack pointer: both reserved. */
const BASE = 5;
const RESERVED = [4, BASE];

interface Step {
  asm: string;
  /** Flags given a defined value. */
  defines: bigint;
  /** Flags left undefined. */
  undef: bigint;
  /** Flags read. */
  reads: bigint;
}

type St = { regs: bigint[]; rflags: bigint; mem: Uint8Array };

const mem = (rng: Rng, size: Size): string => `${ptr(size)} [rbp ${rng.bool() ? '+' : '-'} ${hex(BigInt(rng.int(0x7f0) & ~(rng.bool() ? 0 : size / 8 - 1)))}]`;
const regs1 = (rng: Rng, size: Size): Reg => pickRegs(rng, [size], { exclude: RESERVED })[0];
const regs2 = (rng: Rng, size: Size): Reg[] => pickRegs(rng, [size, size], { exclude: RESERVED });
const wide = (rng: Rng): Size => rng.pick([16, 32, 64] as const);
const anySize = (rng: Rng): Size => rng.pick(SIZES);

/** Instruction makers: each returns the step, or null when it would read an undefined flag. */
const MAKERS: Record<string, (rng: Rng, st: St, undef: bigint) => Step | null> = {
  arith(rng, st, undef) {
    const op = rng.pick(['add', 'sub', 'cmp', 'adc', 'sbb', 'neg', 'xadd', 'cmpxchg'] as const);
    const reads = op === 'adc' || op === 'sbb' ? CF : 0n;
    if (reads & undef) return null;
    const size = anySize(rng);
    if (op === 'neg') {
      const [d] = [regs1(rng, size)];
      put(st.regs, d, val(rng, size));
      return { asm: `neg ${d.name}`, defines: ALL6, undef: 0n, reads };
    }
    const [d, s] = regs2(rng, size);
    if (op === 'xadd' || op === 'cmpxchg') return { asm: `${op} ${d.name}, ${s.name}`, defines: ALL6, undef: 0n, reads };
    const form = rng.int(4);
    const asm =
      form === 0 ? `${op} ${d.name}, ${s.name}`
      : form === 1 ? `${op} ${d.name}, ${immFor(rng, size, size !== 8 && rng.bool())}`
      : form === 2 ? `${op} ${d.name}, ${mem(rng, size)}`
      : `${op} ${mem(rng, size)}, ${s.name}`;
    return { asm, defines: ALL6, undef: 0n, reads };
  },
  logic(rng) {
    const op = rng.pick(['and', 'or', 'xor', 'test'] as const);
    const size = anySize(rng);
    const [d, s] = regs2(rng, size);
    const asm = rng.bool() ? `${op} ${d.name}, ${s.name}` : `${op} ${d.name}, ${immFor(rng, size, size !== 8 && rng.bool())}`;
    return { asm, defines: ALL6 & ~AF, undef: AF, reads: 0n };
  },
  incdec(rng) {
    const size = anySize(rng);
    const t = rng.bool() ? regs1(rng, size).name : mem(rng, size);
    return { asm: `${rng.pick(['inc', 'dec'])} ${t}`, defines: OF | SF | ZF | AF | PF, undef: 0n, reads: 0n };
  },
  move(rng) {
    const size = anySize(rng);
    const [d, s] = regs2(rng, size);
    const k = rng.int(8);
    const asm =
      k === 0 ? `mov ${d.name}, ${s.name}`
      : k === 1 ? `mov ${d.name}, ${mem(rng, size)}`
      : k === 2 ? `mov ${mem(rng, size)}, ${s.name}`
      : k === 3 ? `not ${d.name}`
      : k === 4 && size !== 8 ? `lea ${d.name}, [${reg(64, s.idx).name} + ${reg(64, regs1(rng, 64).idx).name}*${rng.pick([1, 2, 4, 8])} + ${rng.int(256) - 128}]`
      : k === 5 && size >= 32 ? `bswap ${d.name}`
      : k === 6 && size !== 8 ? `${rng.pick(['movzx', 'movsx'])} ${d.name}, ${pickRegs(rng, [8], { exclude: RESERVED, noHigh: d.idx >= 8 || size === 64 })[0].name}`
      : `xchg ${d.name}, ${s.name}`;
    return { asm, defines: 0n, undef: 0n, reads: 0n };
  },
  shift(rng) {
    const op = rng.pick(['shl', 'shr', 'sar'] as const);
    const size = anySize(rng);
    const c = 1 + rng.int(size - 1);
    const t = rng.int(4) === 0 ? mem(rng, size) : regs1(rng, size).name;
    return { asm: `${op} ${t}, ${c}`, defines: CF | SF | ZF | PF | (c === 1 ? OF : 0n), undef: AF | (c === 1 ? 0n : OF), reads: 0n };
  },
  rotate(rng, _st, undef) {
    const op = rng.pick(['rol', 'ror', 'rcl', 'rcr'] as const);
    const reads = op === 'rcl' || op === 'rcr' ? CF : 0n;
    if (reads & undef) return null;
    const size = anySize(rng);
    // Below the operand size: iced-x86's flag info treats an RCL/RCR count of size+1 as "no change", while
    // the SDM (and the host) leave OF undefined there; those counts are covered by the shift family.
    const c = 1 + rng.int(size - 1);
    const t = regs1(rng, size).name;
    return { asm: `${op} ${t}, ${c}`, defines: CF | (c === 1 ? OF : 0n), undef: c === 1 ? 0n : OF, reads };
  },
  mul(rng, st) {
    const size = wide(rng);
    const [d, s] = regs2(rng, size);
    put(st.regs, s, val(rng, size));
    const k = rng.int(3);
    const asm = k === 0 ? `imul ${d.name}, ${s.name}` : k === 1 ? `imul ${d.name}, ${s.name}, ${immFor(rng, size, rng.bool())}` : `${rng.pick(['mul', 'imul'])} ${s.name}`;
    return { asm, defines: CF | OF, undef: SF | ZF | AF | PF, reads: 0n };
  },
  bt(rng) {
    const size = wide(rng);
    const op = rng.pick(['bt', 'bts', 'btr', 'btc']);
    return { asm: `${op} ${regs1(rng, size).name}, ${rng.int(256)}`, defines: CF, undef: OF | SF | AF | PF, reads: 0n };
  },
  setcc(rng, _st, undef) {
    const cc = rng.pick(CONDS);
    if (COND_FLAGS[cc] & undef) return null;
    const t = rng.bool() ? pickRegs(rng, [8], { exclude: RESERVED })[0].name : mem(rng, 8);
    return { asm: `set${cc} ${t}`, defines: 0n, undef: 0n, reads: COND_FLAGS[cc] };
  },
  cmov(rng, _st, undef) {
    const cc = rng.pick(CONDS);
    if (COND_FLAGS[cc] & undef) return null;
    const size = wide(rng);
    const [d, s] = regs2(rng, size);
    return { asm: `cmov${cc} ${d.name}, ${rng.int(4) === 0 ? mem(rng, size) : s.name}`, defines: 0n, undef: 0n, reads: COND_FLAGS[cc] };
  },
  jcc(rng, _st, undef) {
    const cc = rng.pick(CONDS);
    if (COND_FLAGS[cc] & undef) return null;
    const [d] = [regs1(rng, 32)];
    return { asm: `j${cc} 1f; mov ${d.name}, ${rng.int(1000)}; 1:`, defines: 0n, undef: 0n, reads: COND_FLAGS[cc] };
  },
  carry(rng, _st, undef) {
    const op = rng.pick(['clc', 'stc', 'cmc']);
    if (op === 'cmc' && undef & CF) return null;
    return { asm: op, defines: CF, undef: 0n, reads: op === 'cmc' ? CF : 0n };
  },
  ahflags(rng, _st, undef) {
    if (rng.bool()) return { asm: 'sahf', defines: SF | ZF | AF | PF | CF, undef: 0n, reads: 0n };
    if (undef & (SF | ZF | AF | PF | CF)) return null;
    return { asm: 'lahf', defines: 0n, undef: 0n, reads: SF | ZF | AF | PF | CF };
  },
  convert(rng) {
    return { asm: rng.pick(['cbw', 'cwde', 'cdqe', 'cwd', 'cdq', 'cqo']), defines: 0n, undef: 0n, reads: 0n };
  },
};
const MAKER_NAMES = Object.keys(MAKERS);

function fresh(g: Gen, rng: Rng): St {
  const st = g.state();
  st.regs[BASE] = DATA_BASE + 0x800n;
  // Edge-heavy register contents make ZF/SF/OF/CF outcomes common.
  for (let r = 0; r < 16; r++) if (!RESERVED.includes(r) && rng.int(3) === 0) st.regs[r] = val(rng, 64);
  return st;
}

/** Random straight-line programs (with short forward branches) of 6-14 instructions. */
export function programs(rng: Rng): CaseSpec[] {
  const g = new Gen('program', rng);
  for (let k = 0; k < 400; k++) {
    const st = fresh(g, rng);
    let undef = 0n;
    const lines: string[] = [];
    const n = 6 + rng.int(9);
    while (lines.length < n) {
      const s = MAKERS[rng.pick(MAKER_NAMES)](rng, st, undef);
      if (s === null) continue;
      lines.push(s.asm);
      undef = (undef & ~s.defines) | s.undef;
    }
    g.add(`program of ${n}`, lines.join('; '), st);
  }
  return g.out;
}

/** Producers of flags, each followed by an optional instruction that changes only some flags. */
const PRODUCERS: ((rng: Rng, st: St, size: Size) => Step | null)[] = [
  ...['add', 'sub', 'cmp', 'adc', 'sbb', 'xadd', 'cmpxchg'].map((op) => (rng: Rng, st: St, size: Size): Step => {
    const [d, s] = regs2(rng, size);
    put(st.regs, d, val(rng, size));
    put(st.regs, s, rng.int(3) === 0 ? (st.regs[d.idx] >> (d.high ? 8n : 0n)) : val(rng, size));
    return { asm: `${op} ${d.name}, ${s.name}`, defines: ALL6, undef: 0n, reads: 0n };
  }),
  ...['and', 'or', 'xor', 'test'].map((op) => (rng: Rng, st: St, size: Size): Step => {
    const [d, s] = regs2(rng, size);
    put(st.regs, d, val(rng, size));
    return { asm: `${op} ${d.name}, ${s.name}`, defines: ALL6 & ~AF, undef: AF, reads: 0n };
  }),
  ...['inc', 'dec', 'neg'].map((op) => (rng: Rng, st: St, size: Size): Step => {
    const d = regs1(rng, size);
    put(st.regs, d, val(rng, size));
    return { asm: `${op} ${d.name}`, defines: op === 'neg' ? ALL6 : ALL6 & ~CF, undef: 0n, reads: 0n };
  }),
  ...['shl', 'shr', 'sar'].map((op) => (rng: Rng, st: St, size: Size): Step => {
    const d = regs1(rng, size);
    put(st.regs, d, val(rng, size));
    const c = rng.bool() ? 1 : 1 + rng.int(size - 1);
    return { asm: `${op} ${d.name}, ${c}`, defines: CF | SF | ZF | PF | (c === 1 ? OF : 0n), undef: AF | (c === 1 ? 0n : OF), reads: 0n };
  }),
  ...['rol', 'ror', 'rcl', 'rcr'].map((op) => (rng: Rng, st: St, size: Size): Step => {
    const d = regs1(rng, size);
    put(st.regs, d, val(rng, size));
    const c = rng.bool() ? 1 : 1 + rng.int(size - 1);
    return { asm: `${op} ${d.name}, ${c}`, defines: CF | (c === 1 ? OF : 0n), undef: c === 1 ? 0n : OF, reads: 0n };
  }),
  (rng, st, size) => {
    if (size === 8) return null;
    const [d, s] = regs2(rng, size);
    put(st.regs, d, val(rng, size));
    const c = rng.bool() ? 1 : 1 + rng.int(size - 1);
    return { asm: `${rng.pick(['shld', 'shrd'])} ${d.name}, ${s.name}, ${c}`, defines: CF | SF | ZF | PF | (c === 1 ? OF : 0n), undef: AF | (c === 1 ? 0n : OF), reads: 0n };
  },
  (rng, st, size) => {
    const [d, s] = regs2(rng, size);
    put(st.regs, s, val(rng, size));
    const asm = size === 8 || rng.bool() ? `${rng.pick(['mul', 'imul'])} ${s.name}` : `imul ${d.name}, ${s.name}`;
    return { asm, defines: CF | OF, undef: SF | ZF | AF | PF, reads: 0n };
  },
  (rng, _st, size) => (size === 8 ? null : { asm: `${rng.pick(['bt', 'bts', 'btr', 'btc'])} ${regs1(rng, size).name}, ${rng.int(64)}`, defines: CF, undef: OF | SF | AF | PF, reads: 0n }),
  (rng, st, size) => {
    if (size === 8) return null;
    const [d, s] = regs2(rng, size);
    put(st.regs, s, (val(rng, size) | 1n << BigInt(rng.int(size))));
    return { asm: `${rng.pick(['bsf', 'bsr'])} ${d.name}, ${s.name}`, defines: ZF, undef: CF | OF | SF | AF | PF, reads: 0n };
  },
  (rng, st, size) => {
    // SCAS/CMPS leave the flags of their last comparison.
    st.regs[7] = DATA_BASE + BigInt(0x100 + rng.int(64));
    st.regs[6] = DATA_BASE + BigInt(0x200 + rng.int(64));
    put(st.regs, reg(size, 0), val(rng, size));
    return { asm: `${rng.pick(['scas', 'cmps'])}${({ 8: 'b', 16: 'w', 32: 'd', 64: 'q' } as const)[size]}`, defines: ALL6, undef: 0n, reads: 0n };
  },
  (rng) => ({ asm: rng.pick(['sahf', 'stc', 'clc']), defines: SF | ZF | AF | PF | CF, undef: 0n, reads: 0n }),
];

const PARTIALS: ((rng: Rng) => Step | null)[] = [
  () => null,
  (rng) => ({ asm: `${rng.pick(['inc', 'dec'])} ${regs1(rng, anySize(rng)).name}`, defines: ALL6 & ~CF, undef: 0n, reads: 0n }),
  (rng) => ({ asm: `${rng.pick(['rol', 'ror'])} ${regs1(rng, anySize(rng)).name}, 1`, defines: CF | OF, undef: 0n, reads: 0n }),
  (rng) => ({ asm: `${rng.pick(['rcl', 'rcr'])} ${regs1(rng, anySize(rng)).name}, 1`, defines: CF | OF, undef: 0n, reads: CF }),
  (rng) => ({ asm: `bt ${regs1(rng, 32).name}, ${rng.int(32)}`, defines: CF, undef: OF | SF | AF | PF, reads: 0n }),
  (rng) => ({ asm: rng.pick(['clc', 'stc', 'cmc']), defines: CF, undef: 0n, reads: CF }),
  () => ({ asm: 'sahf', defines: SF | ZF | AF | PF | CF, undef: 0n, reads: 0n }),
  (rng) => ({ asm: `${rng.pick(['not', 'bswap'])} ${regs1(rng, 64).name}`, defines: 0n, undef: 0n, reads: 0n }),
  (rng) => ({ asm: `shl ${regs1(rng, 32).name}, 0`, defines: 0n, undef: 0n, reads: 0n }),
];

/**
 * Every producer kind in every size, then maybe a partial flag writer, then all 16 SETcc into scratch and
 * LAHF: each condition is evaluated from the lazy state the producer left.
 */
export function flagChains(rng: Rng): CaseSpec[] {
  const g = new Gen('flagchain', rng);
  PRODUCERS.forEach((make, pi) => {
    for (const size of SIZES) {
      for (let k = 0; k < 5; k++) {
        const st = fresh(g, rng);
        const p = make(rng, st, size);
        if (p === null) continue;
        let part = PARTIALS[k === 0 ? 0 : rng.int(PARTIALS.length)](rng);
        // A partial writer that reads a flag the producer left undefined (RCL after BSF) has no defined result.
        while (part !== null && (part.reads & p.undef) !== 0n) part = PARTIALS[rng.int(PARTIALS.length)](rng);
        const lines = [p.asm];
        if (part !== null) lines.push(part.asm);
        CONDS.forEach((cc, i) => lines.push(`set${cc} byte ptr [rbp + ${i}]`));
        lines.push('lahf', 'mov byte ptr [rbp + 16], ah', 'mov ah, 0');
        g.add(`producer ${pi} r${size}${part ? ' + partial' : ''}`, lines.join('; '), st, { setccAt: 0x800, lahfAt: 0x810 });
      }
    }
  });
  return g.out;
}

/** Prefix oddities: redundant, ignored and repeated prefixes; REX.B on 90; the 15-byte limit. */
export function prefixes(rng: Rng): CaseSpec[] {
  const g = new Gen('prefix', rng);
  const forms: [string, string][] = [
    ['rex 40 on add', '.byte 0x40; add eax, ebx'],
    ['rex 40 on 8-bit (sil)', '.byte 0x40, 0x00, 0xf0'],
    ['66 66 on add', '.byte 0x66, 0x66; add eax, ebx'],
    ['rex.w before 66', '.byte 0x66, 0x48, 0x01, 0xd8'],
    ['rex not last (ignored)', '.byte 0x48, 0x66, 0x01, 0xd8'],
    ['41 90 is xchg r8, rax', '.byte 0x41, 0x90'],
    ['49 90 is xchg r8, rax', '.byte 0x49, 0x90'],
    ['f3 90 pause', 'pause'],
    ['es override ignored', '.byte 0x26; mov eax, dword ptr [rbp]'],
    ['cs override ignored', '.byte 0x2e; mov eax, dword ptr [rbp]'],
    ['ss override ignored', '.byte 0x36; add dword ptr [rbp], eax'],
    ['ds override ignored', '.byte 0x3e; mov eax, dword ptr [rbp]'],
    ['gs override (base 0)', '.byte 0x65; mov eax, dword ptr [rbp]'],
    ['branch hints', '.byte 0x2e; jz 1f; mov ebx, 1; 1: .byte 0x3e; jnz 2f; mov ecx, 2; 2:'],
    ['notrack jmp', 'lea rax, [rip + 1f]; .byte 0x3e; jmp rax; ud2; 1:'],
    ['bnd jmp', '.byte 0xf2; jmp 1f; ud2; 1:'],
    ['bnd call/ret', 'mov rsp, rbp; .byte 0xf2; call 1f; jmp 2f; 1: .byte 0xf2; ret; 2:'],
    ['double lock', '.byte 0xf0, 0xf0; add dword ptr [rbp], eax'],
    ['66 on movzx', '.byte 0x66; movzx eax, bl'],
    ['67 on non-memory op', '.byte 0x67; add eax, ebx'],
    ['f3 on add', '.byte 0xf3; add eax, ebx'],
    ['f2 on mov', '.byte 0xf2; mov eax, ebx'],
    ['14 prefixes + nop (15 bytes)', '.byte 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x90'],
    ['15 prefixes + nop (16 bytes): #GP', '.byte 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x90'],
    ['mov to cs: #UD', '.byte 0x8e, 0xc8'],
    ['movsxd r32 (no rex.w)', '.byte 0x63, 0xc3'],
    ['movsxd r16', '.byte 0x66, 0x63, 0xc3'],
    ['addr32 rep movsb', 'mov rsi, rbp; mov rdi, rbp; add rdi, 64; movabs rax, 0x1234567800000000; or rsi, rax; or rdi, rax; mov rcx, rax; or rcx, 9; .byte 0x67; rep movsb'],
    ['addr32 stosd', 'mov rdi, rbp; movabs rax, 0xffffffff00000000; or rdi, rax; .byte 0x67; stosd'],
    ['xlat', 'mov rbx, rbp; xlatb'],
  ];
  for (const [name, asm] of forms) {
    for (let k = 0; k < 2; k++) {
      const st = g.state();
      st.regs[BASE] = DATA_BASE + BigInt(0x400 + rng.int(16) * 16);
      st.regs[0] &= 0xffffn; // xlat index / small values
      g.add(name, asm, st);
    }
  }
  return g.out;
}
