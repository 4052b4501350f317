// The teachers of a run and the signal the students learn from: each teacher's soft labels (a
// Retort model's or a logits-only predictor's, over the rows the students read), its precomputed
// logits, or the model itself run inside every step (feature terms, jitter); and the teachers'
// test-set logits, combined, for the report and the students' agreement.
import type { Core } from '@retort/core-wasm';
import type { DatasetView, InputNorm } from '../data/dataset.js';
import type { LogitTable } from '../data/teacher-outputs.js';
import { DataFormatError } from '../data/errors.js';
import { combineTeachers, type CombineMode } from '../losses/targets.js';
import type { Model } from '../model/model.js';
import type { StepTeacher, WeightedTeacher } from '../train/objective.js';
import { predictLogits } from '../train/predict.js';
import type { TrainEvent } from '../train/trainer.js';
import { checkModelFitsData, scatterRows, type DataShape } from './views.js';

export type RunEvent = TrainEvent | { type: 'phase'; message: string };

/** A teacher that only gives logits (a TensorFlow.js model run by TensorFlow.js): no taps, not run inside the step. */
export interface LogitsPredictor {
  readonly classes: number;
  /** [view rows, classes] logits, the run's teacher input preparation applied by the predictor itself. */
  logits(view: DatasetView): Float32Array;
}

interface TeacherCommon {
  /** The teacher as the report names it (the config's file path, or a description). */
  source: string;
  /** Its short name in messages (a file's base name). */
  name: string;
  weight: number;
}

/** One teacher of a run, loaded by the caller; teachers[k] is the k-th teacher of the objective. */
export type RunTeacher = TeacherCommon & (
  /** A Retort model: its soft labels, or itself inside each step (feature terms, jitter). */
  | { kind: 'model'; model: Model; release?: () => void }
  /** `step`: the same teacher run on the student's batches inside each step (its taps for feature terms), when it can be. */
  | { kind: 'predictor'; predictor: LogitsPredictor; step?: StepTeacher }
  /**
   * Logits over the whole training set ([train count, classes]), read when the run needs them: in
   * memory, or a table that reads its rows on demand (sharded teacher outputs).
   */
  | { kind: 'logits'; read: (count: number, classes: number) => Float32Array | LogitTable });

/**
 * Soft labels of a teacher that does not run inside the step: [train count, classes] (in memory, or
 * a table read on demand), of which the rows of `rows` are read.
 */
export type SoftLabels = (teacher: Exclude<RunTeacher, { kind: 'logits' }>, index: number, rows: DatasetView) => Float32Array | LogitTable;

/** Each teacher takes the data's samples (a model) and gives the student's classes; errors name it. */
export function checkTeachers(teachers: readonly RunTeacher[], train: DataShape, classes: number): void {
  for (const [k, t] of teachers.entries()) {
    if (t.kind === 'model') checkModelFitsData(t.model, train, `teacher ${t.name}`);
    const c = t.kind === 'model' ? t.model.classes : t.kind === 'predictor' ? t.predictor.classes : classes;
    if (c !== classes) throw new RangeError(`teacher ${t.name} has ${c} classes but the student has ${classes}${teachers.length > 1 ? ` (teachers[${k}])` : ''}`);
  }
}

export interface SignalContext {
  /** The rows the students read (transfer set and validation split). */
  rows: DatasetView;
  test: DatasetView;
  /** Teacher models run inside the step (feature terms, jitter). */
  inStep: boolean;
  /** The teachers' input preparation. */
  norm: InputNorm;
  classes: number;
  combine: CombineMode;
  /** Rows of the training set the teachers' outputs cover (more than `rows` holds when it is streamed). */
  trainRows: number;
  /** The training set is streamed from shards: soft labels come from the caller's cache (softLabels), over all its rows. */
  streamed?: boolean;
}

export interface TeacherSignal {
  teachers: WeightedTeacher[];
  /** The report's teacher line (its test metrics are added after training). */
  info?: { source: string; params?: number; test?: { errors: number; accuracy: number } };
  /** The teachers' combined test logits, when every teacher gives some. */
  testLogits?: Float32Array;
}

