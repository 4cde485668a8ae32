// Every named workload boots the guest kernel in the emulated machine (the session's machine with the live
// devices, as `trace record` runs it) and runs to completion with its
// expected console output; the ground-truth stream is consistent; a faulting program is killed while the
// system goes on. Result lines are checked against oracles computed here independently of the guest
// (Dhrystone's against the "should be" values of the original source).
import { describe, expect, it } from 'vitest';
import { GroundTruthType as GT } from '../src/emulator/events.js';
import type { GroundTruthEvent } from '../src/emulator/events.js';
import { assemble } from '../src/replay/Session.js';
import { LiveEnvironment } from '../src/replay/LiveEnvironment.js';
import { diskFileBytes, fnv1a, getWorkload, xorshift32, type Workload } from '../src/hypervisor/workloads.js';

// ---------------------------------------------------------------------------------------------------------
// Ground-truth consistency

type GtEvent = Omit<GroundTruthEvent, 'kind' | 'icount'>;

interface Proc { cr3: number; kthread: boolean; threads: Set<number>; name: string }

/** Replays the ground-truth stream against a model of the process table; returns the problems found. */
function checkGroundTruth(events: GtEvent[]): { problems: string[]; live: Map<number, Proc>; stats: Record<string, number> } {
  const problems: string[] = [];
  const procs = new Map<number, Proc>();
  const threads = new Map<number, { pid: number; lo: number; hi: number }>();
  let current = -1;
  let kernelCr3 = -1;
  const seenPids = new Map<number, number>();
  const seenCr3 = new Map<number, number>();
  let maxLive = 0;
  const bad = (i: number, msg: string) => { if (problems.length < 20) problems.push(`event ${i} (${JSON.stringify(events[i])}): ${msg}`); };
  const checkCr3 = (i: number) => {
    const owners = new Map<number, number>();
    for (const [pid, p] of procs) {
      if (p.kthread) continue;
      if (p.cr3 === kernelCr3) bad(i, `process ${pid} uses the kernel's CR3`);
      const other = owners.get(p.cr3);
      if (other !== undefined) bad(i, `live processes ${other} and ${pid} share CR3 0x${p.cr3.toString(16)}`);
      owners.set(p.cr3, pid);
    }
  };
  events.forEach((e, i) => {
    const p = procs.get(e.pid);
    switch (e.type) {
      case GT.procCreate: {
        if (p) bad(i, `pid ${e.pid} created while alive`);
        const kthread = (e.a0 & 1) === 1;
        if (kthread) {
          if (kernelCr3 === -1) kernelCr3 = e.cr3;
          else if (e.cr3 !== kernelCr3) bad(i, 'kernel threads with different CR3s');
        }
        procs.set(e.pid, { cr3: e.cr3, kthread, threads: new Set(), name: e.name });
        seenPids.set(e.pid, (seenPids.get(e.pid) ?? 0) + 1);
        if (!kthread) { seenCr3.set(e.cr3, (seenCr3.get(e.cr3) ?? 0) + 1); checkCr3(i); }
        maxLive = Math.max(maxLive, procs.size);
        break;
      }
      case GT.threadCreate:
        if (!p) { bad(i, 'thread of a process that does not exist'); break; }
        if (threads.has(e.tid)) bad(i, `tid ${e.tid} created while alive`);
        threads.set(e.tid, { pid: e.pid, lo: e.a0, hi: e.a1 });
        p.threads.add(e.tid);
        break;
      case GT.exec: {
        const t = threads.get(e.tid);
        if (!p || !t || t.pid !== e.pid) { bad(i, 'exec by an unknown thread'); break; }
        if (p.threads.size !== 1) bad(i, 'exec in a multi-threaded process');
        p.cr3 = e.cr3;
        p.name = e.name;
        t.lo = e.a0;
        t.hi = e.a1;
        seenCr3.set(e.cr3, (seenCr3.get(e.cr3) ?? 0) + 1);
        checkCr3(i);
        break;
      }
      case GT.contextSwitch: {
        const t = threads.get(e.tid);
        if (!p || !t || t.pid !== e.pid) { bad(i, 'switch to a thread that was never created (or has exited)'); break; }
        if (e.cr3 !== p.cr3) bad(i, `switch with CR3 0x${e.cr3.toString(16)}, process has 0x${p.cr3.toString(16)}`);
        if (e.a0 !== t.lo || e.a1 !== t.hi) bad(i, 'switch reports a different user stack than the thread was created with');
        if (e.tid === current) bad(i, 'switch to the thread already running');
        current = e.tid;
        break;
      }
      case GT.syscall:
        if (e.tid !== current) bad(i, `syscall by tid ${e.tid} while tid ${current} runs`);
        if (!p || p.kthread) bad(i, 'syscall from a kernel thread or unknown process');
        break;
      case GT.threadExit: {
        const t = threads.get(e.tid);
        if (!p || !t || t.pid !== e.pid) { bad(i, 'exit of a thread that does not exist'); break; }
        if (e.tid !== current) bad(i, 'a thread exits while another runs');
        threads.delete(e.tid);
        p.threads.delete(e.tid);
        break;
      }
      case GT.procExit:
        if (!p) { bad(i, 'exit of a process that does not exist'); break; }
        if (p.threads.size) bad(i, 'process exits with live threads');
        procs.delete(e.pid);
        break;
      default:
        bad(i, `unknown event type ${e.type}`);
    }
  });
  let reusedPids = 0;
  for (const n of seenPids.values()) if (n > 1) reusedPids++;
  let reusedCr3 = 0;
  for (const n of seenCr3.values()) if (n > 1) reusedCr3++;
  return { problems, live: procs, stats: { maxLive, reusedPids, reusedCr3, events: events.length } };
}

