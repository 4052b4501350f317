import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect } from 'vitest';
import { makeDataset, type Dataset } from '../../src/data/dataset.js';
import { DataFormatError } from '../../src/data/errors.js';

/** A temporary folder removed after the test file. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'retort-data-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes `bytes` to dir/name and returns the path. */
export function put(dir: string, name: string, bytes: Uint8Array | number[]): string {
  const path = join(dir, name);
  writeFileSync(path, bytes instanceof Uint8Array ? bytes : Uint8Array.from(bytes));
  return path;
}

export const hex = (s: string): Uint8Array => Uint8Array.from(s.match(/../g)!.map((h) => parseInt(h, 16)));

/** Expects `fn` to throw a DataFormatError for `file` whose message matches `problem`. */
export function expectDataError(fn: () => unknown, file: string, problem: RegExp): DataFormatError {
  let caught: unknown;
  try { fn(); } catch (err) { caught = err; }
  expect(caught).toBeInstanceOf(DataFormatError);
  const e = caught as DataFormatError;
  expect(e.file).toBe(file);
  expect(e.message.startsWith(`${file}: `)).toBe(true);
  expect(e.message).toMatch(problem);
  return e;
}

/** A small u8 dataset: n samples of h x w with pixel (i, j) of sample s = (s * 7 + i * w + j) % 256. */
export function tinyDataset(n: number, h = 4, w = 4, classes = 3): Dataset {
  const x = new Uint8Array(n * h * w);
  for (let k = 0; k < x.length; k++) x[k] = (Math.floor(k / (h * w)) * 7 + (k % (h * w))) % 256;
  const y = Int32Array.from({ length: n }, (_, s) => s % classes);
  return makeDataset(x, [n, h, w], y, { xFile: 'x', yFile: 'y' }, { name: 'tiny', classes });
}

/** A .safetensors file of raw little-endian tensors of any dtype (the writer stores floats only). */
export function rawSafetensors(tensors: Record<string, { dtype: string; shape: number[]; bytes: Uint8Array }>): Uint8Array {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes.length] };
    offset += t.bytes.length;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const t of Object.values(tensors)) { out.set(t.bytes, at); at += t.bytes.length; }
  return out;
}

/** The int64 bytes of `v`, in host order (little-endian wherever these tests run). */
export const i64 = (v: number[]): Uint8Array => new Uint8Array(BigInt64Array.from(v.map(BigInt)).buffer);
