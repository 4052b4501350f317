// The layers of a graph spec, as JSON. A graph is a sequence of layers; a `residual` block
// adds its body's output to its shortcut's (identity when the shortcut is empty), which is
// how skip connections enter; any layer or block may carry a `name`, which makes its output a
// tap that loss terms (hints, attention transfer, RKD) can read.
//
//   { "type": "graph", "input": [28, 28, 1], "layers": [
//       { "type": "conv2d", "filters": 16, "kernel": 3, "name": "stem" }, { "type": "batchNorm" }, { "type": "relu" },
//       { "type": "residual", "name": "block1",
//         "body": [ { "type": "conv2d", "filters": 16, "kernel": 3 }, { "type": "batchNorm" }, { "type": "relu" },
//                   { "type": "conv2d", "filters": 16, "kernel": 3 }, { "type": "batchNorm" } ] },
//       { "type": "relu" }, { "type": "globalAvgPool" }, { "type": "dense", "units": 10 } ] }
//
// Activations are channels-last: an image is (H, W, C), a flat feature vector (D).
import { z } from 'zod';

export const MAX_DIM = 1 << 20;
const POSITIVE_INT = 'must be a positive integer';
const posInt = z.number({ error: POSITIVE_INT }).int({ error: POSITIVE_INT }).positive({ error: POSITIVE_INT })
  .max(MAX_DIM, { error: `must be at most ${MAX_DIM}` });
const nonNegInt = z.number({ error: 'must be a non-negative integer' }).int({ error: 'must be a non-negative integer' })
  .min(0, { error: 'must be a non-negative integer' }).max(MAX_DIM, { error: `must be at most ${MAX_DIM}` });
const pair = z.union([posInt, z.tuple([posInt, posInt])], { error: 'must be a positive integer or a pair [rows, cols]' });
const padding = z.union([z.enum(['same', 'valid']), nonNegInt], { error: "must be 'same', 'valid' or a number of pixels" });
const RATE = 'must be a number in [0, 1)';
const rate = z.number({ error: RATE }).min(0, { error: RATE }).lt(1, { error: RATE });
const positive = z.number({ error: 'must be a finite number > 0' }).positive({ error: 'must be a finite number > 0' }).finite();
const NAME = 'must be a name of letters, digits, _ . - (starting with a letter)';
const name = z.string({ error: NAME }).regex(/^[A-Za-z][A-Za-z0-9_.-]{0,63}$/, { error: NAME }).optional();
const flag = z.boolean({ error: 'must be true or false' });

/** Weight initialisation: He normal N(0, 2/fan_in) before a ReLU (default), LeCun N(0, 1/fan_in) for a linear map. */
const init = z.enum(['he', 'lecun'], { error: "must be 'he' or 'lecun'" }).optional();
const dense = z.strictObject({
  type: z.literal('dense'), units: posInt, bias: flag.default(true), name, init,
  /** Cap each unit's incoming weight vector at this L2 norm after every optimizer step. */
  maxNorm: positive.optional(),
});
const conv2d = z.strictObject({
  type: z.literal('conv2d'), filters: posInt, kernel: pair, stride: pair.default(1), padding: padding.default('same'),
  groups: posInt.default(1), bias: flag.default(true), name, init,
});
const depthwiseConv2d = z.strictObject({
  type: z.literal('depthwiseConv2d'), kernel: pair, stride: pair.default(1), padding: padding.default('same'),
  multiplier: posInt.default(1), bias: flag.default(true), name, init,
});
const pool = <T extends 'maxPool2d' | 'avgPool2d'>(type: T) => z.strictObject({
  type: z.literal(type), size: pair.default(2), stride: pair.optional(), padding: padding.default('valid'), name,
});
const embedding = z.strictObject({
  type: z.literal('embedding'), vocab: posInt, dim: posInt, name,
  /** Learned position embeddings added to the token rows (default true). */
  positions: flag.default(true),
});
const sequencePool = z.strictObject({
  type: z.literal('sequencePool'), name,
  /** 'mean' over a sample's tokens (padding excluded), or the 'first' token's row (a [CLS] token). */
  mode: z.enum(['mean', 'first'], { error: "must be 'mean' or 'first'" }).default('mean'),
});
/**
 * A 1-D convolution over a sequence [L, D] -> [L, filters]: stride 1 and 'same' padding only, so
 * position i stays token i and the padding mask of the ids still lines up for pooling after it.
 */
const conv1d = z.strictObject({
  type: z.literal('conv1d'), filters: posInt, kernel: posInt, bias: flag.default(true), name, init,
});
const attention = z.strictObject({
  type: z.literal('attention'), heads: posInt, name,
  /** Each position attends to itself and earlier positions only (a language model). */
  causal: flag.default(false),
});
const bare = <T extends string>(type: T) => z.strictObject({ type: z.literal(type), name });

