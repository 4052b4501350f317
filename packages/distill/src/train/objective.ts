// The objective of one training step: the configured loss terms (losses/config.ts) evaluated
// for every student of the cohort, gradients accumulated into each student's dlogits and
// tap gradients (and into the hint regressors' own gradients).
//
// Sources each term reads:
//   ce, dkd, tfkd   the batch labels
//   kd, dkd         the teacher signal: one teacher's logits, or the ensemble of several
//                   (losses/targets.ts), at the term's temperature
//   hint, rkd, at   a teacher's tap (a named layer; that teacher runs inside the step)
//   dml             the other students' logits of this step (held constant)
//
// When the step has exactly one ce and one kd term, they are evaluated together by the fused
// KD kernel (alpha = w_kd / (w_ce + w_kd), gradScale = w_ce + w_kd): the classic Hinton loss
// costs one pass over the logits, and is bit-identical to the single-term form.
import type { Core, Tensor } from '@retort/core-wasm';
import { FEATURE_TERMS, type LayerRef, type LossTermConfig } from '../losses/config.js';
import { dkdLoss } from '../losses/dkd.js';
import { HintRegressor, planHint } from '../losses/hint.js';
import { AttentionTransfer, attentionGrid } from '../losses/at.js';
import { AttentionKd } from '../losses/attention-kd.js';
import type { Attention } from '../layers/attention.js';
import { RkdLoss } from '../losses/rkd.js';
import { valueAt, usesAgreement, type ScheduleContext } from '../losses/scheduled.js';
import { combineTeachers, virtualTeacherLogits, type CombineMode } from '../losses/targets.js';
import type { Model } from '../model/model.js';
import { isMlp } from '../model/mlp.js';
import { shapeText, type Shape } from '../model/graph.js';
import type { LogitTable } from '../data/teacher-outputs.js';

/** Where one teacher's outputs come from. */
export type TeacherSource =
  /**
   * Precomputed logits for the whole training dataset: [dataset count, classes], row i = dataset
   * row i (as a teacher saved them with numpy.save), so any view or slice of the data indexes them.
   */
  | { kind: 'logits'; logits: Float32Array }
  /**
   * The same, from a table that reads rows on demand (teacher outputs in shards on disk, full
   * logits or top-k: data/teacher-outputs.ts), for caches larger than memory.
   */
  | { kind: 'table'; table: LogitTable }
  /** A teacher model run in eval mode inside each step, on the same (possibly jittered) batch. */
  | { kind: 'model'; model: Model }
  /** A teacher run by another runtime inside each step (asynchronously, before the step): its logits and named tensors. */
  | { kind: 'step'; teacher: StepTeacher };

/**
 * A teacher that runs on the student's batches inside each step but is not a Retort model (an ONNX
 * graph in onnxruntime, interop/onnx-teacher.ts): its logits and named intermediate tensors (taps,
 * per-sample shape channels last) for hint, attention-transfer and RKD terms.
 */
export interface StepTeacher {
  readonly name: string;
  readonly classes: number;
  readonly tapNames: readonly string[];
  /** A tap's per-sample shape; throws naming the taps there are. */
  tapShape(name: string): Shape;
  /** Logits [rows, classes] and every tap [rows, ...shape] for `rows` rows of the student's prepared inputs. */
  run(x: Float32Array, rows: number): Promise<{ logits: Float32Array; taps: ReadonlyMap<string, Float32Array> }>;
}

/** A step teacher's layer: 'logits' or one of its taps, with its per-sample shape. */
export function stepTeacherLayer(t: StepTeacher, layer: LayerRef): { tap: string; shape: Shape } {
  if (layer === 'logits') return { tap: 'logits', shape: [t.classes] };
  if (typeof layer === 'number') throw new RangeError(`the teacher ${t.name} is run by another runtime: name its tensor (${t.tapNames.join(', ') || 'none fetched'}) or 'logits', not a layer number`);
  return { tap: layer, shape: t.tapShape(layer) };
}

