// Helper functions a program may call (`call N`, RFC 9669 section 4.3.1 "helper functions"): a registry of
// ids, names and argument kinds the verifier checks calls against, with implementations where they need no
// machine. The hyperupcall helpers of the seed paper's Table 2 have fixed ids here; the ones that need a VCPU
// (registers, IPIs, TLB flush, exit info, priority boost) are declared without an implementation and are
// bound later by the hypervisor with `HelperRegistry.implement`.

import { EbpfFault, type Memory } from './Memory.js';
import { fromBig, toBig } from './u64.js';

/** What a helper argument must be, as the verifier checks it. */
export type ArgSpec =
  /** any initialised value */
  | { kind: 'scalar' }
  /** pointer into a granted region; `sizeArg` is the index of the argument holding the byte count, or a fixed size */
  | { kind: 'ptr'; access: 'read' | 'write' | 'readwrite'; sizeArg?: number; size?: number }
  /** byte count for a pointer argument; must be provably <= max */
  | { kind: 'size'; max: number }
  /** the context pointer (r1 at entry) */
  | { kind: 'ctx' };

export interface HelperCall {
  /** r1..r5 as u64 */
  readonly args: readonly [bigint, bigint, bigint, bigint, bigint];
  readonly memory: Memory;
  /**
   * Instructions' worth of host work the call costs beyond its own instruction (0 unless the helper sets it):
   * both engines add it to the run's steps and check the budget after the call, so a guest pays for (and its
   * budget bounds) the copying and formatting it makes the host do.
   */
  work: number;
}

/** Bytes of helper work (copy, fill, format) that cost one instruction: a 64-byte cache line. */
export const WORK_BYTES_PER_STEP = 64;
const workOf = (bytes: number): number => Math.floor(bytes / WORK_BYTES_PER_STEP);

/** Returns r0 (taken modulo 2^64); throw EbpfFault for a run-time error. */
export type HelperImpl = (call: HelperCall) => bigint;

export interface HelperSpec {
  id: number;
  name: string;
  args: readonly ArgSpec[];
  description: string;
  impl?: HelperImpl;
}

export class HelperRegistry {
  private readonly byId = new Map<number, HelperSpec>();

  register(spec: HelperSpec): this {
    if (!Number.isInteger(spec.id) || spec.id < 0 || spec.id > 0x7fffffff) throw new RangeError(`helper id ${spec.id} out of range`);
    if (this.byId.has(spec.id)) throw new Error(`helper id ${spec.id} already registered (${this.byId.get(spec.id)!.name})`);
    if (spec.args.length > 5) throw new Error(`helper ${spec.name}: at most 5 arguments (r1-r5)`);
    spec.args.forEach((a, i) => {
      if (a.kind === 'ptr' && a.sizeArg !== undefined && spec.args[a.sizeArg]?.kind !== 'size') {
        throw new Error(`helper ${spec.name}: argument ${i + 1} names argument ${a.sizeArg + 1} as its size, which is not a size`);
      }
    });
    this.byId.set(spec.id, { ...spec });
    return this;
  }

  /** Bind an implementation to a declared helper (the hypervisor does this for the VCPU helpers). */
  implement(id: number, impl: HelperImpl): this {
    const s = this.byId.get(id);
    if (s === undefined) throw new Error(`no helper with id ${id}`);
    s.impl = impl;
    return this;
  }

  get(id: number): HelperSpec | undefined {
    return this.byId.get(id);
  }

  /** Call helper `id`; faults if it is unknown or has no implementation. */
  call(id: number, call: HelperCall): bigint {
    const s = this.byId.get(id);
    if (s === undefined) throw new EbpfFault(`call to unknown helper ${id}`);
    if (s.impl === undefined) throw new EbpfFault(`helper ${s.name} (${id}) has no implementation in this hypervisor`);
    return BigInt.asUintN(64, s.impl(call));
  }
}

/**
 * A helper call from either engine: r1-r5 as lo/hi word pairs in, r0 out in u64.OUT; returns the call's extra
 * work (HelperCall.work). A fault (no registry, unknown helper, or the helper's own) carries the calling
 * instruction's pc.
 */
