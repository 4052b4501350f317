// `retort data inspect PATH`: what a dataset holds (any form --data takes, or text) and what
// looks wrong in it, as a table or one JSON object. A file a reader refuses is the reader's
// one-line error.
import { resolve } from 'node:path';
import { describeTestSplit, summarizeData, summarizeText, type DataSummary, type TestSplit, type TextDataSummary } from '@retort/distill';
import { datasetShardsIndexPath, isTextCorpus, isTextDataPath, loadData, loadTextCorpus, loadTextPath, ShardedDataset, writeDatasetShards } from '@retort/distill/node';
import { dataOptionsFromFlags, type DataFlags } from '../options.js';
import type { Io } from '../program.js';

const num = (v: number): string => (Number.isInteger(v) ? String(v) : v.toPrecision(4));

function classList(counts: readonly number[], names: readonly string[] | null): string {
  return counts.map((n, c) => `${names?.[c] ?? c}: ${n}`).join(', ');
}

export function dataInspectCommand(path: string, flags: DataFlags & { json?: boolean }, io: Io): number {
  if (isTextCorpus(path)) return inspectText(path, flags, io);
  const data = path === 'mnist' ? 'mnist' : resolve(path);
  if (data !== 'mnist' && isTextDataPath(data)) return inspectText(data, flags, io);
  let summary: DataSummary & { data: string; split: TestSplit; classNames: string[] | null; shards?: { train: number; test: number } };
  const index = data !== 'mnist' ? datasetShardsIndexPath(data) : null;
  if (index) {
    // a dataset in shards: summarised a chunk at a time, never all in memory
    const store = ShardedDataset.open(index);
    summary = { data: path, split: { kind: 'given' }, classNames: store.index.classNames ?? null, shards: { train: store.train.length, test: store.test.length }, ...store.summary() };
  } else {
    const { train, test, split, classNames } = loadData({ data, ...dataOptionsFromFlags(flags) });
    summary = { data: path, split, classNames, ...summarizeData({ train, test }) };
  }
  const classNames = summary.classNames, split = summary.split;
  if (flags.json) {
    io.out(JSON.stringify(summary));
    return 0;
  }
  io.out(`${path}: ${summary.classes} classes${classNames ? ` (${classNames.join(', ')})` : ''}; ${summary.shards ? `in shards (${summary.shards.train} train, ${summary.shards.test} test), streamed by train and distill; ${summary.shards.test ? 'test set its test shards' : 'no test shards: give --test-data'}` : `test set ${describeTestSplit(split)}`}`);
  for (const s of summary.splits) {
    io.out(`  ${s.split.padEnd(5)} ${String(s.count).padStart(8)} samples of ${s.sampleShape.join('x')} ${s.dtype}, values ${num(s.min)} .. ${num(s.max)}`
      + ` (mean ${num(s.mean)})${s.nonFinite ? `, ${s.nonFinite} not finite` : ''}`);
    io.out(`        per class: ${classList(s.classCounts, classNames)}`);
  }
  printWarnings(summary.warnings, io);
  return 0;
}

function inspectText(path: string, flags: DataFlags & { json?: boolean }, io: Io): number {
  const { train, test } = isTextCorpus(path) ? loadTextCorpus(path) : loadTextPath(path, {
    ...(flags.labelColumn ? { labelColumn: flags.labelColumn } : {}), ...(flags.testData ? { testData: resolve(flags.testData) } : {}),
    ...(flags.textColumn ? { textColumn: flags.textColumn } : {}),
  });
  const summary: TextDataSummary & { data: string; kind: 'text' } = { data: path, kind: 'text', ...summarizeText(test ? { train, test } : { all: train }) };
  if (flags.json) {
    io.out(JSON.stringify(summary));
    return 0;
  }
  io.out(`${path}: text, ${summary.classes} classes${summary.classNames ? ` (${summary.classNames.join(', ')})` : ''}`);
  for (const s of summary.splits) {
    io.out(`  ${s.split.padEnd(5)} ${String(s.count).padStart(8)} texts of ${s.minChars} .. ${s.maxChars} characters (mean ${num(s.meanChars)})`);
    io.out(`        per class: ${classList(s.classCounts, summary.classNames)}`);
  }
  printWarnings(summary.warnings, io);
  return 0;
}

function printWarnings(warnings: readonly string[], io: Io): void {
  io.out(warnings.length ? `warnings:\n${warnings.map((w) => `  - ${w}`).join('\n')}` : 'nothing suspicious found');
}

export interface DataShardFlags extends DataFlags { out: string; shardRows?: number; shifts?: number; shiftPixels?: number; seed?: number; json?: boolean }

/** `retort data shard PATH --out DIR`: the dataset (its train and test sets) as shards with an index (node/shard-data.ts). */
export function dataShardCommand(path: string, flags: DataShardFlags, io: Io): number {
  const data = path === 'mnist' ? 'mnist' : resolve(path);
  const { train, test, classNames } = loadData({ data, ...dataOptionsFromFlags(flags) });
  const out = resolve(flags.out);
  const t0 = performance.now();
  const r = writeDatasetShards(out, train, test, {
    ...(flags.shardRows !== undefined ? { shardRows: flags.shardRows } : {}),
    ...(flags.shifts !== undefined ? { shifts: flags.shifts } : {}),
    ...(flags.shiftPixels !== undefined ? { shiftPixels: flags.shiftPixels } : {}),
    ...(flags.seed !== undefined ? { seed: flags.seed } : {}),
    classNames,
  });
  const result = { index: r.indexPath, trainRows: r.rows, trainShards: r.shards, testRows: test.count, seconds: (performance.now() - t0) / 1000 };
  if (flags.json) io.out(JSON.stringify(result));
  else io.out(`${r.indexPath}: ${r.rows} training rows in ${r.shards} shards, ${test.count} test rows (${result.seconds.toFixed(1)} s); train with --data ${out}`);
  return 0;
}
