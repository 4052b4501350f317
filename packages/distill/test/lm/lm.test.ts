// Language models (src/lm/): the "tokens" graph's per-position outputs against the f64 reference
// and their per-token loss gradients (alone and distilled) against finite differences on every
// backend; causality; the character vocabulary; training that learns a known source; top-k
// tables; same seed, same bits, also across a resume; sampling.
import { describe, expect, it } from 'vitest';
import { loadCore, type Core } from '@retort/core-wasm';
import { finiteDifference } from '../helpers/close.js';
import { createModel } from '../../src/model/index.js';
import { compileSpec, parseModelSpec, resolveModelSpec } from '../../src/model/spec.js';
import type { GraphSpec } from '../../src/model/layer-spec.js';
import { Model } from '../../src/model/model.js';
import { refForward } from '../model/graph-reference.js';
import { buildCharVocab, charVocab, lmMeta, UNK_ID, vocabOfMeta } from '../../src/lm/vocab.js';
import { bitsPerChar, memoryTopKTable, trainLm, windowCount, windowLogits, type LmTrainState } from '../../src/lm/train.js';
import { generateIds, nextProbabilities } from '../../src/lm/generate.js';
import { Xoshiro128 } from '../../src/data/random.js';

const BACKENDS = ['simd', 'scalar', 'js'] as const;
const L = 5, V = 7;

const tiny = (layers = 1, dim = 8): GraphSpec => {
  const out: GraphSpec['layers'] = [{ type: 'embedding', vocab: V, dim, positions: true, name: 'embed' }];
  for (let i = 0; i < layers; i++) {
    out.push({ type: 'residual', body: [{ type: 'layerNorm', eps: 1e-5 }, { type: 'attention', heads: 2, causal: true }], shortcut: [] },
      { type: 'residual', body: [{ type: 'layerNorm', eps: 1e-5 }, { type: 'dense', units: 2 * dim, bias: true }, { type: 'gelu' }, { type: 'dense', units: dim, bias: true }], shortcut: [] });
  }
  out.push({ type: 'layerNorm', eps: 1e-5 }, { type: 'dense', units: V, bias: true });
  return { type: 'graph', input: [L], layers: out, output: 'tokens' };
};

/** A text of n ids from a fixed first-order Markov source over V symbols, and its entropy rate in bits. */
function markov(n: number, seed: number, vocab = V): { ids: Int32Array; entropy: number } {
  const rng = new Xoshiro128(seed, 77);
  // each symbol has two likely successors (0.6, 0.3) and spreads 0.1 over the rest
  const P = Array.from({ length: vocab }, (_, a) => {
    const row = new Array<number>(vocab).fill(0.1 / (vocab - 2));
    row[(a * 3 + 1) % vocab] = 0.6; row[(a * 5 + 2) % vocab] = 0.3;
    return row;
  });
  const ids = new Int32Array(n);
  for (let i = 1; i < n; i++) {
    let u = rng.unit(), j = 0;
    const row = P[ids[i - 1]!]!;
    while (j < vocab - 1 && (u -= row[j]!) >= 0) j++;
    ids[i] = j;
  }
  const h = -P[0]!.reduce((s, p) => s + p * Math.log2(p), 0);
  return { ids, entropy: h };
}

