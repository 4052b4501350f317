// The files the inference entry reads for layer graphs: the int8 file's version 2 (an op list)
// with every kind of inconsistent header named before anything is allocated, and the float32
// model file of any graph — presets carry their expanded graph, which the dependency-free reader
// (@retort/core-wasm/format, graph.ts) compiles exactly as @retort/distill's compileGraph does.
import { beforeAll, describe, expect, it } from 'vitest';
import { loadCore, type Core } from '@retort/core-wasm';
import { compileLayers, crc32, decodeQuantizedGraph as decodeWithoutSpecSchema, readLayers } from '@retort/core-wasm/format';
import { loadInference } from '@retort/core-wasm/infer';
import { createModel } from '../../src/model/index.js';
import { compileSpec, graphOf, parseModelSpec, type ModelSpec } from '../../src/model/spec.js';
import { decodeModelFile, encodeModelFile, ModelFormatError } from '../../src/format/model-file.js';
import { modelTensors } from '../../src/format/model-io.js';
import { decodeQuantizedGraph } from '../../src/quant/format.js';
import { quantizeModel } from '../../src/quant/quantize.js';
import { CNN, bits, floatLogits, images } from './cnn.js';

/** A file with its JSON header rewritten by `edit` (and its payload by `payloadEdit`), with a VALID checksum. */
function craft(file: Uint8Array, edit: (h: Record<string, any>) => void, payloadEdit?: (p: Uint8Array, h: Record<string, any>) => void): Uint8Array {
  const view = new DataView(file.buffer, file.byteOffset);
  const H = view.getUint32(12, true);
  const header = JSON.parse(new TextDecoder().decode(file.subarray(32, 32 + H)));
  const payload = file.slice(32 + H);
  payloadEdit?.(payload, header);
  edit(header);
  let json = JSON.stringify(header);
  while ((32 + json.length) % 16) json += ' ';
  const text = new TextEncoder().encode(json);
  const out = new Uint8Array(32 + text.length + payload.length);
  out.set(file.subarray(0, 32));
  const v = new DataView(out.buffer);
  v.setUint32(12, text.length, true);
  v.setUint32(16, payload.length, true);
  out.set(text, 32);
  out.set(payload, 32 + text.length);
  v.setUint32(24, crc32(out.subarray(32), crc32(out.subarray(8, 24))), true);
  return out;
}

function problemOf(fn: () => unknown, file = 'cnn.q8'): string {
  try { fn(); } catch (e) {
    expect(e).toBeInstanceOf(ModelFormatError);
    expect((e as Error).message.startsWith(`${file}: `)).toBe(true);
    return (e as ModelFormatError).problem;
  }
  return expect.fail('decoded without error');
}

