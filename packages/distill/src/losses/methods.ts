// Named methods: each a preset list of loss terms for the one trainer (`--method NAME`), and
// the catalogue `retort methods` prints. A method is only a convenience: any combination can
// be written out as a `losses` list.
import type { LayerRef, LossTermInput } from './config.js';
import { planHint } from './hint.js';
import type { Shape } from '../model/graph.js';

/**
 * A layer a method may read: an MLP's hidden layer by number, or a named tap, with its per-sample
 * shape; `attention`: the tap is (or ends with) a self-attention layer (a Transformer block's).
 */
export interface MethodTap { ref: LayerRef; shape: readonly number[]; attention?: boolean }

/** What a preset needs to know to fill in its terms. */
export interface MethodContext {
  /** The run's soft weight a and temperature T (config.alpha, config.temperature). */
  alpha: number;
  temperature: number;
  scaleT2: boolean;
  epochs: number;
  /** The taps of the student and of the (first) teacher, in graph order, to choose default layers. */
  student: readonly MethodTap[];
  teacher: readonly MethodTap[];
  /** tinybert, minilm: 'uniform' or 'last' (their defaults: uniform, last). */
  layerMap?: 'uniform' | 'last' | undefined;
}

export interface MethodInfo {
  name: string;
  title: string;
  /** Paper the method comes from. */
  source: string;
  needsTeacher: boolean;
  /** The terms it expands to, as readable text with the defaults. */
  terms: string;
  /** Parameters with defaults and where the defaults come from. */
  params: { name: string; default: string; note: string }[];
  /** The docs page. */
  doc: string;
}

