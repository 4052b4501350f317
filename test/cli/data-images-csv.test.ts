// Image folders, CSV tables and text through `retort`: an image folder of PNGs and JPEGs trains a
// CNN on a seeded, recorded test split (or on the folder's own train/ and test/); a CSV table with
// named labels trains an MLP and tests on a --test-data file of its own; text is inspected and
// refused for training; a bad image, an empty class folder or an unknown test label is one line
// naming the file and leaves no run behind.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encode as encodePng } from 'fast-png';
import jpeg from 'jpeg-js';
import { afterAll, describe, expect, it } from 'vitest';
import { expectOneLineError, retort, tempDir } from './helpers.js';

const tmp = tempDir('data-images');
const d = (...p: string[]): string => join(tmp.dir, ...p);
afterAll(() => tmp.cleanup());

const CLASSES = ['blue', 'green', 'red'];

/** A 12x12 image of class k: channel k bright, the others dim, over seeded noise. */
function image(k: number, seed: number): Uint8Array {
  let s = seed;
  const rand = (): number => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 8) / (1 << 24);
  const rgb = new Uint8Array(12 * 12 * 3);
  for (let p = 0; p < 144; p++) for (let c = 0; c < 3; c++) rgb[3 * p + c] = Math.floor(rand() * 80 + (c === (2 - k) ? 150 : 0));
  return rgb;
}

function writeImage(path: string, rgb: Uint8Array, asJpeg: boolean, size = 12): void {
  if (!asJpeg) { writeFileSync(path, encodePng({ width: size, height: size, data: rgb, channels: 3, depth: 8 })); return; }
  const rgba = new Uint8Array(size * size * 4);
  for (let p = 0; p < size * size; p++) { rgba.set(rgb.subarray(3 * p, 3 * p + 3), 4 * p); rgba[4 * p + 3] = 255; }
  writeFileSync(path, jpeg.encode({ width: size, height: size, data: rgba }, 95).data);
}

/** DIR/CLASS/NNN.png|jpg, `perClass` of each, every third a JPEG. */
function imageFolder(dir: string, perClass: number, seed: number): string {
  CLASSES.forEach((name, k) => {
    mkdirSync(join(dir, name), { recursive: true });
    for (let i = 0; i < perClass; i++) writeImage(join(dir, name, `${String(i).padStart(3, '0')}.${i % 3 === 2 ? 'jpg' : 'png'}`), image(k, seed * 1000 + k * 100 + i), i % 3 === 2);
  });
  return dir;
}

interface Report { test: { count: number; errors: number }; testSplit: { kind: string; testCount?: number; trainCount?: number; seed?: number }; classNames: string[] | null }
const report = (dir: string): Report => JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));

