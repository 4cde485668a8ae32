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
  let program;
  try {
    program = assemble(data.asm);
  } catch (e) {
    const msg = (e as Error).message;
    return expectError ? { status: 'pass', reason: `assembler: ${msg}`, neededLoops: false } : { status: 'fail', reason: `assembler: ${msg}`, neededLoops: false };
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
    if (expectError) return { ...out, reason: `verifier: ${v.message}` };
    return { ...out, status: 'fail', reason: `verifier rejected: ${v.message}` };
  }
  const env = () => ({
    memory: Memory.standard({ mem: data.mem.slice() }),
    args: [address(RegionTag.MEM, 0), BigInt(data.mem.length)],
    helpers,
    maxSteps: neededLoops ? LOOP_BUDGET : undefined,
  });
  const judge = (r: RunResult): EngineOutcome => {
    if (expectError) return r.ok ? { ok: false, detail: `expected an error (${data.error}), got ${show(r)}` } : { ok: true, detail: show(r) };
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
