// The convenience forms: plain Float32Array in, plain Float32Array out. They copy into
// module memory, run the validated kernels and copy back, so they cost two copies
// per call: right for users and tests, wrong for a training loop (use tensors there).

import type { Core } from './core.js';
import type { Tensor } from './tensor.js';
import { checkLength, checkSize, checkTemperature, checkUnit } from './validate.js';

export interface MatmulOptions { transA?: boolean; transB?: boolean }
export interface SoftmaxOptions { temperature?: number; log?: boolean }

export interface KdLossArgs {
  /** Student logits z, [rows, cols]. */
  student: Float32Array;
  /** Teacher logits v, [rows, cols]. */
  teacher: Float32Array;
  /** Integer class labels, [rows]; may be omitted when alpha = 1 (soft targets only). */
  labels?: ArrayLike<number>;
  rows: number;
  cols: number;
  /** Temperature T > 0 applied to both teacher and student logits in the soft term. */
  temperature: number;
  /** Weight of the soft (teacher) term; the hard (label) term gets 1 - alpha. */
  alpha: number;
  /** Multiply the soft term by T^2 (default true), as Hinton et al. recommend. */
  scaleT2?: boolean;
}

export interface KdLossResult {
  /** Batch-mean loss. */
  loss: number;
  /** dL/dstudent, [rows, cols]. */
  grad: Float32Array;
}

/** Allocates tensors, runs `body`, and frees them whatever happens. */
function withTensors<T>(core: Core, sizes: number[], body: (ts: Tensor<'f32'>[]) => T): T {
  const ts: Tensor<'f32'>[] = [];
  try {
    for (const n of sizes) ts.push(core.alloc(n));
    return body(ts);
  } finally {
    for (const t of ts) core.free(t);
  }
}

export function matmulConvenience(core: Core, A: Float32Array, B: Float32Array, m: number, k: number, n: number,
                                  opts: MatmulOptions): Float32Array {
  const op = 'matmul';
  checkSize(op, 'm', m); checkSize(op, 'k', k); checkSize(op, 'n', n);
  checkLength(op, 'A', A, m * k, opts.transA ? 'k*m' : 'm*k');
  checkLength(op, 'B', B, k * n, opts.transB ? 'n*k' : 'k*n');
  return withTensors(core, [m * k, k * n, m * n], ([a, b, c]) => {
    a!.set(A); b!.set(B);
    core.sgemm(!!opts.transA, !!opts.transB, m, n, k, 1, a!, b!, 0, c!);
    return c!.toArray();
  });
}

export function softmaxConvenience(core: Core, logits: Float32Array, rows: number, cols: number,
                                   opts: SoftmaxOptions): Float32Array {
  const op = opts.log ? 'logSoftmax' : 'softmax';
  checkSize(op, 'rows', rows); checkSize(op, 'cols', cols);
  checkLength(op, 'logits', logits, rows * cols, 'rows*cols');
  const T = checkTemperature(op, opts.temperature ?? 1);
  return withTensors(core, [rows * cols, rows * cols], ([x, y]) => {
    x!.set(logits);
    if (opts.log) core.logSoftmaxRows(y!, x!, rows, cols, T);
    else core.softmaxRows(y!, x!, rows, cols, T);
    return y!.toArray();
  });
}

export function kdLossConvenience(core: Core, args: KdLossArgs): KdLossResult {
  const op = 'kdLoss';
  const { rows, cols } = args;
  checkSize(op, 'rows', rows); checkSize(op, 'cols', cols);
  checkLength(op, 'student', args.student, rows * cols, 'rows*cols');
  checkLength(op, 'teacher', args.teacher, rows * cols, 'rows*cols');
  const alpha = checkUnit(op, 'alpha', args.alpha);
  checkTemperature(op, args.temperature);
  const needLabels = alpha < 1;
  if (needLabels) checkLength(op, 'labels', args.labels, rows, 'rows');
  const labels = needLabels ? core.allocI32(rows) : null;
  try {
    if (labels) {
      const src = args.labels!;
      for (let r = 0; r < rows; r++) {
        const y = src[r]!;
        if (!Number.isInteger(y) || y < 0 || y >= cols) {
          throw new RangeError(`${op}: labels[${r}] = ${String(y)} is outside [0, ${cols})`);
        }
      }
      labels.set(src);
    }
    return withTensors(core, [rows * cols, rows * cols, rows * cols], ([z, v, dz]) => {
      z!.set(args.student); v!.set(args.teacher);
      const loss = core.distillationLoss(dz!, z!, v!, labels, rows, cols, {
        temperature: args.temperature, alpha, scaleT2: args.scaleT2 !== false,
      });
      return { loss, grad: dz!.toArray() };
    });
  } finally {
    if (labels) core.free(labels);
  }
}
