// Named architectures: each a function of the input shape, the class count and a width
// multiplier to a graph spec (./layer-spec.ts). They adapt to any input (H, W, C): a pooling
// step is skipped once the map is a single pixel and LeNet's second convolution pads when the
// map is smaller than its kernel, so every preset builds for every image size.
//
//   lenet5          LeCun et al. 1998, with ReLU and max pooling: conv5x5(6) pool conv5x5(16) pool
//                   fc120 fc84 fc(classes); taps conv1, conv2, fc1, fc2
//   resnet8         He et al. 2016, the CIFAR-style ResNet with 3 stages of one basic block:
//                   conv3x3(16)+BN, blocks of 16, 32 (stride 2), 64 (stride 2) with batch norm and
//                   1x1 projection shortcuts, global average pool, fc; taps stem, block1..3, pool
//   mobilenet-tiny  Howard et al. 2017: conv3x3(16, stride 2)+BN, four depthwise-separable blocks
//                   (dw3x3+BN+ReLU, pw1x1+BN+ReLU) of 32, 64 (stride 2), 64, 128 (stride 2),
//                   global average pool, fc; taps stem, block1..4, pool
// `width` scales every channel and unit count (rounded, at least 1).
//
// Text presets read [L] token ids (../text/data.ts) and need the vocabulary size (from the data):
//   bag             bag of embeddings (fastText style): embedding(dim 64, no positions), mean over
//                   the tokens, fc(classes); taps embed, pool
//   transformer-s   a pre-LN Transformer encoder (Vaswani et al. 2017; Xiong et al. 2020 for the
//   transformer-l   norm placement): token + learned position embeddings, `layers` blocks of
//                   [x + attention(layerNorm(x))] then [x + W2 gelu(W1 layerNorm(x))] (W1: 4 dim),
//                   a last layerNorm, mean over the tokens, fc(classes).
//                   -s: 2 layers, dim 64, 4 heads (the student); -l: 4 layers, dim 256, 4 heads
//                   (the teacher); `layers`, `dim` and `heads` override, `width` scales dim.
//                   Taps: embed, attn<i> (block i after its attention sublayer; the attention layer
//                   inside it, attn<i>.attention1, holds the probabilities attention-distillation
//                   terms read), block<i> (block i's output), pool.
//   cnn1d           a 1-D convolutional text classifier (Kim 2014, with mean instead of max pooling
//                   over time, so padding never counts): embedding (dim 64, no positions),
//                   conv1d(128, k 5)+ReLU, conv1d(128, k 3)+ReLU, mean over the tokens, fc(classes);
//                   `dim` sets the embedding width, `width` scales the filters. Taps embed, conv1, conv2, pool.
//   lm-s, lm-l      the same blocks as a causal language model (GPT style, Radford et al. 2018):
//                   attention masked to earlier positions, no pooling: a last layerNorm and
//                   fc(vocab) at every position, output "tokens" ((L, vocab) next-token scores,
//                   ../lm/). -s: 2 layers, dim 64, 4 heads; -l: 4 layers, dim 128, 4 heads.
//                   `classes` is not used (the classes are the vocabulary). Taps: embed, attn<i>, block<i>.
import type { GraphSpec, LayerSpec } from './layer-spec.js';

export const PRESET_NAMES = ['lenet5', 'resnet8', 'mobilenet-tiny', 'bag', 'cnn1d', 'transformer-s', 'transformer-l', 'lm-s', 'lm-l'] as const;
export type PresetName = (typeof PRESET_NAMES)[number];
export const TEXT_PRESETS: readonly PresetName[] = ['bag', 'cnn1d', 'transformer-s', 'transformer-l', 'lm-s', 'lm-l'];
export const isTextPreset = (name: string): boolean => (TEXT_PRESETS as readonly string[]).includes(name);
/** Presets of language models: (L, vocab) next-token scores per sample ("tokens" output). */
export const LM_PRESETS: readonly PresetName[] = ['lm-s', 'lm-l'];
export const isLmPreset = (name: string): boolean => (LM_PRESETS as readonly string[]).includes(name);

