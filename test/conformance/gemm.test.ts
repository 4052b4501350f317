// sgemm on every backend against the f64 reference: all four transpose forms, odd and
// tile-unfriendly sizes, alpha/beta, padded leading dimensions, canaries around C, and the
// dense-layer backward forms (dA = dC Bᵀ, dB = Aᵀ dC) against finite differences.
import { describe, expect, it } from 'vitest';
import type { Core } from '@retort/core-wasm';
import { refSgemm, refSgemmAbsScale, type GemmArgs } from '../reference/kernels.js';
import { dot, finiteDifference } from '../reference/finite-difference.js';
import { TestRand } from '../reference/prng.js';
import { BACKENDS, TOL, expectBitIdentical, expectClose, f32, useCore } from './helpers.js';

const SHAPES: [number, number, number][] = [[1, 1, 1], [3, 5, 7], [17, 129, 3], [129, 17, 65], [4, 8, 4], [6, 5, 1000], [2, 3, 0]];
const FORMS: [boolean, boolean][] = [[false, false], [true, false], [false, true], [true, true]];
const SCALARS: [alpha: number, beta: number][] = [[1, 0], [-0.75, 0.5], [2, 1]];
const CANARY = 12345.5;

interface Case { g: GemmArgs; aRows: number; aCols: number; bRows: number; bCols: number }

function makeCase(rand: TestRand, M: number, N: number, K: number, transA: boolean, transB: boolean,
                  alpha: number, beta: number, pad = 0): Case {
  const [aRows, aCols] = transA ? [K, M] : [M, K];
  const [bRows, bCols] = transB ? [N, K] : [K, N];
  const lda = Math.max(1, aCols) + pad, ldb = Math.max(1, bCols) + pad, ldc = Math.max(1, N) + pad;
  // Padding of A and B holds NaN: a kernel that reads it poisons C. Padding of C holds a canary.
  const strided = (rows: number, cols: number, ld: number, padValue: number, lo: number): Float32Array => {
    const a = new Float32Array(rows * ld).fill(padValue);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) a[r * ld + c] = rand.uniform(lo, 1);
    return a;
  };
  const A = strided(aRows, aCols, lda, NaN, -1);
  const B = strided(bRows, bCols, ldb, NaN, -1);
  const C = strided(M, N, ldc, CANARY, -1);
  return { g: { transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc }, aRows, aCols, bRows, bCols };
}

function runCase(core: Core, { g }: Case, cInit?: Float32Array): Float32Array {
  const a = f32(core, g.A), b = f32(core, g.B);
  const tail = 16;
  const c = core.alloc(g.C.length + tail).set(cInit ?? g.C);
  c.view().fill(CANARY, g.C.length);
  const after = f32(core, new Float32Array(8).fill(CANARY));
  core.sgemm(g.transA, g.transB, g.M, g.N, g.K, g.alpha, a, b, g.beta, c, { lda: g.lda, ldb: g.ldb, ldc: g.ldc });
  const out = c.toArray();
  // inputs (and so everything below C, where they sit) are never written
  expectBitIdentical(a.toArray(), Float32Array.from(g.A), 'A unchanged');
  expectBitIdentical(b.toArray(), Float32Array.from(g.B), 'B unchanged');
  for (let i = g.C.length; i < out.length; i++) expect(out[i], `canary after C at +${i - g.C.length}`).toBe(CANARY);
  for (const v of after.toArray()) expect(v, 'canary in the next allocation').toBe(CANARY);
  return out.subarray(0, g.C.length);
}

function checkAgainstReference(out: Float32Array, g: GemmArgs, what: string): void {
  const ref = refSgemm(g);
  const scale = refSgemmAbsScale(g);
  // Padding columns of C (j >= N) must be untouched: the reference leaves them as they were.
  const tol = { ...TOL.gemm, atol: TOL.gemm.atol * (g.K + 4) };
  expectClose(out, ref, tol, what, scale);
  for (let i = 0; i < g.M; i++) {
    for (let j = g.N; j < g.ldc; j++) expect(out[i * g.ldc + j], `${what}: C padding [${i},${j}]`).toBe(CANARY);
  }
}

