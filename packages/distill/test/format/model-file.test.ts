import { mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCore } from '@retort/core-wasm';
import { crc32 } from '../../src/format/crc32.js';
import { FORMAT_VERSION, ModelFormatError, decodeModelFile, encodeModelFile } from '../../src/format/model-file.js';
import { loadModel, modelTensors, readModelFile, saveModel } from '../../src/format/model-io.js';
import { Mlp } from '../../src/model/mlp.js';
import { paramCount, parseModelSpec } from '../../src/model/spec.js';

const spec = parseModelSpec('mlp:5-7-3,dropout=0.1/0.5,maxnorm=2');
const params = Float32Array.from({ length: paramCount(spec) }, (_, i) => Math.sin(i) * 3);
params[0] = -0; params[1] = 1e-42; params[2] = NaN; params[3] = -Infinity;
const file = encodeModelFile({ spec, tensors: modelTensors(spec, params), meta: { epoch: 3, note: 'ünïcode' } });

function decodeError(bytes: Uint8Array): string {
  try { decodeModelFile(bytes, 'student.retort'); } catch (e) {
    expect(e).toBeInstanceOf(ModelFormatError);
    return (e as Error).message;
  }
  return expect.fail('decoded without error');
}

/** A file with an arbitrary header object and a VALID checksum, to reach the table checks. */
function craft(header: unknown, payload: Uint8Array): Uint8Array {
  let json = JSON.stringify(header);
  while ((32 + json.length) % 16) json += ' ';
  const text = new TextEncoder().encode(json);
  const out = new Uint8Array(32 + text.length + payload.length);
  out.set(file.subarray(0, 12));
  const v = new DataView(out.buffer);
  v.setUint32(12, text.length, true);
  v.setUint32(16, payload.length, true);
  out.set(text, 32);
  out.set(payload, 32 + text.length);
  v.setUint32(24, crc32(out.subarray(32), crc32(out.subarray(8, 24))), true);
  return out;
}

describe('model file format', () => {
  it('CRC-32 is the standard one', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });

  it('round-trips spec, meta and every tensor bit for bit (-0, subnormal, NaN, -Inf); the payload is 16-byte aligned', () => {
    const d = decodeModelFile(file, 'student.retort');
    expect(d.version).toBe(FORMAT_VERSION);
    expect(d.spec).toEqual(spec);
    expect(d.meta).toEqual({ epoch: 3, note: 'ünïcode' });
    expect(Object.keys(d.tensors)).toEqual(['layer0.w', 'layer0.b', 'layer1.w', 'layer1.b']);
    expect(d.tensors['layer0.w']!.shape).toEqual([5, 7]);
    const flat = new Float32Array(params.length);
    let o = 0;
    for (const t of Object.values(d.tensors)) { flat.set(t.data, o); o += t.data.length; }
    expect(Buffer.from(flat.buffer).equals(Buffer.from(params.buffer))).toBe(true);
    const headerLength = new DataView(file.buffer).getUint32(12, true);
    expect((32 + headerLength) % 16).toBe(0);
  });

  it('truncation anywhere is reported as truncation, naming the tensor when it can', () => {
    const headerEnd = 32 + new DataView(file.buffer).getUint32(12, true);
    const cuts = [0, 5, 8, 20, 31, 40, headerEnd - 1, headerEnd, headerEnd + 10, headerEnd + 5 * 7 * 4 + 3, file.length - 1];
    for (const cut of cuts) {
      const msg = decodeError(file.slice(0, cut));
      expect(msg, `cut at ${cut}`).toMatch(/^student\.retort: truncated: /);
    }
    expect(decodeError(file.slice(0, headerEnd + 10))).toBe(`student.retort: truncated: tensor 'layer0.w' needs bytes ${headerEnd}..${headerEnd + 140} but the file has ${headerEnd + 10}`);
    expect(decodeError(file.slice(0, 40))).toMatch(/truncated: the header needs bytes 32\.\.\d+ but the file has 40/);
  });

  it('a flipped bit in the header, the payload, the lengths or the checksum is a checksum mismatch', () => {
    const headerEnd = 32 + new DataView(file.buffer).getUint32(12, true);
    for (const [at, bit] of [[40, 0x04], [headerEnd - 20, 0x01], [headerEnd + 3, 0x80], [file.length - 1, 0x10], [25, 0x02]] as const) {
      const bad = file.slice();
      bad[at] = bad[at]! ^ bit;
      expect(decodeError(bad), `byte ${at}`).toBe('student.retort: checksum mismatch (file corrupt)');
    }
  });

  it('bad magic, a future version, trailing bytes and a reserved field are clear errors', () => {
    expect(decodeError(new TextEncoder().encode('\x93NUMPY..........'))).toBe('student.retort: not a Retort model file (bad magic)');
    expect(decodeError(Uint8Array.of(0x52, 0x45, 0x54, 0x41))).toBe('student.retort: not a Retort model file (bad magic)');
    const future = file.slice();
    new DataView(future.buffer).setUint32(8, FORMAT_VERSION + 1, true);
    expect(decodeError(future)).toBe(`student.retort: format version ${FORMAT_VERSION + 1} is newer than this Retort reads (${FORMAT_VERSION}); upgrade @retort/distill to load it`);
    const longer = new Uint8Array(file.length + 16);
    longer.set(file);
    expect(decodeError(longer)).toBe('student.retort: 16 unexpected bytes after the payload (file corrupt)');
    const reserved = file.slice();
    reserved[30] = 1;
    expect(decodeError(reserved)).toMatch(/reserved field/);
    const hugeHeader = file.slice();
    new DataView(hugeHeader.buffer).setUint32(12, 0x7ffffff0, true);
    expect(decodeError(hugeHeader)).toMatch(/exceeds the \d+-byte limit/);
  });

  it('checks the tensor table against the payload (with a valid checksum)', () => {
    const base = { format: 'retort-model', spec: { type: 'mlp', sizes: [2, 2] }, meta: {} };
    const payload = new Uint8Array(32);
    const t = (name: string, shape: number[], offset: number, length: number) => ({ name, dtype: 'f32', shape, offset, length });
    expect(decodeError(craft({ ...base, tensors: [t('a', [2, 2], 0, 16), t('b', [4], 8, 16)] }, payload))).toBe("student.retort: header: tensors 'a' and 'b' overlap");
    expect(decodeError(craft({ ...base, tensors: [t('a', [3, 2], 0, 16)] }, payload))).toBe("student.retort: header: tensor 'a' has shape [3, 2] (6 values, 24 bytes) but length 16");
    expect(decodeError(craft({ ...base, tensors: [t('a', [4], 24, 16)] }, payload))).toMatch(/tensor 'a' needs bytes \d+\.\.\d+ but the payload ends at \d+/);
    expect(decodeError(craft({ ...base, tensors: [t('a', [1], 0, 4), t('a', [1], 16, 4)] }, payload))).toBe("student.retort: header: tensor 'a' appears twice");
    expect(decodeError(craft({ ...base, tensors: [t('a', [1], 2, 4)] }, payload))).toMatch(/not 4-byte aligned/);
    expect(decodeError(craft({ ...base, tensors: [{ ...t('a', [1], 0, 4), dtype: 'f64' }] }, payload))).toMatch(/^student\.retort: header\.tensors\[0\]\.dtype: /);
    expect(decodeError(craft({ ...base, spec: { type: 'mlp', sizes: [2, -1] }, tensors: [] }, payload))).toBe('student.retort: header.spec.sizes[1]: must be a positive integer');
    expect(decodeError(craft('not an object', payload))).toMatch(/^student\.retort: header: /);
  });

  it('encodes and decodes a 784-1200-1200-10 model (2.4M parameters) in linear time', () => {
    const big = parseModelSpec('mlp:784-1200-1200-10');
    const p = Float32Array.from({ length: paramCount(big) }, (_, i) => i * 1e-3);
    const t0 = performance.now();
    const bytes = encodeModelFile({ spec: big, tensors: modelTensors(big, p), meta: {} });
    const d = decodeModelFile(bytes, 'big.retort');
    const ms = performance.now() - t0;
    expect(bytes.length).toBeGreaterThan(p.byteLength);
    expect(bytes.length).toBeLessThan(p.byteLength + 4096);
    expect(Buffer.from(d.tensors['layer1.w']!.data.buffer).equals(Buffer.from(p.buffer, 4 * (784 * 1200 + 1200), 4 * 1200 * 1200))).toBe(true);
    expect(ms).toBeLessThan(3000);
  });
});

