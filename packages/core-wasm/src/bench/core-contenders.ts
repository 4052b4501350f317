// Our own backends as contenders. Operands live in the core's memory, allocated once
// per case; the timed call is the raw kernel with byte offsets (`core.kernels`, the
// unchecked fast path a trainer uses after validating its plan), so the figures are
// the kernels' and not the validation's.

import type { Core } from '../core.js';
import type { Tensor } from '../tensor.js';
import { encodeGeometry } from '../kernels/geometry.js';
import { coreLayer } from './layers.js';
import type { Contender, ConvCase, GemmCase, LossCase, LossOutput, Prepared } from './types.js';

const DESCRIPTIONS: Record<string, string> = {
  simd: 'retort.simd.wasm, raw core.kernels calls on preallocated tensors',
  scalar: 'retort.scalar.wasm, raw core.kernels calls on preallocated tensors',
  js: 'plain-JS backend (the reference), raw core.kernels calls on preallocated tensors',
};

export function coreContender(core: Core, name: string = core.backend): Contender {
  const k = core.kernels;
  return {
    name,
    description: DESCRIPTIONS[core.backend] ?? `${core.backend} backend`,
    gemm: (c) => coreGemm(core, c),
    conv: (c) => coreConv(core, c),
    layer: (c) => coreLayer(core, c),
    loss: (c) => coreLoss(core, c),
    // The SIMD build's probe is the machine's peak; scalar's and js's are their own ceilings.
    peak: { probe: (iters) => k.peakProbe(iters), flopsPerIter: () => k.peakProbeFlopsPerIter() },
  };
}

function coreGemm(core: Core, c: GemmCase): Prepared<Float32Array> {
  const k = core.kernels;
  const A = core.fromArray(c.a), B = core.fromArray(c.b), C = core.alloc(c.M * c.N);
  const tA = c.transA ? 1 : 0, tB = c.transB ? 1 : 0;
  const { M, N, K } = c;
  const pa = A.ptr, pb = B.ptr, pc = C.ptr, lda = c.aCols, ldb = c.bCols, ldc = N;
  const run = (): void => { k.sgemm(tA, tB, M, N, K, 1, pa, lda, pb, ldb, 0, pc, ldc); };
  return {
    run,
    output: () => { C.view().fill(NaN); run(); return C.toArray(); },
    dispose: () => { freeAll(core, [A, B, C]); },
  };
}

// The layer's three kernels with no workspace (conv2dWorkElems is 0). The backward passes
// accumulate into their output across timed calls, as a trainer's gradient buffer does.
function coreConv(core: Core, c: ConvCase): Prepared<Float32Array> {
  const k = core.kernels;
  const x = core.fromArray(c.x), w = core.fromArray(c.w), dy = core.fromArray(c.dy);
  const geom = core.allocI32(16).set(encodeGeometry(c.geometry));
  const out = core.alloc(c.pass === 'forward' ? c.dy.length : c.pass === 'backwardData' ? c.x.length : c.w.length);
  const px = x.ptr, pw = w.ptr, pdy = dy.ptr, pg = geom.ptr, po = out.ptr;
  const run = c.pass === 'forward' ? () => { k.conv2dForward(po, px, pw, pg, 0, 0); }
    : c.pass === 'backwardData' ? () => { k.conv2dBackwardData(po, pdy, pw, pg, 0, 0); }
      : () => { k.conv2dBackwardFilter(po, px, pdy, pg, 0, 0); };
  return {
    run,
    output: () => { out.view().fill(c.pass === 'forward' ? NaN : 0); run(); return out.toArray(); },
    dispose: () => { freeAll(core, [x, w, dy, geom, out]); },
  };
}

function coreLoss(core: Core, c: LossCase): Prepared<LossOutput> {
  const k = core.kernels;
  const { rows, cols, temperature: T, alpha } = c;
  const z = core.fromArray(c.z), v = core.fromArray(c.v);
  const labels = core.allocI32(rows).set(c.labels);
  const out = core.alloc(rows * cols);
  const pz = z.ptr, pv = v.ptr, py = labels.ptr, po = out.ptr;
  let run: () => number;
  switch (c.kernel) {
    case 'softmax': run = () => { k.softmaxRows(po, pz, rows, cols, T); return 0; }; break;
    // The gradient accumulates into `out` across timed calls; a trainer zeroes it once per step.
    case 'kl': run = () => k.klDivergence(po, pz, pv, rows, cols, T, 1); break;
    case 'kdLoss': run = () => k.kdLoss(po, pz, pv, py, rows, cols, T, alpha, 1, 1); break;
  }
  return {
    run: () => { run(); },
    output: () => {
      out.view().fill(c.kernel === 'softmax' ? NaN : 0);
      const loss = run();
      return c.kernel === 'softmax' ? { values: out.toArray() } : { loss, values: out.toArray() };
    },
    dispose: () => { freeAll(core, [z, v, labels, out]); },
  };
}

function freeAll(core: Core, ts: readonly Tensor[]): void {
  for (const t of ts) core.free(t);
}
