// The lab's pure pieces in Node: MNIST-like preprocessing of drawings, the softened
// distribution the page computes, the number parsing of the form, the engine's own check of a
// run's settings and the runs it makes of them, and the feature maps it draws.
import { describe, expect, it } from 'vitest';
import { argmax, parseDecimal, softmaxT, toMnist } from '../src/lab/mnist-input.js';
import { AttentionTransfer, createModel, loadCore } from '@retort/distill';
import { checkConfig } from '../src/lab/engine.js';
import { describeSpec, isDigitShaped, labMethodOptions, labShape, MNIST_SHAPE, setLabShape, studentRunConfig, teacherRunConfig } from '../src/lab/config.js';
import { featureMapsOf, resolutionPairs, spatialAttention, strongestChannels, termPairs, unitRange } from '../src/lab/feature-maps.js';
import type { LabConfig } from '../src/lab/types.js';

/** A size x size canvas with a filled rectangle of ink. */
function rect(size: number, x0: number, y0: number, w: number, h: number): Float32Array {
  const ink = new Float32Array(size * size);
  for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) ink[y * size + x] = 1;
  return ink;
}

function centreOfMass(img: Float32Array): [number, number] {
  let m = 0, cx = 0, cy = 0;
  for (let y = 0; y < 28; y++) for (let x = 0; x < 28; x++) { const v = img[y * 28 + x]!; m += v; cx += v * x; cy += v * y; }
  return [cx / m, cy / m];
}

describe('toMnist', () => {
  it('scales the drawing so that its longer side spans 20 pixels and centres its mass at (14, 14)', () => {
    const out = toMnist(rect(280, 30, 60, 40, 200), 280); // a tall bar, off centre
    expect(out).toHaveLength(784);
    const [cx, cy] = centreOfMass(out);
    expect(cx).toBeCloseTo(14, 0);
    expect(cy).toBeCloseTo(14, 0);
    // 20 pixels tall: 19 rows fully inked and two half-covered ones at the ends (the box falls between pixel centres)
    const rowInk = Array.from({ length: 28 }, (_, y) => Math.max(...out.subarray(y * 28, y * 28 + 28)));
    expect(rowInk.filter((v) => v > 0.99)).toHaveLength(19);
    expect(rowInk.reduce((a, b) => a + b, 0)).toBeCloseTo(20, 5);
    for (const v of out) { expect(v).toBeGreaterThanOrEqual(0); expect(v).toBeLessThanOrEqual(1); }
  });

  it('does not depend on where the digit was drawn', () => {
    const a = toMnist(rect(280, 20, 20, 100, 150), 280);
    const b = toMnist(rect(280, 150, 110, 100, 150), 280);
    expect(Array.from(b)).toEqual(Array.from(a));
  });

  it('gives zeros for an empty pad and refuses a wrong size', () => {
    expect(toMnist(new Float32Array(280 * 280), 280).every((v) => v === 0)).toBe(true);
    expect(() => toMnist(new Float32Array(10), 280)).toThrow(/expected 78400/);
  });
});

describe('softmaxT', () => {
  const z = [8, 1, 3, 0, 0, 0, 0, 0, 0, 0];
  it('sums to 1 and flattens as T grows', () => {
    const p1 = softmaxT(z, 1), p4 = softmaxT(z, 4), p20 = softmaxT(z, 20);
    for (const p of [p1, p4, p20]) expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(argmax(p1)).toBe(0);
    expect(p1[0]).toBeGreaterThan(p4[0]!);
    expect(p4[0]).toBeGreaterThan(p20[0]!);
    expect(p20[1]).toBeGreaterThan(p1[1]!);
  });
  it('reads a row of a [rows, 10] array at an offset', () => {
    const rows = new Float32Array([...new Array(10).fill(0), ...z]);
    expect(Array.from(softmaxT(rows, 2, 10))).toEqual(Array.from(softmaxT(z, 2)));
  });
});

describe('parseDecimal', () => {
  it('accepts decimal numbers and nothing else', () => {
    expect(parseDecimal(' 4 ')).toBe(4);
    expect(parseDecimal('0.9')).toBe(0.9);
    expect(parseDecimal('.5')).toBe(0.5);
    expect(parseDecimal('1e-3')).toBe(0.001);
    expect(parseDecimal('-2')).toBe(-2);
    for (const bad of ['', 'abc', '4x', '0x10', 'Infinity', 'NaN', '1,5']) expect(parseDecimal(bad)).toBeNaN();
  });
});

