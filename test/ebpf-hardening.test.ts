// Issue 20: each class of verifier unsoundness and engine disagreement found by probing the hyperupcall runtime
// as an attacker would, as a test (each failed on the tree before the fix). The oracle is the interpreter's
// strict mode and the two engines against each other; for the per-operation pointer check see ebpf-fuzz.
import { describe, expect, it } from 'vitest';
import { assemble } from '../src/hypervisor/ebpf/assembler.js';
import { compile } from '../src/hypervisor/ebpf/compiler.js';
import { HelperId, hyperupcallHelpers } from '../src/hypervisor/ebpf/helpers.js';
import { interpret, type RunResult } from '../src/hypervisor/ebpf/interpreter.js';
import { encode, decode, type Insn } from '../src/hypervisor/ebpf/isa.js';
import { Memory, RegionTag, address } from '../src/hypervisor/ebpf/Memory.js';
import { verify, type VerifierOptions } from '../src/hypervisor/ebpf/verifier.js';

// the hyperupcall shape: r1 = read-only context, r2 = the granted (writable) region
const HU: VerifierOptions = {
  regions: { ctx: { size: 160, writable: false }, mem: { size: 4096, writable: true } },
  args: [{ kind: 'ptr', region: 'ctx' }, { kind: 'ptr', region: 'mem' }],
  helpers: hyperupcallHelpers(),
};
const huMemory = (): Memory => Memory.standard({ mem: new Uint8Array(4096), ctx: new Uint8Array(160), ctxWritable: false });
const HU_ARGS = [address(RegionTag.CTX, 0), address(RegionTag.MEM, 0)];

/** Both engines on fresh memories: their results and final memories. */
function both(prog: Insn[], maxSteps?: number, mk = huMemory): Array<{ r: RunResult; mem: Memory }> {
  const helpers = hyperupcallHelpers();
  const m1 = mk(), m2 = mk();
  return [
    { r: interpret(prog, { memory: m1, args: HU_ARGS, helpers, maxSteps }), mem: m1 },
    { r: compile(prog).run({ memory: m2, args: HU_ARGS, helpers, maxSteps }), mem: m2 },
  ];
}
const show = (r: RunResult): string => (r.ok ? `ok ${r.value} steps ${r.steps}` : `fault "${r.error}" at ${r.pc} steps ${r.steps}`);

