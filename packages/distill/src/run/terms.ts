// The objective of a run: the loss terms a config's method (or its written-out `losses`) stands
// for against the run's models, and the checks that pair a config with its teachers. Pure; used by
// executeRun (./execute.ts), and so by runJob (node/run.ts) and the web lab alike.
import type { RunConfig } from '../config.js';
import { describeLosses, LABEL_TERMS, parseLossTerms, TEACHER_TERMS, type LayerRef, type LossTermConfig, type LossTermInput } from '../losses/config.js';
import { METHODS, methodLosses, type MethodName, type MethodTap } from '../losses/methods.js';
import { usesAgreement } from '../losses/scheduled.js';
import type { Shape } from '../model/graph.js';
import type { Model } from '../model/model.js';
import { isMlp } from '../model/mlp.js';

/** A run trains a model on the labels alone ('train', no teacher) or distils it from teachers ('distill'). */
export type RunKind = 'train' | 'distill';

/**
 * Settings of a method's terms that a run may change without writing the terms out (the lab's
 * form does): the layers the feature terms read, and each method's own weights.
 */
export interface MethodOptions {
  /**
   * The student's and the teacher's tap for the hint, rkd and at terms: the method then chooses
   * among this tap alone on that side (fitnets' middle and rkd's last tap become it; at pairs it
   * with the other side's maps of the same resolution). A tap name, 'logits', or an MLP's hidden
   * layer by number or as `hidden<i>`.
   */
  studentLayer?: LayerRef;
  teacherLayer?: LayerRef;
  /** fitnets: epochs of the hint stage before KD (default ⌈epochs/4⌉). */
  hintEpochs?: number;
  dkd?: { alpha: number; beta: number };
  tfkd?: { correct: number };
  rkd?: { distance: number; angle: number };
}

/** The teachers a config names: `teachers`, or the `teacher` / `teacherLogits` shorthand. */
export function configTeachers(c: RunConfig): { model?: string; logits?: string; weight: number }[] {
  if (c.teachers) return c.teachers;
  if (c.teacher) return [{ model: c.teacher, weight: 1 }];
  if (c.teacherLogits) return [{ logits: c.teacherLogits, weight: 1 }];
  return [];
}

/** The method a run uses: config.method, else kd for distill and none for train. */
export const runMethod = (kind: RunKind, c: RunConfig): string => c.method ?? (kind === 'distill' ? 'kd' : 'none');

/** The checks of a config's teacher fields against the kind of run (before any file is read). */
export function checkTeacherFields(kind: RunKind, c: RunConfig): void {
  const given = [c.teacher && '--teacher', c.teacherLogits && '--teacher-logits', c.teachers && 'teachers'].filter(Boolean);
  if (kind === 'train' && given.length) throw new RangeError("config.teacher: 'train' takes no teacher (use 'distill')");
  if (given.length > 1) throw new RangeError(`config.teacher: give one of a teacher model, teacher logits or a teachers list, not ${given.join(' and ')}`);
  (c.teachers ?? []).forEach((t, k) => {
    if (!t.model === !t.logits) throw new RangeError(`config.teachers[${k}]: give either model or logits`);
  });
  checkTeacherKinds(kind, c, configTeachers(c).map((t) => (t.logits ? 'logits' : 'model')));
}

/** The checks of a run's teachers (by kind: a model, a logits-only predictor, or precomputed logits) against its config. */
export function checkTeacherKinds(kind: RunKind, c: RunConfig, teachers: readonly ('model' | 'predictor' | 'logits')[]): void {
  if (kind === 'train' && teachers.length > 0) throw new RangeError("config.teacher: 'train' takes no teacher (use 'distill')");
  if (c.jitter > 0 && teachers.includes('logits')) {
    throw new RangeError('config.jitter: precomputed teacher logits cannot follow augmented inputs; use a teacher model or jitter 0');
  }
  if ((c.tokenNoise ?? 0) > 0 && teachers.includes('logits')) {
    throw new RangeError('config.tokenNoise: precomputed teacher logits cannot follow noised texts; use a teacher model or no token noise');
  }
  if (c.mixup && teachers.includes('logits')) {
    throw new RangeError('config.mixup: precomputed teacher logits cannot follow mixed inputs; use a teacher model or no mixup');
  }
  const method = runMethod(kind, c);
  if (!c.losses && kind === 'train' && METHODS.find((m) => m.name === method)?.needsTeacher) {
    throw new RangeError(`config.method: '${method}' needs a teacher; use 'retort distill'`);
  }
}

/** The taps a method's defaults choose among: an MLP's hidden layers (by number), a graph's named layers. */
export function featureTaps(m: Model): MethodTap[] {
  if (isMlp(m)) return Array.from({ length: m.hiddenCount }, (_, i) => ({ ref: i + 1, shape: m.tapShape(`hidden${i + 1}`) }));
  return m.tapNames.map((name) => ({ ref: name, shape: m.tapShape(name), ...(m.attentionAt(name) ? { attention: true } : {}) }));
}

/** A tap's name as a form shows it: an MLP's hidden layer i is `hidden<i>`. */
export const tapName = (ref: LayerRef): string => (typeof ref === 'number' ? `hidden${ref}` : ref);