export const METHODS: readonly MethodInfo[] = [
  {
    name: 'none', title: 'No distillation (baseline)', source: '-', needsTeacher: false,
    terms: '1·ce', params: [], doc: 'docs/methods/baseline.md',
  },
  {
    name: 'kd', title: 'Hinton knowledge distillation (soft targets)', source: 'Hinton, Vinyals & Dean 2015', needsTeacher: true,
    terms: '(1−alpha)·ce + alpha·kd(T)',
    params: [
      { name: 'alpha', default: '0.9', note: 'weight of the soft term; the hard term gets 1 − alpha' },
      { name: 'temperature', default: '4', note: 'T; the paper used 20 for MNIST 800-800 students, 2.5–4 for 30-30' },
      { name: 'scaleT2', default: 'true', note: 'multiply the soft term by T² so its gradients keep their size as T changes' },
      { name: 'teachers / combine', default: 'probabilities', note: 'several teachers: weighted mean of tempered probabilities (or logits)' },
    ],
    doc: 'docs/methods/kd.md',
  },
  {
    name: 'dkd', title: 'Decoupled knowledge distillation', source: 'Zhao et al., CVPR 2022', needsTeacher: true,
    terms: '1·ce + 1·dkd(alpha=1, beta=8, T)',
    params: [
      { name: 'alpha', default: '1', note: 'weight of TCKD (target vs rest), from the paper' },
      { name: 'beta', default: '8', note: 'weight of NCKD (among non-target classes), the paper\'s CIFAR-100 value' },
      { name: 'temperature', default: 'run T (4)', note: 'the paper used 4' },
    ],
    doc: 'docs/methods/dkd.md',
  },
  {
    name: 'fitnets', title: 'FitNets hints, stage-wise', source: 'Romero et al., ICLR 2015', needsTeacher: true,
    terms: 'epochs 1..h: 1·hint(middle → middle); then (1−alpha)·ce + alpha·kd(T)',
    params: [
      { name: 'studentLayer / teacherLayer', default: 'middle tap of each', note: 'the guided and hint layers: tap names (an MLP\'s middle hidden layer, a CNN\'s middle named block; the teacher\'s nearest to its middle that a regressor can map when the middle cannot); the regressor is shaped from the two (1x1 conv, pooling, dense)' },
      { name: 'hint stage h', default: '⌈epochs/4⌉', note: 'epochs of the hint stage before KD' },
    ],
    doc: 'docs/methods/fitnets.md',
  },
  {
    name: 'rkd', title: 'Relational knowledge distillation (distance + angle)', source: 'Park et al., CVPR 2019', needsTeacher: true,
    terms: '1·ce + 1·rkd(distance=25, angle=50, last hidden → last hidden)',
    params: [
      { name: 'distance', default: '25', note: 'weight of the distance term (the paper\'s λ_D)' },
      { name: 'angle', default: '50', note: 'weight of the angle term (the paper\'s λ_A)' },
      { name: 'studentLayer / teacherLayer', default: 'last tap of each', note: 'the embeddings compared (flattened)' },
    ],
    doc: 'docs/methods/rkd.md',
  },
  {
    name: 'at', title: 'Attention transfer (spatial attention maps)', source: 'Zagoruyko & Komodakis, ICLR 2017', needsTeacher: true,
    terms: '1·ce + 500·at(s_i → t_i) for each pair of feature-map taps of matching resolution',
    params: [
      { name: 'weight', default: '500', note: 'β/2 with the paper\'s β = 1000, per pair' },
      { name: 'pairs', default: 'taps of equal spatial size', note: 'each student feature map paired with the teacher\'s last map of the same resolution' },
      { name: 'p', default: '2', note: 'attention = Σ_c F_c², L2-normalised over positions' },
    ],
    doc: 'docs/methods/at.md',
  },
  {
    name: 'dml', title: 'Deep mutual learning', source: 'Zhang et al., CVPR 2018', needsTeacher: false,
    terms: 'each of 1 + peers students: 1·ce + 1·dml(T=1)',
    params: [
      { name: 'peers', default: '1', note: 'further students trained together (cohort of peers + 1)' },
      { name: 'temperature', default: '1', note: 'the paper matches plain probabilities' },
    ],
    doc: 'docs/methods/dml.md',
  },
  {
    name: 'tfkd', title: 'Teacher-free KD (virtual teacher)', source: 'Yuan et al., CVPR 2020', needsTeacher: false,
    terms: '(1−alpha)·ce + alpha·tfkd(correct=0.9, T)',
    params: [
      { name: 'correct', default: '0.9', note: 'probability the virtual teacher puts on the label' },
      { name: 'alpha, temperature', default: 'run values', note: 'as for kd' },
    ],
    doc: 'docs/methods/tfkd.md',
  },
  {
    name: 'adaptive', title: 'KD with annealed T and an agreement-driven soft weight', source: 'Retort (after Hinton et al. 2015)', needsTeacher: true,
    terms: 'w_hard·ce + w_soft·kd(T linear T→max(1,T/4)); w_soft agreement-driven alpha→alpha/2, w_hard = its complement',
    params: [
      { name: 'temperature', default: 'linear T → max(1, T/4)', note: 'anneals from soft to sharp over the run' },
      { name: 'soft weight', default: 'agreement alpha → alpha/2', note: 'falls as the student agrees with the teacher on validation' },
    ],
    doc: 'docs/methods/adaptive.md',
  },
  {
    name: 'tinybert', title: 'TinyBERT: attention scores, hidden states and embeddings of a Transformer', source: 'Jiao et al., Findings of EMNLP 2020', needsTeacher: true,
    terms: 'epochs 1..⌈E/2⌉: attn(mse) + hint on each mapped block + hint on the embeddings; then (1−alpha)·ce + alpha·kd(T)',
    params: [
      { name: 'stages', default: '⌈epochs/2⌉ intermediate', note: 'the paper\'s two stages: intermediate layers first, then the prediction layer' },
      { name: 'layer map', default: 'uniform', note: 'student block m of M learns from teacher block m·N/M (--layer-map last: the last blocks)' },
      { name: 'attn', default: 'mse, weight 1', note: 'unnormalised attention scores Q Kᵀ/sqrt(d) per head, padding excluded; heads must agree' },
      { name: 'hint', default: 'weight 1', note: 'hidden states and embeddings through a learned linear map (dense per position), MSE' },
    ],
    doc: 'docs/methods/tinybert.md',
  },
  {
    name: 'minilm', title: 'MiniLM: self-attention distributions and value relations of the last layer', source: 'Wang et al., NeurIPS 2020', needsTeacher: true,
    terms: '(1−alpha)·ce + alpha·kd(T) + attn(kl) + vr on the last blocks',
    params: [
      { name: 'layer map', default: 'last', note: 'the last Transformer block of each (--layer-map uniform: every student block)' },
      { name: 'attn', default: 'kl, weight 1', note: 'KL between the attention distributions, head by head; heads must agree' },
      { name: 'vr', default: 'weight 1', note: 'KL between softmax(V Vᵀ/sqrt(d)) in relation heads: the widths may differ' },
    ],
    doc: 'docs/methods/minilm.md',
  },
  {
    name: 'born-again', title: 'Born-again networks (self-distillation over generations)', source: 'Furlanello et al., ICML 2018', needsTeacher: false,
    terms: 'generation 0: 1·ce; generation k: kd from generation k−1 (or from the average of all earlier generations)',
    params: [
      { name: 'generations', default: '3', note: 'students after the first, each taught by the previous' },
      { name: 'ensemble', default: 'false', note: 'teach with the average of all earlier generations' },
    ],
    doc: 'docs/methods/born-again.md',
  },
];

