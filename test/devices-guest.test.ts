// The devices as the guest kernel (guest/kernel: ata.c, nic.c, arch.c, lib.c, written against
// docs/machine.md by someone else) drives them: whole workloads on the machine with the live environment,
// checked by the workloads' own expected console lines and by the devices' counters; and the timer
// interrupts the guest programs through the 8254 arrive at the datasheet's rate of guest time.

import { describe, expect, it } from 'vitest';
import { assemble } from '../src/replay/Session.js';
import { LiveEnvironment } from '../src/replay/LiveEnvironment.js';
import { BlockDevice } from '../src/emulator/devices/BlockDevice.js';
import { Nic } from '../src/emulator/devices/Nic.js';
import { Pit } from '../src/emulator/devices/Pit.js';
import { getCostModel } from '../src/emulator/costModel.js';
import { IoDirection, type InterruptEvent, type IoEvent } from '../src/emulator/events.js';
import { Uart } from '../src/emulator/devices/Uart.js';

function runWorkload(name: string, watch?: { io: IoEvent[]; irq: InterruptEvent[] }) {
  let env: LiveEnvironment | null = null;
  const a = assemble({ workload: name, exitPreset: 'minimal', costModel: 'modern', maxInstructions: 200_000_000 },
    (m, w) => (env = new LiveEnvironment(m, w)));
  if (watch !== undefined) {
    a.machine.subscribe({
      onIo: (e) => { if (e.port >= 0x40 && e.port <= 0x43) watch.io.push({ ...e }); },
      onInterrupt: (e) => watch.irq.push({ ...e }),
    });
  }
  const r = a.machine.run();
  const live = env as unknown as LiveEnvironment;
  const find = <T>(cls: new (...args: never[]) => T): T => live.devices.find((d) => d instanceof cls) as T;
  return { r, console: a.machine.consoleText(), workload: a.workload, live,
    ata: find(BlockDevice), nic: find(Nic), timer: find(Pit), uart: find(Uart) };
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

  it('timer: the guest programs 8254 channel 0 in mode 2 and IRQ 0 arrives once per divisor clocks of guest time', () => {
    for (const [workload, hz] of [['dhrystone', 10000], ['mixed', 20000]] as const) {
      const watch = { io: [] as IoEvent[], irq: [] as InterruptEvent[] };
      const { r, console, timer } = runWorkload(workload, watch);
      expect(r.reason, console.slice(-1500)).toBe('guest-exit');
      // The guest's programming (guest/kernel/arch.c timer_set_hz): control word 0x34, then LSB and MSB.
      const last = watch.io.map((e, i) => [e, i] as const).filter(([e]) => e.port === 0x43 && e.direction === IoDirection.out).at(-1);
      expect(last).toBeDefined();
      const [cw, i] = last!;
      expect(cw.value).toBe(0x34);
      const [lsb, msb] = [watch.io[i + 1], watch.io[i + 2]];
      expect([lsb.port, msb.port]).toEqual([0x40, 0x40]);
      const divisor = lsb.value | (msb.value << 8);
      expect(divisor).toBe(Math.round(1_193_182 / hz));
      // Datasheet mode 2: the count is loaded on the first clock after the write and OUT rises every
      // `divisor` clocks after that. Clock edge k of 1.193182 MHz is at guest time k / 1193182 s, i.e. at
      // instruction ceil(k x tscHz / (1193182 x CPI)) (docs/machine.md), computed here in BigInt.
      const { tscHz, cyclesPerInstruction: cpi } = getCostModel('modern');
      const f = 1_193_182n, q = BigInt(tscHz), c = BigInt(cpi);
      const clockAt = (icount: number): bigint => (BigInt(icount) * c * f) / q;
      const icountOf = (k: bigint): number => Number((k * q + f * c - 1n) / (f * c));
      const load = clockAt(msb.icount) + 1n;
      const edges: number[] = [];
      for (let k = 1n; ; k++) {
        const at = icountOf(load + k * BigInt(divisor));
        if (at > r.icount) break;
        edges.push(at);
      }
      // Every edge is delivered as vector 0x20 before the next one (none lost or merged), at or after it.
      const ticks = watch.irq.filter((e) => e.vector === 0x20 && e.icount > msb.icount).map((e) => e.icount);
      expect(ticks.length).toBeGreaterThan(10);
      expect(ticks.length).toBe(edges.length);
      for (let k = 0; k < ticks.length; k++) {
        expect(ticks[k]).toBeGreaterThanOrEqual(edges[k]);
        if (k + 1 < edges.length) expect(ticks[k]).toBeLessThan(edges[k + 1]);
      }
      // Most arrive at the very instruction of the edge (the guest had interrupts enabled).
      expect(ticks.filter((t, k) => t === edges[k]).length).toBeGreaterThan(ticks.length / 2);
      // The rate in guest time: 1193182 / divisor Hz, within one tick over the run.
      const seconds = (edges.at(-1)! - edges[0]) * cpi / tscHz;
      expect(Math.abs((edges.length - 1) - seconds * 1_193_182 / divisor)).toBeLessThan(1);
      expect(timer.ticks).toBeGreaterThanOrEqual(edges.length);
    }
  });
});
