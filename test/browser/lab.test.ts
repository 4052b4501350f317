// The web lab end to end, in headless Chromium on the built app (packages/web/dist): a short
// distillation with the tiny ?quick=1 settings, the live charts, the temperature slider, the
// drawing pad, a download read back in Node, bad input (a corrupt model file, a bad temperature,
// an α outside [0, 1]), a TF.js teacher picked as files, no long task on the main thread while
// training, screenshots at desktop and phone sizes (test/browser/artifacts/, git-ignored); then
// CNNs: a CNN teacher and student with attention transfer, their attention maps and channels
// drawn (for a test image and for the drawing), the CNN classifying a drawing, a CNN student
// downloaded and loaded back as the teacher of a run whose taps are chosen in the form, the same
// network picked as an ONNX teacher (read as a Retort model) and with an operator Retort does not
// import (run in onnxruntime-web in the worker: the same test predictions); then the
// visitor's own data: a CSV table with named classes and a folder of RGB pictures picked as a
// folder, each trained on, a file of no known form refused inline, and back to MNIST.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode as encodePng } from 'fast-png';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { Mlp, asMlpSpec, createModel, decodeModelFile, encodeModelFile, loadCore, paramLayout, paramsFromTensors, parseModelSpec } from '@retort/distill';
import onnxProto from 'onnx-proto';
import { browserAvailable, launchChromium } from './chromium.js';
import { serveStatic, type StaticServer } from './static-server.js';

const dist = fileURLToPath(new URL('../../packages/web/dist/', import.meta.url));
const artifacts = fileURLToPath(new URL('./artifacts/', import.meta.url));

interface LongTask { start: number; duration: number }
declare global { interface Window { __longtasks: LongTask[]; __shifts: { start: number; value: number }[] } }

/** A valid tiny Retort model with one payload byte flipped: its checksum no longer matches. */
function corruptModelFile(): Buffer {
  const spec = asMlpSpec(parseModelSpec('mlp:784-4-10'), 'corruptModelFile');
  const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const [i, l] of paramLayout(spec).entries()) {
    tensors[`layer${i}.w`] = { shape: [l.inputs, l.outputs], data: new Float32Array(l.inputs * l.outputs).fill(0.01) };
    tensors[`layer${i}.b`] = { shape: [l.outputs], data: new Float32Array(l.outputs) };
  }
  const bytes = encodeModelFile({ spec, tensors });
  bytes[bytes.length - 40]! ^= 0xff;
  return Buffer.from(bytes);
}

const barValues = (page: Page, id: string): Promise<number[]> =>
  page.$$eval(`#${id} .bar`, (bars) => bars.map((b) => Number((b as HTMLElement).dataset.p)));

interface DrawnCanvas { role: string; kind: string; tap: string; w: number; h: number; rgba: number[] }
/** The feature-map canvases the page drew, with their pixels. */
const drawnMaps = (page: Page, selector: string): Promise<DrawnCanvas[]> =>
  page.$$eval(selector, (cs) => cs.map((el) => {
    const c = el as HTMLCanvasElement;
    return { role: c.dataset.role!, kind: c.dataset.kind!, tap: c.dataset.tap!, w: c.width, h: c.height,
      rgba: Array.from(c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data) };
  }));
/** Draws one stroke on the pad through points given as fractions of its box, `steps` mouse moves per segment. */
async function drawStroke(page: Page, points: readonly (readonly [number, number])[], steps: number): Promise<void> {
  const pad = page.locator('#pad');
  await pad.scrollIntoViewIfNeeded();
  const box = (await pad.boundingBox())!;
  const at = ([fx, fy]: readonly [number, number]): [number, number] => [box.x + fx * box.width, box.y + fy * box.height];
  await page.mouse.move(...at(points[0]!));
  await page.mouse.down();
  for (const p of points.slice(1)) await page.mouse.move(...at(p), { steps });
  await page.mouse.up();
}

/** Distinct colours of a canvas: 1 for a blank one. */
const colours = (c: DrawnCanvas): number => new Set(Array.from({ length: c.w * c.h }, (_, i) => c.rgba.slice(4 * i, 4 * i + 3).join())).size;