describe('the loaded data shape the specs and the runs', () => {
  it('checks specs against a table of 6 features in 3 classes, and its runs name the data and its per-feature statistics', () => {
    const ok: LabConfig = {
      teacher: { spec: 'mlp:6-16-3', epochs: 1, trainSize: 500 }, student: 'mlp:6-8-3', studentTap: '', teacherTap: '', method: 'kd', temperature: 4, alpha: 0.9,
      dkdAlpha: 1, dkdBeta: 8, correct: 0.9, peers: 1, rkdDistance: 25, rkdAngle: 50, hintEpochs: 1, generations: 2, epochs: 2,
      transferSize: 400, seed: 1, batchSize: 64, lr: 1e-3, validation: 100, testSize: 100, timingSeconds: 0.01,
    };
    const table = { name: 'bugs', sampleShape: [6], features: 6, classes: 3, classNames: ['ant', 'bee', 'cow'], norm: { mean: [1, 2, 3, 4, 5, 6], std: [1, 1, 2, 2, 3, 3] } };
    setLabShape(table);
    try {
      expect(isDigitShaped(labShape())).toBe(false);
      expect(() => checkConfig(ok, 720, 180)).not.toThrow();
      // the MNIST-shaped specs no longer fit (a CNN preset still does: to it a row is a 1x1 image of 6 channels)
      expect(() => checkConfig({ ...ok, student: 'mlp:784-32-10' }, 720, 180)).toThrow(/student\.input: takes \[784\] inputs, but the samples of bugs are \[6\] \(6 values\)/);
      expect(() => checkConfig({ ...ok, student: 'mlp:6-8-10' }, 720, 180)).toThrow(/student: outputs 10 classes, but bugs has 3/);
      expect(() => checkConfig({ ...ok, student: 'lenet5' }, 720, 180)).not.toThrow();
      expect(() => checkConfig({ ...ok, validation: 700 }, 720, 180)).toThrow();
      const run = studentRunConfig(ok, 'kd');
      expect(run.data).toBe('bugs');
      expect(run.mean).toEqual(table.norm.mean);
      expect(run.std).toEqual(table.norm.std);
    } finally {
      setLabShape(MNIST_SHAPE);
    }
    expect(isDigitShaped(labShape())).toBe(true);
    expect(studentRunConfig({ ...ok, teacher: null, student: 'mlp:784-8-10' }, 'kd').data).toBe('mnist');
  });
});

describe('checkConfig', () => {
  const ok: LabConfig = {
    teacher: { spec: 'mlp:784-64-10', epochs: 1, trainSize: 1000 }, student: 'mlp:784-32-10', studentTap: '', teacherTap: '', method: 'kd', temperature: 4, alpha: 0.9,
    dkdAlpha: 1, dkdBeta: 8, correct: 0.9, peers: 1, rkdDistance: 25, rkdAngle: 50, hintEpochs: 1, generations: 2, epochs: 2,
    transferSize: 500, seed: 1, batchSize: 64, lr: 1e-3, validation: 200, testSize: 1000, timingSeconds: 0.01,
  };
  it('passes good settings and names the bad one', () => {
    expect(() => checkConfig(ok, 60000, 10000)).not.toThrow();
    expect(() => checkConfig({ ...ok, temperature: 0 }, 60000, 10000)).toThrow(/temperature must be a number > 0/);
    expect(() => checkConfig({ ...ok, temperature: NaN }, 60000, 10000)).toThrow(/temperature/);
    expect(() => checkConfig({ ...ok, alpha: 1.5 }, 60000, 10000)).toThrow(/α .* \[0, 1\]/);
    expect(() => checkConfig({ ...ok, transferSize: 59900 }, 60000, 10000)).toThrow(/transfer-set size/);
    expect(() => checkConfig({ ...ok, student: 'mlp:784-0-10' }, 60000, 10000)).toThrow(/student\.sizes\[1\]: must be a positive integer/);
    expect(() => checkConfig({ ...ok, student: 'mlp:100-10' }, 60000, 10000)).toThrow(/student\.input: takes \[100\] inputs, but the samples of MNIST are \[28, 28\] \(784 values\)/);
    expect(() => checkConfig({ ...ok, student: 'lenet5:width=0.5', teacher: { ...ok.teacher!, spec: 'resnet8:width=0.25' } }, 60000, 10000)).not.toThrow();
    expect(() => checkConfig({ ...ok, student: '{"type":"graph","layers":[{"type":"conv2d","filters":4,"kernel":3}]}' }, 60000, 10000))
      .toThrow(/student\.layers: the last layer gives \[28, 28, 4\] per sample, but a model must end in flat class scores/);
    expect(() => checkConfig({ ...ok, student: '{"type":"graph","layers":[{"type":"flatten"},{"type":"dense","units":7}]}' }, 60000, 10000)).toThrow(/outputs 7 classes, but MNIST has 10/);
    expect(() => checkConfig({ ...ok, student: '{not json' }, 60000, 10000)).toThrow(/student: invalid JSON/);
    expect(() => checkConfig({ ...ok, teacher: { ...ok.teacher!, spec: 'resnet9' } }, 60000, 10000)).toThrow(/teacher: expected a JSON spec or a short form/);
    expect(() => checkConfig({ ...ok, method: 'fitnets', hintEpochs: 2 }, 60000, 10000)).toThrow(/hint epochs/);
    expect(() => checkConfig({ ...ok, method: 'nope' as LabConfig['method'] }, 60000, 10000)).toThrow(/unknown method/);
  });
});

