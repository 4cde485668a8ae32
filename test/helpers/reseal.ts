// Tests that edit a file of a trace on purpose (to reach a check behind the manifest's checksums) re-seal the
// manifest: the file's size, SHA-256 and XXH64 (whole and per block) as the writer records them.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { StreamDigest } from '../../src/record/fileHash.js';

export function resealFile(dir: string, rel: string, bytes: Uint8Array): void {
  writeFileSync(join(dir, rel), bytes);
  const manifestPath = join(dir, 'manifest.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { files: Array<{ path: string; bytes: number; sha256: string; xxh64?: string; blocks?: unknown }> };
  const entry = manifest.files.find((f) => f.path === rel);
  if (entry === undefined) throw new Error(`${rel} is not listed in ${manifestPath}`);
  entry.bytes = bytes.length;
  entry.sha256 = createHash('sha256').update(bytes).digest('hex');
  const d = new StreamDigest().update(bytes).digest();
  entry.xxh64 = d.xxh64;
  if (entry.blocks !== undefined) entry.blocks = d.blocks;
  writeFileSync(manifestPath, JSON.stringify(manifest, null, 2));
}
