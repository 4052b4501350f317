// FitNets hints (Romero et al. 2015) between any student tap and any teacher tap: a learned
// regressor r maps the student's features h_s to the shape of the teacher's (possibly pooled)
// features h_t, and
//
//   L_hint = mean over rows and target values of (r(h_s) − pool(h_t))²
//   dL/dr  = 2 (r − t) / (rows · dt)        (the core's mseLoss kernel), back through r into h_s
//
// The regressor is a small layer graph of its own (a Model), shaped from the two tap shapes:
//   image (Hs, Ws, Cs) -> image (Ht, Wt, Ct):  a 1x1 convolution Cs -> Ct; when the maps differ in
//        size, the larger one is average-pooled by the integer factor between them first (the
//        student's inside the regressor, so its gradient flows back; the teacher's as the target)
//   flat -> flat:                              a dense layer ds -> dt (the original FitNets-on-MLPs)
//   sequence (L, Ds) -> sequence (L, Dt):      a dense layer Ds -> Dt at every position (TinyBERT's
//        hidden-state and embedding terms); the lengths must agree (the same tokens)
//   any other pair (an image and a flat side): the image side is average-pooled ('same', so no
//        pixel is dropped) to at most 4x4 and flattened, then a dense layer maps student -> teacher
// The regressor is linear (no activation): it is initialised N(0, 1/fan_in) and trained with the
// student (its parameters, gradients and optimizer state are checkpointed beside the student's),
// then discarded.
import type { Core, Tensor } from '@retort/core-wasm';
import type { Shape } from '../model/graph.js';
import { shapeText } from '../model/graph.js';
import type { LayerSpec } from '../model/layer-spec.js';
import { Model } from '../model/model.js';

/** At most this many pixels per side when an image tap meets a flat one. */
export const FLAT_POOL_SIDE = 4;

export interface HintPlan {
  /** Regressor layers (student tap shape in). */
  regressor: LayerSpec[];
  /** Layers turning the teacher tap into the target (average pooling, flatten); empty: the tap itself. */
  target: LayerSpec[];
}

/** The regressor and target transform for a student tap shape and a teacher tap shape; throws a RangeError naming both. */
export function planHint(student: Shape, teacher: Shape): HintPlan {
  const sImg = student.length === 3, tImg = teacher.length === 3;
  const sSeq = student.length === 2, tSeq = teacher.length === 2;
  if (sSeq || tSeq) {
    if (!(sSeq && tSeq)) throw new RangeError(`a sequence [length, features] meets ${shapeText(sSeq ? teacher : student)}; hint a sequence tap to a sequence tap, or a pooled tap to a pooled one`);
    if (student[0] !== teacher[0]) throw new RangeError(`the sequences have ${student[0]} and ${teacher[0]} positions; distill with the teacher's tokenizer and maximum length`);
    return { regressor: [{ type: 'dense', units: teacher[1]!, bias: true, init: 'lecun' }, { type: 'flatten' }], target: [] };
  }
  if (sImg && tImg) {
    const [hs, ws, cs] = student as [number, number, number], [ht, wt, ct] = teacher as [number, number, number];
    void cs;
    const pool = (from: [number, number], to: [number, number], who: string): LayerSpec[] => {
      if (from[0] === to[0] && from[1] === to[1]) return [];
      const fh = from[0] / to[0], fw = from[1] / to[1];
      if (!Number.isInteger(fh) || !Number.isInteger(fw)) {
        throw new RangeError(`the ${who} map ${from[0]}x${from[1]} does not pool evenly to ${to[0]}x${to[1]}; pick taps whose sizes divide`);
      }
      return [{ type: 'avgPool2d', size: [fh, fw], stride: [fh, fw], padding: 'valid' }];
    };
    // a trailing flatten (the same buffer: NHWC order kept) makes each a model with flat outputs
    const flat: LayerSpec = { type: 'flatten' };
    if (hs >= ht && ws >= wt) {
      return { regressor: [...pool([hs, ws], [ht, wt], 'student'), conv1x1(ct), flat], target: [] };
    }
    if (hs <= ht && ws <= wt) {
      return { regressor: [conv1x1(ct), flat], target: [...pool([ht, wt], [hs, ws], 'teacher'), flat] };
    }
    throw new RangeError(`the student map ${hs}x${ws} and the teacher map ${ht}x${wt} are each larger in one direction; pick taps whose sizes divide`);
  }
  const flatten = (s: Shape): LayerSpec[] => {
    if (s.length !== 3) return [];
    const [h, w] = s as [number, number, number];
    const f: [number, number] = [Math.ceil(h / FLAT_POOL_SIDE), Math.ceil(w / FLAT_POOL_SIDE)];
    const pool: LayerSpec[] = f[0] > 1 || f[1] > 1 ? [{ type: 'avgPool2d', size: f, stride: f, padding: 'same' }] : [];
    return [...pool, { type: 'flatten' }];
  };
  const tFlat = flatten(teacher);
  const dt = tImg ? flatSize(teacher) : teacher[0]!;
  return {
    regressor: [...flatten(student), { type: 'dense', units: dt, bias: true, init: 'lecun' }],
    target: tFlat,
  };
}

