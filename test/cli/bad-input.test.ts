// Bad input to `retort`: one line on stderr naming the culprit, a non-zero exit (2 for
// flags and config fields, 1 for files), and nothing half-written left behind.
import { existsSync, mkdirSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeIdxFile, writeNpyFile, MNIST_FILE_NAMES } from '@retort/distill/node';
import { expectOneLineError, retort, SMALL, tempDir } from './helpers.js';

const tmp = tempDir('bad');
const d = (...p: string[]): string => join(tmp.dir, ...p);
const TINY = ['--model', 'mlp:784-16-10', '--epochs', '1', '--validation', '50'];

/** A valid data folder of random 28x28 images under MNIST's file names. */
function writeDataDir(dir: string, opts: { trainLabels?: number } = {}): void {
  mkdirSync(dir, { recursive: true });
  const images = (n: number) => ({ type: 'u8' as const, dims: [n, 28, 28], data: Uint8Array.from({ length: n * 784 }, (_, i) => (i * 2654435761) >>> 24) });
  const labels = (n: number) => ({ type: 'u8' as const, dims: [n], data: Uint8Array.from({ length: n }, (_, i) => i % 10) });
  writeIdxFile(join(dir, MNIST_FILE_NAMES.trainImages), images(300));
  writeIdxFile(join(dir, MNIST_FILE_NAMES.trainLabels), labels(opts.trainLabels ?? 300));
  writeIdxFile(join(dir, MNIST_FILE_NAMES.testImages), images(100));
  writeIdxFile(join(dir, MNIST_FILE_NAMES.testLabels), labels(100));
}

let teacher = '';
beforeAll(() => {
  const r = retort(['train', '--model', 'mlp:784-16-10', ...SMALL, '--out', d('teacher')]);
  expect(r.status, r.stderr).toBe(0);
  teacher = d('teacher', 'model.retort');
});
afterAll(() => tmp.cleanup());

describe('data files', () => {
  it('trains on a folder of IDX files (the control case)', () => {
    writeDataDir(d('good'));
    const r = retort(['train', '--data', d('good'), ...TINY, '--out', d('good-run')]);
    expect(r.status, r.stderr).toBe(0);
  });

  it.each([
    ['a truncated IDX file', (dir: string) => truncateSync(join(dir, MNIST_FILE_NAMES.trainImages), 5000), [MNIST_FILE_NAMES.trainImages, 'truncated']],
    ['a file with the wrong magic', (dir: string) => writeFileSync(join(dir, MNIST_FILE_NAMES.testImages), 'GIF89a not an idx file'), [MNIST_FILE_NAMES.testImages, 'not an IDX file']],
  ] as const)('rejects %s and removes the run directory it created', (_, corrupt, patterns) => {
    const dir = d(`data-${patterns[1]!.replace(/\W/g, '')}`);
    writeDataDir(dir);
    corrupt(dir);
    const out = d('runs', 'nested', 'run');
    const r = retort(['train', '--data', dir, ...TINY, '--out', out]);
    expectOneLineError(r, [...patterns], 1);
    expect(existsSync(d('runs'))).toBe(false);
  });

  it('rejects a data folder with a file missing', () => {
    const dir = d('missing');
    mkdirSync(dir);
    const r = retort(['train', '--data', dir, ...TINY, '--out', d('missing-run')]);
    expectOneLineError(r, [MNIST_FILE_NAMES.trainImages, 'not found'], 1);
    expect(existsSync(d('missing-run'))).toBe(false);
  });

  it('rejects labels that do not match the images', () => {
    writeDataDir(d('mismatch'), { trainLabels: 299 });
    const r = retort(['train', '--data', d('mismatch'), ...TINY, '--out', d('mismatch-run')]);
    expectOneLineError(r, [MNIST_FILE_NAMES.trainLabels, /299 labels/], 1);
    expect(existsSync(d('mismatch-run'))).toBe(false);
  });
});

