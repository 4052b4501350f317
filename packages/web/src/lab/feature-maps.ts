// Pictures of what feature distillation transfers, computed in the worker for one image: each
// model runs an eval forward on it, and its taps' activations (Model.tapValues) become
//   - spatial attention maps, a_i = Σ_c F_ic² over the channels at each position i, normalised
//     q = a / ||a||₂ — the maps attention transfer compares (packages/distill/src/losses/at.ts,
//     p = 2), one per tap pair of the method's terms (or per feature-map tap);
//   - a few channels of a chosen tap, the strongest ones (by Σ F²) for this image.
// Everything is scaled to [0, 1] for drawing; the page colours and draws it.
import type { Core, InputNorm, LossTermConfig, Model } from '@retort/distill';
import { applyChannelNorm, tapName } from '@retort/distill';
import type { ChannelMaps, FeatureMaps, HeatMap } from './types.js';

/** Channels shown per model. */
export const CHANNELS_SHOWN = 8;
/** At most this many attention pairs (columns). */
export const PAIRS_SHOWN = 6;

/** q = a / ||a||₂ with a_i = Σ_c F_ic² of one sample's map F (H, W, C), channels last; f64 as losses/at.ts. */
export function spatialAttention(f: ArrayLike<number>, shape: readonly number[]): Float64Array {
  const [H, W, C] = shape as [number, number, number];
  if (shape.length !== 3 || f.length < H * W * C) throw new RangeError(`spatialAttention: a feature map (H, W, C) of ${H * W * C} values is needed, got shape [${shape.join(', ')}] and ${f.length} values`);
  const a = new Float64Array(H * W);
  let norm = 0;
  for (let i = 0; i < H * W; i++) {
    let s = 0;
    for (let c = 0; c < C; c++) { const v = f[i * C + c]!; s += v * v; }
    a[i] = s;
    norm += s * s;
  }
  norm = Math.sqrt(norm);
  if (norm > 0) for (let i = 0; i < a.length; i++) a[i]! /= norm;
  return a;
}

/** Values scaled into [0, 1] by their range (a constant map becomes all 0). */
export function unitRange(v: ArrayLike<number>): Float32Array {
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < v.length; i++) { lo = Math.min(lo, v[i]!); hi = Math.max(hi, v[i]!); }
  const out = new Float32Array(v.length);
  if (!(hi > lo)) return out;
  for (let i = 0; i < v.length; i++) out[i] = (v[i]! - lo) / (hi - lo);
  return out;
}

/** The `count` channels of F (H, W, C) with the largest Σ F² over positions, strongest first, each scaled to [0, 1]. */
export function strongestChannels(f: ArrayLike<number>, shape: readonly number[], count: number): { index: number; values: Float32Array }[] {
  const [H, W, C] = shape as [number, number, number];
  const energy = new Float64Array(C);
  for (let i = 0; i < H * W; i++) for (let c = 0; c < C; c++) { const v = f[i * C + c]!; energy[c]! += v * v; }
  const order = Array.from({ length: C }, (_, c) => c).sort((a, b) => energy[b]! - energy[a]! || a - b).slice(0, count);
  return order.map((c) => {
    const ch = new Float32Array(H * W);
    for (let i = 0; i < H * W; i++) ch[i] = f[i * C + c]!;
    return { index: c, values: unitRange(ch) };
  });
}

const isMap = (s: readonly number[]): boolean => s.length === 3;

/** A model's feature-map taps (H, W, C), in graph order. */
export function mapTaps(m: Model): string[] {
  return m.tapNames.filter((t) => isMap(m.tapShape(t)));
}

/** The (student, teacher) tap pairs of the terms that read two taps (at, hint, rkd), as names, where both are maps. */
export function termPairs(terms: readonly LossTermConfig[], student: Model, teacher: Model): [string, string][] {
  const out: [string, string][] = [];
  for (const t of terms) {
    if (t.type !== 'at' && t.type !== 'hint' && t.type !== 'rkd') continue;
    const s = tapName(t.studentLayer), h = tapName(t.teacherLayer);
    if (!student.hasTap(s) || !teacher.hasTap(h) || !isMap(student.tapShape(s)) || !isMap(teacher.tapShape(h))) continue;
    if (!out.some(([a, b]) => a === s && b === h)) out.push([s, h]);
  }
  return out;
}

