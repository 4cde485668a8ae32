// Serial UART, the 16550 subset of docs/machine.md (ports 0x3f8-0x3ff, IRQ 4, vector 0x24): the console.
// Register semantics follow the National Semiconductor PC16550D datasheet (tables "Register summary" and
// "Interrupt control functions"):
//
// - 0x3f8: THR (write) / RBR (read); with LCR.DLAB (bit 7) set, 0x3f8/0x3f9 are the divisor latch (stored,
//   no effect: output is instantaneous).
// - 0x3f9 IER: bit 0 received-data interrupt, bit 1 THR-empty interrupt (bits 2-3 stored, no source).
// - 0x3fa read IIR: 0x04 received data available, else 0x02 THR empty, else 0x01 none; bits 6-7 set when
//   FIFOs are enabled. Reading an IIR that reports THR empty clears that interrupt (datasheet). Write: FCR
//   (bit 0 FIFO enable, bit 1 clears the receive queue).
// - 0x3fb LCR, 0x3fc MCR (stored; loopback is not modelled), 0x3fe MSR (reads 0xb0: CTS, DSR, DCD),
//   0x3ff scratch.
// - 0x3fd LSR: bit 5 THRE and bit 6 TEMT always set (a written byte leaves at once), bit 0 when input waits,
//   bit 1 after input was lost to a full receive queue (cleared by reading LSR).
// - Every byte written to THR goes to onOutput at once; afterwards THR is empty again, so with IER bit 1 set
//   each write (and enabling IER bit 1) brings a new THR-empty interrupt, as on hardware after the shift.
// - Input: receive(bytes), or an input schedule [{icount, bytes}] delivered at its icount through
//   nextEventAt/advanceTo. The receive queue holds at most RX_LIMIT bytes (more is lost and flagged).
// - IRQ 4 is raised when an enabled interrupt condition appears and lowered when none remains.

import { StateReader, type AccessSize, type Device, type DeviceContext, type PortRange } from './Device.js';

export const UART_IRQ = 4;
export const UART_RX_LIMIT = 65536;

export const UartLsr = { dataReady: 0x01, overrun: 0x02, thre: 0x20, temt: 0x40 } as const;
export const UartIir = { none: 0x01, thre: 0x02, rxData: 0x04, fifos: 0xc0 } as const;

export interface ScheduledInput {
  icount: number;
  bytes: Uint8Array;
}

export interface UartOptions {
  /** Console output, one call per byte written. The array is reused: copy it to keep it. */
  onOutput?: (bytes: Uint8Array) => void;
  /** Input bytes arriving at given instruction counts (non-decreasing). */
  input?: readonly ScheduledInput[];
}

export class Uart implements Device {
  readonly name = 'uart';
  readonly ports: readonly PortRange[] = [[0x3f8, 0x3ff]];
  ier = 0;
  lcr = 0;
  mcr = 0;
  fcr = 0;
  scr = 0;
  dll = 0;
  dlm = 0;
  /** THR-empty interrupt pending (set when THR empties with IER bit 1, cleared by IIR read or a THR write). */
  private threPending = false;
  private overrun = false;
  private irqLine = false;
  /** Receive queue: rx[rxHead..] are waiting. */
  private rx: number[] = [];
  private rxHead = 0;
  /** Next entry of the input schedule. */
  private nextInput = 0;
  /** Bytes written to THR since construction. */
  transmitted = 0;
  private readonly outByte = new Uint8Array(1);
  private readonly onOutput: (bytes: Uint8Array) => void;
  private readonly input: readonly ScheduledInput[];

  constructor(private readonly ctx: DeviceContext, opts: UartOptions = {}) {
    this.onOutput = opts.onOutput ?? (() => {});
    this.input = opts.input ?? [];
    for (let i = 1; i < this.input.length; i++) {
      if (!(this.input[i].icount >= this.input[i - 1].icount)) throw new Error(`uart: input schedule entry ${i} is earlier than entry ${i - 1}`);
    }
  }

  get rxWaiting(): number {
    return this.rx.length - this.rxHead;
  }

  /** Bytes arrive on the serial line now. */
  receive(bytes: Uint8Array): void {
    for (const b of bytes) {
      if (this.rxWaiting >= UART_RX_LIMIT) {
        this.overrun = true;
        break;
      }
      this.rx.push(b);
    }
    this.updateIrq();
  }

