// The live environment: the machine's devices (docs/machine.md, src/emulator/devices/StandardDevices.ts) on
// one I/O bus, simulated. Device outputs that are functions of guest state (console, power-off, ground truth,
// transmitted packets) go to the machine; inputs (IN values, DMA, interrupt requests) reach the machine
// through the Environment calls, where the recorder logs them.

import type { Environment, Machine } from '../emulator/machine.js';
import { StopReason } from '../emulator/machine.js';
import type { AccessSize, Device } from '../emulator/devices/Device.js';
import type { IoBus } from '../emulator/devices/IoBus.js';
import type { Pic } from '../emulator/devices/Pic.js';
import { StandardDevices } from '../emulator/devices/StandardDevices.js';
import type { Workload } from '../hypervisor/workloads.js';

export class LiveEnvironment implements Environment {
  readonly standard: StandardDevices;
  readonly bus: IoBus;
  readonly pic: Pic;
  readonly devices: readonly Device[];
  /** Packets the guest transmitted (the server workload's replies). */
  readonly transmitted: Uint8Array[] = [];
  /** Called for every DMA write (the recorder logs it). */
  onDma: (phys: number, bytes: Uint8Array) => void = () => {};
  private irqRaised = false;
  private inIo = false;
  inRaisedIrq = false;

  constructor(private readonly machine: Machine, workload: Workload) {
    const cpu = machine.cpu;
    if (!(machine.tscHz > 0)) throw new Error('live environment: the machine has no TSC frequency (MachineOptions.tscHz), which the PIT and RTC count in');
    const disk = workload.disk.length > 0 ? workload.disk : new Uint8Array(workload.diskSectors * 512);
    this.standard = new StandardDevices({
      now: () => (this.inIo ? cpu.ioIcount : cpu.icount),
      cyclesPerInstruction: cpu.cyclesPerInstruction,
      tscHz: machine.tscHz,
      dmaWrite: (phys, bytes) => {
        cpu.mmu.writePhys(phys, bytes);
        this.onDma(phys, bytes);
      },
      dmaRead: (phys, length) => cpu.mmu.readPhys(phys, length),
      disk,
      packets: workload.packets,
      onConsole: (b) => machine.publishConsole(b.slice()),
      onTransmit: (b) => this.transmitted.push(b),
      onPowerOff: (status) => machine.stop(StopReason.guestExit, status),
      onGroundTruth: (e) => machine.publishGroundTruth(e),
      witness: workload.linux?.witness === true,
      onWitness: (e) => machine.publishWitness(e),
      onIrq: (_irq, raised) => {
        if (raised) this.irqRaised = true;
      },
    });
    this.bus = this.standard.bus;
    this.pic = this.standard.pic;
    this.devices = this.bus.devices;
  }

  /** Device names with their port ranges (the trace records them for the io table). */
  deviceMap(): Array<[number, number, string]> {
    const out: Array<[number, number, string]> = [];
    for (const d of this.devices) for (const [a, b] of d.ports) out.push([a, b, d.name]);
    return out;
  }

  nextEventAt(): number {
    return this.bus.nextEventAt();
  }

  advanceTo(icount: number): boolean {
    this.irqRaised = false;
    this.bus.advanceTo(icount);
    return this.irqRaised;
  }

  portIn(port: number, size: number): number {
    this.irqRaised = false;
    this.inIo = true;
    try {
      return this.bus.in(port, size as AccessSize);
    } finally {
      this.inIo = false;
      this.inRaisedIrq = this.irqRaised;
    }
  }

  portOut(port: number, size: number, value: number): boolean {
    this.irqRaised = false;
    this.inIo = true;
    try {
      this.bus.out(port, size as AccessSize, value);
    } finally {
      this.inIo = false;
    }
    // A new request, or an EOI / unmask / ELCR change that lets a waiting one through.
    return this.irqRaised || (this.bus.deviceAt(port) === this.pic && this.pic.pendingVector() >= 0);
  }

  deviceAt(port: number): string {
    return this.bus.deviceNameAt(port);
  }

  pendingVector(): number {
    return this.pic.pendingVector();
  }

  acknowledge(): number {
    return this.pic.acknowledge();
  }
}