// ---------------------------------------------------------------------------------------------------------
// Oracles

const hex8 = (n: number) => (n >>> 0).toString(16).padStart(8, '0');
const enc = new TextEncoder();

function pipeHash(n: number): string {
  let h = 0x811c9dc5;
  const buf = new Uint8Array(512);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < 512; k++) buf[k] = (i + k) & 0xff;
    h = fnv1a(buf, h);
  }
  return hex8(h);
}

function shellLine(lines: number, seed: number, mod: number): string {
  let s = seed >>> 0 || 1;
  const vals: string[] = [];
  for (let i = 0; i < lines; i++) { s = xorshift32(s); vals.push(String(s % mod)); }
  // LC_ALL=C sort: byte order
  vals.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const uniq = vals.filter((v, i) => i === 0 || v !== vals[i - 1]);
  const text = uniq.map((v) => v + '\n').join('');
  return `wc: ${uniq.length} lines ${uniq.length} words ${text.length} bytes fnv ${hex8(fnv1a(enc.encode(text)))}`;
}

function collatzTotal(n: number): number {
  let total = 0;
  for (let i = 1; i <= n; i++) { let x = i; while (x !== 1) { x = x & 1 ? 3 * x + 1 : x / 2; total++; } }
  return total;
}

/** memcached semantics (protocol.txt) over the schedule: the expected server line. */
function serverLine(w: Workload): string {
  const table = new Map<string, { flags: number; data: Uint8Array }>();
  let sets = 0, gets = 0, hits = 0, dels = 0, requests = 0;
  let digest = 0x811c9dc5;
  const dec = new TextDecoder('latin1');
  for (const p of w.packets) {
    const text = dec.decode(p.bytes.subarray(8));
    const [line, ...rest] = text.split('\r\n');
    const words = line!.split(' ');
    if (words[0] === 'quit') break;
    requests++;
    let resp: string;
    if (words[0] === 'set') {
      sets++;
      table.set(words[1]!, { flags: Number(words[2]), data: enc.encode(rest[0]!.slice(0, Number(words[4]))) });
      resp = 'STORED\r\n';
    } else if (words[0] === 'get') {
      gets++;
      const it = table.get(words[1]!);
      if (it) { hits++; resp = `VALUE ${words[1]} ${it.flags} ${it.data.length}\r\n${dec.decode(it.data)}\r\nEND\r\n`; }
      else resp = 'END\r\n';
    } else {
      dels++;
      resp = table.delete(words[1]!) ? 'DELETED\r\n' : 'NOT_FOUND\r\n';
    }
    const frame = new Uint8Array([p.bytes[0]!, p.bytes[1]!, 0, 0, 0, 1, 0, 0, ...enc.encode(resp)]);
    digest = fnv1a(frame, digest);
  }
  return `server: ${requests} requests, ${sets} sets, ${gets} gets, ${hits} hits, ${dels} deletes, 0 errors, digest ${hex8(digest)}`;
}