/**
 * The loss terms of a run: `losses`, or the method's preset (kd for distill, none for train) with
 * its default taps from the student and the first teacher model, without the label term when the
 * transfer set has no labels; then the checks that the terms and the teachers go together.
 */
export function chooseTerms(kind: RunKind, c: RunConfig, student: Model, teacher: Model | null, teacherCount: number,
                            options: MethodOptions = {}): LossTermConfig[] {
  const method = runMethod(kind, c);
  const sTaps = chosenTaps(student, featureTaps(student), options.studentLayer, 'student');
  let tTaps = teacher ? chosenTaps(teacher, featureTaps(teacher), options.teacherLayer, 'teacher') : [];
  if (method === 'at' && options.studentLayer !== undefined && options.teacherLayer !== undefined && sTaps[0]?.shape.length === 3) {
    // both maps named: that pair, whatever their resolutions (the loss pools the larger one by the
    // integer factor between them, and the objective's check refuses sizes that do not divide);
    // the method pairs maps by resolution, so the teacher's tap is shown to it at the student's
    tTaps = tTaps.map((t) => ({ ref: t.ref, shape: t.shape.length === 3 ? sTaps[0]!.shape : t.shape }));
  }
  let preset = methodLosses(method as MethodName, {
    alpha: c.alpha, temperature: c.temperature, scaleT2: c.scaleT2, epochs: c.epochs, student: sTaps, teacher: tTaps, layerMap: c.layerMap,
  });
  preset = withOptions(preset, method, c.epochs, options);
  // without labels a method keeps its soft terms (kd: soft targets alone); the hard term goes
  if (c.transfer?.labels === false) preset = preset.filter((t) => t.type !== 'ce');
  const terms = c.losses ?? parseLossTerms(preset, `method ${method}`);
  const needsTeacher = terms.some((t) => TEACHER_TERMS.has(t.type));
  if (needsTeacher && teacherCount === 0) {
    throw new RangeError(kind === 'train'
      ? `config.losses: ${terms.filter((t) => TEACHER_TERMS.has(t.type)).map((t) => t.type).join(', ')} need a teacher; use 'retort distill'`
      : 'config.teacher: distill needs a teacher model file (--teacher) or teacher logits (--teacher-logits) for ' +
        `${terms.filter((t) => TEACHER_TERMS.has(t.type)).map((t) => t.type).join(', ')}`);
  }
  if (!needsTeacher && teacherCount > 0 && !terms.some((t) => usesAgreementTerm(t))) {
    throw new RangeError(`config.teacher: a teacher is given but no loss term reads it (${describeLosses(terms)})`);
  }
  if (c.transfer && c.transfer.labels === false) {
    const bad = terms.filter((t) => LABEL_TERMS.has(t.type) && !(typeof t.weight === 'number' && t.weight === 0));
    if (bad.length) throw new RangeError(`config.transfer.labels: false, but ${bad.map((t) => t.type).join(', ')} read the labels; use a method with soft targets (kd, fitnets, rkd, adaptive) or write the terms out`);
  }
  return terms;
}

/** The taps a method may choose among on one side: all of them, or the one the options name. */
function chosenTaps(m: Model, taps: MethodTap[], layer: LayerRef | undefined, who: string): MethodTap[] {
  if (layer === undefined) return taps;
  if (layer === 'logits') return [{ ref: 'logits', shape: [m.classes] as Shape }];
  const hit = taps.find((t) => t.ref === layer || tapName(t.ref) === layer);
  if (!hit) {
    throw new RangeError(`${who} layer '${String(layer)}': the ${who} has no such tap; its taps are ${taps.map((t) => tapName(t.ref)).join(', ') || '(none)'} and 'logits'`);
  }
  return [hit];
}

/** A method's preset with the run's own method settings filled in. */
function withOptions(terms: LossTermInput[], method: string, epochs: number, o: MethodOptions): LossTermInput[] {
  const h = o.hintEpochs;
  if (method === 'fitnets' && h !== undefined && !(Number.isInteger(h) && h >= 1 && h < epochs)) {
    throw new RangeError(`method fitnets: the hint stage must be a whole number of epochs in [1, ${epochs - 1}], got ${h}`);
  }
  return terms.map((t): LossTermInput => {
    switch (t.type) {
      case 'dkd': return o.dkd ? { ...t, alpha: o.dkd.alpha, beta: o.dkd.beta } : t;
      case 'tfkd': return o.tfkd ? { ...t, correct: o.tfkd.correct } : t;
      case 'rkd': return o.rkd ? { ...t, distance: o.rkd.distance, angle: o.rkd.angle } : t;
      case 'hint': return method === 'fitnets' && h !== undefined ? { ...t, untilEpoch: h } : t;
      case 'ce': case 'kd': return method === 'fitnets' && h !== undefined ? { ...t, fromEpoch: h + 1 } : t;
      default: return t;
    }
  });
}

function usesAgreementTerm(t: LossTermConfig): boolean {
  return usesAgreement(t.weight) || ('temperature' in t && usesAgreement(t.temperature));
}
