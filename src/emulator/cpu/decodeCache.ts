// Decode once: guest code is decoded by iced-x86 the first time it is fetched, into blocks of Ops (a
// block ends at a control transfer, an instruction that can change the mode or need the outer loop, the
// end of a page, or 64 instructions). Blocks are cached per physical page, so two processes mapping the
// same code share it and the same linear address in two address spaces never aliases. A write to a page
// holding decoded code (guest store, DMA, hypervisor patch) drops that page's blocks (v86's TLB_HAS_CODE).

import { Decoder, DecoderError, DecoderOptions, FlowControl, Instruction } from 'iced-x86';
import type { Cpu } from './Cpu.js';
import { Op } from './Op.js';
import { PAGE_SHIFT, PAGE_SIZE } from './Mmu.js';
import { Vector } from './faults.js';
import { decodeInstruction, undefinedOp } from './ops/index.js';
import { eaNone } from './ea.js';
import type { JitFn } from './jit.js';

/** A probe: called with the CPU and the exact instruction count before the probed instruction executes. */
export type Probe = (cpu: Cpu, icount: number) => void;

export interface Block {
  ops: Op[];
  /** Address after the last instruction (the fall-through RIP). */
  next: number;
  /** Physical address of the first byte. */
  phys: number;
  /** Times the whole block ran interpreted; at JIT_THRESHOLD it is compiled. */
  hits: number;
  /** The compiled block (jit.ts), once hot. */
  jit: JitFn | null;
  /** Ends with an instruction after which the run loop must look at events (system, REP, #UD). */
  attention: boolean;
  /** Decoded from a hypervisor-owned page: its instructions are the VMM's, not the guest's, and do not retire. */
  hypervisor: boolean;
}

const MAX_BLOCK = 64;
/** Direct-mapped RIP -> block shortcut (a hit skips the TLB lookup and the per-page table). */
const FAST_BITS = 12;
const FAST_MASK = (1 << FAST_BITS) - 1;
/**
 * Bytes handed to iced-x86 per block: iced copies its input, so a whole page per block made decoding
 * random code ~10x slower. A block that needs more simply ends at the window and the next one continues.
 */
const WINDOW = 512;
const TWO32 = 4294967296;

function tooLong(cpu: Cpu): void {
  throw cpu.fault.set(Vector.GP, 0);
}

/** Op handler that stops the block before this op (its code was overwritten while the block ran). */
function bail(cpu: Cpu): void {
  throw cpu.fault.set(Vector.RESTART, 0);
}

export class DecodeCache {
  private readonly cpu: Cpu;
  /** Per physical page: blocks by offset. */
  private readonly pages: Array<Array<Block | undefined> | undefined> = [];
  /** Physical page -> pages whose blocks end in it (an instruction spanning into it). */
  private readonly spannedBy = new Map<number, number[]>();
  private readonly instr = new Instruction();
  /** Decoded instructions so far (statistics). */
  decoded = 0;
  blocksBuilt = 0;
  invalidations = 0;

  constructor(cpu: Cpu) {
    this.cpu = cpu;
  }

  private readonly fastRip = new Float64Array(1 << FAST_BITS).fill(NaN);
  private readonly fastEpoch = new Int32Array(1 << FAST_BITS);
  private readonly fastBlock: Array<Block | null> = new Array<Block | null>(1 << FAST_BITS).fill(null);
  /** Bumped when blocks are dropped, so shortcuts to them die with them. */
  private fastGen = 0;

  blockAt(rip: number): Block {
    const f = (rip & FAST_MASK);
    const epoch = (this.cpu.mmu.epoch + this.fastGen) | 0;
    if (this.fastRip[f] === rip && this.fastEpoch[f] === epoch) return this.fastBlock[f] as Block;
    const b = this.lookup(rip);
    this.fastRip[f] = rip;
    this.fastEpoch[f] = epoch;
    this.fastBlock[f] = b;
    return b;
  }

  private lookup(rip: number): Block {
    const lo = rip % TWO32 | 0;
    const hi = Math.floor(rip / TWO32) | 0;
    const pa = this.cpu.mmu.translateFetch(lo, hi);
    const table = this.pages[pa >>> PAGE_SHIFT];
    if (table !== undefined) {
      const b = table[pa & (PAGE_SIZE - 1)];
      if (b !== undefined) return b;
    }
    return this.build(rip, lo, hi, pa);
  }

  /** Drop every block decoded from physical page `page` (and blocks of the page before spanning into it). */
  invalidatePage(page: number): void {
    this.invalidations++;
    // Compiled blocks check this after each store to stop before running code that changed under them.
    this.cpu.codeGen++;
    this.dropTable(page);
    const from = this.spannedBy.get(page);
    if (from !== undefined) {
      this.spannedBy.delete(page);
      for (const p of from) this.dropTable(p);
    }
  }

  /** Drop everything (after a checkpoint restore, for example). */
  clear(): void {
    for (let p = 0; p < this.pages.length; p++) if (this.pages[p] !== undefined) this.dropTable(p);
  }

  private dropTable(page: number): void {
    const table = this.pages[page];
    this.fastGen = (this.fastGen + 1) | 0;
    this.pages[page] = undefined;
    this.cpu.mmu.codePages[page] = 0;
    if (table === undefined) return;
    // A block of this page may be running right now: make its remaining ops stop the block.
    for (const b of table) if (b !== undefined) for (const op of b.ops) op.fn = bail;
  }

