// The machine's device set as docs/machine.md lays it out, on one bus: the PC subset (8259A pair 0x20/0xa0
// with ELCR 0x4d0, 8254 PIT 0x40, port 0x61, CMOS RTC 0x70, POST port 0x80), ATA 0x1f0, UART 0x3f8,
// power-off 0x500, ground truth 0x510, the kernel-module witness 0x518 (only when asked for) and the NIC 0xc000, sharing one DeviceContext whose interrupt
// requests go to the PIC. The live Environment (src/hypervisor/LiveEnvironment.ts) wraps it; it owns the
// clock, guest memory and what happens on power-off.

import type { DeviceContext } from './Device.js';
import { IoBus } from './IoBus.js';
import { Pic } from './Pic.js';
import { Pit } from './Pit.js';
import { SystemControlPort } from './SystemControlPort.js';
import { Rtc } from './Rtc.js';
import { PostCode } from './PostCode.js';
import { Uart, type ScheduledInput } from './Uart.js';
import { BlockDevice } from './BlockDevice.js';
import { Nic, type ScheduledPacket } from './Nic.js';
import { PowerOff } from './PowerOff.js';
import { GroundTruthPort } from './GroundTruthPort.js';
import { WitnessPort } from './WitnessPort.js';
import type { GroundTruthEvent, WitnessEvent } from '../events.js';

export interface StandardDevicesOptions {
  /** Current icount (at an IN/OUT: that instruction's icount). */
  now(): number;
  cyclesPerInstruction: number;
  /** Guest TSC frequency (Hz): with cyclesPerInstruction it fixes the guest time the PIT and RTC count. */
  tscHz: number;
  dmaWrite(phys: number, bytes: Uint8Array): void;
  dmaRead(phys: number, length: number): Uint8Array;
  /** Disk image (a whole number of 512-byte sectors; not modified). Default: no sectors. */
  disk?: Uint8Array;
  packets?: readonly ScheduledPacket[];
  serialInput?: readonly ScheduledInput[];
  onConsole?(bytes: Uint8Array): void;
  onTransmit?(bytes: Uint8Array): void;
  onPowerOff?(status: number): void;
  onGroundTruth?(e: GroundTruthEvent): void;
  onGroundTruthError?(message: string): void;
  /** The kernel-module witness port (0x518): only on machines whose guest loads the module (a Linux workload
   *  with witness on), so that every other machine's device set, io dictionary and checkpoints stay as they were. */
  witness?: boolean;
  onWitness?(e: WitnessEvent): void;
  /** Every interrupt request change (raised = true) before it reaches the PIC, e.g. for a recorder. */
  onIrq?(irq: number, raised: boolean): void;
}

export class StandardDevices {
  readonly bus = new IoBus();
  readonly pic = new Pic();
  readonly ctx: DeviceContext;
  readonly pit: Pit;
  readonly port61: SystemControlPort;
  readonly rtc: Rtc;
  readonly post: PostCode;
  readonly uart: Uart;
  readonly ata: BlockDevice;
  readonly nic: Nic;
  readonly powerOff: PowerOff;
  readonly groundTruth: GroundTruthPort;
  readonly witness: WitnessPort | null;

  constructor(o: StandardDevicesOptions) {
    const pic = this.pic;
    const onIrq = o.onIrq;
    this.ctx = {
      now: o.now,
      cyclesPerInstruction: o.cyclesPerInstruction,
      tscHz: o.tscHz,
      raiseIrq: onIrq === undefined ? (irq) => pic.raiseIrq(irq) : (irq) => { onIrq(irq, true); pic.raiseIrq(irq); },
      lowerIrq: onIrq === undefined ? (irq) => pic.lowerIrq(irq) : (irq) => { onIrq(irq, false); pic.lowerIrq(irq); },
      dmaWrite: o.dmaWrite,
      dmaRead: o.dmaRead,
    };
    this.pit = new Pit(this.ctx);
    this.port61 = new SystemControlPort(this.pit);
    this.rtc = new Rtc(this.ctx);
    this.post = new PostCode();
    this.uart = new Uart(this.ctx, { onOutput: o.onConsole, input: o.serialInput });
    this.ata = new BlockDevice(this.ctx, o.disk ?? new Uint8Array(0));
    this.nic = new Nic(this.ctx, { schedule: o.packets, onTransmit: o.onTransmit });
    this.powerOff = new PowerOff(o.onPowerOff);
    this.groundTruth = new GroundTruthPort(this.ctx, { onGroundTruth: o.onGroundTruth, onError: o.onGroundTruthError });
    this.witness = o.witness === true ? new WitnessPort(this.ctx, { onWitness: o.onWitness }) : null;
    for (const d of [pic, this.pit, this.port61, this.rtc, this.post, this.ata, this.uart, this.powerOff, this.groundTruth, this.nic]) {
      this.bus.register(d);
    }
    if (this.witness !== null) this.bus.register(this.witness);
  }

  /** Earliest device event (icount), Infinity if none. */
  nextEventAt(): number {
    return this.bus.nextEventAt();
  }

  /** Run device events due at or before icount. */
  advanceTo(icount: number): void {
    this.bus.advanceTo(icount);
  }

  saveState(): Record<string, unknown> {
    return this.bus.saveState();
  }

  loadState(state: unknown): void {
    this.bus.loadState(state);
  }
}
