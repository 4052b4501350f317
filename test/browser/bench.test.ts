// The benchmark page in headless Chromium: bench.html runs the quick benchmark (core-wasm's
// kernel suite and distill's training step, the harness of `npm run bench`) in a module
// Worker on simd, scalar, js and TensorFlow.js's wasm backend, whose binaries the app
// serves itself; the page stays responsive meanwhile; the summary table fills with numbers
// for every contender; "Copy results as JSON" puts the whole result on the clipboard, or
// shows it in a textarea when the clipboard refuses. Screenshots go to
// test/browser/artifacts/ (git-ignored). No timing is asserted, only structure.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { browserAvailable, launchChromium } from './chromium.js';
import { serveStatic, type StaticServer } from './static-server.js';

const dist = fileURLToPath(new URL('../../packages/web/dist/', import.meta.url));
const artifacts = fileURLToPath(new URL('./artifacts/', import.meta.url));
const CONTENDERS = ['simd', 'scalar', 'js', 'tfjs-wasm'] as const;

interface BenchJson {
  schema: string;
  mode: string;
  contenders: { name: string }[];
  gemm: { entries: { contender: string; gflops: number }[] }[];
  losses: { entries: { contender: string; usPerCall: number }[] }[];
  environment: Record<string, string | number | boolean>;
  trainingStep: { schema: string; entries: { contender: string; samplesPerSec: number }[] };
}

