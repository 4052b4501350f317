// ONNX export of text models: token ids in (float32, -1 pads after the tokens), the padding
// mask built inside the graph (zero embedding rows, -1e9 on padding keys, zero context and
// pooling weight at padding positions, a causal bias for language models). Every export runs in
// onnxruntime-web on a batch of rows of every length (full, short, one token, none) and gives
// Retort's eval-mode logits within the tolerance onnx-graph.test.ts states: both sides compute
// the same f32 function in different orders. A mask applied on the wrong side, a head split
// in the wrong order or a pool that counts padding gives O(logit) errors, and the rows with
// padding are where they would show.

import { beforeAll, describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-web';
import { loadCore, type Core } from '@retort/core-wasm';
import { parseModelSpec, resolveModelSpec, type ModelSpec } from '../../src/model/spec.js';
import { exportOnnx, importOnnx, ONNX_METADATA_KEYS } from '../../src/interop/onnx.js';
import { DataFormatError } from '../../src/data/errors.js';
import { lmModelSpec } from '../../src/node/lm.js';
import { decodeModel } from './onnx-helpers.js';
import { maxError, preparedModel, retortLogits } from './graph-models.js';

const TOLERANCE = 1e-5;
const L = 9, V = 23;

let core: Core;
beforeAll(async () => {
  ort.env.wasm.numThreads = 1;
  core = await loadCore();
});

const text = (s: string, classes = 3): ModelSpec => resolveModelSpec(parseModelSpec(s), { inputShape: [L], classes, vocab: V });

const CASES: { name: string; spec: ModelSpec }[] = [
  { name: 'transformer-s (mean pool, two blocks)', spec: text('transformer-s:layers=2,dim=16,heads=4') },
  {
    name: 'causal attention, first-token pool, no position embeddings, a bias-free dense',
    spec: parseModelSpec({
      type: 'graph', input: [L], layers: [
        { type: 'embedding', vocab: V, dim: 12, positions: false, name: 'embed' },
        { type: 'residual', body: [{ type: 'layerNorm' }, { type: 'attention', heads: 3, causal: true, name: 'attn' }], shortcut: [] },
        { type: 'dense', units: 10, bias: false }, { type: 'relu' }, { type: 'dropout', rate: 0.1 },
        { type: 'sequencePool', mode: 'first', name: 'pool' }, { type: 'dense', units: 4 },
      ],
    }),
  },
  { name: 'cnn1d (convolutions read the padding rows, as in Retort)', spec: text('cnn1d', 5) },
  { name: 'bag of embeddings', spec: text('bag', 2) },
  { name: 'a batch norm on a sequence (over its features) after a 1-D convolution', spec: parseModelSpec({
    type: 'graph', input: [L], layers: [{ type: 'embedding', vocab: V, dim: 6 }, { type: 'conv1d', filters: 7, kernel: 4 }, { type: 'batchNorm' }, { type: 'relu' },
      { type: 'sequencePool' }, { type: 'dense', units: 3 }],
  }) },
  { name: 'a flattened sequence into a dense layer', spec: parseModelSpec({
    type: 'graph', input: [L], layers: [{ type: 'embedding', vocab: V, dim: 4 }, { type: 'gelu' }, { type: 'flatten' }, { type: 'dense', units: 3 }],
  }) },
  { name: 'lm-s (a language model: [L, V] next-id scores)', spec: lmModelSpec('lm-s:layers=2,dim=16,heads=2', V, L) },
];

/** Rows of every length: full, short, one token, none; ids across the vocabulary. */
function idRows(rows: number, seed: number): Float32Array {
  const x = new Float32Array(rows * L).fill(-1);
  let s = seed;
  const next = (): number => { s = (Math.imul(s, 1103515245) + 12345) >>> 0; return s >>> 8; };
  for (let r = 0; r < rows; r++) {
    const n = [L, L - 1, 4, 1, 0, 7][r % 6]!;
    for (let l = 0; l < n; l++) x[r * L + l] = next() % V;
  }
  x[0] = V - 1; // the last row of the table
  x[1] = 0;
  return x;
}

async function runOrt(bytes: Uint8Array, x: Float32Array, dims: number[]): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], logSeverityLevel: 3 });
  try {
    const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', x, dims) });
    const t = out[session.outputNames[0]!]!;
    return { data: t.data as Float32Array, dims: t.dims };
  } finally {
    await session.release();
  }
}

describe('text model exports run in onnxruntime-web with Retort\'s logits', () => {
  for (const [k, c] of CASES.entries()) {
    it(c.name, async () => {
      const model = preparedModel(core, c.spec, 40 + k);
      try {
        const rows = 12;
        const x = idRows(rows, 7 + k);
        const retort = retortLogits(core, model, x, rows);
        const bytes = exportOnnx(model);
        const out = await runOrt(bytes, x, [rows, L]);
        expect([...out.dims]).toEqual([rows, ...model.graph.outputShape]);
        const { err, scale } = maxError(out.data, retort);
        console.log(`${c.name}: max |ort - retort| = ${err.toExponential(2)} (logit scale ${scale.toFixed(2)})`);
        expect(err).toBeLessThanOrEqual(TOLERANCE * scale);
        // the same model, the same bytes
        expect(Buffer.compare(exportOnnx(model), bytes)).toBe(0);
      } finally {
        model.free();
      }
    });
  }
});

describe('text model exports: metadata and the way back', () => {
  it('record the token layout and the tokenizer; importing one back is refused by name', () => {
    const model = preparedModel(core, CASES[0]!.spec, 3);
    try {
      const tokenizer = { text: { tokenizer: { model: { type: 'WordLevel', vocab: { a: 0 } } }, maxLength: L } };
      const bytes = exportOnnx(model, { tokenizer });
      const m = decodeModel(bytes);
      const meta = new Map((m.metadataProps ?? []).map((p) => [p.key!, p.value!]));
      expect(meta.get(ONNX_METADATA_KEYS.layout)).toMatch(/^tokens \[batch, length\]: token ids as float32, -1 pads/);
      expect(JSON.parse(meta.get(ONNX_METADATA_KEYS.tokenizer)!)).toEqual(tokenizer);
      expect(Number(m.opsetImport?.[0]?.version)).toBe(17); // LayerNormalization
      const input = m.graph!.input![0]!;
      expect(input.type!.tensorType!.shape!.dim!.map((d) => (d.dimValue != null ? Number(d.dimValue) : d.dimParam))).toEqual(['batch', L]);
      let err: unknown;
      try { importOnnx(bytes, 'text.onnx'); } catch (e) { err = e; }
      expect(err).toBeInstanceOf(DataFormatError);
      expect((err as Error).message).toMatch(/text\.onnx: .*text model's export .* does not import back/);
    } finally {
      model.free();
    }
  });
});
