// The live environment: the machine's devices (docs/machine.md) on one I/O bus, simulated. Device outputs
// that are functions of guest state (console, power-off, ground truth, transmitted packets) go to the
// machine; inputs (IN values, DMA, interrupt requests) reach the machine through the Environment calls,
// where the recorder logs them.

import type { Environment, Machine } from '../emulator/machine.js';
import { StopReason } from '../emulator/machine.js';
import type { AccessSize, Device, DeviceContext } from '../emulator/devices/Device.js';
import { IoBus } from '../emulator/devices/IoBus.js';
import { Pic } from '../emulator/devices/Pic.js';
import { Timer } from '../emulator/devices/Timer.js';
import { Uart } from '../emulator/devices/Uart.js';
import { BlockDevice } from '../emulator/devices/BlockDevice.js';
import { Nic } from '../emulator/devices/Nic.js';
import { PowerOff } from '../emulator/devices/PowerOff.js';
import { GroundTruthPort } from '../emulator/devices/GroundTruthPort.js';
import type { Workload } from '../hypervisor/workloads.js';

export class LiveEnvironment implements Environment {
  readonly bus = new IoBus();
  readonly pic: Pic;
  readonly devices: Device[];
  /** Packets the guest transmitted (the server workload's replies). */
  readonly transmitted: Uint8Array[] = [];
  /** Called for every DMA write (the recorder logs it). */
  onDma: (phys: number, bytes: Uint8Array) => void = () => {};
  private irqRaised = false;
  private inIo = false;
  inRaisedIrq = false;

  constructor(private readonly machine: Machine, workload: Workload) {
    const cpu = machine.cpu;
    const ctx: DeviceContext = {
      now: () => (this.inIo ? cpu.ioIcount : cpu.icount),
      cyclesPerInstruction: cpu.cyclesPerInstruction,
      raiseIrq: (irq) => {
        this.pic.raiseIrq(irq);
        this.irqRaised = true;
      },
      lowerIrq: (irq) => this.pic.lowerIrq(irq),
      dmaWrite: (phys, bytes) => {
        cpu.mmu.writePhys(phys, bytes);
        this.onDma(phys, bytes);
      },
      dmaRead: (phys, length) => cpu.mmu.readPhys(phys, length),
    };
    this.pic = new Pic();
    const disk = workload.disk.length > 0 ? workload.disk : new Uint8Array(workload.diskSectors * 512);
    this.devices = [
      this.pic,
      new Timer(ctx),
      new Uart(ctx, { onOutput: (b) => machine.publishConsole(b.slice()) }),
      new BlockDevice(ctx, disk),
      new Nic(ctx, { schedule: workload.packets, onTransmit: (b) => this.transmitted.push(b) }),
      new PowerOff((status) => machine.stop(StopReason.guestExit, status)),
      new GroundTruthPort(ctx, { onGroundTruth: (e) => machine.publishGroundTruth(e) }),
    ];
    for (const d of this.devices) this.bus.register(d);
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
    // A new request, or an EOI / unmask that lets a waiting one through.
    return this.irqRaised || (port >= 0x20 && port <= 0x21 && this.pic.pendingVector() >= 0);
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
