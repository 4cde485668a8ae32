// The registry of guest workloads: named descriptions in guest/workloads/<name>.json (or any JSON file with
// the same shape), expanded into everything a run needs: kernel and program images, the init script, a
// disk image and the NIC's packet schedule, all derived deterministically from the seed.
//
// Description file fields (guest/README.md documents the script grammar):
//   name, description            strings
//   seed                         uint32 (default 1)
//   memMiB                       guest memory (default 64)
//   params                       { key: { default, min, max, about } } substituted as ${key} in every string
//                                below (${seed} is always available); override with "name:key=value,key=value".
//                                A number default makes an integer parameter in [min, max] (written like any
//                                count: 4096, 4k, 1_000); a string default a word ([A-Za-z0-9_-]+). The short
//                                form { key: default } is an integer in [0, 2^31-1] or a word
//   script                       array of lines, or one string
//   programs                     optional list of ramdisk program names (default: every built program)
//   disk                         optional { sectors, files: [{ name, size, capacity? }] }: a VMTRFS1 image,
//                                file contents are seeded pseudo-random bytes
//   packets                      optional { kind: "memcached", count, start, gap, keys } (see memcachedPackets)
//   expect                       console substrings a successful run prints
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../errors.js';
import { parseCount } from '../parseCount.js';
import type { GuestProgram, LoadGuestOptions } from './loader.js';

export interface Packet {
  /** Guest instruction count at which the packet arrives. */
  icount: number;
  /** UDP payload bytes. */
  bytes: Uint8Array;
}

export interface Workload {
  name: string;
  description: string;
  seed: number;
  memBytes: number;
  params: Record<string, string>;
  kernel: Uint8Array;
  programs: GuestProgram[];
  script: string;
  packets: Packet[];
  /** Block-device contents (a multiple of 512 bytes; empty when the workload has no disk). */
  disk: Uint8Array;
  diskSectors: number;
  /** Substrings the console shows when the run succeeded. */
  expect: string[];
  /** Where the description came from. */
  source: string;
  /** A Linux guest (description field "linux"): booted by src/hypervisor/linux instead of kernel.elf. */
  linux?: LinuxWorkload;
}

/** What a Linux workload boots: Debian's bzImage, the initramfs and the kernel command line. */
export interface LinuxWorkload {
  vmlinuz: Uint8Array;
  initramfs: Uint8Array;
  /** Command line; `tsc_early_khz` is set from the cost model's TSC frequency when the machine is assembled. */
  cmdline: string;
  /** The program /init runs (run=NAME on the command line). */
  run: string;
  /** /init loads the kernel-module witness (guest/linux/witness) before the program: witness=on or hyperupcall
   *  on the command line; the machine then has the witness port (docs/machine.md). */
  witness?: boolean;
  /** The unpacked vmlinux (filled by prepareWorkload before a session assembles the machine). */
  vmlinux?: Uint8Array;
}

export interface WorkloadInfo {
  name: string;
  description: string;
}

/** The repository's guest/ directory (works from src/ under tsx and from dist/src/ when compiled). */
export function guestDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'guest');
    if (existsSync(join(candidate, 'images', 'kernel.elf'))) return candidate;
    dir = dirname(dir);
  }
  throw new UserError('cannot find guest/images/kernel.elf (run `npm run build:guest`)');
}

function workloadsDir(): string {
  return join(guestDir(), 'workloads');
}

export function listWorkloads(): WorkloadInfo[] {
  return readdirSync(workloadsDir())
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const d = parseDescription(readFileSync(join(workloadsDir(), f), 'utf8'), f);
      return { name: String(d.name), description: String(d.description ?? '') };
    });
}

/** xorshift32 (Marsaglia 2003); the guest's `gen` program uses the same generator. */
export function xorshift32(state: number): number {
  let x = state >>> 0;
  x ^= x << 13;
  x >>>= 0;
  x ^= x >>> 17;
  x ^= x << 5;
  return x >>> 0;
}