export interface WeightedTeacher { source: TeacherSource; weight: number }

export interface ObjectiveSettings {
  terms: LossTermConfig[];
  /** The teachers (any number; none for ce, tfkd and dml alone). */
  teachers: WeightedTeacher[];
  /** How several teachers combine: average of tempered probabilities (default) or of logits. */
  combine?: CombineMode;
}

/** A batch as the objective sees it. */
export interface ObjectiveBatch {
  x: Tensor<'f32'>;
  y: Tensor<'i32'>;
  /** Dataset rows of the batch (to index cached teacher logits). */
  indices: Int32Array;
  rows: number;
  /**
   * A mixup batch (data/batches.ts): the label terms become λ·ce(y) + (1 − λ)·ce(y2); the
   * teachers see the mixed inputs (run inside the step). Terms that read labels otherwise
   * (dkd, tfkd) refuse mixup (mixupTermError).
   */
  mix?: { lambda: number; y2: Tensor<'i32'> };
}

/** Terms that read the labels other than through ce: a mixed input has no single label for them. */
const LABEL_TERMS = new Set(['dkd', 'tfkd']);

/** An error naming the first term that cannot take mixup batches, or null. */
export function mixupTermError(terms: readonly LossTermConfig[]): string | null {
  const t = terms.find((x) => LABEL_TERMS.has(x.type));
  return t ? `mixup: the ${t.type} term reads each sample's label, which a mixed input does not have; use kd, ce or the feature terms` : null;
}

/** Parameters trained beside the students (the hint regressors), stepped by the trainer. */
export interface AuxTrainable { name: string; params: Tensor<'f32'>; grads: Tensor<'f32'>; paramCount: number; zeroGrad(): void }

interface Resolved { ptr: number; grad: number | null; dim: number }

/** A term's layer as a tap of `model`: its name (or 'logits') and per-sample shape; throws naming what exists. */
export function resolveLayer(model: Model, layer: LayerRef, who: string): { tap: string; shape: Shape } {
  if (layer === 'logits') return { tap: 'logits', shape: [model.classes] };
  if (typeof layer === 'number') {
    if (isMlp(model)) {
      if (!(layer >= 1 && layer <= model.hiddenCount)) {
        throw new RangeError(`the ${who} (${model.spec.sizes.join('-')}) has no hidden layer ${layer}; it has ${model.hiddenCount} (1..${model.hiddenCount}) and 'logits'`);
      }
      return { tap: `hidden${layer}`, shape: model.tapShape(`hidden${layer}`) };
    }
    throw new RangeError(`the ${who} is not an MLP: name its layer by tap (${model.tapNames.join(', ') || 'it has none'}) or 'logits', not by number`);
  }
  if (!model.hasTap(layer)) {
    throw new RangeError(`the ${who} has no tap '${layer}'; its taps are ${model.tapNames.length ? model.tapNames.join(', ') : '(none: name a layer in its spec)'} and 'logits'`);
  }
  return { tap: layer, shape: model.tapShape(layer) };
}

export class Objective {
  readonly terms: readonly LossTermConfig[];
  readonly teachers: readonly WeightedTeacher[];
  readonly combine: CombineMode;
  readonly classes: number;
  /** Hint regressors, one per (hint term, student): trained with the students. */
  readonly aux: AuxTrainable[] = [];
  private readonly regressors = new Map<string, HintRegressor>();
  private readonly rkd = new Map<number, RkdLoss>();
  private readonly at = new Map<string, AttentionTransfer>();
  private readonly attn = new Map<string, AttentionKd>();
  private readonly teacherLogits: Tensor<'f32'>[] = [];
  private readonly combined = new Map<number, Tensor<'f32'>>();
  private readonly scratch: Tensor<'f32'>[] = [];
  private readonly virtual: Tensor<'f32'> | null;
  private stepCombined = new Map<number, Tensor<'f32'>>();
  /** The temperature each table teacher's batch logits were gathered at. */
  private readonly gatheredAt: number[] = [];
  /** Step teachers' taps in module memory, by 'teacher/tap'. */
  private readonly stepTaps = new Map<string, Tensor<'f32'>>();
  private batch: ObjectiveBatch | null = null;

