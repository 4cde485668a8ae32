// `trace ebpf test <file.data>...`: run bpf_conformance files through assembler, verifier, interpreter and
// compiler; `trace ebpf asm <file>` / `trace ebpf disasm <file>`: the assembler and disassembler.

import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { UserError } from '../errors.js';
import { AsmError, assemble } from '../hypervisor/ebpf/assembler.js';
import { runConformance, LOOP_BUDGET } from '../hypervisor/ebpf/conformance.js';
import { disassemble } from '../hypervisor/ebpf/disassembler.js';
import { EbpfDecodeError, decode, encode } from '../hypervisor/ebpf/isa.js';
import { parseDataFile, DataFileError } from '../hypervisor/ebpf/parseDataFile.js';

function read(file: string, encoding?: 'utf8'): string | Buffer {
  try {
    return encoding ? readFileSync(file, encoding) : readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(code === 'ENOENT' ? `${file}: no such file` : code === 'EISDIR' ? `${file}: is a directory` : `${file}: ${(e as Error).message}`);
  }
}

/** Files named on the command line; a directory stands for its *.data files (a missing one stays, to FAIL). */
function expand(files: string[]): string[] {
  const out: string[] = [];
  for (const f of files) {
    let dir = false;
    try {
      dir = statSync(f).isDirectory();
    } catch {
      // reported as FAIL when read
    }
    if (dir) out.push(...readdirSync(f).filter((n) => n.endsWith('.data')).sort().map((n) => path.join(f, n)));
    else out.push(f);
  }
  return out;
}

/** The report of `trace ebpf test`; returns the text and whether everything passed. */
export function ebpfTest(files: string[]): { text: string; ok: boolean } {
  const lines: string[] = [];
  let passed = 0, failed = 0, skipped = 0;
  const all = expand(files);
  for (const f of all) {
    let text: string;
    try {
      text = read(f, 'utf8') as string;
    } catch (e) {
      failed++;
      lines.push(`FAIL ${f}: ${(e as Error).message.replace(`${f}: `, '')}`);
      continue;
    }
    const r = runConformance(text);
    if (r.status === 'pass') {
      passed++;
      lines.push(`PASS ${f}${r.neededLoops ? ` (has loops: verified with allowLoops, run-time budget ${LOOP_BUDGET} instructions)` : ''}`);
    } else if (r.status === 'skip') {
      skipped++;
      lines.push(`SKIP ${f}: ${r.reason}`);
    }
    else {
      failed++;
      lines.push(`FAIL ${f}: ${r.reason}`);
    }
  }
  lines.push(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`);
  // Nothing tested is not a pass: an empty directory, or files with neither a result nor an error section.
  if (passed + failed === 0) lines.push(all.length === 0 ? 'no .data files to test' : 'nothing was tested: no file has a result or an error section');
  return { text: `${lines.join('\n')}\n`, ok: failed === 0 && passed > 0 };
}

function sourceOf(file: string): string {
  const text = read(file, 'utf8') as string;
  if (!file.endsWith('.data')) return text;
  try {
    return parseDataFile(text).asm;
  } catch (e) {
    if (e instanceof DataFileError) throw new UserError(`${file}: ${e.message}`);
    throw e;
  }
}

export function register(program: Command): void {
  const ebpf = program.command('ebpf').description('eBPF for hyperupcalls: conformance runs, assembler, disassembler');
  ebpf
    .command('test')
    .description('run bpf_conformance .data files (or directories of them) through assembler, verifier, interpreter and compiler')
    .argument('<files...>', '.data files or directories')
    .action((files: string[]) => {
      const { text, ok } = ebpfTest(files);
      process.stdout.write(text);
      if (!ok) process.exitCode = 1;
    });
  ebpf
    .command('asm')
    .description('assemble a program (text, or the asm section of a .data file); prints hex, or writes bytecode with -o')
    .argument('<file>')
    .option('-o, --output <file>', 'write the raw bytecode here')
    .action((file: string, opts: { output?: string }) => {
      let bytes: Uint8Array;
      try {
        bytes = encode(assemble(sourceOf(file)));
      } catch (e) {
        if (e instanceof AsmError) throw new UserError(`${file}: ${e.message}`);
        throw e;
      }
      if (opts.output) {
        try {
          writeFileSync(opts.output, bytes);
        } catch (e) {
          throw new UserError(`${opts.output}: ${(e as Error).message}`);
        }
        return;
      }
      const hex: string[] = [];
      for (let p = 0; p < bytes.length; p += 8) hex.push(Buffer.from(bytes.subarray(p, p + 8)).toString('hex'));
      process.stdout.write(`${hex.join('\n')}\n`);
    });
  ebpf
    .command('disasm')
    .description('disassemble raw eBPF bytecode (8 bytes per instruction, little-endian)')
    .argument('<file>')
    .action((file: string) => {
      const buf = read(file) as Buffer;
      try {
        process.stdout.write(disassemble(decode(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength))));
      } catch (e) {
        if (e instanceof EbpfDecodeError) throw new UserError(`${file}: ${e.message}`);
        throw e;
      }
    });
}