describe('teacher files', () => {
  const distill = (...args: string[]) => retort(['distill', '--model', 'mlp:784-16-10', ...SMALL, ...args]);

  it('rejects teacher logits holding NaN, naming the file and the entry', () => {
    const data = new Float32Array(60000 * 10);
    data[5 * 10 + 3] = NaN;
    writeNpyFile(d('nan.npy'), { dtype: 'f4', shape: [60000, 10], data });
    expectOneLineError(distill('--teacher-logits', d('nan.npy'), '--out', d('nan-run')), ['nan.npy', '[5, 3]', 'NaN'], 1);
    expect(existsSync(d('nan-run'))).toBe(false);
  });

  it('rejects teacher logits with the wrong number of classes or samples', () => {
    writeNpyFile(d('five.npy'), { dtype: 'f4', shape: [60000, 5], data: new Float32Array(300000) });
    expectOneLineError(distill('--teacher-logits', d('five.npy'), '--out', d('five-run')), ['five.npy', '5 classes'], 1);
    writeNpyFile(d('short.npy'), { dtype: 'f4', shape: [100, 10], data: new Float32Array(1000) });
    // the sample count is only known once the data is loaded: the run directory was made and is removed again
    expectOneLineError(distill('--teacher-logits', d('short.npy'), '--out', d('short-run')), ['short.npy', '100 samples', '60000'], 1);
    expect(existsSync(d('short-run'))).toBe(false);
  });

  it('rejects a truncated .npy', () => {
    writeNpyFile(d('cut.npy'), { dtype: 'f4', shape: [60000, 10], data: new Float32Array(600000) });
    truncateSync(d('cut.npy'), 1000);
    expectOneLineError(distill('--teacher-logits', d('cut.npy'), '--out', d('cut-run')), ['cut.npy', 'truncated'], 1);
  });

  it('rejects a teacher model with the wrong magic, a truncated one and a missing one', () => {
    writeFileSync(d('fake.retort'), 'PK\x03\x04 this is a zip, not a model');
    expectOneLineError(distill('--teacher', d('fake.retort'), '--out', d('x')), ['fake.retort', 'bad magic'], 1);
    writeFileSync(d('cut.retort'), readFileSync(teacher).subarray(0, 2000));
    expectOneLineError(distill('--teacher', d('cut.retort'), '--out', d('x')), ['cut.retort', 'truncated'], 1);
    expectOneLineError(distill('--teacher', d('none.retort'), '--out', d('x')), ['none.retort', 'no such file'], 1);
    expect(existsSync(d('x'))).toBe(false);
  });

  it('--force over an existing run with bad input leaves that run untouched', () => {
    const before = readFileSync(teacher);
    expectOneLineError(distill('--teacher', d('none.retort'), '--out', d('teacher'), '--force'), ['none.retort', 'no such file'], 1);
    const r = retort(['train', '--model', 'mlp:784-16-10', ...SMALL, '--data', d('no-such-data'), '--out', d('teacher'), '--force']);
    expectOneLineError(r, ['no-such-data', 'not found'], 1);
    expect(readFileSync(teacher).equals(before)).toBe(true);
    expect(existsSync(d('teacher', 'config.json'))).toBe(true);
  });

  it('rejects a teacher whose classes differ from the student', () => {
    const r = retort(['distill', '--model', 'mlp:784-16-5', ...SMALL, '--teacher', teacher, '--out', d('x')]);
    expectOneLineError(r, ['10 classes', 'has 5'], 1);
  });
});

describe('flags and config', () => {
  const distill = (...args: string[]) => retort(['distill', '--model', 'mlp:784-16-10', '--teacher', teacher, ...SMALL, '--out', d('x'), ...args]);

  it.each([
    [['--temperature', '0'], '--temperature'],
    [['--temperature', '-2'], '--temperature'],
    [['--alpha', '1.5'], '--alpha'],
    [['--alpha', 'abc'], '--alpha'],
    [['--epochs', '2.5'], '--epochs'],
    [['--batch-size', '0'], '--batch-size'],
    [['--lr', '1e'], '--lr'],
    [['--bogus'], "unknown option '--bogus'"],
    [['--model', 'mlp:784-x-10'], '--model'],
  ])('%j is a usage error naming %s', (args, culprit) => {
    expectOneLineError(distill(...args), [culprit], 2);
    expect(existsSync(d('x'))).toBe(false);
  });

  it('names an unknown or invalid config-file field', () => {
    writeFileSync(d('bad.json'), JSON.stringify({ model: 'mlp:784-16-10', epochz: 3 }));
    expectOneLineError(retort(['train', '--config', d('bad.json'), '--out', d('x')]), ["unknown field 'epochz'"], 2);
    writeFileSync(d('bad2.json'), JSON.stringify({ model: 'mlp:784-16-10', alpha: 2 }));
    expectOneLineError(retort(['train', '--config', d('bad2.json'), '--out', d('x')]), ['config.alpha', '[0, 1]'], 2);
    expect(existsSync(d('x'))).toBe(false);
  });

  it('prints the stack only with RETORT_DEBUG=1', () => {
    const r = retort(['distill', '--model', 'mlp:784-16-10', '--teacher', d('none.retort'), '--out', d('x')], { env: { RETORT_DEBUG: '1' } });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/\n\s+at /);
  });
});

describe('run directories', () => {
  it('never overwrites an existing directory without --force, and leaves it untouched', () => {
    const out = d('taken');
    mkdirSync(out);
    writeFileSync(join(out, 'notes.txt'), 'mine');
    expectOneLineError(retort(['train', ...TINY, '--out', out]), [out, '--force'], 1);
    expectOneLineError(retort(['train', ...TINY, '--out', out, '--force']), ['not a Retort run directory'], 1);
    expect(readdirSync(out)).toEqual(['notes.txt']);
    expect(readFileSync(join(out, 'notes.txt'), 'utf8')).toBe('mine');
  });

  it('replaces a finished run with --force', () => {
    const out = d('again');
    expect(retort(['train', '--model', 'mlp:784-16-10', ...SMALL, '--out', out]).status).toBe(0);
    expectOneLineError(retort(['train', '--model', 'mlp:784-16-10', ...SMALL, '--out', out]), ['already exists'], 1);
    const r = retort(['train', '--model', 'mlp:784-16-10', ...SMALL, '--seed', '9', '--out', out, '--force']);
    expect(r.status, r.stderr).toBe(0);
    expect((JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as { config: { seed: number } }).config.seed).toBe(9);
  });

  it('keeps a pre-existing empty directory (emptied again) when the job fails before training', () => {
    const out = d('empty');
    mkdirSync(out);
    expectOneLineError(retort(['train', '--data', d('nowhere'), ...TINY, '--out', out]), ['nowhere', 'not found'], 1);
    expect(readdirSync(out)).toEqual([]);
  });

  it('fails cleanly on eval and info of bad files', () => {
    expectOneLineError(retort(['eval', d('none.retort')]), ['none.retort', 'no such file'], 1);
    expectOneLineError(retort(['info', d('fake.retort')]), ['fake.retort', 'not a Retort model, IDX or .npy file'], 1);
    expectOneLineError(retort(['info', d('cut.npy')]), ['cut.npy', 'truncated'], 1);
  });
});
