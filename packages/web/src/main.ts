import 'uplot/dist/uPlot.min.css';
import './lab/style.css';
import { wrap } from 'comlink';
import type { Api } from './engine.js';
import { startLab } from './lab/page.js';
import { startTextTab } from './lab/text-view.js';

// The engine (compute core, data, training, exports) lives in a module Worker; this thread only
// draws. comlink turns the worker's `api` into async calls.
const status = document.getElementById('status')!;
const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
const engine = wrap<Api>(worker);

engine.info().then(
  (r) => {
    status.textContent = `Compute core ready: ${r.backend} backend${r.check ? '' : ' (self-check FAILED)'}.`;
    startLab(engine);
    startTextTab(engine);
  },
  (e: unknown) => { status.textContent = `Could not start the compute core: ${(e as Error).message}`; },
);