describe.each(BACKENDS)('sgemm [%s]', (backend) => {
  const core = useCore(backend);

  for (const [M, N, K] of SHAPES) {
    for (const [transA, transB] of FORMS) {
      const form = `${transA ? 'T' : 'N'}${transB ? 'T' : 'N'}`;
      it(`${form} M=${M} N=${N} K=${K}, tight strides, alpha/beta in ${JSON.stringify(SCALARS)}`, () => {
        const rand = new TestRand(M * 1000003 + N * 1009 + K * 7 + (transA ? 1 : 0) + (transB ? 2 : 0));
        for (const [alpha, beta] of SCALARS) {
          const c = makeCase(rand, M, N, K, transA, transB, alpha, beta);
          checkAgainstReference(runCase(core(), c), c.g, `${form} alpha=${alpha} beta=${beta}`);
        }
      });
    }
  }

  for (const [transA, transB] of FORMS) {
    const form = `${transA ? 'T' : 'N'}${transB ? 'T' : 'N'}`;
    it(`${form} with lda/ldb/ldc larger than tight (padding never read, C padding never written)`, () => {
      const rand = new TestRand(77 + (transA ? 1 : 0) + (transB ? 2 : 0));
      for (const [M, N, K, pad] of [[3, 5, 7, 3], [17, 13, 9, 1], [5, 6, 33, 8]] as const) {
        const c = makeCase(rand, M, N, K, transA, transB, 1.5, 0.5, pad);
        checkAgainstReference(runCase(core(), c), c.g, `${form} ${M}x${N}x${K} pad ${pad}`);
      }
    });
  }

  it('beta = 0 overwrites C and ignores NaN and Infinity already in it', () => {
    const rand = new TestRand(5);
    for (const [transA, transB] of FORMS) {
      const c = makeCase(rand, 7, 9, 5, transA, transB, 1, 0);
      const poisoned = Float32Array.from(c.g.C, (_, i) => (i % 2 ? NaN : Infinity));
      const out = runCase(core(), c, poisoned);
      for (const v of out) expect(Number.isFinite(v)).toBe(true);
      expectClose(out, refSgemm({ ...c.g, C: new Float32Array(c.g.C.length) }), { ...TOL.gemm, atol: TOL.gemm.atol * 9 },
        'beta 0 over NaN', refSgemmAbsScale(c.g));
    }
  });

  it('K = 0 only scales C by beta; M or N = 0 writes nothing', () => {
    const c0 = f32(core(), [1, 2, 3, 4, 5, 6]);
    const a = core().alloc(16), b = core().alloc(16);
    core().sgemm(false, false, 2, 3, 0, 1, a, b, 0.5, c0);
    expect(Array.from(c0.toArray())).toEqual([0.5, 1, 1.5, 2, 2.5, 3]);
    const c1 = f32(core(), [7, 8]);
    core().sgemm(false, false, 0, 2, 3, 1, a, b, 0, c1);
    core().sgemm(false, false, 2, 0, 3, 1, a, b, 0, c1);
    expect(Array.from(c1.toArray())).toEqual([7, 8]);
  });

  it('accepts raw byte offsets inside live tensors', () => {
    const rand = new TestRand(9);
    const c = makeCase(rand, 5, 3, 4, false, true, 1, 0);
    const a = f32(core(), c.g.A), b = f32(core(), c.g.B), cc = f32(core(), c.g.C);
    core().sgemm(false, true, 5, 3, 4, 1, a.ptr, b.ptr, 0, cc.ptr);
    checkAgainstReference(cc.toArray(), c.g, 'raw offsets');
  });

  // Backward of C = A B (A is (M,K), B is (K,N)) for the scalar loss <dC, C>:
  //   dA += dC Bᵀ  (NT form)    dB += Aᵀ dC  (TN form), both with beta = 1.
  for (const [M, N, K] of [[1, 1, 1], [3, 5, 7], [17, 9, 13], [4, 129, 6]] as const) {
    it(`backward M=${M} N=${N} K=${K}: NT and TN forms accumulate dC->dA, dB (finite differences)`, () => {
      const rand = new TestRand(M * 31 + N * 17 + K);
      const A = rand.f32(M * K), B = rand.f32(K * N), dC = rand.f32(M * N);
      const dA0 = rand.f32(M * K), dB0 = rand.f32(K * N);
      const loss = (a: ArrayLike<number>, b: ArrayLike<number>): number =>
        dot(dC, refSgemm({ transA: false, transB: false, M, N, K, alpha: 1, A: a, lda: K, B: b, ldb: N, beta: 0,
          C: new Float64Array(M * N), ldc: N }));
      const fdA = finiteDifference((a) => loss(a, B), A);
      const fdB = finiteDifference((b) => loss(A, b), B);
      const ta = f32(core(), A), tb = f32(core(), B), tdc = f32(core(), dC);
      const tda = f32(core(), dA0), tdb = f32(core(), dB0);
      core().sgemm(false, true, M, K, N, 1, tdc, tb, 1, tda);
      core().sgemm(true, false, K, N, M, 1, ta, tdc, 1, tdb);
      const expA = Float64Array.from(fdA, (g, i) => g + dA0[i]!);
      const expB = Float64Array.from(fdB, (g, i) => g + dB0[i]!);
      // scale: the abs-sum of the products plus |beta * old| per element; the FD error (~1e-9) is far below.
      const scaleA = Float64Array.from(expA, () => maxRowAbs(dC) * maxRowAbs(B) * N + maxRowAbs(dA0));
      const scaleB = Float64Array.from(expB, () => maxRowAbs(A) * maxRowAbs(dC) * M + maxRowAbs(dB0));
      expectClose(tda.toArray(), expA, { rtol: 0, atol: TOL.gemm.atol * (N + 4) + 1e-8 }, 'dA', scaleA);
      expectClose(tdb.toArray(), expB, { rtol: 0, atol: TOL.gemm.atol * (M + 4) + 1e-8 }, 'dB', scaleB);
    });
  }
});

function maxRowAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}
