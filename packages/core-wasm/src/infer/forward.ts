// The forward pass of an int8 MLP over raw kernels: one implementation, used by the inference
// entry (./index.ts) and by @retort/distill's QuantizedMlp, so both compute the same bits.
//
// Per layer l (inputs IN, outputs OUT), on `rows` rows:
//   xq  (rows, IN)  i8  = quantizeI8(x, inputScale_l)            x: the model input, or the previous layer's output
//   acc (rows, OUT) i32 = gemmI8(xq, packed W_l)
//   acc (rows, OUT) f32 = dequantizeI8(acc, scales_l, bias_l, inputScale_l), ReLU except on the last layer (in place)
// The f32 activations of layer l live in `acc` until layer l + 1 has quantized them into xq,
// so two buffers serve every layer: xq of rows * max IN bytes, acc of rows * max OUT words.

import type { Ptr, RawKernels } from '../abi.js';

/** One int8 layer in module memory. */
export interface QuantizedLayerRefs {
  inputs: number;
  outputs: number;
  /** packWeightsI8 output, packedI8Bytes(inputs, outputs) bytes. */
  packed: Ptr;
  /** (outputs) f32 per-output-channel weight scales. */
  scales: Ptr;
  /** (outputs) f32 bias. */
  bias: Ptr;
  /** The layer's input activation scale (an f32 value). */
  inputScale: number;
}

/** Bytes the two work buffers need for `rows` rows. */
export function quantizedWorkBytes(layers: readonly QuantizedLayerRefs[], rows: number): { xq: number; acc: number } {
  let maxIn = 1, maxOut = 1;
  for (const l of layers) { maxIn = Math.max(maxIn, l.inputs); maxOut = Math.max(maxOut, l.outputs); }
  return { xq: rows * maxIn, acc: 4 * rows * maxOut };
}

/**
 * Runs the layers on `rows` rows of x ((rows, layers[0].inputs) f32 at x) with the work buffers
 * xq and acc (quantizedWorkBytes); returns the offset of the (rows, classes) f32 logits, which is acc.
 * Unchecked: the caller sized and validated every buffer.
 */
export function quantizedForward(k: Pick<RawKernels, 'quantizeI8' | 'gemmI8' | 'dequantizeI8'>,
                                 layers: readonly QuantizedLayerRefs[], x: Ptr, rows: number, xq: Ptr, acc: Ptr): Ptr {
  let input = x;
  for (let i = 0; i < layers.length; i++) {
    const l = layers[i]!;
    k.quantizeI8(xq, input, rows * l.inputs, l.inputScale);
    k.gemmI8(acc, xq, l.packed, rows, l.outputs, l.inputs);
    k.dequantizeI8(acc, acc, l.scales, l.bias, rows, l.outputs, l.inputScale, i === layers.length - 1 ? 0 : 1);
    input = acc;
  }
  return acc;
}
