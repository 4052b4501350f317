// Checkpoints (Node): the model file format (parameters and batch-norm running statistics) with
// extra tensors for the optimizer state and the trainer's position in `meta`. Written atomically, so a run killed at any
// moment leaves either the previous checkpoint or the new one, never half of one.
import { basename } from 'node:path';
import { encodeModelFileParts, ModelFormatError, type NamedTensor } from '../format/model-file.js';
import { modelTensors, paramsFromTensors, readModelFile, stateFromTensors } from '../format/model-io.js';
import { compileSpec } from '../model/spec.js';
import { writeFileAtomic } from '../io/atomic.js';
import type { ModelSpec } from '../model/spec.js';
import type { AuxState, EpochMetrics, TrainerState } from '../train/trainer.js';

const OPT_PREFIX = 'optimizer.';
const AUX_PREFIX = 'aux.';

export function saveCheckpoint(path: string, spec: ModelSpec, state: TrainerState, configHash: string): void {
  const tensors: Record<string, NamedTensor> = { ...modelTensors(spec, state.params, state.state) };
  for (const [name, data] of Object.entries(state.optimizer.buffers)) {
    tensors[OPT_PREFIX + name] = { shape: [data.length], data };
  }
  // peers and hint regressors: aux.<name>.params and aux.<name>.opt.<buffer>
  for (const a of state.aux ?? []) {
    tensors[`${AUX_PREFIX}${a.name}.params`] = { shape: [a.params.length], data: a.params };
    if (a.state) tensors[`${AUX_PREFIX}${a.name}.state`] = { shape: [a.state.length], data: a.state };
    for (const [name, data] of Object.entries(a.optimizer.buffers)) tensors[`${AUX_PREFIX}${a.name}.opt.${name}`] = { shape: [data.length], data };
  }
  const meta = {
    kind: 'checkpoint', epoch: state.epoch, step: state.step, optimizerStep: state.optimizer.step,
    history: state.history, configHash,
    ...(state.aux?.length ? { aux: state.aux.map((a) => ({ name: a.name, optimizerStep: a.optimizer.step })) } : {}),
  };
  writeFileAtomic(path, encodeModelFileParts({ spec, tensors, meta }));
}

export interface LoadedCheckpoint { spec: ModelSpec; state: TrainerState; configHash: string }

export function loadCheckpoint(path: string): LoadedCheckpoint {
  const name = basename(path);
  const file = readModelFile(path);
  const m = file.meta;
  if (m.kind !== 'checkpoint') throw new ModelFormatError(name, 'is a model file, not a checkpoint');
  const int = (k: string): number => {
    const v = m[k];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new ModelFormatError(name, `checkpoint field '${k}' is missing or not a count`);
    return v;
  };
  if (!Array.isArray(m.history) || typeof m.configHash !== 'string') throw new ModelFormatError(name, 'checkpoint history or config hash missing');
  const buffers: Record<string, Float32Array> = {};
  for (const [tname, t] of Object.entries(file.tensors)) {
    if (tname.startsWith(OPT_PREFIX)) buffers[tname.slice(OPT_PREFIX.length)] = t.data;
  }
  const aux: AuxState[] = [];
  if (m.aux !== undefined) {
    if (!Array.isArray(m.aux)) throw new ModelFormatError(name, "checkpoint field 'aux' is not a list");
    for (const entry of m.aux as unknown[]) {
      const e = entry as { name?: unknown; optimizerStep?: unknown };
      if (typeof e.name !== 'string' || typeof e.optimizerStep !== 'number' || !Number.isSafeInteger(e.optimizerStep) || e.optimizerStep < 0) {
        throw new ModelFormatError(name, "checkpoint field 'aux' holds a malformed entry");
      }
      const params = file.tensors[`${AUX_PREFIX}${e.name}.params`];
      if (!params) throw new ModelFormatError(name, `checkpoint lacks the parameters of ${e.name}`);
      const prefix = `${AUX_PREFIX}${e.name}.opt.`;
      const bufs: Record<string, Float32Array> = {};
      for (const [tname, t] of Object.entries(file.tensors)) if (tname.startsWith(prefix)) bufs[tname.slice(prefix.length)] = t.data;
      const auxState = file.tensors[`${AUX_PREFIX}${e.name}.state`];
      aux.push({ name: e.name, params: params.data, optimizer: { step: e.optimizerStep, buffers: bufs }, ...(auxState ? { state: auxState.data } : {}) });
    }
  }
  return {
    spec: file.spec,
    configHash: m.configHash,
    state: {
      epoch: int('epoch'), step: int('step'),
      params: paramsFromTensors(file.spec, file.tensors, name),
      ...(compileSpec(file.spec).stateCount > 0 ? { state: stateFromTensors(file.spec, file.tensors, name) } : {}),
      optimizer: { step: int('optimizerStep'), buffers },
      history: m.history as EpochMetrics[],
      ...(aux.length ? { aux } : {}),
    },
  };
}
