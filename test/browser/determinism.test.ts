// One seeded distillation run gives the same bits in Node and in a browser: seededRun
// (packages/web/src/seeded-run.ts) is imported here and run under Node, and the built
// selftest.html runs the very same module in a Worker of headless Chromium; for simd and
// for scalar, the hashes of the final parameters and every step's loss must be identical —
// for the MLP run and for the CNN run (convolutions, batch norm and its running statistics,
// a residual block, a depthwise convolution, attention transfer, through executeRun) and for the
// Transformer run (token ids with padding, embeddings, masked attention, layer norm, GELU, the
// MiniLM attention and value-relation terms).
// Another seed must give another hash (a hash that ignored the run would pass the rest).
// simd and scalar may differ from each other (the builds sum in different orders); what
// this machine gives is logged.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { seededRun, type SeededBackend, type SeededModel, type SeededRunResult } from '../../packages/web/src/seeded-run.js';
import { browserAvailable, launchChromium } from './chromium.js';
import { serveStatic, type StaticServer } from './static-server.js';

const dist = fileURLToPath(new URL('../../packages/web/dist/', import.meta.url));
const SEED = 1;
const OTHER = 2;

interface Row { backend: SeededBackend; model: SeededModel; seed: number; run: string; hash: string; params: number; loss: number[] }

describe('seededRun under Node', () => {
  it('is repeatable, and another seed gives another hash', async () => {
    const a = await seededRun({ backend: 'scalar', seed: SEED });
    const b = await seededRun({ backend: 'scalar', seed: SEED });
    const c = await seededRun({ backend: 'scalar', seed: OTHER });
    expect(b).toEqual(a);
    expect(a.hash).toMatch(/^[0-9a-f]{16}$/);
    expect(c.hash).not.toBe(a.hash);
    expect(a.loss.every(Number.isFinite)).toBe(true);
    expect(a.loss.at(-1)!).toBeLessThan(a.loss[0]!);
  });

  it('refuses the js backend (its kernels use the host\'s Math.exp)', async () => {
    await expect(seededRun({ backend: 'js' as SeededBackend })).rejects.toThrow(/backend must be 'simd' or 'scalar'/);
  });

  it('the Transformer run: repeatable, seed-dependent, a student that trains', async () => {
    const a = await seededRun({ backend: 'scalar', seed: SEED, model: 'transformer' });
    expect(await seededRun({ backend: 'scalar', seed: SEED, model: 'transformer' })).toEqual(a);
    expect((await seededRun({ backend: 'scalar', seed: OTHER, model: 'transformer' })).hash).not.toBe(a.hash);
    expect(a.loss.every(Number.isFinite)).toBe(true);
    expect(a.loss.at(-1)!).toBeLessThan(a.loss[0]!);
    expect(a.loss).toHaveLength(2 * Math.ceil((480 - 91) / 50));
  });

  it('the CNN run: repeatable, seed-dependent, a batch-norm student that trains, other bits than the MLP run', async () => {
    const a = await seededRun({ backend: 'scalar', seed: SEED, model: 'cnn' });
    expect(await seededRun({ backend: 'scalar', seed: SEED, model: 'cnn' })).toEqual(a);
    expect((await seededRun({ backend: 'scalar', seed: OTHER, model: 'cnn' })).hash).not.toBe(a.hash);
    expect(a.hash).not.toBe((await seededRun({ backend: 'scalar', seed: SEED })).hash);
    expect(a.loss.every(Number.isFinite)).toBe(true);
    expect(a.loss.at(-1)!).toBeLessThan(a.loss[0]!);
    expect(a.loss).toHaveLength(2 * Math.ceil((480 - 91) / 50));
  });
});

