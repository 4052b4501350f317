// Relational KD (src/losses/rkd.ts), per backend (it runs on core.sgemm): against (1) an independent
// TF.js f32 formula built from explicit B×B×D difference tensors (as the paper's reference code does)
// with its gradient from tf.grad, (2) central finite differences of a plain f64 reference written from
// the definitions (no Gram matrices), (3) the invariances: scale, translation (including a large
// common offset, which a Gram of uncentred rows could not survive), student = teacher, duplicates, and
// (4) nearly coincident rows, where relations read off an f32 Gram alone would lose their digits.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { loadCore, type Core, type Tensor } from '@retort/core-wasm';
import { RkdLoss, type RkdWeights } from '../../src/losses/rkd.js';
import { rand, gauss } from '../helpers/random.js';
import { expectClose, maxAbs } from '../helpers/close.js';

const BACKENDS = ['simd', 'scalar', 'js'] as const;
const U = 2 ** -24;

// Tolerances, as |got - want| <= atol·scale + rtol·|want|:
// VALUE (scale 1): the losses are means of Huber terms of O(1) ψ's. Ours carry ~8√D·u (Gram-derived
//   polarisation; exact differences for near pairs), TF.js's ~√D·u, the f64 reference none: < 1e-6 for
//   D <= 37. A wrong pair, triple, count or normaliser is O(1e-2..1) of the loss. (Observed: <= 8% of it.)
const VALUE = { atol: 2e-7, rtol: 2e-6 };
// GRAD (scale max|want|): the same ψ errors propagate through 1/d factors of O(1) data and an f32 M·X
//   product (relative ~√B·u of its terms); the central differences of the f64 reference are good to ~1e-10.
//   A missing term or a wrong factor is O(1e-2..1) of max|grad|. (Observed: <= 23% of it, against TF.js.)
const GRAD = { atol: 1e-5, rtol: 1e-5 };

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});




function huber(x: number): number {
  const a = Math.abs(x);
  return a < 1 ? 0.5 * x * x : a - 0.5;
}

// ---- f64 reference, straight from the definitions: explicit differences and unit vectors ----

function relations(X: ArrayLike<number>, D: number, B: number) {
  const d = new Float64Array(B * B), e = new Float64Array(B * B * D);
  let sum = 0;
  for (let i = 0; i < B; i++) {
    for (let j = 0; j < B; j++) {
      if (i === j) continue;
      let s = 0;
      for (let c = 0; c < D; c++) { const x = X[i * D + c]! - X[j * D + c]!; s += x * x; }
      const n = Math.sqrt(s);
      d[i * B + j] = n;
      sum += n;
      if (n > 0) for (let c = 0; c < D; c++) e[(i * B + j) * D + c] = (X[i * D + c]! - X[j * D + c]!) / n;
    }
  }
  return { d, e, mu: sum / (B * (B - 1)) };
}

function refRkd(S: ArrayLike<number>, ds: number, E: ArrayLike<number>, dt: number, B: number): { distance: number; angle: number } {
  const s = relations(S, ds, B), t = relations(E, dt, B);
  let dist = 0;
  for (let i = 0; i < B; i++) {
    for (let j = 0; j < B; j++) {
      if (i === j) continue;
      dist += huber((s.mu > 0 ? s.d[i * B + j]! / s.mu : 0) - (t.mu > 0 ? t.d[i * B + j]! / t.mu : 0));
    }
  }
  let ang = 0;
  if (B >= 3) {
    const dot = (e: Float64Array, D: number, a: number, b: number): number => {
      let x = 0;
      for (let c = 0; c < D; c++) x += e[a * D + c]! * e[b * D + c]!;
      return x;
    };
    for (let j = 0; j < B; j++) {
      for (let i = 0; i < B; i++) {
        if (i === j) continue;
        for (let k = 0; k < B; k++) {
          if (k === j) continue;
          ang += huber(dot(s.e, ds, i * B + j, k * B + j) - dot(t.e, dt, i * B + j, k * B + j));
        }
      }
    }
    ang /= B * (B - 1) * (B - 1);
  }
  return { distance: dist / (B * (B - 1)), angle: ang };
}

