// The hyperupcall programs the guest ships: assembly in the bpf_conformance dialect under guest/hyperupcalls/,
// assembled with our assembler into the bytecode committed under guest/images/hyperupcalls/ (the guest kernel
// embeds those bytes). `npx tsx src/hypervisor/hyperupcalls/programs.ts` reassembles them;
// test/hyperupcall-programs.test.ts checks that the committed bytes match.

import { readFileSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { join, basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assemble } from '../ebpf/assembler.js';
import { encode } from '../ebpf/isa.js';
import { guestDir } from '../workloads.js';

export interface GuestHyperupcall {
  name: string;
  source: string;
  bytes: Uint8Array;
}

/** Assemble every guest/hyperupcalls/*.asm. */
export function assembleGuestPrograms(dir = join(guestDir(), 'hyperupcalls')): GuestHyperupcall[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.asm'))
    .sort()
    .map((f) => {
      const source = readFileSync(join(dir, f), 'utf8');
      return { name: basename(f, '.asm'), source, bytes: encode(assemble(source)) };
    });
}

/** The committed bytecode of one program. */
export function committedProgram(name: string): Uint8Array {
  return new Uint8Array(readFileSync(join(guestDir(), 'images', 'hyperupcalls', `${name}.bin`)));
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const out = join(guestDir(), 'images', 'hyperupcalls');
  mkdirSync(out, { recursive: true });
  for (const p of assembleGuestPrograms()) {
    writeFileSync(join(out, `${p.name}.bin`), p.bytes);
    console.log(`${p.name}.bin: ${p.bytes.length / 8} slots`);
  }
}