/** The `worker` program's arithmetic (guest/user/prog/worker.c), for every worker the mixed script starts. */
function workerLines(script: string): string[] {
  const mix = (s0: number, n: number) => { let s = s0 >>> 0; for (let i = 0; i < n; i++) s = (xorshift32(s) + i) >>> 0; return s; };
  const out: string[] = [];
  for (const line of script.split('\n')) {
    const m = /^bg worker (.*)$/.exec(line.trim());
    if (!m) continue;
    const args = m[1]!.split(/\s+/);
    const opt = (c: string, d: number) => { const i = args.indexOf(`-${c}`); return i >= 0 ? Number(args[i + 1]) : d; };
    const id = opt('i', 0), rounds = opt('r', 10), fe = opt('f', 0), nthreads = opt('t', 0), work = opt('c', 200);
    let sum = (id + 1) >>> 0, children = 0, threads = 0;
    for (let r = 1; r <= rounds; r++) {
      sum = mix(sum, work);
      if (fe && r % fe === 0) {
        const status = r % (2 * fe) === 0 ? 0 : mix(sum, work) & 0x3f;
        sum = (sum + status) >>> 0;
        children++;
      }
      if (nthreads && r % 3 === 0) {
        const nt = Math.min(nthreads, 8);
        let ts = 0;
        for (let k = 0; k < nt; k++) ts = (ts + mix((sum + k) >>> 0, work)) >>> 0;
        sum = (sum ^ ts) >>> 0;
        threads += nt;
      }
    }
    out.push(`worker ${id}: ${rounds} rounds, ${children} children, ${threads} threads, sum ${hex8(sum)}`);
  }
  return out;
}

/** Lines the console must contain for workload w, from oracles. */
function oracleLines(w: Workload): string[] {
  const p = (k: string) => Number(w.params[k]);
  switch (w.name) {
    case 'pipe': return [`pipe: ${p('n')} x 512 bytes hash ${pipeHash(p('n'))}, ${p('m')} round trips value ${2 * p('m')}`];
    case 'shell': return Array(p('reps')).fill(shellLine(p('lines'), w.seed, p('mod')));
    case 'threads': return [`threads: ${p('t')} threads with ${p('stack')}-byte stacks, ${p('n')} items, collatz total ${collatzTotal(p('n'))}`];
    case 'fcopy': {
      const h = hex8(fnv1a(diskFileBytes(w.seed, 0, p('size'))));
      return [`fcopy: ${p('reps')} copies of ${p('size')} bytes with a ${p('buf')}-byte buffer, src fnv ${h}, dst ${p('size')} bytes fnv ${h}`];
    }
    case 'server': case 'hyperupcall-server': return [serverLine(w)];
    case 'mixed': return workerLines(w.script);
    case 'dhrystone': return [`dhry: ${'Arr_2_Glob[8][7]:'.padEnd(24)} ${p('runs') + 10} (should be ${p('runs') + 10})`];
    default: return [];
  }
}

// ---------------------------------------------------------------------------------------------------------

describe('the ground-truth checker', () => {
  const ev = (type: number, pid: number, tid: number, cr3: number, a0 = 0, a1 = 0, name = 'p'): GtEvent =>
    ({ type, pid, tid, ppid: 0, cr3, a0, a1, a2: 0, name });
  const good = (): GtEvent[] => [
    ev(GT.procCreate, 0, 0, 0x1000, 1), ev(GT.threadCreate, 0, 0, 0x1000),
    ev(GT.procCreate, 1, 1, 0x5000), ev(GT.threadCreate, 1, 1, 0x5000, 0x7000, 0x8000),
    ev(GT.contextSwitch, 1, 1, 0x5000, 0x7000, 0x8000), ev(GT.syscall, 1, 1, 0x5000, 39),
    ev(GT.procCreate, 2, 2, 0x6000), ev(GT.threadCreate, 2, 2, 0x6000, 0x7000, 0x8000),
    ev(GT.contextSwitch, 2, 2, 0x6000, 0x7000, 0x8000), ev(GT.threadExit, 2, 2, 0x6000), ev(GT.procExit, 2, 2, 0x6000),
    ev(GT.contextSwitch, 1, 1, 0x5000, 0x7000, 0x8000),
  ];
  it('accepts a consistent stream', () => expect(checkGroundTruth(good()).problems).toEqual([]));
  it('finds a thread that runs without being created', () => {
    const g = good();
    g.splice(7, 1);
    expect(checkGroundTruth(g).problems.join()).toMatch(/never created/);
  });
  it('finds two live processes with one CR3', () => {
    const g = good();
    g[6] = { ...g[6]!, cr3: 0x5000 };
    expect(checkGroundTruth(g).problems.join()).toMatch(/share CR3/);
  });
  it('finds an exit without a creation and a syscall from a thread that is not running', () => {
    const g = good();
    g.push(ev(GT.procExit, 9, 9, 0x9000), ev(GT.syscall, 2, 2, 0x6000, 1));
    const p = checkGroundTruth(g).problems.join();
    expect(p).toMatch(/does not exist/);
    expect(p).toMatch(/syscall by tid 2 while tid 1 runs/);
  });
  it('finds a switch whose stack differs from the thread\'s', () => {
    const g = good();
    g[4] = { ...g[4]!, a1: 0x9000 };
    expect(checkGroundTruth(g).problems.join()).toMatch(/different user stack/);
  });
});