describe('the runs a lab config makes', () => {
  const cfg: LabConfig = {
    teacher: { spec: 'resnet8:width=0.25', epochs: 2, trainSize: 3000 }, student: 'lenet5:width=0.5', studentTap: 'conv1', teacherTap: 'block2',
    method: 'at', temperature: 3, alpha: 0.8, dkdAlpha: 1, dkdBeta: 8, correct: 0.9, peers: 2, rkdDistance: 25, rkdAngle: 50, hintEpochs: 1,
    generations: 2, epochs: 4, transferSize: 1000, seed: 7, batchSize: 64, lr: 2e-3, validation: 500, testSize: 1000, timingSeconds: 0.01,
  };
  it('the teacher trains on its own images with labels alone; the students share seed, split, batch and test images', () => {
    const t = teacherRunConfig(cfg), s = studentRunConfig(cfg, cfg.method), alone = studentRunConfig(cfg, 'none');
    expect(t).toMatchObject({ model: 'resnet8:width=0.25', epochs: 2, trainSize: 3000, method: 'none', seed: 7, validation: 500, testSize: 1000, batchSize: 64 });
    expect(s).toMatchObject({ model: 'lenet5:width=0.5', epochs: 4, trainSize: 1000, method: 'at', temperature: 3, alpha: 0.8, optimizer: { type: 'adamw', lr: 2e-3 } });
    expect(alone).toEqual({ ...s, method: 'none' });
    expect(s.teacherInput).toBeUndefined();
    expect(studentRunConfig(cfg, 'kd', { mean: 0.13, std: 0.31 }).teacherInput).toEqual({ mean: 0.13, std: 0.31 });
    expect(studentRunConfig({ ...cfg, method: 'dml' }, 'dml').peers).toBe(2);
  });
  it('the taps chosen in the form go to the tap methods only; the hint stage to fitnets', () => {
    expect(labMethodOptions(cfg)).toMatchObject({ studentLayer: 'conv1', teacherLayer: 'block2' });
    expect(labMethodOptions({ ...cfg, method: 'kd' })).not.toHaveProperty('studentLayer');
    expect(labMethodOptions({ ...cfg, method: 'fitnets', studentTap: '' })).toMatchObject({ hintEpochs: 1, teacherLayer: 'block2' });
    expect(labMethodOptions({ ...cfg, method: 'fitnets', studentTap: '' })).not.toHaveProperty('studentLayer');
  });
  it('describes a spec: its short form, parameters and taps (an MLP\'s hidden layers by name)', async () => {
    const core = await loadCore({ backend: 'js' });
    expect(describeSpec(core, 'mlp:784-32-16-10', 'student')).toEqual({
      spec: 'mlp:784-32-16-10', params: 784 * 32 + 32 + 32 * 16 + 16 + 16 * 10 + 10, isMlp: true,
      taps: [{ name: 'hidden1', shape: [32] }, { name: 'hidden2', shape: [16] }],
    });
    const cnn = describeSpec(core, 'lenet5:width=0.5', 'student');
    expect(cnn.isMlp).toBe(false);
    expect(cnn.taps.map((t) => t.name)).toEqual(['conv1', 'conv2', 'fc1', 'fc2']);
    expect(cnn.taps[0]!.shape).toEqual([14, 14, 3]);
  });
});

