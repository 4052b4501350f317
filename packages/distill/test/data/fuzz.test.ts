// Every reader of user files, fuzzed: valid inputs mutated by a seeded PRNG (bytes flipped, set to
// edge values, runs inserted, duplicated or cut, the tail truncated) must parse or fail with the
// reader's typed error (DataFormatError, or ModelFormatError for model files) naming the input, never
// another exception and never a hang (each format's cases run under the test's time limit).
// RETORT_FUZZ_CASES sets the cases per format (default 10,000); a failure names the case, and
// (format, case) reproduces it exactly.
import { encode as encodePng } from 'fast-png';
import jpeg from 'jpeg-js';
import { zipSync } from 'fflate';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseTeacherOutputsIndex, topKRows } from '../../src/data/teacher-outputs.js';
import { allRows, ShardedLogitTable } from '../../src/node/teacher-outputs.js';
import { ShardedDataset } from '../../src/node/shard-data.js';
import { DataFormatError } from '../../src/data/errors.js';
import { readIdx, writeIdx } from '../../src/data/idx.js';
import { decodeImage } from '../../src/data/image.js';
import { readNpy, writeNpy } from '../../src/data/npy.js';
import { datasetsFromNpz, readNpz, readSafetensorsDataset } from '../../src/data/npz.js';
import { Xoshiro128 } from '../../src/data/random.js';
import { i64, rawSafetensors } from './helpers.js';
import { csvDataset, textDatasetFromCsv, textDatasetFromJsonl } from '../../src/data/table.js';
import { decodeModelFile, encodeModelFile, ModelFormatError, modelTensors } from '../../src/format/model-file.js';
import { readSafetensors, writeSafetensors } from '../../src/interop/safetensors.js';
import { compileSpec, parseModelSpec } from '../../src/model/spec.js';

const CASES = Number(process.env.RETORT_FUZZ_CASES ?? 10_000);
const EDGE = [0x00, 0xff, 0x7f, 0x80, 0x01, 0x30, 0x39, 0x2c, 0x0a, 0x22, 0x7b, 0x5b];

/** One mutation of `src` (1 to 4 edits), from the stream of (format, case). */
function mutate(src: Uint8Array, rng: Xoshiro128): Uint8Array {
  let b = src.slice();
  const edits = 1 + rng.below(4);
  for (let e = 0; e < edits; e++) {
    const at = b.length ? rng.below(b.length) : 0;
    switch (rng.below(6)) {
      case 0: if (b.length) b[at] = b[at]! ^ (1 << rng.below(8)); break; // flip a bit
      case 1: if (b.length) b[at] = EDGE[rng.below(EDGE.length)]!; break; // an edge value
      case 2: { // insert a short run of random bytes
        const run = Uint8Array.from({ length: 1 + rng.below(8) }, () => rng.below(256));
        b = Uint8Array.from([...b.subarray(0, at), ...run, ...b.subarray(at)]);
        break;
      }
      case 3: { // cut a run out
        const n = Math.min(b.length - at, 1 + rng.below(16));
        b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(at + n)]);
        break;
      }
      case 4: b = b.slice(0, at); break; // truncate
      default: { // duplicate a run in place
        const n = Math.min(b.length - at, 1 + rng.below(32));
        b = Uint8Array.from([...b.subarray(0, at + n), ...b.subarray(at, at + n), ...b.subarray(at + n)]);
      }
    }
  }
  return b;
}

const text = new TextEncoder();
const asText = (b: Uint8Array): string => new TextDecoder('utf-8').decode(b); // invalid bytes become U+FFFD

/** The valid inputs each reader starts from, and how a case is read. */
const FORMATS: { name: string; seeds: Uint8Array[]; read: (b: Uint8Array, label: string) => unknown; errors: (new (...a: never[]) => Error)[] }[] = [];

function format(name: string, seeds: Uint8Array[], read: (b: Uint8Array, label: string) => unknown,
                errors: (new (...a: never[]) => Error)[] = [DataFormatError]): void {
  FORMATS.push({ name, seeds, read, errors });
}

const u8 = (n: number, f: (i: number) => number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => f(i));

format('idx', [
  writeIdx({ type: 'u8', dims: [3, 4, 4], data: u8(48, (i) => i * 5) }),
  writeIdx({ type: 'i32', dims: [5], data: Int32Array.from([0, 1, 2, 1, 0]) }),
  writeIdx({ type: 'f32', dims: [2, 3], data: Float32Array.from([1, -2, 3.5, 0, 7, 8]) }),
], (b, l) => readIdx(b, l));

format('npy', [
  writeNpy({ dtype: 'u1', shape: [2, 3, 3], data: u8(18, (i) => i) }),
  writeNpy({ dtype: 'f4', shape: [4], data: Float32Array.from([1, 2, 3, 4]) }),
  writeNpy({ dtype: 'i4', shape: [3, 1], data: Int32Array.from([0, 2, 1]) }),
], (b, l) => readNpy(b, l));

