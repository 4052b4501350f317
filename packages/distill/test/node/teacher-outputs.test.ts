// Sharded teacher outputs: top-k selection and expansion against plain references, the writer and
// reader round trip (full logits and top-k, odd shard and block sizes, a cache smaller than the
// data), resuming after a kill, a changed fingerprint, shards written the way another tool (numpy)
// would, and every refusal naming the file and the row or key.
import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DataFormatError } from '../../src/data/errors.js';
import { Xoshiro128 } from '../../src/data/random.js';
import { expandTopK, memoryLogitTable, parseTeacherOutputsIndex, tableRows, topKRows } from '../../src/data/teacher-outputs.js';
import { writeSafetensors } from '../../src/interop/safetensors.js';
import { allRows, cachedTeacherOutputs, ShardedLogitTable, writeTeacherOutputs } from '../../src/node/teacher-outputs.js';

const root = mkdtempSync(join(tmpdir(), 'retort-outputs-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const newDir = (): string => join(root, `d${dirs++}`);

function randomLogits(rows: number, classes: number, seed: number, scale = 4): Float32Array {
  const rng = new Xoshiro128(seed, 77);
  return Float32Array.from({ length: rows * classes }, () => (rng.unit() - 0.5) * 2 * scale);
}

const softmax = (row: ArrayLike<number>, T = 1): number[] => {
  const v = Array.from(row, (x) => x / T);
  const m = Math.max(...v);
  const e = v.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
};

describe('top-k', () => {
  it('keeps the k largest logits of each row, largest first, ties by the lower class, and the exact log-sum-exp', () => {
    const C = 37, n = 20, k = 5;
    const logits = randomLogits(n, C, 1);
    logits[3 * C + 4] = logits[3 * C + 9] = 99; // a tie at the top of row 3
    const t = topKRows(logits, n, C, k);
    for (let r = 0; r < n; r++) {
      const row = Array.from(logits.subarray(r * C, (r + 1) * C));
      const want = row.map((v, c) => ({ v, c })).sort((a, b) => b.v - a.v || a.c - b.c).slice(0, k);
      expect(Array.from(t.indices.subarray(r * k, (r + 1) * k))).toEqual(want.map((w) => w.c));
      expect(Array.from(t.values.subarray(r * k, (r + 1) * k))).toEqual(want.map((w) => w.v));
      const m = Math.max(...row);
      expect(t.logsumexp[r]).toBeCloseTo(m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0)), 5);
    }
    expect(Array.from(t.indices.subarray(3 * k, 3 * k + 2))).toEqual([4, 9]);
  });

  it('expands to a row whose probabilities at T = 1 are the teacher\'s on the kept classes, the rest shared evenly', () => {
    const C = 50, k = 8;
    const logits = randomLogits(1, C, 2, 6);
    const t = topKRows(logits, 1, C, k);
    const out = new Float32Array(C);
    expandTopK(t.values, t.indices, 0, k, t.logsumexp[0]!, C, out, 0);
    const p = softmax(logits), q = softmax(out);
    const kept = new Set(Array.from(t.indices));
    let rest = 0;
    for (let c = 0; c < C; c++) if (!kept.has(c)) rest += p[c]!;
    for (let c = 0; c < C; c++) {
      if (kept.has(c)) expect(q[c]).toBeCloseTo(p[c]!, 6);
      else expect(q[c]).toBeCloseTo(rest / (C - k), 6);
    }
    // the tail never outranks a kept class
    const minKept = Math.min(...Array.from(t.values));
    for (let c = 0; c < C; c++) if (!kept.has(c)) expect(out[c]).toBeLessThanOrEqual(minKept);
  });

  it('with the tail\'s mean, a softer temperature moves the shared tail logit toward it: exact at T = 1, closer to the teacher at T = 4', () => {
    const C = 200, k = 16, n = 50;
    // logits as a trained teacher's tail looks: roughly normal (Box-Muller, sd 3)
    const rng = new Xoshiro128(12, 78);
    const logits = Float32Array.from({ length: n * C }, () => 3 * Math.sqrt(-2 * Math.log(Math.max(rng.unit(), 1e-12))) * Math.cos(2 * Math.PI * rng.unit()));
    const t = topKRows(logits, n, C, k);
    const kl = (p: number[], q: number[]): number => p.reduce((s, v, i) => s + (v > 0 ? v * Math.log(v / q[i]!) : 0), 0);
    let even = 0, moved = 0;
    for (let r = 0; r < n; r++) {
      const row = logits.subarray(r * C, (r + 1) * C);
      let tail = 0;
      for (let c = 0; c < C; c++) if (!Array.from(t.indices.subarray(r * k, (r + 1) * k)).includes(c)) tail += row[c]!;
      expect(t.tailmean[r]).toBeCloseTo(tail / (C - k), 4);
      const a = new Float32Array(C), b = new Float32Array(C), one = new Float32Array(C);
      expandTopK(t.values, t.indices, r * k, k, t.logsumexp[r]!, C, a, 0);
      expandTopK(t.values, t.indices, r * k, k, t.logsumexp[r]!, C, b, 0, { mean: t.tailmean[r]!, temperature: 4 });
      expandTopK(t.values, t.indices, r * k, k, t.logsumexp[r]!, C, one, 0, { mean: t.tailmean[r]!, temperature: 1 });
      expect(one).toEqual(a);
      even += kl(softmax(row, 4), softmax(a, 4));
      moved += kl(softmax(row, 4), softmax(b, 4));
    }
    expect(moved).toBeLessThan(even);
  });

  it('k = classes expands to the row itself', () => {
    const C = 7;
    const logits = randomLogits(3, C, 3);
    const t = topKRows(logits, 3, C, C);
    const out = new Float32Array(3 * C);
    for (let r = 0; r < 3; r++) expandTopK(t.values, t.indices, r * C, C, t.logsumexp[r]!, C, out, r * C);
    expect(out).toEqual(logits);
  });
});

