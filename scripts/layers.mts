// The layer graph of src/ (the developers' guide: imports go one way only) and its violations.
// Usage: npm run layers   (prints which layer imports which, with file counts, and every import that runs
// against the order; exits 1 if there is one). test/layers.test.ts runs the same check.
//
// Imports are read with TypeScript's own pre-processor (import, import type, export ... from, import()),
// so nothing here parses TypeScript by hand.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/**
 * The layers, lowest first; a layer may import its own and lower ranks only. Layers of one rank (export,
 * report) are siblings and do not import each other. `base` is the files directly in src/ that every layer
 * may use (BASE_FILES: the error types, the count parser); `index` is src/index.ts, the public surface, which
 * may import anything.
 */
export const LAYER_ORDER: readonly (readonly string[])[] = [
  ['base'],
  ['emulator'],
  ['introspection'],
  ['hypervisor'],
  ['record'],
  ['replay'],
  ['analyses'],
  ['export', 'report'],
  ['cli'],
  ['index'],
];

/** Files directly in src/ that form the base layer. */
export const BASE_FILES: readonly string[] = ['errors.ts', 'parseCount.ts'];

const RANK = new Map<string, number>(LAYER_ORDER.flatMap((names, rank) => names.map((n) => [n, rank] as const)));

export interface Import {
  from: string; // file, relative to the root, with '/' separators
  to: string;
  line: number;
  fromLayer: string;
  toLayer: string;
}

/** The layer a file under src/ belongs to, or null when its place in the order is not declared. */
export function layerOf(file: string): string | null {
  const parts = file.split('/');
  if (parts[0] !== 'src') return null;
  if (parts.length === 2) {
    if (parts[1] === 'index.ts') return 'index';
    return BASE_FILES.includes(parts[1]) ? 'base' : null;
  }
  return RANK.has(parts[1]) ? parts[1] : null;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Every relative import between the files of `root`/src (package imports are not layers). */
export function importsOf(root: string): { imports: Import[]; unplaced: string[] } {
  const imports: Import[] = [];
  const unplaced: string[] = [];
  for (const abs of sourceFiles(join(root, 'src'))) {
    const from = relative(root, abs).split(sep).join('/');
    const fromLayer = layerOf(from);
    if (fromLayer === null) {
      unplaced.push(from);
      continue;
    }
    const text = readFileSync(abs, 'utf8');
    const info = ts.preProcessFile(text, true, true);
    for (const ref of info.importedFiles) {
      if (!ref.fileName.startsWith('.')) continue;
      const target = resolve(dirname(abs), ref.fileName).replace(/\.js$/, '.ts');
      const to = relative(root, target).split(sep).join('/');
      const line = text.slice(0, ref.pos).split('\n').length;
      imports.push({ from, to, line, fromLayer, toLayer: layerOf(to) ?? `? ${to}` });
    }
  }
  return { imports, unplaced };
}

/** Whether a file of layer `from` may import one of layer `to`. */
export function allowed(from: string, to: string): boolean {
  if (from === to || from === 'index') return true;
  const a = RANK.get(from);
  const b = RANK.get(to);
  return a !== undefined && b !== undefined && b < a;
}

export interface LayerReport {
  /** from layer -> to layer -> number of files of `from` importing `to`. */
  edges: Map<string, Map<string, number>>;
  violations: Import[];
  unplaced: string[];
}

export function checkLayers(root: string): LayerReport {
  const { imports, unplaced } = importsOf(root);
  const files = new Map<string, Set<string>>();
  const violations: Import[] = [];
  for (const i of imports) {
    if (i.fromLayer !== i.toLayer) {
      const key = `${i.fromLayer}\0${i.toLayer}`;
      if (!files.has(key)) files.set(key, new Set());
      files.get(key)!.add(i.from);
    }
    if (!allowed(i.fromLayer, i.toLayer)) violations.push(i);
  }
  const edges = new Map<string, Map<string, number>>();
  for (const [key, set] of files) {
    const [a, b] = key.split('\0');
    if (!edges.has(a)) edges.set(a, new Map());
    edges.get(a)!.set(b, set.size);
  }
  return { edges, violations, unplaced };
}

/** The report as text: one line per layer (what it imports), then the violations. */
export function formatReport(r: LayerReport): string {
  const lines: string[] = ['layer graph of src/ (lowest first; "-> x (n)": n files import layer x)'];
  const names = [...new Set([...LAYER_ORDER.flat(), ...r.edges.keys()])];
  for (const name of names) {
    const out = r.edges.get(name);
    if (out === undefined) continue;
    const targets = [...out].sort((x, y) => (RANK.get(x[0]) ?? 99) - (RANK.get(y[0]) ?? 99) || x[0].localeCompare(y[0]));
    lines.push(`  ${name.padEnd(13)} -> ${targets.map(([t, n]) => `${t} (${n})${allowed(name, t) ? '' : ' UPWARD'}`).join(', ')}`);
  }
  for (const f of r.unplaced) lines.push(`not in the layer order: ${f}`);
  if (r.violations.length === 0 && r.unplaced.length === 0) lines.push('no import runs against the order');
  else {
    lines.push(`${r.violations.length} import(s) against the order:`);
    for (const v of r.violations) lines.push(`  ${v.from}:${v.line} (${v.fromLayer}) imports ${v.to} (${v.toLayer})`);
  }
  return lines.join('\n');
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const r = checkLayers(root);
  process.stdout.write(`${formatReport(r)}\n`);
  if (r.violations.length > 0 || r.unplaced.length > 0) process.exitCode = 1;
}
