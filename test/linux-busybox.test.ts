// Debian's busybox-static in the Linux guest (issue 16): the busybox-shell workload (guest/linux/workloads:
// a UnixBench-style script under busybox sh: awk-generated text through sort, od, grep, tee, wc, cut, uniq,
// sed, tr, md5sum, awk printing floats) runs on our emulator, and every line it prints must equal what the
// same script prints when the same binary (taken from the committed initramfs, sha256-checked against the
// manifest) runs on the host CPU under the host kernel. The recording then replays clean exit by exit.
// One Linux boot plus the script (~540 M instructions) recorded, and one replay: minutes of CPU.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LiveEnvironment } from '../src/replay/LiveEnvironment.js';
import { recordTrace } from '../src/replay/recordTrace.js';
import { assemble, resolveWorkload, runSliced } from '../src/replay/Session.js';
import { replayTrace } from '../src/replay/replayTrace.js';
import { getWorkload } from '../src/hypervisor/workloads.js';
import { hostBusybox } from './helpers/hostBusybox.js';
import { splitConsole } from './helpers/linuxQemu.js';

const RUN = 'busybox-shell';
/** Not the defaults (300 lines): the parameters go to /init after `--` and it substitutes them. */
const PARAMS = { lines: '250', reps: '2' };
const root = mkdtempSync(join(tmpdir(), 'vmtrace-busybox-'));
const host = hostBusybox(RUN, PARAMS);
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

// busybox-applets: compressors, hashes, 64-bit arithmetic, floats in od/awk/printf, date, bc, dc (the CPU paths
// busybox-shell does not take), run live on our emulator (no recording: one more boot, ~580 M instructions).
const APPLETS = 'busybox-applets';
const appletsHost = hostBusybox(APPLETS);
describe.skipIf('skip' in appletsHost)(`${APPLETS} on Linux: our emulator against the host running the same busybox`, () => {
  it('prints, line for line, what the host prints', async () => {
    const expected = (appletsHost as { lines: string[] }).lines;
    expect(expected[0]).toBe('bba: 2000 numbers');
    expect(expected.at(-1)).toBe('bba: done');
    // gzip and bzip2 round trips, xzcat and tar give seq's bytes back: md5 ea4d0a24... (seq 1 2000).
    expect(expected.filter((l) => l === 'ea4d0a24dabcaa11f9aa979b872d162b  -')).toHaveLength(4);
    const config = await resolveWorkload({ workload: `linux:run=${APPLETS}`, exitPreset: 'kvm-default', costModel: 'modern' });
    const a = assemble(config, (m, w) => new LiveEnvironment(m, w));
    const r = await runSliced(a.machine, 20_000_000);
    expect(r.reason, `${r.reason} ${r.detail}`).toBe('guest-exit');
    expect(splitConsole(a.machine.consoleText()).programOutput).toEqual([...expected, 'init: done, 0 failures']);
  }, 1_200_000);
});