describe('saveModel / loadModel', () => {
  const dir = mkdtempSync(join(tmpdir(), 'retort-model-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('saves atomically and loads an Mlp with identical parameters and outputs', async () => {
    const core = await loadCore({ backend: 'js' });
    const model = new Mlp(core, 'mlp:6-8-4,dropout=0.2/0.5');
    model.init(9);
    const path = join(dir, 'student.retort');
    saveModel(path, model, { trainedOn: 'test' });
    expect(readdirSync(dir)).toEqual(['student.retort']);
    const loaded = loadModel(core, path);
    expect(loaded.spec).toEqual(model.spec);
    expect(Buffer.from(loaded.readParams().buffer).equals(Buffer.from(model.readParams().buffer))).toBe(true);
    expect(readModelFile(path).meta).toEqual({ trainedOn: 'test' });
    // the {spec, params} form
    saveModel(join(dir, 'b.retort'), { spec: 'mlp:6-8-4', params: model.readParams() });
    expect(loadModel(core, join(dir, 'b.retort')).paramCount).toBe(model.paramCount);
  });

  it('names the file and the problem', async () => {
    const core = await loadCore({ backend: 'js' });
    expect(() => loadModel(core, join(dir, 'missing.retort'))).toThrow('missing.retort: no such file');
    const s = parseModelSpec('mlp:4-3');
    const tensors = modelTensors(s, new Float32Array(15));
    tensors['layer0.w'] = { shape: [3, 4], data: tensors['layer0.w']!.data };
    writeFileSync(join(dir, 'shape.retort'), encodeModelFile({ spec: s, tensors }));
    expect(() => loadModel(core, join(dir, 'shape.retort'))).toThrow("shape.retort: tensor 'layer0.w' has shape [3, 4] but the spec needs [4, 3]");
    delete tensors['layer0.b'];
    writeFileSync(join(dir, 'missing-tensor.retort'), encodeModelFile({ spec: s, tensors }));
    expect(() => loadModel(core, join(dir, 'missing-tensor.retort'))).toThrow(/tensor 'layer0\.(w|b)'/);
    const bytes = readFileSync(join(dir, 'shape.retort'));
    writeFileSync(join(dir, 'cut.retort'), bytes.subarray(0, bytes.length - 3));
    expect(() => loadModel(core, join(dir, 'cut.retort'))).toThrow(/^cut\.retort: truncated: tensor 'layer0\.b'/);
  });
});
