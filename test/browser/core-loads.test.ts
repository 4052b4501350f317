// The core loads unchanged in a browser: the built web app starts a module Worker that
// imports @retort/core-wasm, which fetches its .wasm asset and runs a kernel.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { browserAvailable, launchChromium } from './chromium.js';
import { serveStatic, type StaticServer } from './static-server.js';

const dist = fileURLToPath(new URL('../../packages/web/dist/', import.meta.url));

describe.skipIf(!browserAvailable)('core-wasm in headless Chromium', () => {
  let server: StaticServer;
  let browser: Browser;

  beforeAll(async () => {
    server = await serveStatic(dist);
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('picks the SIMD backend in a worker and its kernel gives the right answer', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(server.url);
    const status = page.locator('#status');
    await expect.poll(() => status.textContent(), { timeout: 20_000 }).toMatch(/ready|Could not/);
    expect(await status.textContent()).toBe('Compute core ready: simd backend.');
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    expect(errors).toEqual([]);
    await page.close();
  });
});
