// Optimizers over a model's flat buffers. The state buffers (SGD velocity; AdamW m and v)
// have the params' length and layout, so one kernel call steps the whole model.

import { z } from 'zod';
import type { Core, Tensor } from '@retort/core-wasm';
import { parseWith } from '../model/spec.js';

const lr = z.number({ error: 'must be a finite number >= 0' }).min(0, { error: 'must be a finite number >= 0' });
const unit = z.number({ error: 'must be a number in [0, 1)' }).min(0, { error: 'must be a number in [0, 1)' }).lt(1, { error: 'must be a number in [0, 1)' });
const nonNegative = z.number({ error: 'must be a finite number >= 0' }).min(0, { error: 'must be a finite number >= 0' });

export const adamwConfigSchema = z.strictObject({
  type: z.literal('adamw'),
  lr,
  beta1: unit.optional(),
  beta2: unit.optional(),
  eps: z.number({ error: 'must be a finite number > 0' }).positive({ error: 'must be a finite number > 0' }).optional(),
  weightDecay: nonNegative.optional(),
});

export const sgdConfigSchema = z.strictObject({
  type: z.literal('sgd'),
  lr,
  momentum: unit.optional(),
  nesterov: z.boolean({ error: 'must be true or false' }).optional(),
  weightDecay: nonNegative.optional(),
});

export const optimizerConfigSchema = z.discriminatedUnion('type', [adamwConfigSchema, sgdConfigSchema],
  { error: 'must be an object with type "adamw" or "sgd"' });

export type AdamWConfig = z.infer<typeof adamwConfigSchema>;
export type SgdConfig = z.infer<typeof sgdConfigSchema>;
export type OptimizerConfig = z.infer<typeof optimizerConfigSchema>;

/** Validates an optimizer config; errors read "optimizer.beta2: must be a number in [0, 1)". */
export function parseOptimizerConfig(input: unknown, root = 'optimizer'): OptimizerConfig {
  return parseWith(optimizerConfigSchema, input, root);
}

/** Everything needed to continue an optimizer exactly: the step count and copies of its buffers. */
export interface OptimizerState {
  step: number;
  buffers: Record<string, Float32Array>;
}

export interface Optimizer {
  readonly config: OptimizerConfig;
  readonly paramCount: number;
  /** Steps taken so far (AdamW's bias correction uses step + 1 on the next call). */
  readonly stepCount: number;
  /** One update of `params` from `grads` (both paramCount long) at learning rate `lr`. */
  step(params: Tensor<'f32'>, grads: Tensor<'f32'>, lr: number): void;
  /** A copy of the state, for checkpoints: AdamW {m, v}; SGD {velocity} (none without momentum). */
  state(): OptimizerState;
  /** Like state(), but the buffers are views into module memory: valid until the next allocation, no copy. */
  stateView(): OptimizerState;
  /** Restores a state() taken from an optimizer of the same type and paramCount. */
  load(state: OptimizerState): void;
  free(): void;
}

export function createOptimizer(core: Core, paramCount: number, config: OptimizerConfig | object): Optimizer {
  const cfg = parseOptimizerConfig(config);
  if (!Number.isInteger(paramCount) || paramCount < 1) throw new RangeError(`createOptimizer: paramCount must be a positive integer, got ${String(paramCount)}`);
  return new FlatOptimizer(core, paramCount, cfg);
}

class FlatOptimizer implements Optimizer {
  private readonly buffers: Record<string, Tensor<'f32'>> = {};
  private steps = 0;
  private freed = false;

  constructor(private readonly core: Core, readonly paramCount: number, readonly config: OptimizerConfig) {
    const names = config.type === 'adamw' ? ['m', 'v'] : (config.momentum ?? 0) > 0 ? ['velocity'] : [];
    for (const name of names) this.buffers[name] = core.alloc(paramCount);
  }

  get stepCount(): number { return this.steps; }

  step(params: Tensor<'f32'>, grads: Tensor<'f32'>, lr: number): void {
    if (this.freed) throw new RangeError('optimizer: step after free()');
    const n = this.paramCount;
    const c = this.config;
    if (c.type === 'adamw') {
      this.core.adamwStep(params, this.buffers.m!, this.buffers.v!, grads, n, {
        lr, beta1: c.beta1 ?? 0.9, beta2: c.beta2 ?? 0.999, eps: c.eps ?? 1e-8, weightDecay: c.weightDecay ?? 0, step: this.steps + 1,
      });
    } else {
      // Without momentum the kernel neither reads nor writes the velocity: grads stands in for it.
      const velocity = this.buffers.velocity ?? grads;
      this.core.sgdStep(params, velocity, grads, n, { lr, momentum: c.momentum ?? 0, weightDecay: c.weightDecay ?? 0, nesterov: c.nesterov ?? false });
    }
    this.steps++;
  }

  state(): OptimizerState {
    const buffers: Record<string, Float32Array> = {};
    for (const [name, t] of Object.entries(this.buffers)) buffers[name] = t.toArray();
    return { step: this.steps, buffers };
  }

  stateView(): OptimizerState {
    if (this.freed) throw new RangeError('optimizer: stateView after free()');
    const buffers: Record<string, Float32Array> = {};
    for (const [name, t] of Object.entries(this.buffers)) buffers[name] = t.view();
    return { step: this.steps, buffers };
  }

  load(state: OptimizerState): void {
    if (!Number.isInteger(state.step) || state.step < 0) throw new RangeError(`optimizer state: step must be a non-negative integer, got ${String(state.step)}`);
    const want = Object.keys(this.buffers).sort();
    const got = Object.keys(state.buffers).sort();
    if (want.join() !== got.join()) {
      throw new RangeError(`optimizer state: ${this.config.type} needs buffers [${want.join(', ')}] but the state has [${got.join(', ')}]`);
    }
    for (const name of want) {
      const src = state.buffers[name]!;
      if (src.length !== this.paramCount) throw new RangeError(`optimizer state: buffer '${name}' has ${src.length} values, expected ${this.paramCount}`);
    }
    for (const name of want) this.buffers[name]!.set(state.buffers[name]!);
    this.steps = state.step;
  }

  free(): void {
    if (this.freed) return;
    for (const t of Object.values(this.buffers)) this.core.free(t);
    this.freed = true;
  }
}
