// Text end to end through `retort`: a user's JSONL corpus and the bundled spam corpus, a
// Transformer trained and evaluated with the tokenizer it saved, a student distilled from it
// reading the teacher's token ids, and the refusals (a tokenizer file that does not parse, an
// empty class, settings that mean nothing for token ids, an image model on text). The ONNX export
// runs in onnxruntime-web on texts tokenised from the file alone.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-web';
import onnxProto from 'onnx-proto';
import { encodeTexts, tokenizerOfMeta } from '@retort/distill';
import { decodeQuantizedGraph } from '@retort/core-wasm/format';
import { loadInference } from '@retort/core-wasm/infer';
import { readModelFile } from '@retort/distill/node';
import { expectOneLineError, jsonLines, retort, tempDir } from './helpers.js';

const { onnx } = onnxProto;
const tmp = tempDir('text');
const d = (...p: string[]): string => join(tmp.dir, ...p);

/**
 * A three-class corpus: each class draws its words mostly from its own list, with shared filler
 * words and some words of the other classes, so a model must weigh words, not spot one.
 */
function corpus(n: number, seed: number): string {
  const words = [
    ['river', 'boat', 'fish', 'water', 'shore', 'sail', 'wave'],
    ['engine', 'wheel', 'road', 'fuel', 'brake', 'motor', 'tire'],
    ['bread', 'oven', 'flour', 'butter', 'cake', 'sugar', 'dough'],
  ];
  const filler = ['the', 'a', 'and', 'with', 'near', 'after', 'before', 'some'];
  let s = seed >>> 0;
  const r = (k: number): number => { s = (s * 1664525 + 1013904223) >>> 0; return s % k; };
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const c = i % 3;
    const len = 4 + r(10);
    const t: string[] = [];
    for (let j = 0; j < len; j++) {
      const u = r(10);
      t.push(u < 5 ? words[c]![r(7)]! : u < 8 ? filler[r(8)]! : words[(c + 1 + r(2)) % 3]![r(7)]!);
    }
    lines.push(JSON.stringify({ text: t.join(' '), label: ['water', 'car', 'kitchen'][c] }));
  }
  return `${lines.join('\n')}\n`;
}

const SEQ = ['--max-length', '16', '--vocab-size', '300', '--validation', '60', '--batch-size', '32'];
let teacher = '';
beforeAll(() => {
  writeFileSync(d('train.jsonl'), corpus(600, 1));
  writeFileSync(d('test.jsonl'), corpus(150, 2));
  const r = retort(['train', '--data', d('train.jsonl'), '--test-data', d('test.jsonl'), '--model', 'transformer-s:layers=1,dim=32,heads=2',
    '--epochs', '4', '--lr', '0.003', ...SEQ, '--out', d('teacher'), '--json']);
  expect(r.status, r.stderr).toBe(0);
  teacher = d('teacher', 'model.retort');
}, 120_000);
afterAll(() => tmp.cleanup());