describe.each(BACKENDS)('language model graph [%s]', (backend) => {
  it('outputs (L, V) per sample = the f64 reference; per-token CE and KD gradients = finite differences', async () => {
    const core = await loadCore({ backend });
    const model = createModel(core, tiny());
    expect(model.graph.tokens).toBe(true);
    expect([...model.graph.outputShape]).toEqual([L, V]);
    model.init(3);
    const rows = 2;
    const ids = Float32Array.of(1, 4, 6, 0, 2, /**/ 3, 3, 5, 1, 6);
    const next = Int32Array.of(4, 6, 0, 2, 5, /**/ 3, 5, 1, 6, 0);
    const teacher = Float32Array.from({ length: rows * L * V }, (_, i) => Math.sin(i * 1.7) * 3);
    model.plan(rows);
    for (const [alpha, T] of [[0, 1], [0.6, 2.5]] as const) {
      model.zeroGrad();
      const z = model.forward(core.fromArray(ids), rows, 'train');
      const ref = refForward(model.graph, model.readParams(), ids, rows, { train: true });
      const zs = z.toArray().subarray(0, rows * L * V);
      const scale = Math.max(...Array.from(ref.logits, Math.abs));
      for (let i = 0; i < zs.length; i++) expect(Math.abs(zs[i]! - ref.logits[i]!), `logit ${i}`).toBeLessThan(3e-5 * scale);
      const dz = core.alloc(rows * L * V);
      core.distillationLoss(dz, z, core.fromArray(teacher), core.allocI32(rows * L).set(next), rows * L, V, { temperature: T, alpha, scaleT2: true });
      model.backward(dz, rows);
      const got = model.grads.toArray();
      // the same loss in f64 from the reference forward: mean over the rows·L positions
      const loss = (q: Float64Array): number => {
        const zz = refForward(model.graph, q, ids, rows, { train: true }).logits;
        let total = 0;
        for (let r = 0; r < rows * L; r++) {
          const row = Array.from(zz.subarray(r * V, (r + 1) * V)), t = Array.from(teacher.subarray(r * V, (r + 1) * V));
          const lse = (a: number[], s: number): number => { const m = Math.max(...a.map((x) => x / s)); return m + Math.log(a.reduce((acc, x) => acc + Math.exp(x / s - m), 0)); };
          const ce = lse(row, 1) - row[next[r]!]!;
          const lz = lse(row, T), lt = lse(t, T);
          let kl = 0;
          for (let j = 0; j < V; j++) { const pt = Math.exp(t[j]! / T - lt); kl += pt * ((t[j]! / T - lt) - (row[j]! / T - lz)); }
          total += (1 - alpha) * ce + alpha * T * T * kl;
        }
        return total / (rows * L);
      };
      const fd = finiteDifference(loss, model.readParams(), 1e-4);
      const gs = Math.max(...Array.from(fd, Math.abs));
      for (let i = 0; i < fd.length; i++) {
        if (!(Math.abs(got[i]! - fd[i]!) <= 3e-5 * gs + 1e-4 * Math.abs(fd[i]!))) expect.fail(`alpha ${alpha}: grad[${i}] = ${got[i]} but finite differences give ${fd[i]}`);
      }
    }
    model.free();
  });

  it('is causal: changing the token at position j leaves every output before j as it was', async () => {
    const core = await loadCore({ backend });
    const model = createModel(core, tiny(2));
    model.init(11);
    model.plan(1);
    const a = Float32Array.of(1, 2, 3, 4, 5);
    const za = model.forward(core.fromArray(a), 1, 'eval').toArray().slice(0, L * V);
    for (let j = 0; j < L; j++) {
      const b = a.slice(); b[j] = (b[j]! + 3) % V;
      const zb = model.forward(core.fromArray(b), 1, 'eval').toArray().slice(0, L * V);
      expect(Array.from(zb.subarray(0, j * V))).toEqual(Array.from(za.subarray(0, j * V)));
      expect(Array.from(zb.subarray(j * V, (j + 1) * V))).not.toEqual(Array.from(za.subarray(j * V, (j + 1) * V)));
    }
    // a prompt shorter than L, padded: its positions give what the full window's first positions give
    const short = model.forward(core.fromArray(Float32Array.of(1, 2, 3, -1, -1)), 1, 'eval').toArray().slice(0, 3 * V);
    expect(Array.from(short)).toEqual(Array.from(za.subarray(0, 3 * V)));
    model.free();
  });
});

describe('language model specs', () => {
  it('lm-s and lm-l build as tokens models of the vocabulary; the classification path refuses them', () => {
    for (const name of ['lm-s', 'lm-l']) {
      const g = compileSpec(parseModelSpec(`${name}:input=64,classes=50,vocab=50`));
      expect(g.tokens).toBe(true);
      expect([...g.outputShape]).toEqual([64, 50]);
      expect([...g.taps.keys()]).toContain('attn1');
      expect(() => resolveModelSpec(parseModelSpec(name), { inputShape: [64], classes: 2, vocab: 50 })).toThrow(/language model .* retort lm/);
    }
    expect(compileSpec(parseModelSpec('lm-l:input=64,classes=50,vocab=50')).paramCount).toBeGreaterThan(5 * compileSpec(parseModelSpec('lm-s:input=64,classes=50,vocab=50')).paramCount);
    // a tokens graph must read [L] ids and end in (L, V)
    const bad = { ...tiny(), layers: [...tiny().layers.slice(0, -1), { type: 'sequencePool', mode: 'mean' }, { type: 'dense', units: V, bias: true }] };
    expect(() => compileSpec(parseModelSpec(bad))).toThrow(/"tokens" model reads \[L\] token ids and gives \(L, V\)/);
  });
});