/** Defaults of the text presets (transformer: layers, dim, heads). */
export const TEXT_PRESET_DEFAULTS: Record<'bag' | 'cnn1d' | 'transformer-s' | 'transformer-l' | 'lm-s' | 'lm-l', { layers: number; dim: number; heads: number }> = {
  bag: { layers: 0, dim: 64, heads: 1 },
  cnn1d: { layers: 0, dim: 64, heads: 1 },
  'transformer-s': { layers: 2, dim: 64, heads: 4 },
  'transformer-l': { layers: 4, dim: 256, heads: 4 },
  'lm-s': { layers: 2, dim: 64, heads: 4 },
  'lm-l': { layers: 4, dim: 128, heads: 4 },
};

export interface PresetOptions {
  input: [number, number, number] | [number];
  classes: number;
  width: number;
  /** Text presets: vocabulary size, and overrides of TEXT_PRESET_DEFAULTS. */
  vocab?: number;
  layers?: number;
  dim?: number;
  heads?: number;
}

export const PRESET_INFO: Record<PresetName, { summary: string; taps: string[] }> = {
  lenet5: { summary: 'LeNet-5 with ReLU and max pooling: two 5x5 convolutions, three dense layers', taps: ['conv1', 'conv2', 'fc1', 'fc2'] },
  bag: { summary: 'text: a bag of token embeddings (mean over the tokens), one dense layer', taps: ['embed', 'pool'] },
  cnn1d: { summary: 'text: a 1-D CNN over token embeddings (two convolutions of 128 filters, k 5 and 3), mean over the tokens', taps: ['embed', 'conv1', 'conv2', 'pool'] },
  'transformer-s': { summary: 'text: a pre-LN Transformer encoder, 2 layers of width 64, 4 heads (a student)', taps: ['embed', 'attn1', 'block1', 'attn2', 'block2', 'pool'] },
  'transformer-l': { summary: 'text: a pre-LN Transformer encoder, 4 layers of width 256, 4 heads (a teacher)', taps: ['embed', 'attn1..4', 'block1..4', 'pool'] },
  'lm-s': { summary: 'language model: a causal pre-LN Transformer, 2 layers of width 64, 4 heads (a student; retort lm)', taps: ['embed', 'attn1', 'block1', 'attn2', 'block2'] },
  'lm-l': { summary: 'language model: a causal pre-LN Transformer, 4 layers of width 128, 4 heads (a teacher; retort lm)', taps: ['embed', 'attn1..4', 'block1..4'] },
  resnet8: { summary: 'a residual net of three basic blocks (16/32/64 channels) with batch norm', taps: ['stem', 'block1', 'block2', 'block3', 'pool'] },
  'mobilenet-tiny': { summary: 'depthwise-separable convolutions with batch norm (MobileNet v1 style)', taps: ['stem', 'block1', 'block2', 'block3', 'block4', 'pool'] },
};

const scaled = (n: number, width: number): number => Math.max(1, Math.round(n * width));

/** The graph a preset stands for. */
export function presetGraph(name: PresetName, o: PresetOptions): GraphSpec {
  if (isTextPreset(name)) {
    return { type: 'graph', input: [o.input[0]], layers: textLayers(name as keyof typeof TEXT_PRESET_DEFAULTS, o), ...(isLmPreset(name) ? { output: 'tokens' as const } : {}) };
  }
  const image: [number, number, number] = o.input.length === 3 ? o.input : [1, 1, o.input[0]];
  const layers = name === 'lenet5' ? lenet5(image, o) : name === 'resnet8' ? resnet8(o) : mobilenetTiny(o);
  return { type: 'graph', input: image, layers };
}

const relu = (): LayerSpec => ({ type: 'relu' });
const bn = (): LayerSpec => ({ type: 'batchNorm', momentum: 0.1, eps: 1e-5 });
const conv = (filters: number, kernel: number, stride = 1, extra: Partial<Extract<LayerSpec, { type: 'conv2d' }>> = {}): LayerSpec =>
  ({ type: 'conv2d', filters, kernel, stride, padding: 'same', groups: 1, bias: true, ...extra });
const dense = (units: number, name?: string): LayerSpec => ({ type: 'dense', units, bias: true, ...(name ? { name } : {}) });

