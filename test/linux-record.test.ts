// `trace record linux` / `trace replay` on Debian's kernel (the linux workload): a recording of the boot is
// a valid trace, two recordings are byte-identical file by file, replay is clean exit by exit from the start
// and from a checkpoint taken mid-boot, `trace info` names the kernel, and the workload refuses an unknown
// program. (Interception strategies on Linux: test/linux-interception.test.ts.) The run is cut by an instruction limit
// (the boot needs the PC devices to finish); the trace says where and why it stopped.

import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { recordTrace } from '../src/replay/recordTrace.js';
import { replayTrace } from '../src/replay/replayTrace.js';
import { traceInfo } from '../src/cli/info.js';
import { getWorkload } from '../src/hypervisor/workloads.js';
import { traceFiles } from './helpers/traceFiles.js';

const haveImage = existsSync(join(import.meta.dirname, '..', 'guest', 'images', 'linux', 'manifest.json'));
const suite = haveImage ? describe : describe.skip;
if (!haveImage) console.warn('linux-record tests skipped: no Linux guest image under guest/images/linux (make -C guest linux)');

const root = mkdtempSync(join(tmpdir(), 'vmtrace-linux-'));
const LIMIT = 30_000_000;

const files = traceFiles;

suite('the linux workload', async () => {
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const config = { workload: 'linux:run=syscall', exitPreset: 'kvm-default', costModel: 'modern', maxInstructions: LIMIT };
  const a = await recordTrace(config, join(root, 'a'), { checkpointEvery: 10_000_000 });
  const b = await recordTrace(config, join(root, 'b'), { checkpointEvery: 10_000_000 });

  it('records the boot under --intercept none into a valid trace that says where it stopped', () => {
    expect(a.assembled.config.intercept).toBe('none');
    expect(a.result.reason).toBe('instruction-limit');
    expect(a.manifest.complete).toBe(false);
    expect(a.manifest.totals.icount).toBe(LIMIT);
    expect(a.manifest.totals.exits).toBe(a.result.exits);
    // The kernel's CPUID, MSR, I/O and CR exits under the KVM-like preset.
    expect(a.result.exits).toBeGreaterThan(100);
    expect(a.manifest.images.map((i) => i.name).sort()).toEqual(['initramfs.cpio', 'vmlinuz']);
  });

  it('two recordings are byte-identical, file by file', () => {
    const fa = files(join(root, 'a'));
    expect(files(join(root, 'b'))).toEqual(fa);
    for (const f of fa) expect(readFileSync(join(root, 'b', f)).equals(readFileSync(join(root, 'a', f))), f).toBe(true);
  });

  it('replays clean exit by exit, from the start and from a checkpoint mid-boot, to the same state', async () => {
    const full = await replayTrace(join(root, 'a'));
    expect(full.divergence).toBeNull();
    expect(full.inputDivergence).toBeNull();
    expect(full.clean).toBe(true);
    expect(full.matched).toBe(a.result.exits);
    const mid = await replayTrace(join(root, 'a'), { from: 25_000_000 });
    expect(mid.startIcount).toBe(20_000_000);
    expect(mid.clean).toBe(true);
    expect(mid.stateDigest).toBe(full.stateDigest);
  });

  it('trace info shows the kernel version and command line', async () => {
    const text = await traceInfo(join(root, 'a'));
    expect(text).toMatch(/^kernel {5}Linux 6\.1\.0-57-amd64 \(debian-kernel@lists\.debian\.org\) #1 SMP PREEMPT_DYNAMIC Debian 6\.1\.192-3/m);
    expect(text).toMatch(/^cmdline .* run=syscall$/m);
  });

  it('refuses unknown programs with a clear error', () => {
    expect(() => getWorkload('linux:run=nosuch')).toThrow(/no program "nosuch" in the Linux initramfs \(run= one of: syscall, pipe/);
  });
}, 900_000);
