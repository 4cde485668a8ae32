// Reader for the bpf_conformance `.data` format: sections introduced by `-- name` lines (`asm`, `mem`,
// `result`, `error`, and `c` / `no register offset`, which are ignored); `#` starts a comment.

export interface DataFile {
  asm: string;
  /** The program's memory (r1 points at it, r2 holds its length). */
  mem: Uint8Array;
  /** Expected r0 (u64), if the file has a result section. */
  result?: bigint;
  /** Expected failure text, if the file has an error section. */
  error?: string;
}

export class DataFileError extends Error {
  override name = 'DataFileError';
}

export function parseDataFile(text: string): DataFile {
  const sections = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const m = /^\s*--\s*(.+?)\s*$/.exec(raw);
    if (m) {
      current = [];
      sections.set(m[1]!.toLowerCase(), current);
      continue;
    }
    current?.push(raw);
  }
  const asm = sections.get('asm');
  if (asm === undefined) throw new DataFileError('no "-- asm" section');
  const strip = (lines: string[] | undefined): string =>
    (lines ?? []).map((l) => l.replace(/#.*$/, '').trim()).filter((l) => l !== '').join(' ');
  const memText = strip(sections.get('mem'));
  const bytes = memText === '' ? [] : memText.split(/\s+/).map((h) => {
    if (!/^[0-9a-f]{1,2}$/i.test(h)) throw new DataFileError(`bad byte "${h}" in "-- mem"`);
    return parseInt(h, 16);
  });
  const out: DataFile = { asm: asm.join('\n'), mem: Uint8Array.from(bytes) };
  const res = strip(sections.get('result'));
  if (sections.has('result')) {
    if (!/^(0x[0-9a-f]+|[0-9]+)$/i.test(res)) throw new DataFileError(`bad "-- result" value "${res}"`);
    // Hex when it contains 0x, decimal otherwise; compared as u64.
    out.result = BigInt.asUintN(64, BigInt(res));
  }
  if (sections.has('error')) out.error = strip(sections.get('error'));
  return out;
}