function lenet5([h, w]: [number, number, number], o: PresetOptions): LayerSpec[] {
  const c1 = scaled(6, o.width), c2 = scaled(16, o.width);
  const out: LayerSpec[] = [conv(c1, 5), relu()];
  // pool 2x2 while the map is larger than one pixel; conv2 is 'valid' (as LeNet) when the map allows
  let H = h, W = w;
  const pool = (name: string): void => {
    if (H >= 2 && W >= 2) { out.push({ type: 'maxPool2d', size: 2, padding: 'valid', name }); H = Math.floor(H / 2); W = Math.floor(W / 2); }
    else (out[out.length - 1] as { name?: string }).name = name;
  };
  pool('conv1');
  const valid = H >= 5 && W >= 5;
  out.push(conv(c2, 5, 1, { padding: valid ? 'valid' : 'same' }), relu());
  if (valid) { H -= 4; W -= 4; }
  pool('conv2');
  out.push({ type: 'flatten' }, dense(scaled(120, o.width)), { type: 'relu', name: 'fc1' },
    dense(scaled(84, o.width)), { type: 'relu', name: 'fc2' }, dense(o.classes));
  return out;
}

function resnet8(o: PresetOptions): LayerSpec[] {
  const [c1, c2, c3] = [16, 32, 64].map((c) => scaled(c, o.width)) as [number, number, number];
  const block = (name: string, inC: number, outC: number, stride: number): LayerSpec[] => [{
    type: 'residual', name: `res${name.slice(5)}`,
    body: [conv(outC, 3, stride, { bias: false }), bn(), relu(), conv(outC, 3, 1, { bias: false }), bn()],
    shortcut: stride === 1 && inC === outC ? [] : [conv(outC, 1, stride, { bias: false }), bn()],
  }, { type: 'relu', name }];
  return [
    conv(c1, 3, 1, { bias: false }), bn(), { type: 'relu', name: 'stem' },
    ...block('block1', c1, c1, 1), ...block('block2', c1, c2, 2), ...block('block3', c2, c3, 2),
    { type: 'globalAvgPool', name: 'pool' }, dense(o.classes),
  ];
}

function mobilenetTiny(o: PresetOptions): LayerSpec[] {
  const stem = scaled(16, o.width);
  const blocks: [number, number][] = [[32, 1], [64, 2], [64, 1], [128, 2]];
  const out: LayerSpec[] = [conv(stem, 3, 2, { bias: false }), bn(), { type: 'relu', name: 'stem' }];
  blocks.forEach(([c, stride], i) => {
    out.push({ type: 'depthwiseConv2d', kernel: 3, stride, padding: 'same', multiplier: 1, bias: false }, bn(), relu(),
      conv(scaled(c, o.width), 1, 1, { bias: false }), bn(), { type: 'relu', name: `block${i + 1}` });
  });
  out.push({ type: 'globalAvgPool', name: 'pool' }, dense(o.classes));
  return out;
}

function textLayers(name: keyof typeof TEXT_PRESET_DEFAULTS, o: PresetOptions): LayerSpec[] {
  const d = TEXT_PRESET_DEFAULTS[name];
  const dim = o.dim ?? scaled(d.dim, o.width), heads = o.heads ?? d.heads, layers = o.layers ?? d.layers;
  const vocab = o.vocab!;
  if (name === 'cnn1d') {
    const f = scaled(128, o.width);
    return [{ type: 'embedding', vocab, dim, positions: false, name: 'embed' },
      { type: 'conv1d', filters: f, kernel: 5, bias: true }, { type: 'relu', name: 'conv1' },
      { type: 'conv1d', filters: f, kernel: 3, bias: true }, { type: 'relu', name: 'conv2' },
      { type: 'sequencePool', mode: 'mean', name: 'pool' }, dense(o.classes)];
  }
  if (name === 'bag') {
    return [{ type: 'embedding', vocab, dim, positions: false, name: 'embed' }, { type: 'sequencePool', mode: 'mean', name: 'pool' }, dense(o.classes)];
  }
  const ln = (): LayerSpec => ({ type: 'layerNorm', eps: 1e-5 });
  const lm = isLmPreset(name);
  const out: LayerSpec[] = [{ type: 'embedding', vocab, dim, positions: true, name: 'embed' }];
  for (let i = 1; i <= layers; i++) {
    out.push({ type: 'residual', name: `attn${i}`, body: [ln(), { type: 'attention', heads, causal: lm }], shortcut: [] });
    out.push({ type: 'residual', name: `block${i}`, body: [ln(), { type: 'dense', units: 4 * dim, bias: true, init: 'lecun' }, { type: 'gelu' },
      { type: 'dense', units: dim, bias: true, init: 'lecun' }], shortcut: [] });
  }
  if (lm) out.push(ln(), dense(vocab)); // next-token scores at every position
  else out.push(ln(), { type: 'sequencePool', mode: 'mean', name: 'pool' }, dense(o.classes));
  return out;
}
