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
import { recordTrace } from '../src/replay/recordTrace.js';
import { replayTrace } from '../src/replay/replayTrace.js';
import { getWorkload } from '../src/hypervisor/workloads.js';
import { BUSYBOX_RUN, hostBusybox } from './helpers/hostBusybox.js';
import { splitConsole } from './helpers/linuxQemu.js';

const RUN = BUSYBOX_RUN;
/** Not the defaults (300 lines): the parameters go to /init after `--` and it substitutes them. */
const PARAMS = { lines: '250', reps: '2' };
const root = mkdtempSync(join(tmpdir(), 'vmtrace-busybox-'));
const host = hostBusybox(PARAMS);
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
