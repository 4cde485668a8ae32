// Guest instructions per second of the bare CPU (no VMX layer): (a) a tight integer loop, (b) a mixed loop
// with loads/stores through 4 KiB user pages, calls, and data-dependent branches. Both run at CPL 3 under
// 4-level paging, as guest user code does.

import { Bench } from 'tinybench';
import { Cr4, Stop } from '../src/emulator/cpu/Cpu.js';
import { asm } from '../test/helpers/asm.js';
import { BareMachine, Sel } from '../test/helpers/bareMachine.js';
import { figure } from './figure.js';
import { getWorkload } from '../src/hypervisor/workloads.js';
import { LiveEnvironment } from '../src/replay/LiveEnvironment.js';
import { assemble } from '../src/replay/Session.js';

const CODE = 0x400000n;
const DATA = 0x500000n;

const TIGHT = `
top:
  mov ecx, 1000000
loop1:
  add rax, rcx
  xor rbx, rax
  sub rdx, 3
  imul rsi, rax, 7
  shr rdi, 1
  or rdi, rbx
  dec rcx
  jnz loop1
  jmp top`;

const MIXED = `
top:
  mov r8, ${DATA}
  mov ecx, 4096
loop2:
  mov eax, ecx
  and eax, 4095
  mov rdx, [r8 + rax*8]
  add rdx, rcx
  mov [r8 + rax*8], rdx
  call helper
  test dl, 1
  jz even
  add rbx, rdx
  jmp next
even:
  sub rbx, rdx
next:
  movzx esi, byte ptr [r8 + rcx]
  add rdi, rsi
  dec ecx
  jnz loop2
  jmp top
helper:
  push rbp
  mov rbp, rsp
  lea r9, [rdx + rdx*2]
  cmp r9, rbx
  cmovb rbx, r9
  pop rbp
  ret`;

// Scalar and packed double arithmetic with loads and stores (a daxpy/dot-product shaped loop): values stay
// normal and MXCSR is the default, as compiled C leaves it.
const SSE = `
top:
  mov r8, ${DATA}
  mov ecx, 1024
  mov rax, 0x3ff0000000000001
  movq xmm7, rax
  movlhps xmm7, xmm7
  movapd xmm6, xmm7
loop3:
  movsd xmm0, [r8 + rcx*8]
  mulsd xmm0, xmm7
  addsd xmm0, xmm6
  movsd [r8 + rcx*8], xmm0
  movapd xmm1, [r8]
  mulpd xmm1, xmm7
  addpd xmm1, xmm6
  subpd xmm1, xmm7
  movapd [r8 + 16], xmm1
  divsd xmm6, xmm7
  addsd xmm6, xmm7
  cvtsi2sd xmm2, ecx
  addsd xmm2, xmm0
  ucomisd xmm2, xmm6
  dec ecx
  jnz loop3
  jmp top`;

function machine(source: string): BareMachine {
  const m = new BareMachine(64 << 20);
  for (let p = 0; p < 4; p++) m.map4k(CODE + BigInt(p * 4096), 0x1000000 + p * 4096, 1 | 4);
  // 8 pages of data (32 KiB) plus a stack page.
  for (let p = 0; p < 9; p++) m.map4k(DATA + BigInt(p * 4096), 0x1100000 + p * 4096, 1 | 2 | 4, true);
  m.load(0x1000000, asm(source, Number(CODE)));
  const cpu = m.cpu;
  cpu.setCpl(3);
  cpu.cs = Sel.ucode;
  cpu.ss = Sel.udata;
  cpu.setReg(4, DATA + 9n * 4096n - 16n);
  cpu.setRip(CODE);
  cpu.cr4 |= Cr4.OSFXSR | Cr4.OSXMMEXCPT;
  return m;
}

/** Run `insns` guest instructions; returns host seconds. */
function runFor(m: BareMachine, insns: number): void {
  const cpu = m.cpu;
  const end = cpu.icount + insns;
  while (cpu.icount < end) {
    const s = cpu.run(end);
    if (s !== Stop.limit) throw new Error(`benchmark guest stopped: ${s}`);
  }
}

export async function run(): Promise<void> {
  const N = 20_000_000;
  const tight = machine(TIGHT);
  const mixed = machine(MIXED);
  const sse = machine(SSE);
  // The data area holds doubles near 1 (so the loop's values stay normal).
  for (let i = 0; i < 1032; i++) sse.cpu.mmu.writeVirt(DATA + BigInt(i * 8), new Uint8Array(new Float64Array([1 + i / 4096]).buffer));
  runFor(tight, 2_000_000); // warm up: decode, JIT
  runFor(mixed, 2_000_000);
  runFor(sse, 2_000_000);
  const bench = new Bench({ iterations: 5, warmupIterations: 1, time: 0 });
  bench.add('cpu tight integer loop', () => runFor(tight, N));
  bench.add('cpu mixed loop', () => runFor(mixed, N));
  bench.add('cpu sse double loop', () => runFor(sse, N));
  await bench.run();
  console.table(bench.table());
  const mips = (name: string): number => {
    const t = bench.tasks.find((x) => x.name === name);
    const r = t?.result as { latency?: { mean: number }; mean?: number } | undefined;
    const ms = r?.latency?.mean ?? r?.mean ?? NaN;
    return N / (ms / 1000) / 1e6;
  };
  figure('cpu.mips.int', mips('cpu tight integer loop'), 'MIPS');
  figure('cpu.mips.mixed', mips('cpu mixed loop'), 'MIPS');
  figure('cpu.mips.sse', mips('cpu sse double loop'), 'MIPS');
  await whetstone();
}

/**
 * The whetstone workload in the recorded machine (kvm-default exits, modern cost model): MWIPS from the guest's
 * own TSC reading around the benchmark (guest time derives from the instruction count, so the figure is
 * deterministic), 100,000 Whetstone instructions per loop as the original counts them; and the host time.
 */
export async function whetstone(): Promise<void> {
  const loops = 100;
  const w = getWorkload(`whetstone:loops=${loops}`);
  const s = assemble({ workload: w, exitPreset: 'kvm-default', costModel: 'modern', maxInstructions: 2_000_000_000 },
    (m, wl) => new LiveEnvironment(m, wl));
  const t0 = performance.now();
  const r = s.machine.run();
  const hostMs = performance.now() - t0;
  const cycles = /whet: tsc cycles (\d+)/.exec(s.machine.consoleText());
  if (r.reason !== 'guest-exit' || cycles === null) throw new Error(`whetstone did not complete: ${r.reason}`);
  const guestSeconds = Number(cycles[1]) / s.costModel.tscHz;
  console.log(`whetstone ${loops} loops: ${r.icount} guest instructions, ${cycles[1]} guest TSC cycles, host ${hostMs.toFixed(0)} ms`);
  figure('cpu.whetstone_mwips', (loops * 1e5) / guestSeconds / 1e6, 'MWIPS');
  figure('cpu.whetstone_host_ms', hostMs, 'ms');
}
