// `retort info FILE`: what a file holds: a Retort model, checkpoint or int8 model, an IDX file or
// a .npy file (by magic bytes), or an ONNX, safetensors or TF.js model.json file (by name), or the
// index.json of a dataset or of teacher outputs in shards.
import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { decodeQuantizedGraph, formatModelSpec, paramCount, quantizedModelSize, type ModelSpec } from '@retort/distill';
import { datasetShardsIndexPath, readIdxFile, readModelFile, readNpyFile, readSafetensorsFile, ShardedDataset, ShardedLogitTable } from '@retort/distill/node';
import { graphShapes, isFloatModelFile, isQuantizedModelFile, type QuantizedOp } from '@retort/core-wasm/format';
import type { Io } from '../program.js';

const NPY_MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];

type Info = Record<string, unknown> & { kind: string };

export async function infoCommand(file: string, flags: { json?: boolean }, io: Io): Promise<number> {
  const path = resolve(file);
  const head = readHead(file, path);
  const info = await describeInterop(file, path, head) ?? describe(file, path, head);
  if (flags.json) io.out(JSON.stringify(info));
  else for (const line of infoLines(info)) io.out(line);
  return 0;
}

function readHead(file: string, path: string): Uint8Array {
  let fd: number;
  try {
    if (!statSync(path).isFile()) throw new RangeError(`${file}: not a regular file`);
    fd = openSync(path, 'r');
  } catch (e) {
    if (e instanceof RangeError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new RangeError(`${file}: ${code === 'ENOENT' ? 'no such file' : `cannot open (${code ?? (e as Error).message})`}`);
  }
  try {
    const head = new Uint8Array(8);
    const n = readSync(fd, head, 0, 8, 0);
    return head.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

const startsWith = (head: Uint8Array, magic: number[]): boolean => head.length >= magic.length && magic.every((b, i) => head[i] === b);

function describe(file: string, path: string, head: Uint8Array): Info {
  const bytes = statSync(path).size;
  if (isFloatModelFile(head)) {
    const m = readModelFile(path);
    const checkpoint = m.meta.kind === 'checkpoint';
    return {
      kind: checkpoint ? 'retort-checkpoint' : 'retort-model', file: path, bytes, version: m.version,
      spec: m.spec, shortSpec: formatModelSpec(m.spec), params: paramCount(m.spec),
      tensors: Object.entries(m.tensors).map(([name, t]) => ({ name, shape: t.shape, values: t.data.length })),
      meta: checkpoint ? { ...m.meta, history: `${Array.isArray(m.meta.history) ? m.meta.history.length : 0} epochs` } : m.meta,
    };
  }
  if (startsWith(head, NPY_MAGIC)) {
    const a = readNpyFile(path);
    return { kind: 'npy', file: path, bytes, dtype: a.dtype, shape: a.shape, ...(a.dtype === 'f4' || a.dtype === 'f8' ? floatStats(a.data) : intRange(a.data)) };
  }
  if (head.length >= 4 && head[0] === 0 && head[1] === 0) {
    const a = readIdxFile(path);
    return { kind: 'idx', file: path, bytes, type: a.type, dims: a.dims, ...(a.type === 'f32' || a.type === 'f64' ? floatStats(a.data) : intRange(a.data)) };
  }
  if (head[0] === 0x1f && head[1] === 0x8b) throw new RangeError(`${file}: gzip-compressed; decompress it first (gunzip)`);
  const hex = [...head.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  throw new RangeError(`${file}: not a Retort model, IDX or .npy file, nor an int8 model, .safetensors, .onnx or TF.js model.json (magic bytes ${hex || 'none: empty file'})`);
}

/** The formats Retort reads beyond its own: int8 models, ONNX, safetensors, TF.js model.json. */
async function describeInterop(file: string, path: string, head: Uint8Array): Promise<Info | null> {
  const bytes = statSync(path).size;
  if (isQuantizedModelFile(head)) {
    const q = decodeQuantizedGraph(new Uint8Array(readFileSync(path)), basename(path));
    const size = quantizedModelSize(q);
    const shapes = graphShapes(q.input, q.ops, (p) => { throw new RangeError(p); });
    return { kind: 'retort-int8', file: path, bytes, version: q.version, spec: q.spec, shortSpec: formatModelSpec(q.spec as ModelSpec),
      params: paramCount(q.spec as ModelSpec), input: q.input, calibration: q.calibration ?? null,
      ops: q.ops.map((o, i) => describeOp(o, shapes[i]!, o.inputs[0]! < 0 ? q.input : shapes[o.inputs[0]!]!)), size };
  }
  if (/\.onnx$/i.test(path)) {
    const { readOnnxFile, readOnnxTextExportInfo } = await import('@retort/distill/interop');
    const text = readOnnxTextExportInfo(path); // a text model's export: described, not imported
    if (text) return { kind: 'onnx-text', file: path, bytes, ...text };
    const m = readOnnxFile(path);
    return { kind: 'onnx', file: path, bytes, producer: m.producer, spec: m.spec, shortSpec: formatModelSpec(m.spec), params: paramCount(m.spec),
      normalization: m.normalization, notes: m.notes };
  }
  if (/\.safetensors$/i.test(path)) {
    const f = readSafetensorsFile(path);
    return { kind: 'safetensors', file: path, bytes, metadata: f.metadata,
      tensors: Object.entries(f.tensors).map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape, ...floatStats(t.data) })) };
  }
  if (/\.json$/i.test(path)) {
    // the indexes of data and teacher outputs in shards (opening them checks every shard's header)
    if (datasetShardsIndexPath(path)) {
      const d = ShardedDataset.open(path);
      return { kind: 'dataset-shards', file: path, bytes, sampleShape: d.sampleShape, dtype: d.index.dtype, classes: d.classes, classNames: d.index.classNames ?? null,
        trainRows: d.rows, trainShards: d.train.length, testRows: d.test.reduce((n, x) => n + x.rows, 0), testShards: d.test.length };
    }
    if (readFileSync(path, 'utf8').slice(0, 4096).includes('retort-teacher-outputs')) {
      const t = ShardedLogitTable.open(path);
      return { kind: 'teacher-outputs', file: path, bytes, outputs: t.index.kind, ...(t.index.k !== undefined ? { k: t.index.k } : {}), rows: t.rows, classes: t.classes,
        shards: t.index.shards.length, tailMeans: t.temperatureAware };
    }
    const { readTfjsModel } = await import('@retort/distill/interop');
    const m = readTfjsModel(path);
    const topo = m.modelJson.modelTopology as { class_name?: string; config?: { layers?: { class_name?: string }[] } | { class_name?: string }[] };
    const layers = Array.isArray(topo.config) ? topo.config : topo.config?.layers ?? [];
    return { kind: 'tfjs', file: path, bytes, modelClass: topo.class_name ?? 'unknown', layers: layers.map((l) => l.class_name ?? '?'),
      weights: (m.artifacts.weightSpecs ?? []).map((w) => ({ name: w.name, shape: w.shape, dtype: w.dtype })) };
  }
  return null;
}

interface OpInfo { op: string; name?: string; inputs: number[]; shape: number[]; inputScale?: number }

/** One op of an int8 graph in a line: what it computes, in the spec's terms. */
function describeOp(o: QuantizedOp, shape: readonly number[], inShape: readonly number[]): OpInfo {
  const pair = (p: [number, number]): string => (p[0] === p[1] ? String(p[0]) : `${p[0]}x${p[1]}`);
  let op: string = o.type;
  if (o.type === 'dense') op = `int8 dense ${o.units}${o.relu ? ' + relu' : ''}`;
  else if (o.type === 'conv') {
    const kind = o.groups === 1 ? 'conv' : o.groups === inShape[inShape.length - 1] ? 'depthwise conv' : `conv groups ${o.groups}`;
    op = `int8 ${kind} ${o.kernel[0]}x${o.kernel[1]}/${pair(o.stride)} ${o.padding} -> ${o.filters}${o.relu ? ' + relu' : ''}`;
  } else if (o.type === 'maxPool2d' || o.type === 'avgPool2d') op = `${o.type} ${o.size[0]}x${o.size[1]}/${pair(o.stride)} ${o.padding}`;
  else if (o.type === 'affine') op = 'affine (unfolded batch norm)';
  const out: OpInfo = { op: o.name ? `${op} '${o.name}'` : op, inputs: o.inputs, shape: [...shape] };
  if (o.name) out.name = o.name;
  if (o.type === 'dense' || o.type === 'conv') out.inputScale = o.inputScale;
  return out;
}

function floatStats(data: ArrayLike<number>): Record<string, number | null> {
  let min = Infinity, max = -Infinity, nan = 0, inf = 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (Number.isNaN(v)) nan++;
    else {
      if (!Number.isFinite(v)) inf++;
      if (v < min) min = v;
      if (v > max) max = v;
    }
  }
  // min/max over the non-NaN values (null when there are none)
  return { min: min === Infinity ? null : min, max: max === -Infinity ? null : max, nanCount: nan, infCount: inf };
}