/** FNV-1a 32-bit, as the guest programs hash their output. */
export function fnv1a(bytes: Uint8Array, h = 0x811c9dc5): number {
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 16777619) >>> 0;
  return h >>> 0;
}

interface Description {
  name?: unknown;
  description?: unknown;
  seed?: unknown;
  memMiB?: unknown;
  params?: unknown;
  script?: unknown;
  programs?: unknown;
  disk?: unknown;
  packets?: unknown;
  expect?: unknown;
  linux?: unknown;
  /** "linux": a workload only the Linux guest runs (guest/linux/workloads: Debian's binaries). */
  guest?: unknown;
}

/** guest/images/linux/manifest.json as linux-guest writes it (the fields used here). */
interface LinuxImageManifest {
  kernel: { path: string };
  initramfs: { path: string };
  cmdline: string;
  /** params: what /init substitutes in the run's script (defaults); fixed: the run's parameters built into the initramfs. */
  workloads: Record<string, { expect?: string[]; params?: Record<string, string>; fixed?: string[] }>;
}

/** The linux workload's witness parameter: off (default), on (load the kernel-module witness), hyperupcall (load
 *  it with hyperupcall=1: it also registers the tracing hyperupcall). */
export const LINUX_WITNESS_MODES = ['off', 'on', 'hyperupcall'] as const;

/**
 * The Linux workload of description `d` (its "linux" object names the run; images from guest/images/linux).
 * `extra` are parameters of the run's own workload (`linux:run=fcopy,buf=4096`), checked against that
 * workload's declarations (guest/workloads/<run>.json) and passed to /init as KEY=VALUE after `--` on the
 * kernel command line (Documentation/admin-guide/kernel-parameters.rst: everything after "--" is passed as an
 * argument to init), which substitutes them in the run's script.
 */
function expandLinux(where: string, run: string, extra: Record<string, string>, witness = 'off'): { linux: LinuxWorkload; expect: string[]; params: Record<string, string> } {
  if (!(LINUX_WITNESS_MODES as readonly string[]).includes(witness)) {
    throw new UserError(`${where}: witness=${witness}: expected one of ${LINUX_WITNESS_MODES.join(', ')}`);
  }
  const dir = join(guestDir(), 'images', 'linux');
  const mpath = join(dir, 'manifest.json');
  if (!existsSync(mpath)) throw new UserError(`${where}: no Linux guest images (${mpath} is missing: make -C guest linux)`);
  const m = JSON.parse(readFileSync(mpath, 'utf8')) as LinuxImageManifest;
  const runs = Object.keys(m.workloads);
  if (!runs.includes(run)) throw new UserError(`${where}: no program "${run}" in the Linux initramfs (run= one of: ${runs.join(', ')})`);
  const mw = m.workloads[run]!;
  const settable = Object.keys(mw.params ?? {});
  const keys = Object.keys(extra).sort();
  for (const k of keys) {
    if (settable.includes(k)) continue;
    if ((mw.fixed ?? []).includes(k)) {
      throw new UserError(`${where}: ${run}'s parameter "${k}" is fixed on Linux (it shapes a file built into the initramfs; settable: ${settable.join(', ') || 'none'})`);
    }
    throw new UserError(`${where}: unknown parameter "${k}" (parameters: run, witness${settable.map((x) => `, ${x}`).join('')})`);
  }
  let expect = mw.expect ?? [];
  const params: Record<string, string> = {};
  if (keys.length > 0) {
    // The run's own declarations check the values (a usage error names the range) and give its expectations.
    const own = getWorkload(run, extra, { linux: true });
    for (const k of keys) params[k] = own.params[k]!;
    expect = own.expect;
  }
  const args = keys.map((k) => ` ${k}=${params[k]}`).join('');
  return {
    linux: {
      vmlinuz: new Uint8Array(readFileSync(join(dir, m.kernel.path))),
      initramfs: new Uint8Array(readFileSync(join(dir, m.initramfs.path))),
      // witness= before `--`: the kernel passes it to init's environment (the run's own parameters after `--` are argv)
      cmdline: `${m.cmdline} run=${run}${witness === 'off' ? '' : ` witness=${witness}`}${args === '' ? '' : ` --${args}`}`,
      run,
      ...(witness === 'off' ? {} : { witness: true }),
    },
    expect,
    params,
  };
}

