// Any ONNX model as a teacher: a graph Retort cannot represent as a layer graph (onnx-import.ts
// refuses its operators) runs in onnxruntime-web instead, batch by batch, for its logits. Its
// input is prepared as declared once (raw × scale − mean, / std, per channel or one value; NCHW as
// PyTorch exports take it, or NHWC), the layout read from the graph's input shape when not
// given; a graph whose input or output does not fit the data is refused before any training,
// naming both shapes. A graph ending in Softmax gives log-probabilities (the temperature then acts
// on them, as for a TF.js teacher that ends in a softmax). onnxruntime's run is asynchronous and
// a run's teacher signal is not, so `prepare` computes the logits of whole datasets up front and
// `logits(view)` reads rows of them.

import type { Dataset, DatasetView } from '../data/dataset.js';
import { DataFormatError } from '../data/errors.js';
import { Fnv1a64 } from '../data/hash.js';
import type { LogitsPredictor } from '../run/teacher-signal.js';
import type { StepTeacher } from '../train/objective.js';
import { int64, proto, q, type onnx } from './onnx-format.js';
import { decodeModelProto } from './onnx-wire.js';

export interface OnnxTeacherInput {
  /** Multiplies each raw value first; default 1/255 for u8 samples, 1 for f32. */
  scale?: number;
  /** Subtracted after scaling: one value or one per channel (the data's last axis). Default 0. */
  mean?: number | readonly number[];
  /** Divides after the mean: one value or one per channel. Default 1. */
  std?: number | readonly number[];
  /** How the graph takes images: 'nchw' (channels first, PyTorch) or 'nhwc'; default read from its input shape. */
  layout?: 'nchw' | 'nhwc';
}

/** The one input and output of a graph, as its ValueInfo declares them (null: a symbolic dim). */
interface GraphIo { input: string; inputDims: (number | null)[]; output: string; outputDims: (number | null)[] | null; softmax: boolean }

function graphIo(bytes: Uint8Array, file: string): GraphIo {
  const fail = (p: string): never => { throw new DataFormatError(file, p); };
  const g = decodeModelProto(bytes, fail).graph ?? fail('no graph (not an ONNX model, or a truncated one)');
  const inits = new Set((g.initializer ?? []).map((t) => t.name ?? ''));
  const inputs = (g.input ?? []).filter((v) => !inits.has(v.name ?? ''));
  if (inputs.length !== 1) fail(`a teacher takes one input; the graph has ${inputs.length} (${inputs.map((v) => q(v.name ?? '')).join(', ')})`);
  const outputs = g.output ?? [];
  if (outputs.length !== 1) fail(`a teacher gives one output (its logits); the graph has ${outputs.length}`);
  const dimsOf = (v: onnx.IValueInfoProto): (number | null)[] | null => {
    const shape = v.type?.tensorType?.shape;
    if (!shape) return null;
    return (shape.dim ?? []).map((d) => (d.dimValue !== undefined && d.dimValue !== null ? int64(d.dimValue) : null));
  };
  const inputDims = dimsOf(inputs[0]!) ?? fail(`input ${q(inputs[0]!.name ?? '')} declares no shape`);
  const outName = outputs[0]!.name ?? '';
  const producer = (g.node ?? []).find((n) => (n.output ?? []).includes(outName));
  return { input: inputs[0]!.name ?? '', inputDims, output: outName, outputDims: dimsOf(outputs[0]!), softmax: producer?.opType === 'Softmax' };
}

const fmt = (dims: readonly (number | null)[]): string => `[${dims.map((d) => d ?? '?').join(', ')}]`;

/** The data's sample as images (H, W, C) or a row (D). */
function sampleForm(shape: readonly number[]): { kind: 'image'; h: number; w: number; c: number } | { kind: 'row'; d: number } {
  if (shape.length === 3) return { kind: 'image', h: shape[0]!, w: shape[1]!, c: shape[2]! };
  if (shape.length === 2) return { kind: 'image', h: shape[0]!, w: shape[1]!, c: 1 };
  return { kind: 'row', d: shape.reduce((p, v) => p * v, 1) };
}

const fits = (dims: readonly (number | null)[], want: readonly number[]): boolean =>
  dims.length === want.length && dims.every((d, i) => d === null || d === want[i]);

