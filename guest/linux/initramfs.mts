// Builds the Linux guest's initramfs (cpio newc, uncompressed) and images/linux/manifest.json
// (guest/linux/README.md). Usage: npx tsx guest/linux/initramfs.mts BIN_DIR OUT_DIR [CACHE_DIR]
//   BIN_DIR    the workload programs built for the Linux syscall ABI (make -C guest linux): <name>.elf
//   OUT_DIR    guest/images/linux (holds the kernel and config already, from fetch.sh)
//   CACHE_DIR  where Debian's busybox-static package is kept when it must be fetched (busybox.mts)
// The workload scripts come from guest/workloads/<name>.json, or guest/linux/workloads/<name>.json for the
// Linux-only ones (one place for them; a <name>.sh beside a Linux-only one becomes /workloads/<name>.sh): a parameter that only the
// script uses stays a `${key}` that /init substitutes (declared by a `param key default` line; `trace record
// linux:run=NAME,key=value` passes another value after `--` on the kernel command line); one that shapes a file
// built into the initramfs (fcopy's size, the server's schedule) is fixed at its default. The fcopy source file from the same seeded bytes our disk image holds, the server's requests from the
// same memcached schedule our NIC delivers (played by `netfeed` over loopback UDP).
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { getWorkload, workloadParams } from '../../src/hypervisor/workloads.js';
import { BUSYBOX, fetchBusybox } from './busybox.mjs';
import { newc, type CpioEntry } from './cpio.mjs';

export const KERNEL = 'vmlinuz-6.1.0-57-amd64';
export const CONFIG = 'config-6.1.0-57-amd64';
export const INITRAMFS = 'initramfs.cpio';
/** The kernel-module witness (guest/linux/witness; `make -C guest linux-witness` builds it), committed here and
 *  carried at /lib/modules/vmt_witness.ko; /init loads it when the command line says witness=on|hyperupcall. */
export const WITNESS_KO = 'vmt_witness.ko';
export const WITNESS_PATH = 'lib/modules/vmt_witness.ko';
/**
 * The workloads the Linux initramfs carries (`run=NAME`): our own guest's, and the Linux-only ones of
 * guest/linux/workloads (Debian's binaries: busybox-shell, busybox-applets).
 */
export const LINUX_WORKLOADS = ['syscall', 'pipe', 'spawn', 'execl', 'fcopy', 'shell', 'dhrystone', 'threads', 'server', 'mixed', 'whetstone', 'busybox-shell', 'busybox-applets'] as const;
/** guest/linux/README.md and ../shared/notes/linux.md: the minimal machine's command line. */
export const CMDLINE =
  'console=ttyS0 nokaslr acpi=off noapic nolapic nosmp pci=off cryptomgr.notests rodata=off tsc=reliable ' +
  'tsc_early_khz=1000000 mitigations=off reboot=t panic=-1';

const [binDir, outDir, cacheDir = join(import.meta.dirname, '..', 'build', 'linux', 'deb')] = process.argv.slice(2);
if (!binDir || !outDir) throw new Error('usage: initramfs.mts BIN_DIR OUT_DIR [CACHE_DIR]');
const enc = new TextEncoder();
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