function intRange(data: ArrayLike<number>): Record<string, number | null> {
  let min = Infinity, max = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return data.length > 0 ? { min, max } : { min: null, max: null };
}

function infoLines(info: Info): string[] {
  const lines = [`file: ${String(info.file)} (${Number(info.bytes).toLocaleString('en-US')} bytes)`];
  switch (info.kind) {
    case 'retort-model':
    case 'retort-checkpoint': {
      lines.push(`type: Retort ${info.kind === 'retort-checkpoint' ? 'checkpoint' : 'model'}, format version ${String(info.version)}`);
      lines.push(`spec: ${String(info.shortSpec)}  ${JSON.stringify(info.spec)}`);
      lines.push(`parameters: ${Number(info.params).toLocaleString('en-US')}`);
      lines.push('tensors:');
      for (const t of info.tensors as { name: string; shape: number[]; values: number }[]) {
        lines.push(`  ${t.name.padEnd(20)} [${t.shape.join(', ')}]`.padEnd(44) + ` ${t.values.toLocaleString('en-US')} values`);
      }
      lines.push(`meta: ${JSON.stringify(info.meta)}`);
      break;
    }
    case 'retort-int8': {
      const ops = info.ops as OpInfo[];
      const int8 = ops.filter((o) => o.inputScale !== undefined).length;
      lines.push(`type: Retort int8 model (for @retort/core-wasm/infer), spec ${String(info.shortSpec)}, ${Number(info.params).toLocaleString('en-US')} parameters`);
      lines.push(`format version ${String(info.version)}; input [${(info.input as number[]).join(', ')}]; ${ops.length} ops, ${int8} of them int8` +
        (info.calibration ? `; activation scales: ${JSON.stringify(info.calibration)}` : ''));
      lines.push(`bytes by part: ${JSON.stringify(info.size)}`);
      for (const [i, o] of ops.entries()) {
        const scale = o.inputScale !== undefined ? `, input scale ${o.inputScale}` : '';
        lines.push(`  ${String(i).padStart(3)}  ${o.op.padEnd(52)} <- ${o.inputs.map((j) => (j < 0 ? 'input' : String(j))).join(' + ')}  -> [${o.shape.join(', ')}]${scale}`);
      }
      break;
    }
    case 'onnx':
      lines.push(`type: ONNX model (producer ${String(info.producer) || 'unknown'}), as a Retort MLP ${String(info.shortSpec)}, ${Number(info.params).toLocaleString('en-US')} parameters`);
      if (info.normalization) lines.push(`input normalisation: ${JSON.stringify(info.normalization)}`);
      for (const n of info.notes as string[]) lines.push(`note: ${n}`);
      break;
    case 'onnx-text':
      lines.push(`type: ONNX export of a Retort text model (producer ${String(info.producer) || 'unknown'}, opset ${String(info.opset)}, ${String(info.nodes)} nodes); it does not import back`);
      lines.push(`input: [${(info.input as unknown[]).join(', ')}] (${String(info.layout)}); output: [${(info.output as unknown[]).join(', ')}] logits`);
      lines.push(`spec: ${String(info.spec)}; tokenizer in the metadata: ${info.tokenizer ? 'yes (retort.tokenizer)' : 'no'}`);
      break;
    case 'safetensors':
      lines.push('type: safetensors');
      for (const t of info.tensors as { name: string; dtype: string; shape: number[]; min: number | null; max: number | null; nanCount: number; infCount: number }[]) {
        lines.push(`  ${t.name} ${t.dtype} [${t.shape.join(', ')}]  min ${String(t.min)}, max ${String(t.max)}, NaN ${t.nanCount}, Inf ${t.infCount}`);
      }
      if (Object.keys(info.metadata as object).length) lines.push(`metadata: ${JSON.stringify(info.metadata)}`);
      break;
    case 'tfjs':
      lines.push(`type: TensorFlow.js LayersModel (${String(info.modelClass)}), layers: ${(info.layers as string[]).join(', ')}`);
      for (const w of info.weights as { name: string; shape: number[]; dtype: string }[]) lines.push(`  ${w.name} ${w.dtype} [${w.shape.join(', ')}]`);
      break;
    case 'dataset-shards':
      lines.push(`type: a dataset in shards, ${String(info.dtype)} samples of ${(info.sampleShape as number[]).join('x')}, ${String(info.classes)} classes` +
        `${info.classNames ? ` (${(info.classNames as string[]).join(', ')})` : ''}`);
      lines.push(`train: ${Number(info.trainRows).toLocaleString('en-US')} rows in ${String(info.trainShards)} shards; test: ${Number(info.testRows).toLocaleString('en-US')} rows in ${String(info.testShards)} shards`);
      break;
    case 'teacher-outputs':
      lines.push(`type: teacher outputs in shards, ${info.outputs === 'topk' ? `top-${String(info.k)} logits${info.tailMeans ? ' with tail means' : ''}` : 'full logits'} of ${String(info.classes)} classes`);
      lines.push(`rows: ${Number(info.rows).toLocaleString('en-US')} in ${String(info.shards)} shards`);
      break;
    case 'npy':
      lines.push(`type: .npy array, dtype ${String(info.dtype)}, shape [${(info.shape as number[]).join(', ')}]`);
      lines.push(rangeLine(info));
      break;
    default:
      lines.push(`type: IDX file, element type ${String(info.type)}, dims ${(info.dims as number[]).join('x')}`);
      lines.push(rangeLine(info));
  }
  return lines;
}

function rangeLine(info: Info): string {
  const r = `min ${String(info.min)}, max ${String(info.max)}`;
  return 'nanCount' in info ? `${r}, NaN ${String(info.nanCount)}, Inf ${String(info.infCount)}` : r;
}
