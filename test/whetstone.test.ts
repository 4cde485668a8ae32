// The whetstone workload (guest/common/whetstone.c, built with SSE2) against the same source compiled and run
// natively on the host: every final value bit for bit. Three copies preempted by a 20 kHz timer check that the
// guest kernel's FXSAVE/FXRSTOR context switch keeps each process's XMM state.

import { describe, expect, it } from 'vitest';
import { getWorkload, type Workload } from '../src/hypervisor/workloads.js';
import { LiveEnvironment } from '../src/replay/LiveEnvironment.js';
import { assemble } from '../src/replay/Session.js';
import { nativeWhet, whetLines } from './helpers/nativeWhet.js';

function runGuest(w: Workload): { console: string; reason: string; status: number } {
  const { machine } = assemble({ workload: w, exitPreset: 'kvm-default', costModel: 'modern', maxInstructions: 400_000_000 },
    (m, wl) => new LiveEnvironment(m, wl));
  const r = machine.run();
  return { console: machine.consoleText(), reason: r.reason, status: r.status };
}

const native = nativeWhet(10);
const suite = native !== null ? describe : describe.skip;

suite(native !== null ? 'whetstone vs host CPU' : 'whetstone vs host CPU (skipped: no x86-64 gcc)', () => {
  it('the guest prints exactly the values the host computes', () => {
    const r = runGuest(getWorkload('whetstone'));
    expect(r.reason, r.console.slice(-1500)).toBe('guest-exit');
    expect(whetLines(r.console)).toEqual(whetLines(native as string));
    expect(whetLines(r.console)).toHaveLength(13);
  }, 600_000);

  it('three whetstone processes preempted at 20 kHz each keep their XMM state (FXSAVE/FXRSTOR switch)', () => {
    const base = getWorkload('whetstone');
    const w: Workload = { ...base, script: ['hz 20000', 'bg whet 3', 'bg whet 3', 'run whet 3', 'wait'].join('\n') + '\n', expect: [] };
    const r = runGuest(w);
    expect(r.reason, r.console.slice(-1500)).toBe('guest-exit');
    const want = (nativeWhet(3) as string).split('\n').find((l) => l.includes('loops, hash')) as string;
    const got = r.console.split('\n').filter((l) => l.includes('loops, hash'));
    expect(got, r.console.slice(-1500)).toEqual([want, want, want]);
  }, 600_000);
});
