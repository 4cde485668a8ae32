// Turns CaseSpecs into runnable DiffCases (one assembler run for all), works out which flags the SDM leaves
// undefined (iced-x86's instruction info, refined by the generators), and compares two results with a
// readable report: disassembly, inputs, register-by-register and flag-by-flag differences.

import { Decoder, DecoderOptions, Formatter, FormatterSyntax, RflagsBits } from 'iced-x86';
import { assembleAll } from './assemble.js';
import { REG_NAMES, type CaseSpec } from './cases.js';
import { CODE_BASE, DATA_BASE, FLAGS_MASK, type DiffCase, type DiffResult } from './types.js';

export interface Prepared extends DiffCase {
  spec: CaseSpec;
  /** RFLAGS bits not compared. */
  undef: bigint;
}

const FLAG_NAMES: [string, bigint][] = [
  ['CF', 0x1n], ['PF', 0x4n], ['AF', 0x10n], ['ZF', 0x40n], ['SF', 0x80n], ['DF', 0x400n], ['OF', 0x800n],
];

/** iced-x86 RflagsBits to RFLAGS bit positions. */
function rflagsOf(bits: number): bigint {
  let f = 0n;
  if (bits & RflagsBits.OF) f |= 0x800n;
  if (bits & RflagsBits.SF) f |= 0x80n;
  if (bits & RflagsBits.ZF) f |= 0x40n;
  if (bits & RflagsBits.AF) f |= 0x10n;
  if (bits & RflagsBits.CF) f |= 0x1n;
  if (bits & RflagsBits.PF) f |= 0x4n;
  if (bits & RflagsBits.DF) f |= 0x400n;
  return f;
}

/**
 * Flags undefined at the end of a straight-line snippet: each instruction's undefined flags, minus those a
 * later instruction defines (iced-x86 instruction info: rflagsUndefined vs written/cleared/set).
 */
export function undefinedFlags(code: Uint8Array): bigint {
  const dec = new Decoder(64, code, DecoderOptions.None);
  dec.ip = CODE_BASE;
  let undef = 0n;
  while (dec.canDecode) {
    const ins = dec.decode();
    const defined = rflagsOf(ins.rflagsWritten | ins.rflagsCleared | ins.rflagsSet);
    undef = (undef & ~defined) | rflagsOf(ins.rflagsUndefined);
    ins.free();
  }
  dec.free();
  return undef;
}

let formatter: Formatter | null = null;

/** Intel-syntax disassembly of a snippet at CODE_BASE, one instruction per line with its bytes. */
export function disassemble(code: Uint8Array, max = 12): string {
  formatter ??= new Formatter(FormatterSyntax.Intel);
  const dec = new Decoder(64, code, DecoderOptions.None);
  dec.ip = CODE_BASE;
  const lines: string[] = [];
  while (dec.canDecode && lines.length < max) {
    const at = Number(dec.ip - CODE_BASE);
    const ins = dec.decode();
    const bytes = Buffer.from(code.subarray(at, at + ins.length)).toString('hex');
    lines.push(`    +${at.toString(16).padStart(3, '0')}  ${bytes.padEnd(24)} ${formatter.format(ins)}`);
    ins.free();
  }
  if (dec.canDecode) lines.push('    ...');
  dec.free();
  return lines.join('\n');
}

/** Flags each condition code reads, in CONDS order (SDM Vol. 1 Appendix B). */
const COND_READS = [0x800n, 0x800n, 0x1n, 0x1n, 0x40n, 0x40n, 0x41n, 0x41n, 0x80n, 0x80n, 0x4n, 0x4n, 0x880n, 0x880n, 0x8c0n, 0x8c0n];

export function prepare(specs: CaseSpec[]): Prepared[] {
  const alt = specs.filter((s) => s.emuAsm !== undefined);
  const codes = assembleAll([...specs.map((s) => s.asm), ...alt.map((s) => s.emuAsm!)]);
  const emuCodes = new Map(alt.map((s, k) => [s, codes[specs.length + k]!]));
  return specs.map((s, i) => {
    const undef = s.undef ?? undefinedFlags(codes[i]);
    let spec = s;
    // SETcc/LAHF results that read a flag the SDM leaves undefined are themselves undefined.
    if (s.setccAt !== undefined || s.lahfAt !== undefined) {
      const ignore: [number, number][] = [...(s.ignoreMem ?? [])];
      if (s.setccAt !== undefined) COND_READS.forEach((f, k) => (f & undef) !== 0n && ignore.push([(s.setccAt as number) + k, 1]));
      if (s.lahfAt !== undefined && (undef & 0xd5n) !== 0n) ignore.push([s.lahfAt, 1]);
      spec = { ...s, ignoreMem: ignore };
    }
    return {
      name: `${s.family}: ${s.name}`, code: codes[i], regs: s.regs, rflags: s.rflags, mem: s.mem, spec, undef,
      ...(emuCodes.has(s) ? { emuCode: emuCodes.get(s)! } : {}), ...(s.advertise ? { advertise: s.advertise } : {}),
    };
  });
}

