// Debian's busybox-static in the Linux guest (issue 16): the busybox-shell workload (guest/linux/workloads:
// a UnixBench-style script under busybox sh: awk-generated text through sort, od, grep, tee, wc, cut, uniq,
// sed, tr, md5sum, awk printing floats) runs on our emulator, and every line it prints must equal what the
// same script prints when the same binary (taken from the committed initramfs, sha256-checked against the
// manifest) runs on the host CPU under the host kernel. The recording then replays clean exit by exit.
// One Linux boot plus the script (~540 M instructions) recorded, and one replay: minutes of CPU.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readNewc } from '../guest/linux/cpio.mjs';
import { recordTrace } from '../src/replay/recordTrace.js';
import { replayTrace } from '../src/replay/replayTrace.js';
import { getWorkload } from '../src/hypervisor/workloads.js';
import { splitConsole } from './helpers/linuxQemu.js';

const RUN = 'busybox-shell';
/** Not the defaults (300 lines): the parameters go to /init after `--` and it substitutes them. */
const PARAMS = { lines: '250', reps: '2' };
const images = join(import.meta.dirname, '..', 'guest', 'images', 'linux');
const root = mkdtempSync(join(tmpdir(), 'vmtrace-busybox-'));

interface Manifest {
  initramfs: { path: string };
  busybox?: { path: string; sha256: string; version: string };
  workloads: Record<string, { script: string[]; files: string[]; params?: Record<string, string> }>;
}

/** The host's output of the workload's script, or why the host cannot run it. */
function hostRun(m: Manifest): { lines: string[] } | { skip: string } {
  if (process.platform !== 'linux' || process.arch !== 'x64') return { skip: `the host is ${process.platform}/${process.arch}, not x86-64 Linux` };
  if (!m.busybox || !m.workloads[RUN]) return { skip: 'the committed initramfs has no busybox (make -C guest linux)' };
  const files = readNewc(readFileSync(join(images, m.initramfs.path)));
  const bin = files.get(m.busybox.path);
  if (!bin || createHash('sha256').update(bin).digest('hex') !== m.busybox.sha256) throw new Error(`${m.busybox.path} in the initramfs is not the pinned binary`);
  const bb = join(root, 'busybox');
  writeFileSync(bb, bin);
  chmodSync(bb, 0o755);
  // /init's line: run busybox sh /workloads/busybox-shell.sh ARGS... (${key}: PARAMS, as /init substitutes
  // them); the script file from the initramfs too.
  const w = m.workloads[RUN];
  expect(Object.keys(w.params ?? {}).sort()).toEqual(Object.keys(PARAMS).sort());
  const line = w.script.find((l) => l.startsWith('run '))!.replace(/\$\{(\w+)\}/g, (_, k: string) => PARAMS[k as keyof typeof PARAMS]);
  const words = line.split(/\s+/);
  expect(words.slice(0, 4)).toEqual(['run', 'busybox', 'sh', `/workloads/${RUN}.sh`]);
  const script = join(root, `${RUN}.sh`);
  writeFileSync(script, files.get(`workloads/${RUN}.sh`)!);
  // An empty PATH directory: only busybox's own applets run (a host command of the same name, e.g.
  // coreutils' cksum, would otherwise be found where the guest has none).
  const empty = join(root, 'empty');
  const tmp = join(root, 'tmp');
  mkdirSync(empty);
  mkdirSync(tmp);
  const out = execFileSync(bb, ['sh', script, ...words.slice(4)], { cwd: tmp, env: { PATH: empty, TMPDIR: tmp }, encoding: 'utf8' });
  return { lines: out.replace(/\n$/, '').split('\n') };
}

const host = existsSync(join(images, 'manifest.json'))
  ? hostRun(JSON.parse(readFileSync(join(images, 'manifest.json'), 'utf8')) as Manifest) : { skip: 'no Linux guest image' };
if ('skip' in host) console.warn(`busybox on Linux vs host busybox skipped: ${host.skip}`);

describe.skipIf('skip' in host)(`${RUN} on Linux: our emulator against the host running the same busybox`, () => {
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const dir = join(root, 'trace');
  let icount = 0;

  it('prints, line for line, what the host prints', async () => {
    const expected = (host as { lines: string[] }).lines;
    // The host's own run is checked for content too (a script that failed early would compare equal to itself).
    expect(expected[0]).toBe('bbsh: 250 lines, 2 reps, seed 1');
    expect(expected.filter((l) => /^[0-9a-f]{32} {2}-$/.test(l))).toHaveLength(6);
    expect(expected.filter((l) => /^mean \d+\.\d{6} sd \d+\.\d{6} max \d+\.\d{4} n 250$/.test(l))).toHaveLength(2);
    expect(expected.at(-1)).toBe('bbsh: done');
    const r = await recordTrace({ workload: `linux:run=${RUN},lines=${PARAMS.lines},reps=${PARAMS.reps}`, exitPreset: 'kvm-default', costModel: 'modern' }, dir);
    expect(r.result.reason, `${r.result.reason} ${r.result.detail ?? ''}`).toBe('guest-exit');
    icount = r.manifest.totals.icount;
    const s = splitConsole(readFileSync(join(dir, 'console.txt'), 'utf8'));
    expect(s.programOutput).toEqual([...expected, 'init: done, 0 failures']);
  }, 1_200_000);

  it('is refused on our own guest with a message naming the Linux run', () => {
    expect(() => getWorkload(RUN)).toThrow(`workload ${RUN} runs on the Linux guest only (Debian's binaries): trace record linux:run=${RUN}`);
  });

  it('replays clean exit by exit', async () => {
    expect(icount).toBeGreaterThan(0);
    const rep = await replayTrace(dir);
    expect(rep.divergence).toBeNull();
    expect(rep.inputDivergence).toBeNull();
    expect(rep.clean).toBe(true);
  }, 1_200_000);
});