// ---- TF.js formula: B×B×D differences, normalised, batched matmul for the angles ----

function tfRkd(s: tf.Tensor2D, t: tf.Tensor2D, B: number, w: RkdWeights): tf.Scalar {
  const eye = tf.eye(B), off = tf.sub(1, eye);
  const rel = (x: tf.Tensor2D) => {
    const diff = tf.sub(tf.expandDims(x, 1), tf.expandDims(x, 0)); // [i, j, :] = x_i - x_j
    const d = tf.mul(tf.sqrt(tf.add(tf.sum(tf.square(diff), 2), eye)), off); // sqrt(1) on the diagonal keeps grads finite
    const psiD = tf.div(d, tf.div(tf.sum(d), B * (B - 1)));
    const e = tf.div(diff, tf.expandDims(tf.add(d, eye), 2)); // e_ij, 0 on the diagonal
    const byAnchor = tf.transpose(e, [1, 0, 2]); // [j, i, :] = e_ij
    const psiA = tf.matMul(byAnchor, byAnchor, false, true); // [j, i, k] = <e_ij, e_kj>
    return { psiD, psiA };
  };
  const hub = (x: tf.Tensor): tf.Tensor => {
    const a = tf.abs(x), q = tf.minimum(a, 1);
    return tf.add(tf.mul(tf.square(q), 0.5), tf.sub(a, q));
  };
  const S = rel(s), T = rel(t);
  const dist = tf.div(tf.sum(hub(tf.sub(S.psiD, T.psiD))), B * (B - 1));
  const ang = B >= 3 ? tf.div(tf.sum(hub(tf.sub(S.psiA, T.psiA))), B * (B - 1) * (B - 1)) : tf.scalar(0);
  return tf.add(tf.mul(dist, w.distance), tf.mul(ang, w.angle)) as tf.Scalar;
}

function tfParts(S: Float32Array, ds: number, E: Float32Array, dt: number, B: number) {
  return tf.tidy(() => {
    const s = tf.tensor2d(S, [B, ds]), t = tf.tensor2d(E, [B, dt]);
    const distance = tfRkd(s, t, B, { distance: 1, angle: 0 }).dataSync()[0]!;
    const angle = tfRkd(s, t, B, { distance: 0, angle: 1 }).dataSync()[0]!;
    const grad = tf.grad((x: tf.Tensor) => tfRkd(x as tf.Tensor2D, t, B, { distance: 0.7, angle: 1.9 }))(s).dataSync() as Float32Array;
    return { distance, angle, grad };
  });
}

/** Runs RKD on copies of S and E in the core's memory; dS starts from `dS0` (or zeros). */
function run(core: Core, rkd: RkdLoss, S: Float32Array, ds: number, E: Float32Array, dt: number, B: number, w: RkdWeights,
             opts: { gradScale?: number; dS0?: Float32Array; times?: number; raw?: boolean } = {}) {
  const tS = core.fromArray(S), tE = core.fromArray(E), tdS = core.alloc(B * ds);
  if (opts.dS0) tdS.set(opts.dS0);
  let res = { distance: NaN, angle: NaN };
  for (let t = 0; t < (opts.times ?? 1); t++) {
    res = opts.raw
      ? rkd.compute({ ptr: tdS.ptr }, { ptr: tS.ptr }, ds, { ptr: tE.ptr }, dt, B, w, opts.gradScale)
      : rkd.compute(tdS, tS, ds, tE, dt, B, w, opts.gradScale);
  }
  const grad = tdS.toArray();
  for (const x of [tS, tE, tdS] as Tensor[]) core.free(x);
  return { ...res, grad };
}

const W = { distance: 0.7, angle: 1.9 };
const CASES: readonly (readonly [number, number, number])[] = [
  // rows, student dim, teacher dim
  [3, 1, 5], [3, 5, 37], [9, 37, 1], [9, 5, 5], [20, 37, 5], [20, 1, 37], [20, 5, 1],
];

