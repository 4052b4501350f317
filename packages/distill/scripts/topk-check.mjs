// Top-k teacher outputs at 1,000 classes (issue 11's target): is the cache at least 10x smaller than
// full logits at k = 32, and does a student distilled from it end within 1 point of one distilled
// from full logits (mean of 3 seeds)?
//
// The setting: a synthetic 1,000-class problem with structure a teacher can teach — 100 groups of
// 10 classes in 64 dimensions (group centres N(0, 3²), class centres their group's + N(0, 1),
// samples their class's + N(0, 3²)), so a class's confusable neighbours are the other nine of
// its group: the dark knowledge top-k keeps. 60 training and 10 test samples per class, written
// as a .safetensors dataset (x_train, y_train, x_test, y_test). Teacher mlp:64-512-512-1000
// (10 epochs); students mlp:64-128-1000 (10 epochs, T = argv[3] (default 4), alpha = 0.9), from full logits and
// from --top-k 32, seeds 1, 2, 3, and the student alone for reference.
// Usage: node packages/distill/scripts/topk-check.mjs [WORKDIR [T]] (default /tmp/retort-topk-check 4)
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSafetensorsFile } from '@retort/distill/node';

const work = resolve(process.argv[2] ?? '/tmp/retort-topk-check');
const T = process.argv[3] ?? '4';
const bin = fileURLToPath(new URL('../../cli/dist/bin.js', import.meta.url));
const NOISE = 3; // sibling classes ~11 apart against a noise of 3 per dimension: a teacher errs, and knows which sibling it would confuse
const GROUPS = 100, PER_GROUP = 10, CLASSES = GROUPS * PER_GROUP, D = 64, TRAIN = 60, TEST = 10, K = 32;
mkdirSync(work, { recursive: true });
const data = join(work, 'classes1000.safetensors');
const retort = (args) => { execFileSync(process.execPath, [bin, ...args], { stdio: ['ignore', 'ignore', 'inherit'] }); };

if (!existsSync(data)) {
  let state = 2026; // mulberry32: a seeded generator for the data alone
  const unit = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const normal = () => { // Box-Muller
    const u = Math.max(unit(), 1e-12), v = unit();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
  const centres = new Float64Array(CLASSES * D);
  for (let g = 0; g < GROUPS; g++) {
    const group = Array.from({ length: D }, () => 3 * normal());
    for (let j = 0; j < PER_GROUP; j++) for (let d = 0; d < D; d++) centres[(g * PER_GROUP + j) * D + d] = group[d] + normal();
  }
  const sample = (per) => {
    const x = new Float32Array(CLASSES * per * D), y = new Int32Array(CLASSES * per);
    for (let i = 0; i < CLASSES * per; i++) {
      const c = i % CLASSES;
      y[i] = c;
      for (let d = 0; d < D; d++) x[i * D + d] = centres[c * D + d] + NOISE * normal();
    }
    return { x, y };
  };
  const tr = sample(TRAIN), te = sample(TEST);
  writeSafetensorsFile(data, {
    x_train: { shape: [CLASSES * TRAIN, D], data: tr.x }, y_train: { dtype: 'I32', shape: [CLASSES * TRAIN], data: tr.y },
    x_test: { shape: [CLASSES * TEST, D], data: te.x }, y_test: { dtype: 'I32', shape: [CLASSES * TEST], data: te.y },
  });
}
const common = ['--data', data, '--epochs', '10', '--validation', '5000', '--force'];
const teacher = join(work, 'teacher');
if (!existsSync(join(teacher, 'model.retort'))) {
  console.log('training the teacher ...');
  retort(['train', '--model', 'mlp:64-512-512-1000', ...common, '--out', teacher]);
}
const report = (dir) => JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));
console.log(`teacher: ${(report(teacher).test.accuracy * 100).toFixed(2)} % test accuracy`);
const dirBytes = (dir) => readdirSync(dir).filter((f) => f.endsWith('.safetensors')).reduce((s, f) => s + statSync(join(dir, f)).size, 0);

const rows = [];
for (const seed of [1, 2, 3]) {
  const student = ['--model', 'mlp:64-128-1000', ...common, '--seed', String(seed)];
  const runs = {
    full: ['distill', '--teacher', join(teacher, 'model.retort'), '--temperature', T, '--alpha', '0.9', ...student],
    topk: ['distill', '--teacher', join(teacher, 'model.retort'), '--top-k', String(K), '--temperature', T, '--alpha', '0.9', ...student],
    alone: ['train', ...student],
  };
  const row = { seed };
  for (const [name, args] of Object.entries(runs)) {
    const out = join(work, `${name}-${seed}${name === 'alone' ? '' : `-T${T}`}`);
    retort([...args, '--out', out]);
    row[name] = report(out).test.accuracy * 100;
    if (name !== 'alone') row[`${name}Bytes`] = dirBytes(join(out, 'teacher-outputs'));
  }
  rows.push(row);
  console.log(`seed ${seed}: full logits ${row.full.toFixed(2)} %, top-${K} ${row.topk.toFixed(2)} %, alone ${row.alone.toFixed(2)} %; caches ${(row.fullBytes / 1e6).toFixed(1)} MB vs ${(row.topkBytes / 1e6).toFixed(1)} MB`);
}
const mean = (k) => rows.reduce((s, r) => s + r[k], 0) / rows.length;
console.log(`\nmean of 3 seeds: full logits ${mean('full').toFixed(2)} %, top-${K} ${mean('topk').toFixed(2)} % (difference ${(mean('topk') - mean('full')).toFixed(2)} points), alone ${mean('alone').toFixed(2)} %`);
console.log(`cache: ${(rows[0].fullBytes / 1e6).toFixed(1)} MB full vs ${(rows[0].topkBytes / 1e6).toFixed(1)} MB top-${K}: ${(rows[0].fullBytes / rows[0].topkBytes).toFixed(1)}x smaller`);
console.log(JSON.stringify({ rows, full: mean('full'), topk: mean('topk'), alone: mean('alone'), ratio: rows[0].fullBytes / rows[0].topkBytes }));