describe('writing and reading shards', () => {
  it('round-trips full logits through odd shard and block sizes with a cache smaller than the data', () => {
    const rows = 1003, C = 11;
    const logits = randomLogits(rows, C, 4);
    const dir = newDir();
    const r = writeTeacherOutputs({ dir, rows, classes: C, fingerprint: 'f', shardRows: 97, compute: (s, n) => logits.slice(s * C, (s + n) * C) });
    expect(r).toMatchObject({ kept: 0, written: 11 });
    const table = ShardedLogitTable.open(dir, { blockRows: 13, cacheBytes: 3 * 13 * C * 4 });
    expect(table.rows).toBe(rows);
    expect(allRows(table)).toEqual(logits);
    // random access (the cache evicts and re-reads)
    const ids = Int32Array.from({ length: 500 }, (_, i) => (i * 7919) % rows);
    expect(tableRows(table, ids)).toEqual(tableRows(memoryLogitTable(logits, C), ids));
  });

  it('top-k shards are over 10x smaller than full logits at k = 32 of 1000 classes, and read back as the expansion', () => {
    const rows = 300, C = 1000, k = 32;
    const logits = randomLogits(rows, C, 5);
    const full = newDir(), top = newDir();
    const compute = (s: number, n: number): Float32Array => logits.slice(s * C, (s + n) * C);
    writeTeacherOutputs({ dir: full, rows, classes: C, fingerprint: 'f', shardRows: 128, compute });
    writeTeacherOutputs({ dir: top, rows, classes: C, fingerprint: 'f', shardRows: 128, compute, topK: k });
    const size = (d: string): number => ['outputs-00000', 'outputs-00001', 'outputs-00002'].reduce((s, f) => s + readFileSync(join(d, `${f}.safetensors`)).length, 0);
    expect(size(full) / size(top)).toBeGreaterThan(10);
    const table = ShardedLogitTable.open(top);
    expect(table.index).toMatchObject({ kind: 'topk', k, classes: C });
    expect(table.temperatureAware).toBe(true);
    const at4 = new Float32Array(C), want4 = new Float32Array(C);
    table.gather([7], 1, at4, 4);
    const got = allRows(table);
    const t = topKRows(logits, rows, C, k);
    const want = new Float32Array(rows * C);
    for (let r = 0; r < rows; r++) expandTopK(t.values, t.indices, r * k, k, t.logsumexp[r]!, C, want, r * C);
    expect(got).toEqual(want);
    expandTopK(t.values, t.indices, 7 * k, k, t.logsumexp[7]!, C, want4, 0, { mean: t.tailmean[7]!, temperature: 4 });
    expect(at4).toEqual(want4);
  });

  it('resumes after a kill: the finished shards are kept, the rest computed, the result the same bits', () => {
    const rows = 500, C = 6;
    const logits = randomLogits(rows, C, 6);
    const computed: number[] = [];
    const compute = (s: number, n: number): Float32Array => { computed.push(s); return logits.slice(s * C, (s + n) * C); };
    const dir = newDir();
    expect(() => writeTeacherOutputs({ dir, rows, classes: C, fingerprint: 'f', shardRows: 64, compute, afterShard: (s) => { if (s === 2) throw new Error('killed'); } })).toThrow('killed');
    expect(() => ShardedLogitTable.open(dir)).toThrow(/incomplete: its shards hold 192 of 500 rows/);
    computed.length = 0;
    const r = writeTeacherOutputs({ dir, rows, classes: C, fingerprint: 'f', shardRows: 64, compute });
    expect(r).toMatchObject({ kept: 3, written: 5 });
    expect(computed).toEqual([192, 256, 320, 384, 448]);
    expect(allRows(ShardedLogitTable.open(dir))).toEqual(logits);
    // once complete, nothing is recomputed; another fingerprint rewrites everything
    expect(cachedTeacherOutputs(dir, 'k', rows, C, compute, { shardRows: 64 }).fromCache).toBe(false);
    computed.length = 0;
    expect(cachedTeacherOutputs(dir, 'k', rows, C, compute, { shardRows: 64 }).fromCache).toBe(true);
    expect(computed).toEqual([]);
  });

  it('reads shards another tool wrote: F16 values, I64 indices, F64 logsumexp', () => {
    const rows = 40, C = 20, k = 4;
    const logits = randomLogits(rows, C, 7);
    const t = topKRows(logits, rows, C, k);
    const dir = newDir();
    writeTeacherOutputs({ dir, rows, classes: C, fingerprint: 'x', topK: k, compute: () => logits }); // for the index
    writeFileSync(join(dir, 'outputs-00000.safetensors'), writeSafetensors({
      values: { dtype: 'F16', shape: [rows, k], data: t.values },
      indices: { dtype: 'I64', shape: [rows, k], data: t.indices },
      logsumexp: { dtype: 'F64', shape: [rows], data: t.logsumexp },
    }));
    const got = allRows(ShardedLogitTable.open(dir));
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < k; j++) expect(got[r * C + t.indices[r * k + j]!]).toBeCloseTo(t.values[r * k + j]!, 2);
    }
  });
});