export function callHelper(
  helpers: HelperRegistry | undefined, mem: Memory, id: number,
  a: number, b: number, c: number, d: number, e: number, f: number, g: number, h: number, i: number, j: number, pc: number,
): number {
  try {
    if (helpers === undefined) throw new EbpfFault(`call to helper ${id} but no helpers are available`);
    const call: HelperCall = { args: [toBig(a, b), toBig(c, d), toBig(e, f), toBig(g, h), toBig(i, j)], memory: mem, work: 0 };
    fromBig(helpers.call(id, call));
    return call.work;
  } catch (err) {
    if (err instanceof EbpfFault) err.pc = pc;
    throw err;
  }
}

/** Ids of the hyperupcall helpers (seed paper, Table 2) and the tracing helper. */
export const HelperId = {
  SEND_VCPU_IPI: 1,
  GET_VCPU_REGISTER: 2,
  SET_VCPU_REGISTER: 3,
  MEMCPY: 4,
  MEMSET: 5,
  CMPXCHG: 6,
  FLUSH_TLB_VCPU: 7,
  GET_EXIT_INFO: 8,
  PRIORITY_BOOST: 9,
  TRACE_PRINTK: 10,
} as const;
export type HelperId = (typeof HelperId)[keyof typeof HelperId];

/** Largest byte count memcpy/memset/trace_printk accept (the verifier must prove the size is at most this). */
export const MAX_HELPER_BYTES = 1 << 20;

/** memcpy(dst, src, n): copy within granted memory (overlap allowed, like memmove); returns dst. */
export const memcpyImpl: HelperImpl = (call) => {
  const { args, memory } = call;
  const n = Number(args[2]);
  if (args[2] > BigInt(MAX_HELPER_BYTES)) throw new EbpfFault(`memcpy of ${args[2]} bytes exceeds ${MAX_HELPER_BYTES}`);
  call.work = workOf(n);
  const src = memory.span(args[1], n, false);
  const dst = memory.span(args[0], n, true);
  dst.set(src.slice());
  return args[0];
};

/** memset(dst, c, n): fill with the low byte of c; returns dst. */
export const memsetImpl: HelperImpl = (call) => {
  const { args, memory } = call;
  if (args[2] > BigInt(MAX_HELPER_BYTES)) throw new EbpfFault(`memset of ${args[2]} bytes exceeds ${MAX_HELPER_BYTES}`);
  call.work = workOf(Number(args[2]));
  memory.span(args[0], Number(args[2]), true).fill(Number(args[1] & 0xffn));
  return args[0];
};

/** cmpxchg(ptr, old, new) on a u64 in granted memory: stores new if *ptr == old; returns the previous value. */
export const cmpxchgImpl: HelperImpl = ({ args, memory }) => {
  const b = memory.span(args[0], 8, true);
  const dv = new DataView(b.buffer, b.byteOffset, 8);
  const prev = dv.getBigUint64(0, true);
  if (prev === args[1]) dv.setBigUint64(0, args[2], true);
  return prev;
};

/**
 * trace_printk(fmt, fmt_len, a, b, c): format like the kernel's bpf_trace_printk (%d %i %u %x %ld %lu %lx %lld
 * %llu %llx %p %%, at most three conversions) and append the line to `log`; returns the line's length.
 */