describe('feature maps', () => {
  /** A random (H, W, C) map from a fixed integer sequence. */
  const map = (h: number, w: number, c: number, seed: number): Float32Array =>
    Float32Array.from({ length: h * w * c }, (_, i) => (((i + 1) * 2654435761 + seed * 40503) % 1000) / 500 - 1);

  it('spatial attention is losses/at.ts\'s map: Σ_c F² normalised, and its squared difference is the at loss', async () => {
    const f = map(4, 6, 3, 1), g = map(4, 6, 5, 2);
    const q = spatialAttention(f, [4, 6, 3]);
    expect(q).toHaveLength(24);
    expect(Math.hypot(...q)).toBeCloseTo(1, 12);
    let a5 = 0;
    for (let c = 0; c < 3; c++) a5 += f[5 * 3 + c]! ** 2;
    expect(q[5]! / q[0]!).toBeCloseTo(a5 / (f[0]! ** 2 + f[1]! ** 2 + f[2]! ** 2), 10);
    // L_at (batch of one, P positions) = mean over positions of (q_s − q_t)²
    const core = await loadCore({ backend: 'js' });
    const at = new AttentionTransfer(core, { student: [4, 6, 3], teacher: [4, 6, 5] });
    const s = core.fromArray(f), t = core.fromArray(g);
    const qt = spatialAttention(g, [4, 6, 5]);
    const expected = q.reduce((sum, v, i) => sum + (v - qt[i]!) ** 2, 0) / 24;
    expect(at.compute(null, s.ptr, t.ptr, 1, 0)).toBeCloseTo(expected, 12);
    core.free(s); core.free(t);
    expect(Array.from(spatialAttention(new Float32Array(12), [2, 2, 3]))).toEqual([0, 0, 0, 0]);
  });

  it('channels: the strongest first, each scaled to [0, 1]; a constant map is blank', () => {
    const f = new Float32Array(2 * 2 * 3);
    for (let i = 0; i < 4; i++) { f[i * 3] = i; f[i * 3 + 1] = 10 * i; f[i * 3 + 2] = 5; }
    const ch = strongestChannels(f, [2, 2, 3], 2);
    expect(ch.map((c) => c.index)).toEqual([1, 2]);
    expect(Array.from(ch[0]!.values)).toEqual([0, 1 / 3, 2 / 3, 1].map(Math.fround));
    expect(Array.from(ch[1]!.values)).toEqual([0, 0, 0, 0]);
    expect(Array.from(unitRange([2, 4, 3]))).toEqual([0, 1, 0.5]);
  });

  it('pairs taps by the method\'s terms, else by resolution; runs both models on one image', async () => {
    const core = await loadCore({ backend: 'js' });
    const teacher = createModel(core, { type: 'resnet8', input: [28, 28, 1], classes: 10, width: 0.25 });
    const student = createModel(core, { type: 'lenet5', input: [28, 28, 1], classes: 10, width: 0.5 });
    try {
      teacher.init(1); student.init(2);
      // resnet8's taps: stem, res1, block1, res2, block2, res3, block3 (a residual block's sum is a tap too)
      expect(resolutionPairs(student, teacher)).toEqual([['conv1', 'block2'], ['conv2', null], [null, 'stem'], [null, 'res1'], [null, 'block1'], [null, 'res2'], [null, 'res3'], [null, 'block3']]);
      expect(termPairs([{ type: 'at', weight: 1, studentLayer: 'conv2', teacherLayer: 'block3', teacher: 0 }, { type: 'ce', weight: 1 }], student, teacher))
        .toEqual([['conv2', 'block3']]);
      const pixels = Float32Array.from({ length: 784 }, (_, i) => ((i * 37) % 255) / 255);
      const norm = { mean: 0, std: 1 };
      const fm = featureMapsOf(core, { model: teacher, norm }, { model: student, norm }, pixels,
        [{ type: 'at', weight: 500, studentLayer: 'conv1', teacherLayer: 'block2', teacher: 0 }], {});
      expect(fm.pairing).toBe('method');
      expect(fm.pairs).toHaveLength(1);
      const [p] = fm.pairs;
      expect([p!.student!.tap, p!.student!.h, p!.teacher!.tap, p!.teacher!.h]).toEqual(['conv1', 14, 'block2', 14]);
      expect(Math.max(...p!.student!.values)).toBe(1);
      expect(Array.from(p!.student!.values)).not.toEqual(Array.from(p!.teacher!.values));
      // the student's attention map is the one of its conv1 tap after an eval forward of that image
      const x = core.fromArray(pixels);
      student.forward(x, 1, 'eval');
      expect(Array.from(p!.student!.values)).toEqual(Array.from(unitRange(spatialAttention(student.tapValues('conv1', 1), [14, 14, 3]))));
      core.free(x);
      expect(fm.channels.student).toMatchObject({ tap: 'conv1', taps: ['conv1', 'conv2'], h: 14, w: 14 });
      expect(fm.channels.student!.channels).toHaveLength(3);
      expect(fm.channels.teacher!.channels).toHaveLength(8);
      const mlp = createModel(core, 'mlp:784-16-10');
      mlp.init(3);
      const flat = featureMapsOf(core, { model: mlp, norm }, undefined, pixels, [], {});
      expect(flat).toMatchObject({ pairing: 'none', pairs: [], channels: {} });
      mlp.free();
    } finally {
      teacher.free(); student.free();
    }
  });
});