  private build(rip: number, lo: number, hi: number, pa: number): Block {
    const mmu = this.cpu.mmu;
    const restOfPage = PAGE_SIZE - (pa & (PAGE_SIZE - 1));
    // Near the end of the page take all of it, so a window cut never splits an instruction across pages.
    const pageEnd = restOfPage <= WINDOW + 15;
    const inPage = pageEnd ? restOfPage : WINDOW;
    // Window: the rest of this page plus up to 15 bytes of the next page if it is mapped executable
    // (an instruction may span the boundary; we only fault on the next page if one really does).
    let window: Uint8Array;
    let nextPa = -1;
    if (!pageEnd) {
      window = mmu.u8.slice(pa, pa + inPage + 15);
    } else {
      const nlo = (lo + inPage) | 0;
      const nhi = (nlo >>> 0) < (lo >>> 0) ? (hi + 1) | 0 : hi;
      try {
        nextPa = mmu.translateFetch(nlo, nhi);
      } catch (e) {
        if (e !== this.cpu.fault) throw e;
        nextPa = -1;
      }
      if (nextPa >= 0) {
        window = new Uint8Array(inPage + 15);
        window.set(mmu.u8.subarray(pa, pa + inPage), 0);
        window.set(mmu.u8.subarray(nextPa, nextPa + 15), inPage);
      } else {
        window = mmu.u8.slice(pa, pa + inPage);
      }
    }
    const decoder = new Decoder(64, window, DecoderOptions.None);
    decoder.ip = BigInt.asUintN(64, BigInt(rip));
    const ins = this.instr;
    const ops: Op[] = [];
    let offset = 0;
    let spans = false;
    let attention = false;
    try {
      while (ops.length < MAX_BLOCK && offset < inPage) {
        decoder.decodeOut(ins);
        const len = ins.length;
        if (ins.isInvalid) {
          if (decoder.lastError === DecoderError.NoMoreBytes) {
            if (ops.length > 0) break;
            // The first instruction runs off into an unmapped page: fault on that page (SDM: #PF on fetch).
            const nlo = (lo + inPage) | 0;
            mmu.translateFetch(nlo, (nlo >>> 0) < (lo >>> 0) ? (hi + 1) | 0 : hi);
          }
          const bad = this.makeUd(rip + offset, Math.max(len, 1), ops.length);
          // More than 15 bytes (prefixes included) is #GP(0), not #UD (SDM vol. 2 section 2.3.11).
          if (len >= 15 && decoder.lastError === DecoderError.InvalidInstruction) {
            bad.fn = tooLong;
            bad.name = '(too long)';
          }
          ops.push(bad);
          attention = true;
          break;
        }
        const op = new Op(undefinedOp, eaNone);
        op.addr = rip + offset;
        op.len = len;
        op.next = op.addr + len;
        op.nextLo = op.next % TWO32 | 0;
        op.nextHi = Math.floor(op.next / TWO32) | 0;
        op.idx = ops.length;
        op.code = ins.code;
        const terminates = decodeInstruction(ins, op);
        if (this.probes !== null) this.attachProbe(op);
        ops.push(op);
        this.decoded++;
        offset += len;
        if (offset > inPage) spans = true;
        if (terminates) {
          attention = true;
          break;
        }
        if (ins.flowControl !== FlowControl.Next) break;
      }
    } finally {
      decoder.free();
    }
    const hypervisor = pa >= this.cpu.hypervisorFrom || this.cpu.hypervisorPages.has(pa >>> PAGE_SHIFT);
    // Its instructions do not retire: each one's icount is the block's start (eventIcount = icount + idx).
    if (hypervisor) for (const op of ops) op.idx = 0;
    const block: Block = { ops, next: rip + offset, phys: pa, hits: 0, jit: null, attention, hypervisor };
    const page = pa >>> PAGE_SHIFT;
    let table = this.pages[page];
    if (table === undefined) {
      table = new Array<Block | undefined>(PAGE_SIZE);
      this.pages[page] = table;
    }
    table[pa & (PAGE_SIZE - 1)] = block;
    mmu.markCode(page);
    if (spans && nextPa >= 0) {
      // Writes to the page the last instruction runs into must drop this page's blocks too.
      const second = nextPa >>> PAGE_SHIFT;
      mmu.markCode(second);
      const list = this.spannedBy.get(second);
      if (list === undefined) this.spannedBy.set(second, [page]);
      else if (!list.includes(page)) list.push(page);
    }
    this.blocksBuilt++;
    return block;
  }

  /**
   * Probes: functions the emulator calls just before the instruction at a linear address executes, seen by
   * the VMM only (introspection). A probe is wrapped around the decoded Op, so it costs nothing elsewhere,
   * changes no block boundary (interrupts are taken at the same instructions with or without probes), retires
   * nothing and causes no exit: the guest cannot tell. Adding or removing one drops every decoded block.
   */
  private probes: Map<number, Probe> | null = null;

  setProbe(addr: number, probe: Probe | null): void {
    if (probe === null) this.probes?.delete(addr);
    else (this.probes ??= new Map()).set(addr, probe);
    if (this.probes?.size === 0) this.probes = null;
    this.clear();
  }

  private attachProbe(op: Op): void {
    const probe = this.probes!.get(op.addr);
    if (probe === undefined) return;
    const inner = op.fn;
    op.name = `probe:${op.name}`;
    op.fn = (cpu, o) => {
      probe(cpu, cpu.icount + o.idx);
      inner(cpu, o);
    };
  }

  private makeUd(addr: number, len: number, idx: number): Op {
    const op = new Op(undefinedOp, eaNone);
    op.addr = addr;
    op.len = len;
    op.next = addr + len;
    op.idx = idx;
    op.name = '(invalid)';
    return op;
  }
}
