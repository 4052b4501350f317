// @retort/core-wasm/infer: inference only, for browsers and workers that just run a model.
// It loads the inference-only module (build/retort.infer.{simd,scalar}.wasm: f32 GEMM, bias,
// ReLU and the int8 kernels) and runs int8 models (the int8 model file, or a QuantizedModel
// object) and float MLPs (a float32 Retort model file, or sizes and parameters). It imports no training code, no JS kernels, no schema library:
// the arena, the int8 file decoder (../format, dependency-free) and the shared int8 forward
// pass (./forward.ts, which @retort/distill's QuantizedMlp runs too, so both give the same bits).
//
//   const inf = await loadInference();                  // fetches the SIMD (or scalar) build
//   const logits = inf.predict(modelBytes, x, rows);    // (rows, classes) f32
//   const m = inf.load(modelBytes); m.predict(x, rows); m.free();   // decode and pack once

import { INFER_KERNEL_NAMES, packedI8Bytes, type InferKernels, type Ptr } from '../abi.js';
import { Arena } from '../arena.js';
import { MemoryViews } from '../tensor.js';
import { hasSimd } from '../simd.js';
import { checkQuantizedModel, decodeQuantizedModel, type QuantizedModel } from '../format/quantized.js';
import { decodeFloatModelFile, isFloatModelFile } from '../format/float-model.js';
import { quantizedForward, quantizedWorkBytes, type QuantizedLayerRefs } from './forward.js';
import { inferWasmUrl, type InferVariant } from './wasm-url.js';
import { compileWasmFrom } from '#infer-wasm-source';

export { ModelFormatError } from '../format/errors.js';
export { decodeFloatModelFile, isFloatModelFile, type FloatMlp } from '../format/float-model.js';
export {
  decodeQuantizedModel, quantizedModelSize,
  type QuantizedModel, type QuantizedLayer, type QuantizedModelSpec, type QuantizedSize, type CalibrationInfo,
} from '../format/quantized.js';
export { hasSimd };
export type { InferVariant };

export interface InferenceOptions {
  /** 'auto' (default): 'simd' when the engine has WebAssembly SIMD, else 'scalar'. */
  backend?: 'auto' | InferVariant;
  /**
   * The module to run instead of the package's build: a compiled module, its bytes, or a URL
   * (string URLs resolve against the page). Pass `backend` too when it is the scalar build.
   */
  wasm?: WebAssembly.Module | BufferSource | URL | string;
  /** Maximum memory in 64 KiB pages (default 65536 = 4 GiB). */
  maximumPages?: number;
  /** Rows per forward pass; work memory grows with it (default 256). */
  batchSize?: number;
}

/** A model resident in module memory: weights packed once, then any number of predictions. */
export interface InferenceModel {
  readonly inputSize: number;
  readonly classes: number;
  /** predict(x, rows): (rows, classes) f32 logits for x, (rows, inputSize) f32 row-major. */
  predict(x: Float32Array, rows: number): Float32Array;
  /** Releases its module memory; the model is unusable afterwards. */
  free(): void;
}

export interface Inference {
  readonly backend: InferVariant;
  readonly memory: WebAssembly.Memory;
  /** Decodes (bytes: an int8 model file, or a float32 Retort model file) or checks (object) a model and packs it into module memory. */
  load(model: Uint8Array | QuantizedModel, fileName?: string): InferenceModel;
  /** load + predict + free: (rows, classes) f32 logits of an int8 or float32 model file. */
  predict(model: Uint8Array | QuantizedModel, x: Float32Array, rows: number): Float32Array;
  /**
   * A float32 MLP: sizes [IN, H..., C]; params flat, per layer W (IN_l, OUT_l) row-major then
   * b (OUT_l) (the @retort/distill layout); ReLU between layers. (rows, C) f32 logits.
   */
  predictFloat(sizes: readonly number[], params: Float32Array, x: Float32Array, rows: number): Float32Array;
}

const PAGE = 65536;

