// The objective (src/train/objective.ts) term by term on every backend: each response-based
// term's value against an independent TF.js formula and its gradient against tf.grad of that
// formula and against central finite differences of an f64 reference; the fused ce + kd path
// against the two terms evaluated apart; the defining properties of the multi-teacher average
// and the Tf-KD virtual teacher; and the errors of invalid combinations.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { loadCore, type Core, type Tensor } from '@retort/core-wasm';
import { parseLossTerms, type LossTermInput } from '../../src/losses/config.js';
import { combineTeachers, virtualTeacherLogits, virtualTeacherProbabilities } from '../../src/losses/targets.js';
import { Mlp } from '../../src/model/mlp.js';
import { Objective, validateObjective, type ObjectiveSettings, type WeightedTeacher } from '../../src/train/objective.js';
import { rand, gauss } from '../helpers/random.js';

const BACKENDS = ['simd', 'scalar', 'js'] as const;

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});


// ---- f64 references ---------------------------------------------------------------------------

function logSoftmax64(x: ArrayLike<number>, o: number, n: number, T: number): Float64Array {
  let m = -Infinity;
  for (let j = 0; j < n; j++) m = Math.max(m, x[o + j]! / T);
  let s = 0;
  for (let j = 0; j < n; j++) s += Math.exp(x[o + j]! / T - m);
  const out = new Float64Array(n);
  for (let j = 0; j < n; j++) out[j] = x[o + j]! / T - m - Math.log(s);
  return out;
}
/** Batch-mean KL(q || softmax(z/T)) with q given as probabilities (rows, C). */
function kl64(z: ArrayLike<number>, q: ArrayLike<number>, rows: number, C: number, T: number): number {
  let L = 0;
  for (let r = 0; r < rows; r++) {
    const lp = logSoftmax64(z, r * C, C, T);
    for (let j = 0; j < C; j++) { const qj = q[r * C + j]!; if (qj > 0) L += qj * (Math.log(qj) - lp[j]!); }
  }
  return L / rows;
}
function probs64(v: ArrayLike<number>, rows: number, C: number, T: number): Float64Array {
  const out = new Float64Array(rows * C);
  for (let r = 0; r < rows; r++) { const lp = logSoftmax64(v, r * C, C, T); for (let j = 0; j < C; j++) out[r * C + j] = Math.exp(lp[j]!); }
  return out;
}
function ce64(z: ArrayLike<number>, y: Int32Array, rows: number, C: number): number {
  let L = 0;
  for (let r = 0; r < rows; r++) L -= logSoftmax64(z, r * C, C, 1)[y[r]!]!;
  return L / rows;
}

// ---- harness: one objective over hand-made logits ---------------------------------------------

interface Case {
  terms: LossTermInput[];
  /** Teacher logits (rows, C) each, with weights. */
  teachers?: { logits: Float32Array; weight: number }[];
  combine?: 'probabilities' | 'logits';
  /** Peer logits (DML). */
  peers?: Float32Array[];
}

/** Loss and dL/dz of student 0 through Objective.loss, for student logits z. */
function objectiveLoss(core: Core, c: Case, z: Float32Array, y: Int32Array, rows: number, C: number): { loss: number; grad: Float32Array } {
  const students = [new Mlp(core, { type: 'mlp', sizes: [2, C] }), ...(c.peers ?? []).map(() => new Mlp(core, { type: 'mlp', sizes: [2, C] }))];
  const teachers: WeightedTeacher[] = (c.teachers ?? []).map((t) => ({ source: { kind: 'logits', logits: t.logits }, weight: t.weight }));
  const settings: ObjectiveSettings = { terms: parseLossTerms(c.terms), teachers, ...(c.combine ? { combine: c.combine } : {}) };
  const obj = new Objective(core, settings, students, rows);
  const tensors: Tensor[] = [];
  const keep = <T extends Tensor>(t: T): T => { tensors.push(t); return t; };
  try {
    const x = keep(core.alloc(rows * 2));
    const ty = keep(core.allocI32(rows)); ty.set(y);
    const tz = keep(core.fromArray(z));
    const peers = (c.peers ?? []).map((p) => keep(core.fromArray(p)));
    const dz = keep(core.alloc(rows * C));
    obj.prepare({ x, y: ty, indices: Int32Array.from({ length: rows }, (_, i) => i), rows });
    const loss = obj.loss(0, dz, [tz, ...peers], { progress: 0, epoch: 1 });
    return { loss, grad: dz.toArray() };
  } finally {
    obj.free();
    for (const t of tensors) core.free(t);
    for (const s of students) s.free();
  }
}