function parseDescription(text: string, source: string): Description {
  let d: unknown;
  try {
    d = JSON.parse(text);
  } catch (e) {
    throw new UserError(`workload ${source}: invalid JSON (${(e as Error).message})`);
  }
  if (typeof d !== 'object' || d === null || Array.isArray(d)) throw new UserError(`workload ${source}: not a JSON object`);
  const desc = d as Description;
  if (typeof desc.name !== 'string' || !desc.name) throw new UserError(`workload ${source}: missing "name"`);
  return desc;
}

/**
 * A workload by name (`fcopy`, `fcopy:buf=4096`) or by path to a description file (`./my.json`,
 * `my.json:key=value`). Unknown names give a UserError listing the known ones. A Linux-only workload
 * (guest/linux/workloads, `"guest": "linux"`) is a UserError naming `linux:run=NAME` unless `opts.linux` (the
 * Linux run's own description: its parameters and script).
 */
export function getWorkload(nameOrPath: string, overrides: Record<string, string | number> = {}, opts: { linux?: boolean } = {}): Workload {
  let spec = nameOrPath;
  const extra: Record<string, string> = {};
  const colon = spec.lastIndexOf(':');
  if (colon > 0 && /^[A-Za-z0-9_]+=/.test(spec.slice(colon + 1))) {
    for (const kv of spec.slice(colon + 1).split(',')) {
      const eq = kv.indexOf('=');
      if (eq <= 0) throw new UserError(`workload "${nameOrPath}": parameter "${kv}" is not key=value`);
      extra[kv.slice(0, eq)] = kv.slice(eq + 1);
    }
    spec = spec.slice(0, colon);
  }
  for (const [k, v] of Object.entries(overrides)) extra[k] = String(v);
  const { d, path } = findDescription(spec);
  if (d.guest === 'linux' && !opts.linux) {
    throw new UserError(`workload ${String(d.name)} runs on the Linux guest only (Debian's binaries): trace record linux:run=${String(d.name)}`);
  }
  return expand(d, path, extra);
}

function findDescription(spec: string): { d: Description; path: string } {
  let path: string;
  if (spec.includes('/') || spec.endsWith('.json')) {
    path = resolve(spec);
    if (!existsSync(path)) throw new UserError(`workload file ${spec} does not exist`);
  } else {
    path = join(workloadsDir(), `${spec}.json`);
    // Then the Linux-only workloads (guest/linux/workloads; `trace workloads` lists the `linux` one instead).
    if (!existsSync(path)) path = join(guestDir(), 'linux', 'workloads', `${spec}.json`);
    if (!/^[A-Za-z0-9_-]+$/.test(spec) || !existsSync(path)) {
      const known = listWorkloads().map((w) => w.name).join(', ');
      throw new UserError(`unknown workload "${spec}" (known: ${known}; or give a path to a .json description)`);
    }
  }
  return { d: parseDescription(readFileSync(path, 'utf8'), path), path };
}