  constructor(readonly core: Core, settings: ObjectiveSettings, readonly students: readonly Model[], readonly batchSize: number) {
    this.terms = settings.terms;
    this.teachers = settings.teachers;
    this.combine = settings.combine ?? 'probabilities';
    const student = students[0];
    if (!student) throw new RangeError('objective: no student');
    this.classes = student.classes;
    validateObjective(settings, students);
    for (let k = 0; k < this.teachers.length; k++) {
      const src = this.teachers[k]!.source;
      // a teacher model's logits are read straight from its plan; cached logits are gathered here
      this.teacherLogits.push(src.kind !== 'model' ? this.alloc(batchSize * this.classes) : (null as unknown as Tensor<'f32'>));
    }
    this.virtual = this.terms.some((t) => t.type === 'tfkd') ? this.alloc(batchSize * this.classes) : null;
    this.terms.forEach((t, ti) => {
      if ((t.type === 'hint' || t.type === 'at' || t.type === 'rkd')) this.planTeacherTap(t.teacher, t.teacherLayer, batchSize);
      if (t.type === 'hint' || t.type === 'at') {
        const tShape = this.teacherLayerShape(t.teacher, t.teacherLayer);
        students.forEach((s, si) => {
          const sShape = resolveLayer(s, t.studentLayer, 'student').shape;
          if (t.type === 'at') { this.at.set(`${ti}/${si}`, new AttentionTransfer(core, { student: sShape, teacher: tShape })); return; }
          const r = new HintRegressor(core, sShape, tShape, batchSize);
          const name = `hint${ti}.student${si}`;
          this.regressors.set(`${ti}/${si}`, r);
          this.aux.push({ name, params: r.params, grads: r.grads, paramCount: r.paramCount, zeroGrad: () => r.zeroGrad() });
        });
      }
      if (t.type === 'rkd') this.rkd.set(ti, new RkdLoss(core, batchSize));
      if (t.type === 'attn' || t.type === 'vr') {
        const teacher = (this.teachers[t.teacher]!.source as { model: Model }).model;
        students.forEach((s, si) => {
          this.attn.set(`${ti}/${si}`, new AttentionKd(core, t.type === 'vr' ? 'vr' : t.loss === 'mse' ? 'attn-mse' : 'attn-kl',
            attentionOf(s, t.studentLayer, 'student'), attentionOf(teacher, t.teacherLayer, 'teacher'), batchSize,
            t.type === 'vr' ? t.relationHeads : undefined));
        });
      }
    });
  }

  /** True when some term reads a teacher's hidden layers (its teachers must be models). */
  get needsFeatures(): boolean { return this.terms.some((t) => FEATURE_TERMS.has(t.type)); }
  /** True when some weight or temperature follows the student's agreement with the teacher. */
  get usesAgreement(): boolean {
    return this.terms.some((t) => usesAgreement(t.weight) || ('temperature' in t && usesAgreement(t.temperature)));
  }

  /** Initialises the hint regressors from the run seed (each a function of seed and its index). */
  init(seed: number): void {
    let i = 0;
    for (const r of this.regressors.values()) r.init((seed + 0x5bd1e995 * ++i) >>> 0);
  }

  /** Whether a teacher runs in another runtime before each step (runStepTeachers). */
  get hasStepTeachers(): boolean {
    return this.teachers.some((t) => t.source.kind === 'step');
  }