describe.skipIf(!browserAvailable)('the web lab in headless Chromium', () => {
  let server: StaticServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const errors: string[] = [];
  /** The CNN student exported as ONNX by the export test, for the ONNX-teacher test. */
  let cnnOnnx: Buffer | undefined;

  beforeAll(async () => {
    mkdirSync(artifacts, { recursive: true });
    server = await serveStatic(dist);
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
    page = await context.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    // installed before any script of the page runs: every long task of the main thread is kept
    await page.addInitScript(() => {
      window.__longtasks = [];
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) window.__longtasks.push({ start: e.startTime, duration: e.duration });
      }).observe({ type: 'longtask', buffered: true });
      window.__shifts = [];
      new PerformanceObserver((list) => {
        for (const e of list.getEntries() as (PerformanceEntry & { value: number; hadRecentInput: boolean })[]) {
          if (!e.hadRecentInput) window.__shifts.push({ start: e.startTime, value: e.value });
        }
      }).observe({ type: 'layout-shift', buffered: true });
    });
    await page.goto(`${server.url}?quick=1`);
    await page.waitForFunction(() => !(document.getElementById('start') as HTMLButtonElement).disabled, null, { timeout: 30_000 });
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await server?.close();
  });

  it('refuses a corrupt model file, a bad temperature and an α outside [0, 1] inline, and stays usable', async () => {
    await page.check('input[name="teacher-source"][value="retort"]');
    await page.setInputFiles('#teacher-retort', { name: 'corrupt.retort', mimeType: 'application/octet-stream', buffer: corruptModelFile() });
    const fileError = page.locator('#teacher-file-error');
    await expect.poll(() => fileError.textContent(), { timeout: 10_000 }).toMatch(/Could not load the teacher: .*corrupt\.retort.*checksum/);
    expect(await fileError.getAttribute('role')).toBe('alert');
    await page.check('input[name="teacher-source"][value="train"]');

    await page.fill('#temperature', 'abc');
    expect(await page.textContent('#temperature-error')).toMatch(/must be a number/);
    expect(await page.getAttribute('#temperature', 'aria-invalid')).toBe('true');
    await page.fill('#temperature', '-2');
    expect(await page.textContent('#temperature-error')).toMatch(/greater than 0/);
    await page.fill('#alpha', '1.5');
    expect(await page.textContent('#alpha-error')).toMatch(/between 0 and 1/);
    // Start refuses, says why, and puts the focus on the first bad field
    await page.click('#start');
    expect(await page.textContent('#phase')).toMatch(/^Not started/);
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('temperature');
    await page.fill('#temperature', '4');
    await page.fill('#alpha', '0.9');
    expect(await page.textContent('#temperature-error')).toBe('');
    expect(await page.textContent('#alpha-error')).toBe('');
  });

  it('runs a distillation: live charts, final accuracy, and no long task on the main thread', async () => {
    // larger than ?quick=1's sizes, so that training lasts long enough (seconds) to watch the main thread
    await page.fill('#teacher-spec', 'mlp:784-800-800-10');
    await page.fill('#teacher-size', '10000');
    await page.fill('#teacher-epochs', '3');
    await page.fill('#student-hidden', '64');
    await page.fill('#epochs', '8');
    await page.fill('#transfer-size', '2000');
    const t0 = await page.evaluate(() => performance.now());
    const wall = Date.now(); // (the second of pause below is part of it)
    await page.click('#start');
    await expect.poll(() => page.locator('#stop').isEnabled(), { timeout: 5_000 }).toBe(true);
    // Pause holds the worker's training loop (the charts stop growing), Resume continues it
    await expect.poll(async () => Number(await page.getAttribute('#chart-loss', 'data-points')), { timeout: 10_000 }).toBeGreaterThan(2);
    await page.click('#pause');
    expect(await page.getAttribute('#pause', 'aria-pressed')).toBe('true');
    await page.waitForTimeout(300);
    const held = await page.getAttribute('#chart-loss', 'data-points');
    await page.waitForTimeout(700);
    expect(await page.getAttribute('#chart-loss', 'data-points')).toBe(held);
    expect(await page.textContent('#phase')).toMatch(/^Paused/);
    await page.click('#pause');
    expect(await page.textContent('#pause')).toBe('Pause');
    await expect.poll(() => page.getAttribute('#verdict', 'data-final'), { timeout: 45_000 }).not.toBeNull();
    const t1 = await page.evaluate(() => performance.now());
    const seconds = (Date.now() - wall) / 1000;

    const lossPoints = Number(await page.getAttribute('#chart-loss', 'data-points'));
    const accPoints = Number(await page.getAttribute('#chart-acc', 'data-points'));
    expect(lossPoints).toBeGreaterThan(3);
    expect(accPoints).toBe(3 + 8 + 8); // validation accuracy after every epoch of the three models
    expect(await page.textContent('#verdict')).toMatch(/Final accuracy: \d+\.\d\d %/);
    const accuracies = await page.$$eval('#results td[data-accuracy]', (tds) => tds.map((td) => Number((td as HTMLElement).dataset.accuracy)));
    expect(accuracies).toHaveLength(3);
    for (const a of accuracies) expect(a).toBeGreaterThan(0.5);
    expect(await page.textContent('#deploy-summary')).toMatch(/smaller .* faster at batch 1/);
    expect(await page.locator('#deploy tbody tr').count()).toBe(3);
    expect(await page.locator('#confusion tbody td').count()).toBe(100);
    expect(await page.locator('#mistakes .mistake').count()).toBeGreaterThan(0);
    // the cores the browser reports but one (left to the page), said on the page
    const cores = await page.evaluate(() => Math.max(1, Math.min(16, (navigator.hardwareConcurrency || 1) - 1)));
    expect(await page.textContent('#phase')).toMatch(new RegExp(`^Done in [\\d.]+ s \\(simd backend, ${cores} threads?\\)\\.$`));

    const longTasks = await page.evaluate(([a, b]) => window.__longtasks.filter((t) => t.start + t.duration >= a! && t.start <= b!), [t0, t1]);
    const all = await page.evaluate(() => window.__longtasks);
    const shift = await page.evaluate(([a, b]) => window.__shifts.filter((s) => s.start >= a! && s.start <= b!).reduce((sum, s) => sum + s.value, 0), [t0, t1]);
    console.log(`lab run: ${seconds.toFixed(1)} s wall, ${lossPoints} loss points, ${accPoints} accuracy points; ` +
      `long tasks during the run: ${longTasks.length}${longTasks.length ? ` (max ${Math.max(...longTasks.map((t) => t.duration)).toFixed(0)} ms)` : ''}; ` +
      `since page load: ${all.length} (${all.map((t) => t.duration.toFixed(0)).join(', ') || 'none'} ms); layout shift during the run: ${shift.toFixed(4)}`);
    expect(longTasks).toEqual([]);
    expect(shift).toBeLessThan(0.05); // fixed-height charts and bars: only the results table appearing moves anything
  }, 60_000);

  it('the temperature slider re-renders the softened distribution', async () => {
    await page.fill('#dk-index', '8');
    await page.press('#dk-index', 'Enter');
    const sharp = await barValues(page, 'bars-teacher-1');
    const before = await barValues(page, 'bars-teacher-t');
    expect(sharp.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
    await page.focus('#dk-temp');
    for (let i = 0; i < 6; i++) await page.keyboard.press('ArrowRight');
    expect(await page.inputValue('#dk-temp')).toBe('7');
    expect(await page.textContent('#dk-temp-out')).toBe('7');
    const after = await barValues(page, 'bars-teacher-t');
    expect(after).not.toEqual(before);
    // a higher T flattens it: the largest probability falls, the smallest rises
    expect(Math.max(...after)).toBeLessThan(Math.max(...before));
    expect(Math.min(...after)).toBeGreaterThan(Math.min(...before));
    expect(await barValues(page, 'bars-teacher-1')).toEqual(sharp);
    expect((await barValues(page, 'bars-student-t')).every(Number.isFinite)).toBe(true);
  });

  it('classifies a digit drawn with the mouse', async () => {
    // a "7": the bar, then the stem
    await drawStroke(page, [[0.25, 0.22], [0.45, 0.22], [0.72, 0.22], [0.62, 0.45], [0.52, 0.65], [0.45, 0.82]], 6);
    await expect.poll(() => page.textContent('#pad-guess'), { timeout: 5_000 }).toMatch(/^\d \(\d+(\.\d)? %\)$/);
    const probs = await barValues(page, 'bars-pad');
    expect(probs.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
    const ink = await page.$eval('#pad-preview', (c) => {
      const d = (c as HTMLCanvasElement).getContext('2d')!.getImageData(0, 0, 28, 28).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i]! > 0) n++;
      return n;
    });
    expect(ink).toBeGreaterThan(20);
  });

  it('downloads the student as a Retort file that Node reads back', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-export="retort"]')]);
    expect(download.suggestedFilename()).toBe('student.retort');
    const bytes = new Uint8Array(readFileSync((await download.path())!));
    const file = decodeModelFile(bytes, 'student.retort');
    expect(file.spec).toMatchObject({ type: 'mlp', sizes: [784, 64, 10] });
    expect(file.meta.source).toBe('Retort web lab');
    const core = await loadCore();
    const mlp = new Mlp(core, file.spec);
    mlp.writeParams(Float32Array.from([...file.tensors['layer0.w']!.data, ...file.tensors['layer0.b']!.data,
      ...file.tensors['layer1.w']!.data, ...file.tensors['layer1.b']!.data]));
    expect(mlp.paramCount).toBe(784 * 64 + 64 + 64 * 10 + 10);
    mlp.free();
  });

  it('loads a TF.js model (model.json + weights.bin picked together) as the teacher', async () => {
    const files: { name: string; mimeType: string; buffer: Buffer }[] = [];
    for (const name of ['model.json', 'weights.bin']) {
      const [download] = await Promise.all([page.waitForEvent('download'), page.click(`[data-export="tfjs:${name}"]`)]);
      expect(download.suggestedFilename()).toBe(name);
      files.push({ name, mimeType: 'application/octet-stream', buffer: readFileSync((await download.path())!) });
    }
    await page.check('input[name="teacher-source"][value="tfjs"]');
    await page.setInputFiles('#teacher-tfjs', files);
    await expect.poll(() => page.textContent('#teacher-info'), { timeout: 20_000 }).toMatch(/Loaded: model\.json: a TF\.js model of Dense layers, read as mlp:784-64-10/);
    expect(await page.textContent('#teacher-file-error')).toBe('');
    await page.check('input[name="teacher-source"][value="train"]');
  }, 30_000);

  it('fits a desktop and a 390 px phone without horizontal scrolling (screenshots)', async () => {
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: `${artifacts}lab-desktop.png`, fullPage: true });
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(1280);
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(300); // the charts follow their boxes' width
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.screenshot({ path: `${artifacts}lab-phone.png`, fullPage: true });
    for (const id of ['setup', 'watch', 'dark', 'judge', 'try', 'take']) await page.locator(`#${id}`).screenshot({ path: `${artifacts}lab-phone-${id}.png` });
    expect(errors).toEqual([]);
  });

  it('reuses a teacher trained with the same settings, and Stop ends a run and leaves the page usable', async () => {
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.fill('#epochs', '300'); // long enough to be stopped while the distilled student trains
    await page.click('#start');
    await expect.poll(() => page.textContent('#results tbody tr.teacher'), { timeout: 10_000 }).toMatch(/\(reused\)/);
    await expect.poll(() => page.textContent('#stat-model'), { timeout: 10_000 }).toBe('distilled');
    await page.click('#stop');
    await expect.poll(() => page.textContent('#phase'), { timeout: 10_000 }).toMatch(/^Stopped/);
    expect(await page.locator('#start').isEnabled()).toBe(true);
    expect(await page.locator('#stop').isEnabled()).toBe(false);
    expect(await page.locator('#results tbody tr').count()).toBe(1);
    expect(await page.locator('[data-export="retort"]').isEnabled()).toBe(false);
    expect(await page.textContent('#run-error')).toBe('');
    expect(errors).toEqual([]);
  }, 30_000);

  it('runs a CNN teacher and student with attention transfer, and draws their attention maps and channels', async () => {
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.fill('#teacher-spec', 'lenet5:width=0.5');
    await page.press('#teacher-spec', 'Tab');
    await page.fill('#teacher-size', '3000');
    await page.fill('#teacher-epochs', '2');
    // a pasted layer graph the worker refuses is named inline
    await page.selectOption('#student-kind', 'graph');
    await page.fill('#student-graph', '{"type":"graph","layers":[{"type":"conv2d","filters":4,"kernel":9,"padding":"valid"},{"type":"conv2d","filters":4,"kernel":25,"padding":"valid"},{"type":"flatten"},{"type":"dense","units":10}]}');
    await page.press('#student-graph', 'Tab');
    await expect.poll(() => page.textContent('#student-model-error'), { timeout: 5_000 }).toMatch(/^The student model: student\.layers\[1\]\.kernel: a 25x25 kernel does not fit the 20x20 input/);
    expect(await page.getAttribute('#student-graph', 'aria-invalid')).toBe('true');
    await page.selectOption('#student-kind', 'lenet5');
    await page.fill('#student-width', '0.25');
    await page.press('#student-width', 'Tab');
    await expect.poll(() => page.textContent('#student-model-error')).toBe('');
    await page.selectOption('#method', 'at');
    await page.fill('#epochs', '3');
    await page.fill('#transfer-size', '1000');
    // the worker checked both specs and listed their taps
    await expect.poll(() => page.textContent('#student-info'), { timeout: 5_000 }).toMatch(/^lenet5:width=0\.25: 4,157 parameters; taps conv1 14×14×2, conv2 5×5×4, fc1 30, fc2 21\.$/);
    expect(await page.textContent('#teacher-spec-info')).toMatch(/^lenet5:width=0\.5: 15,738 parameters; taps conv1 14×14×3/);
    expect(await page.$$eval('#teacher-tap option', (os) => os.map((o) => (o as HTMLOptionElement).value))).toEqual(['', 'conv1', 'conv2', 'fc1', 'fc2']);
    await page.click('#start');
    await expect.poll(() => page.textContent('#phase'), { timeout: 60_000 }).toMatch(/^(Done in|The run failed)/);
    expect(await page.textContent('#run-error')).toBe('');
    const rows = await page.$$eval('#results tbody tr', (trs) => trs.map((tr) => tr.textContent ?? ''));
    expect(rows).toHaveLength(3);
    expect(rows[0]).toMatch(/lenet5:width=0\.5/);
    expect(rows[1]).toMatch(/lenet5:width=0\.25.*1·ce \+ 500·at\(conv1→conv1\) \+ 500·at\(conv2→conv2\)/);
    const accuracies = await page.$$eval('#results td[data-accuracy]', (tds) => tds.map((td) => Number((td as HTMLElement).dataset.accuracy)));
    for (const a of accuracies) expect(a).toBeGreaterThan(0.1);
    // the deployment figures of a CNN student: teacher, student f32 and int8
    expect(await page.locator('#deploy tbody tr').count()).toBe(3);
    expect(await page.textContent('#deploy-summary')).toMatch(/smaller \(.*× as int8\) .* at batch 1/);

    // attention maps: a teacher and a student map per tap pair of the method, neither blank, not the same
    const attention = '#maps-pairs canvas[data-kind="attention"]';
    await expect.poll(() => page.locator(attention).count(), { timeout: 10_000 }).toBe(4);
    expect(await page.textContent('#maps-caption')).toMatch(/^Spatial attention on test image #\d+: .* The pairs are the taps the method's terms read\./);
    const maps = await drawnMaps(page, attention);
    expect(maps.map((m) => `${m.role}:${m.tap}:${m.h}x${m.w}`)).toEqual(['teacher:conv1:14x14', 'student:conv1:14x14', 'teacher:conv2:5x5', 'student:conv2:5x5']);
    for (const m of maps) expect(colours(m), `${m.role} ${m.tap}`).toBeGreaterThan(3);
    expect(maps[0]!.rgba).not.toEqual(maps[1]!.rgba);
    expect(maps[2]!.rgba).not.toEqual(maps[3]!.rgba);
    // the strongest channels of the chosen tap of each model
    const channels = await drawnMaps(page, '.channel-row canvas[data-kind="channel"]');
    expect(channels.filter((c) => c.role === 'teacher').map((c) => c.tap)).toEqual(['conv1', 'conv1', 'conv1']);
    expect(channels.filter((c) => c.role === 'student')).toHaveLength(2);
    expect(channels.some((c) => colours(c) > 3)).toBe(true);
    // another tap: its channels
    await page.selectOption('#maps-student-tap', 'conv2');
    await expect.poll(async () => (await drawnMaps(page, '#maps-student-channels canvas')).map((c) => `${c.tap}:${c.h}`)).toEqual(['conv2:5', 'conv2:5', 'conv2:5', 'conv2:5']);
    // another test image: other maps
    await page.fill('#dk-index', '3');
    await page.press('#dk-index', 'Enter');
    await expect.poll(() => page.textContent('#maps-caption')).toMatch(/test image #3/);
    await expect.poll(async () => (await drawnMaps(page, attention))[1]!.rgba).not.toEqual(maps[1]!.rgba);
    await page.locator('#maps').screenshot({ path: `${artifacts}lab-maps.png` });

    // the CNN classifies a drawing (the pad's 28x28 image as its [28, 28, 1] input), and the maps follow it
    await page.click('#pad-clear');
    await drawStroke(page, [[0.5, 0.15], [0.5, 0.85]], 12);
    await expect.poll(() => page.textContent('#pad-guess'), { timeout: 5_000 }).toMatch(/^\d \(\d+(\.\d)? %\)$/);
    expect((await barValues(page, 'bars-pad')).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
    await page.check('input[name="maps-source"][value="drawing"]');
    await expect.poll(() => page.textContent('#maps-caption')).toMatch(/^Spatial attention on your drawing/);
    const drawn = await drawnMaps(page, attention);
    expect(drawn).toHaveLength(4);
    for (const m of drawn) expect(colours(m)).toBeGreaterThan(1);
    expect(drawn[1]!.rgba).not.toEqual(maps[1]!.rgba);
    await page.check('input[name="maps-source"][value="test"]');

    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: `${artifacts}lab-cnn-desktop.png`, fullPage: true });
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(1280);
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(300);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.locator('#maps').screenshot({ path: `${artifacts}lab-phone-maps.png` });
    await page.locator('#setup').screenshot({ path: `${artifacts}lab-phone-setup-cnn.png` });
    await page.setViewportSize({ width: 1280, height: 800 });
    expect(errors).toEqual([]);
  }, 90_000);

  it('exports a CNN student (Retort, ONNX, TF.js, int8), and loads it back as the teacher of a run with chosen taps', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-export="retort"]')]);
    const bytes = readFileSync((await download.path())!);
    const file = decodeModelFile(new Uint8Array(bytes), 'student.retort');
    expect(file.spec).toMatchObject({ type: 'lenet5', width: 0.25, input: [28, 28, 1], classes: 10 });
    const core = await loadCore();
    const cnn = createModel(core, file.spec);
    paramsFromTensors(file.spec, file.tensors, 'student.retort', cnn.params.view());
    expect(cnn.paramCount).toBe(4157);
    cnn.free();
    for (const [button, name] of [['onnx', 'student.onnx'], ['int8', 'student.int8'], ['tfjs:model.json', 'model.json'], ['tfjs:weights.bin', 'weights.bin']] as const) {
      const [d] = await Promise.all([page.waitForEvent('download'), page.click(`[data-export="${button}"]`)]);
      expect(d.suggestedFilename()).toBe(name);
      const out = readFileSync((await d.path())!);
      expect(out.length).toBeGreaterThan(1000);
      if (name === 'student.onnx') cnnOnnx = out;
    }
    expect(await page.textContent('#export-error')).toBe('');

    await page.check('input[name="teacher-source"][value="retort"]');
    await page.setInputFiles('#teacher-retort', { name: 'student.retort', mimeType: 'application/octet-stream', buffer: bytes });
    await expect.poll(() => page.textContent('#teacher-info'), { timeout: 10_000 }).toMatch(/^Loaded: student\.retort: lenet5:width=0\.25 \(4,157 parameters\)$/);
    expect(await page.textContent('#teacher-file-error')).toBe('');
    await expect.poll(() => page.$$eval('#teacher-tap option', (os) => os.map((o) => (o as HTMLOptionElement).value))).toEqual(['', 'conv1', 'conv2', 'fc1', 'fc2']);
    await page.selectOption('#student-kind', 'resnet8');
    await page.fill('#student-width', '0.25');
    await page.press('#student-width', 'Tab');
    await expect.poll(() => page.textContent('#student-info')).toMatch(/^resnet8:width=0\.25: /);
    await page.selectOption('#student-tap', 'block2');
    await page.selectOption('#teacher-tap', 'conv1');
    await page.fill('#epochs', '2');
    await page.fill('#transfer-size', '500');
    await page.click('#start');
    await expect.poll(() => page.textContent('#phase'), { timeout: 60_000 }).toMatch(/^(Done in|The run failed)/);
    expect(await page.textContent('#run-error')).toBe('');
    const rows = await page.$$eval('#results tbody tr', (trs) => trs.map((tr) => tr.textContent ?? ''));
    expect(rows[0]).toMatch(/^teacher \(loaded\)lenet5:width=0\.25/);
    expect(rows[1]).toMatch(/resnet8:width=0\.25.*1·ce \+ 500·at\(block2→conv1\)/);
    await expect.poll(async () => (await drawnMaps(page, '#maps-pairs canvas[data-kind="attention"]')).map((m) => `${m.role}:${m.tap}`))
      .toEqual(['teacher:conv1', 'student:block2']);
    await page.check('input[name="teacher-source"][value="train"]');
    expect(errors).toEqual([]);
  }, 90_000);
  it('takes an ONNX teacher: a graph Retort represents becomes a Retort model; any other runs in onnxruntime-web, with the same test predictions', async () => {
    expect(cnnOnnx).toBeDefined();
    await page.locator('details.advanced').evaluate((d) => { (d as HTMLDetailsElement).open = true; });
    await page.check('input[name="teacher-source"][value="onnx"]');
    await page.setInputFiles('#teacher-onnx', { name: 'cnn.onnx', mimeType: 'application/octet-stream', buffer: cnnOnnx! });
    await expect.poll(() => page.textContent('#teacher-info'), { timeout: 10_000 }).toMatch(/^Loaded: cnn\.onnx: an ONNX graph \(retort.*, NCHW input\) read as lenet5:width=0\.25 \(4,157 parameters\)$/);
    await expect.poll(() => page.$$eval('#teacher-tap option', (os) => os.map((o) => (o as HTMLOptionElement).value))).toEqual(['', 'conv1', 'conv2', 'fc1', 'fc2']);
    await page.selectOption('#student-kind', 'mlp');
    await page.fill('#student-hidden', '16');
    await page.selectOption('#method', 'kd');
    for (const [id, v] of [['epochs', '1'], ['transfer-size', '300'], ['test-size', '500']] as const) await page.fill(`#${id}`, v);
    const teacherRow = async (): Promise<{ row: string; accuracy: number }> => {
      await page.click('#start');
      await expect.poll(() => page.textContent('#phase'), { timeout: 90_000 }).toMatch(/^(Done in|The run failed)/);
      expect(await page.textContent('#run-error')).toBe('');
      return page.$eval('#results tbody tr', (tr) => ({ row: tr.textContent ?? '', accuracy: Number((tr.querySelector('td[data-accuracy]') as HTMLElement).dataset.accuracy) }));
    };
    const native = await teacherRow();
    expect(native.row).toMatch(/^teacher \(loaded\)lenet5:width=0\.25/);

    // the same network with its ReLUs written as LeakyRelu(alpha = 0): Retort does not import that
    // operator, so onnxruntime-web runs it, in the worker, and gives the same test predictions
    const p = onnxProto.onnx.ModelProto.decode(cnnOnnx!);
    let changed = 0;
    for (const n of p.graph!.node!) if (n.opType === 'Relu') { n.opType = 'LeakyRelu'; n.attribute = [{ name: 'alpha', type: 1, f: 0 }]; changed++; }
    expect(changed).toBeGreaterThan(0);
    await page.setInputFiles('#teacher-onnx', { name: 'leaky.onnx', mimeType: 'application/octet-stream', buffer: Buffer.from(onnxProto.onnx.ModelProto.encode(p).finish()) });
    await expect.poll(() => page.textContent('#teacher-info'), { timeout: 20_000 })
      .toMatch(/^Loaded: leaky\.onnx: an ONNX model run by onnxruntime-web for its soft labels \(NCHW input; not a Retort model: .*LeakyRelu/);
    expect(await page.textContent('#teacher-file-error')).toBe('');
    // no taps to choose: the method's tap selects offer the method's default only
    await expect.poll(() => page.$$eval('#teacher-tap option', (os) => os.map((o) => (o as HTMLOptionElement).value))).toEqual(['']);
    const ort = await teacherRow();
    expect(ort.row).toMatch(/^teacher \(loaded\)ONNX model/);
    expect(ort.accuracy).toBe(native.accuracy);
    // a drawing is classified by the onnxruntime teacher too
    await drawStroke(page, [[0.5, 0.2], [0.5, 0.8]], 8);
    await expect.poll(() => page.textContent('#pad-others'), { timeout: 5_000 }).toMatch(/Teacher: \d/);
    await page.click('#pad-clear');
    await page.check('input[name="teacher-source"][value="train"]');
    expect(errors).toEqual([]);
  }, 150_000);
  it("learns from the visitor's own files: a CSV table with named classes, a picked folder of pictures; refuses a stray file; back to MNIST", async () => {
    await page.setViewportSize({ width: 1280, height: 800 });
    // 900 rows of 6 features in 3 classes around distinct means (seeded), classes named in the 'kind' column
    let seed = 12345;
    const rnd = (): number => { seed = (seed * 1103515245 + 12345) >>> 0; return seed / 2 ** 32; };
    const names = ['ant', 'bee', 'cow'];
    const rows = ['f1,f2,f3,kind,f4,f5,f6'];
    for (let i = 0; i < 900; i++) {
      const k = i % 3;
      const f = Array.from({ length: 6 }, (_, j) => (10 * ((k + j) % 3) + 4 * (rnd() - 0.5)).toFixed(3));
      rows.push([...f.slice(0, 3), names[k], ...f.slice(3)].join(','));
    }
    await page.check('input[name="data-source"][value="files"]');
    await page.setInputFiles('#data-files', { name: 'bugs.csv', mimeType: 'text/csv', buffer: Buffer.from(rows.join('\n')) });
    await page.fill('#data-label-column', 'kind');
    await page.check('#data-normalize');
    await page.click('#data-load');
    await expect.poll(() => page.textContent('#data-info'), { timeout: 10_000 })
      .toMatch(/^bugs: 720 training and 180 test samples of 6, 3 classes \(ant, bee, cow\); test set: held out: 180 of 900 .*split seed 0\); inputs standardised per channel/);
    expect(await page.textContent('#data-error')).toBe('');
    // the MLP specs follow the data: 6 inputs, 3 classes
    await page.selectOption('#student-kind', 'mlp');
    await page.fill('#student-hidden', '32');
    await page.press('#student-hidden', 'Tab');
    await expect.poll(() => page.textContent('#student-info'), { timeout: 5_000 }).toMatch(/^mlp:6-32-3: /);
    expect(await page.inputValue('#teacher-spec')).toMatch(/^mlp:6-[\d-]+-3(,|$)/);
    expect(await page.textContent('#pad-note')).toMatch(/drawing pad is for 28×28 grey pictures/);
    await page.selectOption('#method', 'kd');
    await page.locator('details.advanced').evaluate((d) => { (d as HTMLDetailsElement).open = true; });
    for (const [id, v] of [['teacher-size', '600'], ['teacher-epochs', '5'], ['validation', '100'], ['transfer-size', '600'], ['test-size', '180'], ['epochs', '8'], ['lr', '0.01']] as const) await page.fill(`#${id}`, v);
    await page.click('#start');
    await expect.poll(() => page.textContent('#phase'), { timeout: 60_000 }).toMatch(/^(Done in|The run failed)/);
    expect(await page.textContent('#run-error')).toBe('');
    const accuracies = await page.$$eval('#results td[data-accuracy]', (tds) => tds.map((td) => Number((td as HTMLElement).dataset.accuracy)));
    expect(accuracies).toHaveLength(3);
    for (const a of accuracies) expect(a).toBeGreaterThan(0.8);
    expect((await page.$$eval('#confusion thead th[scope="col"]', (ths) => ths.map((th) => th.textContent))).slice(1)).toEqual(['ant', 'bee', 'cow']);
    expect(await page.locator('#confusion tbody td').count()).toBe(9);
    expect(await page.locator('#bars-teacher-1 .bar').count()).toBe(3);
    expect(await page.textContent('#dk-caption')).toMatch(/^Test row #0: (ant|bee|cow)\. Teacher: (ant|bee|cow)/);
    const [csvModel] = await Promise.all([page.waitForEvent('download'), page.click('[data-export="retort"]')]);
    const csvFile = decodeModelFile(new Uint8Array(readFileSync((await csvModel.path())!)), 'student.retort');
    expect(csvFile.spec).toMatchObject({ type: 'mlp', sizes: [6, 32, 3] });
    expect(csvFile.meta.classNames).toEqual(names);
    expect((csvFile.meta.mean as number[]).length).toBe(6);

    // a folder of RGB pictures, one sub-folder per class, picked as a folder; resized to 8x8
    const dir = mkdtempSync(join(tmpdir(), 'retort-lab-images-'));
    try {
      for (const [c, cls] of ['bars', 'dots'].entries()) {
        mkdirSync(join(dir, 'toys', cls), { recursive: true });
        for (let i = 0; i < 40; i++) {
          const w = 10 + (i % 3), h = 12;
          const data = new Uint8Array(w * h * 3);
          for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
            const on = c === 0 ? x % 4 < 2 : (x % 4 < 2) === (y % 4 < 2);
            data.set(on ? [200 + (i % 50), 40, 30 + i] : [20, 60 + (i % 30), 180], 3 * (y * w + x));
          }
          writeFileSync(join(dir, 'toys', cls, `${String(i).padStart(2, '0')}.png`), encodePng({ width: w, height: h, channels: 3, depth: 8, data }));
        }
      }
      await page.setInputFiles('#data-folder', join(dir, 'toys'));
      expect(await page.$eval('#data-files', (el) => (el as HTMLInputElement).files!.length)).toBe(0);
      await page.fill('#data-image-size', '8x8');
      await page.uncheck('#data-normalize');
      await page.click('#data-load');
      await expect.poll(() => page.textContent('#data-info'), { timeout: 10_000 }).toMatch(/^toys: 64 training and 16 test samples of 8×8×3, 2 classes \(bars, dots\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    await expect.poll(() => page.textContent('#student-info'), { timeout: 5_000 }).toMatch(/^mlp:192-32-2: /);
    for (const [id, v] of [['teacher-size', '44'], ['validation', '20'], ['transfer-size', '44'], ['test-size', '16']] as const) await page.fill(`#${id}`, v);
    await page.click('#start');
    await expect.poll(() => page.textContent('#phase'), { timeout: 60_000 }).toMatch(/^(Done in|The run failed)/);
    expect(await page.textContent('#run-error')).toBe('');
    expect(await page.locator('#results tbody tr').count()).toBe(3);
    // the test picture drawn at its size, in colour
    const picture = await page.$eval('#dk-image', (el) => {
      const c = el as HTMLCanvasElement;
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      let coloured = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i] !== d[i + 1] || d[i + 1] !== d[i + 2]) coloured++;
      return { w: c.width, h: c.height, coloured, hidden: c.hidden };
    });
    expect(picture).toMatchObject({ w: 8, h: 8, hidden: false });
    expect(picture.coloured).toBeGreaterThan(10);

    // a file of no known form: one line naming it, the loaded data kept
    // (picking files clears the folder picked before)
    await page.setInputFiles('#data-files', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('not data') });
    await page.click('#data-load');
    await expect.poll(() => page.textContent('#data-error'), { timeout: 10_000 }).toMatch(/^Could not read the data: notes\.txt: not data Retort reads/);
    expect(await page.textContent('#data-info')).toBe('Still using toys.');
    expect(await page.locator('#start').isEnabled()).toBe(true);

    // back to MNIST: the specs follow again, the pad is live
    await page.check('input[name="data-source"][value="mnist"]');
    await expect.poll(() => page.textContent('#data-info'), { timeout: 20_000 }).toMatch(/^MNIST: 60,000 training and 10,000 test samples of 28×28, 10 classes; test set: the data's own/);
    expect(await page.inputValue('#teacher-spec')).toMatch(/^mlp:784-[\d-]+-10(,|$)/);
    expect(await page.textContent('#pad-note')).toBe('');
    await page.fill('#lr', '0.001');
    await page.locator('#setup').screenshot({ path: `${artifacts}lab-setup-data.png` });
    expect(errors).toEqual([]);
  }, 120_000);
});
