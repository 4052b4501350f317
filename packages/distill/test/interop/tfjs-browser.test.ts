// The browser-side teacher import (src/interop/tfjs-browser.ts), run in Node: a LayersModel
// built here, served over HTTP on 127.0.0.1 and "picked" as File objects, becomes the same
// teacher as when tfjs predicts it directly; missing shards, HTTP errors and a second
// model.json are named.
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { fullView, makeDataset } from '../../src/data/dataset.js';
import { DataFormatError } from '../../src/data/errors.js';
import { tfjsArtifactsFromFiles, tfjsArtifactsFromUrl, tfjsTeacherFromArtifacts } from '../../src/interop/tfjs-browser.js';

let files: Map<string, Uint8Array>;
let server: Server;
let base = '';
let want: Float32Array;
const count = 6;
const pixels = Uint8Array.from({ length: count * 64 }, (_, i) => (i * 2654435761) >>> 24);

beforeAll(async () => {
  await tf.setBackend('cpu');
  const net = tfl.sequential({ layers: [
    tfl.layers.conv2d({ inputShape: [8, 8, 1], filters: 3, kernelSize: 3, activation: 'relu' }),
    tfl.layers.flatten(),
    tfl.layers.dense({ units: 4 }),
  ] });
  files = new Map();
  await net.save(tf.io.withSaveHandler(async (a) => {
    const data = new Uint8Array(a.weightData as ArrayBuffer);
    const half = Math.floor(data.length / 2);
    files.set('group1-shard1of2.bin', data.slice(0, half));
    files.set('group1-shard2of2.bin', data.slice(half));
    files.set('model.json', new TextEncoder().encode(JSON.stringify({
      modelTopology: a.modelTopology, format: 'layers-model',
      weightsManifest: [{ paths: ['group1-shard1of2.bin', 'group1-shard2of2.bin'], weights: a.weightSpecs }],
    })));
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  want = tf.tidy(() => (net.predict(tf.tensor4d(Float32Array.from(pixels, (v) => v / 255), [count, 8, 8, 1])) as tf.Tensor).dataSync() as Float32Array);
  net.dispose();
  server = createServer((req, res) => {
    const name = (req.url ?? '/').slice('/models/'.length);
    const body = files.get(name);
    if (!req.url?.startsWith('/models/') || !body) { res.writeHead(404).end(); return; }
    res.writeHead(200, { 'content-length': body.length }).end(Buffer.from(body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address() as { port: number };
  base = `http://127.0.0.1:${addr.port}/models/`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const dataset = () => makeDataset(pixels, [count, 8, 8], new Int32Array(count), { xFile: 'x', yFile: 'y' });

describe('TF.js teachers from a URL and from picked files', () => {
  it('from a URL: the teacher gives the logits tfjs gives', async () => {
    const a = await tfjsArtifactsFromUrl(`${base}model.json`);
    const t = await tfjsTeacherFromArtifacts(a, { shape: [8, 8, 1] });
    try {
      const got = t.logits(fullView(dataset()));
      for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(1e-5 * Math.max(1, Math.abs(want[i]!)));
    } finally { t.dispose(); }
  });

  it('from picked files (File objects), with the same fingerprint as from the URL', async () => {
    const picked = [...files].map(([name, bytes]) => new File([bytes], name));
    const a = await tfjsArtifactsFromFiles(picked);
    const b = await tfjsArtifactsFromUrl(`${base}model.json`);
    expect(a.fingerprint).toBe(b.fingerprint);
    const t = await tfjsTeacherFromArtifacts(a, { shape: [8, 8, 1] });
    try {
      expect(Array.from(t.logits(fullView(dataset())))).toEqual(Array.from(want));
    } finally { t.dispose(); }
  });

  it('names a missing shard, an HTTP error and an ambiguous pick', async () => {
    const without = [...files].filter(([n]) => n !== 'group1-shard2of2.bin').map(([name, bytes]) => ({ name, bytes }));
    await expect(tfjsArtifactsFromFiles(without)).rejects.toThrow(/group1-shard2of2\.bin: weight shard not picked/);
    await expect(tfjsArtifactsFromUrl(`${base}nope.json`)).rejects.toThrow(/nope\.json: could not be fetched .*HTTP 404/);
    const two = [...files].map(([name, bytes]) => ({ name: name === 'model.json' ? 'a.json' : name, bytes })).concat([{ name: 'b.json', bytes: new Uint8Array(2) }]);
    await expect(tfjsArtifactsFromFiles(two)).rejects.toThrow(/several \.json files were picked \(a\.json, b\.json\)/);
    const cut = [...files].map(([name, bytes]) => ({ name, bytes: name === 'group1-shard1of2.bin' ? bytes.subarray(0, 3) : bytes }));
    await expect(tfjsArtifactsFromFiles(cut)).rejects.toBeInstanceOf(DataFormatError);
  });
});