  /**
   * Runs the step teachers on the batch (await it before prepare): their logits and taps are
   * copied into module memory, where the terms read them as they read a Retort teacher's.
   */
  async runStepTeachers(x: Tensor<'f32'>, rows: number): Promise<void> {
    const F = x.length / this.batchSize;
    const input = x.view().slice(0, rows * F); // a copy: module memory may move while we wait
    for (let k = 0; k < this.teachers.length; k++) {
      const src = this.teachers[k]!.source;
      if (src.kind !== 'step') continue;
      const r = await src.teacher.run(input, rows);
      this.teacherLogits[k]!.view().set(r.logits.subarray(0, rows * this.classes));
      for (const [name, tensor] of this.stepTaps) {
        const [kk, tap] = splitKey(name);
        if (kk !== k) continue;
        const data = r.taps.get(tap)!;
        tensor.view().set(data.subarray(0, tensor.length / this.batchSize * rows));
      }
    }
  }

  /** Runs the teachers on (or gathers their logits for) a batch; call once per step, before loss(). */
  prepare(batch: ObjectiveBatch): void {
    this.batch = batch;
    this.stepCombined = new Map();
    const C = this.classes;
    for (let k = 0; k < this.teachers.length; k++) {
      const src = this.teachers[k]!.source;
      if (src.kind === 'model') {
        this.teacherLogits[k] = src.model.forward(batch.x, batch.rows, 'eval');
      } else if (src.kind === 'step') {
        // filled by runStepTeachers
      } else if (src.kind === 'table') {
        src.table.gather(batch.indices, batch.rows, this.teacherLogits[k]!.view());
        this.gatheredAt[k] = 1;
      } else {
        const dst = this.teacherLogits[k]!.view();
        for (let i = 0; i < batch.rows; i++) {
          const from = batch.indices[i]! * C;
          dst.set(src.logits.subarray(from, from + C), i * C);
        }
      }
    }
  }