export const METHOD_NAMES = METHODS.map((m) => m.name);
export type MethodName = 'none' | 'kd' | 'dkd' | 'fitnets' | 'rkd' | 'at' | 'dml' | 'tfkd' | 'adaptive' | 'tinybert' | 'minilm';
/** Methods that are one run of the trainer (born-again is a sequence of runs). */
export const SINGLE_RUN_METHODS: readonly MethodName[] = ['none', 'kd', 'dkd', 'fitnets', 'rkd', 'at', 'dml', 'tfkd', 'adaptive', 'tinybert', 'minilm'];

/** The index of the middle one of n taps, ⌈n/2⌉ of n (-1 for none). */
const middleIndex = (n: number): number => Math.ceil(n / 2) - 1;

/**
 * FitNets' default hint layer of the teacher for the student's guided tap: the teacher's middle
 * tap if a regressor can map the two (hint.ts planHint: maps whose sizes divide, or a flat side),
 * otherwise the nearest tap to the middle that it can (the deeper one first on a tie), otherwise
 * the middle tap (the objective's check then names the mismatch).
 */
export function hintTeacherTap(student: MethodTap | undefined, teacher: readonly MethodTap[]): LayerRef {
  if (teacher.length === 0) return 'logits';
  const mid = middleIndex(teacher.length);
  if (!student) return teacher[mid]!.ref;
  const fits = (t: MethodTap): boolean => {
    try { planHint(student.shape as Shape, t.shape as Shape); return true; } catch { return false; }
  };
  for (let d = 0; d < teacher.length; d++) {
    for (const i of [mid + d, mid - d]) {
      const t = teacher[i];
      if (t && fits(t)) return t.ref;
    }
  }
  return teacher[mid]!.ref;
}

/** The loss terms of a single-run method. */
export function methodLosses(name: MethodName, c: MethodContext): LossTermInput[] {
  const a = c.alpha, T = c.temperature;
  const middle = (taps: readonly MethodTap[]): LayerRef => taps[middleIndex(taps.length)]?.ref ?? 'logits';
  const last = (taps: readonly MethodTap[]): LayerRef => (taps.length ? taps[taps.length - 1]!.ref : 'logits');
  switch (name) {
    case 'none': return [{ type: 'ce', weight: 1 }];
    case 'kd': return [{ type: 'ce', weight: 1 - a }, { type: 'kd', weight: a, temperature: T, scaleT2: c.scaleT2 }];
    case 'dkd': return [{ type: 'ce', weight: 1 }, { type: 'dkd', weight: 1, alpha: 1, beta: 8, temperature: T, scaleT2: c.scaleT2 }];
    case 'fitnets': {
      const h = Math.max(1, Math.ceil(c.epochs / 4));
      if (c.epochs < 2) throw new RangeError('method fitnets: needs at least 2 epochs (a hint stage, then KD)');
      return [
        { type: 'hint', weight: 1, studentLayer: middle(c.student), teacherLayer: hintTeacherTap(c.student[middleIndex(c.student.length)], c.teacher), untilEpoch: h },
        { type: 'ce', weight: 1 - a, fromEpoch: h + 1 },
        { type: 'kd', weight: a, temperature: T, scaleT2: c.scaleT2, fromEpoch: h + 1 },
      ];
    }
    case 'rkd': return [
      { type: 'ce', weight: 1 },
      { type: 'rkd', weight: 1, distance: 25, angle: 50, studentLayer: last(c.student), teacherLayer: last(c.teacher) },
    ];
    case 'at': return [
      { type: 'ce', weight: 1 },
      ...attentionPairs(c.student, c.teacher).map(([s, t]): LossTermInput => ({ type: 'at', weight: 500, studentLayer: s, teacherLayer: t })),
    ];
    case 'dml': return [{ type: 'ce', weight: 1 }, { type: 'dml', weight: 1, temperature: 1, scaleT2: c.scaleT2 }];
    case 'tfkd': return [{ type: 'ce', weight: 1 - a }, { type: 'tfkd', weight: a, correct: 0.9, temperature: T, scaleT2: c.scaleT2 }];
    case 'tinybert': case 'minilm': {
      const pairs = transformerPairs(name, c.student, c.teacher, c.layerMap ?? (name === 'tinybert' ? 'uniform' : 'last'));
      const kd: LossTermInput[] = [{ type: 'ce', weight: 1 - a }, { type: 'kd', weight: a, temperature: T, scaleT2: c.scaleT2 }];
      if (name === 'minilm') {
        return [...kd, ...pairs.flatMap(([s, t]): LossTermInput[] => [
          { type: 'attn', loss: 'kl', weight: 1, studentLayer: s.ref, teacherLayer: t.ref },
          { type: 'vr', weight: 1, studentLayer: s.ref, teacherLayer: t.ref },
        ])];
      }
      // TinyBERT: each mapped block's attention scores (its attention tap) and hidden state (the
      // block tap that follows it), and the embeddings
      const hidden = (taps: readonly MethodTap[], at: MethodTap): MethodTap | undefined => {
        const i = taps.indexOf(at);
        return taps.slice(i + 1).find((x) => x.shape.length === 2 && !x.attention);
      };
      const embed = (taps: readonly MethodTap[]): MethodTap | undefined => taps.find((x) => x.shape.length === 2 && !x.attention);
      // two stages as in the paper: the intermediate layers (embeddings, attention, hidden states)
      // for the first half of the epochs, then the prediction layer (kd, with the labels)
      if (c.epochs < 2) throw new RangeError('method tinybert: needs at least 2 epochs (an intermediate-layer stage, then KD)');
      const h = Math.ceil(c.epochs / 2);
      const out: LossTermInput[] = kd.map((t) => ({ ...t, fromEpoch: h + 1 }));
      const es = embed(c.student), et = embed(c.teacher);
      if (es && et && es !== hidden(c.student, pairs[0]![0])) out.push({ type: 'hint', weight: 1, studentLayer: es.ref, teacherLayer: et.ref, untilEpoch: h });
      for (const [s, t] of pairs) {
        out.push({ type: 'attn', loss: 'mse', weight: 1, studentLayer: s.ref, teacherLayer: t.ref, untilEpoch: h });
        const hs = hidden(c.student, s), ht = hidden(c.teacher, t);
        if (hs && ht) out.push({ type: 'hint', weight: 1, studentLayer: hs.ref, teacherLayer: ht.ref, untilEpoch: h });
      }
      return out;
    }
    case 'adaptive': return [
      { type: 'ce', weight: { schedule: 'agreement', from: 1 - a, to: 1 - a / 2 } },
      { type: 'kd', weight: { schedule: 'agreement', from: a, to: a / 2 }, temperature: { schedule: 'linear', from: T, to: Math.max(1, T / 4) }, scaleT2: c.scaleT2 },
    ];
  }
}