export type Pair = number | [number, number];
export type Padding = 'same' | 'valid' | number;

export type DenseSpec = z.output<typeof dense>;
export type Conv2dSpec = z.output<typeof conv2d>;
export type DepthwiseConv2dSpec = z.output<typeof depthwiseConv2d>;
export type PoolSpec = z.output<ReturnType<typeof pool>>;
export type EmbeddingSpec = z.output<typeof embedding>;
export type SequencePoolSpec = z.output<typeof sequencePool>;
export type AttentionSpec = z.output<typeof attention>;
export type Conv1dSpec = z.output<typeof conv1d>;

export type LayerSpec =
  | DenseSpec | Conv2dSpec | DepthwiseConv2dSpec | EmbeddingSpec | SequencePoolSpec | AttentionSpec | Conv1dSpec
  | (PoolSpec & { type: 'maxPool2d' | 'avgPool2d' })
  | { type: 'globalAvgPool'; name?: string | undefined }
  | { type: 'batchNorm'; momentum: number; eps: number; name?: string | undefined }
  | { type: 'layerNorm'; eps: number; name?: string | undefined }
  | { type: 'relu' | 'gelu' | 'flatten'; name?: string | undefined }
  | { type: 'dropout'; rate: number; name?: string | undefined }
  | { type: 'residual'; body: LayerSpec[]; shortcut: LayerSpec[]; name?: string | undefined };

export type LayerType = LayerSpec['type'];

export const LAYER_TYPES = [
  'dense', 'conv2d', 'depthwiseConv2d', 'maxPool2d', 'avgPool2d', 'globalAvgPool', 'batchNorm', 'layerNorm',
  'relu', 'gelu', 'dropout', 'flatten', 'residual', 'embedding', 'sequencePool', 'attention', 'conv1d',
] as const satisfies readonly LayerType[];

export const layerSpecSchema: z.ZodType<LayerSpec, unknown> = z.lazy(() => z.discriminatedUnion('type', [
  dense, conv2d, depthwiseConv2d, embedding, sequencePool, attention, conv1d, pool('maxPool2d'), pool('avgPool2d'), bare('globalAvgPool'),
  z.strictObject({
    type: z.literal('batchNorm'), name,
    momentum: z.number({ error: 'must be a number in (0, 1]' }).gt(0, { error: 'must be a number in (0, 1]' }).max(1, { error: 'must be a number in (0, 1]' }).default(0.1),
    eps: positive.default(1e-5),
  }),
  z.strictObject({ type: z.literal('layerNorm'), name, eps: positive.default(1e-5) }),
  bare('relu'), bare('gelu'), bare('flatten'),
  z.strictObject({ type: z.literal('dropout'), rate, name }),
  z.strictObject({
    type: z.literal('residual'), name,
    body: z.array(layerSpecSchema, { error: 'must be a list of layers' }).min(1, { error: 'must list at least one layer' }),
    shortcut: z.array(layerSpecSchema, { error: 'must be a list of layers' }).default([]),
  }),
], { error: `must be a layer: an object with type ${LAYER_TYPES.join(', ')}` })) as unknown as z.ZodType<LayerSpec, unknown>;

/** [H, W, C] for images (channels last), [D] for flat features or [L] for L token ids, [L, D] for a sequence (a regressor on a sequence tap). */
export const inputShapeSchema = z.union([z.tuple([posInt]), z.tuple([posInt, posInt]), z.tuple([posInt, posInt, posInt])],
  { error: 'must be [features] (or [tokens]), [length, features] or [height, width, channels]' });

export const graphSpecSchema = z.strictObject({
  type: z.literal('graph'),
  /** The input of one sample; may be left out in a spec and filled in from the data. */
  input: inputShapeSchema.optional(),
  layers: z.array(layerSpecSchema, { error: 'must be a list of layers' }).min(1, { error: 'must list at least one layer' }),
  /**
   * What the model outputs: 'classes' (default) one flat score vector per sample; 'tokens' a
   * score vector per position, (L, V), for a language model (../lm/): the last layer is a dense
   * over a sequence's last dimension.
   */
  output: z.enum(['classes', 'tokens'], { error: 'must be "classes" or "tokens"' }).optional(),
});

export type GraphSpec = z.output<typeof graphSpecSchema>;

/** (kh, kw) of a pair field. */
export function pairOf(v: Pair): [number, number] {
  return typeof v === 'number' ? [v, v] : [v[0], v[1]];
}