describe('the int8 file of a graph (format version 2)', () => {
  let core: Core;
  let file: Uint8Array;
  const problem = (bytes: Uint8Array): string => problemOf(() => decodeWithoutSpecSchema(bytes, 'cnn.q8'));

  beforeAll(async () => {
    core = await loadCore({ backend: 'simd' });
    const model = createModel(core, CNN);
    model.init(5);
    file = quantizeModel(core, model, images(64, 3).x).encode();
  });

  it('round-trips: the decoded graph re-encodes to the same bytes and runs the same logits', async () => {
    const g = decodeQuantizedGraph(file, 'cnn.q8');
    expect(g.version).toBe(2);
    expect(g.input).toEqual([8, 8, 2]);
    expect(g.ops.map((o) => o.name)).toEqual(['stem', 'res.depthwiseConv2d1', 'res.conv2d1', 'res', 'relu2', 'maxPool2d1', 'pooledNorm',
      'conv2d2', 'avgPool2d1', 'globalAvgPool1', 'dense1', 'dense2']);
    const { encodeQuantizedGraph } = await import('@retort/core-wasm/format');
    expect(Buffer.from(encodeQuantizedGraph(g)).equals(Buffer.from(file))).toBe(true);
    const x = images(10, 8).x;
    const inf = await loadInference();
    expect(bits(inf.predict(encodeQuantizedGraph(g), x, 10))).toEqual(bits(inf.predict(file, x, 10)));
  });

  it('truncated, corrupt or newer files are named', () => {
    for (const n of [0, 31, 40, file.length - 1]) expect(problem(file.subarray(0, n)), `truncated to ${n}`).toMatch(/truncated/);
    const flipped = file.slice();
    flipped[file.length - 20]! ^= 4;
    expect(problem(flipped)).toBe('checksum mismatch (file corrupt)');
    const newer = file.slice();
    new DataView(newer.buffer).setUint32(8, 3, true);
    expect(problem(newer)).toMatch(/int8 format version 3 is newer than this Retort reads \(2\)/);
  });

  it('op attributes and shapes that do not fit are named by op and field', () => {
    const cases: [(h: Record<string, any>) => void, RegExp][] = [
      [(h) => { h.input = [8, 8]; }, /header\.input: must be \[features\] or \[height, width, channels\]/],
      [(h) => { h.ops[7].groups = 3; }, /ops\[7\] \(conv 'conv2d2'\): 4 input channels do not split into 3 groups/],
      [(h) => { h.ops[7].padding = 'valid'; h.ops[7].kernel = 5; }, /ops\[7\] \(conv 'conv2d2'\): a 5x5 window does not fit the 4x4 input \(padding valid\)/],
      [(h) => { h.ops[7].padding = 'full'; }, /ops\[7\]\.padding: must be 'same', 'valid' or a number of pixels/],
      [(h) => { h.ops[7].stride = [0, 1]; }, /ops\[7\]\.stride\[0\]: must be an integer in \[1, /],
      [(h) => { h.ops[7].kernel = [3]; }, /ops\[7\]\.kernel: must be an integer in \[1, /],
      [(h) => { h.ops[5].size = [9, 9]; }, /ops\[5\] \(maxPool2d 'maxPool2d1'\): a 9x9 window does not fit the 8x8 input/],
      [(h) => { h.ops[3].inputs = [2, -1]; }, /ops\[3\] \(add 'res'\) adds \[8, 8, 4\] to \[8, 8, 2\]: they must match/],
      [(h) => { h.ops[3].inputs = [2]; }, /ops\[3\] \(add 'res'\)\.inputs: must list 2 earlier ops/],
      [(h) => { h.ops[2].inputs = [2]; }, /ops\[2\] \(conv 'res\.conv2d1'\)\.inputs: 2 is not an earlier op/],
      [(h) => { h.ops[2].inputs = [-2]; }, /ops\[2\]\.inputs\[0\]: must be an integer in \[-1, /],
      [(h) => { h.ops[1].groups = 1; }, /ops\[1\]\.tensors\.weights: length 36 but the op needs 144 bytes/],
      [(h) => { h.ops[6].tensors.scale.length = 12; }, /ops\[6\]\.tensors\.scale: length 12 but the op needs 16 bytes/],
      [(h) => { h.ops[6].tensors.weights = { offset: 0, length: 1 }; }, /ops\[6\]\.tensors\.weights: an affine op has no such tensor/],
      [(h) => { h.ops[9].type = 'flatten'; }, /header\.ops\[10\]\.tensors\.weights: length 48 but the op needs 192 bytes/],
      [(h) => { h.ops = h.ops.slice(0, 8); }, /header\.ops: the last op gives \[2, 2, 6\] per sample, but a model must end in flat class scores/],
      [(h) => { h.ops[0].inputScale = -1; }, /ops\[0\]\.inputScale: must be a finite f32 > 0/],
      [(h) => { h.ops[0].inputScale = 1e39; }, /ops\[0\]\.inputScale: must be a finite f32 > 0/],
      [(h) => { h.ops = []; }, /header\.ops: must be a list of 1 to 16384 ops/],
    ];
    for (const [edit, re] of cases) expect(problem(craft(file, edit)), re.source).toMatch(re);
  });

  it('values out of range in the payload are named: -128, NaN scales, non-finite affine or bias', () => {
    const at = (h: Record<string, any>, op: number, key: string): number => h.ops[op].tensors[key].offset;
    const f32 = (p: Uint8Array, offset: number, v: number): void => new DataView(p.buffer).setFloat32(offset, v, true);
    expect(problem(craft(file, () => {}, (p, h) => { p[at(h, 7, 'weights') + 5] = 0x80; }))).toMatch(/ops\[7\] \(conv 'conv2d2'\)\.weights\[5\] = -128 is outside \[-127, 127\]/);
    expect(problem(craft(file, () => {}, (p, h) => { f32(p, at(h, 1, 'scales') + 8, NaN); }))).toMatch(/ops\[1\] \(conv 'res\.depthwiseConv2d1'\)\.scales\[2\] = NaN/);
    expect(problem(craft(file, () => {}, (p, h) => { f32(p, at(h, 6, 'shift') + 4, Infinity); }))).toMatch(/ops\[6\] \(affine 'pooledNorm'\)\.shift\[1\] = Infinity is not finite/);
    expect(problem(craft(file, () => {}, (p, h) => { f32(p, at(h, 10, 'bias'), -Infinity); }))).toMatch(/ops\[10\] \(dense 'dense1'\)\.bias\[0\] = -Infinity is not finite/);
  });
});

describe('float32 model files of any graph in the inference entry', () => {
  const cases: [string, ModelSpec][] = [
    ['lenet5', parseModelSpec('lenet5:input=12x12x1,classes=3,width=0.5')],
    ['resnet8', parseModelSpec('resnet8:input=9x7x2,classes=4,width=0.25')],
    ['mobilenet-tiny', parseModelSpec('mobilenet-tiny:input=10x10x3,classes=5,width=0.25')],
    ['a graph spec', parseModelSpec(CNN)],
  ];

  it('the dependency-free graph reader compiles every preset and graph exactly as compileGraph does (text presets too)', () => {
    const more = ['lenet5:input=1x1x1,classes=2', 'resnet8:input=32x32x3,classes=100', 'mobilenet-tiny:input=28x28x1,classes=10,width=0.5', 'mlp:5-7-3',
      'transformer-s:input=12,classes=3,vocab=50', 'transformer-l:input=12,classes=3,vocab=50,layers=2,dim=32,heads=4',
      'cnn1d:input=12,classes=3,vocab=50,dim=8,width=0.25', 'bag:input=12,classes=3,vocab=50']
      .map((s) => parseModelSpec(s));
    for (const spec of [...cases.map(([, s]) => s), ...more]) {
      const g = compileSpec(spec);
      const graph = graphOf(spec);
      const fail = (p: string): never => { throw new Error(p); };
      const mine = compileLayers(graph.input!, readLayers(JSON.parse(JSON.stringify(graph.layers)), 'layers', fail), fail);
      expect(mine.classes).toBe(g.classes);
      expect([mine.paramCount, mine.stateCount]).toEqual([g.paramCount, g.stateCount]);
      expect(mine.nodes.map((n) => [n.name, n.layer.type, n.inputs, n.inShape, n.outShape, n.params, n.state]))
        .toEqual(g.nodes.map((n) => [n.name, n.spec.type, n.inputs, n.inShape, n.outShape,
          n.params.map(({ name, shape, offset, length }) => ({ name, shape, offset, length })),
          n.state.map(({ name, shape, offset, length }) => ({ name, shape, offset, length }))]));
    }
  });

  it.each(cases)('%s: the file runs with the f32 model\'s bits (simd); batch norm statistics come along', async (_name, spec) => {
    const core = await loadCore({ backend: 'simd' });
    const model = createModel(core, spec);
    model.init(9);
    if (model.state) { // running statistics that are not the initial 0 / 1, so the file's state matters
      const st = model.state.view();
      for (let i = 0; i < st.length; i++) st[i] = st[i]! + 0.25 * Math.sin(i + 1) ** 2;
    }
    const x = Float32Array.from({ length: 6 * model.inputSize }, (_, i) => Math.cos(i * 0.37));
    const f32 = floatLogits(model, x, 6);
    const file = encodeModelFile({ spec: model.spec, tensors: modelTensors(model.spec, model.readParams(), model.readState()), meta: { kind: 'train' } });
    const inf = await loadInference({ backend: 'simd' });
    const m = inf.load(file, 'student.retort');
    expect(m).toMatchObject({ kind: 'float32', inputShape: model.inputShape, classes: model.classes });
    expect(bits(m.predict(x, 6))).toEqual(bits(f32));
    m.free();
    model.free();
  });

  it('a preset file carries its expanded graph; one written without it (before) still loads in distill and is refused by the entry with a reason', async () => {
    const spec = cases[1]![1];
    const core = await loadCore({ backend: 'js' });
    const model = createModel(core, spec);
    const file = encodeModelFile({ spec, tensors: modelTensors(spec, model.readParams(), model.readState()) });
    const header = JSON.parse(new TextDecoder().decode(file.subarray(32, 32 + new DataView(file.buffer).getUint32(12, true))));
    expect(header.spec).toMatchObject({ type: 'resnet8', width: 0.25 });
    expect(header.graph).toEqual(JSON.parse(JSON.stringify(graphOf(spec))));
    const old = craft(file, (h) => { delete h.graph; });
    expect(decodeModelFile(old, 'old.retort').spec).toEqual(spec);
    const inf = await loadInference();
    expect(problemOf(() => inf.load(old, 'old.retort'), 'old.retort'))
      .toMatch(/header\.spec is a resnet8 preset saved without its expanded layer graph .* save it again to run it here/);
    // a graph whose layers are corrupt, or whose tensors disagree with it, is named
    expect(problemOf(() => inf.load(craft(file, (h) => { h.graph.layers[0].kernel = 0; }), 'bad.retort'), 'bad.retort'))
      .toMatch(/header\.graph\.layers\[0\]\.kernel: must be an integer in \[1, 1048576\], got 0/);
    expect(problemOf(() => inf.load(craft(file, (h) => { h.graph.layers.at(-1).units = 3; }), 'bad.retort'), 'bad.retort'))
      .toMatch(/tensor 'dense1\.w' has shape \[16, 4\] but the graph needs \[16, 3\]/);
    expect(problemOf(() => inf.load(craft(file, (h) => { h.graph.layers[0].filters = 5; }), 'bad.retort'), 'bad.retort'))
      .toMatch(/header\.graph: residual 'res1' adds \[9, 7, 4\] to \[9, 7, 5\]: they must match/);
    expect(problemOf(() => inf.load(craft(file, (h) => { h.graph.layers.push({ type: 'softmax' }); }), 'bad.retort'), 'bad.retort'))
      .toMatch(/header\.graph\.layers\[\d+\]\.type: unknown layer type "softmax"/);
    model.free();
  });
});
