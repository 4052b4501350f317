// An int8 model resident in a core: the quantized graph (./quantize.ts) as @retort/core-wasm's
// int8 program (weights packed once), run by the same forward pass as the inference entry
// (@retort/core-wasm/infer), so a model gives the same logits here and there. Its kernels are
// exact or specified as f32 operations, so the logits are also the same bits on simd, scalar and
// js (for graphs with layer norm or GELU: on simd and scalar; see @retort/core-wasm's forward.ts).
import { ProgramRunner, freeProgram, int8Program, type Core, type Program, type ProgramMemory, type Tensor } from '@retort/core-wasm';
import { checkQuantizedGraph, quantizedModelSize, type QuantizedGraph, type QuantizedSize } from '@retort/core-wasm/format';
import { parseModelSpec, type ModelSpec } from '../model/spec.js';
import { decodeQuantizedGraph, encodeQuantizedGraph } from './format.js';

export class Int8Model {
  /** The float model's spec (an MLP, a preset or a graph). */
  readonly spec: ModelSpec;
  /** The portable int8 graph (ops with int8 weights, scales, biases, activation scales): what encode() writes. */
  readonly model: QuantizedGraph;
  readonly inputShape: readonly number[];
  readonly inputSize: number;
  readonly classes: number;
  private readonly program: Program;
  private readonly runner: ProgramRunner;
  private readonly mem: ProgramMemory;
  private freed = false;

  constructor(readonly core: Core, model: QuantizedGraph) {
    checkQuantizedGraph(model, 'Int8Model');
    this.spec = parseModelSpec(model.spec);
    this.model = model;
    this.mem = coreMemory(core);
    this.program = int8Program(this.mem, core.kernels, model);
    this.runner = new ProgramRunner(core.kernels, this.mem, this.program);
    this.inputShape = this.program.inputShape;
    this.inputSize = this.program.inputSize;
    this.classes = this.program.classes;
  }

  /** Loads an int8 model file (either version) into `core`. Throws ModelFormatError. */
  static decode(core: Core, bytes: Uint8Array, fileName = 'model'): Int8Model {
    return new Int8Model(core, decodeQuantizedGraph(bytes, fileName));
  }

  /** (rows, classes) f32 logits for x, (rows, inputSize) f32 row-major (normalised like the training inputs; NHWC images). */
  predict(x: Float32Array, rows: number, opts: { batchSize?: number } = {}): Float32Array {
    this.alive();
    const op = 'Int8Model.predict';
    if (!Number.isInteger(rows) || rows < 0) throw new RangeError(`${op}: rows must be a non-negative integer, got ${String(rows)}`);
    if (!(x instanceof Float32Array) || x.length !== rows * this.inputSize) {
      throw new RangeError(`${op}: x must be a Float32Array of ${rows} rows x ${this.inputSize} inputs = ${rows * this.inputSize} values, got ${(x as { length?: number })?.length}`);
    }
    const batch = opts.batchSize ?? 256;
    if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`${op}: batchSize must be a positive integer, got ${String(opts.batchSize)}`);
    return this.runner.predict(x, rows, batch);
  }

  /** Bytes of the model by part (int8 weights, f32 scales, biases, activation scales, f32 parameters of the other ops) vs float32. */
  get size(): QuantizedSize { return quantizedModelSize(this.model); }

  /** The int8 model file (format version 2). */
  encode(): Uint8Array { return encodeQuantizedGraph(this.model); }

  /** Frees the module memory; the model is unusable afterwards. */
  free(): void {
    if (this.freed) return;
    this.freed = true;
    this.runner.release();
    freeProgram(this.mem, this.program);
  }

  private alive(): void {
    if (this.freed) throw new RangeError('Int8Model: the model has been freed');
  }
}

/** Module memory of `core` for a program, allocated as tensors. */
export function coreMemory(core: Core): ProgramMemory {
  const live = new Map<number, Tensor>();
  return {
    views: core.views,
    alloc: (bytes) => { const t = core.allocI8(bytes); live.set(t.ptr, t); return t.ptr; },
    free: (ptr) => { const t = live.get(ptr); if (!t) throw new RangeError(`free: offset ${ptr} is not a program buffer`); live.delete(ptr); core.free(t); },
  };
}

