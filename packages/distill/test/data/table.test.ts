import { describe, expect, it } from 'vitest';
import { channelStats, makeDataset, splitTestSet } from '../../src/data/dataset.js';
import { csvDataset, parseCsv, textDatasetFromCsv, textDatasetFromJsonl } from '../../src/data/table.js';
import { expectDataError, tinyDataset } from './helpers.js';

describe('csvDataset', () => {
  it('reads numeric features around the label column, class numbers as they are', () => {
    const t = csvDataset('a,label,b\n1.5,2,-3\n0,0,1e3\n', 'n.csv');
    expect(t.featureNames).toEqual(['a', 'b']);
    expect(t.classNames).toBeNull();
    expect(t.dataset.sampleShape).toEqual([2]);
    expect(Array.from(t.dataset.x)).toEqual([1.5, -3, 0, 1000]);
    expect(Array.from(t.dataset.y)).toEqual([2, 0]);
    expect(t.dataset.classes).toBe(3);
  });

  it('maps named labels to classes in sorted order, and a test file through the training names', () => {
    const t = csvDataset('x,species\n1,virginica\n2,setosa\n3,versicolor\n4,setosa\n', 'iris.csv', { labelColumn: 'species' });
    expect(t.classNames).toEqual(['setosa', 'versicolor', 'virginica']);
    expect(Array.from(t.dataset.y)).toEqual([2, 0, 1, 0]);
    const test = csvDataset('x,species\n5,versicolor\n', 'test.csv', { labelColumn: 'species', classNames: t.classNames });
    expect(Array.from(test.dataset.y)).toEqual([1]);
    expect(test.dataset.classes).toBe(3);
    expectDataError(() => csvDataset('x,species\n5,rosa\n', 'test.csv', { labelColumn: 'species', classNames: t.classNames }), 'test.csv:2', /'rosa' is not one of the training classes/);
    // class-number training labels: a named test label is refused
    expectDataError(() => csvDataset('x,label\n5,cat\n', 't.csv', { classNames: null }), 't.csv:2', /not a class number/);
  });

  it('handles a BOM, quoted fields with commas, CRLF line ends and blank lines', () => {
    const t = csvDataset('\uFEFF"f,1",label\r\n"2.5",1\r\n\r\n3,"0"\r\n', 'q.csv');
    expect(t.featureNames).toEqual(['f,1']);
    expect(Array.from(t.dataset.x)).toEqual([2.5, 3]);
    expect(Array.from(t.dataset.y)).toEqual([1, 0]);
  });

  it('refuses bad tables with one error naming the file and line', () => {
    expectDataError(() => csvDataset('a,label\n1,0\n2\n', 'short.csv'), 'short.csv:3', /wrong number of fields/);
    expectDataError(() => csvDataset('a,label\n1,0\n2,1,9\n', 'long.csv'), 'long.csv:3', /wrong number of fields/);
    expectDataError(() => csvDataset('a,label\n1,0\nx,1\n', 'nan.csv'), 'nan.csv:3', /column 'a': 'x' is not a finite number/);
    expectDataError(() => csvDataset('a,label\n,0\n', 'blank.csv'), 'blank.csv:2', /column 'a'/);
    expectDataError(() => csvDataset('a,label\nInfinity,0\n', 'inf.csv'), 'inf.csv:2', /not a finite number/);
    expectDataError(() => csvDataset('a,b\n1,0\n', 'nolabel.csv'), 'nolabel.csv:1', /no label column 'label' in the header \(a, b\): name it with --label-column/);
    expectDataError(() => csvDataset('a,a,label\n1,2,0\n', 'dup.csv'), 'dup.csv:1', /names column 'a' twice/);
    expectDataError(() => csvDataset('label\n0\n', 'only.csv'), 'only.csv:1', /no feature columns/);
    expectDataError(() => csvDataset('', 'empty.csv'), 'empty.csv', /empty/);
    expectDataError(() => csvDataset('a,label\n', 'header.csv'), 'header.csv', /no rows/);
    expectDataError(() => csvDataset('a,label\n"1,0\n', 'quote.csv'), 'quote.csv:2', /CSV does not parse/);
  });

  it('parseCsv reports each record with the line it starts on', () => {
    const t = parseCsv('a,b\n1,"x\ny"\n3,4\n', 'm.csv');
    expect(t.rows.map((r) => r.line)).toEqual([3, 4]);
  });
});

