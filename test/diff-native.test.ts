// Sanity of the native differential harness on its own (test/diff/native.c): results worked out by hand from
// the SDM, fault vectors, recovery after a fault, and a large batch checked against BigInt arithmetic.

import { describe, expect, it } from 'vitest';
import { assembleAll } from './diff/assemble.js';
import { runNative, nativeAvailable } from './diff/native.js';
import { Rng } from './diff/prng.js';
import { DATA_BASE, DATA_BYTES, type DiffCase } from './diff/types.js';

const why = nativeAvailable();
const suite = why === null ? describe : describe.skip;

const CF = 0x1n, PF = 0x4n, AF = 0x10n, ZF = 0x40n, SF = 0x80n, DF = 0x400n, OF = 0x800n;

function mk(asm: string, regs: Partial<Record<number, bigint>> = {}, rflags = 0n, mem?: Uint8Array): DiffCase {
  const r: bigint[] = [];
  for (let i = 0; i < 16; i++) r.push(regs[i] ?? 0x1111111111111111n * BigInt(i));
  return { name: asm, code: assembleAll([asm])[0], regs: r, rflags, mem: mem ?? new Uint8Array(DATA_BYTES) };
}

suite(why === null ? 'native differential harness' : `native differential harness (skipped: ${why})`, () => {
  it('add eax, ebx: 0x7fffffff + 1 sets OF SF AF PF, zero-extends RAX, leaves the other registers', () => {
    const c = mk('add eax, ebx', { 0: 0xdeadbeef7fffffffn, 3: 1n }, CF | ZF);
    const [r] = runNative([c]);
    expect(r.fault).toBeNull();
    expect(r.regs[0]).toBe(0x80000000n);
    // SDM ADD: OF (signed overflow), SF (bit 31), AF (carry out of bit 3), PF (low byte 0x00 has even parity).
    expect(r.rflags).toBe(OF | SF | AF | PF);
    for (let i = 1; i < 16; i++) expect(r.regs[i]).toBe(c.regs[i]);
  });

  it('sub al, 1 from 0 borrows: CF SF AF, result 0xff in the low byte only', () => {
    const [r] = runNative([mk('sub al, 1', { 0: 0x1234567812345600n })]);
    expect(r.regs[0]).toBe(0x12345678123456ffn);
    expect(r.rflags).toBe(CF | SF | AF | PF);
  });

  it('input flags and DF round-trip through a NOP; STD/CLD change only DF', () => {
    const all = CF | PF | AF | ZF | SF | OF;
    const [a, b, c] = runNative([mk('nop', {}, all | DF), mk('std', {}, 0n), mk('cld', {}, all | DF)]);
    expect(a.rflags).toBe(all | DF);
    expect(b.rflags).toBe(DF);
    expect(c.rflags).toBe(all);
  });

  it('RSP comes from the case: push/pop through the scratch page', () => {
    const sp = DATA_BASE + 0x800n;
    const [r] = runNative([mk('push rax; push rbx; pop rcx', { 0: 0x0102030405060708n, 3: 0xaabbn, 4: sp })]);
    expect(r.regs[4]).toBe(sp - 8n);
    expect(r.regs[1]).toBe(0xaabbn);
    expect(Buffer.from(r.mem.subarray(0x7f8, 0x800)).readBigUInt64LE()).toBe(0x0102030405060708n);
  });

  it('scratch memory goes in and comes back', () => {
    const mem = new Uint8Array(DATA_BYTES);
    mem[0x10] = 0x7f;
    const [r] = runNative([mk('mov al, byte ptr [rdi + 0x10]; mov qword ptr [rdi + 0x20], rdi', { 7: DATA_BASE, 0: 0n }, 0n, mem)]);
    expect(r.regs[0]).toBe(0x7fn);
    expect(Buffer.from(r.mem.subarray(0x20, 0x28)).readBigUInt64LE()).toBe(DATA_BASE);
    expect(r.mem[0x10]).toBe(0x7f);
  });

  it('reports fault vectors and recovers for the next case', () => {
    const sp = DATA_BASE + 0x800n;
    const cases = [
      mk('ud2'),
      mk('xor ecx, ecx; div ecx'),
      mk('int3'),
      mk('mov eax, dword ptr [rdi + 0x1000]', { 7: DATA_BASE }),
      mk('movabs rax, 0x8000000000000000; mov rax, [rax]'),
      mk('hlt'),
      mk('movabs rsp, 0x8000000000000000; push rax'),
      mk('mov byte ptr [rip], 0x90'),
      mk('mov eax, 0x80000000; cdq; mov ecx, -1; idiv ecx'),
      mk('push rax; pop rbx', { 0: 42n, 4: sp }),
    ];
    const rs = runNative(cases);
    expect(rs.map((r) => r.fault)).toEqual([6, 0, 3, 14, 13, 13, 12, 14, 0, null]);
    expect(rs[9].regs[3]).toBe(42n);
    expect(rs[9].regs[4]).toBe(sp);
  });

  it('a batch of 3000 random 64-bit ADC/SUB/IMUL cases matches BigInt arithmetic', () => {
    const rng = new Rng(7);
    const [adc, sub, imul] = assembleAll(['adc rax, rbx', 'sub rax, rbx', 'imul rax, rbx']);
    const cases: DiffCase[] = [];
    const want: { rax: bigint; cf: bigint }[] = [];
    const M = (1n << 64n) - 1n;
    for (let i = 0; i < 3000; i++) {
      const a = rng.u64();
      const b = rng.u64();
      const cin = BigInt(i & 1);
      const k = i % 3;
      cases.push({ name: `#${i}`, code: [adc, sub, imul][k], regs: [a, 0n, 0n, b, ...Array(12).fill(0n)], rflags: cin, mem: new Uint8Array(DATA_BYTES) });
      if (k === 0) want.push({ rax: (a + b + cin) & M, cf: (a + b + cin) >> 64n });
      else if (k === 1) want.push({ rax: (a - b) & M, cf: a < b ? 1n : 0n });
      else {
        const p = BigInt.asIntN(64, a) * BigInt.asIntN(64, b);
        want.push({ rax: p & M, cf: BigInt.asIntN(64, p) === p ? 0n : 1n });
      }
    }
    const rs = runNative(cases);
    for (let i = 0; i < cases.length; i++) {
      expect(rs[i].regs[0], cases[i].name).toBe(want[i].rax);
      expect(rs[i].rflags & CF, cases[i].name).toBe(want[i].cf);
    }
  });
});