const npzArrays = {
  x_train: writeNpy({ dtype: 'u1', shape: [4, 2, 2], data: u8(16, (i) => i * 9) }),
  y_train: writeNpy({ dtype: 'i4', shape: [4], data: Int32Array.from([0, 1, 0, 1]) }),
  x_test: writeNpy({ dtype: 'u1', shape: [2, 2, 2], data: u8(8, (i) => i) }),
  y_test: writeNpy({ dtype: 'i4', shape: [2, 1], data: Int32Array.from([1, 0]) }),
};
format('npz', [
  zipSync(Object.fromEntries(Object.entries(npzArrays).map(([k, v]) => [`${k}.npy`, v])), { level: 0 }),
  zipSync(Object.fromEntries(Object.entries(npzArrays).map(([k, v]) => [`${k}.npy`, v])), { level: 6 }),
], (b, l) => datasetsFromNpz(readNpz(b, l), l));

format('safetensors-dataset', [rawSafetensors({
  x_train: { dtype: 'U8', shape: [3, 2], bytes: u8(6, (i) => i) }, y_train: { dtype: 'I64', shape: [3], bytes: i64([0, 1, 1]) },
  x_test: { dtype: 'U8', shape: [1, 2], bytes: u8(2, (i) => i) }, y_test: { dtype: 'I64', shape: [1], bytes: i64([1]) },
})], (b, l) => datasetsFromNpz(readSafetensorsDataset(b, l), l));

format('safetensors', [writeSafetensors({ logits: { shape: [3, 4], data: Float32Array.from({ length: 12 }, (_, i) => i - 6) } }, { note: 'x' })],
  (b, l) => readSafetensors(b, l));

const greyPng = encodePng({ width: 5, height: 3, data: u8(15, (i) => i * 17), channels: 1, depth: 8 });
const rgbaPng = encodePng({ width: 3, height: 3, data: u8(36, (i) => i * 7), channels: 4, depth: 8 });
const palPng = encodePng({ width: 4, height: 2, data: u8(8, (i) => i % 2), channels: 1, depth: 8, palette: [[1, 2, 3], [200, 100, 0]] });
const bitPng = encodePng({ width: 5, height: 2, data: u8(2, (i) => 0xa5 ^ i), channels: 1, depth: 1 });
format('png', [greyPng, rgbaPng, palPng, bitPng], (b, l) => decodeImage(b, l));

const rgba = u8(8 * 8 * 4, (i) => (i % 4 === 3 ? 255 : (i * 31) % 256));
format('jpeg', [new Uint8Array(jpeg.encode({ width: 8, height: 8, data: rgba }, 90).data)], (b, l) => decodeImage(b, l));

format('csv', [
  text.encode('a,b,label\n1,2,0\n3.5,-4,1\n"5",6e1,2\n'),
  text.encode('x,species\n1,setosa\n2,virginica\n'),
], (b, l) => csvDataset(asText(b), l, { labelColumn: /species/.test(asText(b)) ? 'species' : 'label' }));

format('text-csv', [text.encode('text,label\n"hello, world",pos\nbye,neg\n')], (b, l) => textDatasetFromCsv(asText(b), l));

format('jsonl', [text.encode('{"text":"good","label":"pos"}\n{"text":"bad","label":0}\n{"text":"x","label":"neg"}\n')],
  (b, l) => textDatasetFromJsonl(asText(b), l));

const spec = parseModelSpec('mlp:4-3-2');
const params = Float32Array.from({ length: compileSpec(spec).paramCount }, (_, i) => (i % 7) / 10 - 0.3);
format('retort-model', [encodeModelFile({ spec, tensors: modelTensors(spec, params), meta: { mean: 0.1, note: 'seed' } })],
  (b, l) => decodeModelFile(b, l), [ModelFormatError]);

