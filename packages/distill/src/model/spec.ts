// The model spec: one small JSON description shared by the CLI, the web app and saved
// files. Three forms, all compiled to one layer graph (./graph.ts) by createModel:
//   - a graph of layers (./layer-spec.ts): { "type": "graph", "input": [28, 28, 1], "layers": [...] }
//   - a named preset (./presets.ts): { "type": "resnet8", "width": 0.5, "input": [28, 28, 1], "classes": 10 },
//     short form `resnet8`, `lenet5:width=0.5`, `mobilenet-tiny:input=32x32x3,classes=100`
//   - the MLP of dense + ReLU (+ dropout) layers, the first model Retort had:
//
//   { "type": "mlp", "sizes": [784, 1200, 1200, 10],
//     "dropout": { "input": 0.2, "hidden": 0.5 }, "maxNorm": 3.5 }
//
// sizes[0] is the input width, sizes[last] the number of classes; every size in between is
// a hidden ReLU layer. dropout.input drops input features, dropout.hidden the output of every
// hidden layer (train mode only, inverted dropout). maxNorm caps the L2 norm of each unit's
// incoming weight vector after every optimizer step (Hinton et al. 2012/2015).
//
// Short form (for --model): `mlp:784-1200-1200-10[,dropout=IN/HID|HID][,maxnorm=X]`, e.g.
//   mlp:784-800-800-10
//   mlp:784-1200-1200-10,dropout=0.2/0.5,maxnorm=3.5
// `dropout=0.5` (one number) sets the hidden rate only.

import { z } from 'zod';
import { compileGraph, type CompiledGraph } from './graph.js';
import { graphSpecSchema, inputShapeSchema, type GraphSpec, type LayerSpec } from './layer-spec.js';
import { isLmPreset, isTextPreset, PRESET_NAMES, presetGraph, TEXT_PRESETS, type PresetName } from './presets.js';
import { SpecError, parseWith, specErrorFrom, fieldPath } from './errors.js';

export { SpecError, parseWith, specErrorFrom, fieldPath };

/** Largest width of one layer; far beyond anything trainable here, it bounds allocations. */
export const MAX_LAYER_SIZE = 1 << 20;
/** Largest parameter count a spec may describe (2^27 f32 = 512 MiB per flat buffer). */
export const MAX_PARAMS = 1 << 27;

const POSITIVE_INT = 'must be a positive integer';
const RATE = 'must be a number in [0, 1)';

const size = z.number({ error: POSITIVE_INT }).int({ error: POSITIVE_INT }).positive({ error: POSITIVE_INT })
  .max(MAX_LAYER_SIZE, { error: `must be at most ${MAX_LAYER_SIZE}` });
const rate = z.number({ error: RATE }).min(0, { error: RATE }).lt(1, { error: RATE });

export const mlpSpecSchema = z.strictObject({
  type: z.literal('mlp', { error: 'must be "mlp"' }),
  sizes: z.array(size, { error: 'must be an array of layer sizes' })
    .min(2, { error: 'needs at least 2 entries (input and output sizes)' }),
  dropout: z.strictObject({ input: rate.optional(), hidden: rate.optional() }, { error: 'must be an object { input?, hidden? }' }).optional(),
  maxNorm: z.number({ error: 'must be a finite number > 0' }).positive({ error: 'must be a finite number > 0' })
    .optional(),
}, { error: 'must be an object' }).superRefine((spec, ctx) => {
  const n = paramCountOfSizes(spec.sizes);
  if (n > MAX_PARAMS) ctx.addIssue({ code: 'custom', path: ['sizes'], message: `give ${n} parameters, more than the ${MAX_PARAMS} supported` });
});

export type MlpSpec = z.infer<typeof mlpSpecSchema>;

const WIDTH = 'must be a number in (0, 64]';
export const presetSpecSchema = z.strictObject({
  type: z.enum(PRESET_NAMES, { error: `must be one of ${PRESET_NAMES.join(', ')}` }),
  /** One sample's shape, [H, W, C] or [D]; filled in from the data when left out. */
  input: inputShapeSchema.optional(),
  /** Number of classes; filled in from the data when left out. */
  classes: size.optional(),
  /** Multiplies every channel and unit count (default 1). */
  width: z.number({ error: WIDTH }).gt(0, { error: WIDTH }).max(64, { error: WIDTH }).default(1),
  /** Text presets: the vocabulary size (filled in from the data when left out). */
  vocab: size.optional(),
  /** Text presets: Transformer blocks, model width and attention heads (defaults per preset). */
  layers: size.optional(),
  dim: size.optional(),
  heads: size.optional(),
}).superRefine((spec, ctx) => {
  if (isTextPreset(spec.type)) return;
  for (const key of ['vocab', 'layers', 'dim', 'heads'] as const) {
    if (spec[key] !== undefined) ctx.addIssue({ code: 'custom', path: [key], message: `only the text presets (${TEXT_PRESETS.join(', ')}) take ${key}` });
  }
});
export type PresetSpec = z.infer<typeof presetSpecSchema>;

