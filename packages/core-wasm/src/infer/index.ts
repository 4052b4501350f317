// @retort/core-wasm/infer: inference only, for browsers and workers that just run a model.
// It loads the inference-only module (build/retort.infer.{simd,scalar}.wasm: the forward kernels
// of every layer and the int8 kernels) and runs any layer graph: an int8 model file (version 2,
// any graph; version 1, an MLP), a QuantizedGraph object, or a float32 Retort model file of any
// graph (an MLP, a graph spec, or a preset saved with its expanded graph). It imports no
// training code, no JS kernels, no schema library: the arena, the dependency-free decoders
// (../format) and the shared forward pass (./forward.ts, which @retort/distill's int8 model runs
// too, so both give the same bits).
//
//   const inf = await loadInference();                  // fetches the SIMD (or scalar) build
//   const logits = inf.predict(modelBytes, x, rows);    // (rows, classes) f32
//   const m = inf.load(modelBytes); m.predict(x, rows); m.free();   // decode and pack once

import { INFER_KERNEL_NAMES, type InferKernels, type Ptr } from '../abi.js';
import { Arena } from '../arena.js';
import { MemoryViews } from '../tensor.js';
import { hasSimd } from '../simd.js';
import { ModelFormatError } from '../format/errors.js';
import { checkQuantizedModel, decodeQuantizedGraph, graphOfQuantizedModel, type QuantizedModel } from '../format/quantized.js';
import { checkQuantizedGraph, type QuantizedGraph } from '../format/quantized-graph.js';
import { decodeFloatModelFile, isFloatModelFile } from '../format/float-model.js';
import { compileLayers, mlpLayers } from '../format/graph.js';
import { ProgramRunner, floatProgram, freeProgram, int8Program, type Program, type ProgramMemory } from './forward.js';
import { inferWasmUrl, type InferVariant } from './wasm-url.js';
import { compileWasmFrom } from '#infer-wasm-source';

export { ModelFormatError };
export { decodeFloatModelFile, isFloatModelFile, type FloatModel } from '../format/float-model.js';
export { decodeQuantizedGraph, graphOfQuantizedModel, type QuantizedModel, type QuantizedLayer, type QuantizedModelSpec } from '../format/quantized.js';
export {
  quantizedModelSize, type QuantizedGraph, type QuantizedOp, type DecodedQuantizedGraph, type QuantizedSize, type CalibrationInfo,
} from '../format/quantized-graph.js';
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
  /** 'int8' for an int8 file or graph, 'float32' for a float model file. */
  readonly kind: 'int8' | 'float32';
  /** One sample: [H, W, C] (channels last) or [D]. */
  readonly inputShape: readonly number[];
  /** Values of one sample (the product of inputShape). */
  readonly inputSize: number;
  readonly classes: number;
  /**
   * The input normalisation the model was trained with, as its file records it (mean and std: one
   * value, or one per channel, the last axis); null when the file records none.
   */
  readonly normalization: InputNormalization | null;
  /** predict(x, rows): (rows, classes) f32 logits for x, (rows, inputSize) f32 row-major (NHWC images), already normalised. */
  predict(x: Float32Array, rows: number): Float32Array;
  /**
   * Logits for raw samples, prepared as in training: u8 values become (x/255 − mean)/std, f32
   * values (x − mean)/std, with the recorded normalisation (none: x/255 and x as they are).
   */
  predictRaw(x: Uint8Array | Float32Array, rows: number): Float32Array;
  /** Releases its module memory; the model is unusable afterwards. */
  free(): void;
}

/** Mean and std of an input normalisation: one value each, or one per channel. */
export interface InputNormalization {
  mean: number | readonly number[];
  std: number | readonly number[];
}

/**
 * The normalisation a model file's meta records (its `mean` and `std`), or null; values that are
 * not finite numbers (std > 0) or lists of them are ignored, as a file without them.
 */
export function normalizationOfMeta(meta: Record<string, unknown> | undefined): InputNormalization | null {
  if (!meta || (meta.mean === undefined && meta.std === undefined)) return null;
  const ok = (v: unknown, positive: boolean): v is number | number[] => {
    const one = (x: unknown): boolean => typeof x === 'number' && Number.isFinite(x) && (!positive || x > 0);
    return one(v) || (Array.isArray(v) && v.length > 0 && v.every(one));
  };
  const mean = meta.mean ?? 0, std = meta.std ?? 1;
  return ok(mean, false) && ok(std, true) ? { mean, std } : null;
}

/**
 * Raw samples prepared as predictRaw says, with the bits training gave them (@retort/distill's
 * BatchLoader): u8 with one mean and std in f32 arithmetic, as the normalizeU8 kernel computes it;
 * otherwise x/255 (u8) rounded to f32, then (x − mean)/std in f64 rounded once to f32.
 */
export function prepareInputs(x: Uint8Array | Float32Array, norm: InputNormalization | null): Float32Array {
  const mean = norm ? (typeof norm.mean === 'number' ? [norm.mean] : norm.mean) : [0];
  const std = norm ? (typeof norm.std === 'number' ? [norm.std] : norm.std) : [1];
  const C = Math.max(mean.length, std.length);
  const out = new Float32Array(x.length);
  if (x instanceof Uint8Array && C === 1) {
    const f = Math.fround, m = f(mean[0]!), s = f(std[0]!);
    for (let j = 0; j < x.length; j++) out[j] = f(f(f(x[j]! / 255) - m) / s);
    return out;
  }
  for (let j = 0; j < x.length; j++) {
    const c = j % C, v = x instanceof Uint8Array ? Math.fround(x[j]! / 255) : x[j]!;
    out[j] = (v - mean[mean.length === 1 ? 0 : c]!) / std[std.length === 1 ? 0 : c]!;
  }
  return out;
}

