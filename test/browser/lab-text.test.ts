// The lab's text tab in headless Chromium (packages/web/dist): a Transformer teacher and a 1-D CNN
// student trained by the CLI on a small JSONL corpus are picked as files; a sentence read by both
// shows the probabilities Node computes for it and one attention map per head of the teacher;
// a language model trained by `retort lm train` writes in the page exactly what `retort generate`
// writes with the same seed (the same bits in Node and Chromium); a file that is not a text
// model is refused inline.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { encodeTexts, loadCore, tokenizerOfMeta } from '@retort/distill';
import { loadModel, readModelFile } from '@retort/distill/node';
import { browserAvailable, launchChromium } from './chromium.js';
import { serveStatic, type StaticServer } from './static-server.js';

const dist = fileURLToPath(new URL('../../packages/web/dist/', import.meta.url));
const BIN = join(dirname(createRequire(import.meta.url).resolve('@retort/cli/package.json')), 'dist', 'bin.js');
const dir = mkdtempSync(join(tmpdir(), 'retort-lab-text-'));
const d = (...p: string[]): string => join(dir, ...p);

function retort(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, RETORT_DEBUG: '' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function corpus(n: number, seed: number): string {
  const topics = [['ball', 'goal', 'team', 'match'], ['cake', 'flour', 'oven', 'sugar'], ['rain', 'cloud', 'storm', 'wind']];
  let s = seed;
  const next = (k: number): number => { s = (Math.imul(s, 1103515245) + 12345) >>> 0; return (s >>> 8) % k; };
  return `${Array.from({ length: n }, (_, i) => {
    const c = i % 3, words = Array.from({ length: 4 + next(5) }, () => (next(5) === 0 ? topics[next(3)]! : topics[c]!)[next(4)]);
    return JSON.stringify({ text: words.join(' '), label: ['sport', 'baking', 'weather'][c] });
  }).join('\n')}\n`;
}

const PROMPT = 'the cat ';
const SENTENCE = 'flour sugar oven cake';

beforeAll(() => {
  writeFileSync(d('train.jsonl'), corpus(240, 7));
  writeFileSync(d('test.jsonl'), corpus(60, 8));
  const seq = ['--data', d('train.jsonl'), '--test-data', d('test.jsonl'), '--max-length', '12', '--vocab-size', '300', '--validation', '30', '--batch-size', '32'];
  const t = retort(['train', ...seq, '--model', 'transformer-s:layers=1,dim=16,heads=2', '--epochs', '3', '--lr', '0.003', '--out', d('teacher')]);
  expect(t.status, t.stderr).toBe(0);
  const s = retort(['distill', ...seq, '--teacher', d('teacher', 'model.retort'), '--model', 'cnn1d:dim=8,width=0.0625', '--epochs', '3', '--lr', '0.01', '--out', d('student')]);
  expect(s.status, s.stderr).toBe(0);
  const lines = Array.from({ length: 300 }, (_, i) => ['the cat sat on the mat.', 'a dog ran in the park.', 'the bird sang a song.'][i % 3]).join('\n');
  writeFileSync(d('story.txt'), `${lines}\n`);
  const lm = retort(['lm', 'train', '--data', d('story.txt'), '--model', 'lm-s:layers=1,dim=16,heads=2', '--length', '24', '--epochs', '2', '--batch', '16', '--lr', '0.005', '--out', d('lm')]);
  expect(lm.status, lm.stderr).toBe(0);
}, 240_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** What Node's model gives for SENTENCE: its softmax probabilities. */
async function nodeProbabilities(path: string): Promise<number[]> {
  const core = await loadCore({ backend: 'auto' });
  const meta = readModelFile(path).meta;
  const tok = tokenizerOfMeta(meta, path)!;
  const model = loadModel(core, path);
  model.plan(1);
  const z = Array.from(model.forward(core.fromArray(encodeTexts(tok.tokenizer, [SENTENCE], model.inputShape[0]!).ids), 1, 'eval').toArray().subarray(0, model.classes));
  model.free();
  const m = Math.max(...z), e = z.map((v) => Math.exp(v - m)), s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

describe.skipIf(!browserAvailable)('the lab text tab in headless Chromium', () => {
  let server: StaticServer;
  let browser: Browser;
  let page: Page;
  const errors: string[] = [];

  beforeAll(async () => {
    server = await serveStatic(dist);
    browser = await launchChromium();
    page = await browser.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${server.url}?quick=1`);
    await page.waitForFunction(() => !(document.getElementById('start') as HTMLButtonElement).disabled, null, { timeout: 30_000 });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('reads a sentence with a Transformer teacher and a CNN student: Node\'s probabilities, an attention map per head', async () => {
    await page.setInputFiles('#text-teacher', d('teacher', 'model.retort'));
    await page.setInputFiles('#text-student', d('student', 'model.retort'));
    await expect.poll(() => page.locator('#text-loaded').textContent()).toMatch(/teacher: model\.retort, classifier of 3 classes.*attn1.*student: model\.retort/);
    await page.fill('#text-sentence', SENTENCE);
    await page.click('#text-read');
    await page.waitForSelector('#text-bars-student .bar');
    for (const role of ['teacher', 'student'] as const) {
      const shown = await page.$$eval(`#text-bars-${role} .bar`, (bars) => bars.map((b) => Number((b as HTMLElement).dataset.p)));
      const want = await nodeProbabilities(d(role, 'model.retort'));
      expect(shown).toHaveLength(3);
      shown.forEach((p, j) => expect(p).toBeCloseTo(want[j]!, 5));
      // string labels are classes in sorted order; the bars carry their full names as titles
      expect(await page.$$eval(`#text-bars-${role} .cls`, (els) => els.map((e) => (e as HTMLElement).title))).toEqual(['baking', 'sport', 'weather']);
    }
    // the teacher has one attention layer of 2 heads: two maps of n x n over its tokens; the CNN none
    const maps = await page.$$eval('#text-reading canvas', (cs) => cs.map((c) => ({ role: (c as HTMLCanvasElement).dataset.role, w: (c as HTMLCanvasElement).width, h: (c as HTMLCanvasElement).height })));
    expect(maps.map((m) => m.role)).toEqual(['teacher', 'teacher']);
    const n = Number((await page.locator('[data-role="teacher"] .text-tokens').textContent())!.match(/^(\d+) tokens/)![1]);
    expect(n).toBeGreaterThan(2);
    for (const m of maps) expect([m.w, m.h]).toEqual([n, n]);
    expect(errors).toEqual([]);
  });

  it('a language model writes what retort generate writes for the same seed, and a non-text file is refused inline', async () => {
    await page.setInputFiles('#text-student', d('lm', 'model.retort'));
    await expect.poll(() => page.locator('#text-loaded').textContent()).toMatch(/student: model\.retort, language model/);
    await page.fill('#text-sentence', PROMPT);
    await page.fill('#write-length', '50');
    await page.fill('#write-temperature', '0.8');
    await page.fill('#write-topk', '5');
    await page.fill('#write-seed', '3');
    await page.click('#text-write');
    await page.waitForSelector('#text-written [data-role="student"] .text-written');
    const written = await page.locator('#text-written [data-role="student"] .text-written').textContent();
    const cli = retort(['generate', d('lm', 'model.retort'), '--prompt', PROMPT, '--length', '50', '--temperature', '0.8', '--top-k', '5', '--seed', '3', '--json']);
    expect(cli.status, cli.stderr).toBe(0);
    expect(written).toBe((JSON.parse(cli.stdout) as { text: string }).text);
    // the next character after the prompt, in bars: ten of them, most likely first
    await page.click('#text-read');
    await page.waitForSelector('#text-bars-student .bar');
    const p = await page.$$eval('#text-bars-student .bar', (bars) => bars.map((b) => Number((b as HTMLElement).dataset.p)));
    expect(p).toHaveLength(10);
    for (let i = 1; i < p.length; i++) expect(p[i]!).toBeLessThanOrEqual(p[i - 1]!);
    // not a text model
    writeFileSync(d('corrupt.retort'), 'RTRT corrupt');
    await page.setInputFiles('#text-teacher', d('corrupt.retort'));
    await expect.poll(() => page.locator('#text-error').textContent()).toMatch(/corrupt\.retort/);
    // a model without a tokenizer (an MNIST classifier) is named as not a text model
    const mlp = retort(['train', '--model', 'mlp:784-8-10', '--train-size', '300', '--validation', '100', '--test-size', '100', '--epochs', '1', '--out', d('mlp')]);
    expect(mlp.status, mlp.stderr).toBe(0);
    await page.setInputFiles('#text-teacher', d('mlp', 'model.retort'));
    await expect.poll(() => page.locator('#text-error').textContent()).toMatch(/model\.retort is not a text model/);
    expect(errors).toEqual([]);
  });
});
