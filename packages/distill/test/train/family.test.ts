// The distillation family in the one trainer: the classic shorthand and its objective are the
// same computation; DML stays symmetric for identical students; FitNets' hint stage only
// moves the layers below the guided one; agreement-driven weights follow validation; a run
// with peers and hint regressors resumes from a checkpoint file bit for bit; the hint
// regressor's gradient against TF.js and finite differences.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { loadCore, type Core } from '@retort/core-wasm';
import { splitValidation, transferSubset, fullView, type Dataset } from '../../src/data/dataset.js';
import { parseLossTerms, type LossTermInput } from '../../src/losses/config.js';
import { HintRegressor } from '../../src/losses/hint.js';
import { Mlp } from '../../src/model/mlp.js';
import { loadCheckpoint, saveCheckpoint } from '../../src/node/checkpoint.js';
import { train, type TrainerState, type TrainJob, type TrainSettings } from '../../src/train/trainer.js';
import type { WeightedTeacher } from '../../src/train/objective.js';
import { barsDataset } from './bars.js';

const BACKENDS = ['simd', 'scalar', 'js'] as const;


const SETTINGS: TrainSettings = {
  epochs: 3, batchSize: 32, optimizer: { type: 'adamw', lr: 3e-3 }, schedule: { type: 'cosine' },
  seed: 11, jitter: 0, mean: 0, std: 1,
};
const bits = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');

async function teacherModel(core: Core, ds: Dataset): Promise<Mlp> {
  const split = splitValidation(ds, 100, 3);
  const t = new Mlp(core, 'mlp:64-40-20-4');
  await train({ core, model: t, train: split.train, validation: null, settings: { ...SETTINGS, epochs: 2, seed: 5 } });
  return t;
}

