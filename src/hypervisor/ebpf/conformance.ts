// Running bpf_conformance `.data` files through the whole pipeline: assembler, verifier, interpreter and
// compiler (used by test/ebpf-conformance.test.ts and `trace ebpf test`).

import { assemble } from './assembler.js';
import { compile } from './compiler.js';
import { conformanceHelpers } from './helpers.js';
import { interpret, type RunResult } from './interpreter.js';
import { Memory, RegionTag, address } from './Memory.js';
import { parseDataFile } from './parseDataFile.js';
import { verify } from './verifier.js';

/** Run-time instruction budget for programs that needed `allowLoops` (the verifier cannot bound them). */
export const LOOP_BUDGET = 1_000_000;

/**
 * The group of a conformance file, from its name: RFC 9669's conformance groups (section 2.4: base32, base64,
 * atomic32, atomic64, divmul32, divmul64), with the features the issue lists separately split out (byte swaps,
 * sign extension, 32-bit jumps, local calls) and `helpers` for calls by helper id / register (not in the RFC).
 */
export function conformanceGroup(file: string): string {
  const f = file.replace(/^.*\//, '').replace(/\.data$/, '').replace(/^rfc9669_/, '');
  if (/^lock_/.test(f)) return /32$/.test(f) ? 'atomic32' : 'atomic64';
  if (/^(callx|call_unwind)/.test(f)) return 'helpers';
  if (/^call/.test(f)) return 'local calls';
  if (/^(movsx|ldxs)/.test(f)) return 'sign extension';
  if (/^(be|le|swap|bswap)\d/.test(f)) return 'byte swaps';
  if (/^(s?div|s?mod|mul)/.test(f)) return /32/.test(f) ? 'divmul32' : 'divmul64';
  if (/^j[a-z]*32/.test(f)) return 'jump32';
  if (/32/.test(f) || /^(add|alu-|mov)$/.test(f) || /^(alu-arith|alu-bit)$/.test(f)) return 'base32';
  return 'base64';
}

export interface EngineOutcome {
  ok: boolean;
  detail: string;
}

export interface ConformanceOutcome {
  status: 'pass' | 'fail' | 'skip';
  /** First failing stage, for the report. */
  reason?: string;
  /** The verifier accepted the program only with allowLoops (run with LOOP_BUDGET). */
  neededLoops: boolean;
  verifier?: string;
  interpreter?: EngineOutcome;
  compiled?: EngineOutcome;
}

/**
 * What kind of error a message describes: the kind an `-- error` file expects (its text, in the words of the
 * implementation that wrote it) must be the kind of the error this pipeline reports, at whatever stage.
 */
export const ErrorKind = {
  syntax: 'syntax', encoding: 'encoding', controlFlow: 'control flow', uninitialised: 'uninitialised', memory: 'memory',
  helper: 'helper', callDepth: 'call depth', budget: 'budget',
} as const;
export type ErrorKind = (typeof ErrorKind)[keyof typeof ErrorKind];

/** First match wins (a read of uninitialised stack is an uninitialised read before it is a memory error). */
const KIND_PATTERNS: ReadonlyArray<readonly [ErrorKind, RegExp]> = [
  [ErrorKind.syntax, /assembler|syntax|parse|unknown mnemonic|expected .* operand/i],
  [ErrorKind.uninitialised, /uninitiali[sz]ed|not initiali[sz]ed/i],
  [ErrorKind.callDepth, /call depth|frames deep|recursi|stack overflow/i],
  [ErrorKind.helper, /helper/i],
  [ErrorKind.budget, /budget|exhausted|too complex|instruction limit/i],
  [ErrorKind.memory, /out of bounds|outside (every granted region|the granted|the \d+-byte stack)|read-only|not a pointer|unbounded offset|memory (access|load|store)|invalid (load|store)/i],
  [ErrorKind.controlFlow, /loop|back-edge|jump|target|falls off|unreachable|outside the program|no exit/i],
  [ErrorKind.encoding, /opcode|register|reserved|lddw|not zero|must be zero|width|offset|not supported|unsupported|invalid instruction/i],
];

/** The kind of error a message describes, or undefined when none of the patterns match. */
export function errorKind(message: string): ErrorKind | undefined {
  return KIND_PATTERNS.find(([, re]) => re.test(message))?.[0];
}

const show = (r: RunResult): string => (r.ok ? `r0=0x${r.value.toString(16)}` : `error at ${r.pc}: ${r.error}`);

/** Run one `.data` file's text through every stage. */
export function runConformance(text: string): ConformanceOutcome {
  let data;
  try {
    data = parseDataFile(text);
  } catch (e) {
    return { status: 'fail', reason: `bad data file: ${(e as Error).message}`, neededLoops: false };
  }
  const expectError = data.error !== undefined;
  if (data.result === undefined && !expectError) return { status: 'skip', reason: 'neither result nor error', neededLoops: false };
  const wanted = expectError ? errorKind(data.error!) : undefined;
  if (expectError && wanted === undefined) return { status: 'fail', reason: `the expected error "${data.error}" is of no kind this runner knows`, neededLoops: false };
  /** An error where the file expects one: a pass only if it is the expected kind. */
  const matches = (msg: string): boolean => errorKind(msg) === wanted;
  const mismatch = (stage: string, msg: string): string => `${stage}: ${msg} is an error of kind ${errorKind(msg) ?? 'none'}, the file expects kind ${wanted} (${data.error})`;
  let program;
  try {
    program = assemble(data.asm);
  } catch (e) {
    const msg = (e as Error).message;
    if (expectError && matches(`assembler: ${msg}`)) return { status: 'pass', reason: `assembler: ${msg}`, neededLoops: false };
    return { status: 'fail', reason: expectError ? mismatch('assembler', msg) : `assembler: ${msg}`, neededLoops: false };
  }
  const helpers = conformanceHelpers();
  const vopts = {
    helpers,
    regions: { mem: { size: data.mem.length, writable: true } },
    args: [{ kind: 'ptr', region: 'mem' }, { kind: 'scalar', value: BigInt(data.mem.length) }] as const,
  };
  let v = verify(program, vopts);
  let neededLoops = false;
  if (!v.ok) {
    const loose = verify(program, { ...vopts, allowLoops: true });
    if (loose.ok) {
      neededLoops = true;
      v = loose;
    }
  }
  const out: ConformanceOutcome = { status: 'pass', neededLoops, verifier: v.ok ? 'accepted' : v.message };
  if (!v.ok) {
    if (expectError) return matches(v.message) ? { ...out, reason: `verifier: ${v.message}` } : { ...out, status: 'fail', reason: mismatch('verifier', v.message) };
    return { ...out, status: 'fail', reason: `verifier rejected: ${v.message}` };
  }
  const env = () => ({
    memory: Memory.standard({ mem: data.mem.slice() }),
    args: [address(RegionTag.MEM, 0), BigInt(data.mem.length)],
    helpers,
    maxSteps: neededLoops ? LOOP_BUDGET : undefined,
  });
  const judge = (r: RunResult): EngineOutcome => {
    if (expectError) {
      if (r.ok) return { ok: false, detail: `expected an error (${data.error}), got ${show(r)}` };
      return matches(r.error) ? { ok: true, detail: show(r) } : { ok: false, detail: mismatch('run', r.error) };
    }
    if (!r.ok) return { ok: false, detail: `expected 0x${data.result!.toString(16)}, got ${show(r)}` };
    return r.value === data.result ? { ok: true, detail: show(r) } : { ok: false, detail: `expected 0x${data.result!.toString(16)}, got ${show(r)}` };
  };
  out.interpreter = judge(interpret(program, env()));
  let compiled: RunResult;
  try {
    compiled = compile(program).run(env());
  } catch (e) {
    compiled = { ok: false, error: `compiler: ${(e as Error).message}`, pc: -1, steps: -1 };
  }
  out.compiled = judge(compiled);
  if (!out.interpreter.ok) return { ...out, status: 'fail', reason: `interpreter: ${out.interpreter.detail}` };
  if (!out.compiled.ok) return { ...out, status: 'fail', reason: `compiled: ${out.compiled.detail}` };
  return out;
}
