// Threads do not change the bits: whole CLI runs (an MLP, a CNN with batch norm, a
// Transformer on text, and a distillation whose teacher labels its soft targets on the same
// threads) give the same model file with --threads 1, 2 and 4 on simd, scalar and relaxed; and a
// two-thread run killed with SIGKILL and resumed ends with the bits of the one-thread run.
// (packages/core-wasm/src/threads/parallel.ts says why; test/conformance/threads.test.ts checks
// kernel by kernel that the calls are really cut.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expectOneLineError, retort, retortAsync, tempDir } from '../cli/helpers.js';

const tmp = tempDir('threads');
afterAll(() => tmp.cleanup());

// big enough that the dense layers' GEMMs and the elementwise kernels are cut across threads
const MLP = {
  model: { type: 'mlp', sizes: [784, 256, 10], dropout: { input: 0.1, hidden: 0.2 } },
  epochs: 2, batchSize: 128, trainSize: 1500, validation: 300, testSize: 300, seed: 11,
  optimizer: { type: 'adamw', lr: 2e-3 },
};
const CNN = {
  model: { type: 'graph', layers: [
    { type: 'conv2d', filters: 8, kernel: 3 }, { type: 'batchNorm' }, { type: 'relu' }, { type: 'maxPool2d', size: 2 },
    { type: 'conv2d', filters: 16, kernel: 3 }, { type: 'relu' }, { type: 'globalAvgPool' }, { type: 'dense', units: 10 },
  ] },
  epochs: 1, batchSize: 64, trainSize: 640, validation: 128, testSize: 256, seed: 4, jitter: 1,
  optimizer: { type: 'adamw', lr: 3e-3 },
};
const corpus = join(tmp.dir, 'corpus.jsonl');
const TEXT = {
  data: corpus, model: 'transformer-s:layers=1,dim=64,heads=4', maxLength: 32, vocabSize: 400,
  epochs: 2, batchSize: 32, validation: 64, seed: 9, optimizer: { type: 'adamw', lr: 2e-3 },
};

beforeAll(() => {
  const words = ['red', 'green', 'blue', 'sky', 'grass', 'sea', 'rose', 'warm', 'cold', 'stone', 'river', 'light'];
  writeFileSync(corpus, `${Array.from({ length: 320 }, (_, i) => JSON.stringify({
    text: Array.from({ length: 12 + (i % 17) }, (_, j) => words[(i * 5 + j * j + (i % 3) * j) % words.length]).join(' '),
    label: i % 3,
  })).join('\n')}\n`);
});

function config(name: string, c: object): string {
  const path = join(tmp.dir, `${name}.json`);
  writeFileSync(path, JSON.stringify(c));
  return path;
}

function trainWith(name: string, c: object, backend: string, threads: number, extra: string[] = [], kind = 'train'): Buffer {
  const out = join(tmp.dir, `${name}-${backend}-${threads}`);
  const r = retort([kind, '--config', config(name, c), '--backend', backend, '--threads', String(threads), '--out', out, '--force', ...extra],
    { timeout: 240_000 });
  expect(r.status, r.stderr).toBe(0);
  const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as { backend: string; threads: number };
  expect(report.backend).toBe(backend);
  expect(report.threads).toBe(threads);
  return readFileSync(join(out, 'model.retort'));
}

describe.each(['simd', 'scalar', 'relaxed'])('the same model bytes on 1, 2 and 4 threads (%s)', (backend) => {
  it.each([['an MLP', 'mlp', MLP], ['a CNN with batch norm', 'cnn', CNN], ['a Transformer on text', 'text', TEXT]] as const)('%s', (_what, name, c) => {
    const one = trainWith(name, c, backend, 1);
    expect(trainWith(name, c, backend, 2).equals(one)).toBe(true);
    expect(trainWith(name, c, backend, 4).equals(one)).toBe(true);
  }, 600_000);
});

describe('distillation with the teacher on the threads', () => {
  it('caches the same soft labels and trains the same student on 1 and 2 threads', () => {
    const teacher = join(tmp.dir, 'mlp-simd-1', 'model.retort');
    if (!existsSync(teacher)) trainWith('mlp', MLP, 'simd', 1);
    const student = { ...MLP, model: { type: 'mlp', sizes: [784, 128, 10] }, teacher, temperature: 4, alpha: 0.9 };
    const one = trainWith('kd', student, 'simd', 1, [], 'distill');
    expect(trainWith('kd', student, 'simd', 2, [], 'distill').equals(one)).toBe(true);
    // the cached soft labels (every shard of teacher-outputs/), byte for byte
    const soft = (t: number) => {
      const dir = join(tmp.dir, `kd-simd-${t}`, 'teacher-outputs');
      return readdirSync(dir).sort().map((f) => readFileSync(join(dir, f)));
    };
    const [s1, s2] = [soft(1), soft(2)];
    expect(s1.length).toBeGreaterThan(1);
    expect(s2.length).toBe(s1.length);
    s1.forEach((b, i) => expect(s2[i]!.equals(b), `shard ${i}`).toBe(true));
  }, 300_000);
});

describe('a two-thread run killed with SIGKILL and resumed', () => {
  it('ends with the bits of the one-thread run', async () => {
    const c = { ...MLP, epochs: 3 };
    const alone = trainWith('kill', c, 'simd', 1);
    const out = join(tmp.dir, 'killed');
    let epochs = 0;
    const killed = await retortAsync(['train', '--config', config('kill', c), '--backend', 'simd', '--threads', '2', '--json', '--out', out],
      (line, child) => {
        if (line.includes('"type":"epoch"')) epochs++;
        if (epochs === 1 && child.exitCode === null) child.kill('SIGKILL');
      });
    expect(killed.status).toBeNull();
    expect(existsSync(join(out, 'model.retort'))).toBe(false);
    const resumed = retort(['train', '--resume', out, '--threads', '2', '--backend', 'simd'], { timeout: 240_000 });
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(readFileSync(join(out, 'model.retort')).equals(alone)).toBe(true);
  }, 300_000);
});

describe('a helper thread that fails', () => {
  it('ends the run with one line naming it, keeps the last checkpoint, and the run resumes to the one-thread bits', () => {
    const c = { ...MLP, epochs: 3 };
    const alone = trainWith('crash', c, 'simd', 1);
    const out = join(tmp.dir, 'crashed');
    // job 100 of the pool: after the first checkpoint (about 60 cut calls an epoch here), before the last
    const r = retort(['train', '--config', config('crash', c), '--backend', 'simd', '--threads', '2', '--out', out],
      { env: { RETORT_TEST_HELPER_FAILS_ON_JOB: '100' }, timeout: 240_000 });
    expectOneLineError(r, [/helper thread 1: .*injected failure/]);
    expect(existsSync(join(out, 'model.retort'))).toBe(false);
    expect(existsSync(join(out, 'checkpoint.retort'))).toBe(true);
    const epochsDone = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').length;
    expect(epochsDone).toBeGreaterThanOrEqual(1);
    expect(epochsDone).toBeLessThan(3);
    const resumed = retort(['train', '--resume', out, '--threads', '2', '--backend', 'simd'], { timeout: 240_000 });
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(readFileSync(join(out, 'model.retort')).equals(alone)).toBe(true);
  }, 300_000);
});
