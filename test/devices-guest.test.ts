// The devices as the guest kernel (guest/kernel: ata.c, nic.c, arch.c, lib.c, written against
// docs/machine.md by someone else) drives them: whole workloads on the machine with the live environment,
// checked by the workloads' own expected console lines and by the devices' counters.

import { describe, expect, it } from 'vitest';
import { assemble } from '../src/replay/Session.js';
import { LiveEnvironment } from '../src/replay/LiveEnvironment.js';
import { BlockDevice } from '../src/emulator/devices/BlockDevice.js';
import { Nic } from '../src/emulator/devices/Nic.js';
import { Timer } from '../src/emulator/devices/Timer.js';
import { Uart } from '../src/emulator/devices/Uart.js';

function runWorkload(name: string) {
  let env: LiveEnvironment | null = null;
  const a = assemble({ workload: name, exitPreset: 'minimal', costModel: 'modern', maxInstructions: 200_000_000 },
    (m, w) => (env = new LiveEnvironment(m, w)));
  const r = a.machine.run();
  const live = env as unknown as LiveEnvironment;
  const find = <T>(cls: new (...args: never[]) => T): T => live.devices.find((d) => d instanceof cls) as T;
  return { r, console: a.machine.consoleText(), workload: a.workload, live,
    ata: find(BlockDevice), nic: find(Nic), timer: find(Timer), uart: find(Uart) };
}

describe('devices under the guest kernel', () => {
  it('fcopy: files copied through READ/WRITE SECTORS come out right', () => {
    const { r, console, workload, ata, timer } = runWorkload('fcopy');
    expect(r.reason, console.slice(-1500)).toBe('guest-exit');
    expect(r.status).toBe(0);
    for (const e of workload.expect) expect(console).toContain(e);
    expect(ata.sectorsRead).toBeGreaterThan(0);
    expect(ata.sectorsWritten).toBeGreaterThan(0);
    // Sectors the guest did not write are still the image's.
    const img = workload.disk;
    let changed = 0;
    for (let s = 0; s < ata.sectors; s++) {
      if (!Buffer.from(ata.disk.subarray(s * 512, s * 512 + 512)).equals(Buffer.from(img.subarray(s * 512, s * 512 + 512)))) changed++;
    }
    expect(changed).toBeGreaterThan(0);
    expect(changed).toBeLessThanOrEqual(ata.sectorsWritten);
    expect(timer.ticks).toBeGreaterThan(0);
  });

  it('server: scheduled packets reach the guest by DMA and its replies go out', () => {
    const { r, console, workload, nic, live, uart } = runWorkload('server');
    expect(r.reason, console.slice(-1500)).toBe('guest-exit');
    expect(r.status).toBe(0);
    for (const e of workload.expect) expect(console).toContain(e);
    expect(nic.delivered + nic.dropped + nic.queued).toBe(workload.packets.length);
    expect(nic.delivered).toBeGreaterThan(0);
    expect(live.transmitted.length).toBe(nic.transmitted);
    expect(nic.transmitted).toBeGreaterThan(0);
    expect(uart.transmitted).toBe(Buffer.byteLength(console, 'latin1'));
  });
});
