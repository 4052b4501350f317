// The lab's pure pieces in Node: MNIST-like preprocessing of drawings, the softened
// distribution the page computes, the number parsing of the form, and the engine's own check
// of a run's settings.
import { describe, expect, it } from 'vitest';
import { argmax, parseDecimal, softmaxT, toMnist } from '../src/lab/mnist-input.js';
import { checkConfig } from '../src/lab/engine.js';
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

describe('checkConfig', () => {
  const ok: LabConfig = {
    teacher: { spec: 'mlp:784-64-10', epochs: 1, trainSize: 1000 }, studentHidden: [32], method: 'kd', temperature: 4, alpha: 0.9,
    dkdAlpha: 1, dkdBeta: 8, correct: 0.9, peers: 1, rkdDistance: 25, rkdAngle: 50, hintEpochs: 1, generations: 2, epochs: 2,
    transferSize: 500, seed: 1, batchSize: 64, lr: 1e-3, validation: 200, testSize: 1000, timingSeconds: 0.01,
  };
  it('passes good settings and names the bad one', () => {
    expect(() => checkConfig(ok, 60000, 10000)).not.toThrow();
    expect(() => checkConfig({ ...ok, temperature: 0 }, 60000, 10000)).toThrow(/temperature must be a number > 0/);
    expect(() => checkConfig({ ...ok, temperature: NaN }, 60000, 10000)).toThrow(/temperature/);
    expect(() => checkConfig({ ...ok, alpha: 1.5 }, 60000, 10000)).toThrow(/α .* \[0, 1\]/);
    expect(() => checkConfig({ ...ok, transferSize: 59900 }, 60000, 10000)).toThrow(/transfer-set size/);
    expect(() => checkConfig({ ...ok, studentHidden: [0] }, 60000, 10000)).toThrow(/hidden widths/);
    expect(() => checkConfig({ ...ok, method: 'fitnets', hintEpochs: 2 }, 60000, 10000)).toThrow(/hint epochs/);
    expect(() => checkConfig({ ...ok, method: 'nope' as LabConfig['method'] }, 60000, 10000)).toThrow(/unknown method/);
  });
});