  /**
   * The loss of student `si` for the prepared batch; accumulates its gradient into `dz` (rows,
   * classes), into the student's hiddenGrad(...) and into the regressors' grads. `logits` are
   * every student's logits of this step (DML reads the peers').
   */
  loss(si: number, dz: Tensor<'f32'>, logits: readonly Tensor<'f32'>[], ctx: ScheduleContext): number {
    const batch = this.batch;
    if (!batch) throw new RangeError('objective: prepare(batch) before loss()');
    const core = this.core;
    const student = this.students[si]!;
    const z = logits[si]!;
    const C = this.classes, rows = batch.rows;
    const on = this.terms.map((t) => termActive(t, ctx.epoch));
    const w = this.terms.map((t, i) => (on[i] ? valueAt(t.weight, ctx) : 0));
    let total = 0;
    // the fused pair: exactly one active ce and one active kd
    const ceIdx = this.terms.findIndex((t, i) => t.type === 'ce' && w[i]! > 0);
    const kdIdx = this.terms.findIndex((t, i) => t.type === 'kd' && w[i]! > 0);
    const mix = batch.mix;
    if (mix) {
      const err = mixupTermError(this.terms.filter((_, i) => w[i]! > 0));
      if (err) throw new RangeError(err);
    }
    const fuse = !mix && ceIdx >= 0 && kdIdx >= 0 && this.count('ce', w) === 1 && this.count('kd', w) === 1;
    if (fuse) {
      const kd = this.terms[kdIdx] as Extract<LossTermConfig, { type: 'kd' }>;
      const T = valueAt(kd.temperature, ctx);
      const s = w[ceIdx]! + w[kdIdx]!;
      total += core.distillationLoss(dz, z, this.teacherAt(T), batch.y, rows, C,
        { temperature: T, alpha: w[kdIdx]! / s, scaleT2: kd.scaleT2, gradScale: s }) * s;
    }
    for (let ti = 0; ti < this.terms.length; ti++) {
      const t = this.terms[ti]!;
      const wt = w[ti]!;
      if (wt === 0 || (fuse && (ti === ceIdx || ti === kdIdx))) continue;
      switch (t.type) {
        case 'ce':
          if (mix) {
            // the label of a mixed input is the mix of the two labels: λ·ce(y) + (1 − λ)·ce(y2)
            const a = wt * mix.lambda, b = wt * (1 - mix.lambda);
            total += a * core.crossEntropy(dz, z, batch.y, rows, C, a) + b * core.crossEntropy(dz, z, mix.y2, rows, C, b);
          } else {
            total += wt * core.crossEntropy(dz, z, batch.y, rows, C, wt);
          }
          break;
        case 'kd': {
          const T = valueAt(t.temperature, ctx);
          const s = t.scaleT2 ? T * T : 1;
          total += wt * s * core.klDivergence(dz, z, this.teacherAt(T), rows, C, T, wt * s);
          break;
        }
        case 'tfkd': {
          const T = valueAt(t.temperature, ctx);
          const s = t.scaleT2 ? T * T : 1;
          const v = this.virtual!;
          virtualTeacherLogits(v.view(), batch.y.view(), rows, C, t.correct, T);
          total += wt * s * core.klDivergence(dz, z, v, rows, C, T, wt * s);
          break;
        }
        case 'dkd': {
          const T = valueAt(t.temperature, ctx);
          const v = this.teacherAt(T);
          total += wt * dkdLoss(dz.view().subarray(0, rows * C), z.view().subarray(0, rows * C), v.view().subarray(0, rows * C),
            batch.y.view().subarray(0, rows), rows, C, { alpha: t.alpha, beta: t.beta, temperature: T, scaleT2: t.scaleT2 }, wt);
          break;
        }
        case 'dml': {
          const T = valueAt(t.temperature, ctx);
          const peers = logits.length - 1;
          const g = (wt * (t.scaleT2 ? T * T : 1)) / peers;
          for (let j = 0; j < logits.length; j++) {
            if (j !== si) total += g * core.klDivergence(dz, z, logits[j]!, rows, C, T, g);
          }
          break;
        }
        case 'hint': {
          const s = this.resolve(student, t.studentLayer, z, dz);
          const h = this.teacherTap(t.teacher, t.teacherLayer);
          total += wt * this.regressors.get(`${ti}/${si}`)!.compute(s.grad, s.ptr, h.ptr, rows, wt);
          break;
        }
        case 'at': {
          const s = this.resolve(student, t.studentLayer, z, dz);
          const h = this.teacherTap(t.teacher, t.teacherLayer);
          total += wt * this.at.get(`${ti}/${si}`)!.compute(s.grad, s.ptr, h.ptr, rows, wt);
          break;
        }
        case 'attn': case 'vr': {
          total += wt * this.attn.get(`${ti}/${si}`)!.compute(rows, wt);
          break;
        }
        case 'rkd': {
          if (rows < 2) break;
          const s = this.resolve(student, t.studentLayer, z, dz);
          const h = this.teacherTap(t.teacher, t.teacherLayer);
          const r = this.rkd.get(ti)!.compute(s.grad === null ? null : { ptr: s.grad }, { ptr: s.ptr }, s.dim,
            { ptr: h.ptr }, h.dim, rows, { distance: t.distance, angle: t.angle }, wt);
          total += wt * (t.distance * r.distance + t.angle * r.angle);
          break;
        }
      }
    }
    return total;
  }

  /** Top-1 agreement target for validation: the combined teachers' logits at T = 1 over `view` rows. */
  combineForAgreement(perTeacher: Float32Array[], rows: number): Float32Array {
    const out = new Float32Array(rows * this.classes);
    combineTeachers(out, perTeacher, this.teachers.map((t) => t.weight), rows, this.classes, 1, this.combine);
    return out;
  }

  free(): void {
    for (const r of this.regressors.values()) r.free();
    for (const r of this.rkd.values()) r.free();
    for (const a of this.attn.values()) a.free();
    for (const t of this.scratch) this.core.free(t);
    this.regressors.clear(); this.rkd.clear(); this.at.clear(); this.scratch.length = 0; this.aux.length = 0;
  }

