// Assembles many small Intel-syntax snippets with one run of the host's GNU assembler (binutils), so the
// encodings come from a tool nobody here wrote. Results are cached by the hash of the whole source.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const CACHE = join(process.cwd(), 'node_modules', '.cache', 'vmtrace-diff');

/**
 * Assemble each snippet (GNU as, `.intel_syntax noprefix`, lines separated by '\n' or ';') independently
 * placed at offset 0; returns the bytes of each. Snippets may use numeric local labels (`1:`, `jmp 1f`).
 */
export function assembleAll(snippets: string[]): Uint8Array[] {
  const lines = ['.intel_syntax noprefix', '.code64', '.text'];
  const lineOf: number[] = [];
  snippets.forEach((s, i) => {
    lines.push(`S${i}:`);
    for (const l of s.split(/[;\n]/)) {
      lines.push(l);
      lineOf[lines.length] = i;
    }
  });
  lines.push(`S${snippets.length}:`, '');
  const text = lines.join('\n');
  const key = createHash('sha256').update(text).digest('hex').slice(0, 24);
  mkdirSync(CACHE, { recursive: true });
  const bin = join(CACHE, `asm-${key}.bin`);
  const offs = join(CACHE, `asm-${key}.json`);
  if (!existsSync(bin) || !existsSync(offs)) {
    const tmp = join(CACHE, `asm-${key}-${process.pid}`);
    writeFileSync(`${tmp}.s`, text);
    try {
      execFileSync('as', ['--64', '-o', `${tmp}.o`, `${tmp}.s`], { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (e) {
      const err = (e as { stderr?: Buffer }).stderr?.toString() ?? String(e);
      const m = /:(\d+): Error/.exec(err);
      const which = m ? lineOf[Number(m[1])] : undefined;
      throw new Error(`as failed${which !== undefined ? ` on snippet ${which}: ${snippets[which]}` : ''}\n${err.slice(0, 2000)}`);
    }
    const nm = execFileSync('nm', ['--defined-only', `${tmp}.o`]).toString();
    const at: number[] = [];
    for (const line of nm.split('\n')) {
      const m = /^([0-9a-f]+) \w S(\d+)$/.exec(line.trim());
      if (m) at[Number(m[2])] = parseInt(m[1], 16);
    }
    execFileSync('objcopy', ['-O', 'binary', '--only-section=.text', `${tmp}.o`, `${tmp}.bin`]);
    writeFileSync(`${tmp}.json`, JSON.stringify(at));
    renameSync(`${tmp}.json`, offs);
    renameSync(`${tmp}.bin`, bin);
    rmSync(`${tmp}.s`, { force: true });
    rmSync(`${tmp}.o`, { force: true });
  }
  const bytes = new Uint8Array(readFileSync(bin));
  const at = JSON.parse(readFileSync(offs, 'utf8')) as number[];
  const out: Uint8Array[] = [];
  for (let i = 0; i < snippets.length; i++) {
    if (at[i] === undefined || at[i + 1] === undefined) throw new Error(`no label for snippet ${i}`);
    out.push(bytes.slice(at[i], at[i + 1]));
  }
  return out;
}