describe('refusals', () => {
  const rows = 100, C = 5;
  const logits = randomLogits(rows, C, 8);
  const fresh = (topK?: number): string => {
    const dir = newDir();
    writeTeacherOutputs({ dir, rows, classes: C, fingerprint: 'f', shardRows: 40, compute: (s, n) => logits.slice(s * C, (s + n) * C), ...(topK ? { topK } : {}) });
    return dir;
  };
  const index = (dir: string): Record<string, unknown> => JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as Record<string, unknown>;
  const setIndex = (dir: string, f: (i: Record<string, unknown>) => void): void => {
    const i = index(dir);
    f(i);
    writeFileSync(join(dir, 'index.json'), JSON.stringify(i));
  };
  const refused = (fn: () => unknown, ...parts: (string | RegExp)[]): void => {
    let err: unknown;
    try { fn(); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(DataFormatError);
    for (const p of parts) expect((err as Error).message).toMatch(p);
    expect((err as Error).message).not.toContain('\n');
  };

  it('a shard the index lists but the directory lacks', () => {
    const dir = fresh();
    unlinkSync(join(dir, 'outputs-00001.safetensors'));
    refused(() => ShardedLogitTable.open(dir), 'index.json', 'outputs-00001.safetensors', 'missing');
  });

  it('a shard missing from the index (rows do not add up)', () => {
    const dir = fresh();
    setIndex(dir, (i) => { (i.shards as unknown[]).pop(); });
    refused(() => ShardedLogitTable.open(dir), 'index.json', '80 rows', '100', 'missing from the index');
  });

  it('a wrong format, an unknown field, bad JSON, a path as a shard name', () => {
    let dir = fresh();
    setIndex(dir, (i) => { i.format = 'other'; });
    refused(() => ShardedLogitTable.open(dir), 'index.json', 'format');
    dir = fresh();
    setIndex(dir, (i) => { i.extra = 1; });
    refused(() => ShardedLogitTable.open(dir), 'index.json', 'extra');
    dir = fresh();
    writeFileSync(join(dir, 'index.json'), '{"format":');
    refused(() => ShardedLogitTable.open(dir), 'index.json', 'not valid JSON');
    expect(() => parseTeacherOutputsIndex({ format: 'retort-teacher-outputs', version: 1, kind: 'logits', rows: 1, classes: 2, shards: [{ file: '../x', rows: 1 }] }, 'i.json'))
      .toThrow(/i\.json: shards\.0\.file: a file name in the index directory/);
  });

  it('a shard of the wrong shape or dtype', () => {
    const dir = fresh();
    writeFileSync(join(dir, 'outputs-00000.safetensors'), writeSafetensors({ logits: { shape: [40, 4], data: new Float32Array(160) } }));
    refused(() => ShardedLogitTable.open(dir), 'outputs-00000.safetensors', "'logits'", '[40, 4]', '[40, 5]');
    writeFileSync(join(dir, 'outputs-00000.safetensors'), writeSafetensors({ logits: { dtype: 'I32', shape: [40, 5], data: new Int32Array(200) } }));
    refused(() => ShardedLogitTable.open(dir), 'outputs-00000.safetensors', 'I32', 'float');
  });

  it('NaN in a shard names the file and the row', () => {
    const dir = fresh();
    const bad = logits.slice(40 * C, 80 * C);
    bad[7 * C + 2] = NaN;
    writeFileSync(join(dir, 'outputs-00001.safetensors'), writeSafetensors({ logits: { shape: [40, C], data: bad } }));
    const table = ShardedLogitTable.open(dir);
    refused(() => allRows(table), 'outputs-00001.safetensors', 'logits [7, 2]', 'NaN');
  });

  it('top-k rows: a class out of range, a class twice, a logsumexp below the top value', () => {
    for (const [mutate, want] of [
      [(ix: Int32Array) => { ix[3 * 2] = 9; }, /row 3: indices\[0\] = 9 is not a class in \[0, 5\)/],
      [(ix: Int32Array) => { ix[4 * 2 + 1] = ix[4 * 2]!; }, /row 4: class \d appears twice/],
      [null, /row 0: logsumexp -50 is below its largest logit/],
    ] as const) {
      const dir = fresh(2);
      const t = topKRows(logits.slice(0, 40 * C), 40, C, 2);
      if (mutate) mutate(t.indices); else t.logsumexp[0] = -50;
      writeFileSync(join(dir, 'outputs-00000.safetensors'), writeSafetensors({
        values: { shape: [40, 2], data: t.values }, indices: { dtype: 'I32', shape: [40, 2], data: t.indices }, logsumexp: { shape: [40], data: t.logsumexp },
      }));
      refused(() => allRows(ShardedLogitTable.open(dir)), 'outputs-00000.safetensors', want);
    }
  });

  it('a top-k index without k, or k above the classes; a writer whose teacher gives NaN leaves the index incomplete', () => {
    const base = { format: 'retort-teacher-outputs', version: 1, kind: 'topk', rows: 1, classes: 3, shards: [{ file: 'a', rows: 1 }] };
    expect(() => parseTeacherOutputsIndex(base, 'i.json')).toThrow(/i\.json: kind "topk" needs k/);
    expect(() => parseTeacherOutputsIndex({ ...base, k: 4 }, 'i.json')).toThrow(/k = 4 is more than the 3 classes/);
    const dir = newDir();
    const nan = logits.slice();
    nan[60 * C + 1] = NaN;
    expect(() => writeTeacherOutputs({ dir, rows, classes: C, fingerprint: 'f', shardRows: 40, compute: (s, n) => nan.slice(s * C, (s + n) * C) }))
      .toThrow(/logit \[60, 1\] is NaN/);
    expect(index(dir)).toMatchObject({ complete: false, shards: [{ file: 'outputs-00000.safetensors', rows: 40 }] });
  });
});
