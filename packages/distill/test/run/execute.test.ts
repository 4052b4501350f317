// executeRun (src/run/execute.ts), the orchestration runJob and the web lab share: for the same
// config and data it gives what runJob writes (the model's bits, the report's numbers), with
// teachers that are soft labels or run inside the step; it refuses every invalid combination
// before any hook that writes is called or a step runs; the lab's method options pick taps and
// weights; and a student it hands back is the caller's while one it fails with is freed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCore, type Core } from '@retort/core-wasm';
import { parseRunConfig, type RunConfigInput } from '../../src/config.js';
import { loadMnist } from '../../src/data/mnist.js';
import type { Dataset } from '../../src/data/dataset.js';
import { loadModel } from '../../src/format/model-io.js';
import type { Model } from '../../src/model/model.js';
import { runJob, type RunReport } from '../../src/node/run.js';
import { executeRun, type RunHooks, type RunTeacher } from '../../src/run/execute.js';
import type { RunKind } from '../../src/run/terms.js';

const SMALL: Partial<RunConfigInput> = { trainSize: 600, validation: 200, testSize: 200, epochs: 2, batchSize: 64 };

let core: Core;
let data: { train: Dataset; test: Dataset };
let dir: string;
/** Run directories of teachers trained by runJob: an MLP and a small ResNet (batch norm). */
let mlpTeacher: string, cnnTeacher: string;