describe.each(BACKENDS)('RkdLoss [%s]', (backend) => {
  let core: Core;
  let rkd: RkdLoss;
  beforeAll(async () => {
    core = await loadCore({ backend });
    rkd = new RkdLoss(core, 64);
  });

  it('values and gradient match the TF.js formula and tf.grad', () => {
    const r = rand(1);
    for (const [B, ds, dt] of CASES) {
      const S = gauss(r, B * ds), E = gauss(r, B * dt, 3);
      const got = run(core, rkd, S, ds, E, dt, B, W);
      const want = tfParts(S, ds, E, dt, B);
      const what = `B=${B} ds=${ds} dt=${dt}`;
      // both sides f32 (see VALUE and GRAD)
      expectClose([got.distance, got.angle], [want.distance, want.angle], VALUE.atol, VALUE.rtol, 1, `values ${what}`);
      expectClose(got.grad, want.grad, GRAD.atol, GRAD.rtol, maxAbs(want.grad), `grad ${what}`);
      expect(maxAbs(got.grad)).toBeGreaterThan(0);
    }
    expect(tf.memory().numTensors, 'no tf tensors leak').toBeLessThan(50);
  });

  it('values match an f64 reference and the gradient matches its central finite differences', () => {
    const r = rand(2);
    for (const [B, ds, dt] of [[3, 4, 2], [9, 5, 7], [12, 13, 3], [7, 2, 9]] as const) {
      for (const w of [W, { distance: 1, angle: 0 }, { distance: 0, angle: 1 }]) {
        const S = gauss(r, B * ds), E = gauss(r, B * dt, 2);
        const got = run(core, rkd, S, ds, E, dt, B, w);
        const ref = refRkd(S, ds, E, dt, B);
        const what = `B=${B} ds=${ds} dt=${dt} w=${w.distance}/${w.angle}`;
        expectClose([got.distance, got.angle], [ref.distance, ref.angle], VALUE.atol, VALUE.rtol, 1, `values ${what}`);
        const f = (x: Float64Array): number => { const v = refRkd(x, ds, E, dt, B); return w.distance * v.distance + w.angle * v.angle; };
        // step 1e-5 of the O(1) embedding scale: truncation ~(h/d)² ~ 1e-10 relative, roundoff ~1e-11
        const h = 1e-5;
        const x = Float64Array.from(S);
        const fd = Float64Array.from(S, (v, i) => {
          x[i] = v + h; const fp = f(x);
          x[i] = v - h; const fm = f(x);
          x[i] = v;
          return (fp - fm) / (2 * h);
        });
        expectClose(got.grad, fd, GRAD.atol, GRAD.rtol, maxAbs(fd), `grad vs FD ${what}`);
      }
    }
  });

  it('close pairs (down to 1e-4 of the spread) keep full precision: exact-difference path vs tf.grad and finite differences', () => {
    const r = rand(6);
    const B = 12, ds = 5, dt = 7;
    for (const gap of [1e-2, 1e-4]) {
      const S = gauss(r, B * ds), E = gauss(r, B * dt);
      // student rows 2 ≈ 1 and 5 ≈ 4, teacher rows 8 ≈ 7, each at distance ~gap
      for (let c = 0; c < ds; c++) { S[2 * ds + c] = S[ds + c]! + gap * (r() - 0.5); S[5 * ds + c] = S[4 * ds + c]! + gap * (r() - 0.5); }
      for (let c = 0; c < dt; c++) E[8 * dt + c] = E[7 * dt + c]! + gap * (r() - 0.5);
      const got = run(core, rkd, S, ds, E, dt, B, W);
      expect(rkd.nearPairs.student).toBeGreaterThanOrEqual(2);
      expect(rkd.nearPairs.teacher).toBeGreaterThanOrEqual(1);
      const want = tfParts(S, ds, E, dt, B);
      const ref = refRkd(S, ds, E, dt, B);
      expectClose([got.distance, got.angle], [ref.distance, ref.angle], VALUE.atol, VALUE.rtol, 1, `values gap=${gap}`);
      const f = (x: Float64Array): number => { const v = refRkd(x, ds, E, dt, B); return W.distance * v.distance + W.angle * v.angle; };
      const h = 1e-4 * gap; // the loss varies on the scale of the gap
      const x = Float64Array.from(S);
      const fd = Float64Array.from(S, (v, i) => {
        x[i] = v + h; const fp = f(x);
        x[i] = v - h; const fm = f(x);
        x[i] = v;
        return (fp - fm) / (2 * h);
      });
      // the gradient grows like 1/gap here; the bounds stay relative to its largest entry. Computing the
      // angles of close rows from the Gram alone would be off by ~u·|x|²/d² (1e-2 of max|grad| at 1e-4).
      expectClose(got.grad, fd, GRAD.atol, GRAD.rtol, maxAbs(fd), `grad vs FD gap=${gap}`);
      expectClose(got.grad, want.grad, GRAD.atol, GRAD.rtol, maxAbs(want.grad), `grad vs tf gap=${gap}`);
    }
  });

  it('is invariant to scaling and translating the student; zero when S = c·E; gradients follow', () => {
    const r = rand(3);
    for (const [B, d] of [[9, 5], [20, 37]] as const) {
      const S = gauss(r, B * d), E = gauss(r, B * 11);
      const base = run(core, rkd, S, d, E, 11, B, W);
      expect(base.distance).toBeGreaterThan(1e-3);
      expect(base.angle).toBeGreaterThan(1e-3);
      // scale by c: same values; dL/dS scales by 1/c (L(cS) = L(S))
      for (const c of [0.01, 3.7, 250]) {
        const sc = run(core, rkd, Float32Array.from(S, (x) => c * x), d, E, 11, B, W);
        expectClose([sc.distance, sc.angle], [base.distance, base.angle], VALUE.atol, VALUE.rtol, 1, `scale ${c} values`);
        expectClose(Float32Array.from(sc.grad, (g) => c * g), base.grad, GRAD.atol, GRAD.rtol, maxAbs(base.grad), `scale ${c} grad`);
      }
      // translation by a per-column offset, including a large one: the Gram is formed from centred rows,
      // so the only error is the f32 rounding of S + t itself (~u |t| / |s| relative)
      const nearBase = rkd.nearPairs;
      for (const off of [1, 1e3]) {
        const t = gauss(r, d, off);
        const St = Float32Array.from(S, (x, i) => x + t[i % d]!);
        const tr = run(core, rkd, St, d, E, 11, B, W);
        // centring keeps the Gram accurate: the offset sends no extra pair down the exact (O(B·D)) path
        expect(rkd.nearPairs, `near pairs, offset ${off}`).toEqual(nearBase);
        const ref = refRkd(St, d, E, 11, B); // the f64 reference on the same (rounded) f32 inputs
        expectClose([tr.distance, tr.angle], [ref.distance, ref.angle], VALUE.atol, VALUE.rtol, 1, `translate ${off} vs f64`);
        // vs the untranslated run: S + t moved each entry by its f32 rounding, up to u·|t| ~ u·3·off
        const tol = VALUE.rtol + 40 * U * off;
        expectClose([tr.distance, tr.angle], [base.distance, base.angle], tol, tol, 1, `translate ${off}`);
        expectClose(tr.grad, base.grad, GRAD.atol + 40 * U * off, GRAD.rtol, maxAbs(base.grad), `translate ${off} grad`);
      }
      // the gradient of a translation-invariant loss has zero column sums (up to the f32 sums)
      for (let c = 0; c < d; c++) {
        let s = 0, a = 0;
        for (let i = 0; i < B; i++) { s += base.grad[i * d + c]!; a += Math.abs(base.grad[i * d + c]!); }
        expect(Math.abs(s), `column ${c} sum`).toBeLessThanOrEqual(1e-5 * a + 1e-12);
      }
      // S = c·E (same dims): both terms vanish and so does the gradient
      const E2 = gauss(r, B * d);
      const same = run(core, rkd, Float32Array.from(E2, (x) => 3.7 * x), d, E2, d, B, W);
      expect(same.distance).toBeLessThan(1e-10);
      expect(same.angle).toBeLessThan(1e-10);
      expect(maxAbs(same.grad)).toBeLessThan(1e-5 * maxAbs(base.grad));
      // student = teacher bit for bit: exactly zero
      const eq = run(core, rkd, E2, d, E2, d, B, W);
      expect(eq.distance).toBe(0);
      expect(eq.angle).toBe(0);
      expect(maxAbs(eq.grad)).toBe(0);
    }
  });

  it('gradients accumulate, gradScale and the weights scale them, and raw {ptr} arguments work', () => {
    const r = rand(4);
    const B = 9, ds = 6, dt = 4;
    const S = gauss(r, B * ds), E = gauss(r, B * dt);
    const dS0 = gauss(r, B * ds, 0.01);
    const sub = (g: Float32Array): Float64Array => Float64Array.from(g, (x, i) => x - dS0[i]!);
    const one = run(core, rkd, S, ds, E, dt, B, W, { dS0 });
    const g1 = sub(one.grad);
    const gs = maxAbs(g1) + maxAbs(dS0);
    // f32 rounding of dS0 + g (once per accumulation): 8u of |dS0| + |g|
    expectClose(sub(run(core, rkd, S, ds, E, dt, B, W, { dS0, times: 2 }).grad), Float64Array.from(g1, (g) => 2 * g), 8 * U, 0, gs, 'accumulates');
    expectClose(sub(run(core, rkd, S, ds, E, dt, B, W, { dS0, gradScale: -0.5 }).grad), Float64Array.from(g1, (g) => -0.5 * g), 8 * U, 0, gs, 'gradScale');
    const raw = run(core, rkd, S, ds, E, dt, B, W, { dS0, raw: true });
    expect(raw.grad).toEqual(one.grad);
    expect([raw.distance, raw.angle]).toEqual([one.distance, one.angle]);
    const gd = sub(run(core, rkd, S, ds, E, dt, B, { distance: 1, angle: 0 }, { dS0 }).grad);
    const ga = sub(run(core, rkd, S, ds, E, dt, B, { distance: 0, angle: 1 }, { dS0 }).grad);
    // three f32 results each carrying the rounding of dS0 + g: 16u of |dS0| + |g|
    expectClose(g1, Float64Array.from(gd, (g, i) => W.distance * g + W.angle * ga[i]!), 16 * U, 0, gs, 'weights are linear');
    const none = run(core, rkd, S, ds, E, dt, B, { distance: 0, angle: 0 }, { dS0 });
    expect(none.grad).toEqual(dS0);
    expect([none.distance, none.angle]).toEqual([one.distance, one.angle]);
    // no dS: values only
    const tS = core.fromArray(S), tE = core.fromArray(E);
    expect(rkd.compute(null, tS, ds, tE, dt, B, W)).toEqual({ distance: one.distance, angle: one.angle });
    // two rows: distance only, angle 0
    const two = rkd.compute(null, tS, ds, tE, dt, 2, W);
    expect(two.angle).toBe(0);
    expectClose([two.distance], [refRkd(S, ds, E, dt, 2).distance], VALUE.atol, VALUE.rtol, 1, 'two rows');
    core.free(tS); core.free(tE);
  });

  it('duplicate rows (exact copies, post-ReLU zeros, a collapsed batch) give finite values matching the f64 reference', () => {
    const r = rand(5);
    for (const [B, ds, dt] of [[9, 37, 5], [20, 5, 37], [12, 2, 3]] as const) {
      const S = gauss(r, B * ds), E = gauss(r, B * dt);
      // copies: student rows 3 = 0 and 7 = 5 (and 8 = 5); teacher rows 1 = 2
      S.copyWithin(3 * ds, 0, ds); S.copyWithin(7 * ds, 5 * ds, 6 * ds); S.copyWithin(8 * ds, 5 * ds, 6 * ds);
      E.copyWithin(1 * dt, 2 * dt, 3 * dt);
      const relu = Float32Array.from(S, (x) => Math.max(0, x - 0.5)); // ReLU'd: several all-zero rows when ds is small
      for (const [name, s] of [['copies', S], ['relu', relu]] as const) {
        const got = run(core, rkd, s, ds, E, dt, B, W);
        const ref = refRkd(s, ds, E, dt, B);
        const what = `${name} B=${B} ds=${ds} dt=${dt}`;
        expect(Number.isFinite(got.distance) && Number.isFinite(got.angle), what).toBe(true);
        for (const g of got.grad) expect(Number.isFinite(g), what).toBe(true);
        expectClose([got.distance, got.angle], [ref.distance, ref.angle], VALUE.atol, VALUE.rtol, 1, `values ${what}`);
        // The loss is not differentiable at a coincident pair (d = 0), but it is in the rows that have no twin:
        // moving one changes no zero distance, and ψ through a coincident pair stays 0. There the gradient
        // must match finite differences of the f64 reference (same bound as above).
        const twin = (i: number): boolean => Array.from({ length: B }, (_, j) => j).some((j) => j !== i &&
          s.subarray(i * ds, (i + 1) * ds).every((x, c) => x === s[j * ds + c]));
        const f = (x: Float64Array): number => { const v = refRkd(x, ds, E, dt, B); return W.distance * v.distance + W.angle * v.angle; };
        const x = Float64Array.from(s), h = 1e-5;
        let free = 0;
        const fd: number[] = [], mine: number[] = [];
        for (let i = 0; i < B; i++) {
          if (twin(i)) continue;
          free++;
          for (let c = 0; c < ds; c++) {
            const at = i * ds + c, v = x[at]!;
            x[at] = v + h; const fp = f(x);
            x[at] = v - h; const fm = f(x);
            x[at] = v;
            fd.push((fp - fm) / (2 * h));
            mine.push(got.grad[at]!);
          }
        }
        expect(free, `${what}: rows without a twin`).toBeGreaterThan(1);
        expect(free, `${what}: rows with a twin`).toBeLessThan(B);
        expectClose(mine, fd, GRAD.atol, GRAD.rtol, maxAbs(fd), `grad vs FD (rows without a twin) ${what}`);
      }
      // a collapsed student (all rows equal): ψ_D = 0, ψ_A = 0, no gradient, finite values
      const flat = new Float32Array(B * ds).fill(0.25);
      const got = run(core, rkd, flat, ds, E, dt, B, W);
      const ref = refRkd(flat, ds, E, dt, B);
      expectClose([got.distance, got.angle], [ref.distance, ref.angle], VALUE.atol, VALUE.rtol, 1, `collapsed B=${B}`);
      expect(maxAbs(got.grad)).toBe(0);
    }
  });

  it('rejects bad arguments with RangeErrors naming them', () => {
    const small = new RkdLoss(core, 4);
    const S = core.alloc(4 * 3), E = core.alloc(4 * 2), dS = core.alloc(4 * 3), I = core.allocI32(12);
    const cases: [() => unknown, RegExp][] = [
      [() => small.compute(dS, S, 3, E, 2, 5, W), /rows = 5 exceeds maxRows = 4/],
      [() => small.compute(dS, S, 3, E, 2, 1, W), /rows must be an integer >= 2/],
      [() => small.compute(dS, S, 0, E, 2, 4, W), /ds must be/],
      [() => small.compute(dS, S, 3, E, 2.5, 4, W), /dt must be/],
      [() => small.compute(dS, S, 4, E, 2, 4, W), /S holds 12 elements but the sizes need 16/],
      [() => small.compute(dS, S, 3, E, 3, 4, W), /E holds 8 elements/],
      [() => small.compute(core.alloc(5), S, 3, E, 2, 4, W), /dS holds 5 elements/],
      [() => small.compute(dS, I as unknown as Tensor<'f32'>, 3, E, 2, 4, W), /S must be an f32 tensor/],
      [() => small.compute(dS, { ptr: 3 }, 3, E, 2, 4, W), /S must be an f32 tensor or have a 4-byte aligned offset/],
      [() => small.compute(dS, S, 3, E, 2, 4, { distance: NaN, angle: 1 }), /w.distance must be a finite number/],
      [() => small.compute(dS, S, 3, E, 2, 4, W, Infinity), /gradScale must be a finite number/],
      [() => new RkdLoss(core, 1), /maxRows must be an integer >= 2/],
    ];
    for (const [f, re] of cases) { expect(f).toThrow(RangeError); expect(f).toThrow(re); }
    const freedS = core.alloc(12);
    core.free(freedS);
    expect(() => small.compute(dS, freedS, 3, E, 2, 4, W)).toThrow(/S is a freed tensor/);
    small.free();
    expect(() => small.compute(dS, S, 3, E, 2, 4, W)).toThrow(/has been freed/);
  });
});