export async function loadInference(options: InferenceOptions = {}): Promise<Inference> {
  const requested = options.backend ?? 'auto';
  if (requested !== 'auto' && requested !== 'simd' && requested !== 'scalar') {
    throw new RangeError(`loadInference: backend must be 'auto', 'simd' or 'scalar', got ${String(requested)}`);
  }
  const backend: InferVariant = requested === 'auto' ? (hasSimd() ? 'simd' : 'scalar') : requested;
  if (backend === 'simd' && !hasSimd() && options.wasm === undefined) {
    throw new Error("loadInference: backend 'simd' requested but this engine does not support WebAssembly SIMD; use 'auto' or 'scalar'");
  }
  const batchSize = options.batchSize ?? 256;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`loadInference: batchSize must be a positive integer, got ${String(batchSize)}`);

  const src = options.wasm;
  let module: WebAssembly.Module;
  if (src instanceof WebAssembly.Module) module = src;
  else if (src instanceof URL || typeof src === 'string') module = await compileWasmFrom(new URL(src, globalThis.location?.href));
  else if (src !== undefined) module = await WebAssembly.compile(src);
  else module = await compileWasmFrom(inferWasmUrl(backend));

  const memory = new WebAssembly.Memory({ initial: 64, maximum: options.maximumPages ?? 65536 });
  const instance = await WebAssembly.instantiate(module, { env: { memory } });
  const exports = instance.exports as Record<string, unknown>;
  for (const name of INFER_KERNEL_NAMES) {
    if (typeof exports[name] !== 'function') throw new Error(`loadInference: the module does not export kernel '${name}'`);
  }
  const k = exports as unknown as InferKernels;
  const need = k.heapBase();
  if (need > memory.buffer.byteLength) memory.grow(Math.ceil((need - memory.buffer.byteLength) / PAGE));
  return new InferenceImpl(backend, k, memory, batchSize);
}

class InferenceImpl implements Inference {
  private readonly arena: Arena;
  private readonly views: MemoryViews;

  constructor(readonly backend: InferVariant, private readonly k: InferKernels, readonly memory: WebAssembly.Memory,
              private readonly batchSize: number) {
    this.arena = new Arena(memory, k.heapBase());
    this.views = new MemoryViews(memory);
  }

  load(model: Uint8Array | QuantizedModel, fileName = 'model'): InferenceModel {
    if (model instanceof Uint8Array && isFloatModelFile(model)) {
      // a float32 student file: decoded once, run by the f32 kernels
      const f = decodeFloatModelFile(model, fileName);
      let freed = false;
      return {
        inputSize: f.sizes[0]!, classes: f.sizes[f.sizes.length - 1]!,
        predict: (x, rows) => {
          if (freed) throw new RangeError('InferenceModel.predict: the model has been freed');
          return this.predictFloat(f.sizes, f.params, x, rows);
        },
        free: () => { freed = true; },
      };
    }
    const m = model instanceof Uint8Array ? decodeQuantizedModel(model, fileName) : (checkQuantizedModel(model, 'load'), model);
    const owned: Ptr[] = [];
    const alloc = (bytes: number): Ptr => { const p = this.arena.alloc(bytes).ptr; owned.push(p); return p; };
    try {
      const layers: QuantizedLayerRefs[] = m.layers.map((l) => {
        const packed = alloc(packedI8Bytes(l.inputs, l.outputs));
        const rowMajor = this.arena.alloc(l.weights.length).ptr;
        try {
          this.views.i8.set(l.weights, rowMajor);
          this.k.packWeightsI8(packed, rowMajor, l.inputs, l.outputs);
        } finally {
          this.arena.release(rowMajor);
        }
        const scales = alloc(4 * l.outputs), bias = alloc(4 * l.outputs);
        this.views.f32.set(l.weightScales, scales >>> 2);
        this.views.f32.set(l.bias, bias >>> 2);
        return { inputs: l.inputs, outputs: l.outputs, packed, scales, bias, inputScale: Math.fround(l.inputScale) };
      });
      return new LoadedModel(this, layers, owned);
    } catch (e) {
      for (const p of owned) this.arena.release(p);
      throw e;
    }
  }

  predict(model: Uint8Array | QuantizedModel, x: Float32Array, rows: number): Float32Array {
    const m = this.load(model);
    try {
      return m.predict(x, rows);
    } finally {
      m.free();
    }
  }

