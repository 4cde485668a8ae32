// The LZ4 frame decoder (src/record/lz4Frame.ts) against the reference implementation: frames written by the
// `lz4` command (Debian's lz4, the LZ4 project's own CLI) with each frame option it has, and frames written
// by lz4-napi (what the recorder writes), decoded back to the original bytes. Without `lz4` the CLI cases skip.

import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { compressFrameSync } from 'lz4-napi';
import { decodeLz4Frame, Lz4FormatError } from '../src/record/lz4Frame.js';
import { lz4DecompressFrames } from '../src/record/compression.js';

const hasLz4 = spawnSync('lz4', ['--version'], { encoding: 'utf8' }).status === 0;

/** Data with structure an LZ4 encoder finds: runs, repeats at many distances, words and noise (seeded). */
function sample(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  const rnd = (): number => ((x ^= x << 13), (x ^= x >>> 17), (x ^= x << 5), x >>> 0);
  for (let i = 0; i < n;) {
    const kind = rnd() % 4;
    const len = 1 + (rnd() % 300);
    for (let k = 0; k < len && i < n; k++, i++) {
      if (kind === 0) b[i] = rnd() & 0xff; // noise
      else if (kind === 1) b[i] = 7; // run
      else if (kind === 2 && i > 1000) b[i] = b[i - 1 - (rnd() % 8) * 97]!; // short repeats
      else b[i] = i > 70000 ? b[i - 65535]! : (i * 31) & 0x3f; // far repeats (the 64 KiB window's edge)
    }
  }
  return b;
}

function cli(args: string[], input: Uint8Array): Uint8Array {
  const r = spawnSync('lz4', [...args, '-c'], { input, maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`lz4 ${args.join(' ')}: ${r.stderr.toString()}`);
  return new Uint8Array(r.stdout.buffer, r.stdout.byteOffset, r.stdout.byteLength);
}

describe('LZ4 frame decoder', () => {
  const inputs = [0, 1, 15, 4096, 100_000, 5_000_000].map((n, i) => sample(n, 11 + i));

  it.skipIf(!hasLz4)('decodes what the lz4 command writes, with every frame option', () => {
    const options = [[], ['-1'], ['-9'], ['--fast=5'], ['-BD'], ['-B4'], ['-B5', '-BD'], ['-B7'], ['--content-size'], ['-BX'], ['--no-frame-crc'],
      ['-B4', '-BD', '-BX', '--content-size']];
    let cases = 0;
    for (const opt of options) {
      for (const input of inputs) {
        const frame = cli(opt, input);
        const { data, length } = decodeLz4Frame(frame);
        expect(length, `lz4 ${opt.join(' ')} of ${input.length} bytes`).toBe(frame.length);
        expect(Buffer.compare(Buffer.from(data), Buffer.from(input)), `lz4 ${opt.join(' ')} of ${input.length} bytes`).toBe(0);
        cases++;
      }
    }
    expect(cases).toBe(options.length * inputs.length);
  });

  it.skipIf(!hasLz4)('decodes concatenated frames as lz4 -dc does', () => {
    const parts = inputs.slice(1, 5).map((b) => cli(['-BD'], b));
    const all = Buffer.concat(parts);
    const want = spawnSync('lz4', ['-dc'], { input: all, maxBuffer: 1 << 28 }).stdout;
    expect(Buffer.compare(Buffer.from(lz4DecompressFrames(all)), want)).toBe(0);
  });

  it('decodes what lz4-napi writes (the recorder), with and without a size hint', () => {
    for (const input of inputs) {
      const frame = compressFrameSync(Buffer.from(input), { contentChecksum: false });
      expect(Buffer.compare(Buffer.from(decodeLz4Frame(frame).data), Buffer.from(input))).toBe(0);
      expect(Buffer.compare(Buffer.from(decodeLz4Frame(frame, 0, input.length).data), Buffer.from(input))).toBe(0);
    }
  });

  it('rejects damaged frames with an error, never a hang or a wrong length', () => {
    const frame = compressFrameSync(Buffer.from(inputs[4]!), { contentChecksum: false });
    expect(() => decodeLz4Frame(frame.subarray(0, frame.length - 7))).toThrow(Lz4FormatError);
    expect(() => decodeLz4Frame(frame.subarray(0, 5))).toThrow(Lz4FormatError);
    const bad = Uint8Array.from(frame);
    bad[0] = 0;
    expect(() => decodeLz4Frame(bad)).toThrow(/no LZ4 frame/);
    // Corrupt block contents: whatever the decoder makes of them, it stops with an error or within the block size.
    let threw = 0;
    for (let k = 0; k < 50; k++) {
      const c = Uint8Array.from(frame);
      c[20 + k * 97] ^= 0x5a;
      try {
        decodeLz4Frame(c);
      } catch (e) {
        expect(e).toBeInstanceOf(Lz4FormatError);
        threw++;
      }
    }
    expect(threw).toBeGreaterThan(0);
  });
});