/** Central differences of an f64 loss function of z. */
function fdGrad(f: (z: Float64Array) => number, z: Float32Array, h: number): Float64Array {
  const g = new Float64Array(z.length);
  const zz = Float64Array.from(z);
  for (let i = 0; i < z.length; i++) {
    const keep = zz[i]!;
    zz[i] = keep + h; const up = f(zz);
    zz[i] = keep - h; const down = f(zz);
    zz[i] = keep;
    g[i] = (up - down) / (2 * h);
  }
  return g;
}

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, atol: number, rtol: number, what: string): void {
  expect(got.length, what).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!, w = want[i]!;
    if (!(Math.abs(g - w) <= atol + rtol * Math.abs(w))) expect.fail(`${what}: [${i}] = ${g}, want ${w}`);
  }
}

/** The f64 reference loss of a case (the formula each term documents). */
function reference(c: Case, z: ArrayLike<number>, y: Int32Array, rows: number, C: number): number {
  let total = 0;
  for (const t of parseLossTerms(c.terms)) {
    const w = t.weight as number;
    if (w === 0) continue;
    switch (t.type) {
      case 'ce': total += w * ce64(z, y, rows, C); break;
      case 'kd': {
        const T = t.temperature as number;
        const ts = c.teachers!;
        const wsum = ts.reduce((a, b) => a + b.weight, 0);
        const q = new Float64Array(rows * C);
        if ((c.combine ?? 'probabilities') === 'probabilities') {
          for (const tt of ts) { const p = probs64(tt.logits, rows, C, T); for (let i = 0; i < q.length; i++) q[i]! += (tt.weight / wsum) * p[i]!; }
        } else {
          const v = new Float64Array(rows * C);
          for (const tt of ts) for (let i = 0; i < v.length; i++) v[i]! += (tt.weight / wsum) * tt.logits[i]!;
          q.set(probs64(v, rows, C, T));
        }
        total += w * (t.scaleT2 ? T * T : 1) * kl64(z, q, rows, C, T);
        break;
      }
      case 'tfkd': {
        const T = t.temperature as number;
        total += w * (t.scaleT2 ? T * T : 1) * kl64(z, virtualTeacherProbabilities(y, rows, C, t.correct), rows, C, T);
        break;
      }
      case 'dml': {
        const T = t.temperature as number;
        const peers = c.peers!;
        for (const p of peers) total += (w * T * T / peers.length) * kl64(z, probs64(p, rows, C, T), rows, C, T);
        break;
      }
      default: throw new Error(`no reference for ${t.type}`);
    }
  }
  return total;
}

/** The same loss in TF.js (f32), written from the formulas, differentiated by tf.grad. */
function tfLoss(c: Case, z: Float32Array, y: Int32Array, rows: number, C: number): { loss: number; grad: Float32Array } {
  return tf.tidy(() => {
    const onehot = tf.oneHot(tf.tensor1d(y, 'int32'), C).toFloat() as tf.Tensor2D;
    const klTo = (zz: tf.Tensor2D, q: tf.Tensor2D, T: number) =>
      tf.div(tf.sum(tf.mul(q, tf.sub(tf.log(tf.maximum(q, 1e-30)), tf.logSoftmax(tf.div(zz, T))))), rows);
    const f = (zz: tf.Tensor2D): tf.Scalar => {
      let total: tf.Tensor = tf.scalar(0);
      for (const t of parseLossTerms(c.terms)) {
        const w = t.weight as number;
        if (w === 0) continue;
        if (t.type === 'ce') total = tf.add(total, tf.mul(tf.losses.softmaxCrossEntropy(onehot, zz), w));
        if (t.type === 'kd') {
          const T = t.temperature as number;
          const wsum = c.teachers!.reduce((a, b) => a + b.weight, 0);
          const q = (c.combine ?? 'probabilities') === 'probabilities'
            ? c.teachers!.map((tt) => tf.mul(tf.softmax(tf.div(tf.tensor2d(tt.logits, [rows, C]), T)), tt.weight / wsum)).reduce((a, b) => tf.add(a, b))
            : tf.softmax(tf.div(c.teachers!.map((tt) => tf.mul(tf.tensor2d(tt.logits, [rows, C]), tt.weight / wsum)).reduce((a, b) => tf.add(a, b)), T));
          total = tf.add(total, tf.mul(klTo(zz, q as tf.Tensor2D, T), w * (t.scaleT2 ? T * T : 1)));
        }
        if (t.type === 'tfkd') {
          const T = t.temperature as number;
          const q = tf.add(tf.mul(onehot, t.correct), tf.mul(tf.sub(1, onehot), (1 - t.correct) / (C - 1)));
          total = tf.add(total, tf.mul(klTo(zz, q as tf.Tensor2D, T), w * (t.scaleT2 ? T * T : 1)));
        }
        if (t.type === 'dml') {
          const T = t.temperature as number;
          for (const p of c.peers!) {
            total = tf.add(total, tf.mul(klTo(zz, tf.softmax(tf.div(tf.tensor2d(p, [rows, C]), T)), T), w * T * T / c.peers!.length));
          }
        }
      }
      return total as tf.Scalar;
    };
    const { value, grad } = tf.valueAndGrad(f)(tf.tensor2d(z, [rows, C]));
    return { loss: value.dataSync()[0]!, grad: grad.dataSync() as Float32Array };
  });
}