/** How samples are laid out for the graph: NCHW, NHWC or as they are (rows, or (H, W) grey). */
function chooseLayout(dims: readonly (number | null)[], sampleShape: readonly number[], layout: OnnxTeacherInput['layout'], file: string): 'nchw' | 'nhwc' | 'flat' {
  const s = sampleForm(sampleShape);
  const per = dims.slice(1);
  const refuse = (): never => {
    throw new RangeError(`teacher ${file} takes input ${fmt(dims)} (batch first) but the data's samples are [${sampleShape.join(', ')}]` +
      (s.kind === 'image' ? ` (as NCHW [batch, ${s.c}, ${s.h}, ${s.w}], as NHWC [batch, ${s.h}, ${s.w}, ${s.c}])` : ''));
  };
  if (s.kind === 'row') return fits(per, [s.d]) ? 'flat' : refuse();
  const chw = [s.c, s.h, s.w], hwc = [s.h, s.w, s.c];
  if (layout === 'nchw') return fits(per, chw) ? 'nchw' : refuse();
  if (layout === 'nhwc') return fits(per, hwc) ? 'nhwc' : refuse();
  if (fits(per, chw)) return 'nchw'; // PyTorch's layout first when both fit (a square grey image of C = H = W, say)
  if (fits(per, hwc)) return 'nhwc';
  if (fits(per, [s.h * s.w * s.c]) || (sampleShape.length === 2 && fits(per, [s.h, s.w]))) return 'flat';
  return refuse();
}

type Ort = typeof import('onnxruntime-web');
let ortModule: Promise<Ort> | undefined;
/** onnxruntime-web, loaded on first use, one thread (the same bits on every run). */
function loadOrt(): Promise<Ort> {
  ortModule ??= import('onnxruntime-web').then((ort) => { ort.env.wasm.numThreads = 1; ort.env.logLevel = 'error'; return ort; }, (e: unknown) => {
    ortModule = undefined;
    throw new Error(`an ONNX teacher Retort cannot represent runs in onnxruntime-web, which is not installed (npm install onnxruntime-web): ${e instanceof Error ? e.message : String(e)}`);
  });
  return ortModule;
}

export class OnnxTeacher implements LogitsPredictor {
  readonly classes: number;
  private readonly computed = new Map<Dataset, Float32Array>();
  private disposed = false;

  private constructor(
    private readonly ort: Ort,
    private readonly session: import('onnxruntime-web').InferenceSession,
    readonly file: string,
    private readonly io: GraphIo,
    readonly layout: 'nchw' | 'nhwc' | 'flat',
    readonly input: OnnxTeacherInput,
    readonly sampleShape: readonly number[],
    classes: number,
    /** A hash of the graph's bytes and the input preparation (teacher-logit caches key on it). */
    readonly fingerprint: string,
    /** Intermediate tensors fetched as taps (stepTeacher). */
    readonly taps: readonly string[] = [],
  ) {
    this.classes = classes;
  }