  private count(type: string, w: number[]): number {
    return this.terms.filter((t, i) => t.type === type && w[i]! > 0).length;
  }

  /** Teacher k's logits for the batch as a term at temperature T reads them (a temperature-aware table gathers again). */
  private logitsAt(k: number, T: number): Tensor<'f32'> {
    const src = this.teachers[k]!.source;
    if (src.kind === 'table' && src.table.temperatureAware && this.gatheredAt[k] !== T) {
      src.table.gather(this.batch!.indices, this.batch!.rows, this.teacherLogits[k]!.view(), T);
      this.gatheredAt[k] = T;
    }
    return this.teacherLogits[k]!;
  }

  /** The teacher signal at temperature T as logits (the only teacher's own, or the ensemble's). */
  private teacherAt(T: number): Tensor<'f32'> {
    if (this.teachers.length === 1) return this.logitsAt(0, T);
    const key = this.combine === 'logits' ? 0 : T;
    const hit = this.stepCombined.get(key);
    if (hit) return hit;
    let out = this.combined.get(key);
    if (!out) { out = this.alloc(this.batchSize * this.classes); this.combined.set(key, out); }
    const rows = this.batch!.rows, C = this.classes;
    combineTeachers(out.view(), this.teacherLogits.map((_, k) => this.logitsAt(k, T).view().subarray(0, rows * C)),
      this.teachers.map((t) => t.weight), rows, C, T, this.combine);
    this.stepCombined.set(key, out);
    return out;
  }

  /** Where teacher k's layer is in module memory: a Retort teacher's tap, or a step teacher's copy of it. */
  private teacherTap(k: number, layer: LayerRef): Resolved {
    const src = this.teachers[k]!.source;
    if (src.kind === 'model') return this.resolve(src.model, layer, null, null);
    if (src.kind !== 'step') throw new RangeError(`teachers[${k}] has no layers (precomputed logits)`);
    if (layer === 'logits') return { ptr: this.logitsAt(k, 1).ptr, grad: null, dim: this.classes };
    const t = this.stepTaps.get(`${k}/${String(layer)}`)!;
    return { ptr: t.ptr, grad: null, dim: t.length / this.batchSize };
  }

  /** A teacher layer's per-sample shape, whichever kind of teacher. */
  private teacherLayerShape(k: number, layer: LayerRef): Shape {
    const src = this.teachers[k]!.source;
    return src.kind === 'step' ? stepTeacherLayer(src.teacher, layer).shape : resolveLayer((src as { model: Model }).model, layer, 'teacher').shape;
  }

  /** Memory for a step teacher's tap, once per (teacher, tap). */
  private planTeacherTap(k: number, layer: LayerRef, batchSize: number): void {
    const src = this.teachers[k]?.source;
    if (src?.kind !== 'step' || layer === 'logits') return;
    const key = `${k}/${String(layer)}`;
    if (this.stepTaps.has(key)) return;
    const shape = stepTeacherLayer(src.teacher, layer).shape;
    this.stepTaps.set(key, this.alloc(batchSize * shape.reduce((p, d) => p * d, 1)));
  }

  private resolve(model: Model, layer: LayerRef, z: Tensor<'f32'> | null, dz: Tensor<'f32'> | null): Resolved {
    if (layer === 'logits') {
      const logits = z ?? this.teacherLogits[this.teachers.findIndex((t) => t.source.kind === 'model' && t.source.model === model)]!;
      return { ptr: logits.ptr, grad: dz ? dz.ptr : null, dim: model.classes };
    }
    const { tap } = resolveLayer(model, layer, 'model');
    const ref = model.tap(tap);
    return { ptr: ref.ptr, grad: dz ? model.tapGrad(tap).ptr : null, dim: ref.size };
  }

  private alloc(n: number): Tensor<'f32'> {
    const t = this.core.alloc(n);
    this.scratch.push(t);
    return t;
  }
}

