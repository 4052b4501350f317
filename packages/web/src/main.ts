import { wrap } from 'comlink';
import type { Api } from './engine.js';

const status = document.getElementById('status')!;
const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
const engine = wrap<Api>(worker);

engine.info().then(
  (r) => { status.textContent = `Compute core ready: ${r.backend} backend${r.check ? '' : ' (self-check FAILED)'}.`; },
  (e: unknown) => { status.textContent = `Could not start the compute core: ${(e as Error).message}`; },
);