const CASES: { name: string; make: (r: () => number, rows: number, C: number) => Case }[] = [
  { name: 'ce alone', make: () => ({ terms: [{ type: 'ce', weight: 0.7 }] }) },
  { name: 'ce + kd (fused)', make: (r, rows, C) => ({ terms: [{ type: 'ce', weight: 0.1 }, { type: 'kd', weight: 0.9, temperature: 4 }], teachers: [{ logits: gauss(r, rows * C, 3), weight: 1 }] }) },
  { name: 'ce + kd, weights not summing to 1 (fused, gradScale)', make: (r, rows, C) => ({ terms: [{ type: 'ce', weight: 0.5 }, { type: 'kd', weight: 2, temperature: 20 }], teachers: [{ logits: gauss(r, rows * C, 5), weight: 1 }] }) },
  { name: 'kd alone, no T² scaling, T = 0.5', make: (r, rows, C) => ({ terms: [{ type: 'kd', weight: 1, temperature: 0.5, scaleT2: false }], teachers: [{ logits: gauss(r, rows * C, 2), weight: 1 }] }) },
  { name: 'two ce terms and a kd (not fused)', make: (r, rows, C) => ({ terms: [{ type: 'ce', weight: 0.3 }, { type: 'ce', weight: 0.2 }, { type: 'kd', weight: 0.5, temperature: 8 }], teachers: [{ logits: gauss(r, rows * C, 3), weight: 1 }] }) },
  { name: 'three teachers, mean of probabilities', make: (r, rows, C) => ({ terms: [{ type: 'kd', weight: 1, temperature: 4 }], teachers: [1, 2, 0.5].map((w) => ({ logits: gauss(r, rows * C, 4), weight: w })) }) },
  { name: 'two teachers, mean of logits', make: (r, rows, C) => ({ terms: [{ type: 'kd', weight: 1, temperature: 2 }], combine: 'logits', teachers: [1, 3].map((w) => ({ logits: gauss(r, rows * C, 4), weight: w })) }) },
  { name: 'tfkd', make: () => ({ terms: [{ type: 'ce', weight: 0.4 }, { type: 'tfkd', weight: 0.6, correct: 0.8, temperature: 3 }] }) },
  { name: 'dml with two peers', make: (r, rows, C) => ({ terms: [{ type: 'ce', weight: 1 }, { type: 'dml', weight: 1, temperature: 1 }], peers: [gauss(r, rows * C, 2), gauss(r, rows * C, 2)] }) },
];