export function teacherSignal(core: Core, teachers: readonly RunTeacher[], c: SignalContext, softLabels: SoftLabels | undefined,
                              emit: (e: RunEvent) => void): TeacherSignal {
  if (c.streamed && !softLabels && teachers.some((t) => t.kind !== 'logits') && !c.inStep) {
    throw new RangeError('a training set streamed from shards takes its soft labels from a cache of teacher outputs (Node runs write one); give teacher outputs (teacherLogits) or run in Node');
  }
  const soft: SoftLabels = softLabels ?? ((t, _k, rows) => rowSoftLabels(core, t, rows, c.norm, emit));
  const weighted: WeightedTeacher[] = [];
  const testLogits: Float32Array[] = [];
  for (const [k, t] of teachers.entries()) {
    if (t.kind === 'predictor' && c.inStep && t.step) {
      testLogits.push(t.predictor.logits(c.test));
      weighted.push({ source: { kind: 'step', teacher: t.step }, weight: t.weight });
    } else if (t.kind === 'predictor') {
      const logits = soft(t, k, c.rows);
      const test = t.predictor.logits(c.test);
      const checked = logits instanceof Float32Array ? logits : new Float32Array(0); // a table checks its rows as it reads them
      for (const [what, arr] of [['training', checked], ['test', test]] as const) {
        const bad = arr.findIndex((v) => !Number.isFinite(v));
        if (bad >= 0) {
          throw new DataFormatError(t.name, `the teacher's logit [${Math.floor(bad / c.classes)}, ${bad % c.classes}] on the ${what} set is ${arr[bad]} (NaN or Inf weights?)`);
        }
      }
      testLogits.push(test);
      weighted.push({ source: sourceOf(logits), weight: t.weight });
    } else if (t.kind === 'model') {
      // the teacher's test-set logits now, while it is loaded: the final comparison needs no teacher
      testLogits.push(predictLogits(core, t.model, c.test, c.norm));
      if (c.inStep) {
        // augmented batches are new every epoch, and feature terms read hidden layers: the teacher runs inside each step
        weighted.push({ source: { kind: 'model', model: t.model }, weight: t.weight });
      } else {
        weighted.push({ source: sourceOf(soft(t, k, c.rows)), weight: t.weight });
        // the soft labels (and the test logits taken above) are all the run needs of this teacher
        t.release?.();
      }
    } else {
      weighted.push({ source: sourceOf(t.read(c.trainRows, c.classes)), weight: t.weight });
    }
  }
  if (teachers.length === 0) return { teachers: weighted };
  const first = teachers[0]!;
  const info = teachers.length === 1
    ? { source: first.source, ...(first.kind === 'model' ? { params: first.model.paramCount } : {}) }
    : { source: teachers.map((t) => t.source).join(' + ') };
  if (testLogits.length !== teachers.length) return { teachers: weighted, info };
  const rows = c.test.indices.length;
  const combined = new Float32Array(rows * c.classes);
  combineTeachers(combined, testLogits, teachers.map((t) => t.weight), rows, c.classes, 1, c.combine);
  return { teachers: weighted, info, testLogits: combined };
}

function sourceOf(logits: Float32Array | LogitTable): WeightedTeacher['source'] {
  return logits instanceof Float32Array ? { kind: 'logits', logits } : { kind: 'table', table: logits };
}

/** Soft labels of the rows the run reads, scattered into [train count, classes] (the other rows stay 0). */
function rowSoftLabels(core: Core, t: Exclude<RunTeacher, { kind: 'logits' }>, rows: DatasetView, norm: InputNorm,
                       emit: (e: RunEvent) => void): Float32Array {
  emit({ type: 'phase', message: `computing the soft labels of ${t.name} on ${rows.indices.length} training samples` });
  if (t.kind === 'predictor') return scatterRows(rows, t.predictor.logits(rows), t.predictor.classes);
  return scatterRows(rows, predictLogits(core, t.model, rows, norm), t.model.classes);
}
