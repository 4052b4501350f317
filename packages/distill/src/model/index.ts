// createModel: the one factory of models. Every spec — a graph, a preset, an MLP — becomes a
// Model over the same layer graph (./model.ts); `Mlp` is the MLP seen through that lens.
import type { Core } from '@retort/core-wasm';
import { Mlp } from './mlp.js';
import { Model } from './model.js';
import { parseModelSpec, type ModelSpec } from './spec.js';

/** A model for `spec` (JSON text, a short form, or an object); its input shape must be known. */
export function createModel(core: Core, spec: ModelSpec | string | object): Model {
  const parsed = parseModelSpec(spec);
  return parsed.type === 'mlp' ? new Mlp(core, parsed) : new Model(core, parsed);
}

export { Model, type Mode, type TapRef } from './model.js';
export { Mlp, isMlp } from './mlp.js';