describe.skipIf(!browserAvailable)('seededRun: Node and headless Chromium give the same bits', () => {
  let server: StaticServer;
  let browser: Browser;
  let page: Page;
  const errors: string[] = [];
  const node = new Map<string, SeededRunResult>();
  const key = (backend: SeededBackend, seed: number, model: SeededModel = 'mlp'): string => `${model}/${backend}/${seed}`;

  beforeAll(async () => {
    server = await serveStatic(dist);
    browser = await launchChromium();
    page = await browser.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    for (const [backend, seed] of [['simd', SEED], ['scalar', SEED], ['simd', OTHER], ['scalar', OTHER]] as const) {
      node.set(key(backend, seed), await seededRun({ backend, seed }));
    }
    for (const backend of ['simd', 'scalar'] as const) {
      for (const model of ['cnn', 'transformer'] as const) node.set(key(backend, SEED, model), await seededRun({ backend, seed: SEED, model }));
    }
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('selftest.html runs simd and scalar in a worker, the MLP, CNN and Transformer runs, and each equals Node bit for bit', async () => {
    await page.goto(new URL('selftest.html', server.url).href);
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    await page.getByRole('button', { name: 'Run the self-test' }).click();
    const results = page.locator('#results');
    await expect.poll(() => results.getAttribute('data-state'), { timeout: 60_000 }).toMatch(/done|error/);
    expect(await page.locator('#status').textContent()).toBe('Done.');

    const rows = JSON.parse(await page.locator('#json').inputValue()) as Row[];
    expect(rows.map((r) => `${r.model}/${r.backend}/${r.seed}/${r.run}`)).toEqual([
      `mlp/simd/${SEED}/run`, `mlp/scalar/${SEED}/run`, `mlp/simd/${SEED}/repeat`, `mlp/simd/${OTHER}/other seed`,
      `cnn/simd/${SEED}/run`, `cnn/scalar/${SEED}/run`, `transformer/simd/${SEED}/run`, `transformer/scalar/${SEED}/run`]);
    for (const r of rows) {
      const n = node.get(key(r.backend, r.seed, r.model))!;
      expect({ model: r.model, backend: r.backend, seed: r.seed, hash: r.hash }).toEqual({ model: r.model, backend: r.backend, seed: r.seed, hash: n.hash });
      expect(r.params).toBe(n.params);
      expect(r.loss).toEqual(n.loss); // every step's loss, exactly
    }
    // the page's own checks: repeatable, another seed differs, the student trains
    const checks = await page.locator('#checks li.ok, #checks li.bad').allTextContents();
    expect(checks).toHaveLength(5);
    for (const c of checks) expect(c).toMatch(/^PASS/);
    // the table shows the same hashes
    expect(await page.locator(`#runs tr[data-backend="scalar"][data-model="mlp"] td.hash`).textContent()).toBe(node.get(key('scalar', SEED))!.hash);
    expect(await page.locator(`#runs tr[data-backend="scalar"][data-model="cnn"] td.hash`).textContent()).toBe(node.get(key('scalar', SEED, 'cnn'))!.hash);
    expect(await page.locator(`#runs tr[data-backend="simd"][data-model="transformer"] td.hash`).textContent()).toBe(node.get(key('simd', SEED, 'transformer'))!.hash);

    const simd = node.get(key('simd', SEED))!, scalar = node.get(key('scalar', SEED))!;
    console.log(`seed ${SEED}: simd ${simd.hash}, scalar ${scalar.hash} (${simd.hash === scalar.hash ? 'equal' : 'different'}); `
      + `seed ${OTHER}: simd ${node.get(key('simd', OTHER))!.hash}, scalar ${node.get(key('scalar', OTHER))!.hash}; `
      + `${simd.params} student parameters, ${simd.loss.length} steps; CNN: simd ${node.get(key('simd', SEED, 'cnn'))!.hash}, `
      + `scalar ${node.get(key('scalar', SEED, 'cnn'))!.hash}, ${node.get(key('simd', SEED, 'cnn'))!.params} student parameters`);
    expect(errors).toEqual([]);
  });

  // Threads (packages/core-wasm/src/threads/): helpers are module Workers started by the self-test's
  // worker over a shared memory (the page is cross-origin isolated); the bits are the one-thread
  // run's, in Chromium as in Node, and the run was really cut across threads.
  it('on 2 and 4 threads: the one-thread bits, in Chromium and in Node, for the MLP, CNN and Transformer runs', async () => {
    type Api = { retortSelftest: { run(o: { backend: SeededBackend; seed: number; model: SeededModel; threads: number }): Promise<Row & { parallelCalls?: number }> } };
    for (const [backend, model] of [['simd', 'mlp'], ['scalar', 'mlp'], ['simd', 'cnn'], ['scalar', 'cnn'], ['simd', 'transformer']] as const) {
      const one = node.get(key(backend, SEED, model))!;
      for (const threads of [2, 4]) {
        const inNode = await seededRun({ backend, seed: SEED, model, threads });
        expect(inNode.hash, `${model}/${backend}, ${threads} threads, Node`).toBe(one.hash);
        expect(inNode.loss).toEqual(one.loss);
        expect(inNode.parallelCalls, `${model}/${backend}: calls cut in Node`).toBeGreaterThan(0);
        const r = await page.evaluate((o) => (window as unknown as Api).retortSelftest.run(o), { backend, seed: SEED, model, threads });
        expect(r.hash, `${model}/${backend}, ${threads} threads, Chromium`).toBe(one.hash);
        expect(r.loss).toEqual(one.loss);
        expect(r.parallelCalls, `${model}/${backend}: calls cut in Chromium`).toBe(inNode.parallelCalls);
      }
    }
    expect(errors).toEqual([]);
  }, 300_000);

  it('another seed: a different hash in the browser too, and the same as Node\'s', async () => {
    type Api = { retortSelftest: { run(o: { backend: SeededBackend; seed: number }): Promise<Row> } };
    const r = await page.evaluate((seed) => (window as unknown as Api).retortSelftest.run({ backend: 'scalar', seed }), OTHER);
    const n = node.get(key('scalar', OTHER))!;
    expect(r.hash).toBe(n.hash);
    expect(r.loss).toEqual(n.loss);
    expect(r.hash).not.toBe(node.get(key('scalar', SEED))!.hash);
    expect(errors).toEqual([]);
  });
});
