// Runs DiffCases on the host CPU through test/diff/native.c, compiled on first use with the system gcc and
// cached by source hash. One process runs a whole batch (binary protocol described in native.c).

import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DATA_BYTES, FLAGS_MASK, type DiffCase, type DiffResult } from './types.js';

const SOURCE = fileURLToPath(new URL('./native.c', import.meta.url));
const CACHE = join(process.cwd(), 'node_modules', '.cache', 'vmtrace-diff');
const CFLAGS = ['-O1', '-masm=intel', '-Wall', '-U_FORTIFY_SOURCE'];
const NO_FAULT = 0xffffffff;
const OUT_FIXED = 8 + 17 * 8 + 16;

/** A host result with the state at a fault (registers/flags in DiffResult are then those at the fault). */
export interface NativeResult extends DiffResult {
  /** Error code pushed by the CPU (as the kernel reports it in the signal frame), 0 without a fault. */
  errorCode: number;
  /** RIP at the fault: the faulting instruction (faults) or the next one (traps); 0 without a fault. */
  faultRip: bigint;
  /** si_addr of the signal: the linear address (CR2) for #PF. */
  faultAddr: bigint;
}

let reason: string | null | undefined;
let binary: string | null = null;

/** null when the host can run snippets natively (x86-64 Linux with gcc); otherwise why not. */
export function nativeAvailable(): string | null {
  if (reason !== undefined) return reason;
  reason = probe();
  return reason;
}

let flags: Set<string> | undefined;

/** The host CPU's feature flags as Linux names them in /proc/cpuinfo (empty if unreadable). */
export function hostCpuFlags(): Set<string> {
  if (flags) return flags;
  try {
    const line = /^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    flags = new Set(line ? line[1].trim().split(/\s+/) : []);
  } catch {
    flags = new Set();
  }
  return flags;
}

let vendor: string | undefined;

/** The host CPU's vendor string as /proc/cpuinfo gives it (GenuineIntel, AuthenticAMD; '' if unreadable). */
export function hostCpuVendor(): string {
  if (vendor !== undefined) return vendor;
  try {
    vendor = /^vendor_id\s*:\s*(\S+)/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '';
  } catch {
    vendor = '';
  }
  return vendor;
}

function probe(): string | null {
  if (process.platform !== 'linux') return `host OS is ${process.platform}, the native harness needs Linux`;
  if (process.arch !== 'x64') return `host CPU is ${process.arch}, the native harness needs x86-64`;
  try {
    execFileSync('gcc', ['--version'], { stdio: 'ignore' });
  } catch {
    return 'no C compiler: `gcc` not found on PATH';
  }
  try {
    binary = build();
  } catch (e) {
    return `compiling test/diff/native.c failed: ${(e as Error).message}`;
  }
  return null;
}

function build(): string {
  const src = readFileSync(SOURCE);
  const key = createHash('sha256').update(CFLAGS.join(' ')).update('\0').update(src).digest('hex').slice(0, 20);
  const exe = join(CACHE, `native-${key}`);
  if (existsSync(exe)) return exe;
  mkdirSync(CACHE, { recursive: true });
  // Build under a unique name, then rename: parallel test workers may race here.
  const tmp = `${exe}.${process.pid}.tmp`;
  execFileSync('gcc', [...CFLAGS, '-o', tmp, SOURCE], { stdio: ['ignore', 'ignore', 'pipe'] });
  renameSync(tmp, exe);
  return exe;
}

function encode(cases: DiffCase[], fp: boolean): Buffer {
  let size = 8 + 4;
  for (const c of cases) size += 4 + c.code.length + 17 * 8 + DATA_BYTES + (fp ? 512 : 0);
  const buf = Buffer.alloc(size);
  buf.write(fp ? 'VMTF' : 'VMTD', 0, 'latin1');
  buf.writeUInt32LE(DATA_BYTES, 4);
  let o = 8;
  for (const c of cases) {
    if (c.regs.length !== 16) throw new Error(`${c.name}: expected 16 registers, got ${c.regs.length}`);
    if (c.mem.length !== DATA_BYTES) throw new Error(`${c.name}: scratch memory must be ${DATA_BYTES} bytes`);
    buf.writeUInt32LE(c.code.length, o);
    o += 4;
    buf.set(c.code, o);
    o += c.code.length;
    for (const r of c.regs) {
      buf.writeBigUInt64LE(BigInt.asUintN(64, r), o);
      o += 8;
    }
    buf.writeBigUInt64LE(BigInt.asUintN(64, c.rflags), o);
    o += 8;
    buf.set(c.mem, o);
    o += DATA_BYTES;
    if (fp) {
      if (c.fx?.length !== 512) throw new Error(`${c.name}: FP batch case without a 512-byte FXSAVE image`);
      buf.set(c.fx, o);
      o += 512;
    }
  }
  buf.writeUInt32LE(NO_FAULT, o);
  return buf;
}

/** Run every case on the host CPU, in order, in one harness process. */
export function runNative(cases: DiffCase[]): NativeResult[] {
  const why = nativeAvailable();
  if (why !== null || binary === null) throw new Error(`native harness unavailable: ${why}`);
  if (cases.length === 0) return [];
  const fp = cases[0].fx !== undefined;
  const proc = spawnSync(binary, [], {
    input: encode(cases, fp),
    maxBuffer: cases.length * (OUT_FIXED + DATA_BYTES + 512) + 1024,
    timeout: 60_000,
  });
  const out = proc.stdout ?? Buffer.alloc(0);
  const per = OUT_FIXED + DATA_BYTES + (fp ? 512 : 0);
  const done = Math.floor(out.length / per);
  if (proc.error || proc.status !== 0 || done !== cases.length) {
    const at = cases[Math.min(done, cases.length - 1)];
    const why2 = proc.error ? proc.error.message : proc.signal ? `signal ${proc.signal}` : `exit status ${proc.status}`;
    throw new Error(
      `native harness failed (${why2}) after ${done} of ${cases.length} cases, at "${at.name}": ${proc.stderr?.toString().trim()}`,
    );
  }
  const results: NativeResult[] = [];
  for (let i = 0; i < cases.length; i++) {
    const b = i * per;
    const fault = out.readUInt32LE(b);
    const regs: bigint[] = [];
    for (let r = 0; r < 16; r++) regs.push(out.readBigUInt64LE(b + 8 + r * 8));
    results.push({
      regs,
      rflags: out.readBigUInt64LE(b + 8 + 128) & FLAGS_MASK,
      mem: new Uint8Array(out.buffer.slice(out.byteOffset + b + OUT_FIXED, out.byteOffset + b + OUT_FIXED + DATA_BYTES)),
      fx: fp ? new Uint8Array(out.buffer.slice(out.byteOffset + b + OUT_FIXED + DATA_BYTES, out.byteOffset + b + per)) : undefined,
      fault: fault === NO_FAULT ? null : fault,
      errorCode: out.readUInt32LE(b + 4),
      faultRip: out.readBigUInt64LE(b + 8 + 136),
      faultAddr: out.readBigUInt64LE(b + 8 + 144),
    });
  }
  return results;
}