describe('text datasets', () => {
  it('reads JSONL with names or class numbers, skipping blank lines', () => {
    const t = textDatasetFromJsonl('{"text":"good","label":"pos"}\n\n{"text":"bad","label":"neg","id":3}\n', 'r.jsonl');
    expect(t.texts).toEqual(['good', 'bad']);
    expect(t.classNames).toEqual(['neg', 'pos']);
    expect(Array.from(t.y)).toEqual([1, 0]);
    const n = textDatasetFromJsonl('{"text":"a","label":2}\n{"text":"b","label":0}\n', 'n.jsonl');
    expect(n.classNames).toBeNull();
    expect(n.classes).toBe(3);
  });

  it('reads CSV text with a text and a label column', () => {
    const t = textDatasetFromCsv('id,text,label\n1,"hello, world",greeting\n2,bye,farewell\n', 't.csv');
    expect(t.texts).toEqual(['hello, world', 'bye']);
    expect(Array.from(t.y)).toEqual([1, 0]);
  });

  it('refuses a line that is not a JSON object, a missing text and a label that is neither a number nor a name, naming the line', () => {
    expectDataError(() => textDatasetFromJsonl('{"text":"a","label":0}\n{oops\n', 'x.jsonl'), 'x.jsonl:2', /not JSON/);
    expectDataError(() => textDatasetFromJsonl('[1,2]\n', 'x.jsonl'), 'x.jsonl:1', /JSON object/);
    expectDataError(() => textDatasetFromJsonl('{"label":0}\n', 'x.jsonl'), 'x.jsonl:1', /field 'text' must be a string/);
    expectDataError(() => textDatasetFromJsonl('{"text":"a","label":1.5}\n', 'x.jsonl'), 'x.jsonl:1', /field 'label'/);
    expectDataError(() => textDatasetFromJsonl('\n\n', 'x.jsonl'), 'x.jsonl', /no rows/);
    expectDataError(() => textDatasetFromCsv('body,label\nhi,0\n', 'x.csv'), 'x.csv:1', /no text column 'text'/);
  });
});

describe('splitTestSet', () => {
  it('holds out the fraction of every class, by seed, disjoint from and covering the training rows', () => {
    const ds = tinyDataset(103, 2, 2, 4); // classes 0..3 with 26, 26, 26, 25 rows
    const a = splitTestSet(ds, 0.2, 7);
    expect(a.split).toEqual({ kind: 'seeded', fraction: 0.2, seed: 7, testCount: a.test.count, trainCount: a.train.count });
    expect(a.train.count + a.test.count).toBe(103);
    const perClass = (y: Int32Array, c: number): number => y.filter((v) => v === c).length;
    for (let c = 0; c < 4; c++) expect(perClass(a.test.y, c)).toBe(Math.round(perClass(ds.y, c) * 0.2));
    // rows keep their samples: every test row is a row of ds, and no row is in both
    const key = (d: typeof ds, r: number): string => `${Array.from(d.x.subarray(r * 4, r * 4 + 4)).join(',')}/${d.y[r]}`;
    const all = new Set(Array.from({ length: 103 }, (_, r) => key(ds, r)));
    const seen = new Set<string>();
    for (const part of [a.train, a.test]) for (let r = 0; r < part.count; r++) { const k = key(part, r); expect(all.has(k)).toBe(true); seen.add(k); }
    expect(seen.size).toBe(103);
    const again = splitTestSet(ds, 0.2, 7), other = splitTestSet(ds, 0.2, 8);
    expect(Array.from(again.test.x)).toEqual(Array.from(a.test.x));
    expect(Array.from(other.test.x)).not.toEqual(Array.from(a.test.x));
  });

  it('refuses a split that leaves either side empty and a fraction outside (0, 1)', () => {
    expectDataError(() => splitTestSet(tinyDataset(2, 2, 2, 2), 0.2, 0), 'tiny', /cannot be split/);
    expect(() => splitTestSet(tinyDataset(10), 1, 0)).toThrow(RangeError);
    expect(() => splitTestSet(tinyDataset(10), 0, 0)).toThrow(RangeError);
  });
});

describe('channelStats', () => {
  it('gives per-channel mean and population std of images (channels last), rows (per feature) and grey images (one channel)', () => {
    // 2 images 1x2x3: channel c holds c*10 + k over its 4 values, k = 0..3
    const x = new Uint8Array(12);
    for (let r = 0; r < 2; r++) for (let p = 0; p < 2; p++) for (let c = 0; c < 3; c++) x[r * 6 + p * 3 + c] = c * 10 + r * 2 + p;
    const img = makeDataset(x, [2, 1, 2, 3], Int32Array.from([0, 1]), { xFile: 'x', yFile: 'y' });
    const s = channelStats(img);
    expect(s.mean.length).toBe(3);
    for (let c = 0; c < 3; c++) {
      expect(s.mean[c]).toBeCloseTo((c * 10 + 1.5) / 255, 12);
      expect(s.std[c]).toBeCloseTo(Math.sqrt(1.25) / 255, 12); // values k = 0..3 around 1.5
    }
    const rows = makeDataset(Float32Array.from([1, 10, 3, 10]), [2, 2], Int32Array.from([0, 1]), { xFile: 'x', yFile: 'y' });
    expect(channelStats(rows)).toEqual({ mean: [2, 10], std: [1, 1] }); // feature 1 has no spread: std 1, only centred
    const grey = makeDataset(Uint8Array.from([0, 255, 0, 255]), [1, 2, 2], Int32Array.from([0]), { xFile: 'x', yFile: 'y' });
    expect(channelStats(grey)).toEqual({ mean: [0.5], std: [0.5] });
  });
});