describe('character vocabulary', () => {
  it('keeps the most frequent code points, maps the rest to <unk>, round-trips text and survives the model file meta', () => {
    const v = buildCharVocab('aaab bc😀😀 zz', 5);
    expect(v.size).toBe(5);
    expect([...v.chars]).toEqual([' ', 'a', 'b', 'z']);
    expect(Array.from(v.encode('ab😀'))).toEqual([2, 3, UNK_ID]); // the emoji is one character, not kept
    expect(v.decode(v.encode('za b'))).toBe('za b');
    const all = buildCharVocab('x😀y');
    expect(all.decode(all.encode('😀yx'))).toBe('😀yx');
    const back = vocabOfMeta(lmMeta(all, 32), 'm')!;
    expect(back.length).toBe(32);
    expect([...back.vocab.chars]).toEqual([...all.chars]);
    expect(vocabOfMeta({}, 'm')).toBeNull();
    expect(() => vocabOfMeta({ lm: { kind: 'chars', chars: ['ab'], length: 4 } }, 'm.retort')).toThrow(/not one character/);
    expect(() => charVocab(['a', 'a'])).toThrow(/listed twice/);
    expect(() => v.decode([9])).toThrow(/id 9 is outside \[0, 5\)/);
  });
});

describe('training a language model', () => {
  let core: Core;
  const seq = (): Promise<Core> => loadCore({ backend: 'simd' }).then((c) => (core = c));

  it('learns a Markov source: held-out bits per character fall from log2(V) to near its entropy rate', async () => {
    await seq();
    const { ids, entropy } = markov(6000, 1), test = markov(1500, 2).ids;
    const model = new Model(core, tiny(1, 16));
    model.init(1);
    const before = bitsPerChar(core, model, test);
    const h = trainLm(core, model, ids, { epochs: 4, batch: 16, lr: 1e-2, seed: 1, test });
    const after = h[h.length - 1]!.testBpc!;
    expect(before).toBeGreaterThan(Math.log2(V) - 0.5);
    expect(after).toBeLessThan(entropy + 0.25);
    expect(after).toBeGreaterThan(entropy - 0.1); // no model beats the source
    model.free();
  });

  it('same seed, same bits; a run resumed from its state after epoch 1 ends bit-identical', async () => {
    await seq();
    const { ids } = markov(2000, 3);
    const run = (resume?: LmTrainState, stopAfter?: number): { params: Float32Array; state: LmTrainState | null } => {
      const m = new Model(core, tiny());
      m.init(4);
      let kept: LmTrainState | null = null;
      try {
        trainLm(core, m, ids, {
          epochs: 2, batch: 8, lr: 5e-3, seed: 9, ...(resume ? { resume } : {}),
          onEpoch: (e, state) => { if (e.epoch === stopAfter) { kept = state(); throw new Error('stop'); } },
        });
      } catch (e) {
        if ((e as Error).message !== 'stop') throw e;
      }
      const params = m.params.toArray();
      m.free();
      return { params, state: kept };
    };
    const a = run(), b = run();
    expect(Buffer.from(a.params.buffer).equals(Buffer.from(b.params.buffer))).toBe(true);
    const half = run(undefined, 1);
    const resumed = run(half.state!);
    expect(Buffer.from(resumed.params.buffer).equals(Buffer.from(a.params.buffer))).toBe(true);
  });

  it('top-k tables: k = V reproduces the teacher exactly; distilling (alpha 1) pulls the student toward the teacher', async () => {
    await seq();
    const { ids } = markov(3000, 5);
    const teacher = new Model(core, tiny(1, 16));
    teacher.init(2);
    trainLm(core, teacher, ids, { epochs: 2, batch: 16, lr: 1e-2, seed: 2 });
    const W = windowCount(ids, L);
    const full = windowLogits(core, teacher, ids, 0, W);
    const exact = memoryTopKTable(core, teacher, ids, V), out = new Float32Array(3 * V);
    exact.gather([0, 7, W * L - 1], 3, out);
    for (const [i, r] of [0, 7, W * L - 1].entries()) expect(Array.from(out.subarray(i * V, (i + 1) * V))).toEqual(Array.from(full.subarray(r * V, (r + 1) * V)));
    // top-2: the two kept logits are the teacher's two largest
    const top2 = memoryTopKTable(core, teacher, ids, 2);
    top2.gather([5], 1, out);
    const row = Array.from(full.subarray(5 * V, 6 * V)), sorted = row.slice().sort((p, q) => q - p);
    expect(out.slice(0, V).filter((x) => x === sorted[0] || x === sorted[1]).length).toBeGreaterThanOrEqual(2);
    // KL(teacher || student) on the training windows, before and after distilling with alpha = 1
    const kl = (m: Model): number => {
      const zs = windowLogits(core, m, ids, 0, W);
      let s = 0;
      for (let r = 0; r < W * L; r++) {
        const t = full.subarray(r * V, (r + 1) * V), z = zs.subarray(r * V, (r + 1) * V);
        const lse = (a: Float32Array): number => { const mx = Math.max(...a); return mx + Math.log(a.reduce((acc, x) => acc + Math.exp(x - mx), 0)); };
        const lt = lse(t), lz = lse(z);
        for (let j = 0; j < V; j++) s += Math.exp(t[j]! - lt) * ((t[j]! - lt) - (z[j]! - lz));
      }
      return s / (W * L);
    };
    const student = new Model(core, tiny(1, 8));
    student.init(6);
    const before = kl(student);
    trainLm(core, student, ids, { epochs: 2, batch: 16, lr: 1e-2, seed: 3, distill: { table: exact, temperature: 2, alpha: 1 } });
    const after = kl(student);
    expect(after).toBeLessThan(before / 4);
    expect(() => trainLm(core, student, ids.subarray(0, 100), { epochs: 1, batch: 4, lr: 1e-3, seed: 1, distill: { table: exact, temperature: 1, alpha: 1 } }))
      .toThrow(/teacher's outputs cover \d+ positions but the training text has/);
    teacher.free(); student.free();
  });

  it('refuses ids outside the vocabulary, a text shorter than a window and bad settings, naming them', async () => {
    await seq();
    const m = new Model(core, tiny());
    m.init(1);
    expect(() => trainLm(core, m, Int32Array.of(1, 2, 3, 9, 1, 2, 3), { epochs: 1, batch: 2, lr: 1e-3, seed: 1 })).toThrow(/token id 9 at position 3 is outside the model's vocabulary \[0, 7\)/);
    expect(() => trainLm(core, m, Int32Array.of(1, 2, 3), { epochs: 1, batch: 2, lr: 1e-3, seed: 1 })).toThrow(/fewer than one window of 6/);
    expect(() => bitsPerChar(core, m, Int32Array.of(1, 2))).toThrow(/fewer than one window/);
    expect(() => nextProbabilities(core, m, [])).toThrow(/context is empty/);
    expect(() => generateIds(core, m, [1], { length: 3, temperature: -1, topK: 0, seed: 1 })).toThrow(/temperature must be a finite number > 0/);
    m.free();
  });
});

describe('sampling', () => {
  it('is a function of the seed; top-k 1 is greedy; a prompt longer than the context slides', async () => {
    const core = await loadCore({ backend: 'simd' });
    const m = new Model(core, tiny());
    m.init(8);
    const opts = { length: 12, temperature: 1, topK: 0, seed: 5 };
    const a = generateIds(core, m, [1, 2], opts), b = generateIds(core, m, [1, 2], opts);
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(generateIds(core, m, [1, 2], { ...opts, seed: 6 }))).not.toEqual(Array.from(a));
    for (const id of a) expect(id >= 0 && id < V).toBe(true);
    // greedy: every id is the argmax of the next-id probabilities of its context
    const g = generateIds(core, m, [3], { ...opts, topK: 1 });
    const ctx = [3];
    for (const id of g) {
      const p = nextProbabilities(core, m, ctx);
      expect(id).toBe(p.indexOf(Math.max(...p)));
      ctx.push(id);
    }
    // the probabilities after a long prompt are those after its last L ids
    const long = [0, 1, 2, 3, 4, 5, 6, 1, 2];
    expect(Array.from(nextProbabilities(core, m, long))).toEqual(Array.from(nextProbabilities(core, m, long.slice(-L))));
    m.free();
  });
});
