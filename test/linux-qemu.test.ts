// The Linux guest under QEMU (the oracle nobody here wrote): Debian's kernel and our initramfs boot under
// qemu-system-x86_64 (TCG, icount) with the committed command line, and every workload program prints what it
// is documented to print (guest/README.md "Programs"), with the values computed here independently from the
// programs' definitions: pipe's hash of its byte pattern, fcopy's checksum of the seeded file, the shell
// pipeline's wc line, the Collatz total, the memcached replies' digest, each mixed worker's sum.
// Skips with a message when QEMU is not installed (.ci/run installs it).
import { describe, expect, it } from 'vitest';
import { linuxCmdline as linuxBootCmdline } from '../src/hypervisor/linux/linuxGuest.js';
import { diskFileBytes, fnv1a, getWorkload, memcachedPackets, xorshift32 } from '../src/hypervisor/workloads.js';
import { hostBusybox } from './helpers/hostBusybox.js';
import { nativeWhet, whetLines } from './helpers/nativeWhet.js';
import { bootQemu, compareConsoles, diffLines, linuxCmdline, linuxManifest, logStructure, qemuMissing, splitConsole, type SplitConsole } from './helpers/linuxQemu.js';

const why = qemuMissing();
if (why !== null) console.warn(`Linux QEMU oracle tests skipped: ${why}`);

const hex = (n: number): string => (n >>> 0).toString(16).padStart(8, '0');
const enc = new TextEncoder();

async function run(name: string, cmdline?: string): Promise<SplitConsole> {
  const b = await bootQemu({ run: name, cmdline, timeoutMs: 300_000 });
  expect(b.timedOut, `${name}: QEMU timed out; console tail:\n${b.console.slice(-1500)}`).toBe(false);
  const s = splitConsole(b.console);
  // Every boot: the kernel's version line is the manifest's, it reached /init, and /init ended the machine
  // through the power-off port with status 0 (after iopl(3): Linux's I/O bitmap lets the write through).
  expect(s.bootLog).toContain(linuxManifest().kernel.version);
  expect(s.bootLog[s.bootLog.length - 1]).toBe('Run /init as init process');
  expect(b.powerOffStatus).toBe(0);
  expect(s.lateKernelLog).toEqual([]);
  expect(s.programOutput[s.programOutput.length - 1]).toBe('init: done, 0 failures');
  return s;
}