describe('verifier soundness (issue 20)', () => {
  it('1. a byte-swapped pointer is not a small number: no forged pointer into the read-only context', () => {
    // r10's region tag (2) through le64, shifted into the high word and added to the region pointer: tag 1 + 2
    // = the context. The old verifier typed `le64 r3` as a number below 2^32 and so `r3 >> 32` as 0.
    const src = 'mov r3, r10\nle64 r3\nrsh r3, 32\nlsh r3, 32\nmov r4, r2\nadd r4, r3\nstw [r4], 1\nmov r0, 0\nexit';
    const prog = assemble(src);
    const v = verify(prog, HU);
    if (v.ok) {
      // accepted only if it is safe: it must then run without touching the context
      const memory = huMemory();
      const r = interpret(prog, { memory, args: HU_ARGS, strict: true });
      expect(show(r)).toMatch(/^ok/);
    } else expect(v.message).toMatch(/instruction 6 .*(unbounded|not a pointer)/);
    for (const sw of ['le64', 'be64', 'bswap64']) {
      const forged = verify(assemble(src.replace('le64', sw)), HU);
      expect(forged.ok, sw).toBe(false);
    }
    // the narrow swaps are numbers of their width, exactly as before
    expect(verify(assemble('mov r3, r2\nle16 r3\nmov r0, r3\nexit'), HU).ok).toBe(true);
  });

  it('2. be16/be32/be64 do not read r0 (the source bit means big-endian)', () => {
    for (const w of [16, 32, 64]) {
      const v = verify(assemble(`mov r3, 0x1234\nbe${w} r3\nmov r0, r3\nexit`), HU);
      expect(v.ok ? 'ok' : v.message).toBe('ok');
    }
  });

  it('3. an atomic that fetches into r10 is refused, and a call resets both words of r10', () => {
    const v = verify(assemble('stdw [r10-8], 0\nlock fetch add [r10-8], r10\nmov r0, 0\nexit'), HU);
    expect(v.ok ? '' : v.message).toMatch(/^instruction 1 .*writes r10/);
    expect(verify(assemble('stdw [r10-8], 0\nmov r3, 1\nlock fetch add [r10-8], r3\nmov r0, 0\nexit'), HU).ok).toBe(true);
    // Unverified: r10 made to point into the granted region (its high word = tag 1), then a local call. The
    // callee's stack writes must land in its stack frame, not in the guest's memory.
    const prog = assemble([
      'lddw r1, 0x100000000', 'stxdw [r10-8], r1', 'mov r3, 0', 'lock fetch add [r10-8], r10', // r10 = (tag 1, offset 0)
      'call local f', 'mov r0, 0', 'exit',
      'f:', 'stdw [r10-8], 0x77', 'mov r0, 0', 'exit',
    ].join('\n'));
    for (const { r, mem } of both(prog)) {
      expect(show(r)).toMatch(/^ok/);
      expect(mem.bytes[RegionTag.MEM]!.every((b) => b === 0)).toBe(true);
    }
  });

  it('4. memcpy between overlapping stack ranges does not initialise its own source', () => {
    const copy = (dst: number, src: number) => `mov r1, r10\nadd r1, ${dst}\nmov r2, r10\nadd r2, ${src}\nmov r3, 8\ncall ${HelperId.MEMCPY}\n`;
    const v = verify(assemble(`${copy(-16, -16)}ldxdw r0, [r10-16]\nexit`), HU);
    expect(v.ok ? '' : v.message).toMatch(/^instruction 5 .*uninitialised stack byte fp-16/);
    expect(verify(assemble(`stdw [r10-16], 3\n${copy(-16, -16)}ldxdw r0, [r10-16]\nexit`), HU).ok).toBe(true);
    expect(verify(assemble(`stdw [r10-8], 3\n${copy(-16, -8)}ldxdw r0, [r10-16]\nexit`), HU).ok).toBe(true);
  });

  it('5. the engines agree exactly when the budget runs out inside a block: result, fault, steps, memory', () => {
    // a loop whose body stores a counter, copies it and calls a helper: under every budget the same
    // instructions take effect (the compiled code used to refuse the whole block at its start)
    const loop = [
      'mov r6, r2', 'mov r7, 0', 'top:', 'add r7, 1', 'stxdw [r6], r7', 'stxdw [r6+8], r7', 'mov r1, r6', 'add r1, 16',
      'mov r2, r6', 'mov r3, 16', `call ${HelperId.MEMCPY}`, 'ldxdw r8, [r6+16]', 'stxdw [r6+40], r8', 'jlt r7, 5, top', 'mov r0, r7', 'exit',
    ].join('\n');
    const general = loop.replace('mov r7, 0', 'mov r7, 0\nmov r10, r10'); // writes r10: the general code shape
    for (const src of [loop, general]) {
      const prog = assemble(src);
      expect(compile(prog).shape).toBe(src === loop ? 'structured' : 'general');
      for (let budget = 0; budget <= 80; budget++) {
        const [a, b] = both(prog, budget);
        expect(show(b!.r), `budget ${budget}`).toBe(show(a!.r));
        expect(Buffer.from(b!.mem.bytes[RegionTag.MEM]!).equals(Buffer.from(a!.mem.bytes[RegionTag.MEM]!)), `budget ${budget}`).toBe(true);
      }
    }
  });

  it('7. verification is bounded: loops over spilled values converge, and a bound on the work rejects', () => {
    const loops = { ...HU, allowLoops: true };
    // a counter kept on the stack (spilled values were never widened: 13 s, then rejected)
    const spill = verify(assemble('stdw [r10-8], 0\ntop:\nldxdw r3, [r10-8]\nadd r3, 1\nstxdw [r10-8], r3\nmov r0, r3\njne r3, 0, top\nexit'), loops);
    expect(spill.ok ? spill.processed : spill.message).toBeLessThan(2000);
    // two counters on the stack, one bounding the other
    const two = verify(assemble([
      'stdw [r10-8], 0', 'stdw [r10-16], 0', 'top:', 'ldxdw r3, [r10-8]', 'ldxdw r4, [r10-16]', 'add r3, 1', 'add r4, r3',
      'stxdw [r10-8], r3', 'stxdw [r10-16], r4', 'jlt r3, 1000, top', 'mov r0, r4', 'exit',
    ].join('\n')), loops);
    expect(two.ok ? two.processed : two.message).toBeLessThan(5000);
    const big = verify(assemble('mov r0, 0\n'.repeat(3000) + 'exit'), { ...HU, maxProcessed: 1000 });
    expect(big.ok ? '' : big.message).toMatch(/too complex to verify \(more than 1000 instructions processed\)/);
  });

  it('9. instruction fields are coerced to integers before they are compiled into source', () => {
    const g = globalThis as { pwned?: number };
    const evil = { opcode: 0xb7, dst: 0, src: 0, off: 0, imm: '0; globalThis.pwned = 1; //' } as unknown as Insn;
    const prog: Insn[] = [evil, { opcode: 0x07, dst: 0, src: 0, off: 0, imm: '2 + (globalThis.pwned = 2)' as unknown as number }, { opcode: 0x95, dst: 0, src: 0, off: 0, imm: 0 }];
    const c = compile(prog);
    const r = c.run({ memory: Memory.standard() });
    expect(g.pwned).toBeUndefined();
    expect(c.source).not.toMatch(/pwned/);
    // what the interpreter makes of the same fields (its typed arrays: NaN -> 0)
    expect(show(r)).toBe(show(interpret(prog, { memory: Memory.standard() })));
  });

  it('a faulted run reports its steps, and helper work counts as steps, in both engines', () => {
    // 3 instructions, then a 4096-byte memset (64 steps of work), then a read outside the region
    const prog = assemble(`mov r1, r2\nmov r2, 0\nmov r3, 4096\ncall ${HelperId.MEMSET}\nldxw r0, [r10+8]\nexit`);
    for (const { r } of both(prog)) expect(show(r)).toBe(`fault "read of 4 byte(s) at 0x2_00001008 is outside every granted region" at 4 steps ${5 + 64}`);
    // the work counts against the budget: the fault is at the call, right after it
    for (const { r } of both(prog, 20)) expect(show(r)).toBe('fault "instruction budget of 20 exhausted" at 3 steps 68');
    const ok = assemble(`mov r1, r2\nmov r2, 0\nmov r3, 4096\ncall ${HelperId.MEMSET}\nmov r0, 0\nexit`);
    for (const { r } of both(ok)) expect(show(r)).toBe(`ok 0 steps ${6 + 64}`);
  });

  it('decoding round trip keeps the coerced fields (the bytes are the contract)', () => {
    const p = assemble('mov r0, -1\nexit');
    expect(decode(encode(p))).toEqual(p);
  });
});