describe.skipIf(!browserAvailable)('bench.html in headless Chromium', () => {
  let server: StaticServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const errors: string[] = [];
  const offsite: string[] = [];

  beforeAll(async () => {
    mkdirSync(artifacts, { recursive: true });
    server = await serveStatic(dist);
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 1 });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(server.url).origin });
    page = await context.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    // offline: every request (workers' too) stays on the app's own origin
    page.on('request', (r) => { if (!r.url().startsWith(server.url) && !r.url().startsWith('data:') && !r.url().startsWith('blob:')) offsite.push(r.url()); });
  });
  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await server?.close();
  });

  it('runs the quick benchmark in a worker and fills the table for simd, scalar, js and tfjs-wasm', async () => {
    await page.goto(new URL('bench.html', server.url).href);
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    expect(await page.getByRole('radio', { name: /Quick/ }).isChecked()).toBe(true);
    expect(await page.getByRole('checkbox', { name: /Include TensorFlow\.js/ }).isChecked()).toBe(true);
    expect(await page.getByRole('link', { name: /Retort lab/ }).getAttribute('href')).toBe('index.html');
    // the main thread stays free while the worker computes: animation frames keep coming
    // (were the suite on this thread, one frame would wait for the whole run)
    await page.evaluate(() => {
      const w = window as unknown as { frameGaps: number[]; stopFrames: boolean };
      w.frameGaps = [];
      w.stopFrames = false;
      let last = performance.now();
      const tick = (t: number): void => {
        w.frameGaps.push(t - last);
        last = t;
        if (!w.stopFrames) requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
    });
    await page.getByRole('button', { name: 'Run the benchmark' }).click();
    const results = page.locator('#results');
    await expect.poll(async () => (await results.getAttribute('data-state')) ?? await page.locator('#status').textContent(),
      { timeout: 50_000, interval: 100 }).toBe('done');
    const gaps = await page.evaluate(() => {
      const w = window as unknown as { frameGaps: number[]; stopFrames: boolean };
      w.stopFrames = true;
      return w.frameGaps;
    });
    const runMs = parseFloat((await page.locator('#status').textContent())!.replace(/^Done in /, '')) * 1000;
    console.log(`bench.html quick run: ${runMs.toFixed(0)} ms; ${gaps.length} frames meanwhile, longest gap ${Math.max(...gaps).toFixed(0)} ms`);
    expect(gaps.length).toBeGreaterThan(5);
    expect(Math.max(...gaps)).toBeLessThan(500);
    expect(await page.locator('#status').textContent()).toMatch(/^Done in [\d.]+ s \(quick run\)\.$/);

    const summary = page.locator('#summary');
    const header = await summary.locator('thead th').allTextContents();
    for (const name of CONTENDERS) {
      const cells = await summary.locator('tbody tr').filter({ has: page.locator(`th:text-is("${name}")`) }).locator('td').allTextContents();
      expect(cells, name).toHaveLength(header.length - 1);
      header.slice(1).forEach((h, i) => {
        const cell = cells[i]!;
        // tfjs has no peak probe; every other cell is a positive number
        if (h === 'peak GFLOP/s' && name === 'tfjs-wasm') { expect(cell).toBe('—'); return; }
        const value = parseFloat(cell);
        expect(Number.isFinite(value) && value > 0, `${name} / ${h}: '${cell}'`).toBe(true);
      });
    }
    // the charts and the harness's tables are there too
    expect(await page.locator('#charts svg[role="img"]').count()).toBe(3);
    expect(await page.locator('#gemm tbody tr').count()).toBeGreaterThan(0);
    expect(await page.locator('#step tbody tr').count()).toBe(CONTENDERS.length);
    // threads against threads: our simd on 1 and N threads, tfjs-backend-wasm's threaded build asked for N
    const n = await page.evaluate(() => Math.min(16, navigator.hardwareConcurrency || 1));
    if (n >= 2) {
      const rows = await page.$$eval('#threads tbody tr', (trs) => trs.map((tr) => [...tr.children].map((c) => c.textContent ?? '')));
      expect(rows.map((r) => r[0])).toEqual(['simd', `simd-${n}t`, 'tfjs-wasm-threaded']);
      for (const r of rows) expect(parseFloat(r[1]!), `${r[0]} samples/s`).toBeGreaterThan(0);
      const envText = await page.locator('#environment').textContent();
      // tfjs loaded its threaded build (the thread count its pool reports is in the block too)
      expect(envText).toContain('threads table: tfjs-wasm WASM_HAS_MULTITHREAD_SUPPORTtrue');
      expect(envText).toMatch(/threads table: tfjs-wasm binarytfjs-backend-wasm-threaded-simd\.wasm/);
    }
    await page.screenshot({ path: `${artifacts}bench-phone.png`, fullPage: true });
    expect(errors).toEqual([]);
    expect(offsite).toEqual([]);
  });

  it('copies the results as JSON to the clipboard', async () => {
    await page.getByRole('button', { name: 'Copy results as JSON' }).click();
    await expect.poll(() => page.locator('#copy-status').textContent()).toMatch(/^Copied [\d.]+ KB of JSON/);
    const json = JSON.parse(await page.evaluate(() => navigator.clipboard.readText())) as BenchJson;
    expect(json.schema).toBe('retort-bench/1');
    expect(json.mode).toBe('quick');
    expect(json.trainingStep.schema).toBe('retort-step-bench/1');
    const names = json.contenders.map((c) => c.name);
    for (const name of CONTENDERS) {
      expect(names).toContain(name);
      for (const row of json.gemm) {
        const e = row.entries.find((x) => x.contender === name);
        expect(e && Number.isFinite(e.gflops) && e.gflops > 0, `${name} gemm`).toBe(true);
      }
      const step = json.trainingStep.entries.find((x) => x.contender === name);
      expect(step && step.samplesPerSec > 0, `${name} step`).toBe(true);
    }
    expect(json.environment['tfjs-wasm WASM_HAS_SIMD_SUPPORT']).toBe('true');
    expect(json.environment['tfjs-wasm WASM_HAS_MULTITHREAD_SUPPORT']).toBe('false');
    expect(json.environment['tfjs-wasm threads']).toBe(1);
    expect(await page.locator('#copy-fallback').isHidden()).toBe(true);
  });

  it('shows the JSON, selected, when the clipboard refuses', async () => {
    await page.evaluate(() => {
      navigator.clipboard.writeText = () => Promise.reject(new DOMException('Write permission denied.', 'NotAllowedError'));
    });
    await page.getByRole('button', { name: 'Copy results as JSON' }).click();
    const fallback = page.locator('#copy-fallback');
    await expect.poll(() => fallback.isVisible()).toBe(true);
    expect(await page.locator('#copy-status').textContent()).toMatch(/clipboard is not available/);
    const text = await page.locator('#json').inputValue();
    expect((JSON.parse(text) as BenchJson).trainingStep.entries.map((e) => e.contender)).toEqual([...CONTENDERS]);
    const selected = await page.evaluate(() => {
      const t = document.getElementById('json') as HTMLTextAreaElement;
      return t.selectionEnd - t.selectionStart === t.value.length && document.activeElement === t;
    });
    expect(selected).toBe(true);
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.screenshot({ path: `${artifacts}bench-desktop.png`, fullPage: true });
    expect(errors).toEqual([]);
  });
});