  /**
   * A teacher from an ONNX file's bytes for samples of `sampleShape` and `classes` classes; every
   * mismatch (inputs, outputs, shapes, class count, preparation) is an error before any training.
   */
  static async load(bytes: Uint8Array, file: string, sampleShape: readonly number[], classes: number, input: OnnxTeacherInput = {},
                    taps: readonly string[] = []): Promise<OnnxTeacher> {
    const io = graphIo(bytes, file);
    const layout = chooseLayout(io.inputDims, sampleShape, input.layout, file);
    const s = sampleForm(sampleShape);
    const channels = s.kind === 'image' ? s.c : s.d;
    checkPerChannel(input.mean, channels, 'mean', false);
    checkPerChannel(input.std, channels, 'std', true);
    if (input.scale !== undefined && !(Number.isFinite(input.scale) && input.scale !== 0)) throw new RangeError(`teacherInput.scale must be a finite number other than 0, got ${input.scale}`);
    const out = io.outputDims;
    if (out && (out.length !== 2 || (out[1] !== null && out[1] !== classes))) {
      throw new RangeError(`teacher ${file} outputs ${fmt(out)} but the student has ${classes} classes (a teacher outputs [batch, ${classes}])`);
    }
    const ort = await loadOrt();
    let session: import('onnxruntime-web').InferenceSession;
    try {
      session = await ort.InferenceSession.create(taps.length ? withOutputs(bytes, file, taps) : bytes, { executionProviders: ['wasm'], logSeverityLevel: 3 });
    } catch (e) {
      if (e instanceof RangeError) throw e;
      throw new DataFormatError(file, `onnxruntime cannot load it: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
    }
    const h = new Fnv1a64();
    h.update(bytes);
    h.updateString(JSON.stringify({ layout, scale: input.scale ?? null, mean: input.mean ?? null, std: input.std ?? null }));
    return new OnnxTeacher(ort, session, file, io, layout, input, sampleShape, classes, h.digest(), [...taps]);
  }

  /**
   * This teacher run on the student's own batches inside every step, giving its logits and the
   * named intermediate tensors (`taps` of load) for hint, attention-transfer and RKD terms. The
   * batches come prepared as the student's inputs, so the teacher's preparation must be the
   * student's (the caller's check). `probe` (one prepared sample, channels last) runs once to learn
   * each tap's shape: [C, H, W] maps become [H, W, C] (channels last, as Retort's taps), others stay flat.
   */
  async stepTeacher(probe: Float32Array): Promise<StepTeacher> {
    const first = await this.runPrepared(probe, 1);
    const shapes = new Map<string, number[]>();
    for (const name of this.taps) {
      const dims = first.taps.get(name)!.dims;
      shapes.set(name, dims.length === 4 ? [dims[2]!, dims[3]!, dims[1]!] : [dims.slice(1).reduce((p, d) => p * d, 1)]);
    }
    return {
      name: this.file, classes: this.classes, tapNames: this.taps,
      tapShape: (name) => {
        const shape = shapes.get(name);
        if (!shape) throw new RangeError(`the teacher ${this.file} has no tap '${name}'; its taps are ${this.taps.join(', ') || '(none: name its tensors in the loss terms)'} and 'logits'`);
        return shape;
      },
      run: async (x, rows) => {
        const r = await this.runPrepared(x, rows);
        const taps = new Map<string, Float32Array>();
        for (const [name, t] of r.taps) taps.set(name, t.dims.length === 4 ? nchwToNhwc(t.data, t.dims) : t.data);
        return { logits: r.logits, taps };
      },
    };
  }

  /** Runs rows already prepared (channels last) through the graph: its logits and tap tensors. */
  private async runPrepared(x: Float32Array, rows: number): Promise<{ logits: Float32Array; taps: Map<string, { data: Float32Array; dims: number[] }> }> {
    if (this.disposed) throw new RangeError(`OnnxTeacher ${this.file}: disposed`);
    const F = this.sampleShape.reduce((p, d) => p * d, 1), C = this.classes;
    const s = sampleForm(this.sampleShape);
    let input = x.subarray(0, rows * F);
    if (this.layout === 'nchw' && s.kind === 'image') {
      const t = new Float32Array(rows * F), hw = s.h * s.w;
      for (let r = 0; r < rows; r++) for (let p = 0; p < hw; p++) for (let c = 0; c < s.c; c++) t[r * F + c * hw + p] = input[r * F + p * s.c + c]!;
      input = t;
    } else {
      input = input.slice();
    }
    const shape = this.feedShape(rows, F);
    let result;
    try {
      result = await this.session.run({ [this.io.input]: new this.ort.Tensor('float32', input, shape) });
    } catch (e) {
      throw new RangeError(`teacher ${this.file}: onnxruntime could not run it on ${fmt(shape)}: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
    }
    const y = result[this.io.output]!;
    const values = y.data as Float32Array;
    if (y.type !== 'float32' || values.length !== rows * C) throw new RangeError(`teacher ${this.file} returned ${y.type} ${fmt(y.dims as number[])} for ${rows} rows; a teacher returns float32 [batch, ${C}]`);
    const logits = new Float32Array(rows * C);
    for (let k = 0; k < rows * C; k++) {
      const v = values[k]!;
      if (!Number.isFinite(v) || (this.io.softmax && v < 0)) throw new RangeError(`teacher ${this.file} gave ${v} for a sample of the batch`);
      logits[k] = this.io.softmax ? Math.log(Math.max(v, 1e-45)) : v;
    }
    const taps = new Map<string, { data: Float32Array; dims: number[] }>();
    for (const name of this.taps) {
      const t = result[name];
      if (!t || t.type !== 'float32' || t.dims[0] !== rows) throw new RangeError(`teacher ${this.file}: tensor '${name}' is ${t ? `${t.type} ${fmt(t.dims as number[])}` : 'missing'}; a tap is float32 with the batch first`);
      const data = t.data as Float32Array;
      const bad = data.findIndex((v) => !Number.isFinite(v));
      if (bad >= 0) throw new RangeError(`teacher ${this.file}: tensor '${name}' holds ${data[bad]} (NaN or Inf)`);
      taps.set(name, { data, dims: [...t.dims] });
    }
    return { logits, taps };
  }

  private feedShape(rows: number, F: number): number[] {
    const s = sampleForm(this.sampleShape), dims = this.io.inputDims;
    return [rows, ...(this.layout === 'flat' ? dims.slice(1).map((d, i) => d ?? (dims.length === 2 ? F : this.sampleShape[i]!)) : this.layout === 'nchw' && s.kind === 'image' ? [s.c, s.h, s.w] : s.kind === 'image' ? [s.h, s.w, s.c] : [F])];
  }

  /** Computes (once) the logits of every sample of each dataset, `batchSize` rows per run (default 256). */
  async prepare(datasets: readonly Dataset[], batchSize = 256): Promise<void> {
    for (const ds of datasets) {
      if (this.computed.has(ds)) continue;
      this.computed.set(ds, await this.allLogits(ds, batchSize));
    }
  }

  /** The logits of every sample of `ds`, computed now and not kept (a drawing, a one-off batch). */
  logitsOf(ds: Dataset, batchSize = 256): Promise<Float32Array> {
    if (this.disposed) throw new RangeError(`OnnxTeacher ${this.file}: disposed`);
    return this.allLogits(ds, batchSize);
  }

  logits(view: DatasetView): Float32Array {
    if (this.disposed) throw new RangeError(`OnnxTeacher ${this.file}: disposed`);
    const all = this.computed.get(view.dataset);
    if (!all) throw new RangeError(`OnnxTeacher ${this.file}: ${view.dataset.name} was not prepared (call prepare first)`);
    const C = this.classes, out = new Float32Array(view.indices.length * C);
    for (let i = 0; i < view.indices.length; i++) out.set(all.subarray(view.indices[i]! * C, (view.indices[i]! + 1) * C), i * C);
    return out;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.computed.clear();
    void this.session.release();
  }

  private async allLogits(ds: Dataset, batchSize: number): Promise<Float32Array> {
    if (ds.sampleShape.join('x') !== this.sampleShape.join('x')) {
      throw new RangeError(`OnnxTeacher ${this.file}: prepared for samples [${this.sampleShape.join(', ')}], given ${ds.name} of [${ds.sampleShape.join(', ')}]`);
    }
    const F = ds.features, C = this.classes, n = ds.count;
    const s = sampleForm(ds.sampleShape);
    const ch = s.kind === 'image' ? s.c : s.d;
    const scale = this.input.scale ?? (ds.x instanceof Uint8Array ? 1 / 255 : 1);
    const mean = perChannel(this.input.mean, ch, 0), std = perChannel(this.input.std, ch, 1);
    const out = new Float32Array(n * C);
    const B = Math.max(1, Math.min(batchSize, n));
    const x = new Float32Array(B * F);
    const dims = this.io.inputDims;
    for (let start = 0; start < n; start += B) {
      const rows = Math.min(B, n - start);
      for (let r = 0; r < rows; r++) {
        const base = (start + r) * F, o = r * F;
        if (this.layout === 'nchw' && s.kind === 'image') {
          const { h, w, c: C3 } = s;
          for (let p = 0; p < h * w; p++) {
            for (let c = 0; c < C3; c++) x[o + c * h * w + p] = (ds.x[base + p * C3 + c]! * scale - mean[c]!) / std[c]!;
          }
        } else {
          for (let j = 0; j < F; j++) { const c = j % ch; x[o + j] = (ds.x[base + j]! * scale - mean[c]!) / std[c]!; }
        }
      }
      const shape = [rows, ...(this.layout === 'flat' ? dims.slice(1).map((d, i) => d ?? (dims.length === 2 ? F : ds.sampleShape[i]!)) : this.layout === 'nchw' && s.kind === 'image' ? [s.c, s.h, s.w] : s.kind === 'image' ? [s.h, s.w, s.c] : [F])];
      const feeds = { [this.io.input]: new this.ort.Tensor('float32', x.subarray(0, rows * F), shape) };
      let result;
      try {
        result = await this.session.run(feeds);
      } catch (e) {
        throw new RangeError(`teacher ${this.file}: onnxruntime could not run it on ${fmt(shape)}: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
      }
      const y = result[this.io.output] ?? Object.values(result)[0]!;
      const values = y.data as Float32Array;
      if (y.type !== 'float32' || values.length !== rows * C) {
        throw new RangeError(`teacher ${this.file} returned ${y.type} ${fmt(y.dims as number[])} for ${rows} rows; a teacher returns float32 [batch, ${C}]`);
      }
      for (let k = 0; k < rows * C; k++) {
        const v = values[k]!;
        if (!Number.isFinite(v) || (this.io.softmax && v < 0)) throw new RangeError(`teacher ${this.file} gave ${v} for sample ${start + Math.floor(k / C)} of ${ds.name}`);
        // a softmax output: log-probabilities (log of the smallest positive f32 for a 0)
        out[start * C + k] = this.io.softmax ? Math.log(Math.max(v, 1e-45)) : v;
      }
    }
    return out;
  }
}

/** [n, C, H, W] to [n, H, W, C]. */
function nchwToNhwc(data: Float32Array, dims: readonly number[]): Float32Array {
  const [n, c, h, w] = dims as [number, number, number, number];
  const out = new Float32Array(data.length), hw = h * w;
  for (let r = 0; r < n; r++) for (let ch = 0; ch < c; ch++) for (let p = 0; p < hw; p++) out[(r * hw + p) * c + ch] = data[(r * c + ch) * hw + p]!;
  return out;
}

/**
 * The graph with `names` added to its outputs, so onnxruntime returns them: each must be the
 * output of one of its nodes (an error lists some that are).
 */
function withOutputs(bytes: Uint8Array, file: string, names: readonly string[]): Uint8Array {
  const fail = (p: string): never => { throw new DataFormatError(file, p); };
  const model = decodeModelProto(bytes, fail);
  const g = model.graph!;
  const produced = new Set((g.node ?? []).flatMap((n) => n.output ?? []));
  const outputs = new Set((g.output ?? []).map((o) => o.name));
  for (const name of names) {
    if (!produced.has(name)) {
      const some = [...produced].slice(0, 8).map((n) => `'${n}'`).join(', ');
      throw new RangeError(`teacher ${file} has no tensor '${name}' to use as a tap; its nodes produce ${some}${produced.size > 8 ? `, … (${produced.size})` : ''}`);
    }
    if (!outputs.has(name)) g.output = [...(g.output ?? []), proto.ValueInfoProto.create({ name, type: { tensorType: { elemType: 1 } } })];
  }
  return proto.ModelProto.encode(model).finish();
}

function perChannel(v: number | readonly number[] | undefined, channels: number, fallback: number): number[] {
  if (v === undefined) return new Array<number>(channels).fill(fallback);
  if (typeof v === 'number') return new Array<number>(channels).fill(v);
  return v.length === 1 ? new Array<number>(channels).fill(v[0]!) : [...v];
}

function checkPerChannel(v: number | readonly number[] | undefined, channels: number, what: string, positive: boolean): void {
  if (v === undefined) return;
  const list = typeof v === 'number' ? [v] : v;
  if (list.length !== 1 && list.length !== channels) throw new RangeError(`teacherInput.${what} has ${list.length} values; the data has ${channels} channels (give one value or ${channels})`);
  if (!list.every((x) => Number.isFinite(x) && (!positive || x > 0))) throw new RangeError(`teacherInput.${what} must be finite${positive ? ' and > 0' : ''}, got ${JSON.stringify(v)}`);
}