export function isSingleRunMethod(name: string): name is MethodName {
  return (SINGLE_RUN_METHODS as readonly string[]).includes(name);
}

/**
 * Attention-transfer pairs: each student feature map (a tap of shape [H, W, C]) with the
 * teacher's last feature map of the same resolution. A student map without a partner is left
 * out; none at all is an error naming both tap lists.
 */
export function attentionPairs(student: readonly MethodTap[], teacher: readonly MethodTap[]): [LayerRef, LayerRef][] {
  const maps = (taps: readonly MethodTap[]) => taps.filter((t) => t.shape.length === 3);
  const s = maps(student), t = maps(teacher);
  const pairs: [LayerRef, LayerRef][] = [];
  for (const a of s) {
    const match = [...t].reverse().find((b) => b.shape[0] === a.shape[0] && b.shape[1] === a.shape[1]);
    if (match) pairs.push([a.ref, match.ref]);
  }
  if (pairs.length === 0) {
    const list = (taps: readonly MethodTap[]) => taps.map((x) => `${x.ref} [${x.shape.join(', ')}]`).join(', ') || 'none';
    throw new RangeError(`method at: no student and teacher feature maps of the same resolution (student taps: ${list(student)}; teacher taps: ${list(teacher)}); ` +
      'name the pairs with --losses \'[{"type":"at","studentLayer":"…","teacherLayer":"…"}]\'');
  }
  return pairs;
}

/**
 * The (student, teacher) attention taps a Transformer method distils: 'uniform' pairs student
 * attention block m of M (1-based) with teacher block ⌈m·N/M⌉ of N (TinyBERT's g(m) = m·N/M);
 * 'last' pairs the last blocks. Throws when either side has no attention tap.
 */
export function transformerPairs(method: string, student: readonly MethodTap[], teacher: readonly MethodTap[], map: 'uniform' | 'last'): [MethodTap, MethodTap][] {
  const s = student.filter((x) => x.attention), t = teacher.filter((x) => x.attention);
  if (s.length === 0 || t.length === 0) {
    const list = (taps: readonly MethodTap[]) => taps.map((x) => String(x.ref)).join(', ') || 'none';
    throw new RangeError(`method ${method}: needs Transformer attention on both sides (student taps: ${list(student)}; teacher taps: ${list(teacher)}); ` +
      'a text preset (transformer-s, transformer-l) has them as attn1, attn2, ...');
  }
  if (map === 'last') return [[s[s.length - 1]!, t[t.length - 1]!]];
  const M = s.length, N = t.length;
  return s.map((x, m) => [x, t[Math.max(1, Math.ceil(((m + 1) * N) / M)) - 1]!]);
}
