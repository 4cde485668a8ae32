// The busybox workloads' oracle (issue 16): a workload's script run on the host by the same busybox binary the
// Linux initramfs holds (taken from the committed initramfs and checked against the manifest's sha256), with
// an empty PATH so only busybox's own applets run (a host command of the same name, e.g. coreutils' cksum,
// would otherwise be found where the guest has none). test/linux-busybox.test.ts (our emulator) and
// test/linux-qemu.test.ts (QEMU) compare the guest's console with it.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readNewc } from '../../guest/linux/cpio.mjs';

const images = join(import.meta.dirname, '..', '..', 'guest', 'images', 'linux');

interface Manifest {
  initramfs: { path: string };
  busybox?: { path: string; sha256: string; version: string };
  workloads: Record<string, { script: string[]; params?: Record<string, string> } | undefined>;
}

/**
 * What the host prints for the Linux-only workload `run` (busybox-shell, busybox-applets) with `params` (the
 * workload's parameters; missing ones take the manifest's defaults), as lines; or why the host cannot run it.
 */
export function hostBusybox(run: string, params: Record<string, string> = {}): { lines: string[] } | { skip: string } {
  if (process.platform !== 'linux' || process.arch !== 'x64') return { skip: `the host is ${process.platform}/${process.arch}, not x86-64 Linux` };
  if (!existsSync(join(images, 'manifest.json'))) return { skip: 'no Linux guest image under guest/images/linux' };
  const m = JSON.parse(readFileSync(join(images, 'manifest.json'), 'utf8')) as Manifest;
  const w = m.workloads[run];
  if (!m.busybox || !w) return { skip: 'the committed initramfs has no busybox (make -C guest linux)' };
  const files = readNewc(readFileSync(join(images, m.initramfs.path)));
  const bin = files.get(m.busybox.path);
  if (!bin || createHash('sha256').update(bin).digest('hex') !== m.busybox.sha256) throw new Error(`${m.busybox.path} in the initramfs is not the pinned binary`);
  // /init's line: run busybox sh /workloads/busybox-shell.sh ARGS... with ${key} substituted as /init does.
  const all = { ...w.params, ...params };
  const line = w.script.find((l) => l.startsWith('run '))!.replace(/\$\{(\w+)\}/g, (_, k: string) => all[k] ?? '');
  const words = line.split(/\s+/);
  if (words.slice(0, 4).join(' ') !== `run busybox sh /workloads/${run}.sh`) throw new Error(`unexpected ${run} script line: ${line}`);
  const root = mkdtempSync(join(tmpdir(), 'vmtrace-busybox-host-'));
  try {
    const bb = join(root, 'busybox');
    writeFileSync(bb, bin);
    chmodSync(bb, 0o755);
    const script = join(root, `${run}.sh`);
    writeFileSync(script, files.get(`workloads/${run}.sh`)!);
    const empty = join(root, 'empty');
    const tmp = join(root, 'tmp');
    mkdirSync(empty);
    mkdirSync(tmp);
    const out = execFileSync(bb, ['sh', script, ...words.slice(4)], { cwd: tmp, env: { PATH: empty, TMPDIR: tmp }, encoding: 'utf8' });
    return { lines: out.replace(/\n$/, '').split('\n') };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
