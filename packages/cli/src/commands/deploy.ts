// Getting a student out: `retort report` (the deployment report), `retort export` (ONNX or a
// TF.js LayersModel), `retort import` (either back into a Retort model file) and
// `retort quantize` (the int8 model file the inference entry loads).
import { existsSync, mkdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { describeNorm, formatModelSpec, layerGraphOf, loadCore, quantizeModel } from '@retort/distill';
import {
  deploymentReport, loadAnyModel, modelTokenizer, normalisedRows, sampleTrainRows, renderDeploymentReport, saveModel, writeFileAtomic, writeJsonAtomic, writeTextAtomic,
} from '@retort/distill/node';
import type { BackendName } from '@retort/core-wasm';
import { UsageError } from '../errors.js';
import { dataConfigFromFlags, dataSettingsFromFlags, defaultRunDir, type DataFlags } from '../options.js';
import type { Io } from '../program.js';

export interface ReportFlags extends DataFlags { timing?: number; teacher?: string; testSize?: number; calibration?: number; out?: string; json?: boolean; backend?: 'auto' | BackendName }

export async function reportCommand(student: string, flags: ReportFlags, io: Io): Promise<number> {
  if (!flags.teacher) throw new UsageError('--teacher: required (the teacher model the student is compared with)');
  const out = resolve(flags.out ?? defaultRunDir('report'));
  if (existsSync(out)) throw new UsageError(`--out ${out}: already exists; choose a new folder`);
  const report = await deploymentReport({
    student: resolve(student), teacher: resolve(flags.teacher), ...dataSettingsFromFlags(flags),
    ...(flags.testSize ? { testSize: flags.testSize } : {}), ...(flags.calibration ? { calibration: flags.calibration } : {}),
    ...(flags.backend ? { backend: flags.backend } : {}), ...(flags.timing !== undefined ? { minSeconds: flags.timing } : {}),
  });
  mkdirSync(out, { recursive: true });
  writeJsonAtomic(join(out, 'report.json'), report);
  const md = renderDeploymentReport(report);
  writeTextAtomic(join(out, 'report.md'), md);
  if (flags.json) io.out(JSON.stringify({ ...report, out }));
  else {
    for (const line of md.trimEnd().split('\n')) io.out(line);
    io.out(`written: ${join(out, 'report.md')}, ${join(out, 'report.json')}`);
  }
  return 0;
}

export interface ExportFlags { format?: 'onnx' | 'tfjs'; out?: string; force?: boolean; backend?: 'auto' | BackendName }

export async function exportCommand(model: string, flags: ExportFlags, io: Io): Promise<number> {
  if (!flags.format) throw new UsageError('--format: required (onnx or tfjs)');
  if (!flags.out) throw new UsageError(`--out: required (a .onnx file for onnx, a folder for tfjs)`);
  const out = resolve(flags.out);
  if (existsSync(out) && !flags.force) throw new UsageError(`--out ${out}: already exists; pass --force to replace it`);
  const core = await loadCore({ backend: flags.backend ?? 'auto' });
  const loaded = await loadAnyModel(core, resolve(model));
  try {
    const m = loaded.model, norm = loaded.norm;
    // the exporters load protobufjs / tfjs: only here, not at every start of the CLI
    const { exportOnnxFile, exportTfjsModel, ONNX_OPSET, ONNX_OPSET_LAYER_NORM } = await import('@retort/distill/interop');
    const image = m.inputShape.length === 3;
    const [h, w, c] = m.inputShape;
    const text = m.graph.nodes[0]?.spec.type === 'embedding';
    let shape: string;
    if (flags.format === 'onnx') {
      mkdirSync(dirname(out), { recursive: true });
      // a text model's tokenizer (or a language model's characters) travels in the file's metadata
      const tokenizer = loaded.meta.text !== undefined ? { text: loaded.meta.text } : loaded.meta.lm !== undefined ? { lm: loaded.meta.lm } : undefined;
      exportOnnxFile(out, m, { ...(text ? {} : { normalization: norm }), ...(tokenizer ? { tokenizer } : {}) });
      const opset = m.graph.nodes.some((n) => n.spec.type === 'layerNorm') ? ONNX_OPSET_LAYER_NORM : ONNX_OPSET;
      io.out(`exported ${basename(model)} to ONNX (opset ${opset}): ${out}`);
      if (text) {
        io.out(`inputs: token ids as float32 [batch, ${m.inputSize}], -1 pads after the tokens${tokenizer ? ' (the tokenizer is in the metadata, key retort.tokenizer)' : ''}; `
          + `outputs: logits [batch, ${m.graph.outputShape.join(', ')}] (no softmax)`);
        return 0;
      }
      shape = image ? `NCHW [batch, ${c}, ${h}, ${w}] (channels first)` : `[batch, ${m.inputSize}]`;
    } else {
      const files = await exportTfjsModel(out, m, { normalization: norm });
      io.out(`exported ${basename(model)} as a TensorFlow.js LayersModel: ${files.modelJson}`);
      shape = image ? `NHWC [batch, ${h}, ${w}, ${c}] (channels last)` : `[batch, ${m.inputSize}]`;
    }
    io.out(`inputs: ${describeNorm(norm)}${typeof norm.mean === 'number' && typeof norm.std === 'number' ? '' : ' per channel'}, shape ${shape}; outputs: logits [batch, ${m.classes}] (no softmax)`);
    return 0;
  } finally {
    loaded.model.free();
  }
}

export interface ImportFlags { out?: string; force?: boolean; backend?: 'auto' | BackendName }

export async function importCommand(file: string, flags: ImportFlags, io: Io): Promise<number> {
  if (!flags.out) throw new UsageError('--out: required (the Retort model file to write)');
  const out = resolve(flags.out);
  if (existsSync(out) && !flags.force) throw new UsageError(`--out ${out}: already exists; pass --force to replace it`);
  const core = await loadCore({ backend: flags.backend ?? 'auto' });
  const loaded = await loadAnyModel(core, resolve(file));
  try {
    if (loaded.format === 'retort') throw new UsageError(`${basename(file)} is already a Retort model file`);
    mkdirSync(dirname(out), { recursive: true });
    saveModel(out, loaded.model, { kind: 'import', source: resolve(file), format: loaded.format, mean: loaded.norm.mean, std: loaded.norm.std });
    const spec = formatModelSpec(loaded.model.spec);
    io.out(`imported ${basename(file)} (${loaded.format}) as ${spec.length > 120 ? `a graph of ${loaded.model.graph.nodes.length} layers (${loaded.model.paramCount} parameters)` : spec}: ${out}`);
    const layout = loaded.layout === 'NCHW' ? `its ${loaded.format} file took NCHW images; the Retort model takes the same images channels last (NHWC), [batch, ${loaded.model.inputShape.join(', ')}]`
      : `[batch, ${loaded.model.inputShape.join(', ')}]${loaded.layout === 'NHWC' ? ' (NHWC)' : ''}`;
    io.out(`inputs: (x/255 - ${loaded.norm.mean}) / ${loaded.norm.std}, ${layout}`);
    return 0;
  } finally {
    loaded.model.free();
  }
}

export interface QuantizeFlags extends DataFlags { out?: string; force?: boolean; calibration?: number; seed?: number; backend?: 'auto' | BackendName }

export async function quantizeCommand(model: string, flags: QuantizeFlags, io: Io): Promise<number> {
  if (!flags.out) throw new UsageError('--out: required (the int8 model file to write)');
  const out = resolve(flags.out);
  if (existsSync(out) && !flags.force) throw new UsageError(`--out ${out}: already exists; pass --force to replace it`);
  const core = await loadCore({ backend: flags.backend ?? 'auto' });
  const loaded = await loadAnyModel(core, resolve(model));
  try {
    layerGraphOf(loaded.model); // a model the int8 programs cannot run is refused before any data is read
    // calibration rows held out of the training set by seed (read alone from a dataset in shards)
    const text = loaded.model.graph.nodes[0]?.spec.type === 'embedding';
    const calib = sampleTrainRows(dataConfigFromFlags(flags), flags.calibration ?? 1000, flags.seed ?? 1, text ? modelTokenizer(resolve(model)) : null);
    const ds = calib.dataset, rows = calib.indices.length;
    if (ds.features !== loaded.model.inputSize) {
      throw new RangeError(`${basename(model)} takes ${loaded.model.inputSize} inputs but ${ds.name} samples have ${ds.features}`);
    }
    const q = quantizeModel(core, loaded.model, normalisedRows(calib, loaded.norm),
      { meta: { source: basename(model), mean: loaded.norm.mean, std: loaded.norm.std, calibrationRows: rows, ...(loaded.meta.text !== undefined ? { text: loaded.meta.text } : {}) } });
    try {
      mkdirSync(dirname(out), { recursive: true });
      writeFileAtomic(out, q.encode());
      const s = q.size;
      const ops = q.model.ops, int8 = ops.filter((o) => o.type === 'dense' || o.type === 'conv' || o.type === 'conv1d').length;
      const folded = loaded.model.graph.nodes.filter((n) => n.spec.type === 'batchNorm').length - ops.filter((o) => o.type === 'affine').length;
      io.out(`quantized ${basename(model)} to int8: ${out} (${s.total} bytes; float32 weights ${s.float32} bytes, ${s.ratio.toFixed(2)}x smaller); ` +
        `${int8} int8 layers${text ? ' and the embedding table as int8 rows' : ''}${folded > 0 ? `, ${folded} batch norms folded into them` : ''}; ` +
        `activation scales from ${rows} held-out training ${text ? 'texts' : 'images'}`);
    } finally {
      q.free();
    }
    return 0;
  } finally {
    loaded.model.free();
  }
}
