// A transfer set larger than memory (issue 11's target): MNIST enlarged to 2,040,000 images by
// seeded shifts (34 copies, 1.6 GB of shards), distilled into a student streamed from disk.
//   1. `retort data shard mnist --shifts 33` writes the shards (once; kept in the work directory)
//   2. a teacher is trained on MNIST (once)
//   3. `retort distill --data SHARDS` runs under /usr/bin/time: its peak resident memory (the
//      product path: teacher soft labels over all 2.04M rows written as shards, then one epoch
//      streamed through the shuffle buffer)
//   4. in one process, the same student, batch and teacher outputs, one epoch each, alternating:
//      streamed from the shards vs the same 2.04M rows held in memory (read from the shards
//      first; the in-memory run gets the teacher outputs in memory too). Samples/s, best of 2.
// Usage: node packages/distill/scripts/stream-bench.mjs [WORKDIR] (default /tmp/retort-stream-bench)
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCore } from '@retort/core-wasm';
import { createModel, fullView, train } from '@retort/distill';
import { allRows, ShardedDataset, ShardedLogitTable } from '@retort/distill/node';

const work = resolve(process.argv[2] ?? '/tmp/retort-stream-bench');
const bin = fileURLToPath(new URL('../../cli/dist/bin.js', import.meta.url));
const STUDENT = 'mlp:784-128-10';
const BATCH = 128;
mkdirSync(work, { recursive: true });
const shards = join(work, 'shards'), teacherDir = join(work, 'teacher'), runDir = join(work, 'stream-run');
const sh = (args) => execFileSync(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'inherit'] }).toString();

if (!existsSync(join(shards, 'index.json'))) {
  console.log('writing the shards (MNIST + 33 shifted copies) ...');
  console.log(sh(['data', 'shard', 'mnist', '--out', shards, '--shifts', '33', '--shift-pixels', '3', '--seed', '1']).trim());
}
if (!existsSync(join(teacherDir, 'model.retort'))) {
  console.log('training the teacher (mlp:784-512-512-10, 3 epochs on MNIST) ...');
  sh(['train', '--model', 'mlp:784-512-512-10', '--epochs', '3', '--out', teacherDir, '--force']);
}
const bytes = spawnSync('du', ['-sb', shards]).stdout.toString().split('\t')[0];
console.log(`shards: ${(Number(bytes) / 1e9).toFixed(2)} GB`);

// 3. the product path under /usr/bin/time -v
const timed = spawnSync('/usr/bin/time', ['-v', process.execPath, bin, 'distill', '--data', shards, '--teacher', join(teacherDir, 'model.retort'),
  '--model', STUDENT, '--batch-size', String(BATCH), '--epochs', '1', '--temperature', '4', '--alpha', '0.9', '--out', runDir, '--force', '--json'],
{ maxBuffer: 1 << 28 });
if (timed.status !== 0) { console.error(timed.stderr.toString()); process.exit(1); }
const rssKb = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(timed.stderr.toString())[1]);
const events = timed.stdout.toString().trim().split('\n').map((l) => JSON.parse(l));
const epoch = events.find((e) => e.type === 'epoch');
const report = JSON.parse(readFileSync(join(runDir, 'report.json'), 'utf8'));
console.log(`streamed distill (CLI): peak RSS ${(rssKb / 1024).toFixed(0)} MB, ${report.trainSamples} samples, ${Math.round(epoch.metrics.samplesPerSec)} samples/s, test errors ${report.test.errors}`);

// 4. throughput side by side in one process
const core = await loadCore({ backend: 'simd' });
const store = ShardedDataset.open(shards);
const table = ShardedLogitTable.open(join(runDir, 'teacher-outputs'));
console.log(`reading all ${store.rows} rows into memory for the in-memory run ...`);
const inMemory = store.readRange(0, store.rows);
const memoryLogits = allRows(table);
const settings = { epochs: 1, batchSize: BATCH, optimizer: { type: 'adamw', lr: 1e-3 }, schedule: { type: 'cosine' }, seed: 1, jitter: 0, mean: 0, std: 1 };
const objective = (source) => ({ terms: [{ type: 'ce', weight: 0.1 }, { type: 'kd', weight: 0.9, temperature: 4, scaleT2: true }], teachers: [{ source, weight: 1 }] });
async function once(kind) {
  const model = createModel(core, STUDENT);
  try {
    const r = kind === 'streamed'
      ? await train({ core, model, train: store.stream(null), validation: null, settings, objective: objective({ kind: 'table', table }) })
      : await train({ core, model, train: fullView(inMemory), validation: null, settings, objective: objective({ kind: 'logits', logits: memoryLogits }) });
    return r.history[0].samplesPerSec;
  } finally {
    model.free();
  }
}
const rates = { streamed: [], 'in memory': [] };
for (let i = 0; i < 2; i++) {
  for (const kind of ['streamed', 'in memory']) {
    const rate = await once(kind);
    rates[kind].push(rate);
    console.log(`  ${kind.padEnd(9)} ${Math.round(rate)} samples/s`);
  }
}
const best = (k) => Math.max(...rates[k]);
console.log(`\nbest of 2: streamed ${Math.round(best('streamed'))}, in memory ${Math.round(best('in memory'))} samples/s: streamed/in-memory ${(best('streamed') / best('in memory')).toFixed(3)}`);
console.log(JSON.stringify({ rows: store.rows, shardBytes: Number(bytes), peakRssMb: rssKb / 1024, cliSamplesPerSec: epoch.metrics.samplesPerSec, streamed: best('streamed'), inMemory: best('in memory') }));
