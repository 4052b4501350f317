// selftest.html: runs seededRun (seeded-run.ts, the module Node's determinism test imports)
// in a module Worker on simd and scalar — the MLP run and the CNN run (batch norm, attention
// transfer, through executeRun) — shows the hashes, and checks what a browser can check alone:
// a repeated run gives the same bits, another seed gives other bits, the students train. The
// comparison with Node is test/browser/determinism.test.ts, which drives this page and
// also calls `window.retortSelftest.run` directly.

import './bench-page.css';
import { wrap } from 'comlink';
import type { SeededBackend, SeededModel, SeededRunOptions, SeededRunResult } from './seeded-run.js';
import type { SelftestApi } from './selftest-worker.js';

type Timed = SeededRunResult & { ms: number };

declare global {
  interface Window {
    /** For automation (the determinism test): one seededRun in this page's worker. */
    retortSelftest: { run(options: SeededRunOptions): Promise<Timed> };
  }
}

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const e = document.getElementById(id);
  if (!e) throw new Error(`selftest.html: #${id} is missing`);
  return e as T;
};

const worker = new Worker(new URL('./selftest-worker.ts', import.meta.url), { type: 'module', name: 'retort-selftest' });
const api = wrap<SelftestApi>(worker);
window.retortSelftest = { run: (options) => api.timedRun(options) };

const form = $<HTMLFormElement>('selftest-form');
const button = $<HTMLButtonElement>('run');
const status = $('status');
const results = $('results');

form.addEventListener('submit', (ev) => {
  ev.preventDefault();
  void runAll();
});

interface Row { backend: SeededBackend; model: SeededModel; seed: number; what: string; r: Timed }

async function runAll(): Promise<void> {
  const seed = Number($<HTMLInputElement>('seed').value);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    status.textContent = 'The seed must be an integer from 0 to 4294967295.';
    return;
  }
  const other = (seed + 1) >>> 0;
  button.disabled = true;
  results.dataset.state = 'running';
  const rows: Row[] = [];
  try {
    const plan: { backend: SeededBackend; model: SeededModel; seed: number; what: string }[] = [
      { backend: 'simd', model: 'mlp', seed, what: 'run' },
      { backend: 'scalar', model: 'mlp', seed, what: 'run' },
      { backend: 'simd', model: 'mlp', seed, what: 'repeat' },
      { backend: 'simd', model: 'mlp', seed: other, what: 'other seed' },
      { backend: 'simd', model: 'cnn', seed, what: 'run' },
      { backend: 'scalar', model: 'cnn', seed, what: 'run' },
      { backend: 'simd', model: 'transformer', seed, what: 'run' },
      { backend: 'scalar', model: 'transformer', seed, what: 'run' },
    ];
    for (const p of plan) {
      status.textContent = `Running the ${p.model.toUpperCase()} run on ${p.backend}, seed ${p.seed} (${p.what})…`;
      rows.push({ ...p, r: await api.timedRun({ backend: p.backend, seed: p.seed, model: p.model }) });
    }
    render(rows, seed, other);
    status.textContent = 'Done.';
    results.dataset.state = 'done';
  } catch (e) {
    status.textContent = `The self-test failed: ${e instanceof Error ? e.message : String(e)}`;
    results.dataset.state = 'error';
  } finally {
    button.disabled = false;
  }
}

function render(rows: Row[], seed: number, other: number): void {
  const table = $<HTMLTableElement>('runs');
  const cap = document.createElement('caption');
  cap.textContent = 'FNV-1a 64 of the teacher\'s and student\'s final parameters (and the CNN\'s batch-norm statistics; little-endian f32 bytes)';
  const head = document.createElement('thead');
  head.innerHTML = '<tr><th scope="col">backend</th><th scope="col">model</th><th scope="col">seed</th><th scope="col">run</th><th scope="col">hash</th>'
    + '<th scope="col">student params</th><th scope="col">steps</th><th scope="col">first → last loss</th><th scope="col">ms</th></tr>';
  const body = document.createElement('tbody');
  for (const { backend, model, seed: s, what, r } of rows) {
    const tr = document.createElement('tr');
    tr.dataset.backend = backend;
    tr.dataset.model = model;
    tr.dataset.seed = String(s);
    tr.dataset.run = what;
    const cells = [backend, model, String(s), what, r.hash, String(r.params), String(r.loss.length),
      `${r.loss[0]?.toFixed(4) ?? '—'} → ${r.loss.at(-1)?.toFixed(4) ?? '—'}`, r.ms.toFixed(0)];
    cells.forEach((c, i) => {
      const cell = document.createElement(i === 0 ? 'th' : 'td');
      if (i === 0) (cell as HTMLTableCellElement).scope = 'row';
      if (i === 4) cell.className = 'hash';
      cell.textContent = c;
      tr.append(cell);
    });
    body.append(tr);
  }
  table.replaceChildren(cap, head, body);

  const find = (b: SeededBackend, s: number, what: string, model: SeededModel = 'mlp') =>
    rows.find((x) => x.backend === b && x.model === model && x.seed === s && x.what === what)!.r;
  const simd = find('simd', seed, 'run'), scalar = find('scalar', seed, 'run');
  const cnn = find('simd', seed, 'run', 'cnn'), tr = find('simd', seed, 'run', 'transformer');
  const checks: [boolean, string][] = [
    [simd.hash === find('simd', seed, 'repeat').hash, 'the same run twice gives the same hash'],
    [simd.hash !== find('simd', other, 'other seed').hash, `seed ${other} gives another hash than seed ${seed}`],
    [simd.loss.every(Number.isFinite) && simd.loss.at(-1)! < simd.loss[0]!, 'the student trains (finite losses, the last below the first)'],
    [cnn.loss.every(Number.isFinite) && cnn.loss.at(-1)! < cnn.loss[0]!, 'the CNN student trains too (batch norm, attention transfer)'],
    [tr.loss.every(Number.isFinite) && tr.loss.at(-1)! < tr.loss[0]!, 'the Transformer student trains too (text, attention distillation)'],
  ];
  const list = $('checks');
  list.replaceChildren(...checks.map(([ok, text]) => {
    const li = document.createElement('li');
    li.className = ok ? 'ok' : 'bad';
    li.textContent = `${ok ? 'PASS' : 'FAIL'}: ${text}`;
    return li;
  }), (() => {
    const li = document.createElement('li');
    li.textContent = simd.hash === scalar.hash
      ? 'simd and scalar give the same hash here.'
      : 'simd and scalar give different hashes (allowed: the two builds sum in different orders); each must match Node\'s for its backend.';
    return li;
  })());
  $<HTMLTextAreaElement>('json').value = JSON.stringify(rows.map(({ backend, model, seed: s, what, r }) => ({ backend, model, seed: s, run: what, ...r })), null, 2);
  results.hidden = false;
}