const h64 = (v: bigint): string => `0x${BigInt.asUintN(64, v).toString(16).padStart(16, '0')}`;

export function flagNames(f: bigint): string {
  const on = FLAG_NAMES.filter(([, b]) => (f & b) !== 0n).map(([n]) => n);
  return on.length ? on.join(' ') : '-';
}

const vec = (v: number | null): string =>
  v === null ? 'none' : `${v} (${({ 0: '#DE', 1: '#DB', 3: '#BP', 6: '#UD', 12: '#SS', 13: '#GP', 14: '#PF', 17: '#AC' } as Record<number, string>)[v] ?? '?'})`;

/** Optional details of a fault some runners report (native.ts, emuBlocks.ts). */
interface FaultDetail {
  errorCode: number;
  faultRip: bigint;
  faultAddr?: bigint;
  cr2?: bigint;
}
const detail = (r: DiffResult): FaultDetail | null => ('faultRip' in r ? (r as DiffResult & FaultDetail) : null);

/**
 * null if `got` matches `want` on everything defined; otherwise a readable report. When both fault with the
 * same vector, the state at the fault (registers, flags, scratch memory; error code, RIP and CR2 where both
 * runners report them) is compared too, unless `faultState` is false.
 */
export function compare(p: Prepared, want: DiffResult, got: DiffResult, labels = ['host', 'emulator'], faultState = true): string | null {
  const diffs: string[] = [];
  if (want.fault !== got.fault) diffs.push(`  fault: ${labels[0]} ${vec(want.fault)}, ${labels[1]} ${vec(got.fault)}`);
  const bothFault = want.fault !== null && want.fault === got.fault;
  if (bothFault && faultState) {
    const a = detail(want);
    const b = detail(got);
    if (a && b) {
      const off = (r: bigint): string => `CODE_BASE+0x${(r - CODE_BASE).toString(16)}`;
      if (a.faultRip !== b.faultRip) diffs.push(`  RIP at the fault: ${labels[0]} ${off(a.faultRip)}  ${labels[1]} ${off(b.faultRip)}`);
      if (a.errorCode !== b.errorCode) diffs.push(`  error code: ${labels[0]} 0x${a.errorCode.toString(16)}  ${labels[1]} 0x${b.errorCode.toString(16)}`);
      const ca = a.cr2 ?? a.faultAddr;
      const cb = b.cr2 ?? b.faultAddr;
      if (want.fault === 14 && ca !== cb) diffs.push(`  CR2: ${labels[0]} ${h64(ca ?? 0n)}  ${labels[1]} ${h64(cb ?? 0n)}`);
    }
    diffs.push(...stateDiffs(p, want, got, labels).map((d) => `  at the fault:${d.slice(1)}`));
  }
  if (want.fault === null && got.fault === null) diffs.push(...stateDiffs(p, want, got, labels));
  if (diffs.length === 0) return null;
  return [
    `${p.name}`,
    `  asm: ${p.spec.asm}`,
    disassemble(p.code),
    ...(p.emuCode ? ['  the emulator runs instead:', disassemble(p.emuCode)] : []),
    `  input flags [${flagNames(p.rflags)}]; input regs: ${p.regs.map((v, r) => `${REG_NAMES[r]}=${h64(v)}`).join(' ')}`,
    ...diffs,
  ].join('\n');
}

function stateDiffs(p: Prepared, want: DiffResult, got: DiffResult, labels: string[]): string[] {
  const diffs: string[] = [];
  {
    const skip = new Set(p.spec.ignoreRegs ?? []);
    for (let r = 0; r < 16; r++) {
      if (skip.has(r) || want.regs[r] === got.regs[r]) continue;
      diffs.push(`  ${REG_NAMES[r].padEnd(4)} ${labels[0]} ${h64(want.regs[r])}  ${labels[1]} ${h64(got.regs[r])}  (input ${h64(p.regs[r])})`);
    }
    const m = FLAGS_MASK & ~p.undef;
    if ((want.rflags & m) !== (got.rflags & m)) {
      const bad = (want.rflags ^ got.rflags) & m;
      diffs.push(
        `  flags differ in [${flagNames(bad)}]: ${labels[0]} [${flagNames(want.rflags & m)}]  ${labels[1]} [${flagNames(got.rflags & m)}]` +
          `  (input [${flagNames(p.rflags)}], not compared [${flagNames(p.undef)}])`,
      );
    }
    const ign = p.spec.ignoreMem ?? [];
    let shown = 0;
    let count = 0;
    for (let i = 0; i < want.mem.length; i++) {
      if (want.mem[i] === got.mem[i] || ign.some(([o, l]) => i >= o && i < o + l)) continue;
      count++;
      if (shown++ < 8) {
        diffs.push(`  mem ${h64(DATA_BASE + BigInt(i))}: ${labels[0]} ${want.mem[i].toString(16).padStart(2, '0')}  ${labels[1]} ${got.mem[i].toString(16).padStart(2, '0')}  (input ${p.mem[i].toString(16).padStart(2, '0')})`);
      }
    }
    if (count > shown) diffs.push(`  ... ${count} scratch bytes differ in all`);
  }
  return diffs;
}
