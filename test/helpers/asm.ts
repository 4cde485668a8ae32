// Assemble Intel-syntax x86-64 text with the host's GNU assembler (binutils) into raw bytes, for tests.
// Results are cached by content hash so repeated runs do not spawn the assembler.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const CACHE = join(process.cwd(), 'node_modules', '.cache', 'vmtrace-asm');

let available: string | null | undefined;

/** null when `as` and `objcopy` work; otherwise why not (tests skip with this message). */
export function assemblerMissing(): string | null {
  if (available !== undefined) return available;
  try {
    execFileSync('as', ['--version'], { stdio: 'ignore' });
    execFileSync('ld', ['--version'], { stdio: 'ignore' });
    available = process.arch === 'x64' || process.arch === 'ia32' ? null : `host is ${process.arch}`;
  } catch {
    available = 'GNU as/ld (binutils) not found';
  }
  return available;
}

/** Assemble `source` (Intel syntax, no prefix) placed at address `origin`; returns the flat bytes. */
export function asm(source: string, origin = 0): Uint8Array {
  const text = `.intel_syntax noprefix\n.code64\n.text\n${source}\n`;
  const key = createHash('sha256').update(`${origin}\n${text}`).digest('hex').slice(0, 24);
  mkdirSync(CACHE, { recursive: true });
  const bin = join(CACHE, `${key}.bin`);
  if (existsSync(bin)) return new Uint8Array(readFileSync(bin));
  const src = join(CACHE, `${key}.s`);
  const obj = join(CACHE, `${key}.o`);
  writeFileSync(src, text);
  execFileSync('as', ['--64', '-o', obj, src]);
  // Link-free relocation of absolute references: objcopy with --change-addresses for the origin.
  execFileSync('ld', ['-Ttext', `0x${origin.toString(16)}`, '--oformat', 'binary', '-e', '0', '-o', bin, obj], { stdio: 'pipe' });
  return new Uint8Array(readFileSync(bin));
}