function expand(d: Description, source: string, extra: Record<string, string>): Workload {
  const where = `workload ${String(d.name)}`;
  const seedRaw = extra.seed !== undefined ? parseCount(`${where}: seed`, extra.seed, { max: 0xffffffff }) : d.seed === undefined ? 1 : Number(d.seed);
  if (!Number.isInteger(seedRaw) || seedRaw < 0 || seedRaw > 0xffffffff) throw new UserError(`${where}: seed must be a uint32`);
  const seed = seedRaw >>> 0;
  const specs = paramSpecs(d.params, where);
  const params: Record<string, string> = {};
  for (const [k, spec] of specs) params[k] = spec.default;
  const forwarded: Record<string, string> = {};
  for (const [k, v] of Object.entries(extra)) {
    if (k === 'seed') continue;
    const spec = specs.get(k);
    if (spec === undefined && d.linux !== undefined) {
      forwarded[k] = v; // a parameter of the Linux run's own workload: expandLinux checks it
      continue;
    }
    if (spec === undefined) {
      throw new UserError(`${where}: unknown parameter "${k}" (parameters: ${[...specs.keys()].join(', ') || 'none'})`);
    }
    params[k] = checkParam(where, k, v, spec);
  }
  params.seed = String(seed);
  const subst = (s: string): string =>
    s.replace(/\$\{([A-Za-z0-9_]+)\}/g, (_, k: string) => {
      if (!(k in params)) throw new UserError(`${where}: unknown parameter \${${k}}`);
      return params[k]!;
    });
  const num = (v: unknown, what: string): number => {
    const n = typeof v === 'string' ? Number(subst(v)) : Number(v);
    if (!Number.isFinite(n) || n < 0 || !Number.isInteger(n)) throw new UserError(`${where}: ${what} must be a non-negative integer`);
    return n;
  };

  const memMiB = d.memMiB === undefined ? 64 : num(d.memMiB, 'memMiB');
  if (d.linux !== undefined) {
    const l = d.linux as { run?: unknown; witness?: unknown };
    const { linux, expect, params: runParams } = expandLinux(where, subst(String(l.run ?? '')), forwarded, l.witness === undefined ? 'off' : subst(String(l.witness)));
    return {
      name: String(d.name), description: String(d.description ?? ''), seed, memBytes: memMiB * 1024 * 1024, params: { ...params, ...runParams },
      kernel: linux.vmlinuz, programs: [], script: `run=${linux.run}\n`, packets: [], disk: new Uint8Array(0), diskSectors: 0,
      expect, source, linux,
    };
  }
  let script: string;
  if (Array.isArray(d.script)) script = d.script.map((l) => subst(String(l))).join('\n') + '\n';
  else if (typeof d.script === 'string') script = subst(d.script);
  else throw new UserError(`${where}: missing "script"`);

  const gdir = guestDir();
  const kernel = new Uint8Array(readFileSync(join(gdir, 'images', 'kernel.elf')));
  const userDir = join(gdir, 'images', 'user');
  const all = readdirSync(userDir).filter((f) => f.endsWith('.elf')).map((f) => basename(f, '.elf')).sort();
  let names = all;
  if (d.programs !== undefined) {
    if (!Array.isArray(d.programs)) throw new UserError(`${where}: "programs" must be an array`);
    names = d.programs.map(String);
    for (const n of names) if (!all.includes(n)) throw new UserError(`${where}: no program "${n}" in guest/images/user`);
    if (!names.includes('init')) names = ['init', ...names];
  }
  const programs = names.map((name) => ({ name, bytes: new Uint8Array(readFileSync(join(userDir, `${name}.elf`))) }));

  let disk: Uint8Array = new Uint8Array(0);
  if (d.disk !== undefined) disk = buildDisk(d.disk, seed, num, subst, where);
  let packets: Packet[] = [];
  if (d.packets !== undefined) {
    const p = d.packets as Record<string, unknown>;
    if (p.kind !== 'memcached') throw new UserError(`${where}: packets.kind must be "memcached"`);
    packets = memcachedPackets({
      seed,
      count: num(p.count, 'packets.count'),
      start: num(p.start, 'packets.start'),
      gap: num(p.gap, 'packets.gap'),
      keys: Math.max(1, num(p.keys ?? 16, 'packets.keys')),
    });
  }
  const expect = Array.isArray(d.expect) ? d.expect.map((e) => subst(String(e))) : [];
  return {
    name: String(d.name),
    description: String(d.description ?? ''),
    seed,
    memBytes: memMiB * 1024 * 1024,
    params,
    kernel,
    programs,
    script,
    packets,
    disk,
    diskSectors: disk.length / 512,
    expect,
    source,
  };
}