/** The worker program's arithmetic (guest/user/prog/worker.c), for the expected `sum`. */
function mix(s: number, n: number): number {
  for (let i = 0; i < n; i++) s = (xorshift32(s) + i) >>> 0;
  return s;
}
function workerLine(args: string[]): string {
  const opt = (c: string, d: number): number => {
    const i = args.indexOf(`-${c}`);
    return i >= 0 ? Number(args[i + 1]) : d;
  };
  const id = opt('i', 0), rounds = opt('r', 10), forkEvery = opt('f', 0), nthreads = opt('t', 0), work = opt('c', 200);
  let sum = (id + 1) >>> 0, children = 0, threads = 0;
  for (let r = 1; r <= rounds; r++) {
    sum = mix(sum, work);
    if (forkEvery && r % forkEvery === 0) {
      const status = r % (2 * forkEvery) === 0 ? 0 : mix(sum, work) & 0x3f; // `true`, or a forked child's exit
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
  return `worker ${id}: ${rounds} rounds, ${children} children, ${threads} threads, sum ${hex(sum)}`;
}

/** memcached's ASCII protocol over the frames of the server workload (guest/user/prog/server.c). */
function serverReplies(): { requests: number; sets: number; gets: number; hits: number; dels: number; digest: number } {
  const w = getWorkload('server');
  const p = w.params;
  const packets = memcachedPackets({ seed: w.seed, count: Number(p.count), start: Number(p.start), gap: Number(p.gap), keys: Number(p.keys) });
  const store = new Map<string, { flags: number; data: string }>();
  let digest = 0x811c9dc5, requests = 0, sets = 0, gets = 0, hits = 0, dels = 0;
  for (const pk of packets) {
    const text = new TextDecoder().decode(pk.bytes.subarray(8));
    const [line, data = ''] = text.split('\r\n');
    const [cmd, key = '', flags = '0', , len = '0'] = line!.split(' ');
    if (cmd === 'quit') break;
    requests++;
    let reply: string;
    if (cmd === 'set') {
      sets++;
      store.set(key, { flags: Number(flags), data: data.slice(0, Number(len)) });
      reply = 'STORED\r\n';
    } else if (cmd === 'get') {
      gets++;
      const it = store.get(key);
      if (it) hits++;
      reply = it ? `VALUE ${key} ${it.flags} ${it.data.length}\r\n${it.data}\r\nEND\r\n` : 'END\r\n';
    } else {
      dels++;
      reply = store.delete(key) ? 'DELETED\r\n' : 'NOT_FOUND\r\n';
    }
    const head = new Uint8Array([pk.bytes[0]!, pk.bytes[1]!, 0, 0, 0, 1, 0, 0]);
    digest = fnv1a(enc.encode(reply), fnv1a(head, digest));
  }
  return { requests, sets, gets, hits, dels, digest };
}

describe.skipIf(why !== null)('Linux guest under QEMU: each program prints what it is documented to print', { timeout: 300_000 }, () => {
  it('syscall', async () => {
    const n = getWorkload('syscall').params.n;
    expect((await run('syscall')).programOutput).toEqual([
      expect.stringMatching(new RegExp(`^syscall: ${n} getpid calls, pid \\d+ ppid 1, 0 wrong$`)),
      'init: done, 0 failures',
    ]);
  });

  it('pipe', async () => {
    const { n, m } = getWorkload('pipe').params;
    let h = 0x811c9dc5;
    const buf = new Uint8Array(512);
    for (let i = 0; i < Number(n); i++) {
      for (let k = 0; k < 512; k++) buf[k] = (i + k) & 0xff;
      h = fnv1a(buf, h);
    }
    expect((await run('pipe')).programOutput).toEqual([
      `pipe: ${n} x 512 bytes hash ${hex(h)}, ${m} round trips value ${2 * Number(m)}`,
      'init: done, 0 failures',
    ]);
  });

  it('spawn', async () => {
    const n = getWorkload('spawn').params.n;
    expect((await run('spawn')).programOutput).toEqual([`spawn: ${n} children, ${n} exit statuses correct`, 'init: done, 0 failures']);
  });

  it('execl', async () => {
    const n = getWorkload('execl').params.n;
    expect((await run('execl')).programOutput).toEqual([
      expect.stringMatching(new RegExp(`^execl: ${n} execs done, pid \\d+$`)),
      'init: done, 0 failures',
    ]);
  });

  it('fcopy', async () => {
    const w = getWorkload('fcopy');
    const { buf, reps, size } = w.params;
    const h = hex(fnv1a(diskFileBytes(w.seed, 0, Number(size))));
    expect((await run('fcopy')).programOutput).toEqual([
      `fcopy: ${reps} copies of ${size} bytes with a ${buf}-byte buffer, src fnv ${h}, dst ${size} bytes fnv ${h}`,
      'init: done, 0 failures',
    ]);
  });

  it('fcopy with parameters (linux:run=fcopy,buf=256,reps=3: KEY=VALUE after -- on the kernel command line, substituted by /init)', async () => {
    const l = getWorkload('linux:run=fcopy,buf=256,reps=3').linux!;
    expect(l.cmdline).toMatch(/ run=fcopy -- buf=256 reps=3$/);
    const w = getWorkload('fcopy');
    const size = w.params.size!;
    const h = hex(fnv1a(diskFileBytes(w.seed, 0, Number(size))));
    expect((await run('fcopy', l.cmdline)).programOutput).toEqual([
      `fcopy: 3 copies of ${size} bytes with a 256-byte buffer, src fnv ${h}, dst ${size} bytes fnv ${h}`,
      'init: done, 0 failures',
    ]);
  });

  it('shell', async () => {
    const w = getWorkload('shell');
    const { lines, reps, mod } = w.params;
    let s = w.seed || 1;
    const gen: string[] = [];
    for (let i = 0; i < Number(lines); i++) gen.push(String(((s = xorshift32(s)) >>> 0) % Number(mod)));
    const uniq = [...new Set(gen.sort())]; // byte order: the lines are ASCII digits
    const text = enc.encode(uniq.map((l) => `${l}\n`).join(''));
    const wc = `wc: ${uniq.length} lines ${uniq.length} words ${text.length} bytes fnv ${hex(fnv1a(text))}`;
    expect((await run('shell')).programOutput).toEqual([
      ...Array<string>(Number(reps)).fill(wc),
      `sh: ${reps} pipelines, 0 failed`,
      'init: done, 0 failures',
    ]);
  });

  it('dhrystone', async () => {
    const runs = getWorkload('dhrystone').params.runs;
    const out = (await run('dhrystone')).programOutput;
    expect(out[0]).toBe(`dhry: ${runs} runs`);
    for (const l of out.filter((x) => x.includes('(should be'))) {
      const m = /^dhry: .*?(-?\d+) \(should be (-?\d+)\)$/.exec(l);
      expect(m?.[1], l).toBe(m?.[2]);
    }
    expect(out.slice(-2)).toEqual([`dhry: ${runs} runs, all values as expected`, 'init: done, 0 failures']);
  });

  it('whetstone (SSE2): every result bit for bit as the same source on the host CPU', async (ctx) => {
    const loops = getWorkload('whetstone').params.loops!;
    const native = nativeWhet(Number(loops));
    if (native === null) return ctx.skip('no x86-64 gcc on the host');
    const out = (await run('whetstone')).programOutput;
    expect(whetLines(out.join('\n'))).toEqual(whetLines(native));
    expect(out).toContain(`whet: ${loops} loops, hash 33ab52f1`);
  });

  for (const bb of ['busybox-shell', 'busybox-applets']) {
    it(`${bb} (Debian's busybox-static): every line as the same binary on the host`, async (ctx) => {
      const host = hostBusybox(bb);
      if ('skip' in host) return ctx.skip(host.skip);
      expect((await run(bb)).programOutput).toEqual([...host.lines, 'init: done, 0 failures']);
    });
  }

  it('threads', async () => {
    const { t, stack, n } = getWorkload('threads').params;
    let total = 0;
    for (let x0 = 1; x0 <= Number(n); x0++) for (let x = x0; x !== 1; x = x & 1 ? 3 * x + 1 : x / 2) total++;
    expect((await run('threads')).programOutput).toEqual([
      `threads: ${t} threads with ${stack}-byte stacks, ${n} items, collatz total ${total}`,
      'init: done, 0 failures',
    ]);
  });

  it('server (requests played by netfeed over loopback UDP)', async () => {
    const r = serverReplies();
    expect((await run('server')).programOutput).toEqual([
      'server: listening',
      `netfeed: ${r.requests} requests, ${r.requests} replies, digest ${hex(r.digest)}`,
      `server: ${r.requests} requests, ${r.sets} sets, ${r.gets} gets, ${r.hits} hits, ${r.dels} deletes, 0 errors, digest ${hex(r.digest)}`,
      'init: done, 0 failures',
    ]);
  });

  it('mixed (the default): every worker line, in the order the scheduler finishes them', async () => {
    const script = linuxManifest().workloads.mixed!.script;
    const expected = script.filter((l) => l.startsWith('bg worker ')).map((l) => workerLine(l.split(/\s+/).slice(2)));
    expect(expected).toHaveLength(32);
    const out = (await run('mixed')).programOutput;
    expect(out.slice(-2)).toEqual(['mixed: all workers done', 'init: done, 0 failures']);
    expect([...out.slice(0, -2)].sort()).toEqual([...expected].sort());
  });
});

describe.skipIf(why !== null)('Linux guest under QEMU: how /init ends', { timeout: 300_000 }, () => {
  it('without the power-off port: the kernel restart, a triple fault with reboot=t (QEMU -no-reboot exits)', async () => {
    const b = await bootQemu({ run: 'syscall', powerPort: false });
    const s = splitConsole(b.console);
    expect(s.programOutput[s.programOutput.length - 1]).toBe('init: done, 0 failures');
    expect(s.lateKernelLog).toEqual(['reboot: Restarting system', 'reboot: machine restart']);
    expect([b.exitCode, b.timedOut]).toEqual([0, false]);
  });

  it('a parameter the workload does not declare: a message and a failure', async () => {
    const b = await bootQemu({ cmdline: `${linuxCmdline('syscall')} -- n=7 bogus=1`, timeoutMs: 300_000 });
    const out = splitConsole(b.console).programOutput;
    expect(out[0]).toBe('init: workload syscall has no parameter bogus');
    expect(out[1]).toMatch(/^syscall: 7 getpid calls, pid \d+ ppid 1, 0 wrong$/);
    expect(out.at(-1)).toBe('init: done, 1 failure');
    expect(b.powerOffStatus).toBe(1);
  });

  it('an unknown run= name: a message and status 255 (reported mod 128 by isa-debug-exit)', async () => {
    const b = await bootQemu({ run: 'no-such-workload' });
    expect(splitConsole(b.console).programOutput).toEqual(['init: no workload no-such-workload']);
    expect(b.powerOffStatus).toBe(127);
  });
});

describe('the command line a Linux workload boots with', () => {
  it('workload parameters after --, sorted and normalised; tsc_early_khz set in the kernel\'s part only', () => {
    const l = getWorkload('linux:run=pipe,n=2k,m=7').linux!;
    expect(l.cmdline).toBe(`${linuxCmdline('pipe')} -- m=7 n=2000`);
    expect(getWorkload('linux:run=pipe').linux!.cmdline).toBe(linuxCmdline('pipe'));
    const booted = linuxBootCmdline(l.cmdline, 2_930_000_000);
    expect(booted).toMatch(/ tsc_early_khz=2930000 .* run=pipe -- m=7 n=2000$/);
    expect(linuxBootCmdline('console=ttyS0 -- n=1', 1e9)).toBe('console=ttyS0 tsc_early_khz=1000000 -- n=1');
    expect(getWorkload('linux:run=pipe,n=2k,m=7').params).toMatchObject({ run: 'pipe', n: '2000', m: '7' });
  });
});

describe('splitConsole', () => {
  it('separates timestamped kernel lines from program lines around "Run /init"', () => {
    const c = '[    0.000000] Linux version X\r\n[    0.388381] Run /init as init process\r\nsyscall: 1\r\n' +
      '[    0.390000] random: crng init done\r\ninit: done, 0 failures\r\n[    0.395611] reboot: Restarting system\r\n';
    expect(splitConsole(c)).toEqual({
      bootLog: ['Linux version X', 'Run /init as init process'],
      programOutput: ['syscall: 1', 'init: done, 0 failures'],
      lateKernelLog: ['random: crng init done', 'reboot: Restarting system'],
    });
  });
});

describe('console comparison helpers', () => {
  it('diffLines lists exactly the lines only one side has', () => {
    expect(diffLines(['a', 'b', 'c', 'd'], ['a', 'c', 'x', 'd'])).toEqual([
      { op: '-', index: 1, line: 'b' },
      { op: '+', index: 2, line: 'x' },
    ]);
    expect(diffLines(['a'], ['a'])).toEqual([]);
    expect(diffLines([], ['a'])).toEqual([{ op: '+', index: 0, line: 'a' }]);
  });
  it('compareConsoles: program lines exactly (or as a set), boot logs by structure', () => {
    const a = '[    0.1] Memory: 100K\r\n[    0.2] Run /init as init process\r\nw 1\r\nw 2\r\n';
    const b = '[    0.3] Memory: 200K\r\n[    0.4] Run /init as init process\r\nw 2\r\nw 1\r\n';
    expect(compareConsoles(a, b, { unordered: true })).toEqual({ program: [], bootLog: [] });
    expect(compareConsoles(a, b).program).toEqual([{ op: '-', index: 0, line: 'w 1' }, { op: '+', index: 1, line: 'w 1' }]);
    expect(compareConsoles(a, b.replace('Memory', 'Mem')).bootLog).toEqual([
      { op: '-', index: 0, line: 'Memory: #K' },
      { op: '+', index: 0, line: 'Mem: #K' },
    ]);
  });
  it('logStructure masks measured values but keeps the message', () => {
    expect(logStructure('Memory: 221432K/261752K available (14343K kernel code, 2329K rwdata)'))
      .toBe('Memory: #K/#K available (#K kernel code, #K rwdata)');
    expect(logStructure('tsc: Detected 1000.000 MHz processor')).toBe('tsc: Detected # MHz processor');
    expect(logStructure('BIOS-e820: [mem 0x0000000000100000-0x000000000fffffff] usable')).toBe('BIOS-e#: [mem 0x#-0x#] usable');
  });
});
