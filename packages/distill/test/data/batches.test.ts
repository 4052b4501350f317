import { loadCore, type Core } from '@retort/core-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { BatchLoader, shiftInto, type Batch } from '../../src/data/batches.js';
import { fullView, makeDataset, normalisedRows, slice, type Dataset, type DatasetView } from '../../src/data/dataset.js';
import { loadMnist } from '../../src/data/mnist.js';
import { tinyDataset } from './helpers.js';

/** Copies of everything a batch holds (its tensors are reused by the next batch). */
function snapshot(b: Batch): { x: number[]; y: number[]; indices: number[]; size: number; index: number } {
  return {
    x: Array.from(b.x.view().subarray(0, b.size * (b.x.length / b.y.length))),
    y: Array.from(b.y.view().subarray(0, b.size)),
    indices: Array.from(b.indices), size: b.size, index: b.index,
  };
}

function collect(loader: BatchLoader, e: number, from = 0): ReturnType<typeof snapshot>[] {
  const out: ReturnType<typeof snapshot>[] = [];
  for (const b of loader.epoch(e, from)) out.push(snapshot(b));
  return out;
}

describe.each(['simd', 'js'] as const)('BatchLoader on %s', (backend) => {
  let core: Core;
  beforeAll(async () => { core = await loadCore({ backend }); });
  const ds = tinyDataset(23, 6, 5, 4);
  const view: DatasetView = { dataset: ds, indices: Int32Array.from([...Array(23).keys()].map((i) => 22 - i)) };

  it('visits every sample exactly once per epoch, last batch partial', () => {
    const loader = new BatchLoader(core, view, 5, { seed: 3 });
    expect(loader.batchCount).toBe(5);
    const batches = collect(loader, 0);
    expect(batches.map((b) => b.size)).toEqual([5, 5, 5, 5, 3]);
    expect(batches.map((b) => b.index)).toEqual([0, 1, 2, 3, 4]);
    expect(batches.flatMap((b) => b.indices).sort((a, b) => a - b)).toEqual([...Array(23).keys()]);
    for (const b of batches) expect(b.y).toEqual(b.indices.map((r) => ds.y[r]));
    loader.free();
    const dropping = new BatchLoader(core, view, 5, { seed: 3, dropLast: true });
    expect(dropping.batchCount).toBe(4);
    expect(collect(dropping, 0).map((b) => b.size)).toEqual([5, 5, 5, 5]);
    dropping.free();
  });

  it('same (seed, epoch): same order and bits; another epoch or seed: another order', () => {
    const a = new BatchLoader(core, view, 4, { seed: 11, jitter: 1 });
    const b = new BatchLoader(core, view, 4, { seed: 11, jitter: 1 });
    expect(collect(a, 2)).toEqual(collect(b, 2));
    expect(collect(a, 5)).toEqual(collect(b, 5)); // b never saw epochs 0..4: order depends on (seed, e) only
    const order = (l: BatchLoader, e: number): number[] => collect(l, e).flatMap((x) => x.indices);
    expect(order(a, 1)).not.toEqual(order(a, 2));
    const c = new BatchLoader(core, view, 4, { seed: 12, jitter: 1 });
    expect(order(c, 1)).not.toEqual(order(a, 1));
    // Resuming mid-epoch gives the tail of the same epoch, jitter included.
    expect(collect(b, 3, 2)).toEqual(collect(a, 3).slice(2));
    for (const l of [a, b, c]) l.free();
  });

  it('keeps the view order without shuffle', () => {
    const loader = new BatchLoader(core, view, 10, { shuffle: false });
    expect(collect(loader, 7).flatMap((b) => b.indices)).toEqual(Array.from(view.indices));
    expect(Array.from(loader.order(0))).toEqual([...Array(23).keys()]);
    loader.free();
  });

  it('normalises to x/255, or (x/255 - mean)/std, in f32', () => {
    const plain = new BatchLoader(core, view, 8, { shuffle: false });
    const first = snapshot(plain.epoch(0).next().value!);
    const expected = first.indices.flatMap((r) => Array.from(ds.x.subarray(r * 30, r * 30 + 30)));
    expect(first.x).toEqual(expected.map((v) => Math.fround(v / 255)));
    plain.free();
    const mean = 0.1307, std = 0.3081;
    const norm = new BatchLoader(core, view, 8, { shuffle: false, mean, std });
    const got = snapshot(norm.epoch(0).next().value!).x;
    const f = Math.fround;
    expect(got).toEqual(expected.map((v) => f(f(f(v) / 255) - f(mean)) / f(std)).map(f));
    norm.free();
  });

  it('mixup: each row is λ·(its sample) + (1 − λ)·(a partner of the batch), y2 the partners\' labels, drawn from (seed, epoch, batch)', () => {
    const plain = new BatchLoader(core, view, 5, { seed: 9 });
    const mixed = new BatchLoader(core, view, 5, { seed: 9, mixup: true });
    const lambdas: number[] = [];
    const unmixed = collect(plain, 1);
    let b = 0;
    for (const batch of mixed.epoch(1)) {
      const u = unmixed[b++]!;
      expect(Array.from(batch.indices)).toEqual(u.indices); // same order as without mixup
      expect(batch.mix).toBeDefined();
      const { lambda, y2 } = batch.mix!;
      expect(lambda).toBeGreaterThanOrEqual(0);
      expect(lambda).toBeLessThan(1);
      lambdas.push(lambda);
      const F = 30, x = batch.x.view(), labels = y2.view();
      const partners = new Set<number>();
      for (let i = 0; i < batch.size; i++) {
        // the partner: the row j whose mix reproduces row i exactly, and whose label y2 names
        const candidates = [...Array(batch.size).keys()].filter((j) =>
          [...Array(F).keys()].every((k) => x[i * F + k] === Math.fround(lambda * u.x[i * F + k]! + (1 - lambda) * u.x[j * F + k]!)));
        expect(candidates.length).toBeGreaterThan(0);
        const j = candidates.find((c) => u.y[c] === labels[i])!;
        expect(j).toBeDefined();
        partners.add(j);
      }
      expect(partners.size).toBe(batch.size); // a permutation of the batch
    }
    expect(new Set(lambdas).size).toBe(lambdas.length); // one weight per batch
    // deterministic, and a run resumed at batch 2 sees the same mixed batches
    const again = new BatchLoader(core, view, 5, { seed: 9, mixup: true });
    expect(collect(again, 1, 2)).toEqual(collect(mixed, 1).slice(2));
    for (const l of [plain, mixed, again]) l.free();
  });

  it('token noise replaces about p of the tokens by non-special ids, keeps specials and padding, and is drawn from (seed, epoch, batch)', () => {
    // 300 texts of 20 positions over a vocabulary of 50: <cls> (id 0) first, 1 + (r % 15) tokens, then padding
    const n = 300, L = 20, V = 50, special = [0, 7];
    const x = new Float32Array(n * L).fill(-1);
    for (let r = 0; r < n; r++) {
      x[r * L] = 0;
      for (let l = 1; l <= 1 + (r % 15); l++) x[r * L + l] = l === 3 ? 7 : (r * 31 + l * 17) % V === 7 ? 8 : (r * 31 + l * 17) % V;
    }
    const tokens: Dataset = { ...makeDataset(x, [n, L], new Int32Array(n), { xFile: 't', yFile: 't' }, { name: 'tokens', classes: 1 }), vocab: V, specialIds: special };
    const plain = new BatchLoader(core, fullView(tokens), 64, { seed: 4 });
    const noisy = new BatchLoader(core, fullView(tokens), 64, { seed: 4, tokenNoise: 0.25 });
    const clean = collect(plain, 2), batches = collect(noisy, 2);
    let replaceable = 0, replaced = 0;
    batches.forEach((b, k) => {
      const u = clean[k]!;
      expect(b.indices).toEqual(u.indices); // the same rows in the same order
      for (let i = 0; i < b.size * L; i++) {
        const before = u.x[i]!, after = b.x[i]!;
        if (before === -1 || special.includes(before)) { expect(after).toBe(before); continue; }
        replaceable++;
        expect(Number.isInteger(after) && after >= 0 && after < V && !special.includes(after)).toBe(true);
        if (after !== before) replaced++;
      }
    });
    // replaced with probability 0.25, and a draw equal to the old id (1 in 48) leaves it unchanged
    const expected = replaceable * 0.25 * (47 / 48);
    expect(Math.abs(replaced - expected)).toBeLessThan(4 * Math.sqrt(expected));
    // deterministic per (seed, epoch, batch): a resumed epoch sees the same noise; another epoch noises a row otherwise
    const again = new BatchLoader(core, fullView(tokens), 64, { seed: 4, tokenNoise: 0.25 });
    expect(collect(again, 2, 3)).toEqual(batches.slice(3));
    const byRow = (bs: ReturnType<typeof collect>): Map<number, string> =>
      new Map(bs.flatMap((b) => b.indices.map((r, i) => [r, b.x.slice(i * L, i * L + L).join()] as const)));
    const e2 = byRow(batches), e3 = byRow(collect(again, 3));
    expect([...e2].filter(([r, t]) => e3.get(r) !== t).length).toBeGreaterThan(n / 2);
    // only text takes it
    expect(() => new BatchLoader(core, view, 5, { tokenNoise: 0.1 })).toThrow(/token noise needs token-id samples; .* is not text/);
    expect(() => new BatchLoader(core, fullView(tokens), 5, { tokenNoise: 1 })).toThrow(/tokenNoise must be in \[0, 1\)/);
    for (const l of [plain, noisy, again]) l.free();
  });

  it('jitter moves a single lit pixel by at most ±jitter, keeping it (zero fill, no wrap)', () => {
    const n = 200;
    const x = new Uint8Array(n * 64);
    for (let s = 0; s < n; s++) x[s * 64 + 3 * 8 + 4] = 200; // pixel (3, 4) of an 8x8 image
    const lit = makeDataset(x, [n, 8, 8], new Int32Array(n), { xFile: 'x', yFile: 'y' });
    const loader = new BatchLoader(core, fullView(lit), 64, { seed: 5, jitter: 2 });
    const shifts = new Set<string>();
    for (const b of loader.epoch(0)) {
      const u8 = b.x.view();
      for (let i = 0; i < b.size; i++) {
        const img = Array.from(u8.subarray(i * 64, i * 64 + 64));
        const on = img.flatMap((v, k) => (v !== 0 ? [k] : []));
        expect(on).toHaveLength(1);
        expect(img[on[0]!]).toBe(Math.fround(200 / 255));
        const dy = Math.floor(on[0]! / 8) - 3, dx = (on[0]! % 8) - 4;
        expect(Math.abs(dx)).toBeLessThanOrEqual(2);
        expect(Math.abs(dy)).toBeLessThanOrEqual(2);
        shifts.add(`${dx},${dy}`);
      }
    }
    expect(shifts.size).toBe(25); // all 5 x 5 shifts occur over 200 samples
    loader.free();
  });

  it('copies f32 samples as stored (or standardised by mean/std) and refuses jitter for them', () => {
    const f = makeDataset(Float32Array.from({ length: 12 }, (_, i) => i - 0.5), [4, 3], Int32Array.from([0, 1, 0, 1]), { xFile: 'x', yFile: 'y' });
    const loader = new BatchLoader(core, fullView(f), 3, { shuffle: false });
    const [b0, b1] = collect(loader, 0);
    expect(b0!.x).toEqual([-0.5, 0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5]);
    expect(b1!.x).toEqual([8.5, 9.5, 10.5]);
    loader.free();
    expect(() => new BatchLoader(core, fullView(f), 3, { jitter: 1 })).toThrow(/jitter needs u8 samples/);
    const scaled = new BatchLoader(core, fullView(f), 4, { shuffle: false, mean: 0.5, std: 2 });
    expect(collect(scaled, 0)[0]!.x).toEqual(Array.from({ length: 12 }, (_, i) => (i - 1) / 2));
    scaled.free();
  });

  it('normalises per channel (the last axis) exactly as normalisedRows, for u8 and f32 samples', () => {
    // 5 images of 2x3x2 (channels last): channel 0 and 1 get their own mean and std
    const u8 = makeDataset(Uint8Array.from({ length: 60 }, (_, i) => (i * 37) % 256), [5, 2, 3, 2], Int32Array.from([0, 1, 2, 0, 1]), { xFile: 'x', yFile: 'y' });
    const norm = { mean: [0.25, 0.5], std: [0.5, 0.125] };
    const loader = new BatchLoader(core, fullView(u8), 5, { shuffle: false, ...norm });
    const got = collect(loader, 0)[0]!.x;
    loader.free();
    expect(got).toEqual(Array.from(normalisedRows(fullView(u8), norm)));
    // element j is channel j mod 2
    for (let j = 0; j < 60; j++) {
      const c = j % 2;
      expect(got[j]).toBe(Math.fround((Math.fround(u8.x[j]! / 255) - norm.mean[c]!) / norm.std[c]!));
    }
    const f = makeDataset(Float32Array.from({ length: 12 }, (_, i) => i), [4, 3], Int32Array.from([0, 1, 0, 1]), { xFile: 'x', yFile: 'y' });
    const perFeature = { mean: [1, 2, 3], std: [1, 2, 4] };
    const fl = new BatchLoader(core, fullView(f), 4, { shuffle: false, ...perFeature });
    expect(collect(fl, 0)[0]!.x).toEqual(Array.from({ length: 12 }, (_, i) => (i - perFeature.mean[i % 3]!) / perFeature.std[i % 3]!));
    fl.free();
    expect(() => new BatchLoader(core, fullView(f), 4, { mean: [0, 1], std: 1 })).toThrow(/2 channels do not divide a sample of 3/);
    expect(() => new BatchLoader(core, fullView(f), 4, { mean: [0, 1, 2], std: [1, 2] })).toThrow(/one length/);
    expect(() => new BatchLoader(core, fullView(f), 4, { mean: 0, std: [1, 0, 1] })).toThrow(/std must be finite and > 0/);
  });

  it('validates options and releases its tensors', () => {
    const before = core.bytesInUse;
    const loader = new BatchLoader(core, view, 4);
    expect(core.bytesInUse).toBeGreaterThan(before);
    loader.free();
    expect(core.bytesInUse).toBe(before);
    expect(() => [...loader.epoch(0)]).toThrow(/after free/);
    const flat = makeDataset(new Uint8Array(8), [2, 4], new Int32Array(2), { xFile: 'x', yFile: 'y' });
    expect(() => new BatchLoader(core, fullView(flat), 2, { jitter: 1 })).toThrow(/2-D samples/);
    expect(() => new BatchLoader(core, view, 0)).toThrow(/batchSize/);
    expect(() => new BatchLoader(core, view, 4, { jitter: 6 })).toThrow(/smaller than the 6x5 sample/);
    expect(() => new BatchLoader(core, view, 4, { seed: -1 })).toThrow(/seed/);
    expect(() => new BatchLoader(core, view, 4, { std: 0 })).toThrow(/std/);
    expect(core.bytesInUse).toBe(before);
  });
});