/** A workload parameter as its description declares it (docs: the header of this file). */
export interface ParamSpec {
  default: string;
  /** `int`: a whole number in [min, max] (parsed by parseCount); `word`: [A-Za-z0-9_-]+. */
  type: 'int' | 'word';
  min: number;
  max: number;
  about: string;
}

/** The largest value a short-form integer parameter takes: the guest programs parse them into C `long`s, our counts are int32. */
const SHORT_FORM_MAX = 0x7fffffff;

function paramSpecs(raw: unknown, where: string): Map<string, ParamSpec> {
  const specs = new Map<string, ParamSpec>();
  if (raw === undefined) return specs;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new UserError(`${where}: "params" must be an object`);
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (!/^[A-Za-z0-9_]+$/.test(k) || k === 'seed') throw new UserError(`${where}: bad parameter name "${k}"`);
    const o = typeof v === 'object' && v !== null && !Array.isArray(v) ? v as Record<string, unknown> : { default: v };
    const def = o.default;
    let spec: ParamSpec;
    if (typeof def === 'number') {
      const min = o.min ?? 0;
      const max = o.max ?? SHORT_FORM_MAX;
      if (typeof min !== 'number' || typeof max !== 'number' || !Number.isSafeInteger(min) || !Number.isSafeInteger(max) || min < 0 || min > max) {
        throw new UserError(`${where}: parameter "${k}" needs integer bounds 0 <= min <= max`);
      }
      spec = { default: String(def), type: 'int', min, max, about: String(o.about ?? '') };
    } else if (typeof def === 'string') {
      spec = { default: def, type: 'word', min: 0, max: 0, about: String(o.about ?? '') };
    } else throw new UserError(`${where}: parameter "${k}" needs a number or string default`);
    // The description's own default must be a valid value.
    spec.default = checkParam(where, k, spec.default, spec);
    specs.set(k, spec);
  }
  return specs;
}

/** A parameter value checked against its declaration, as the string substituted into the script. */
export function checkParam(where: string, key: string, text: string, spec: ParamSpec): string {
  if (spec.type === 'word') {
    if (!/^[A-Za-z0-9_-]+$/.test(text)) throw new UserError(`${where}: parameter ${key}="${text}": expected a word (letters, digits, _ and -)`);
    return text;
  }
  try {
    return String(parseCount(key, text, { min: spec.min, max: spec.max }));
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    throw new UserError(`${where}: parameter ${key}=${JSON.stringify(text)}: expected an integer from ${spec.min} to ${spec.max}` +
      `${spec.about ? ` (${spec.about})` : ''}`);
  }
}

/** The parameters a workload declares (`trace workloads` lists them). */
export function workloadParams(nameOrPath: string): Map<string, ParamSpec> {
  const { d, path } = findDescription(nameOrPath);
  return paramSpecs(d.params, `workload ${String(d.name)} (${path})`);
}

/** Options for loadGuest() from a workload. */
export function loadOptions(w: Workload, tscHz: number): LoadGuestOptions {
  return {
    kernel: w.kernel,
    programs: w.programs,
    workloadScript: w.script,
    memBytes: w.memBytes,
    tscHz,
    seed: w.seed,
    diskSectors: w.diskSectors,
  };
}

/** Seeded file contents: xorshift32 bytes from (seed, file index). */
export function diskFileBytes(seed: number, index: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let s = (Math.imul(seed ^ 0x9e3779b9, 2654435761) + index * 0x6b43a9b5) >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    s = xorshift32(s);
    out[i] = s >>> 24;
  }
  return out;
}

const FS_MAX = 10;