describe('retort on an image folder', () => {
  const flat = imageFolder(d('flat'), 40, 1);

  it('trains a CNN on a stratified split held out by --split-seed, records it, and tests every run on the same rows', () => {
    const common = ['--data', flat, '--model', 'lenet5:width=0.5', '--epochs', '12', '--validation', '12', '--batch-size', '16', '--lr', '3e-3'];
    let r = retort(['train', ...common, '--out', d('img1')]);
    expect(r.status, r.stderr).toBe(0);
    const a = report(d('img1'));
    expect(a.testSplit).toEqual({ kind: 'seeded', fraction: 0.2, seed: 0, testCount: 24, trainCount: 96 });
    expect(a.classNames).toEqual(CLASSES);
    expect(a.test.count).toBe(24);
    expect(a.test.errors).toBeLessThan(8); // chance is 16 of 24
    expect(readFileSync(d('img1', 'report.md'), 'utf8')).toMatch(/classes: 0 = blue, 1 = green, 2 = red/);
    // another training seed: the same test rows; the model file keeps the class names
    r = retort(['train', ...common, '--seed', '5', '--epochs', '1', '--out', d('img2')]);
    expect(r.status, r.stderr).toBe(0);
    r = retort(['eval', d('img1', 'model.retort'), '--data', flat, '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).errors).toBe(a.test.errors);
    r = retort(['info', d('img1', 'model.retort'), '--json']);
    expect(r.stdout).toContain('"classNames":["blue","green","red"]');
    // resized images, another split seed and fraction
    r = retort(['data', 'inspect', flat, '--image-size', '6x8', '--split-seed', '3', '--test-fraction', '0.25', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout) as { split: { testCount: number; seed: number }; splits: { sampleShape: number[]; classCounts: number[] }[] };
    expect(s.split).toMatchObject({ testCount: 30, seed: 3 });
    expect(s.splits[0]!.sampleShape).toEqual([6, 8, 3]);
    expect(s.splits[1]!.classCounts).toEqual([10, 10, 10]);
  }, 120_000);

  it('uses the folder\'s own train/ and test/, and --test-data in place of a split', () => {
    imageFolder(d('split', 'train'), 20, 2);
    imageFolder(d('split', 'test'), 5, 3);
    let r = retort(['data', 'inspect', d('split'), '--json']);
    expect(r.status, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout) as { split: { kind: string }; splits: { count: number }[] };
    expect(s.split.kind).toBe('given');
    expect(s.splits.map((p) => p.count)).toEqual([60, 15]);
    r = retort(['data', 'inspect', flat, '--test-data', d('split', 'test'), '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).splits.map((p: { count: number }) => p.count)).toEqual([120, 15]);
  });

  it('refuses an image that does not decode, an empty class folder and a stray file, in one line, leaving no run', () => {
    const bad = imageFolder(d('bad'), 3, 4);
    writeFileSync(join(bad, 'red', '005.png'), readFileSync(join(bad, 'red', '000.png')).subarray(0, 60));
    let r = retort(['train', '--data', bad, '--model', 'lenet5', '--out', d('badrun')]);
    expectOneLineError(r, [join(bad, 'red', '005.png'), /PNG does not decode/]);
    expect(existsSync(d('badrun'))).toBe(false);
    const empty = imageFolder(d('empty'), 3, 5);
    mkdirSync(join(empty, 'yellow'));
    r = retort(['data', 'inspect', empty]);
    expectOneLineError(r, [join(empty, 'yellow'), /class folder with no images/]);
    const stray = imageFolder(d('stray'), 3, 6);
    writeFileSync(join(stray, 'red', 'notes.txt'), 'hi');
    r = retort(['data', 'inspect', stray]);
    expectOneLineError(r, [join(stray, 'red', 'notes.txt'), /not an image file/]);
  });
});

describe('retort on a CSV table', () => {
  /** Rows of two features around a centre per species, seeded. */
  function table(n: number, seed: number, species = ['setosa', 'versicolor', 'virginica']): string {
    let s = seed;
    const rand = (): number => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 8) / (1 << 24);
    const rows = ['petal_length,species,petal_width'];
    for (let i = 0; i < n; i++) {
      const k = i % species.length;
      rows.push(`${(k * 2 + rand()).toFixed(3)},${species[k]},${(k * 1.5 + rand()).toFixed(3)}`);
    }
    return rows.join('\n') + '\n';
  }

  it('trains an MLP with --label-column on named labels and tests on --test-data mapped through the training names', () => {
    writeFileSync(d('train.csv'), table(150, 1));
    writeFileSync(d('test.csv'), table(30, 2));
    const r = retort(['train', '--data', d('train.csv'), '--test-data', d('test.csv'), '--label-column', 'species', '--model', 'mlp:2-16-3',
      '--epochs', '30', '--validation', '15', '--batch-size', '16', '--lr', '1e-2', '--out', d('csv1')]);
    expect(r.status, r.stderr).toBe(0);
    const a = report(d('csv1'));
    expect(a.testSplit).toEqual({ kind: 'file', path: d('test.csv') });
    expect(a.classNames).toEqual(['setosa', 'versicolor', 'virginica']);
    expect(a.test.count).toBe(30);
    expect(a.test.errors).toBeLessThan(6);
  }, 60_000);

  it('--normalize channel standardises each feature with the training split\'s statistics, which the model file carries to eval, export, import and int8', async () => {
    // petal_width in thousands: unscaled it would swamp petal_length
    const wide = (t: string): string => t.split('\n').map((l, i) => (i === 0 || l === '' ? l : l.replace(/,([^,]*)$/, (_m, w: string) => `,${(Number(w) * 1000).toFixed(1)}`))).join('\n');
    writeFileSync(d('wide-train.csv'), wide(table(150, 1)));
    writeFileSync(d('wide-test.csv'), wide(table(30, 2)));
    const data = ['--data', d('wide-train.csv'), '--test-data', d('wide-test.csv'), '--label-column', 'species'];
    let r = retort(['train', ...data, '--normalize', 'channel', '--model', 'mlp:2-16-3', '--epochs', '30', '--validation', '15',
      '--batch-size', '16', '--lr', '1e-2', '--out', d('norm1')]);
    expect(r.status, r.stderr).toBe(0);
    const rep = JSON.parse(readFileSync(d('norm1', 'report.json'), 'utf8')) as Report & { inputNorm: { mean: number[]; std: number[] } };
    expect(rep.inputNorm.mean).toHaveLength(2);
    expect(rep.inputNorm.mean[1]).toBeGreaterThan(100); // the wide feature's own scale
    expect(rep.test.errors).toBeLessThan(6);
    expect(readFileSync(d('norm1', 'report.md'), 'utf8')).toMatch(/inputs: \(x - \[.*\]\) \/ \[.*\] \(x\/255 for u8 pixels\) \(per channel, from the training split\)/);
    r = retort(['info', d('norm1', 'model.retort'), '--json']);
    expect(JSON.parse(r.stdout).meta.mean).toEqual(rep.inputNorm.mean);
    r = retort(['eval', d('norm1', 'model.retort'), ...data, '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).errors).toBe(rep.test.errors);
    r = retort(['export', d('norm1', 'model.retort'), '--format', 'onnx', '--out', d('norm1.onnx')]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/per channel/);
    r = retort(['import', d('norm1.onnx'), '--out', d('norm1-back.retort')]);
    expect(r.status, r.stderr).toBe(0);
    r = retort(['eval', d('norm1-back.retort'), ...data, '--json']);
    expect(JSON.parse(r.stdout).errors).toBe(rep.test.errors);
    r = retort(['quantize', d('norm1', 'model.retort'), ...data, '--calibration', '50', '--out', d('norm1.int8')]);
    expect(r.status, r.stderr).toBe(0);
    const { loadInference } = await import('@retort/core-wasm/infer');
    const m = (await loadInference()).load(new Uint8Array(readFileSync(d('norm1.int8'))), 'norm1.int8');
    expect(m.normalization).toEqual(rep.inputNorm);
    m.free();
  }, 60_000);

  it('refuses a test label the training data lacks, a row with the wrong number of fields and a missing label column', () => {
    writeFileSync(d('odd.csv'), table(6, 3, ['setosa', 'versicolor', 'rosa']));
    let r = retort(['train', '--data', d('train.csv'), '--test-data', d('odd.csv'), '--label-column', 'species', '--model', 'mlp:2-4-3', '--out', d('csv2')]);
    expectOneLineError(r, [`${d('odd.csv')}:4`, /'rosa' is not one of the training classes/]);
    expect(existsSync(d('csv2'))).toBe(false);
    writeFileSync(d('ragged.csv'), 'a,label\n1,0\n2,1,3\n');
    r = retort(['data', 'inspect', d('ragged.csv')]);
    expectOneLineError(r, [`${d('ragged.csv')}:3`, /wrong number of fields/]);
    r = retort(['data', 'inspect', d('train.csv')]);
    expectOneLineError(r, [`${d('train.csv')}:1`, /no label column 'label'.*--label-column/]);
  });
});

describe('retort on text', () => {
  it('inspects JSONL and CSV text; trains a text model on it and refuses an image model in one line', () => {
    writeFileSync(d('reviews.jsonl'), ['{"text":"great film","label":"pos"}', '{"text":"dull","label":"neg"}', '{"text":"","label":"pos"}'].join('\n') + '\n');
    let r = retort(['data', 'inspect', d('reviews.jsonl'), '--json']);
    expect(r.status, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout) as { kind: string; classNames: string[]; splits: { count: number; classCounts: number[]; maxChars: number }[]; warnings: string[] };
    expect(s.kind).toBe('text');
    expect(s.classNames).toEqual(['neg', 'pos']);
    expect(s.splits[0]).toMatchObject({ count: 3, classCounts: [1, 2], maxChars: 10 });
    expect(s.warnings).toEqual(['all: 1 texts are empty']);
    writeFileSync(d('reviews.csv'), 'text,label\n"a, b",1\nc,0\n');
    r = retort(['data', 'inspect', d('reviews.csv')]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/text, 2 classes/);
    writeFileSync(d('reviews10.csv'), `text,label\n${Array.from({ length: 10 }, (_, i) => `"film ${i}, ${i % 2 ? 'great' : 'dull'}",${i % 2}`).join('\n')}\n`);
    r = retort(['train', '--data', d('reviews10.csv'), '--model', 'mlp:4-2', '--validation', '2', '--out', d('text1')]);
    expectOneLineError(r, ['the data are token ids', 'must start with an embedding layer']);
    expect(existsSync(d('text1'))).toBe(false);
    r = retort(['train', '--data', d('reviews10.csv'), '--model', 'bag:dim=4', '--epochs', '1', '--validation', '2', '--max-length', '8', '--out', d('text2')]);
    expect(r.status, r.stderr).toBe(0);
    writeFileSync(d('broken.jsonl'), '{"text":"x","label":0}\n{"text":5,"label":0}\n');
    r = retort(['data', 'inspect', d('broken.jsonl')]);
    expectOneLineError(r, [`${d('broken.jsonl')}:2`, /field 'text' must be a string/]);
  });
});
