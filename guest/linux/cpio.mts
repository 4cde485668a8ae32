// A cpio "newc" archive writer (the format the kernel unpacks as an initramfs: Documentation/driver-api/
// early-userspace/buffer-format.rst). Deterministic: inode numbers in entry order, mtime 0, owner root.
export interface CpioEntry {
  /** Path without a leading slash. */
  name: string;
  kind: 'dir' | 'file' | 'chardev';
  /** Permission bits (e.g. 0o755). */
  perm: number;
  data?: Uint8Array;
  /** For chardev: major, minor. */
  rdev?: [number, number];
}

const MODE = { dir: 0o040000, file: 0o100000, chardev: 0o020000 } as const;

export function newc(entries: CpioEntry[]): Uint8Array {
  const parts: Uint8Array[] = [];
  let size = 0;
  const push = (b: Uint8Array): void => {
    parts.push(b);
    size += b.length;
    const pad = (4 - (size % 4)) % 4;
    if (pad) {
      parts.push(new Uint8Array(pad));
      size += pad;
    }
  };
  const hex = (n: number): string => n.toString(16).padStart(8, '0');
  const header = (ino: number, mode: number, nlink: number, filesize: number, rdev: [number, number], name: string): void => {
    const nameBytes = new TextEncoder().encode(`${name}\0`);
    const fields = [ino, mode, 0, 0, nlink, 0, filesize, 0, 0, rdev[0], rdev[1], nameBytes.length, 0];
    const head = new TextEncoder().encode(`070701${fields.map(hex).join('')}`);
    const b = new Uint8Array(head.length + nameBytes.length);
    b.set(head);
    b.set(nameBytes, head.length);
    push(b);
  };
  entries.forEach((e, i) => {
    const data = e.kind === 'file' ? (e.data ?? new Uint8Array(0)) : new Uint8Array(0);
    header(i + 1, MODE[e.kind] | e.perm, e.kind === 'dir' ? 2 : 1, data.length, e.rdev ?? [0, 0], e.name);
    if (data.length) push(data);
  });
  header(0, 0, 1, 0, [0, 0], 'TRAILER!!!');
  const out = new Uint8Array(size);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** The regular files of a newc archive by path (no leading slash); used to take files from a committed one. */
export function readNewc(bytes: Uint8Array): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  const text = (a: number, n: number): string => String.fromCharCode(...bytes.subarray(a, a + n));
  const align = (n: number): number => (n + 3) & ~3;
  let o = 0;
  for (;;) {
    if (o + 110 > bytes.length || text(o, 6) !== '070701') throw new Error(`cpio: no newc header at offset ${o}`);
    const field = (i: number): number => parseInt(text(o + 6 + i * 8, 8), 16);
    const mode = field(1), filesize = field(6), namesize = field(11);
    const name = text(o + 110, namesize - 1);
    if (name === 'TRAILER!!!') return files;
    const data = align(o + 110 + namesize);
    if ((mode & 0o170000) === MODE.file) files.set(name, bytes.subarray(data, data + filesize));
    o = align(data + filesize);
  }
}