beforeAll(async () => {
  core = await loadCore({ backend: 'simd' });
  data = loadMnist();
  dir = mkdtempSync(join(tmpdir(), 'retort-execute-'));
  mlpTeacher = join(dir, 'mlp-teacher');
  cnnTeacher = join(dir, 'cnn-teacher');
  await runJob('train', { ...SMALL, model: 'mlp:784-48-32-10' }, { out: mlpTeacher, core });
  await runJob('train', { ...SMALL, epochs: 1, trainSize: 300, model: 'resnet8:width=0.25' }, { out: cnnTeacher, core });
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The report without what depends on the clock or on where it was written. */
// runJob adds where its data came from (testSplit, classNames), which executeRun is not told
function numbers(r: Omit<RunReport, 'runDir' | 'testSplit' | 'classNames'> & { runDir?: string }): unknown {
  return JSON.parse(JSON.stringify(r, (k, v) => (['seconds', 'samplesPerSec', 'trainSeconds', 'runDir', 'testSplit', 'classNames'].includes(k) ? undefined : v)));
}

/** The same run through runJob (a run directory) and through executeRun (teachers loaded here). */
async function both(kind: RunKind, config: RunConfigInput, teacherDirs: string[]) {
  const out = join(dir, `job-${Math.random().toString(36).slice(2)}`);
  const viaJob = await runJob(kind, { ...config, ...(teacherDirs.length ? { teacher: join(teacherDirs[0]!, 'model.retort') } : {}) }, { out, core });
  const teachers: RunTeacher[] = teacherDirs.map((d) => ({
    kind: 'model', model: loadModel(core, join(d, 'model.retort')), source: join(d, 'model.retort'), name: 'model.retort', weight: 1,
  }));
  const parsed = parseRunConfig({ ...config, ...(teacherDirs.length ? { teacher: join(teacherDirs[0]!, 'model.retort') } : {}) });
  try {
    const outcome = await executeRun({ core, kind, config: parsed, data, teachers });
    try {
      const params = outcome.student.readParams();
      const state = outcome.student.readState();
      return { viaJob, outcome: { ...outcome, params, state } };
    } finally {
      outcome.student.free();
    }
  } finally {
    for (const t of teachers) if (t.kind === 'model') t.model.free();
  }
}

/** The student executeRun returned has the bits of the model file runJob wrote: parameters and running statistics. */
function expectSameModel(runDir: string, params: Float32Array, state: Float32Array): void {
  const m = loadModel(core, join(runDir, 'model.retort'));
  try {
    expect(Array.from(params)).toEqual(Array.from(m.readParams()));
    expect(Array.from(state)).toEqual(Array.from(m.readState()));
  } finally { m.free(); }
}

describe('executeRun gives what runJob writes', () => {
  it('distilling an MLP from an MLP teacher\'s soft labels (only the rows the student reads, here)', async () => {
    const { viaJob, outcome } = await both('distill', { ...SMALL, model: 'mlp:784-24-16-10', method: 'kd' }, [mlpTeacher]);
    expect(numbers({ ...outcome.report, runDir: 'x' })).toEqual(numbers(viaJob));
    expectSameModel(viaJob.runDir, outcome.params, outcome.state);
    expect(outcome.report.losses).toBe('0.1·ce + 0.9·kd(T=4)');
    expect(outcome.report.test.agreement).toBeGreaterThanOrEqual(0);
    expect(outcome.report.teacher).toMatchObject({ params: 784 * 48 + 48 + 48 * 32 + 32 + 32 * 10 + 10 });
    expect(outcome.testLogits).toHaveLength(200 * 10);
    expect(outcome.teacherTestLogits).toHaveLength(200 * 10);
  });

  it('attention transfer from a batch-norm CNN teacher run inside the step, with the running statistics', async () => {
    const { viaJob, outcome } = await both('distill', { ...SMALL, epochs: 1, trainSize: 300, model: 'lenet5:width=0.5', method: 'at' }, [cnnTeacher]);
    expect(numbers({ ...outcome.report, runDir: 'x' })).toEqual(numbers(viaJob));
    expect(outcome.report.losses).toMatch(/500·at\(conv1→/);
    expect(outcome.terms.filter((t) => t.type === 'at').length).toBeGreaterThan(0);
    expectSameModel(viaJob.runDir, outcome.params, outcome.state);
  });

  it('training a batch-norm student alone: parameters and running statistics', async () => {
    const { viaJob, outcome } = await both('train', { ...SMALL, epochs: 1, trainSize: 200, model: 'resnet8:width=0.25', jitter: 1 }, []);
    expect(numbers({ ...outcome.report, runDir: 'x' })).toEqual(numbers(viaJob));
    expect(outcome.state.length).toBeGreaterThan(0);
    expectSameModel(viaJob.runDir, outcome.params, outcome.state);
  });
});

describe('executeRun refuses invalid combinations before anything is written or trained', () => {
  let teacher: Model;
  let cnn: Model;
  beforeAll(() => {
    teacher = loadModel(core, join(mlpTeacher, 'model.retort'));
    cnn = loadModel(core, join(cnnTeacher, 'model.retort'));
  });
  afterAll(() => { teacher.free(); cnn.free(); });

  const model = (m: () => Model): RunTeacher => ({ kind: 'model', model: m(), source: 't.retort', name: 't.retort', weight: 1 });
  const cases: [string, RunKind, RunConfigInput, () => RunTeacher[], RegExp, Parameters<typeof executeRun>[0]['methodOptions']?][] = [
    ['attention transfer between MLPs', 'distill', { model: 'mlp:784-24-10', method: 'at' }, () => [model(() => teacher)], /method at: no student and teacher feature maps/],
    ['a hint layer the student lacks', 'distill', { model: 'mlp:784-24-10', losses: [{ type: 'hint', studentLayer: 3, teacherLayer: 1 }] }, () => [model(() => teacher)], /losses\[0\] \(hint\): the student .* has no hidden layer 3/],
    ['labels refused but ce asked for', 'distill', { model: 'mlp:784-24-10', transfer: { labels: false }, losses: [{ type: 'ce' }, { type: 'kd' }] }, () => [model(() => teacher)], /transfer\.labels: false, but ce read the labels/],
    ['a teacher for a train run', 'train', { model: 'mlp:784-24-10' }, () => [model(() => teacher)], /'train' takes no teacher/],
    ['a method that needs a teacher, without one', 'distill', { model: 'mlp:784-24-10', method: 'kd' }, () => [], /distill needs a teacher/],
    ['a teacher no term reads', 'distill', { model: 'mlp:784-24-10', method: 'none' }, () => [model(() => teacher)], /a teacher is given but no loss term reads it/],
    ['precomputed logits and jitter', 'distill', { model: 'mlp:784-24-10', jitter: 1 }, () => [{ kind: 'logits', source: 'l.npy', name: 'l.npy', weight: 1, read: () => new Float32Array(0) }], /jitter: precomputed teacher logits/],
    ['feature terms from logits', 'distill', { model: 'mlp:784-24-10', method: 'rkd' }, () => [{ kind: 'logits', source: 'l.npy', name: 'l.npy', weight: 1, read: () => new Float32Array(0) }], /rkd\): reads the teacher's layers/],
    ['feature terms from a logits-only predictor', 'distill', { model: 'mlp:784-24-10', method: 'fitnets' }, () => [{ kind: 'predictor', source: 'tfjs', name: 'model.json', weight: 1, predictor: { classes: 10, logits: () => new Float32Array(0) } }], /must take the student's input preparation and run there: a Retort model, or an ONNX graph in onnxruntime/],
    ['a teacher with other classes', 'distill', { model: 'mlp:784-24-9' }, () => [model(() => teacher)], /teacher t\.retort has 10 classes but the student has 9/],
    ['a student that does not take the images', 'train', { model: 'mlp:100-10' }, () => [], /model: takes \[100\] inputs but mnist\/train samples are \[28, 28, 1\]/],
    ['a transfer class the data lacks', 'distill', { model: 'mlp:784-24-10', transfer: { classes: [11] } }, () => [model(() => teacher)], /transfer\.classes: class 11 is not in/],
    ['DML without peers', 'train', { model: 'mlp:784-24-10', method: 'dml', peers: 0 }, () => [], /Deep Mutual Learning needs at least 2 students/],
    ['a tap the student lacks (method options)', 'distill', { model: 'lenet5:width=0.5', method: 'at' }, () => [model(() => cnn)], /student layer 'block9': the student has no such tap; its taps are conv1, conv2, fc1, fc2/, { studentLayer: 'block9' }],
    ['a hint stage as long as the run', 'distill', { model: 'mlp:784-24-10', method: 'fitnets', epochs: 3 }, () => [model(() => teacher)], /hint stage must be a whole number of epochs in \[1, 2\], got 3/, { hintEpochs: 3 }],
  ];
  it.each(cases)('%s', async (_what, kind, config, teachers, error, methodOptions) => {
    const calls: string[] = [];
    let student: Model | undefined;
    const hooks: RunHooks = {
      onStudent: (m) => { student = m; },
      softLabels: () => { calls.push('softLabels'); return new Float32Array(0); },
      beforeTraining: () => { calls.push('beforeTraining'); },
      checkpoint: () => { calls.push('checkpoint'); },
      onEvent: (e) => { calls.push(e.type); },
    };
    await expect(executeRun({ core, kind, config: parseRunConfig({ ...SMALL, ...config }), data, teachers: teachers(), ...(methodOptions ? { methodOptions } : {}) }, hooks))
      .rejects.toThrow(error);
    expect(calls).toEqual([]);
    // a student the run failed with is freed (the caller never owned it)
    if (student) expect(student.isFreed).toBe(true);
  });
});

describe('method options (the lab\'s form) choose taps and weights', () => {
  let cnn: Model;
  beforeAll(() => { cnn = loadModel(core, join(cnnTeacher, 'model.retort')); });
  afterAll(() => cnn.free());

  it('pick the taps of at, fitnets and rkd on either side, and the methods\' own weights', async () => {
    const run = async (config: RunConfigInput, methodOptions: NonNullable<Parameters<typeof executeRun>[0]['methodOptions']>) => {
      const outcome = await executeRun({
        core, kind: 'distill', config: parseRunConfig({ ...SMALL, epochs: 2, trainSize: 64, testSize: 20, ...config }), data, methodOptions,
        teachers: [{ kind: 'model', model: cnn, source: 'cnn', name: 'cnn', weight: 1 }],
      });
      outcome.student.free();
      return outcome.report.losses;
    };
    // lenet5 maps: conv1 14x14, conv2 5x5; resnet8 (0.25): stem, block1 28x28, block2 14x14, block3 7x7
    expect(await run({ model: 'lenet5:width=0.5', method: 'at' }, {})).toBe('1·ce + 500·at(conv1→block2)');
    expect(await run({ model: 'lenet5:width=0.5', method: 'at' }, { studentLayer: 'conv1', teacherLayer: 'block1' })).toBe('1·ce + 500·at(conv1→block1)');
    expect(await run({ model: 'lenet5:width=0.5', method: 'rkd' }, { studentLayer: 'fc1', teacherLayer: 'pool', rkd: { distance: 5, angle: 7 } }))
      .toBe('1·ce + 1·rkd(distance=5, angle=7, fc1→pool)');
    expect(await run({ model: 'lenet5:width=0.5', method: 'fitnets' }, { studentLayer: 'fc2', teacherLayer: 'logits', hintEpochs: 1 }))
      .toBe('1·hint(fc2→logits, epochs 1..1) + 0.1·ce(epochs 2..end) + 0.9·kd(T=4, epochs 2..end)');
    expect(await run({ model: 'lenet5:width=0.5', method: 'dkd' }, { dkd: { alpha: 2, beta: 3 } })).toBe('1·ce + 1·dkd(T=4, alpha=2, beta=3)');
  });
});

describe('runJob on executeRun: resume', () => {
  it('a batch-norm run stopped after an epoch and resumed ends with the bits of one left alone (checkpoints keep the running statistics)', async () => {
    const config = { ...SMALL, epochs: 2, trainSize: 200, model: 'resnet8:width=0.25' };
    const alone = join(dir, 'bn-alone'), stopped = join(dir, 'bn-stopped');
    await runJob('train', config, { out: alone, core });
    let epochs = 0;
    const first = await runJob('train', config, { out: stopped, core, shouldStop: () => epochs >= 1, onEvent: (e) => { if (e.type === 'epoch') epochs++; } });
    expect(first.stopped).toBe(true);
    const resumed = await runJob('train', undefined, { out: stopped, core, resume: true });
    expect(resumed.stopped).toBe(false);
    expect(numbers(resumed)).toEqual(numbers(await runJob('train', config, { out: join(dir, 'bn-again'), core })));
    const a = loadModel(core, join(alone, 'model.retort')), b = loadModel(core, join(stopped, 'model.retort'));
    try {
      expect(a.stateCount).toBeGreaterThan(0);
      expect(Array.from(b.readParams())).toEqual(Array.from(a.readParams()));
      expect(Array.from(b.readState())).toEqual(Array.from(a.readState()));
    } finally { a.free(); b.free(); }
  });
});
