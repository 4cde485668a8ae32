// One test per verifier rule: each rejection names the instruction index (and its disassembly) and the reason;
// each rule also has an accepted neighbour so that the test would notice a verifier that rejects everything.
import { describe, expect, it } from 'vitest';
import { assemble } from '../src/hypervisor/ebpf/assembler.js';
import { HelperId, hyperupcallHelpers } from '../src/hypervisor/ebpf/helpers.js';
import { encode, decode } from '../src/hypervisor/ebpf/isa.js';
import { verify, type VerifierOptions } from '../src/hypervisor/ebpf/verifier.js';

const MEM: VerifierOptions = {
  regions: { mem: { size: 64, writable: true } },
  args: [{ kind: 'ptr', region: 'mem' }, { kind: 'scalar', value: 64n }],
};
const CTX: VerifierOptions = {
  regions: { ctx: { size: 32, writable: false }, mem: { size: 64, writable: true } },
  args: [{ kind: 'ptr', region: 'ctx' }, { kind: 'ptr', region: 'mem' }],
  helpers: hyperupcallHelpers(),
};

function rejects(src: string, index: number, why: RegExp, opts: VerifierOptions = MEM): void {
  const v = verify(assemble(src), opts);
  expect(v.ok, `should reject:\n${src}`).toBe(false);
  if (v.ok) return;
  expect(v.index).toBe(index);
  expect(v.message).toMatch(new RegExp(`^instruction ${index} \\(`));
  expect(v.message).toMatch(why);
}
function accepts(src: string, opts: VerifierOptions = MEM): void {
  const v = verify(assemble(src), opts);
  expect(v.ok ? 'ok' : v.message).toBe('ok');
}