/** Each student map with the teacher's last map of the same resolution (the at method's rule), then the teacher's maps left over. */
export function resolutionPairs(student: Model | undefined, teacher: Model | undefined): [string | null, string | null][] {
  const sm = student ? mapTaps(student) : [], tm = teacher ? mapTaps(teacher) : [];
  const used = new Set<string>();
  const pairs: [string | null, string | null][] = sm.map((s) => {
    const [h, w] = student!.tapShape(s);
    const match = [...tm].reverse().find((t) => { const sh = teacher!.tapShape(t); return sh[0] === h && sh[1] === w; }) ?? null;
    if (match) used.add(match);
    return [s, match];
  });
  for (const t of tm) if (!used.has(t)) pairs.push([null, t]);
  return pairs;
}

interface Side { model: Model; norm: InputNorm }

/** Runs `side`'s model in eval mode on one image (784 values in [0, 1]) and copies out the taps asked for. */
function tapsOn(core: Core, side: Side, pixels: Float32Array, taps: readonly string[]): Map<string, Float32Array> {
  const m = side.model;
  const prepared = Float32Array.from(pixels);
  applyChannelNorm(prepared, prepared.length, side.norm);
  const x = core.fromArray(prepared);
  try {
    if (m.batchSize < 1) m.plan(1);
    m.forward(x, 1, 'eval');
    return new Map(taps.map((t) => [t, m.tapValues(t, 1).slice()]));
  } finally {
    core.free(x);
  }
}

function heat(tap: string, shape: readonly number[], values: Float32Array): HeatMap {
  return { tap, h: shape[0]!, w: shape[1]!, values: unitRange(spatialAttention(values, shape)) };
}

/**
 * The attention maps of the pairs (the method's, else by resolution) and the strongest channels
 * of a chosen tap of each model (default: its tap in the first pair, else its first map).
 */
export function featureMapsOf(core: Core, teacher: Side | undefined, student: Side | undefined, pixels: Float32Array,
                              terms: readonly LossTermConfig[], chosen: { teacher?: string; student?: string }): FeatureMaps {
  const fromTerms = teacher && student ? termPairs(terms, student.model, teacher.model) : [];
  const pairs = (fromTerms.length ? fromTerms : resolutionPairs(student?.model, teacher?.model)).slice(0, PAIRS_SHOWN);
  const pick = (side: Side | undefined, want: string | undefined, k: 0 | 1): string | undefined => {
    if (!side) return undefined;
    const maps = mapTaps(side.model);
    if (want && maps.includes(want)) return want;
    return pairs.find((p) => p[k] !== null)?.[k] ?? maps[0];
  };
  const chosenS = pick(student, chosen.student, 0), chosenT = pick(teacher, chosen.teacher, 1);
  const need = (k: 0 | 1, extra: string | undefined): string[] => [...new Set([...pairs.map((p) => p[k]).filter((t): t is string => t !== null), ...(extra ? [extra] : [])])];
  const sv = student ? tapsOn(core, student, pixels, need(0, chosenS)) : new Map<string, Float32Array>();
  const tv = teacher ? tapsOn(core, teacher, pixels, need(1, chosenT)) : new Map<string, Float32Array>();
  const channels = (side: Side | undefined, tap: string | undefined, values: Map<string, Float32Array>): ChannelMaps | undefined => {
    if (!side || !tap) return undefined;
    const shape = side.model.tapShape(tap);
    return { tap, taps: mapTaps(side.model), h: shape[0]!, w: shape[1]!, channels: strongestChannels(values.get(tap)!, shape, CHANNELS_SHOWN) };
  };
  const teacherChannels = channels(teacher, chosenT, tv), studentChannels = channels(student, chosenS, sv);
  return {
    pairing: fromTerms.length ? 'method' : pairs.length ? 'resolution' : 'none',
    pairs: pairs.map(([s, t]) => ({
      ...(s !== null ? { student: heat(s, student!.model.tapShape(s), sv.get(s)!) } : {}),
      ...(t !== null ? { teacher: heat(t, teacher!.model.tapShape(t), tv.get(t)!) } : {}),
    })),
    channels: { ...(teacherChannels ? { teacher: teacherChannels } : {}), ...(studentChannels ? { student: studentChannels } : {}) },
  };
}
