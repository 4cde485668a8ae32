// Assembler and disassembler: every conformance program round-trips (assemble -> disassemble -> assemble gives
// the same bytes, and encode/decode is the identity), plus the encodings of RFC 9669 spot-checked by hand.
import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AsmError, assemble } from '../src/hypervisor/ebpf/assembler.js';
import { disassemble } from '../src/hypervisor/ebpf/disassembler.js';
import { decode, encode } from '../src/hypervisor/ebpf/isa.js';
import { parseDataFile } from '../src/hypervisor/ebpf/parseDataFile.js';

const DIR = '../shared/bpf_conformance/tests/';
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('eBPF assembler/disassembler', () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.data')).sort();
  it('finds the conformance suite', () => expect(files.length).toBeGreaterThan(200));

  it('round-trips every conformance program', () => {
    for (const f of files) {
      const p = assemble(parseDataFile(readFileSync(DIR + f, 'utf8')).asm);
      const bytes = encode(p);
      const text = disassemble(p);
      expect(hex(encode(assemble(text))), f).toBe(hex(bytes));
      expect(hex(encode(decode(bytes))), f).toBe(hex(bytes));
    }
  });

  it('encodes per RFC 9669', () => {
    // opcode, regs (src<<4|dst), offset LE16, imm LE32
    const cases: Array<[string, string]> = [
      ['mov %r0, 1', 'b700000001000000'],
      ['mov32 r1, -1', 'b4010000ffffffff'],
      ['add %r2, %r3', '0f32000000000000'],
      ['sdiv32 %r1, 3', '3401010003000000'],
      ['smod %r1, %r2', '9f21010000000000'],
      ['movsx1664 %r1, %r2', 'bf21100000000000'],
      ['ldxh %r3, [%r1+12]', '69130c0000000000'],
      ['ldxsb %r0, [%r10-1]', '91a0ffff00000000'],
      ['stw [%r10-4], 0x12345678', '620afcff78563412'],
      ['stxdw [%r10-8], %r1', '7b1af8ff00000000'],
      ['be16 %r0', 'dc00000010000000'],
      ['le64 %r0', 'd400000040000000'],
      ['bswap32 %r0', 'd700000020000000'],
      ['jne32 %r0, 5, +2', '5600020005000000'],
      ['ja32 -1', '06000000ffffffff'],
      ['call 7', '8500000007000000'],
      ['call %r2', '8d02000000000000'],
      ['lock fetch add32 [%r10-4], %r1', 'c31afcff01000000'],
      ['lock cmpxchg [%r1], %r2', 'db210000f1000000'],
      ['lddw %r1, 0x1122334455667788', '18010000887766550000000044332211'],
      ['exit', '9500000000000000'],
    ];
    for (const [src, want] of cases) expect(hex(encode(assemble(src))), src).toBe(want);
  });

  it('resolves labels, the implicit exit label and local calls', () => {
    const p = assemble('ja out\ncall local f\nout:\nexit\nf:\nmov r0, 1\nexit');
    expect(p[0]!.off).toBe(1);
    expect(p[1]!.imm).toBe(1);
    const q = assemble('jeq r1, 0, exit\nmov r0, 1\nexit');
    expect(q[0]!.off).toBe(1);
  });

  it('reports errors with the line', () => {
    expect(() => assemble('mov r0, 1\nfrob r1')).toThrow(AsmError);
    expect(() => assemble('mov r0, 1\nfrob r1')).toThrow(/line 2/);
    expect(() => assemble('ja nowhere')).toThrow(/undefined label nowhere/);
    expect(() => assemble('mov r11, 1')).toThrow(/register/);
    expect(() => assemble('mov r0, 0x100000000')).toThrow(/32 bits/);
  });
});