describe.each(BACKENDS)('objective terms [%s]', (backend) => {
  let core: Core;
  beforeAll(async () => { core = await loadCore({ backend }); });

  for (const { name, make } of CASES) {
    it(`${name}: value and gradient match TF.js autodiff and finite differences`, () => {
      for (const [rows, C, seed] of [[1, 2, 1], [7, 3, 2], [13, 10, 3]] as const) {
        const r = rand(seed * 97 + name.length);
        const c = make(r, rows, C);
        const z = gauss(r, rows * C, 2);
        const y = Int32Array.from({ length: rows }, () => Math.floor(r() * C));
        const got = objectiveLoss(core, c, z, y, rows, C);
        const want = reference(c, z, y, rows, C);
        // f32 kernels vs f64: a few ulps of each log-probability, summed over C classes and scaled by T²
        const scale = Math.max(1, Math.abs(want));
        expect(Math.abs(got.loss - want), `${name} ${rows}x${C}: loss ${got.loss} vs f64 ${want}`).toBeLessThan(2e-5 * scale * C);
        const t = tfLoss(c, z, y, rows, C);
        expect(Math.abs(got.loss - t.loss), `${name} ${rows}x${C}: loss vs TF.js ${t.loss}`).toBeLessThan(5e-5 * scale * C);
        const gscale = Math.max(1e-3, ...Array.from(t.grad, Math.abs));
        expectClose(got.grad, t.grad, 1e-4 * gscale, 1e-3, `${name} ${rows}x${C}: grad vs tf.grad`);
        // central differences of the f64 reference: O(h²) truncation, h = 1e-4 (logits of size ~2)
        const fd = fdGrad((zz) => reference(c, zz, y, rows, C), z, 1e-4);
        expectClose(got.grad, fd, 1e-4 * gscale, 1e-3, `${name} ${rows}x${C}: grad vs finite differences`);
      }
    });
  }

  it('the fused ce + kd pair gives the same loss and gradient as the two terms apart', () => {
    const r = rand(5);
    const rows = 9, C = 10;
    const teachers = [{ logits: gauss(r, rows * C, 3), weight: 1 }];
    const z = gauss(r, rows * C, 2);
    const y = Int32Array.from({ length: rows }, () => Math.floor(r() * C));
    const fused = objectiveLoss(core, { terms: [{ type: 'ce', weight: 0.25 }, { type: 'kd', weight: 0.75, temperature: 6 }], teachers }, z, y, rows, C);
    // a second kd with weight 0 is skipped; splitting ce in two (0.125 + 0.125) disables fusion
    const apart = objectiveLoss(core, { terms: [{ type: 'ce', weight: 0.125 }, { type: 'ce', weight: 0.125 }, { type: 'kd', weight: 0.75, temperature: 6 }], teachers }, z, y, rows, C);
    expect(Math.abs(fused.loss - apart.loss)).toBeLessThan(1e-5);
    expectClose(fused.grad, apart.grad, 1e-6, 1e-4, 'fused vs apart');
  });
});

describe('multi-teacher averaging and the virtual teacher', () => {
  it('averaging the probabilities of identical teachers equals one teacher', () => {
    const r = rand(11);
    const rows = 6, C = 10;
    const v = gauss(r, rows * C, 6);
    for (const T of [0.5, 1, 4, 20, 50]) {
      const out = new Float32Array(rows * C);
      combineTeachers(out, [v, v, v], [1, 2, 3], rows, C, T, 'probabilities');
      expectClose(probs64(out, rows, C, T), probs64(v, rows, C, T), 1e-6, 1e-5, `T=${T}`);
      const lg = new Float32Array(rows * C);
      combineTeachers(lg, [v, v], [0.3, 0.7], rows, C, T, 'logits');
      expectClose(lg, v, 1e-6, 1e-6, `logits T=${T}`);
    }
  });

  it('the ensemble logits reproduce the weighted mean of the tempered probabilities', () => {
    const r = rand(12);
    const rows = 5, C = 7, T = 3;
    const a = gauss(r, rows * C, 4), b = gauss(r, rows * C, 4);
    const out = new Float32Array(rows * C);
    combineTeachers(out, [a, b], [1, 3], rows, C, T, 'probabilities');
    const pa = probs64(a, rows, C, T), pb = probs64(b, rows, C, T);
    expectClose(probs64(out, rows, C, T), pa.map((x, i) => 0.25 * x + 0.75 * pb[i]!), 1e-6, 1e-5, 'mixture');
  });

  it('one teacher is copied bit for bit, whatever its weight', () => {
    const v = gauss(rand(13), 20, 5);
    const out = new Float32Array(20);
    combineTeachers(out, [v], [0.2], 4, 5, 7, 'probabilities');
    expect(Array.from(out)).toEqual(Array.from(v));
  });

  it('the Tf-KD virtual teacher sums to 1, puts `correct` on the label, and its logits reproduce it', () => {
    const rows = 4, C = 10;
    const y = Int32Array.from([0, 9, 3, 3]);
    for (const correct of [0.5, 0.9, 0.99]) {
      const q = virtualTeacherProbabilities(y, rows, C, correct);
      for (let rr = 0; rr < rows; rr++) {
        let s = 0;
        for (let j = 0; j < C; j++) s += q[rr * C + j]!;
        expect(Math.abs(s - 1)).toBeLessThan(1e-12);
        expect(q[rr * C + y[rr]!]).toBe(correct);
      }
      for (const T of [0.5, 4, 20]) {
        const u = new Float32Array(rows * C);
        virtualTeacherLogits(u, y, rows, C, correct, T);
        expectClose(probs64(u, rows, C, T), q, 1e-6, 1e-5, `virtual logits T=${T}`);
      }
    }
    expect(() => virtualTeacherLogits(new Float32Array(10), Int32Array.from([10]), 1, 10, 0.9, 1)).toThrow(/label 10/);
  });
});