  in(port: number, _size: AccessSize): number {
    const dlab = (this.lcr & 0x80) !== 0;
    switch (port) {
      case 0x3f8: {
        if (dlab) return this.dll;
        if (this.rxWaiting === 0) return 0;
        const b = this.rx[this.rxHead++];
        if (this.rxHead === this.rx.length) {
          this.rx = [];
          this.rxHead = 0;
        }
        this.updateIrq();
        return b;
      }
      case 0x3f9: return dlab ? this.dlm : this.ier;
      case 0x3fa: {
        const fifo = (this.fcr & 1) !== 0 ? UartIir.fifos : 0;
        const id = this.interruptId();
        if (id === UartIir.thre) {
          this.threPending = false;
          this.updateIrq();
        }
        return fifo | id;
      }
      case 0x3fb: return this.lcr;
      case 0x3fc: return this.mcr;
      case 0x3fd: {
        const v = UartLsr.thre | UartLsr.temt | (this.rxWaiting > 0 ? UartLsr.dataReady : 0) | (this.overrun ? UartLsr.overrun : 0);
        this.overrun = false;
        return v;
      }
      case 0x3fe: return 0xb0;
      default: return this.scr;
    }
  }

  out(port: number, _size: AccessSize, value: number): void {
    const v = value & 0xff;
    const dlab = (this.lcr & 0x80) !== 0;
    switch (port) {
      case 0x3f8:
        if (dlab) {
          this.dll = v;
          return;
        }
        this.transmitted++;
        this.outByte[0] = v;
        this.onOutput(this.outByte);
        // The byte left at once: THR is empty again, a fresh THR-empty condition.
        this.threPending = (this.ier & 2) !== 0;
        this.updateIrq();
        return;
      case 0x3f9:
        if (dlab) {
          this.dlm = v;
          return;
        }
        // Enabling the THR-empty interrupt while THR is empty (always) raises it (PC16550D).
        if ((v & 2) !== 0 && (this.ier & 2) === 0) this.threPending = true;
        if ((v & 2) === 0) this.threPending = false;
        this.ier = v & 0x0f;
        this.updateIrq();
        return;
      case 0x3fa:
        this.fcr = v & 0xc9;
        if ((v & 2) !== 0) {
          this.rx = [];
          this.rxHead = 0;
          this.updateIrq();
        }
        return;
      case 0x3fb: this.lcr = v; return;
      case 0x3fc: this.mcr = v & 0x1f; return;
      case 0x3ff: this.scr = v; return;
      default: return; // LSR and MSR writes: factory test only
    }
  }

  nextEventAt(): number {
    return this.nextInput < this.input.length ? this.input[this.nextInput].icount : Infinity;
  }

  advanceTo(icount: number): void {
    while (this.nextInput < this.input.length && this.input[this.nextInput].icount <= icount) {
      this.receive(this.input[this.nextInput++].bytes);
    }
  }

  private interruptId(): number {
    if ((this.ier & 1) !== 0 && this.rxWaiting > 0) return UartIir.rxData;
    if ((this.ier & 2) !== 0 && this.threPending) return UartIir.thre;
    return UartIir.none;
  }

  private updateIrq(): void {
    const want = this.interruptId() !== UartIir.none;
    if (want === this.irqLine) return;
    this.irqLine = want;
    if (want) this.ctx.raiseIrq(UART_IRQ);
    else this.ctx.lowerIrq(UART_IRQ);
  }

  saveState(): unknown {
    return {
      ier: this.ier, lcr: this.lcr, mcr: this.mcr, fcr: this.fcr, scr: this.scr, dll: this.dll, dlm: this.dlm,
      threPending: this.threPending, overrun: this.overrun, irqLine: this.irqLine,
      rx: Uint8Array.from(this.rx.slice(this.rxHead)), nextInput: this.nextInput, transmitted: this.transmitted,
    };
  }

  loadState(state: unknown): void {
    const r = new StateReader(this.name, state);
    this.ier = r.uint('ier', 0xff);
    this.lcr = r.uint('lcr', 0xff);
    this.mcr = r.uint('mcr', 0xff);
    this.fcr = r.uint('fcr', 0xff);
    this.scr = r.uint('scr', 0xff);
    this.dll = r.uint('dll', 0xff);
    this.dlm = r.uint('dlm', 0xff);
    this.threPending = r.bool('threPending');
    this.overrun = r.bool('overrun');
    this.irqLine = r.bool('irqLine');
    this.rx = Array.from(r.bytes('rx'));
    this.rxHead = 0;
    this.nextInput = r.uint('nextInput', this.input.length);
    this.transmitted = r.uint('transmitted');
  }
}
