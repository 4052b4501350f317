// bench.html: runs the benchmark in a module Worker (bench-worker.ts, over comlink) and
// shows its result as a summary table, charts and the harness's full tables. Nothing heavy
// happens on this thread: a run's only cost here is a progress line now and then.

import './bench-page.css';
import { proxy, wrap, type Remote } from 'comlink';
import type { BenchApi, BenchRequest, BenchResult } from './bench-worker.js';
import { barChart, type BarGroup } from './bench-chart.js';

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const e = document.getElementById(id);
  if (!e) throw new Error(`bench.html: #${id} is missing`);
  return e as T;
};

const form = $<HTMLFormElement>('bench-form');
const runButton = $<HTMLButtonElement>('run');
const stopButton = $<HTMLButtonElement>('stop');
const status = $('status');
const running = $('running');
const elapsed = $('elapsed');
const log = $<HTMLOListElement>('log');
const results = $('results');

let worker: Worker | null = null;
let api: Remote<BenchApi> | null = null;
let last: BenchResult | null = null;
let timer: ReturnType<typeof setInterval> | undefined;

// ?mode=full preselects the full run
const wanted = new URLSearchParams(location.search).get('mode');
if (wanted === 'full' || wanted === 'quick') {
  (form.elements.namedItem('mode') as RadioNodeList).value = wanted;
}

function startWorker(): Remote<BenchApi> {
  worker = new Worker(new URL('./bench-worker.ts', import.meta.url), { type: 'module', name: 'retort-bench' });
  // a worker that dies (a failed import, an uncaught error) never answers comlink: say so
  worker.addEventListener('error', (e) => {
    e.preventDefault();
    status.textContent = `The benchmark worker failed: ${e.message || 'it could not start'}`;
    worker?.terminate();
    worker = null;
    api = null;
    setRunning(false);
  });
  api = wrap<BenchApi>(worker);
  return api;
}

function setRunning(on: boolean, t0 = 0): void {
  runButton.disabled = on;
  stopButton.disabled = !on;
  running.hidden = !on;
  form.setAttribute('aria-busy', String(on));
  clearInterval(timer);
  if (on) {
    elapsed.textContent = '0.0 s';
    timer = setInterval(() => { elapsed.textContent = `${((performance.now() - t0) / 1000).toFixed(1)} s`; }, 100);
  }
}

form.addEventListener('submit', (ev) => {
  ev.preventDefault();
  void run();
});

stopButton.addEventListener('click', () => {
  worker?.terminate();
  worker = null;
  api = null;
  setRunning(false);
  status.textContent = 'Stopped.';
});

async function run(): Promise<void> {
  const data = new FormData(form);
  const req: BenchRequest = { mode: data.get('mode') === 'full' ? 'full' : 'quick', tfjs: data.get('tfjs') === 'on' };
  const remote = api ?? startWorker();
  const t0 = performance.now();
  log.replaceChildren();
  setRunning(true, t0);
  status.textContent = `Running the ${req.mode} benchmark…`;
  if (results.dataset.state) results.dataset.state = 'stale';
  try {
    const result = await remote.run(req, proxy((message: string) => {
      const li = document.createElement('li');
      li.textContent = message;
      log.append(li);
      status.textContent = message;
    }));
    last = result;
    render(result);
    status.textContent = `Done in ${((performance.now() - t0) / 1000).toFixed(1)} s (${req.mode} run).`;
  } catch (e) {
    if (remote !== api) return; // stopped
    status.textContent = `The benchmark failed: ${e instanceof Error ? e.message : String(e)}`;
  } finally {
    if (remote === api) setRunning(false);
  }
}

// ---- rendering -------------------------------------------------------------------------

const fixed = (v: number | null | undefined, d: number): string =>
  (v === null || v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(d));

function table(t: HTMLTableElement, caption: string, header: readonly string[], rows: readonly (readonly string[])[],
               rowHeaders = 1): void {
  const cap = document.createElement('caption');
  cap.textContent = caption;
  const thead = document.createElement('thead');
  const hr = document.createElement('tr');
  for (const h of header) {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = h;
    hr.append(th);
  }
  thead.append(hr);
  const tbody = document.createElement('tbody');
  for (const r of rows) {
    const tr = document.createElement('tr');
    r.forEach((cell, i) => {
      const c = document.createElement(i < rowHeaders ? 'th' : 'td');
      if (i < rowHeaders) (c as HTMLTableCellElement).scope = 'row';
      c.textContent = cell;
      tr.append(c);
    });
    tbody.append(tr);
  }
  t.replaceChildren(cap, thead, tbody);
}

function contenderNames(r: BenchResult): string[] {
  const names = r.contenders.map((c) => c.name);
  for (const c of r.trainingStep.contenders) if (!names.includes(c.name)) names.push(c.name);
  return names;
}

