// The introspection readers against tools nobody here wrote, on Debian's own 6.1 kernel image (the committed
// guest/images/linux bzImage): BTF against bpftool's raw dump and pahole's layouts (Debian packages bpftool
// and dwarves; .ci/run installs them), kallsyms against the kernel's exported-symbol table (__ksymtab, a
// separate table the kernel keeps for modules, PREL32 entries), against the ELF's own entry point and section
// headers, and the version against the image manifest.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Btf } from '../src/introspection/Btf.js';
import { LinuxKernel } from '../src/introspection/LinuxKernel.js';
import { bpftoolRaw } from './helpers/bpftoolRaw.js';
import { linuxManifest, loadVmlinux, vmlinuxUnavailable } from './helpers/linuxVmlinux.js';

const why = vmlinuxUnavailable();
if (why !== null) console.warn(`introspection tests skipped: ${why}`);
const has = (tool: string): boolean => {
  try {
    execFileSync(tool, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};
const noBpftool = has('bpftool') ? null : 'bpftool not installed (Debian package bpftool)';
const noPahole = has('pahole') ? null : 'pahole not installed (Debian package dwarves)';
if (why === null && noBpftool) console.warn(`BTF vs bpftool skipped: ${noBpftool}`);
if (why === null && noPahole) console.warn(`BTF vs pahole skipped: ${noPahole}`);

describe.skipIf(why !== null)('introspection of Debian 6.1 from its image', () => {
  let k: LinuxKernel;
  let dir: string;
  let vmlinuxPath: string;
  beforeAll(() => {
    const bytes = loadVmlinux();
    k = LinuxKernel.fromVmlinux(bytes);
    dir = mkdtempSync(join(tmpdir(), 'vmtrace-btf-'));
    vmlinuxPath = join(dir, 'vmlinux');
    writeFileSync(vmlinuxPath, bytes);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('finds BTF through kallsyms exactly where the section headers put .BTF', () => {
    const section = k.elf.section('.BTF');
    expect(section).not.toBeNull();
    const s = k.elf.sections.find((x) => x.name === '.BTF')!;
    expect(k.symbols.address('__start_BTF')).toBe(s.vaddr);
    expect(k.symbols.address('__stop_BTF') - k.symbols.address('__start_BTF')).toBe(s.size);
    expect(k.btf.types.length).toBe(Btf.parse(section!).types.length);
  });

  it.skipIf(noBpftool !== null)('parses every BTF type as bpftool does (raw dump, line for line)', () => {
    const want = execFileSync('bpftool', ['btf', 'dump', 'file', vmlinuxPath, 'format', 'raw'], { maxBuffer: 512 * 1024 * 1024 })
      .toString().trimEnd().split('\n');
    const got = bpftoolRaw(k.btf);
    expect(got.length).toBe(want.length);
    const firstDiff = got.findIndex((l, i) => l !== want[i]);
    expect(firstDiff === -1 ? null : { line: firstDiff, ours: got[firstDiff], bpftool: want[firstDiff] }).toBeNull();
  });

  it.skipIf(noPahole !== null)('lays out task_struct, mm_struct, thread_struct and pt_regs as pahole does', () => {
    const pahole = (struct: string): Map<string, { offset: number; size: number }> => {
      const out = execFileSync('pahole', ['-F', 'btf', '-C', struct, vmlinuxPath]).toString();
      const m = new Map<string, { offset: number; size: number }>();
      // "<type> <name>;  /* <offset> <size> */" (inner members of anonymous structs/unions at absolute offsets)
      for (const line of out.split('\n')) {
        const r = /[\s*]([A-Za-z_][A-Za-z0-9_]*)(\[\d+\])*(\s+__attribute__\(\(.*\)\))?;\s*\/\*\s+(\d+)\s+(\d+)\s+\*\//.exec(line);
        if (r && !m.has(r[1])) m.set(r[1], { offset: Number(r[4]), size: Number(r[5]) });
      }
      return m;
    };
    const task = pahole('task_struct');
    const L = k.layout;
    const check = (name: string, ours: number) => expect(ours, `task_struct.${name}`).toBe(task.get(name)?.offset);
    check('pid', L.pid); check('tgid', L.tgid); check('comm', L.comm); check('mm', L.mm); check('active_mm', L.activeMm);
    check('real_parent', L.realParent); check('group_leader', L.groupLeader); check('tasks', L.tasks);
    check('thread_group', L.threadGroup); check('flags', L.flags); check('exit_state', L.exitState); check('stack', L.stack);
    check('signal', L.signal);
    expect(L.commSize).toBe(task.get('comm')!.size);
    expect(L.threadSp).toBe(task.get('thread')!.offset + pahole('thread_struct').get('sp')!.offset);
    expect(L.mmPgd).toBe(pahole('mm_struct').get('pgd')!.offset);
    expect(L.ptRegsSp).toBe(pahole('pt_regs').get('sp')!.offset);
    expect(L.signalLive).toBe(pahole('signal_struct').get('live')!.offset);
    expect(L.binprmFilename).toBe(pahole('linux_binprm').get('filename')!.offset);
  });

  it('reads kallsyms agreeing with the exported-symbol table, the ELF entry point and linux_banner', () => {
    expect(k.symbols.symbols.length).toBeGreaterThan(50_000);
    // __ksymtab / __ksymtab_gpl: struct kernel_symbol { int value_offset, name_offset, namespace_offset } (PREL32).
    const strings = k.elf.sections.find((s) => s.name === '__ksymtab_strings')!;
    let checked = 0;
    const mismatches: string[] = [];
    for (const name of ['__ksymtab', '__ksymtab_gpl']) {
      const sec = k.elf.sections.find((s) => s.name === name)!;
      const b = k.elf.section(name)!;
      const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
      for (let off = 0; off + 12 <= b.length; off += 12) {
        const at = sec.vaddr + off;
        const value = at + v.getInt32(off, true);
        const nameAt = at + 4 + v.getInt32(off + 4, true);
        const sb = k.elf.read(nameAt, 256)!;
        const sym = new TextDecoder().decode(sb.subarray(0, sb.indexOf(0)));
        expect(nameAt).toBeGreaterThanOrEqual(strings.vaddr);
        const ours = k.symbols.lookup(sym);
        if (ours?.address !== value) mismatches.push(`${sym}: kallsyms ${ours?.address.toString(16)} ksymtab ${value.toString(16)}`);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(10_000);
    expect(mismatches.slice(0, 5)).toEqual([]);
    // The ELF entry (physical 0x1000000, the start of the first segment) is startup_64.
    expect(k.symbols.address('startup_64')).toBe(k.elf.textSegment.vaddr);
    expect(k.symbols.symbolAt(k.symbols.address('do_exit') + 5)?.symbol.name).toBe('do_exit');
    expect(k.version).toContain(linuxManifest().kernel.version.replace(/^Linux version /, '').split(' ')[0]);
    expect(k.version.startsWith(linuxManifest().kernel.version)).toBe(true);
  });
});