interface GuestRun { reason: string; status: number; console: string; icount: number; exits: number; groundTruth: GtEvent[] }
type Runner = (w: Workload) => GuestRun;

/** The product path: the session's machine (kvm-default exits, modern cost model) with the live devices. */
function runOnMachine(w: Workload): GuestRun {
  const { machine } = assemble({ workload: w, exitPreset: 'kvm-default', costModel: 'modern', maxInstructions: 200_000_000 },
    (m, wl) => new LiveEnvironment(m, wl));
  const groundTruth: GtEvent[] = [];
  machine.subscribe({ onGroundTruth: ({ kind: _k, icount: _i, ...e }) => groundTruth.push(e) });
  const r = machine.run();
  return { reason: r.reason, status: r.status, console: machine.consoleText(), icount: r.icount, exits: r.exits, groundTruth };
}

const runGuestWorkload: Runner = runOnMachine;
const suite = describe;

const runs = new Map<string, GuestRun>();
function run(spec: string): GuestRun {
  let r = runs.get(spec);
  if (!r) { r = runGuestWorkload(getWorkload(spec)); runs.set(spec, r); }
  return r;
}

const NAMES = ['syscall', 'pipe', 'spawn', 'execl', 'fcopy', 'fcopy:buf=256', 'fcopy:buf=4096', 'shell', 'dhrystone', 'threads', 'server', 'mixed', 'faults', 'hyperupcall-server', 'hyperupcall-guard'];
// More workloads (names or description files) to put through the same checks, comma-separated.
const EXTRA = (process.env.VMTRACE_GUEST_EXTRA ?? '').split(',').filter((x) => x);