function splitKey(key: string): [number, string] {
  const at = key.indexOf('/');
  return [Number(key.slice(0, at)), key.slice(at + 1)];
}

/** Whether a term is switched on in `epoch` (1-based) by its fromEpoch / untilEpoch window. */
export function termActive(t: LossTermConfig, epoch: number): boolean {
  return (t.fromEpoch === undefined || epoch >= t.fromEpoch) && (t.untilEpoch === undefined || epoch <= t.untilEpoch);
}

/**
 * Checks that the terms fit the models and teachers before anything trains; each error names
 * the term (losses[i]) and what is wrong.
 */
export function validateObjective(settings: ObjectiveSettings, students: readonly Model[]): void {
  const { terms, teachers } = settings;
  if (terms.length === 0) throw new RangeError('losses: no loss terms');
  const student = students[0]!;
  const hasTeacher = teachers.length > 0;
  teachers.forEach((t, k) => {
    if (!(t.weight >= 0) || !Number.isFinite(t.weight)) throw new RangeError(`teachers[${k}].weight: must be a finite number >= 0, got ${t.weight}`);
    if (t.source.kind === 'model') {
      const m = t.source.model;
      if (m.classes !== student.classes) throw new RangeError(`teachers[${k}]: the teacher has ${m.classes} classes but the student has ${student.classes}`);
      if (m.inputSize !== student.inputSize) throw new RangeError(`teachers[${k}]: the teacher takes ${shapeText(m.inputShape)} inputs but the student takes ${shapeText(student.inputShape)}`);
    }
    if (t.source.kind === 'step' && t.source.teacher.classes !== student.classes) {
      throw new RangeError(`teachers[${k}]: the teacher has ${t.source.teacher.classes} classes but the student has ${student.classes}`);
    }
    if (t.source.kind === 'table' && t.source.table.classes !== student.classes) {
      throw new RangeError(`teachers[${k}]: the teacher outputs have ${t.source.table.classes} classes but the student has ${student.classes}`);
    }
  });
  if (hasTeacher && !(teachers.reduce((s, t) => s + t.weight, 0) > 0)) throw new RangeError('teachers: the teacher weights sum to 0');
  students.forEach((s, i) => {
    if (i > 0 && (s.classes !== student.classes || s.inputSize !== student.inputSize)) {
      throw new RangeError(`peers[${i}]: every student of a cohort needs the same inputs and classes`);
    }
  });
  const checkLayer = (where: string, model: Model, layer: LayerRef, who: string): Shape => {
    try {
      return resolveLayer(model, layer, who).shape;
    } catch (e) {
      throw new RangeError(`${where}: ${(e as Error).message}`);
    }
  };
  terms.forEach((t, i) => {
    const where = `losses[${i}] (${t.type})`;
    if (t.fromEpoch !== undefined && t.untilEpoch !== undefined && t.untilEpoch < t.fromEpoch) {
      throw new RangeError(`${where}: untilEpoch ${t.untilEpoch} is before fromEpoch ${t.fromEpoch}`);
    }
    switch (t.type) {
      case 'kd': case 'dkd':
        if (!hasTeacher) throw new RangeError(`${where}: needs a teacher (a model file or teacher logits)`);
        if (t.type === 'dkd' && student.classes < 2) throw new RangeError(`${where}: needs at least 2 classes`);
        break;
      case 'hint': case 'rkd': case 'at': {
        const teacher = teachers[t.teacher];
        if (!teacher) throw new RangeError(`${where}: names teacher ${t.teacher} but there ${teachers.length === 1 ? 'is 1 teacher' : `are ${teachers.length} teachers`}`);
        if (teacher.source.kind !== 'model' && teacher.source.kind !== 'step') {
          throw new RangeError(`${where}: reads the teacher's layers, so teacher ${t.teacher} must be a model file, not precomputed logits`);
        }
        const src = teacher.source;
        const tShape = src.kind === 'step'
          ? (() => { try { return stepTeacherLayer(src.teacher, t.teacherLayer).shape; } catch (e) { throw new RangeError(`${where}: ${(e as Error).message}`); } })()
          : checkLayer(where, src.model, t.teacherLayer, 'teacher');
        for (const s of students) {
          const sShape = checkLayer(where, s, t.studentLayer, 'student');
          try {
            if (t.type === 'hint') planHint(sShape, tShape);
            if (t.type === 'at') attentionGrid(sShape, tShape);
          } catch (e) {
            throw new RangeError(`${where}: student ${t.studentLayer} ${shapeText(sShape)} -> teacher ${t.teacherLayer} ${shapeText(tShape)}: ${(e as Error).message}`);
          }
        }
        break;
      }
      case 'attn': case 'vr': {
        const teacher = teachers[t.teacher];
        if (!teacher) throw new RangeError(`${where}: names teacher ${t.teacher} but there ${teachers.length === 1 ? 'is 1 teacher' : `are ${teachers.length} teachers`}`);
        if (teacher.source.kind !== 'model') {
          throw new RangeError(`${where}: reads the teacher's attention, so teacher ${t.teacher} must be a Retort model (a .retort file, or an ONNX/TF.js file Retort represents), not logits or a model run by another runtime`);
        }
        const tAtt = (() => { try { return attentionOf(teacher.source.model, t.teacherLayer, 'teacher'); } catch (e) { throw new RangeError(`${where}: ${(e as Error).message}`); } })();
        for (const s of students) {
          try {
            const sAtt = attentionOf(s, t.studentLayer, 'student');
            if (t.type === 'attn' && sAtt.heads !== tAtt.heads) throw new RangeError(`the student's ${sAtt.heads} heads and the teacher's ${tAtt.heads} differ (attention maps are compared head by head; the 'vr' term re-splits both)`);
            if (t.type === 'vr') {
              const R = t.relationHeads ?? sAtt.heads;
              if (sAtt.D % R !== 0 || tAtt.D % R !== 0) throw new RangeError(`${R} relation heads must divide both widths (${sAtt.D}, ${tAtt.D})`);
            }
            if (sAtt.causal !== tAtt.causal) throw new RangeError('one attention is causal and the other is not');
          } catch (e) {
            throw new RangeError(`${where}: student ${t.studentLayer} -> teacher ${t.teacherLayer}: ${(e as Error).message}`);
          }
        }
        break;
      }
      case 'dml':
        if (students.length < 2) throw new RangeError(`${where}: Deep Mutual Learning needs at least 2 students (set peers >= 1); got 1`);
        break;
      case 'tfkd':
        if (student.classes < 2) throw new RangeError(`${where}: needs at least 2 classes`);
        break;
      case 'ce':
        break;
    }
    const schedules = [t.weight, 'temperature' in t ? t.temperature : 0];
    if (schedules.some((v) => typeof v !== 'number' && v.schedule === 'agreement') && !hasTeacher) {
      throw new RangeError(`${where}: an 'agreement' schedule follows the student's agreement with a teacher, and there is none`);
    }
  });
  if (students.length > 1 && !terms.some((t) => t.type === 'dml')) {
    throw new RangeError('peers: a cohort of students trains with a dml term; add { "type": "dml" } or set peers to 0');
  }
}

/** The attention layer a tap of `m` names (the layer, or the last one inside the block); throws naming the taps that have one. */
function attentionOf(m: Model, layer: LayerRef, who: string): Attention {
  const a = typeof layer === 'string' ? m.attentionAt(layer) : null;
  if (a) return a;
  const has = m.tapNames.filter((n) => m.attentionAt(n) !== null);
  throw new RangeError(`${who} layer '${String(layer)}' holds no attention layer; the ${who}'s taps with one are ${has.join(', ') || '(none: not a Transformer)'}`);
}