describe.each(BACKENDS)('the family in one trainer [%s]', (backend) => {
  let core: Core;
  let ds: Dataset;
  let teacher: Mlp;
  beforeAll(async () => {
    core = await loadCore({ backend });
    ds = barsDataset(400, 7);
    teacher = await teacherModel(core, ds);
  });

  const run = async (extra: Partial<TrainJob>, settings: Partial<TrainSettings> = {}, spec = 'mlp:64-24-16-4') => {
    const split = splitValidation(ds, 100, 3);
    const model = new Mlp(core, spec);
    try {
      const result = await train({ core, model, train: split.train, validation: split.validation, settings: { ...SETTINGS, ...settings }, ...extra });
      return { result, params: model.readParams() };
    } finally {
      model.free();
    }
  };
  const withTeacher = (): WeightedTeacher[] => [{ source: { kind: 'model', model: teacher }, weight: 1 }];

  it('the classic distill shorthand and the objective (1 − a)·ce + a·kd give the same bits', async () => {
    const a = await run({ distill: { teacher: { kind: 'model', model: teacher }, temperature: 4, alpha: 0.7 } });
    const b = await run({ objective: { terms: parseLossTerms([{ type: 'ce', weight: 1 - 0.7 }, { type: 'kd', weight: 0.7, temperature: 4 }]), teachers: withTeacher() } });
    expect(bits(a.params)).toBe(bits(b.params));
  });

  it('DML: identical students with equal initialisation stay identical; different seeds do not', async () => {
    const terms = parseLossTerms([{ type: 'ce' }, { type: 'dml' }]);
    const peer = new Mlp(core, 'mlp:64-24-16-4');
    try {
      const same = await run({ objective: { terms, teachers: [] }, peers: [{ model: peer, seed: SETTINGS.seed }] });
      expect(bits(peer.readParams())).toBe(bits(same.params));
      expect(same.result.history.at(-1)!.peers![0]!.errors).toBe(same.result.history.at(-1)!.validation!.errors);
      const other = await run({ objective: { terms, teachers: [] }, peers: [{ model: peer, seed: SETTINGS.seed + 1 }] });
      expect(bits(peer.readParams())).not.toBe(bits(other.params));
      expect(other.result.history.at(-1)!.validation!.accuracy).toBeGreaterThan(0.9);
    } finally {
      peer.free();
    }
  });

  it('FitNets: in the hint stage only the layers up to the guided one move', async () => {
    const terms = parseLossTerms([
      { type: 'hint', studentLayer: 1, teacherLayer: 2, untilEpoch: 1 },
      { type: 'ce', weight: 0.1, fromEpoch: 2 }, { type: 'kd', weight: 0.9, temperature: 4, fromEpoch: 2 },
    ]);
    const split = splitValidation(ds, 100, 3);
    const model = new Mlp(core, 'mlp:64-24-16-4');
    const init = new Mlp(core, 'mlp:64-24-16-4');
    try {
      init.init(SETTINGS.seed);
      const start = init.readParams();
      let afterHint: Float32Array | null = null;
      await train({ core, model, train: split.train, validation: split.validation, settings: SETTINGS,
        objective: { terms, teachers: withTeacher() }, checkpoint: (s) => { afterHint ??= s.params.slice(); } });
      const [l0, l1, l2] = model.layers;
      const moved = (l: typeof l0) => {
        const from = l!.weightOffset, to = l!.biasOffset + l!.outputs;
        return bits(afterHint!.subarray(from, to)) !== bits(start.subarray(from, to));
      };
      expect(moved(l0)).toBe(true);
      expect(moved(l1)).toBe(false);
      expect(moved(l2)).toBe(false);
      // after the stage, KD trains the whole network
      const final = model.readParams();
      expect(bits(final.subarray(l2!.weightOffset))).not.toBe(bits(start.subarray(l2!.weightOffset)));
    } finally {
      model.free(); init.free();
    }
  });

  it('an agreement-driven weight follows the validation agreement of the previous epoch', async () => {
    const { result } = await run({ objective: {
      terms: parseLossTerms([{ type: 'ce', weight: { schedule: 'agreement', from: 1, to: 0.2 } }, { type: 'kd', weight: 0.5, temperature: { schedule: 'linear', from: 8, to: 2 } }]),
      teachers: withTeacher(),
    } });
    const h = result.history;
    expect(h[0]!.losses![0]!.weight).toBe(1); // nothing measured before epoch 1
    for (let e = 1; e < h.length; e++) {
      const a = h[e - 1]!.validation!.agreement!;
      expect(a).toBeGreaterThan(0);
      expect(h[e]!.losses![0]!.weight).toBeCloseTo(1 + (0.2 - 1) * a, 12);
    }
    // the linear temperature falls over the run
    expect(h[2]!.losses![1]!.temperature!).toBeLessThan(h[0]!.losses![1]!.temperature!);
  });

  it('a run with a DML peer and a hint regressor resumes from a checkpoint file bit for bit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'retort-family-'));
    try {
      const terms: LossTermInput[] = [{ type: 'ce' }, { type: 'dml' }, { type: 'hint', studentLayer: 2, teacherLayer: 1, weight: 0.5 }, { type: 'kd', weight: 0.5 }];
      const objective = { terms: parseLossTerms(terms), teachers: withTeacher() };
      const peerA = new Mlp(core, 'mlp:64-24-16-4');
      const straight = await run({ objective, peers: [{ model: peerA, seed: 99 }] });
      const peerStraight = peerA.readParams();
      // the same run stopped after epoch 1 (checkpoint on disk), then resumed in fresh models
      const path = join(dir, 'ck.retort');
      const spec = { type: 'mlp' as const, sizes: [64, 24, 16, 4] };
      await run({ objective, peers: [{ model: peerA, seed: 99 }], checkpoint: (s) => { if (s.epoch === 1) saveCheckpoint(path, spec, s, 'h'); } }, { epochs: 3 });
      const ck = loadCheckpoint(path);
      expect(ck.state.aux!.map((a) => a.name)).toEqual(['peer1', 'hint2.student0', 'hint2.student1']);
      const peerB = new Mlp(core, 'mlp:64-24-16-4');
      const resumed = await run({ objective, peers: [{ model: peerB, seed: 99 }], resume: ck.state as TrainerState });
      expect(bits(resumed.params)).toBe(bits(straight.params));
      expect(bits(peerB.readParams())).toBe(bits(peerStraight));
      // a checkpoint without the regressors does not resume this job
      const bare = { ...ck.state, aux: ck.state.aux!.slice(0, 1) };
      await expect(run({ objective, peers: [{ model: peerB, seed: 99 }], resume: bare })).rejects.toThrow(/checkpoint holds \[peer1\]/);
      peerA.free(); peerB.free();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('RKD on hidden layers of a different-width teacher trains, and its term changes the result', async () => {
    const rkd = (w: number) => run({ objective: { terms: parseLossTerms([{ type: 'ce' }, { type: 'rkd', studentLayer: 2, teacherLayer: 1, weight: w, distance: 1, angle: 2 }]), teachers: withTeacher() } });
    const on = await rkd(1), off = await rkd(0);
    expect(on.result.history.at(-1)!.validation!.accuracy).toBeGreaterThan(0.9);
    expect(bits(on.params)).not.toBe(bits(off.params));
    const plain = await run({});
    expect(bits(off.params)).toBe(bits(plain.params)); // weight 0 = the term is skipped
  });
});

describe.each(BACKENDS)('hint regressor [%s]', (backend) => {
  let core: Core;
  beforeAll(async () => {
    core = await loadCore({ backend });
    await tf.setBackend('cpu');
  });
  afterAll(() => {});

  it('value and gradients match TF.js autodiff and finite differences', () => {
    for (const [rows, ds, dt] of [[1, 3, 2], [7, 5, 9], [33, 17, 6]] as const) {
      let s = rows * 131 + ds;
      const r = () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32 - 0.5; };
      const hs = Float32Array.from({ length: rows * ds }, r);
      const ht = Float32Array.from({ length: rows * dt }, r);
      const reg = new HintRegressor(core, ds, dt, rows);
      const ths = core.fromArray(hs), tht = core.fromArray(ht), dhs = core.alloc(rows * ds);
      try {
        reg.init(3);
        const W = reg.params.toArray();
        W.forEach((_, i) => { if (i >= ds * dt) W[i] = r(); }); // a non-zero bias
        reg.params.set(W);
        reg.zeroGrad();
        const loss = reg.compute(dhs.ptr, ths.ptr, tht.ptr, rows, 0.7);
        const g = reg.grads.toArray(), gh = dhs.toArray();
        // TF.js: 0.7 · mean((hs·W + b − ht)²)
        const want = tf.tidy(() => {
          const f = (h: tf.Tensor, w: tf.Tensor, b: tf.Tensor) =>
            tf.mul(tf.mean(tf.square(tf.sub(tf.add(tf.matMul(h as tf.Tensor2D, w as tf.Tensor2D), b), tf.tensor2d(ht, [rows, dt])))), 0.7) as tf.Scalar;
          const grads = tf.grads(f)([tf.tensor2d(hs, [rows, ds]), tf.tensor2d(W.subarray(0, ds * dt), [ds, dt]), tf.tensor1d(W.subarray(ds * dt))]);
          return { value: f(tf.tensor2d(hs, [rows, ds]), tf.tensor2d(W.subarray(0, ds * dt), [ds, dt]), tf.tensor1d(W.subarray(ds * dt))).dataSync()[0]!,
            dh: grads[0]!.dataSync(), dw: grads[1]!.dataSync(), db: grads[2]!.dataSync() };
        });
        expect(Math.abs(0.7 * loss - want.value)).toBeLessThan(1e-5 * Math.max(1, want.value));
        const close = (got: ArrayLike<number>, exp: ArrayLike<number>, what: string) => {
          for (let i = 0; i < exp.length; i++) expect(Math.abs(got[i]! - exp[i]!), `${what}[${i}]`).toBeLessThan(1e-5 + 1e-3 * Math.abs(exp[i]!));
        };
        close(gh, want.dh, 'dh_s');
        close(g.subarray(0, ds * dt), want.dw, 'dW');
        close(g.subarray(ds * dt), want.db, 'db');
        // central differences of an f64 reference w.r.t. a few weights and inputs
        const ref = (hh: Float64Array, ww: Float64Array): number => {
          let L = 0;
          for (let i = 0; i < rows; i++) for (let j = 0; j < dt; j++) {
            let v = ww[ds * dt + j]!;
            for (let k = 0; k < ds; k++) v += hh[i * ds + k]! * ww[k * dt + j]!;
            L += (v - ht[i * dt + j]!) ** 2;
          }
          return 0.7 * L / (rows * dt);
        };
        const H = Float64Array.from(hs), WW = Float64Array.from(W), h = 1e-5;
        for (const i of [0, ds * dt - 1, ds * dt]) {
          const keep = WW[i]!; WW[i] = keep + h; const up = ref(H, WW); WW[i] = keep - h; const dn = ref(H, WW); WW[i] = keep;
          expect(Math.abs(g[i]! - (up - dn) / (2 * h)), `fd dW[${i}]`).toBeLessThan(1e-5 + 1e-3 * Math.abs(g[i]!));
        }
        for (const i of [0, rows * ds - 1]) {
          const keep = H[i]!; H[i] = keep + h; const up = ref(H, WW); H[i] = keep - h; const dn = ref(H, WW); H[i] = keep;
          expect(Math.abs(gh[i]! - (up - dn) / (2 * h)), `fd dh[${i}]`).toBeLessThan(1e-5 + 1e-3 * Math.abs(gh[i]!));
        }
      } finally {
        reg.free(); core.free(ths); core.free(tht); core.free(dhs);
      }
    }
  });
});

describe('transfer-set control', () => {
  it('takes a seeded fraction, keeps or omits classes', () => {
    const ds = barsDataset(1000, 3);
    const view = fullView(ds);
    const a = transferSubset(view, { fraction: 0.25 }, 7), b = transferSubset(view, { fraction: 0.25 }, 7), c = transferSubset(view, { fraction: 0.25 }, 8);
    expect(a.indices.length).toBe(250);
    expect(Array.from(a.indices)).toEqual(Array.from(b.indices));
    expect(Array.from(a.indices)).not.toEqual(Array.from(c.indices));
    expect(Array.from(a.indices)).toEqual(Array.from(a.indices).sort((x, y) => x - y));
    const no3 = transferSubset(view, { omitClasses: [3] }, 1);
    expect(no3.indices.length).toBe(750);
    expect(Array.from(no3.indices).every((i) => ds.y[i] !== 3)).toBe(true);
    const only = transferSubset(view, { classes: [0, 2], omitClasses: [2] }, 1);
    expect(Array.from(only.indices).every((i) => ds.y[i] === 0)).toBe(true);
    expect(only.indices.length).toBe(250);
  });
});