/** A VMTRFS1 image (layout in guest/kernel/fs.c). */
function buildDisk(
  raw: unknown,
  seed: number,
  num: (v: unknown, what: string) => number,
  subst: (s: string) => string,
  where: string,
): Uint8Array {
  const d = raw as { sectors?: unknown; files?: unknown };
  const sectors = num(d.sectors, 'disk.sectors');
  if (sectors < 2 || sectors > 1 << 20) throw new UserError(`${where}: disk.sectors must be 2..1048576`);
  const files = Array.isArray(d.files) ? (d.files as Record<string, unknown>[]) : [];
  if (files.length > FS_MAX) throw new UserError(`${where}: at most ${FS_MAX} disk files`);
  const img = new Uint8Array(sectors * 512);
  const dv = new DataView(img.buffer);
  img.set(new TextEncoder().encode('VMTRFS1'), 0);
  dv.setUint32(8, files.length, true);
  dv.setUint32(12, sectors, true);
  let next = 1;
  files.forEach((f, i) => {
    const name = subst(String(f.name ?? ''));
    const nb = new TextEncoder().encode(name);
    if (nb.length === 0 || nb.length > 31) throw new UserError(`${where}: disk file name "${name}" must be 1-31 bytes`);
    const size = num(f.size ?? 0, `disk file ${name} size`);
    const cap = Math.max(Math.ceil(size / 512), num(f.capacity ?? 0, `disk file ${name} capacity`) / 512);
    const capSectors = Math.ceil(cap);
    if (next + capSectors > sectors) throw new UserError(`${where}: disk files do not fit in ${sectors} sectors`);
    const e = 16 + i * 48;
    img.set(nb, e);
    dv.setUint32(e + 32, next, true);
    dv.setUint32(e + 36, capSectors, true);
    dv.setUint32(e + 40, size, true);
    img.set(diskFileBytes(seed, i, size), next * 512);
    next += capSectors;
  });
  return img;
}

export interface MemcachedSchedule {
  seed: number;
  count: number;
  /** icount of the first packet */
  start: number;
  /** icount between packets */
  gap: number;
  keys: number;
}

/**
 * A memcached ASCII-protocol request stream in UDP frames (memcached protocol.txt: an 8-byte header of
 * request id, sequence number 0, datagram count 1, reserved 0): about 40% set, 50% get, 10% delete over
 * `keys` keys, then "quit". Deterministic in the seed.
 */
export function memcachedPackets(s: MemcachedSchedule): Packet[] {
  const enc = new TextEncoder();
  let st = (Math.imul(s.seed ^ 0x5bd1e995, 2246822519) >>> 0) || 1;
  const next = (): number => (st = xorshift32(st));
  const frame = (id: number, text: string): Uint8Array => {
    const body = enc.encode(text);
    const out = new Uint8Array(8 + body.length);
    out[0] = (id >> 8) & 0xff;
    out[1] = id & 0xff;
    out[5] = 1;
    out.set(body, 8);
    return out;
  };
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const packets: Packet[] = [];
  for (let i = 0; i < s.count; i++) {
    const r = next() % 100;
    const key = `key:${next() % s.keys}`;
    let text: string;
    if (r < 40) {
      const len = 8 + (next() % 57);
      let v = '';
      for (let k = 0; k < len; k++) v += alphabet[next() % alphabet.length];
      text = `set ${key} ${next() % 16} 0 ${len}\r\n${v}\r\n`;
    } else if (r < 90) {
      text = `get ${key}\r\n`;
    } else {
      text = `delete ${key}\r\n`;
    }
    packets.push({ icount: s.start + i * s.gap, bytes: frame(i & 0xffff, text) });
  }
  packets.push({ icount: s.start + s.count * s.gap, bytes: frame(s.count & 0xffff, 'quit\r\n') });
  return packets;
}

/** The workload a run uses when none is named: a few dozen processes churning, like seed 004's desktop guest. */
export const DEFAULT_WORKLOAD = 'mixed';
