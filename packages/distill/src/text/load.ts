// Text data for a run (Node): a bundled corpus (`spam`, `sotu`: ./corpora.ts) or the user's
// JSONL/CSV (a `text` and a `label` field), with its test set (its own, --test-data, or a seeded
// stratified split), tokenised by the run's tokenizer (./data.ts): a tokenizer.json given as
// `tokenizer`, the one a teacher model was trained with, or one trained on the training split.
import { resolve } from 'node:path';
import { DEFAULT_SPLIT_SEED, DEFAULT_TEST_FRACTION, stratifiedTestRows, type TestSplit } from '../data/dataset.js';
import { isTextDataPath, loadTextPath, readTextFile } from '../data/files.js';
import type { LoadedData } from '../data/sources.js';
import type { TextDataset } from '../data/table.js';
import { isTextCorpus, loadTextCorpus } from './corpora.js';
import { encodeTextData, type TokenData } from './data.js';
import { loadTokenizer, type TextTokenizer } from './tokenizer.js';

/** The config fields text data reads. */
export interface TextDataConfig {
  data: string;
  testData?: string | undefined;
  testFraction?: number | undefined;
  splitSeed?: number | undefined;
  labelColumn?: string | undefined;
  textColumn?: string | undefined;
  /** A tokenizer.json; else `given`, else one trained on the training split. */
  tokenizer?: string | undefined;
  maxLength?: number | undefined;
  vocabSize?: number | undefined;
}

/** What a text run carries besides its datasets: saved in model files as `meta.text`. */
export interface TextInfo {
  tokenizer: TextTokenizer;
  maxLength: number;
  truncated: { train: number; test: number };
}

export type LoadedTextData = LoadedData & { text: TextInfo };

/** Whether `data` names text: a bundled corpus or a .jsonl/.csv with a text column. */
export function isTextData(data: string): boolean {
  return isTextCorpus(data) || (data !== 'mnist' && isTextDataPath(resolve(data)));
}

// platform-neutral (the lab reads it too): ./tokenizer.ts
export { tokenizerOfMeta } from './tokenizer.js';

/** The `meta.text` entry of a model file. */
export function textMeta(info: TextInfo): Record<string, unknown> {
  return { text: { tokenizer: info.tokenizer.json, maxLength: info.maxLength, kind: info.tokenizer.kind, vocabSize: info.tokenizer.vocabSize } };
}

function splitText(ds: TextDataset, fraction: number, seed: number): { train: TextDataset; test: TextDataset; split: TestSplit } {
  const rows = stratifiedTestRows(ds.y, ds.classes, fraction, seed, ds.name);
  const base = ds.name.replace(/\/train$/, '');
  const take = (idx: number[], part: string): TextDataset => ({
    ...ds, name: `${base}/${part}`, count: idx.length, texts: idx.map((i) => ds.texts[i]!), y: Int32Array.from(idx, (i) => ds.y[i]!),
  });
  return { train: take(rows.train, 'train'), test: take(rows.test, 'test'), split: { kind: 'seeded', fraction, seed, testCount: rows.test.length, trainCount: rows.train.length } };
}

/**
 * Loads and tokenises the text data `config` names. `given`: the tokenizer (and its maximum
 * length) of a teacher model, used when `config.tokenizer` is absent so that student and teacher
 * read the same ids.
 */
export function loadTextData(config: TextDataConfig, given?: { tokenizer: TextTokenizer; maxLength: number } | null): LoadedTextData {
  let train: TextDataset, test: TextDataset, split: TestSplit;
  if (isTextCorpus(config.data)) {
    const c = loadTextCorpus(config.data);
    if (config.testData !== undefined) {
      const t = loadTextPath(resolve(config.testData), { ...(config.labelColumn ? { labelColumn: config.labelColumn } : {}), ...(config.textColumn ? { textColumn: config.textColumn } : {}) }).train;
      ({ train } = c);
      test = { ...t, classNames: t.classNames ?? c.train.classNames, classes: Math.max(t.classes, c.train.classes) };
      split = { kind: 'file', path: config.testData };
    } else ({ train, test, split } = c);
  } else {
    const path = resolve(config.data);
    const files = loadTextPath(path, {
      ...(config.labelColumn ? { labelColumn: config.labelColumn } : {}), ...(config.textColumn ? { textColumn: config.textColumn } : {}),
      ...(config.testData !== undefined ? { testData: resolve(config.testData) } : {}),
    });
    if (files.test) ({ train, test } = { train: files.train, test: files.test }), split = { kind: 'file', path: config.testData! };
    else ({ train, test, split } = splitText(files.train, config.testFraction ?? DEFAULT_TEST_FRACTION, config.splitSeed ?? DEFAULT_SPLIT_SEED));
  }
  const tokenizer = config.tokenizer !== undefined ? loadTokenizer(readTextFile(resolve(config.tokenizer)), config.tokenizer) : given?.tokenizer;
  const maxLength = config.maxLength ?? (config.tokenizer === undefined && given && Number.isInteger(given.maxLength) ? given.maxLength : undefined);
  const d: TokenData = encodeTextData(train, test, split, {
    ...(tokenizer ? { tokenizer } : {}), ...(maxLength !== undefined ? { maxLength } : {}), ...(config.vocabSize !== undefined ? { vocabSize: config.vocabSize } : {}),
  });
  return {
    train: d.train, test: d.test, split: d.split, classNames: d.classNames,
    text: { tokenizer: d.tokenizer, maxLength: d.maxLength, truncated: d.truncated },
  };
}
