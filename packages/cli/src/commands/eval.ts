// `retort eval MODEL`: test-set metrics of a model file (Retort, ONNX or a TF.js MLP) (errors, accuracy, per-class
// errors, confusion, calibration; agreement when a teacher is given).
import type { BackendName } from '@retort/core-wasm';
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { confusionLines, evaluateView, formatModelSpec, fullView, loadCore, predictLogits, slice, type EvalReport, type InputNorm, type Model, normFromMeta } from '@retort/distill';
import { loadAnyModel, loadTestSet, modelTokenizer, readModelFile } from '@retort/distill/node';
import { dataConfigFromFlags, type DataFlags } from '../options.js';
import type { Io } from '../program.js';

export interface EvalFlags extends DataFlags {
  testSize?: number;
  teacher?: string;
  json?: boolean;
  backend?: 'auto' | BackendName;
}

export async function evalCommand(modelPath: string, flags: EvalFlags, io: Io): Promise<number> {
  const path = resolve(modelPath);
  const dataConfig = dataConfigFromFlags(flags);
  const core = await loadCore({ backend: flags.backend ?? 'auto' });
  const loaded = await loadAnyModel(core, path);
  const model = loaded.model;
  const norm = loaded.format === 'retort' ? normalisationOf(path) : loaded.norm;
  let teacher: Model | null = null;
  try {
    if (flags.teacher) {
      teacher = (await loadAnyModel(core, resolve(flags.teacher))).model;
      if (teacher.classes !== model.classes) {
        throw new RangeError(`teacher ${flags.teacher} has ${teacher.classes} classes but ${basename(path)} has ${model.classes}`);
      }
      if (teacher.inputSize !== model.inputSize) {
        throw new RangeError(`teacher ${flags.teacher} takes ${teacher.inputSize} inputs but ${basename(path)} takes ${model.inputSize}`);
      }
    }
    // text: tokenised as the model was trained (the tokenizer saved in its file)
    const { test } = loadTestSet(dataConfig, modelTokenizer(path));
    if (model.inputSize !== test.features) {
      throw new RangeError(`${basename(path)} takes ${model.inputSize} inputs but ${test.name} samples have ${test.features} features (${test.sampleShape.join('x')})`);
    }
    if (model.classes < test.classes) throw new RangeError(`${basename(path)} outputs ${model.classes} classes but ${test.name} has ${test.classes}`);
    const view = flags.testSize ? slice(fullView(test), Math.min(flags.testSize, test.count)) : fullView(test);
    const teacherLogits = teacher ? predictLogits(core, teacher, view, norm) : undefined;
    const report = evaluateView(core, model, view, norm, teacherLogits);
    const result = {
      model: path, spec: formatModelSpec(model.spec), params: model.paramCount, data: test.name, backend: core.backend,
      ...(flags.teacher ? { teacher: resolve(flags.teacher) } : {}), ...report,
    };
    if (flags.json) io.out(JSON.stringify(result));
    else for (const line of evalLines(result)) io.out(line);
    return 0;
  } finally {
    model.free();
    teacher?.free();
  }
}

/**
 * The input normalisation the model was trained with: the file's meta if it records one,
 * else the config.json of the run directory the file sits in, else none (mean 0, std 1).
 */
function normalisationOf(path: string): InputNorm {
  const meta = readModelFile(path).meta;
  if (meta.mean !== undefined || meta.std !== undefined) return normFromMeta(meta, basename(path));
  const runConfig = join(dirname(path), 'config.json');
  if (existsSync(runConfig)) {
    try {
      const c = (JSON.parse(readFileSync(runConfig, 'utf8')) as { config?: { mean?: unknown; std?: unknown } }).config;
      if (c && (c.mean !== undefined || c.std !== undefined)) return normFromMeta(c as Record<string, unknown>, runConfig);
    } catch {
      // not a run's config: fall back to the default
    }
  }
  return { mean: 0, std: 1 };
}

const pct = (x: number): string => `${(100 * x).toFixed(2)} %`;

function evalLines(r: EvalReport & { model: string; spec: string; params: number; data: string; backend: string; teacher?: string }): string[] {
  const lines = [
    `model: ${r.model} (${r.spec}, ${r.params.toLocaleString('en-US')} parameters)`,
    `data: ${r.data}, ${r.count} samples; backend ${r.backend}`,
    `errors: ${r.errors} of ${r.count}`,
    `accuracy: ${pct(r.accuracy)}`,
    `cross-entropy: ${r.loss.toFixed(4)}`,
    `expected calibration error: ${r.ece.toFixed(4)}`,
  ];
  if (r.agreement !== undefined) lines.push(`top-1 agreement with the teacher: ${pct(r.agreement)}`);
  lines.push(`errors per true class: ${r.perClassErrors.map((e, i) => `${i}: ${e}`).join(', ')}`);
  lines.push(...confusionLines(r.confusion));
  return lines;
}