describe('validateObjective', () => {
  let core: Core;
  beforeAll(async () => { core = await loadCore({ backend: 'js' }); });

  const settings = (terms: LossTermInput[], teachers: WeightedTeacher[] = []): ObjectiveSettings => ({ terms: parseLossTerms(terms), teachers });

  it('names the problem before any training starts', () => {
    const student = new Mlp(core, 'mlp:4-6-6-3');
    const teacher = new Mlp(core, 'mlp:4-8-3');
    const model: WeightedTeacher = { source: { kind: 'model', model: teacher }, weight: 1 };
    const logits: WeightedTeacher = { source: { kind: 'logits', logits: new Float32Array(30) }, weight: 1 };
    try {
      expect(() => validateObjective(settings([{ type: 'hint', studentLayer: 3, teacherLayer: 1 }], [model]), [student]))
        .toThrow(/losses\[0\] \(hint\): the student \(4-6-6-3\) has no hidden layer 3; it has 2/);
      expect(() => validateObjective(settings([{ type: 'hint', studentLayer: 1, teacherLayer: 2 }], [model]), [student]))
        .toThrow(/the teacher \(4-8-3\) has no hidden layer 2/);
      expect(() => validateObjective(settings([{ type: 'rkd', studentLayer: 1, teacherLayer: 1 }], [logits]), [student]))
        .toThrow(/losses\[0\] \(rkd\): reads the teacher's layers, so teacher 0 must be a model file/);
      expect(() => validateObjective(settings([{ type: 'hint', studentLayer: 1, teacherLayer: 1, teacher: 1 }], [model]), [student]))
        .toThrow(/names teacher 1 but there is 1 teacher/);
      expect(() => validateObjective(settings([{ type: 'ce' }, { type: 'dml' }]), [student]))
        .toThrow(/Deep Mutual Learning needs at least 2 students/);
      expect(() => validateObjective(settings([{ type: 'kd' }]), [student])).toThrow(/losses\[0\] \(kd\): needs a teacher/);
      expect(() => validateObjective(settings([{ type: 'ce', weight: { schedule: 'agreement', from: 1, to: 0 } }]), [student]))
        .toThrow(/'agreement' schedule .* there is none/);
      expect(() => validateObjective(settings([{ type: 'ce', fromEpoch: 3, untilEpoch: 2 }]), [student])).toThrow(/untilEpoch 2 is before fromEpoch 3/);
      expect(() => validateObjective(settings([{ type: 'ce' }]), [student, new Mlp(core, 'mlp:4-6-6-3')])).toThrow(/peers: a cohort .* dml/);
      // a layer of size 0 or a layer number 0 never gets this far: the schema names it
      expect(() => parseLossTerms([{ type: 'rkd', studentLayer: 0 }])).toThrow(/losses\[0\]\.studentLayer: must be a tap name/);
      expect(() => parseLossTerms([{ type: 'dkd', beta: -1 }])).toThrow(/losses\[0\]\.beta/);
      expect(() => parseLossTerms([{ type: 'kd', temperature: 0 }])).toThrow(/losses\[0\]\.temperature/);
      expect(() => parseLossTerms([{ type: 'nope' }])).toThrow(/losses\[0\]/);
      expect(() => parseLossTerms([])).toThrow(/at least one loss term/);
      // and a valid cross-architecture hint passes
      validateObjective(settings([{ type: 'hint', studentLayer: 2, teacherLayer: 1 }, { type: 'rkd', studentLayer: 'logits', teacherLayer: 1 }], [model]), [student]);
    } finally {
      student.free(); teacher.free();
    }
  });
});