export function tracePrintkImpl(log: string[]): HelperImpl {
  return (call) => {
    const { args, memory } = call;
    if (args[1] > 1024n) throw new EbpfFault('trace_printk format longer than 1024 bytes');
    call.work = workOf(Number(args[1]));
    const raw = memory.span(args[0], Number(args[1]), false);
    const nul = raw.indexOf(0);
    const fmt = Buffer.from(nul < 0 ? raw : raw.subarray(0, nul)).toString('latin1');
    let argi = 2;
    let failed: string | undefined;
    const line = fmt.replace(/%(%|l{0,2}[diuxp])/g, (_m, conv: string) => {
      if (conv === '%') return '%';
      if (argi > 4) {
        failed = 'trace_printk: more than three conversions';
        return '';
      }
      const v = args[argi++]!;
      const c = conv.at(-1)!;
      const wide = conv.startsWith('ll') || conv.startsWith('l') || c === 'p';
      const u = wide ? v : v & 0xffffffffn;
      if (c === 'd' || c === 'i') return (wide ? BigInt.asIntN(64, u) : BigInt.asIntN(32, u)).toString();
      if (c === 'u') return u.toString();
      return (c === 'p' ? '0x' : '') + u.toString(16);
    });
    if (failed !== undefined) throw new EbpfFault(failed);
    log.push(line);
    return BigInt(line.length);
  };
}

/**
 * The hyperupcall helper table: memcpy, memset, cmpxchg and trace_printk implemented; the VCPU helpers declared
 * (ids and argument kinds fixed) for the hypervisor to implement.
 */
export function hyperupcallHelpers(opts: { traceLog?: string[] } = {}): HelperRegistry {
  const reg = new HelperRegistry();
  const s: ArgSpec = { kind: 'scalar' };
  reg.register({ id: HelperId.SEND_VCPU_IPI, name: 'send_vcpu_ipi', args: [{ kind: 'ctx' }, s, s], description: 'send interrupt vector (arg 3) to VCPU (arg 2)' });
  reg.register({ id: HelperId.GET_VCPU_REGISTER, name: 'get_vcpu_register', args: [{ kind: 'ctx' }, s, s], description: 'read register (arg 3) of VCPU (arg 2)' });
  reg.register({ id: HelperId.SET_VCPU_REGISTER, name: 'set_vcpu_register', args: [{ kind: 'ctx' }, s, s, s], description: 'write value (arg 4) to register (arg 3) of VCPU (arg 2)' });
  reg.register({ id: HelperId.MEMCPY, name: 'memcpy', args: [{ kind: 'ptr', access: 'write', sizeArg: 2 }, { kind: 'ptr', access: 'read', sizeArg: 2 }, { kind: 'size', max: MAX_HELPER_BYTES }], description: 'copy n bytes within granted memory', impl: memcpyImpl });
  reg.register({ id: HelperId.MEMSET, name: 'memset', args: [{ kind: 'ptr', access: 'write', sizeArg: 2 }, s, { kind: 'size', max: MAX_HELPER_BYTES }], description: 'fill n bytes of granted memory', impl: memsetImpl });
  reg.register({ id: HelperId.CMPXCHG, name: 'cmpxchg', args: [{ kind: 'ptr', access: 'readwrite', size: 8 }, s, s], description: 'compare-and-swap a u64 in granted memory', impl: cmpxchgImpl });
  reg.register({ id: HelperId.FLUSH_TLB_VCPU, name: 'flush_tlb_vcpu', args: [{ kind: 'ctx' }, s], description: "flush VCPU's TLB" });
  reg.register({ id: HelperId.GET_EXIT_INFO, name: 'get_exit_info', args: [{ kind: 'ctx' }, s], description: 'field (arg 2) of the current VM exit' });
  reg.register({ id: HelperId.PRIORITY_BOOST, name: 'priority_boost', args: [{ kind: 'ctx' }, s, s], description: 'raise the VM weight (arg 2) for a time in us (arg 3)' });
  reg.register({ id: HelperId.TRACE_PRINTK, name: 'trace_printk', args: [{ kind: 'ptr', access: 'read', sizeArg: 1 }, { kind: 'size', max: 1024 }, s, s, s], description: 'append a formatted line to the trace log', impl: tracePrintkImpl(opts.traceLog ?? []) });
  return reg;
}

/**
 * The conformance suite's test helper: id 5, as the suite's `call 5` / `callx` files expect (ubpf's `unwind`
 * test helper, which returns its argument).
 */
export function conformanceHelpers(): HelperRegistry {
  return new HelperRegistry().register({ id: 5, name: 'conformance_unwind', args: [{ kind: 'scalar' }], description: 'returns r1', impl: ({ args }) => args[0] });
}
