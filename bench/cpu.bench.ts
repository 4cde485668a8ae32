// Guest instructions per second of the bare CPU (no VMX layer): (a) a tight integer loop, (b) a mixed loop
// with loads/stores through 4 KiB user pages, calls, and data-dependent branches. Both run at CPL 3 under
// 4-level paging, as guest user code does.

import { Bench } from 'tinybench';
import { Stop } from '../src/emulator/cpu/Cpu.js';
import { asm } from '../test/helpers/asm.js';
import { BareMachine, Sel } from '../test/helpers/bareMachine.js';
import { figure } from './figure.js';

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
  runFor(tight, 2_000_000); // warm up: decode, JIT
  runFor(mixed, 2_000_000);
  const bench = new Bench({ iterations: 5, warmupIterations: 1, time: 0 });
  bench.add('cpu tight integer loop', () => runFor(tight, N));
  bench.add('cpu mixed loop', () => runFor(mixed, N));
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
}