const conv1x1 = (filters: number): LayerSpec => ({ type: 'conv2d', filters, kernel: 1, stride: 1, padding: 'valid', groups: 1, bias: true, init: 'lecun' });

/** Elements of a teacher image tap after the flat-side pooling above. */
function flatSize([h, w, c]: Shape): number {
  const fh = Math.ceil(h! / FLAT_POOL_SIDE), fw = Math.ceil(w! / FLAT_POOL_SIDE);
  return Math.ceil(h! / fh) * Math.ceil(w! / fw) * c!;
}

export class HintRegressor {
  readonly model: Model;
  /** Parameter-free transform of the teacher tap (pooling, flatten), when the target is not the tap itself. */
  private readonly target: Model | null;
  private readonly dr: Tensor<'f32'>;
  readonly inputs: number;
  readonly outputs: number;
  private freed = false;

  readonly studentShape: Shape;
  readonly teacherShape: Shape;

  /** Tap shapes per sample (a number n stands for flat features [n]). */
  constructor(readonly core: Core, student: Shape | number, teacher: Shape | number, readonly maxRows: number) {
    if (!Number.isInteger(maxRows) || maxRows < 1) throw new RangeError(`HintRegressor: maxRows must be a positive integer, got ${maxRows}`);
    const studentShape = typeof student === 'number' ? [student] : student, teacherShape = typeof teacher === 'number' ? [teacher] : teacher;
    for (const [who, sh] of [['student', studentShape], ['teacher', teacherShape]] as const) {
      if (!sh.every((d) => Number.isInteger(d) && d >= 1)) throw new RangeError(`HintRegressor: the ${who} shape must be positive integers, got [${sh.join(', ')}]`);
    }
    this.studentShape = studentShape;
    this.teacherShape = teacherShape;
    const plan = planHint(studentShape, teacherShape);
    this.model = new Model(core, { type: 'graph', input: [...studentShape], layers: plan.regressor });
    this.target = plan.target.length ? new Model(core, { type: 'graph', input: [...teacherShape], layers: plan.target }, { allowEmpty: true }) : null;
    this.inputs = this.model.inputSize;
    this.outputs = this.model.classes;
    this.model.plan(maxRows);
    this.target?.plan(maxRows);
    this.dr = core.alloc(maxRows * this.outputs);
  }

  get params(): Tensor<'f32'> { return this.model.params; }
  get grads(): Tensor<'f32'> { return this.model.grads; }
  get paramCount(): number { return this.model.paramCount; }

  /** Regressor weights N(0, 1/fan_in), biases 0; a function of `seed` alone. */
  init(seed: number): void { this.model.init(seed); }

  zeroGrad(): void { this.model.zeroGrad(); }

  /** A readable description: "conv2d 1x1 16 -> 32" or "avgPool 2x2, conv2d 1x1 ...". */
  describe(): string {
    return `${shapeText(this.studentShape)} -> ${shapeText(this.teacherShape)}`;
  }

  /**
   * The hint loss of `rows` rows of the student tap `hs` (rows × student shape) against the
   * teacher tap `ht` (rows × teacher shape). With gradScale ≠ 0 accumulates gradScale · dL/dθ
   * into `grads` and, when `dhs` is given, gradScale · dL/dh_s into it.
   */
  compute(dhs: number | null, hs: number, ht: number, rows: number, gradScale: number): number {
    if (this.freed) throw new RangeError('HintRegressor: freed');
    if (!Number.isInteger(rows) || rows < 1 || rows > this.maxRows) throw new RangeError(`HintRegressor: rows must be in [1, ${this.maxRows}], got ${rows}`);
    const k = this.core.kernels;
    const target = this.target ? this.target.forwardAt(ht, rows, 'eval').ptr : ht;
    const train = gradScale !== 0;
    const r = this.model.forwardAt(hs, rows, train ? 'train' : 'eval').ptr;
    const n = rows * this.outputs;
    if (!train) return k.mseLoss(0, r, target, n, 0);
    k.fill(this.dr.ptr, n, 0);
    const loss = k.mseLoss(this.dr.ptr, r, target, n, gradScale);
    this.model.backwardAt(this.dr, rows, dhs ?? 0);
    return loss;
  }

  free(): void {
    if (this.freed) return;
    this.model.free();
    this.target?.free();
    this.core.free(this.dr);
    this.freed = true;
  }
}