// teacher outputs: the index JSON, and a shard read through the file reader (its name is the case's label)
const outputsIndex = text.encode(JSON.stringify({
  format: 'retort-teacher-outputs', version: 1, kind: 'topk', rows: 6, classes: 5, k: 2, complete: true, shards: [{ file: 'a.safetensors', rows: 4 }, { file: 'b', rows: 2 }],
}));
format('teacher-outputs-index', [outputsIndex], (b, l) => {
  let raw: unknown;
  try { raw = JSON.parse(asText(b)); } catch { throw new DataFormatError(l, 'not valid JSON'); }
  return parseTeacherOutputsIndex(raw, l);
});
const shardDir = mkdtempSync(join(tmpdir(), 'retort-fuzz-outputs-'));
afterAll(() => rmSync(shardDir, { recursive: true, force: true }));
const topk = topKRows(Float32Array.from({ length: 30 }, (_, i) => Math.sin(i) * 3), 6, 5, 2);
format('teacher-outputs-shard', [
  writeSafetensors({ values: { shape: [6, 2], data: topk.values }, indices: { dtype: 'U16', shape: [6, 2], data: Uint16Array.from(topk.indices) }, logsumexp: { shape: [6], data: topk.logsumexp } }),
], (b, l) => {
  writeFileSync(join(shardDir, l), b);
  writeFileSync(join(shardDir, 'index.json'), JSON.stringify({ format: 'retort-teacher-outputs', version: 1, kind: 'topk', rows: 6, classes: 5, k: 2, shards: [{ file: l, rows: 6 }] }));
  try {
    return allRows(ShardedLogitTable.open(shardDir, { blockRows: 4 }));
  } finally {
    rmSync(join(shardDir, l), { force: true });
  }
});

// dataset shards: the index (the shard it names is valid) and a shard read through the streaming reader
const dataShard = writeSafetensors({ x: { dtype: 'U8', shape: [5, 2, 2], data: u8(20, (i) => i * 11) }, y: { dtype: 'I32', shape: [5], data: Int32Array.from([0, 2, 1, 1, 0]) } });
const shardsIndex = (file: string) => ({ format: 'retort-dataset-shards', version: 1, sampleShape: [2, 2], dtype: 'u8', classes: 3, train: [{ file, rows: 5 }] });
format('dataset-shards-index', [text.encode(JSON.stringify(shardsIndex('s.safetensors')))], (b, l) => {
  const dir = join(shardDir, 'idx');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 's.safetensors'), dataShard);
  writeFileSync(join(dir, l), b);
  try {
    return ShardedDataset.open(join(dir, l)).readRange(0, 5);
  } catch (e) {
    // the reader names the index by its path; the harness wants the case's label
    if (e instanceof DataFormatError && e.file === join(dir, l)) throw new DataFormatError(l, e.problem);
    // an index that disagrees with its (valid) shard: the error names the shard
    if (e instanceof DataFormatError && e.file === 's.safetensors') throw new DataFormatError(l, e.message);
    throw e;
  }
});
format('dataset-shard', [dataShard], (b, l) => {
  const dir = join(shardDir, 'data');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, l), b);
  writeFileSync(join(dir, 'index.json'), JSON.stringify(shardsIndex(l)));
  try {
    const set = ShardedDataset.open(dir);
    return set.readRange(0, set.rows);
  } finally {
    rmSync(join(dir, l), { force: true });
  }
});

/** Runs `cases` mutations of format `f` (stream `index`); throws at the first untyped or unnamed error. */
function fuzz(f: (typeof FORMATS)[number], index: number, cases: number): { refused: number } {
  let refused = 0;
  for (let c = 0; c < cases; c++) {
    const rng = new Xoshiro128(c, index, 0xf022);
    const input = mutate(f.seeds[rng.below(f.seeds.length)]!, rng);
    const label = `${f.name}#${c}`;
    try {
      f.read(input, label);
    } catch (e) {
      const typed = f.errors.some((E) => e instanceof E);
      if (!typed || !(e as Error).message.startsWith(label)) {
        throw new Error(`${label}: ${typed ? 'error does not name the input' : `untyped ${(e as Error)?.constructor?.name}`}: ${(e as Error)?.message}`);
      }
      refused++;
    }
  }
  return { refused };
}

describe.each(FORMATS.map((f, i) => [f.name, i] as const))('fuzzing the %s reader', (name, index) => {
  it(`${CASES} mutated inputs: each parses or is one typed error naming the input`, () => {
    const f = FORMATS[index]!;
    for (const seed of f.seeds) f.read(seed, 'seed'); // the seeds themselves are valid
    const { refused } = fuzz(f, index, CASES);
    // the mutations reach the readers' checks: many inputs are refused, not all pass untouched
    expect(refused).toBeGreaterThan(CASES / 4);
  }, 120_000);
});

it('the harness fails on a reader that lets an untyped error out, or names the wrong input', () => {
  const seeds = [text.encode('{"a": [1, 2, {"b": "c"}]}')];
  expect(() => fuzz({ name: 'raw-json', seeds, read: (b) => JSON.parse(asText(b)), errors: [DataFormatError] }, 99, 200)).toThrow(/raw-json#\d+: untyped SyntaxError/);
  const misnamed = (b: Uint8Array): unknown => { try { return JSON.parse(asText(b)); } catch { throw new DataFormatError('other', 'bad'); } };
  expect(() => fuzz({ name: 'named', seeds, read: misnamed, errors: [DataFormatError] }, 99, 200)).toThrow(/does not name the input/);
});