export interface Inference {
  readonly backend: InferVariant;
  readonly memory: WebAssembly.Memory;
  /**
   * Decodes (bytes: an int8 model file, or a float32 Retort model file) or checks (an int8
   * QuantizedGraph, or a version-1 QuantizedModel object) a model and puts it into module memory.
   */
  load(model: Uint8Array | QuantizedGraph | QuantizedModel, fileName?: string): InferenceModel;
  /** load + predict + free: (rows, classes) f32 logits. */
  predict(model: Uint8Array | QuantizedGraph | QuantizedModel, x: Float32Array, rows: number): Float32Array;
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
  private readonly mem: ProgramMemory;

  constructor(readonly backend: InferVariant, private readonly k: InferKernels, readonly memory: WebAssembly.Memory,
              private readonly batchSize: number) {
    const arena = new Arena(memory, k.heapBase());
    this.arena = arena;
    this.mem = { views: new MemoryViews(memory), alloc: (bytes) => arena.alloc(bytes).ptr, free: (ptr) => arena.release(ptr) };
  }

  load(model: Uint8Array | QuantizedGraph | QuantizedModel, fileName = 'model'): InferenceModel {
    if (model instanceof Uint8Array && isFloatModelFile(model)) {
      const f = decodeFloatModelFile(model, fileName);
      return this.floatModel(f.graph, f.params, f.state, normalizationOfMeta(f.meta));
    }
    let g: QuantizedGraph;
    if (model instanceof Uint8Array) g = decodeQuantizedGraph(model, fileName);
    else if ('layers' in model) { checkQuantizedModel(model, 'load'); g = graphOfQuantizedModel(model); }
    else { checkQuantizedGraph(model, 'load'); g = model; }
    return new LoadedModel('int8', this.k, this.mem, int8Program(this.mem, this.k, g), this.batchSize, normalizationOfMeta(g.meta));
  }

  predict(model: Uint8Array | QuantizedGraph | QuantizedModel, x: Float32Array, rows: number): Float32Array {
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
    const graph = compileLayers([sizes[0]!], mlpLayers(sizes), (p) => { throw new RangeError(`${op}: ${p}`); });
    if (!(params instanceof Float32Array) || params.length !== graph.paramCount) {
      throw new RangeError(`${op}: params must be a Float32Array of ${graph.paramCount} values for sizes ${sizes.join('-')}`);
    }
    const m = this.floatModel(graph, params, new Float32Array(0), null);
    try {
      return m.predict(x, rows);
    } finally {
      m.free();
    }
  }

  /** A float32 graph with its parameters and state copied into module memory. */
  private floatModel(graph: Parameters<typeof floatProgram>[1], params: Float32Array, state: Float32Array,
                     normalization: InputNormalization | null): InferenceModel {
    const views = this.mem.views;
    const P = this.mem.alloc(Math.max(16, 4 * params.length));
    let S: Ptr = 0;
    try {
      views.f32.set(params, P >>> 2);
      if (state.length > 0) {
        S = this.mem.alloc(4 * state.length);
        views.f32.set(state, S >>> 2);
      }
      const program = floatProgram(this.mem, graph, P, S);
      program.owned.push(P);
      if (S) program.owned.push(S);
      return new LoadedModel('float32', this.k, this.mem, program, this.batchSize, normalization);
    } catch (e) {
      this.mem.free(P);
      if (S) this.mem.free(S);
      throw e;
    }
  }
}

class LoadedModel implements InferenceModel {
  readonly inputShape: readonly number[];
  readonly inputSize: number;
  readonly classes: number;
  private readonly runner: ProgramRunner;
  private freed = false;

  constructor(readonly kind: 'int8' | 'float32', k: InferKernels, private readonly mem: ProgramMemory, private readonly program: Program,
              private readonly batchSize: number, readonly normalization: InputNormalization | null) {
    this.inputShape = program.inputShape;
    this.inputSize = program.inputSize;
    this.classes = program.classes;
    this.runner = new ProgramRunner(k, mem, program);
  }

  predict(x: Float32Array, rows: number): Float32Array {
    if (this.freed) throw new RangeError('predict: the model has been freed');
    if (!Number.isInteger(rows) || rows < 0) throw new RangeError(`predict: rows must be a non-negative integer, got ${String(rows)}`);
    if (!(x instanceof Float32Array)) throw new RangeError('predict: x must be a Float32Array');
    if (x.length !== rows * this.inputSize) {
      throw new RangeError(`predict: x has ${x.length} values but ${rows} rows of ${this.inputSize} inputs need ${rows * this.inputSize}`);
    }
    return this.runner.predict(x, rows, this.batchSize);
  }

  predictRaw(x: Uint8Array | Float32Array, rows: number): Float32Array {
    if (!(x instanceof Uint8Array || x instanceof Float32Array)) throw new RangeError('predictRaw: x must be a Uint8Array or a Float32Array');
    return this.predict(prepareInputs(x, this.normalization), rows);
  }

  free(): void {
    if (this.freed) return;
    this.freed = true;
    this.runner.release();
    freeProgram(this.mem, this.program);
  }
}