function render(r: BenchResult): void {
  const names = contenderNames(r);
  const step = r.trainingStep;
  const firstGemm = r.gemm.filter((g) => g.M === r.gemm[0]?.M && g.K === r.gemm[0]?.K && g.N === r.gemm[0]?.N);
  const kd = r.losses.filter((l) => l.kernel === 'kdLoss');
  const stepBase = step.entries.find((e) => e.contender === 'tfjs-wasm');
  const shape = (g: { M: number; K: number; N: number }): string => `(${g.M},${g.K},${g.N})`;

  $('results-meta').textContent = `${r.mode === 'full' ? 'Full' : 'Quick'} run, ${new Date(r.startedAt).toLocaleString()}, `
    + `kernels ${(r.durationMs / 1000).toFixed(1)} s + training step ${(step.durationMs / 1000).toFixed(1)} s.`
    + (r.mode === 'quick' ? ' Quick figures are rough (small shapes, few repetitions); run the full benchmark for the real ones.' : '');

  // Summary: one row per contender.
  const header = ['contender', 'peak GFLOP/s',
    ...firstGemm.map((g) => `sgemm ${g.form} ${shape(g)} GFLOP/s`),
    ...kd.map((l) => `KD loss [${l.rows},${l.cols}] µs`),
    'training step samples/s', 'step vs tfjs-wasm'];
  table($<HTMLTableElement>('summary'), `Per contender; ${step.problem.model}, batch ${step.problem.batch} for the step`, header, names.map((n) => {
    const s = step.entries.find((e) => e.contender === n);
    return [n,
      fixed(r.peak.find((p) => p.contender === n)?.gflops, 2),
      ...firstGemm.map((g) => fixed(g.entries.find((e) => e.contender === n)?.gflops, 2)),
      ...kd.map((l) => fixed(l.entries.find((e) => e.contender === n)?.usPerCall, 1)),
      fixed(s?.samplesPerSec, 0),
      s && stepBase ? `${(stepBase.msPerStep / s.msPerStep).toFixed(2)}×` : '—'];
  }));
  $('summary').dataset.contenders = names.join(',');

  // Charts: the first GEMM shape, the KD loss, the training step.
  const charts = $('charts');
  const groups = (rows: { label: string; value: (n: string) => number | undefined }[], who: readonly string[]): BarGroup[] =>
    rows.map((row) => ({ label: row.label, bars: who.map((n) => ({ name: n, value: row.value(n) ?? null })) }));
  const gemmWho = r.contenders.map((c) => c.name);
  const lossWho = names.filter((n) => kd.some((l) => l.entries.some((e) => e.contender === n)));
  const stepWho = step.entries.map((e) => e.contender);
  charts.replaceChildren(
    figure(barChart({ title: `sgemm ${shape(firstGemm[0] ?? { M: 0, K: 0, N: 0 })}`, unit: 'GFLOP/s, higher is better', series: names,
      groups: groups(firstGemm.map((g) => ({ label: `${g.form}`, value: (n) => g.entries.find((e) => e.contender === n)?.gflops })), gemmWho) }),
      `Matrix product ${shape(firstGemm[0] ?? { M: 0, K: 0, N: 0 })}, the three forms a training step uses: GFLOP/s, higher is better.`),
    figure(barChart({ title: 'Fused KD loss + gradient', unit: 'µs per call, lower is better', series: names,
      groups: groups(kd.map((l) => ({ label: `[${l.rows},${l.cols}]`, value: (n) => l.entries.find((e) => e.contender === n)?.usPerCall })), lossWho) }),
      'Distillation loss and its gradient (T = 4, α = 0.9): µs per call, lower is better.'),
    figure(barChart({ title: 'Training step', unit: 'samples/s, higher is better', series: names,
      groups: groups([{ label: `batch ${step.problem.batch}`, value: (n) => step.entries.find((e) => e.contender === n)?.samplesPerSec }], stepWho),
      format: (v) => v.toFixed(0) }),
      `One training step of ${step.problem.model}: samples per second, higher is better.`),
  );

  // The harness's tables.
  const gemmNames = r.contenders.map((c) => c.name);
  table($<HTMLTableElement>('gemm'), 'GFLOP/s = 2MNK/t; in brackets, the fraction of the SIMD peak probe', ['form', 'M', 'K', 'N', ...gemmNames],
    r.gemm.map((g) => [g.form, String(g.M), String(g.K), String(g.N), ...gemmNames.map((n) => {
      const e = g.entries.find((x) => x.contender === n);
      return e ? `${e.gflops.toFixed(2)}${e.fractionOfPeak === null ? '' : ` (${(100 * e.fractionOfPeak).toFixed(0)}%)`}` : '—';
    })]));
  const lossNames = names.filter((n) => r.losses.some((l) => l.entries.some((e) => e.contender === n)));
  table($<HTMLTableElement>('losses'), `value and gradient (softmax: value only), T = ${r.losses[0]?.temperature ?? 4}, α = ${r.losses[0]?.alpha ?? 0.9}`,
    ['kernel', 'shape', ...lossNames],
    r.losses.map((l) => [l.kernel, `[${l.rows},${l.cols}]`, ...lossNames.map((n) => fixed(l.entries.find((e) => e.contender === n)?.usPerCall, 1))]));
  table($<HTMLTableElement>('step'), `${step.problem.model}, batch ${step.problem.batch}, ${step.problem.optimizer}; sanity losses must fall and follow ${step.reference}`,
    ['contender', 'samples/s', 'ms/step', 'GFLOP/s', 'vs tfjs-wasm', 'sanity losses'],
    step.entries.map((e) => [e.contender, fixed(e.samplesPerSec, 0), fixed(e.msPerStep, 3), fixed(e.gflops, 2),
      stepBase ? `${(stepBase.msPerStep / e.msPerStep).toFixed(2)}×` : '—',
      step.sanity.find((s) => s.contender === e.contender)?.losses.map((l) => l.toFixed(4)).join(' > ') ?? '—']));
  // threads against threads: our simd on 1 and N threads, tfjs-backend-wasm on N (its threaded build)
  const th = r.threadsStep;
  const thBase = th?.entries.find((e) => e.contender.startsWith('tfjs-wasm'));
  $('threads-note').textContent = th
    ? `${th.problem.model}, batch ${th.problem.batch}, in a worker of its own: ${th.contenders.map((c) => c.name).join(', ')}; the same bits on every thread count.`
    : 'Not measured: it needs a cross-origin isolated page and two or more cores.';
  table($<HTMLTableElement>('threads'), th ? `sanity losses must fall and follow ${th.reference}` : 'not measured',
    ['contender', 'samples/s', 'ms/step', thBase ? `vs ${thBase.contender}` : 'vs tfjs'],
    (th?.entries ?? []).map((e) => [e.contender, fixed(e.samplesPerSec, 0), fixed(e.msPerStep, 3), thBase ? `${(thBase.msPerStep / e.msPerStep).toFixed(2)}×` : '—']));
  // what this run measured; the full-size ratios and targets are '—' in a quick run (kept in the JSON)
  const ratios = [...r.ratios, ...step.ratios, ...(th?.ratios ?? [])].filter((x) => x.value !== null);
  const targets = [...r.targets, ...step.targets, ...(th?.targets ?? [])].filter((t) => t.status !== 'not measured');
  const unmeasured = r.ratios.length + step.ratios.length + (th?.ratios.length ?? 0) + r.targets.length + step.targets.length + (th?.targets.length ?? 0) - ratios.length - targets.length;
  table($<HTMLTableElement>('targets'),
    `computed from this run${unmeasured ? `; ${unmeasured} more need shapes this run did not measure${r.mode === 'quick' ? ' (run the full benchmark)' : ''}` : ''}`,
    ['name', 'value', 'note'], [
      ...ratios.map((x) => [x.name, x.value!.toFixed(2), x.note]),
      ...targets.map((t) => [`target: ${t.name}`, t.measured, `${t.requirement}: ${t.status}`]),
    ]);
  const env = $('environment');
  env.replaceChildren(...Object.entries({ ...r.environment, ...step.environment, ...(th?.environment ?? {}) }).flatMap(([k, v]) => {
    const dt = document.createElement('dt'); dt.textContent = k;
    const dd = document.createElement('dd'); dd.textContent = String(v);
    return [dt, dd];
  }), ...(['simd', 'scalar'] as const).flatMap((v) => {
    const n = r.wasmBytes[v];
    if (n === undefined) return [];
    const dt = document.createElement('dt'); dt.textContent = `retort.${v}.wasm`;
    const dd = document.createElement('dd'); dd.textContent = `${n.toLocaleString('en')} bytes (${(n / 1024).toFixed(1)} KiB)`;
    return [dt, dd];
  }));

  const json = $<HTMLTextAreaElement>('json');
  json.value = `${JSON.stringify(r, null, 2)}\n`;
  const download = $<HTMLAnchorElement>('download');
  if (download.href.startsWith('blob:')) URL.revokeObjectURL(download.href);
  download.href = URL.createObjectURL(new Blob([json.value], { type: 'application/json' }));
  $('copy-fallback').hidden = true;
  $('copy-status').textContent = '';
  results.hidden = false;
  results.dataset.state = 'done';
}

function figure(svg: SVGSVGElement, caption: string): HTMLElement {
  const f = document.createElement('figure');
  const c = document.createElement('figcaption');
  c.textContent = caption;
  f.append(svg, c);
  return f;
}

$('copy').addEventListener('click', () => { void copy(); });

async function copy(): Promise<void> {
  if (!last) return;
  const json = $<HTMLTextAreaElement>('json');
  const copyStatus = $('copy-status');
  try {
    if (!navigator.clipboard) throw new Error('no clipboard API here');
    await navigator.clipboard.writeText(json.value);
    copyStatus.textContent = `Copied ${(json.value.length / 1024).toFixed(1)} KB of JSON to the clipboard.`;
    $('copy-fallback').hidden = true;
  } catch (e) {
    $('copy-fallback').hidden = false;
    json.focus();
    json.select();
    copyStatus.textContent = `The clipboard is not available (${e instanceof Error ? e.message : String(e)}): the JSON is below, selected — copy it with Ctrl+C / ⌘C.`;
  }
}
