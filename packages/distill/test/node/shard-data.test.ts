// Datasets in shards: written and read back (u8 images, f32 features, RGB), the streamed order
// (every row once per epoch, seeded, bounded by the shuffle buffer), batches that hold the rows
// they name, training that resumes bit-identically, held-out validation rows, shifted copies, and
// every refusal naming the file and the row.
import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCore, type Core } from '@retort/core-wasm';
import { channelStats, makeDataset, takeRows, type Dataset } from '../../src/data/dataset.js';
import { DataFormatError } from '../../src/data/errors.js';
import { Xoshiro128 } from '../../src/data/random.js';
import { writeSafetensors } from '../../src/interop/safetensors.js';
import { createModel } from '../../src/model/index.js';
import { ShardedDataset, writeDatasetShards } from '../../src/node/shard-data.js';
import { train, type TrainSettings, type TrainerState } from '../../src/train/trainer.js';

const root = mkdtempSync(join(tmpdir(), 'retort-shards-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const newDir = (): string => join(root, `d${dirs++}`);
let core: Core;
beforeAll(async () => { core = await loadCore({ backend: 'simd' }); });

function images(n: number, h: number, w: number, c = 0, seed = 1): Dataset {
  const rng = new Xoshiro128(seed, 5);
  const F = h * w * Math.max(1, c);
  const x = Uint8Array.from({ length: n * F }, () => rng.below(256));
  const y = Int32Array.from({ length: n }, (_, i) => i % 3);
  return makeDataset(x, c ? [n, h, w, c] : [n, h, w], y, { xFile: 'x', yFile: 'y' }, { name: 'imgs', classes: 3 });
}

/** Every batch of epoch e as (ids, labels, first pixel of each row). */
function epochRows(set: ShardedDataset, mask: Uint8Array | null, e: number, opts: { batch?: number; buffer?: number; seed?: number } = {}) {
  const loader = set.stream(mask, opts.buffer ?? 8).loader(core, opts.batch ?? 5, { seed: opts.seed ?? 3 });
  const ids: number[] = [];
  const xs: number[][] = [];
  const ys: number[] = [];
  try {
    for (const b of loader.epoch(e)) {
      const x = b.x.view(), y = b.y.view();
      for (let i = 0; i < b.size; i++) {
        ids.push(b.indices[i]!);
        ys.push(y[i]!);
        xs.push(Array.from(x.subarray(i * set.features, (i + 1) * set.features)));
      }
    }
  } finally {
    loader.free();
  }
  return { ids, xs, ys, batches: loader.batchCount };
}

describe('writing and reading', () => {
  it('round-trips u8 images, f32 features and RGB images, train and test', () => {
    for (const ds of [images(23, 4, 3), images(9, 3, 2, 3)]) {
      const dir = newDir();
      const test = takeRows(ds, [1, 2, 3], 'test');
      writeDatasetShards(dir, ds, test, { shardRows: 4, classNames: ['a', 'b', 'c'] });
      const set = ShardedDataset.open(dir);
      expect([set.rows, set.train.length, set.sampleShape, set.index.classNames]).toEqual([ds.count, Math.ceil(ds.count / 4), ds.sampleShape, ['a', 'b', 'c']]);
      const all = set.readRange(0, ds.count);
      expect(all.x).toEqual(ds.x);
      expect(all.y).toEqual(ds.y);
      expect(set.readRange(2, 6).x).toEqual(ds.x.subarray(2 * ds.features, 8 * ds.features));
      expect(set.testSet()!.x).toEqual(test.x);
    }
    const f32 = makeDataset(Float32Array.from({ length: 30 }, (_, i) => i / 7 - 2), [10, 3], Int32Array.from({ length: 10 }, (_, i) => i % 2), { xFile: 'x', yFile: 'y' });
    const dir = newDir();
    writeDatasetShards(dir, f32, null, { shardRows: 3 });
    const set = ShardedDataset.open(dir);
    expect(set.readRange(0, 10).x).toEqual(f32.x);
    expect(set.testSet()).toBeNull();
    expect(set.channelStats(null)).toEqual(channelStats(f32));
  });

  it('writes shifted copies after the originals: same labels, every copy moved', () => {
    const ds = images(6, 6, 5);
    const dir = newDir();
    writeDatasetShards(dir, ds, null, { shifts: 3, shiftPixels: 2, seed: 4, shardRows: 7 });
    const set = ShardedDataset.open(dir);
    expect(set.rows).toBe(24);
    const all = set.readRange(0, 24);
    for (let k = 1; k <= 3; k++) {
      for (let r = 0; r < 6; r++) {
        expect(all.y[k * 6 + r]).toBe(ds.y[r]);
        expect(all.x.subarray((k * 6 + r) * 30, (k * 6 + r + 1) * 30)).not.toEqual(ds.x.subarray(r * 30, (r + 1) * 30));
      }
    }
    // the same seed writes the same bytes
    const again = newDir();
    writeDatasetShards(again, ds, null, { shifts: 3, shiftPixels: 2, seed: 4, shardRows: 7 });
    expect(readFileSync(join(again, 'train-00002.safetensors'))).toEqual(readFileSync(join(dir, 'train-00002.safetensors')));
  });
});

describe('the streamed order', () => {
  const ds = images(57, 3, 3, 0, 9);
  let set: ShardedDataset;
  beforeAll(() => {
    const dir = newDir();
    writeDatasetShards(dir, ds, null, { shardRows: 10 });
    set = ShardedDataset.open(dir);
  });

  it('visits every row once per epoch, in batches that hold the rows they name', () => {
    const { ids, xs, ys, batches } = epochRows(set, null, 0);
    expect(batches).toBe(12);
    expect([...ids].sort((a, b) => a - b)).toEqual(Array.from({ length: 57 }, (_, i) => i));
    ids.forEach((id, i) => {
      expect(ys[i]).toBe(ds.y[id]);
      expect(xs[i]).toEqual(Array.from(ds.x.subarray(id * 9, (id + 1) * 9), (v) => Math.fround(v / 255)));
    });
  });

  it('is drawn from (seed, epoch): the same again, another epoch or seed another order', () => {
    const a = epochRows(set, null, 2).ids;
    expect(epochRows(set, null, 2).ids).toEqual(a);
    expect(epochRows(set, null, 3).ids).not.toEqual(a);
    expect(epochRows(set, null, 2, { seed: 4 }).ids).not.toEqual(a);
  });

  it('a row leaves at most the buffer\'s size of rows after it entered: the order is local, the memory bounded', () => {
    const B = 6;
    const { ids } = epochRows(set, null, 1, { buffer: B });
    // the stream reads the shards in some order; a row's output position is at least its input position - B
    const order = [...ids];
    const shardOf = (id: number): number => Math.floor(id / 10);
    const shardOrder: number[] = [];
    for (const id of order) if (!shardOrder.includes(shardOf(id))) shardOrder.push(shardOf(id));
    const inputPos = new Map<number, number>();
    let p = 0;
    // the shards' read order is not observable directly; the rows of a shard can only start leaving once it is read
    for (const s of shardOrder) for (let r = s * 10; r < Math.min(57, s * 10 + 10); r++) inputPos.set(r, p++);
    order.forEach((id, out) => expect(out).toBeGreaterThanOrEqual(inputPos.get(id)! - B));
    // a buffer as large as the set is a full shuffle: not the shard order
    expect(epochRows(set, null, 1, { buffer: 57 }).ids).not.toEqual(order);
  });

  it('skips held-out rows, which are read into memory under their row numbers', () => {
    const { validation, mask } = set.holdOut(7, 11);
    expect(validation.ids!.length).toBe(7);
    expect(new Set(validation.ids).size).toBe(7);
    validation.ids!.forEach((id, i) => {
      expect(mask[id]).toBe(1);
      expect(validation.dataset.x.subarray(i * 9, (i + 1) * 9)).toEqual(ds.x.subarray(id * 9, (id + 1) * 9));
      expect(validation.dataset.y[i]).toBe(ds.y[id]);
    });
    expect(set.holdOut(7, 11).validation.ids).toEqual(validation.ids);
    const { ids } = epochRows(set, mask, 0);
    expect(ids.length).toBe(50);
    expect(ids.some((id) => mask[id])).toBe(false);
  });

  it('trains, and a run resumed from its epoch-1 checkpoint ends with the same bits', async () => {
    const settings: TrainSettings = { epochs: 2, batchSize: 8, optimizer: { type: 'adamw', lr: 0.01 }, schedule: { type: 'cosine' }, seed: 5, jitter: 1, mean: 0.5, std: 0.25 };
    const run = async (resume?: TrainerState) => {
      const model = createModel(core, 'mlp:9-7-3');
      let saved: TrainerState | undefined;
      await train({ core, model, train: set.stream(null, 12), validation: null, settings, ...(resume ? { resume } : {}),
        checkpoint: (s) => { if (s.epoch === 1) saved = { ...s, params: s.params.slice(), optimizer: structuredClone(s.optimizer) }; } });
      const params = model.params.view().slice(0, model.paramCount);
      model.free();
      return { params, saved: saved! };
    };
    const whole = await run();
    const resumed = await run(whole.saved);
    expect(resumed.params).toEqual(whole.params);
  });
});

describe('refusals', () => {
  const ds = images(12, 2, 2);
  const fresh = (): string => { const d = newDir(); writeDatasetShards(d, ds, takeRows(ds, [0, 1], 't'), { shardRows: 5 }); return d; };
  const refused = (fn: () => unknown, ...parts: (string | RegExp)[]): void => {
    let err: unknown;
    try { fn(); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(DataFormatError);
    for (const p of parts) expect((err as Error).message).toMatch(p);
  };

  it('a shard the index lists but the directory lacks, a bad index, a wrong shape or dtype', () => {
    let dir = fresh();
    unlinkSync(join(dir, 'train-00001.safetensors'));
    refused(() => ShardedDataset.open(dir), 'index.json', 'train-00001.safetensors', 'missing');
    dir = fresh();
    const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(dir, 'index.json'), JSON.stringify({ ...index, dtype: 'f32' }));
    refused(() => ShardedDataset.open(dir), 'train-00000.safetensors', "'x' is U8", 'f32');
    writeFileSync(join(dir, 'index.json'), JSON.stringify({ ...index, sampleShape: [4] }));
    refused(() => ShardedDataset.open(dir), 'train-00000.safetensors', "'x' has shape 5x2x2", '5x4');
    writeFileSync(join(dir, 'index.json'), JSON.stringify({ ...index, train: [] }));
    refused(() => ShardedDataset.open(dir), 'index.json', 'train');
    writeFileSync(join(dir, 'index.json'), '{');
    refused(() => ShardedDataset.open(dir), 'index.json', 'not valid JSON');
  });

  it('a label out of range names the shard and the row, when the stream reaches it', () => {
    const dir = fresh();
    writeFileSync(join(dir, 'train-00001.safetensors'), writeSafetensors({
      x: { dtype: 'U8', shape: [5, 2, 2], data: new Uint8Array(20) }, y: { dtype: 'I32', shape: [5], data: Int32Array.from([0, 1, 7, 0, 1]) },
    }));
    const set = ShardedDataset.open(dir);
    refused(() => set.readRange(0, 12), 'train-00001.safetensors', 'y[2] = 7', '[0, 3)');
    refused(() => epochRows(set, null, 0), 'train-00001.safetensors', 'y[2] = 7');
  });

  it('refuses to write over a dataset, and shifts of anything but u8 images', () => {
    const dir = fresh();
    expect(() => writeDatasetShards(dir, ds, null)).toThrow(/already holds a dataset/);
    const f32 = makeDataset(new Float32Array(8), [4, 2], new Int32Array(4), { xFile: 'x', yFile: 'y' });
    expect(() => writeDatasetShards(newDir(), f32, null, { shifts: 1 })).toThrow(/--shifts: shifted copies need u8 images/);
  });
});