  predictFloat(sizes: readonly number[], params: Float32Array, x: Float32Array, rows: number): Float32Array {
    const op = 'predictFloat';
    if (!Array.isArray(sizes) || sizes.length < 2 || !sizes.every((s) => Number.isInteger(s) && s >= 1)) {
      throw new RangeError(`${op}: sizes must be at least 2 positive integers, got ${String(sizes)}`);
    }
    let count = 0;
    for (let i = 0; i + 1 < sizes.length; i++) count += sizes[i]! * sizes[i + 1]! + sizes[i + 1]!;
    if (!(params instanceof Float32Array) || params.length !== count) {
      throw new RangeError(`${op}: params must be a Float32Array of ${count} values for sizes ${sizes.join('-')}`);
    }
    const inputSize = sizes[0]!, classes = sizes[sizes.length - 1]!;
    checkInput(op, x, rows, inputSize);
    const out = new Float32Array(rows * classes);
    if (rows === 0) return out;
    const batch = Math.min(rows, this.batchSize);
    const width = Math.max(...sizes.slice(1));
    return this.withBuffers([4 * count, 4 * batch * inputSize, 4 * batch * width, 4 * batch * width], ([P, xin, h0, h1]) => {
      this.views.f32.set(params, P! >>> 2);
      for (let r0 = 0; r0 < rows; r0 += batch) {
        const r = Math.min(batch, rows - r0);
        this.views.f32.set(x.subarray(r0 * inputSize, (r0 + r) * inputSize), xin! >>> 2);
        let input = xin!, offset = 0;
        for (let i = 0; i + 1 < sizes.length; i++) {
          const IN = sizes[i]!, OUT = sizes[i + 1]!;
          const y = i % 2 === 0 ? h0! : h1!;
          const W = P! + 4 * offset, b = W + 4 * IN * OUT;
          this.k.sgemm(0, 0, r, OUT, IN, 1, input, IN, W, OUT, 0, y, OUT);
          this.k.biasAdd(y, b, r, OUT);
          if (i + 2 < sizes.length) this.k.reluForward(y, y, r * OUT);
          offset += IN * OUT + OUT;
          input = y;
        }
        out.set(this.views.f32.subarray(input >>> 2, (input >>> 2) + r * classes), r0 * classes);
      }
      return out;
    });
  }

  /** @internal */
  run(layers: readonly QuantizedLayerRefs[], x: Float32Array, rows: number): Float32Array {
    const inputSize = layers[0]!.inputs, classes = layers[layers.length - 1]!.outputs;
    checkInput('predict', x, rows, inputSize);
    const out = new Float32Array(rows * classes);
    if (rows === 0) return out;
    const batch = Math.min(rows, this.batchSize);
    const work = quantizedWorkBytes(layers, batch);
    return this.withBuffers([4 * batch * inputSize, work.xq, work.acc], ([xin, xq, acc]) => {
      for (let r0 = 0; r0 < rows; r0 += batch) {
        const r = Math.min(batch, rows - r0);
        this.views.f32.set(x.subarray(r0 * inputSize, (r0 + r) * inputSize), xin! >>> 2);
        const y = quantizedForward(this.k, layers, xin!, r, xq!, acc!);
        out.set(this.views.f32.subarray(y >>> 2, (y >>> 2) + r * classes), r0 * classes);
      }
      return out;
    });
  }

  /** @internal */
  release(ptrs: readonly Ptr[]): void {
    for (const p of ptrs) this.arena.release(p);
  }

  private withBuffers<T>(sizes: number[], body: (ptrs: Ptr[]) => T): T {
    const ptrs: Ptr[] = [];
    try {
      for (const s of sizes) ptrs.push(this.arena.alloc(s).ptr);
      return body(ptrs);
    } finally {
      for (const p of ptrs) this.arena.release(p);
    }
  }
}

class LoadedModel implements InferenceModel {
  readonly inputSize: number;
  readonly classes: number;
  private freed = false;

  constructor(private readonly owner: InferenceImpl, private readonly layers: QuantizedLayerRefs[], private readonly owned: Ptr[]) {
    this.inputSize = layers[0]!.inputs;
    this.classes = layers[layers.length - 1]!.outputs;
  }

  predict(x: Float32Array, rows: number): Float32Array {
    if (this.freed) throw new RangeError('predict: the model has been freed');
    return this.owner.run(this.layers, x, rows);
  }

  free(): void {
    if (this.freed) return;
    this.freed = true;
    this.owner.release(this.owned);
  }
}

function checkInput(op: string, x: Float32Array, rows: number, inputSize: number): void {
  if (!Number.isInteger(rows) || rows < 0) throw new RangeError(`${op}: rows must be a non-negative integer, got ${String(rows)}`);
  if (!(x instanceof Float32Array)) throw new RangeError(`${op}: x must be a Float32Array`);
  if (x.length !== rows * inputSize) {
    throw new RangeError(`${op}: x has ${x.length} values but ${rows} rows of ${inputSize} inputs need ${rows * inputSize}`);
  }
}
