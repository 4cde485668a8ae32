// Tests that edit a file of a trace on purpose (to reach a check behind the manifest's checksums) re-seal the
// manifest: the file's size, SHA-256 and XXH64 as the writer records them.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { Xxh64Hash } from '../../src/record/fileHash.js';

export function resealFile(dir: string, rel: string, bytes: Uint8Array): void {
  writeFileSync(join(dir, rel), bytes);
  const manifestPath = join(dir, 'manifest.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { files: Array<{ path: string; bytes: number; sha256: string; xxh64?: string }> };
  const entry = manifest.files.find((f) => f.path === rel);
  if (entry === undefined) throw new Error(`${rel} is not listed in ${manifestPath}`);
  entry.bytes = bytes.length;
  entry.sha256 = createHash('sha256').update(bytes).digest('hex');
  entry.xxh64 = new Xxh64Hash().update(bytes).digest();
  writeFileSync(manifestPath, JSON.stringify(manifest, null, 2));
}
