// Retort installs like any npm library: `npm pack` of @retort/core-wasm, @retort/distill and
// @retort/cli, installed into an empty project, gives a working `retort` command (it trains on
// the bundled MNIST), imports in plain Node (main, node and inference entries), and bundles into
// a Vite app that runs in Chromium (the core fetches its .wasm from the bundle's assets).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserAvailable, launchChromium } from '../browser/chromium.js';
import { serveStatic } from '../browser/static-server.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'retort-pack-'));
const app = join(dir, 'app');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeAll(() => {
  const tgz = join(dir, 'tgz');
  mkdirSync(tgz);
  for (const p of ['core-wasm', 'distill', 'cli']) {
    execFileSync('npm', ['pack', '--silent', '--pack-destination', tgz], { cwd: join(repo, 'packages', p), stdio: 'pipe' });
  }
  mkdirSync(join(app, 'src'), { recursive: true });
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'retort-user', version: '1.0.0', private: true, type: 'module' }));
  const files = readdirSync(tgz).map((f) => join(tgz, f));
  expect(files).toHaveLength(3);
  // registry packages come from npm's cache when it has them (CI's npm ci just filled it)
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', ...files], { cwd: app, stdio: 'pipe', timeout: 240_000 });
}, 300_000);

describe('npm pack, installed into an empty project', () => {
  it('npx retort --help runs, and retort trains on the bundled MNIST', () => {
    let r = spawnSync('npx', ['--no-install', 'retort', '--help'], { cwd: app, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Usage: retort/);
    r = spawnSync('npx', ['--no-install', 'retort', 'train', '--model', 'mlp:784-16-10', '--epochs', '1', '--train-size', '600', '--validation', '100',
      '--test-size', '200', '--out', join(dir, 'run'), '--json'], { cwd: app, encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/"type":"done"|"test"/);
  }, 120_000);

  it('imports in plain Node: the main, node and inference entries', () => {
    writeFileSync(join(app, 'node-use.mjs'), `
      import { createModel, parseModelSpec, loadCore, decodeImage, csvDataset } from '@retort/distill';
      import { loadMnist, loadDataPath } from '@retort/distill/node';
      import { loadInference } from '@retort/core-wasm/infer';
      const core = await loadCore();
      const m = createModel(core, parseModelSpec('lenet5:input=28x28x1,classes=10'));
      const inf = await loadInference();
      const t = csvDataset('a,label\\n1,0\\n2,1\\n', 't.csv');
      console.log(JSON.stringify({ backend: core.backend, params: m.paramCount, train: loadMnist().train.count, infer: inf.backend,
        csv: t.dataset.count, fns: [typeof decodeImage, typeof loadDataPath] }));
    `);
    const r = spawnSync(process.execPath, ['node-use.mjs'], { cwd: app, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ backend: 'simd', params: 61706, train: 60000, infer: 'simd', csv: 2, fns: ['function', 'function'] });
  });

  describe.skipIf(!browserAvailable)('in a Vite app', () => {
    let browser: Browser;
    beforeAll(async () => { browser = await launchChromium(); });
    afterAll(async () => { await browser?.close(); });

    it('bundles with Vite and runs in Chromium: the core loads its wasm and a model predicts', async () => {
      writeFileSync(join(app, 'index.html'), '<!doctype html><html><head><meta charset="utf-8"><title>loading</title></head><body><script type="module" src="./src/main.js"></script></body></html>');
      writeFileSync(join(app, 'src', 'main.js'), `
        import { createModel, fullView, loadCore, makeDataset, parseModelSpec, predictLogits } from '@retort/distill';
        try {
          const core = await loadCore();
          const model = createModel(core, parseModelSpec('mlp:4-8-3'));
          model.init(7);
          const ds = makeDataset(Uint8Array.from({ length: 20 }, (_, i) => i * 12), [5, 4], Int32Array.from([0, 1, 2, 0, 1]), { xFile: 'x', yFile: 'y' });
          const logits = predictLogits(core, model, fullView(ds));
          document.title = 'ok ' + core.backend + ' ' + logits.length + ' ' + logits.every(Number.isFinite);
        } catch (e) {
          document.title = 'error ' + e;
        }
      `);
      // the core finds its .wasm through new URL(..., import.meta.url): pre-bundling must leave it be
      writeFileSync(join(app, 'vite.config.mjs'), "export default { base: './', optimizeDeps: { exclude: ['@retort/core-wasm'] }, build: { target: 'es2022', outDir: 'dist' } };");
      // the Vite this repository's web app builds with (7: see the README on Vite 8's worker minifier)
      const vite = join(dirname(createRequire(join(repo, 'packages', 'web', 'package.json')).resolve('vite/package.json')), 'bin', 'vite.js');
      const b = spawnSync(process.execPath, [vite, 'build', '--logLevel', 'error'], { cwd: app, encoding: 'utf8' });
      expect(b.status, b.stderr).toBe(0);
      const server = await serveStatic(join(app, 'dist'));
      try {
        const page = await browser.newPage();
        await page.goto(server.url);
        await expect.poll(() => page.title(), { timeout: 20_000 }).toMatch(/^(ok|error)/);
        expect(await page.title()).toBe('ok simd 15 true');
        await page.close();
      } finally {
        await server.close();
      }
    }, 60_000);
  });
});
