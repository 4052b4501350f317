import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../../src/io/atomic.js';
import { tempDir } from './helpers.js';

const dir = tempDir();

describe('writeFileAtomic', () => {
  it('creates and replaces a file, leaving no temporary behind', () => {
    const f = join(dir, 'model.bin');
    writeFileAtomic(f, new Uint8Array([1, 2, 3]));
    writeFileAtomic(f, new Uint8Array([4, 5]));
    expect(Array.from(readFileSync(f))).toEqual([4, 5]);
    expect(readdirSync(dir)).toEqual(['model.bin']);
  });

  it('removes its temporary file when the rename fails', () => {
    const target = join(dir, 'occupied');
    mkdirSync(join(target, 'child'), { recursive: true }); // a non-empty directory cannot be renamed over
    expect(() => writeFileAtomic(target, new Uint8Array([1]))).toThrow();
    expect(readdirSync(dir).sort()).toEqual(['model.bin', 'occupied']);
  });

  it('fails cleanly when the folder does not exist', () => {
    expect(() => writeFileAtomic(join(dir, 'missing', 'f'), new Uint8Array([1]))).toThrow(/ENOENT/);
  });
});