export const modelSpecSchema = z.discriminatedUnion('type', [mlpSpecSchema, graphSpecSchema, presetSpecSchema], {
  error: `must be a model spec: an object with type mlp, graph or a preset (${PRESET_NAMES.join(', ')})`,
}).superRefine((spec, ctx) => {
  if (spec.type === 'mlp') return;
  // a spec whose input is known must compile (shapes, names) and stay within MAX_PARAMS
  if (spec.type !== 'graph' && (spec.input === undefined || spec.classes === undefined)) return;
  if (spec.type !== 'graph' && isTextPreset(spec.type) && (spec as PresetSpec).vocab === undefined) return;
  if (spec.type === 'graph' && spec.input === undefined) return;
  try {
    const g = compileGraph(graphOf(spec as GraphSpec | Required<PresetSpec>), 'model');
    if (g.paramCount > MAX_PARAMS) ctx.addIssue({ code: 'custom', path: [], message: `gives ${g.paramCount} parameters, more than the ${MAX_PARAMS} supported` });
  } catch (e) {
    if (!(e instanceof SpecError)) throw e;
    ctx.addIssue({ code: 'custom', path: pathOf(e.field).slice(1), message: e.problem });
  }
});

export type ModelSpec = MlpSpec | GraphSpec | PresetSpec;

/** 'layers[3].kernel' -> ['layers', 3, 'kernel'] (a SpecError field relative to the spec). */
function pathOf(field: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const m of field.matchAll(/([A-Za-z_][\w]*)|\[(\d+)\]/g)) out.push(m[2] !== undefined ? Number(m[2]) : m[1]!);
  return out;
}

/**
 * A validated ModelSpec from JSON text, an object, or the short form `mlp:784-800-800-10[,…]`.
 * Throws SpecError ("model.sizes[2]: must be a positive integer").
 */
export function parseModelSpec(input: string | object, root = 'model'): ModelSpec {
  if (typeof input === 'string') {
    const text = input.trim();
    if (text.startsWith('{')) {
      let json: unknown;
      try { json = JSON.parse(text); } catch (e) {
        throw new SpecError(root, `invalid JSON (${(e as Error).message})`);
      }
      return parseWith(modelSpecSchema, json, root);
    }
    if (/^mlp:/i.test(text)) return parseWith(modelSpecSchema, parseShortForm(text, root), root);
    const preset = parsePresetShortForm(text, root);
    if (preset) return parseWith(modelSpecSchema, preset, root);
    throw new SpecError(root, `expected a JSON spec or a short form such as mlp:784-800-800-10, ${PRESET_NAMES.join(', ')} or resnet8:width=0.5, got '${text.slice(0, 60)}'`);
  }
  if (input === null || typeof input !== 'object') throw new SpecError(root, 'must be an object');
  return parseWith(modelSpecSchema, input, root);
}