suite('guest workloads', () => {
  for (const name of [...NAMES, ...EXTRA]) {
    it(`${name} runs to completion with the expected output and consistent ground truth`, () => {
      const w = getWorkload(name);
      const r = run(name);
      expect(r.reason, r.console.slice(-2000)).toBe('guest-exit');
      expect(r.status, r.console.slice(-2000)).toBe(0);
      for (const e of w.expect) expect(r.console).toContain(e);
      for (const line of oracleLines(w)) expect(r.console).toContain(line);
      expect(r.console).toContain('kernel: power-off status 0,');
      const { problems, live, stats } = checkGroundTruth(r.groundTruth);
      expect(problems).toEqual([]);
      // At power-off only idle, init and the kernel threads remain.
      expect([...live.entries()].filter(([pid, p]) => !p.kthread && pid !== 1)).toEqual([]);
      expect(live.get(1)?.name).toBe('init');
      console.log(`${name}: ${r.icount} instructions, ${r.exits} exits, ${stats.events} ground-truth events, ` +
        `max ${stats.maxLive} live processes, ${stats.reusedPids} pids and ${stats.reusedCr3} CR3s reused`);
    });
  }

  it('dhrystone prints the values of the original program', () => {
    const r = run('dhrystone');
    const checks = [...r.console.matchAll(/^dhry: (\S+)\s+(-?\d+) \(should be (-?\d+)\)$/gm)];
    expect(checks.length).toBe(16);
    for (const m of checks) expect(m[2], m[1]).toBe(m[3]);
    // The "should be" values of Dhrystone 2.1's own output (Weicker 1988)
    const want: Record<string, number> = { 'Int_Glob:': 5, 'Bool_Glob:': 1, 'Ch_1_Glob:': 65, 'Ch_2_Glob:': 66, 'Arr_1_Glob[8]:': 7,
      'Ptr_Glob->Int_Comp:': 17, 'Next->Int_Comp:': 18, 'Next->Enum_Comp:': 1, 'Int_1_Loc:': 5, 'Int_2_Loc:': 13, 'Int_3_Loc:': 7, 'Enum_Loc:': 1 };
    for (const m of checks) if (m[1]! in want) expect(Number(m[2]), m[1]).toBe(want[m[1]!]);
  });

  it('mixed keeps a few dozen processes alive at once', () => {
    const { stats } = checkGroundTruth(run('mixed').groundTruth);
    expect(stats.maxLive).toBeGreaterThanOrEqual(33);
    expect(stats.maxLive).toBeLessThanOrEqual(60);
  });

  it('spawn reuses pids and page-table roots (the confounders of seed 004 6.1)', () => {
    const { stats } = checkGroundTruth(run('spawn').groundTruth);
    expect(stats.reusedPids).toBeGreaterThan(0);
    expect(stats.reusedCr3).toBeGreaterThan(0);
  });

  it('threads run on stacks larger than two pages, each its own', () => {
    const gt = run('threads').groundTruth;
    const stacks = gt.filter((e) => e.type === GT.threadCreate && e.name === 'threads' && e.tid !== e.pid);
    expect(stacks.length).toBe(Number(getWorkload('threads').params.t));
    for (const e of stacks) expect(e.a1 - e.a0).toBeGreaterThan(2 * 4096);
    expect(new Set(stacks.map((e) => e.a0)).size).toBe(stacks.length);
    // every thread actually ran
    for (const e of stacks) expect(gt.some((s) => s.type === GT.contextSwitch && s.tid === e.tid)).toBe(true);
  });

  it('kills faulting programs (GT_PROC_EXIT how=2) and goes on', () => {
    const r = run('faults');
    const kills = r.groundTruth.filter((e) => e.type === GT.procExit && e.a1 === 2);
    expect(kills.map((e) => [e.name, Number(e.a0)])).toEqual([
      ['fault', 11], ['fault', 11], ['fault', 11], ['fault', 4], ['fault', 11], ['fault', 8], ['fault', 11], ['fault', 11],
    ]);
    // `fault thread`: one of four threads faults while the others sleep, wait on a futex, spin and block in
    // a pipe read; all five threads end before the process does.
    const last = kills.at(-1)!;
    const end = r.groundTruth.indexOf(last);
    const start = r.groundTruth.findLastIndex((e, i) => i < end && e.type === GT.procCreate && e.pid === last.pid);
    const between = r.groundTruth.slice(start, end);
    const created = between.filter((e) => e.type === GT.threadCreate && e.pid === last.pid).map((e) => e.tid);
    const exited = between.filter((e) => e.type === GT.threadExit && e.pid === last.pid).map((e) => e.tid);
    expect(created.length).toBe(5);
    expect(exited.sort()).toEqual(created.sort());
    expect(r.console).toMatch(/kernel: pid \d+ \(fault\) tid \d+ killed: #PF at rip [0-9a-f]+ addr 0\n/);
    expect(r.console).toContain('killed: #UD');
    expect(r.console).toContain('killed: #GP');
    expect(r.console).toContain('killed: #DE');
    // the program after the faults ran and exited normally
    const after = r.groundTruth.findIndex((e) => e.type === GT.exec && e.name === 'syscall');
    expect(after).toBeGreaterThan(r.groundTruth.indexOf(kills.at(-1)!));
    expect(r.console).toContain('syscall: 100 getpid calls');
  });

  it('frees every page a process, thread, pipe or exec used (same free pages at power-off for 10 or 60 of them)', () => {
    const free = (spec: string) => {
      const m = /kernel: power-off status 0, (\d+) pages free/.exec(runGuestWorkload(getWorkload(spec)).console);
      expect(m, spec).not.toBeNull();
      return Number(m![1]);
    };
    expect(free('spawn:n=60')).toBe(free('spawn:n=10'));
    expect(free('execl:n=40')).toBe(free('execl:n=5'));
    expect(free('pipe:n=20,m=300')).toBe(free('pipe:n=20,m=20'));
    expect(free('threads:t=8,n=100')).toBe(free('threads:t=2,n=100'));
    expect(free('shell:reps=3')).toBe(free('shell:reps=1'));
  });

  it('the same workload gives the same console and ground truth twice', () => {
    const a = run('threads');
    const b = runGuestWorkload(getWorkload('threads'));
    expect(b.console).toBe(a.console);
    expect(b.icount).toBe(a.icount);
    expect(b.groundTruth).toEqual(a.groundTruth);
  });
});