const progs = readdirSync(binDir).filter((f) => f.endsWith('.elf')).map((f) => f.slice(0, -4)).sort();
if (!progs.includes('init')) throw new Error(`${binDir}: no init.elf`);
const entries: CpioEntry[] = [
  { name: 'bin', kind: 'dir', perm: 0o755 },
  ...[...progs.filter((p) => p !== 'init').map((p): CpioEntry => ({ name: `bin/${p}`, kind: 'file', perm: 0o755, data: readFileSync(join(binDir, `${p}.elf`)) })),
    { name: 'bin/busybox', kind: 'file', perm: 0o755, data: fetchBusybox(cacheDir, join(import.meta.dirname, '..', 'images', 'linux', INITRAMFS)) } as CpioEntry,
  ].sort((a, b) => (a.name < b.name ? -1 : 1)),
  { name: 'dev', kind: 'dir', perm: 0o755 },
  { name: 'dev/console', kind: 'chardev', perm: 0o600, rdev: [5, 1] },
  { name: 'init', kind: 'file', perm: 0o755, data: readFileSync(join(binDir, 'init.elf')) },
  { name: 'lib', kind: 'dir', perm: 0o755 },
  { name: 'lib/modules', kind: 'dir', perm: 0o755 },
  { name: WITNESS_PATH, kind: 'file', perm: 0o644, data: readFileSync(join(outDir, WITNESS_KO)) },
  { name: 'proc', kind: 'dir', perm: 0o555 },
  { name: 'tmp', kind: 'dir', perm: 0o1777 },
];
const files = new Map<string, Uint8Array>();
const scripts: CpioEntry[] = [];
const manifestWorkloads: Record<string, { script: string[]; files: string[]; expect: string[]; params: Record<string, string>; fixed: string[] }> = {};
for (const name of LINUX_WORKLOADS) {
  const w = getWorkload(name, {}, { linux: true });
  // The script with ${key} left for the parameters only it uses; the others (and ${seed}) substituted.
  const raw = JSON.parse(readFileSync(w.source, 'utf8')) as { script: string | string[]; disk?: unknown; packets?: unknown; guest?: unknown };
  const template = (Array.isArray(raw.script) ? raw.script.map(String) : String(raw.script).split('\n'));
  const shaping = JSON.stringify([raw.disk ?? null, raw.packets ?? null]);
  const params: Record<string, string> = {};
  const fixed: string[] = [];
  for (const [k, spec] of workloadParams(name)) {
    const ref = `\${${k}}`;
    if (template.some((l) => l.includes(ref)) && !shaping.includes(ref)) params[k] = spec.default;
    else fixed.push(k);
  }
  const subst = (l: string): string => l.replace(/\$\{([A-Za-z0-9_]+)\}/g, (m, k: string) => (k in params ? m : w.params[k]!));
  const own: string[] = [];
  const sh = w.source.replace(/\.json$/, '.sh');
  if (raw.guest === 'linux' && existsSync(sh)) {
    scripts.push({ name: `workloads/${name}.sh`, kind: 'file', perm: 0o644, data: readFileSync(sh) });
    own.push(`/workloads/${name}.sh`);
  }
  // Disk files (VMTRFS1, guest/kernel/fs.c: a 16-byte header, then 48-byte entries of name[32], first
  // sector, capacity, size) become files in / (init's working directory) with the same bytes.
  if (w.disk.length) {
    const dv = new DataView(w.disk.buffer, w.disk.byteOffset, w.disk.byteLength);
    for (let i = 0; i < dv.getUint32(8, true); i++) {
      const e = 16 + i * 48;
      const raw = w.disk.subarray(e, e + 32);
      const fname = new TextDecoder().decode(raw.subarray(0, raw.indexOf(0) < 0 ? 32 : raw.indexOf(0)));
      const start = dv.getUint32(e + 32, true) * 512;
      const bytes = w.disk.slice(start, start + dv.getUint32(e + 40, true));
      const prev = files.get(fname);
      if (prev && sha256(prev) !== sha256(bytes)) throw new Error(`disk file ${fname} differs between workloads`);
      files.set(fname, bytes);
      own.push(`/${fname}`);
    }
  }
  let lines = template.map(subst).filter((l) => l.length > 0);
  if (w.packets.length) {
    // The NIC's schedule becomes a request file that netfeed plays to the server over loopback UDP.
    const net = `workloads/${name}.net`;
    const parts = w.packets.map((p) => {
      const b = new Uint8Array(2 + p.bytes.length);
      b[0] = p.bytes.length & 0xff;
      b[1] = p.bytes.length >> 8;
      b.set(p.bytes, 2);
      return b;
    });
    const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) { all.set(p, o); o += p.length; }
    scripts.push({ name: net, kind: 'file', perm: 0o644, data: all });
    own.push(`/${net}`);
    lines = lines.flatMap((l) => (/^run server\b/.test(l) ? [`bg ${l.slice(4)}`, `run netfeed /${net}`, 'wait'] : [l]));
  }
  lines = [...Object.entries(params).map(([k, v]) => `param ${k} ${v}`), ...lines];
  const text = `${lines.join('\n')}\n`;
  scripts.push({ name: `workloads/${name}`, kind: 'file', perm: 0o644, data: enc.encode(text) });
  manifestWorkloads[name] = { script: lines, files: own, expect: w.expect, params, fixed };
}
for (const [name, data] of [...files].sort()) entries.push({ name, kind: 'file', perm: 0o644, data });
entries.push({ name: 'workloads', kind: 'dir', perm: 0o755 }, ...scripts.sort((a, b) => (a.name < b.name ? -1 : 1)));
const cpio = newc(entries);
writeFileSync(join(outDir, INITRAMFS), cpio);

const kernel = readFileSync(join(outDir, KERNEL));
const witness = readFileSync(join(outDir, WITNESS_KO));
/** The module's vermagic (its .modinfo string), which must be the kernel's for it to load. */
const vermagic = /vermagic=([^\0]*)\0/.exec(witness.toString('latin1'))?.[1] ?? '';
if (!vermagic.startsWith('6.1.0-57-amd64 ')) throw new Error(`${WITNESS_KO}: vermagic "${vermagic}" is not the kernel's`);
const manifest = {
  description: "Debian bookworm's unmodified Linux 6.1 kernel and vmtrace's initramfs (guest/linux/README.md)",
  package: { name: 'linux-image-6.1.0-57-amd64', version: '6.1.192-3', sha256: '14d219d01e1283261817d961dbb3895cb5b4288d0de10e0ba0632a0d993e15bf' },
  kernel: {
    path: KERNEL,
    format: 'bzImage as shipped in the package (boot protocol 2.15; payload: the vmlinux as an xz stream, then its size as le32)',
    sha256: sha256(kernel),
    bytes: kernel.length,
    version: 'Linux version 6.1.0-57-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14+deb12u1) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40) #1 SMP PREEMPT_DYNAMIC Debian 6.1.192-3 (2026-11-26)',
    vmlinuxSha256: 'c3718796ffdb206cc149543cf925b868d9cd0cb504ba554539a01303179505aa',
    vmlinuxBytes: 65906612,
  },
  config: CONFIG,
  cmdline: CMDLINE,
  initramfs: { path: INITRAMFS, format: 'cpio newc, uncompressed', sha256: sha256(cpio), bytes: cpio.length },
  witness: {
    path: WITNESS_KO,
    initramfsPath: `/${WITNESS_PATH}`,
    source: 'guest/linux/witness (make -C guest linux-witness, with linux-headers-6.1.0-57-amd64 6.1.192-3 and gcc-12)',
    sha256: sha256(witness),
    bytes: witness.length,
    vermagic,
  },
  run: 'append run=NAME to the command line (default mixed); /init runs /workloads/NAME; workload parameters (a workload\'s params) as KEY=VALUE after -- (the kernel passes them to /init as arguments); witness=on|hyperupcall (before --) makes /init load the witness module first',
  programs: progs.filter((p) => p !== 'init'),
  busybox: { path: 'bin/busybox', package: BUSYBOX.package, version: BUSYBOX.version, debSha256: BUSYBOX.debSha256, sha256: BUSYBOX.sha256 },
  workloads: manifestWorkloads,
};
writeFileSync(join(outDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