function parseShortForm(text: string, root: string): Record<string, unknown> {
  const [head = '', ...options] = text.slice(4).split(',');
  const number = (s: string): number => (/^\s*[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?\s*$/i.test(s) ? Number(s) : NaN);
  const spec: Record<string, unknown> = { type: 'mlp', sizes: head.split('-').map(number) };
  for (const option of options) {
    const eq = option.indexOf('=');
    const key = (eq < 0 ? option : option.slice(0, eq)).trim().toLowerCase();
    const value = eq < 0 ? '' : option.slice(eq + 1).trim();
    if (key === 'dropout') {
      const parts = value.split('/');
      if (parts.length === 1) spec.dropout = { hidden: number(parts[0]!) };
      else if (parts.length === 2) spec.dropout = { input: number(parts[0]!), hidden: number(parts[1]!) };
      else throw new SpecError(`${root}.dropout`, `expected dropout=HIDDEN or dropout=INPUT/HIDDEN, got '${value}'`);
    } else if (key === 'maxnorm') {
      spec.maxNorm = number(value);
    } else {
      throw new SpecError(root, `unknown option '${key}' in the short form (expected dropout= or maxnorm=)`);
    }
  }
  return spec;
}

/** `resnet8`, `lenet5:width=0.5,input=28x28x1,classes=10`; null when `text` names no preset. */
function parsePresetShortForm(text: string, root: string): Record<string, unknown> | null {
  const [head = '', rest] = text.split(/:(.*)/s);
  const name = head.trim().toLowerCase();
  if (!(PRESET_NAMES as readonly string[]).includes(name)) return null;
  const spec: Record<string, unknown> = { type: name };
  for (const option of (rest ?? '').split(',').filter((o) => o.trim() !== '')) {
    const eq = option.indexOf('=');
    const key = (eq < 0 ? option : option.slice(0, eq)).trim().toLowerCase();
    const value = eq < 0 ? '' : option.slice(eq + 1).trim();
    const num = (v: string): number => (/^\s*[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?\s*$/i.test(v) ? Number(v) : NaN);
    if (key === 'width') spec.width = num(value);
    else if (key === 'classes') spec.classes = num(value);
    else if (key === 'input') spec.input = value.split(/x/i).map(num);
    else if (isTextPreset(name) && ['vocab', 'layers', 'dim', 'heads'].includes(key)) spec[key] = num(value);
    else {
      throw new SpecError(root, `unknown option '${key}' in the short form of ${name} (expected width=, input=${isTextPreset(name) ? 'LENGTH, classes=, vocab=, layers=, dim= or heads=' : 'HxWxC or classes='})`);
    }
  }
  return spec;
}

/** The short form of a spec: "mlp:784-1200-1200-10,dropout=0.2/0.5,maxnorm=3.5", "resnet8:width=0.5"; JSON for a graph. */
export function formatModelSpec(spec: ModelSpec): string {
  if (spec.type === 'graph') return JSON.stringify(spec);
  if (spec.type !== 'mlp') {
    const opts = [spec.width === 1 ? '' : `width=${spec.width}`,
      ...(['layers', 'dim', 'heads'] as const).map((k) => (spec[k] !== undefined ? `${k}=${spec[k]}` : ''))].filter((o) => o !== '');
    return opts.length ? `${spec.type}:${opts.join(',')}` : spec.type;
  }
  let s = `mlp:${spec.sizes.join('-')}`;
  const d = spec.dropout;
  if (d && ((d.input ?? 0) > 0 || (d.hidden ?? 0) > 0)) s += `,dropout=${d.input ?? 0}/${d.hidden ?? 0}`;
  if (spec.maxNorm !== undefined) s += `,maxnorm=${spec.maxNorm}`;
  return s;
}

// ---- parameter layout ---------------------------------------------------------------------------

/** One dense layer's place in the flat parameter buffer; offsets and sizes in f32 elements. */
export interface DenseLayout {
  readonly inputs: number;
  readonly outputs: number;
  /** W is (inputs, outputs) row-major: column j holds the weights into unit j. */
  readonly weightOffset: number;
  /** b is (outputs), right after W. */
  readonly biasOffset: number;
}

/** The one layout of an MLP's params, grads and optimizer state: layer by layer, W then b. */
export function paramLayout(spec: MlpSpec): DenseLayout[] {
  const layers: DenseLayout[] = [];
  let offset = 0;
  for (let i = 0; i + 1 < spec.sizes.length; i++) {
    const inputs = spec.sizes[i]!, outputs = spec.sizes[i + 1]!;
    layers.push({ inputs, outputs, weightOffset: offset, biasOffset: offset + inputs * outputs });
    offset += inputs * outputs + outputs;
  }
  return layers;
}

function paramCountOfSizes(sizes: readonly number[]): number {
  let n = 0;
  for (let i = 0; i + 1 < sizes.length; i++) n += sizes[i]! * sizes[i + 1]! + sizes[i + 1]!;
  return n;
}

/** Number of f32 parameters the spec describes (its input shape must be known: see resolveModelSpec). */
export function paramCount(spec: ModelSpec): number {
  return spec.type === 'mlp' ? paramCountOfSizes(spec.sizes) : compileSpec(spec).paramCount;
}

// ---- graphs -----------------------------------------------------------------------------------

/** What the input and the class count of a spec are filled in from when the spec leaves them out. */
export interface DataShape {
  inputShape: readonly number[];
  classes: number;
  /** Token data: the vocabulary size (samples are [L] token ids, -1 padding). */
  vocab?: number | undefined;
}

/**
 * The spec with its input shape and class count filled in from the data where it leaves them out
 * (a preset or a graph without `input`); an MLP names both already. Images of the data are
 * [H, W] or [H, W, C]; a graph or preset sees [H, W, 1] for the former.
 */
export function resolveModelSpec(spec: ModelSpec, data: DataShape): ModelSpec {
  if ((spec.type === 'graph' && spec.output === 'tokens') || (spec.type !== 'graph' && spec.type !== 'mlp' && isLmPreset(spec.type))) {
    throw new SpecError('model', `${spec.type === 'graph' ? 'this graph' : spec.type} is a language model (next-token scores at every position): it trains with retort lm train/distill, not on labelled samples`);
  }
  const text = spec.type !== 'mlp' && spec.type !== 'graph' && isTextPreset(spec.type);
  if (data.vocab !== undefined && !text && !startsWithEmbedding(spec)) {
    throw new SpecError('model', `the data are token ids (vocabulary ${data.vocab}): the model must start with an embedding layer (a text preset: ${TEXT_PRESETS.join(', ')}, or a graph whose first layer is an embedding)`);
  }
  if (data.vocab === undefined && text) {
    throw new SpecError('model', `${spec.type} reads token ids, but the data are not text (give --data a text corpus: spam, sotu, or a .jsonl/.csv with a text column)`);
  }
  if (spec.type === 'mlp') return spec;
  const d = data.inputShape;
  const input = (d.length === 2 ? [d[0]!, d[1]!, 1] : [...d]) as [number] | [number, number, number];
  if (input.length !== 1 && input.length !== 3) throw new SpecError('model.input', `the data's samples have shape [${d.join(', ')}]; a model takes [features] or [height, width, channels]`);
  if (spec.type === 'graph') return spec.input ? spec : parseModelSpec({ ...spec, input });
  return parseModelSpec({ ...spec, input: spec.input ?? input, classes: spec.classes ?? data.classes,
    ...(text ? { vocab: spec.vocab ?? data.vocab } : {}) });
}

function startsWithEmbedding(spec: ModelSpec): boolean {
  return spec.type === 'graph' && spec.layers[0]?.type === 'embedding';
}

/** The graph a spec stands for (an MLP as dense / ReLU / dropout layers). Its input must be known. */
export function graphOf(spec: ModelSpec): GraphSpec {
  if (spec.type === 'graph') return spec;
  if (spec.type === 'mlp') return mlpGraph(spec);
  if (spec.input === undefined || spec.classes === undefined) {
    throw new SpecError(`model.${spec.input === undefined ? 'input' : 'classes'}`, `${spec.type} needs the input shape and the class count (give them, or let the data fix them)`);
  }
  if (isTextPreset(spec.type) && spec.vocab === undefined) {
    throw new SpecError('model.vocab', `${spec.type} needs the vocabulary size (give vocab, or let the data fix it)`);
  }
  const input = spec.input;
  if (input.length === 2) throw new SpecError('model.input', `${spec.type} takes [features], [tokens] or [height, width, channels], not [${input.join(', ')}]`);
  return presetGraph(spec.type as PresetName, {
    input, classes: spec.classes, width: spec.width,
    ...(spec.vocab !== undefined ? { vocab: spec.vocab } : {}), ...(spec.layers !== undefined ? { layers: spec.layers } : {}),
    ...(spec.dim !== undefined ? { dim: spec.dim } : {}), ...(spec.heads !== undefined ? { heads: spec.heads } : {}),
  });
}

/** The compiled graph of a spec (nodes, shapes, the parameter and state layout). */
export function compileSpec(spec: ModelSpec, root = 'model'): CompiledGraph {
  return compileGraph(graphOf(spec), root);
}

/**
 * An MLP as a graph: [dropout(input)] then per hidden layer dense 'layer<i>', relu 'hidden<i+1>'
 * [dropout], and a last dense. Same parameter layout as paramLayout (W then b per layer), same
 * tensor names (layer0.w, layer0.b, ...), same kernels in the same order as before graphs existed.
 */
function mlpGraph(spec: MlpSpec): GraphSpec {
  const layers: LayerSpec[] = [];
  const inRate = spec.dropout?.input ?? 0, hidRate = spec.dropout?.hidden ?? 0;
  if (inRate > 0) layers.push({ type: 'dropout', rate: inRate, name: 'input.dropout' });
  for (let i = 1; i < spec.sizes.length; i++) {
    const last = i === spec.sizes.length - 1;
    layers.push({ type: 'dense', units: spec.sizes[i]!, bias: true, name: `layer${i - 1}`, ...(spec.maxNorm !== undefined ? { maxNorm: spec.maxNorm } : {}) });
    if (last) break;
    layers.push({ type: 'relu', name: `hidden${i}` });
    if (hidRate > 0) layers.push({ type: 'dropout', rate: hidRate });
  }
  return { type: 'graph', input: [spec.sizes[0]!], layers };
}

/** The spec as an MLP spec, or a SpecError naming `what` needs one (an MLP-only path). */
export function asMlpSpec(spec: ModelSpec, what: string): MlpSpec {
  if (spec.type !== 'mlp') throw new SpecError('model', `${what} handles MLPs only, got a ${spec.type} model`);
  return spec;
}