describe('shiftInto', () => {
  it('moves an image right/down by (dx, dy) with zero fill', () => {
    const src = Uint8Array.from({ length: 9 }, (_, i) => i + 1); // 3x3: 1..9
    const out = (dx: number, dy: number): number[] => { const d = new Uint8Array(11).fill(99); shiftInto(d, 1, src, 0, 3, 3, dx, dy); return Array.from(d.subarray(1, 10)); };
    expect(out(0, 0)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(out(1, 0)).toEqual([0, 1, 2, 0, 4, 5, 0, 7, 8]);
    expect(out(-1, 1)).toEqual([0, 0, 0, 2, 3, 0, 5, 6, 0]);
    expect(out(3, 0)).toEqual(new Array(9).fill(0));
  });
});

describe('MNIST through the loader', () => {
  it('streams an epoch of a 6,000-sample slice with jitter quickly', async () => {
    const core = await loadCore({ backend: 'simd' });
    const { train }: { train: Dataset } = loadMnist();
    const loader = new BatchLoader(core, slice(fullView(train), 6000), 128, { seed: 1, jitter: 2 });
    const t0 = performance.now();
    let seen = 0;
    for (const b of loader.epoch(0)) seen += b.size;
    const ms = performance.now() - t0;
    expect(seen).toBe(6000);
    expect(ms).toBeLessThan(2000);
    loader.free();
  });
});
