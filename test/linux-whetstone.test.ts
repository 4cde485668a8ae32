// Whetstone on the Linux guest (issue 16): /bin/whet, built from the same source with SSE2 (guest/Makefile,
// the one Linux program not -mgeneral-regs-only), run by Debian's kernel on our emulator, must print every
// result bit for bit as the same source compiled and run on the host CPU; the kernel switches the XMM state
// with FXSAVE/FXRSTOR as it does on hardware. It also prints the guest TSC cycles it took (guest time).
// One Linux boot (~430 M instructions): tens of seconds to minutes of CPU.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LiveEnvironment } from '../src/replay/LiveEnvironment.js';
import { assemble, resolveWorkload, runSliced } from '../src/replay/Session.js';
import { splitConsole } from './helpers/linuxQemu.js';
import { nativeWhet, whetLines } from './helpers/nativeWhet.js';

const LOOPS = 20;
const haveImage = existsSync(join(import.meta.dirname, '..', 'guest', 'images', 'linux', 'manifest.json'));
const native = haveImage ? nativeWhet(LOOPS) : null;
const why = !haveImage ? 'no Linux guest image under guest/images/linux' : native === null ? 'no x86-64 gcc on the host' : null;
if (why !== null) console.warn(`whetstone on Linux vs host CPU skipped: ${why}`);

describe.skipIf(why !== null)('whetstone on Linux vs host CPU', () => {
  it(`linux:run=whetstone,loops=${LOOPS} prints exactly the values the host computes`, async () => {
    const config = await resolveWorkload({ workload: `linux:run=whetstone,loops=${LOOPS}`, exitPreset: 'kvm-default', costModel: 'modern' });
    const a = assemble(config, (m, w) => new LiveEnvironment(m, w));
    const r = await runSliced(a.machine, 20_000_000);
    const out = splitConsole(a.machine.consoleText()).programOutput;
    expect(r.reason, out.slice(-10).join('\n')).toBe('guest-exit');
    expect(whetLines(out.join('\n'))).toEqual(whetLines(native as string));
    expect(whetLines(out.join('\n'))).toHaveLength(13);
    expect(out.find((l) => /^whet: tsc cycles \d+$/.test(l))).toBeDefined();
    expect(out.at(-1)).toBe('init: done, 0 failures');
  }, 1_200_000);
});