describe('text runs', () => {
  it('trains a Transformer on a JSONL corpus; the model file carries its tokenizer, and eval reads the text as training did', () => {
    const report = JSON.parse(readFileSync(d('teacher', 'report.json'), 'utf8')) as { test: { errors: number; accuracy: number }; classNames: string[] };
    expect(report.classNames).toEqual(['car', 'kitchen', 'water']); // names sort into class numbers
    expect(report.test.accuracy).toBeGreaterThan(0.8); // three classes: chance is a third
    const meta = readModelFile(teacher).meta as { text?: { maxLength: number; kind: string; tokenizer: { model: { merges: unknown[] } } } };
    expect(meta.text?.maxLength).toBe(16);
    expect(meta.text?.kind).toBe('BPE');
    expect(meta.text?.tokenizer.model.merges.length).toBeGreaterThan(0);
    // eval with other tokenizer settings on the command line still uses the model's own
    const e = retort(['eval', teacher, '--data', d('train.jsonl'), '--test-data', d('test.jsonl'), '--json']);
    expect(e.status, e.stderr).toBe(0);
    const ev = jsonLines(e.stdout)[0] as { errors: number };
    expect(ev.errors).toBe(report.test.errors);
  });

  it('distills a bag-of-embeddings student from the Transformer, reading the teacher\'s token ids', () => {
    const r = retort(['distill', '--data', d('train.jsonl'), '--test-data', d('test.jsonl'), '--teacher', teacher, '--model', 'bag:dim=16',
      '--epochs', '3', '--lr', '0.01', '--validation', '60', '--batch-size', '32', '--out', d('student')]);
    expect(r.status, r.stderr).toBe(0);
    const t = readModelFile(teacher).meta as { text: { tokenizer: unknown; maxLength: number } };
    const s = readModelFile(d('student', 'model.retort')).meta as { text: { tokenizer: unknown; maxLength: number } };
    expect(JSON.stringify(s.text.tokenizer)).toBe(JSON.stringify(t.text.tokenizer));
    expect(s.text.maxLength).toBe(16);
  });

  it('token noise: the teacher reads each noised batch in the step (no soft-label cache), the same seed gives the same bits, the noise changes them', () => {
    const run = (out: string, noise: string[]): Buffer => {
      const r = retort(['distill', '--data', d('train.jsonl'), '--test-data', d('test.jsonl'), '--teacher', teacher, '--model', 'bag:dim=16',
        '--epochs', '2', '--lr', '0.01', '--validation', '60', '--batch-size', '32', ...noise, '--out', d(out)]);
      expect(r.status, r.stderr).toBe(0);
      const { tensors } = readModelFile(d(out, 'model.retort'));
      return Buffer.concat(Object.keys(tensors).sort().map((k) => Buffer.from(tensors[k]!.data.buffer, tensors[k]!.data.byteOffset, tensors[k]!.data.byteLength)));
    };
    const a = run('noise-a', ['--token-noise', '0.2']), b = run('noise-b', ['--token-noise', '0.2']), plain = run('noise-0', []);
    expect(existsSync(d('noise-a', 'teacher-outputs'))).toBe(false);
    expect(existsSync(d('noise-0', 'teacher-outputs'))).toBe(true);
    expect(a.length).toBeGreaterThan(0);
    expect(a.equals(b)).toBe(true);
    expect(a.equals(plain)).toBe(false);
  });

  it('token noise on images, above 0.5, or with precomputed teacher logits is refused, nothing written', () => {
    const img = retort(['train', '--data', 'mnist', '--model', 'mlp:784-10-10', '--train-size', '100', '--validation', '10', '--token-noise', '0.1', '--out', d('bad5')]);
    expectOneLineError(img, ['tokenNoise', 'token noise replaces token ids', 'is not text']);
    const high = retort(['train', '--data', d('train.jsonl'), '--model', 'bag', ...SEQ, '--token-noise', '0.7', '--out', d('bad5')]);
    expectOneLineError(high, ['--token-noise', 'must be in [0, 0.5]', '0.7']);
    const logits = retort(['distill', '--data', d('train.jsonl'), '--model', 'bag', ...SEQ, '--teacher-logits', d('none.npy'), '--token-noise', '0.2', '--out', d('bad5')]);
    expectOneLineError(logits, ['--token-noise', 'precomputed --teacher-logits cannot follow noised texts']);
    expect(existsSync(d('bad5'))).toBe(false);
  });

  it('distills a 1-D CNN student from the Transformer (logits across architectures), and a FitNets hint from a Transformer block to a convolution', () => {
    const r = retort(['distill', '--data', d('train.jsonl'), '--test-data', d('test.jsonl'), '--teacher', teacher, '--model', 'cnn1d:dim=16,width=0.125',
      '--epochs', '4', '--lr', '0.01', '--validation', '60', '--batch-size', '32', '--out', d('student-cnn')]);
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(readFileSync(d('student-cnn', 'report.json'), 'utf8')) as { test: { accuracy: number }; params: number };
    expect(report.test.accuracy, JSON.stringify(report).slice(0, 800)).toBeGreaterThan(0.5);
    const hint = retort(['distill', '--data', d('train.jsonl'), '--test-data', d('test.jsonl'), '--teacher', teacher, '--model', 'cnn1d:dim=16,width=0.125',
      '--losses', '[{"type":"kd","weight":1,"temperature":2},{"type":"hint","weight":0.5,"studentLayer":"conv2","teacherLayer":"block1"}]',
      '--epochs', '2', '--lr', '0.01', '--validation', '60', '--batch-size', '32', '--out', d('student-cnn-hint'), '--json']);
    expect(hint.status, hint.stderr).toBe(0);
    expect(readFileSync(d('student-cnn-hint', 'report.json'), 'utf8')).toMatch(/hint\(conv2→block1/);
  });

  it.each(['minilm', 'tinybert'])('distills a narrower Transformer with --method %s (attention terms in the objective)', (method) => {
    const r = retort(['distill', '--data', d('train.jsonl'), '--test-data', d('test.jsonl'), '--teacher', teacher, '--model', 'transformer-s:layers=1,dim=16,heads=2',
      '--method', method, '--epochs', '4', '--lr', '0.003', '--validation', '60', '--batch-size', '32', '--out', d(`student-${method}`), '--json']);
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(readFileSync(d(`student-${method}`, 'report.json'), 'utf8')) as { losses: string; test: { accuracy: number } };
    expect(report.losses).toMatch(method === 'minilm' ? /attn\(attn1→attn1, kl\).*vr\(attn1→attn1\)/ : /attn\(attn1→attn1, mse.*hint\(block1→block1/);
    expect(report.test.accuracy, JSON.stringify(report).slice(0, 1500)).toBeGreaterThan(0.5);
    // the heads must agree for attention maps: a 4-head student is refused, naming the layers
    const bad = retort(['distill', '--data', d('train.jsonl'), '--test-data', d('test.jsonl'), '--teacher', teacher, '--model', 'transformer-s:layers=1,dim=16,heads=4',
      '--method', method, '--epochs', '2', '--validation', '60', '--out', d(`bad-${method}`)]);
    expectOneLineError(bad, ['attn1', "4 heads and the teacher's 2 differ"]);
    expect(existsSync(d(`bad-${method}`))).toBe(false);
  });

  it('compare --methods all --quick on text: Transformer teacher and student, TinyBERT and MiniLM rows, no attention-transfer row', () => {
    const out = d('methods');
    const r = retort(['compare', '--methods', 'all', '--quick', '--seeds', '1', '--data', d('train.jsonl'), '--test-data', d('test.jsonl'),
      '--max-length', '16', '--vocab-size', '300', '--out', out], { timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const res = JSON.parse(readFileSync(join(out, 'methods.json'), 'utf8')) as {
      rows: { method: string; accuracies: number[]; errors: number[]; mean: number }[]; teachers: { model: string }[]; student: { model: string };
    };
    expect(res.rows.map((x) => x.method)).toEqual(['none', 'kd', 'kd-2-teachers', 'kd-soft-only', 'dkd', 'fitnets', 'rkd', 'dml', 'tfkd', 'adaptive', 'born-again', 'tinybert', 'minilm']);
    expect(res.teachers.map((t) => t.model)).toEqual(['transformer-s:layers=2,dim=32,heads=2', 'bag:dim=16']);
    expect(res.student.model).toBe('transformer-s:layers=2,dim=16,heads=2');
    for (const row of res.rows) {
      expect(row.accuracies).toHaveLength(1);
      expect(row.accuracies[0]).toBeCloseTo(1 - row.errors[0]! / 150, 12); // every test text
    }
    // the rows ran the method they name, with the text data's validation split (60 of --quick)
    const cfg = (m: string) => JSON.parse(readFileSync(join(out, m, 'seed1', 'config.json'), 'utf8')) as { config: { method?: string; validation: number } };
    expect(cfg('minilm').config.method).toBe('minilm');
    expect(cfg('tinybert').config.method).toBe('tinybert');
    expect(cfg('none').config.validation).toBe(60);
    expect(r.stdout).toMatch(/Test set: the first 300 texts of/);
  });

  it('a validation split of more than half the training texts is refused (the default 5000 is MNIST\'s), nothing written', () => {
    const t = retort(['train', '--data', d('train.jsonl'), '--model', 'bag', '--max-length', '16', '--vocab-size', '300', '--out', d('bad-val')]);
    expectOneLineError(t, ['validation: holding out 5000 of the 480 training samples', '--validation N, e.g. 48'], 1);
    expect(existsSync(d('bad-val'))).toBe(false);
  });

  it('trains on the bundled spam corpus', () => {
    const r = retort(['train', '--data', 'spam', '--model', 'bag:dim=8', '--epochs', '1', '--train-size', '600', '--test-size', '200',
      '--max-length', '32', '--vocab-size', '400', '--validation', '100', '--out', d('spam'), '--json'], { timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(readFileSync(d('spam', 'report.json'), 'utf8')) as { classNames: string[]; testSplit: { kind: string } };
    expect(report.classNames).toEqual(['ham', 'spam']);
    expect(report.testSplit.kind).toBe('seeded');
  }, 120_000);
});

describe('text refusals: one line, nothing written', () => {
  it('a tokenizer file that does not parse', () => {
    writeFileSync(d('broken-tokenizer.json'), '{"model": {"type": "BPE", "vocab": ');
    const r = retort(['train', '--data', d('train.jsonl'), '--tokenizer', d('broken-tokenizer.json'), '--model', 'bag', ...SEQ, '--out', d('bad1')]);
    expectOneLineError(r, ['broken-tokenizer.json', 'not a tokenizer.json'], 1);
    expect(existsSync(d('bad1'))).toBe(false);
  });

  it('a corpus with an empty class (class numbers 0 and 2: class 1 has no text)', () => {
    const lines = Array.from({ length: 90 }, (_, i) => JSON.stringify({ text: `sample ${i} ${i % 2 ? 'odd' : 'even'}`, label: (i % 2) * 2 }));
    writeFileSync(d('gap.jsonl'), `${lines.join('\n')}\n`);
    const r = retort(['train', '--data', d('gap.jsonl'), '--model', 'bag', ...SEQ, '--out', d('bad2')]);
    expectOneLineError(r, ['gap.jsonl', 'class 1 has no training text'], 1);
    expect(existsSync(d('bad2'))).toBe(false);
    // a label the training set never had, in the test set: named with its line
    writeFileSync(d('two.jsonl'), `${corpus(90, 3).split('\n').filter((l) => l !== '' && !l.includes('kitchen')).join('\n')}\n`);
    const t = retort(['train', '--data', d('two.jsonl'), '--test-data', d('test.jsonl'), '--model', 'bag', ...SEQ, '--out', d('bad2')]);
    expectOneLineError(t, [/test\.jsonl:\d+: label 'kitchen' is not one of the training classes/], 1);
    expect(existsSync(d('bad2'))).toBe(false);
  });

  it('exports the Transformer to ONNX with its tokenizer: onnxruntime-web, fed the test texts tokenised from the file\'s own metadata, makes retort eval\'s errors', async () => {
    const r = retort(['export', teacher, '--format', 'onnx', '--out', d('t.onnx')]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/inputs: token ids as float32 \[batch, 16\], -1 pads after the tokens \(the tokenizer is in the metadata, key retort\.tokenizer\); outputs: logits \[batch, 3\]/);
    const info = retort(['info', d('t.onnx')]);
    expect(info.status, info.stderr).toBe(0);
    expect(info.stdout).toMatch(/ONNX export of a Retort text model .* it does not import back/);
    expect(info.stdout).toMatch(/input: \[batch, 16\] \(tokens .*output: \[batch, 3\] logits/);
    expect(info.stdout).toMatch(/tokenizer in the metadata: yes/);
    const bytes = readFileSync(d('t.onnx'));
    const meta = new Map((onnx.ModelProto.decode(bytes).metadataProps ?? []).map((p) => [p.key!, p.value!]));
    const tok = tokenizerOfMeta(JSON.parse(meta.get('retort.tokenizer')!) as Record<string, unknown>, 't.onnx')!;
    expect(tok.maxLength).toBe(16);
    const rows = readFileSync(d('test.jsonl'), 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { text: string; label: string });
    const enc = encodeTexts(tok.tokenizer, rows.map((x) => x.text), tok.maxLength);
    ort.env.wasm.numThreads = 1;
    const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], logSeverityLevel: 3 });
    const out = await session.run({ input: new ort.Tensor('float32', enc.ids, [rows.length, 16]) });
    await session.release();
    const logits = out.logits!.data as Float32Array;
    const names = ['car', 'kitchen', 'water'];
    let errors = 0;
    rows.forEach((x, i) => {
      const row = logits.subarray(3 * i, 3 * i + 3);
      if (row.indexOf(Math.max(...row)) !== names.indexOf(x.label)) errors++;
    });
    const e = retort(['eval', teacher, '--data', d('train.jsonl'), '--test-data', d('test.jsonl'), '--json']);
    expect(e.status, e.stderr).toBe(0);
    expect(errors).toBe((jsonLines(e.stdout)[0] as { errors: number }).errors);
    expect(errors).toBeLessThan(rows.length / 3);
  });

  it('the deployment report of a text student: sizes, latency per sequence at batch 1, accuracy kept, agreement, and the int8 student', () => {
    const r = retort(['report', d('student', 'model.retort'), '--teacher', teacher, '--data', d('train.jsonl'), '--test-data', d('test.jsonl'),
      '--timing', '0.02', '--calibration', '200', '--out', d('report'), '--json']);
    expect(r.status, r.stderr).toBe(0);
    const rep = JSON.parse(readFileSync(d('report', 'report.json'), 'utf8')) as {
      teacher: { parameters: number; testErrors: number; latencyMs: number }; student: { parameters: number; latencyMs: number; agreement: number; testAccuracy: number };
      studentInt8: { testAccuracy: number; bytes: number; calibrationRows: number }; int8Drop: number; sequence: { tokens: number; maxLength: number }; testCount: number; ratios: { size: number };
    };
    const e = retort(['eval', teacher, '--data', d('train.jsonl'), '--test-data', d('test.jsonl'), '--json']);
    expect(rep.teacher.testErrors).toBe((jsonLines(e.stdout)[0] as { errors: number }).errors);
    expect(rep.testCount).toBe(150);
    expect(rep.sequence.maxLength).toBe(16);
    expect(rep.sequence.tokens).toBeGreaterThan(1);
    expect(rep.sequence.tokens).toBeLessThanOrEqual(16);
    expect(rep.ratios.size).toBeCloseTo(rep.teacher.parameters / rep.student.parameters, 10);
    expect(rep.teacher.latencyMs).toBeGreaterThan(0);
    expect(rep.student.agreement).toBeGreaterThan(0.5);
    expect(rep.studentInt8.calibrationRows).toBe(200);
    expect(rep.studentInt8.bytes).toBeLessThan(0.4 * 4 * rep.student.parameters);
    expect(Math.abs(rep.int8Drop)).toBeLessThanOrEqual(0.04); // a handful of the 150 texts at most
    const md = readFileSync(d('report', 'report.md'), 'utf8');
    expect(md).toMatch(/latency per sequence \(batch 1\)/);
    expect(md).toMatch(/\| student \(int8\) \|/);
    expect(md).toMatch(/the embedding table as int8 rows included/);
  });

  it('quantizes a Transformer to int8 with its tokenizer: the inference entry, fed texts tokenised from the int8 file, makes about retort eval\'s errors', async () => {
    const r = retort(['quantize', teacher, '--data', d('train.jsonl'), '--test-data', d('test.jsonl'), '--calibration', '200', '--out', d('t.int8')]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/int8 layers and the embedding table as int8 rows; activation scales from 200 held-out training texts/);
    const bytes = new Uint8Array(readFileSync(d('t.int8')));
    const g = decodeQuantizedGraph(bytes, 't.int8');
    const tok = tokenizerOfMeta(g.meta, 't.int8')!;
    const rows = readFileSync(d('test.jsonl'), 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { text: string; label: string });
    const enc = encodeTexts(tok.tokenizer, rows.map((x) => x.text), tok.maxLength);
    const inf = await loadInference({ batchSize: 64 });
    const logits = inf.predict(bytes, enc.ids, rows.length);
    const names = ['car', 'kitchen', 'water'];
    let errors = 0;
    rows.forEach((x, i) => {
      const row = logits.subarray(3 * i, 3 * i + 3);
      if (row.indexOf(Math.max(...row)) !== names.indexOf(x.label)) errors++;
    });
    const e = retort(['eval', teacher, '--data', d('train.jsonl'), '--test-data', d('test.jsonl'), '--json']);
    const f32Errors = (jsonLines(e.stdout)[0] as { errors: number }).errors;
    expect(Math.abs(errors - f32Errors)).toBeLessThanOrEqual(4);
  });

  it('TF.js export refuses a text model by name, writing nothing', () => {
    const r = retort(['export', teacher, '--format', 'tfjs', '--out', d('t-tfjs')]);
    expectOneLineError(r, ["embedding 'embed' reads token ids with -1 padding, which a TensorFlow.js LayersModel cannot mask"]);
    expect(existsSync(d('t-tfjs'))).toBe(false);
  });

  it('mixup, jitter or normalisation of token ids, and an image model on text', () => {
    for (const [flags, what] of [[['--mixup'], 'mixup'], [['--jitter', '2'], 'jitter'], [['--normalize', 'channel'], 'normalize']] as const) {
      const r = retort(['train', '--data', d('train.jsonl'), '--model', 'bag', ...SEQ, ...flags, '--out', d('bad3')]);
      expectOneLineError(r, ['text data', what, 'does not apply to token ids']);
      expect(existsSync(d('bad3'))).toBe(false);
    }
    const r = retort(['train', '--data', d('train.jsonl'), '--model', 'lenet5', ...SEQ, '--out', d('bad4')]);
    expectOneLineError(r, ['the data are token ids', 'must start with an embedding layer']);
    expect(existsSync(d('bad4'))).toBe(false);
  });
});