describe('eBPF verifier', () => {
  it('rejects jumps outside the program', () => {
    rejects('mov r0, 0\nja +5\nexit', 1, /jump target 7 is outside the program/);
    rejects('mov r0, 0\njeq r0, 0, -3\nexit', 1, /target -1 is outside/);
    accepts('mov r0, 0\njeq r0, 1, +0\nexit');
  });

  it('rejects a jump into the middle of an lddw', () => {
    rejects('mov r0, 0\njeq r0, 1, +1\nlddw r0, 0x100000000\nexit', 1, /target 3 is the second half of an lddw/);
    accepts('mov r0, 0\njeq r0, 1, +2\nlddw r0, 0x100000000\nexit');
  });

  it('rejects unreachable code', () => {
    rejects('mov r0, 0\nexit\nmov r0, 1\nexit', 2, /unreachable instruction/);
  });

  it('rejects back-edges unless allowLoops', () => {
    const loop = 'mov r0, 0\nmov r1, 10\ntop:\nadd r0, r1\nsub r1, 1\njne r1, 0, top\nexit';
    rejects(loop, 4, /back-edge to instruction 2: loops are not allowed/);
    const v = verify(assemble(loop), { ...MEM, allowLoops: true });
    expect(v.ok && v.hasLoops).toBe(true);
    const straight = verify(assemble('mov r0, 0\njeq r0, 1, +1\nmov r0, 1\nexit'), { ...MEM, allowLoops: true });
    expect(straight.ok && straight.hasLoops).toBe(false);
    expect(straight.ok).toBe(true);
  });

  it('under allowLoops, bounds a loop counter by its exit test (widening with thresholds)', () => {
    const loops = { ...MEM, allowLoops: true };
    const walk = (bound: number): string => `mov r0, 0\nmov r3, 0\ntop:\nmov r4, r1\nadd r4, r3\nldxb r5, [r4]\nadd r0, r5\nadd r3, 1\njlt r3, ${bound}, top\nexit`;
    accepts(walk(64), loops);
    rejects(walk(65), 4, /offsets 0\.\.64 of mem is outside the granted 64 bytes/, loops);
  });

  it('rejects programs longer than the instruction limit (default 4096)', () => {
    const body = 'mov r0, 0\n'.repeat(4096) + 'exit';
    rejects(body, 4096, /4097 instructions, more than the limit of 4096/);
    accepts('mov r0, 0\n'.repeat(4095) + 'exit');
    rejects('mov r0, 0\nmov r0, 1\nexit', 2, /limit of 2/, { ...MEM, maxInsns: 2 });
  });

  it('rejects reads of uninitialised registers', () => {
    rejects('mov r0, r3\nexit', 0, /reads r3, which is not initialised/);
    rejects('add r0, 1\nexit', 0, /reads r0/);
    rejects('mov r1, 1\nexit', 1, /reads r0/); // exit needs r0
    rejects('call 4\nexit', 0, /reads r1|reads r3/, CTX);
  });

  it('rejects reads of uninitialised stack bytes', () => {
    rejects('ldxdw r0, [r10-8]\nexit', 0, /reads uninitialised stack byte fp-8/);
    rejects('stw [r10-8], 1\nldxdw r0, [r10-8]\nexit', 1, /uninitialised stack byte fp-4/);
    accepts('stdw [r10-8], 1\nldxdw r0, [r10-8]\nexit');
  });

  it('rejects accesses outside the granted memory', () => {
    rejects('ldxw r0, [r1+61]\nexit', 0, /4-byte read at offset 61 of mem is outside the granted 64 bytes/);
    rejects('ldxb r0, [r1-1]\nexit', 0, /offset -1 of mem/);
    accepts('ldxw r0, [r1+60]\nexit');
  });

  it('rejects stack accesses outside the frame', () => {
    rejects('mov r0, 0\nstxdw [r10-520], r0\nexit', 1, /outside the 512-byte stack frame/);
    rejects('mov r0, 0\nstxb [r10], r0\nexit', 1, /outside the 512-byte stack frame/);
    accepts('mov r0, 0\nstxdw [r10-512], r0\nexit');
  });

  it('tracks bounded offsets through arithmetic and branches', () => {
    // variable index: rejected without a bounds check, accepted with one
    const unchecked = 'ldxb r3, [r1]\nadd r1, r3\nldxb r0, [r1]\nexit';
    rejects(unchecked, 2, /offsets 0\.\.255 of mem is outside the granted 64 bytes/);
    accepts('ldxb r3, [r1]\nmov r0, 0\njgt r3, 63, out\nadd r1, r3\nldxb r0, [r1]\nout:\nexit');
    rejects('ldxb r3, [r1]\nmov r0, 0\njgt r3, 64, out\nadd r1, r3\nldxb r0, [r1]\nout:\nexit', 4, /offsets 0\.\.64 of mem/);
    accepts('ldxb r3, [r1]\nand r3, 63\nadd r1, r3\nldxb r0, [r1]\nexit');
    rejects('ldxb r3, [r1]\nand r3, 63\nadd r1, r3\nldxw r0, [r1]\nexit', 3, /offsets 0\.\.63 of mem/);
  });

  it('rejects dereferencing a number', () => {
    rejects('mov r2, 0x1000\nldxb r0, [r2]\nexit', 1, /r2 is the number 0x1000, not a pointer/);
    rejects('mov32 r2, r1\nldxb r0, [r2]\nexit', 1, /r2 is a number, not a pointer/);
  });

  it('rejects unbounded pointer offsets', () => {
    rejects('ldxdw r3, [r1]\nadd r1, r3\nldxb r0, [r1]\nexit', 2, /unbounded offset/);
  });

  it('rejects writes to a read-only region', () => {
    rejects('mov r0, 0\nstxw [r1], r0\nexit', 1, /write to read-only region ctx/, CTX);
    accepts('ldxw r0, [r1+28]\nexit', CTX);
  });

  it('keeps spilled pointers and drops them when overwritten', () => {
    accepts('stxdw [r10-8], r1\nldxdw r2, [r10-8]\nldxb r0, [r2]\nexit');
    rejects('stxdw [r10-8], r1\nstb [r10-8], 0\nldxdw r2, [r10-8]\nldxb r0, [r2]\nexit', 3, /r2 is a number, not a pointer/);
  });

  it('rejects unknown and disallowed helpers and bad helper arguments', () => {
    rejects('call 99\nexit', 0, /unknown helper id 99/, CTX);
    rejects('mov r1, 0\ncall 4\nexit', 1, /unknown helper id 4/); // no registry at all
    const memset = 'mov r3, 16\nmov r1, r2\nmov r2, 0\ncall 5\nexit';
    accepts(memset, CTX);
    rejects(memset, 3, /helper memset \(5\) is not allowed/, { ...CTX, allowedHelpers: [HelperId.MEMCPY] });
    rejects(memset.replace('mov r3, 16', 'mov r3, 65'), 3, /65-byte write at offset 0 of mem is outside the granted 64 bytes/, CTX);
    rejects('mov r3, 8\nmov r2, 0\ncall 5\nexit', 2, /write to read-only region ctx/, CTX);
    rejects('mov r1, 5\nmov r2, 0\nmov r3, 8\ncall 5\nexit', 3, /argument r1 of memset must be a pointer/, CTX);
    rejects('ldxdw r3, [r2]\nmov r1, r2\nmov r2, 0\ncall 5\nexit', 3, /argument r3 of memset may be \d+, more than 1048576/, CTX);
    rejects('mov r1, 1\ncall 7\nexit', 1, /argument r1 of flush_tlb_vcpu must be the context pointer/, { ...CTX, args: [{ kind: 'ptr', region: 'ctx' }] });
  });

  it('rejects falling off the end', () => {
    rejects('mov r0, 0', 0, /falls off the end/);
    rejects('mov r0, 0\njeq r0, 0, +1\nexit', 1, /falls off the end|outside/);
  });

  it('accepts division and modulo by a register (RFC 9669 defines the zero cases)', () => {
    accepts('mov r0, 10\nmov r1, 0\ndiv r0, r1\nmod r0, r1\nsdiv32 r0, r1\nexit');
  });

  it('rejects bad encodings and writes to r10', () => {
    rejects('mov r10, 0\nexit', 0, /writes r10/);
    const bytes = encode(assemble('mov r0, 0\nexit'));
    bytes[0] = 0xff;
    const v = verify(decode(bytes), MEM);
    expect(v.ok ? '' : v.message).toMatch(/^instruction 0 \(unknown opcode 0xff\): unknown opcode/);
  });

  it('rejects recursion and reading r6-r9 in a callee', () => {
    rejects('mov r0, 0\ncall local f\nexit\nf:\ncall local f\nexit', 3, /recursive call into the subprogram at 3/);
    rejects('mov r6, 1\ncall local f\nexit\nf:\nmov r0, r6\nexit', 3, /reads r6/);
    accepts('mov r6, 1\ncall local f\nmov r0, r6\nexit\nf:\nmov r6, 2\nmov r0, 0\nexit');
  });

  it('rejects a callee stack pointer used after the return', () => {
    rejects('call local f\nldxb r0, [r0]\nexit\nf:\nstb [r10-1], 1\nmov r0, r10\nadd r0, -1\nexit', 1, /r0 is a number, not a pointer/);
  });
});
