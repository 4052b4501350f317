// The lab page: the form, the live charts, dark knowledge, feature maps, the results, the drawing
// pad and the downloads. The main thread never trains: it sends the run to the worker (comlink)
// and draws what comes back — charts at most once per animation frame, softened distributions from
// the stored logits (10 numbers a bar chart), feature maps as small canvases, everything else once
// per finished model.
import { proxy, transfer, type Remote } from 'comlink';
import type { Api } from '../engine.js';
import { drawDigit, renderBars, type Picture } from './bars.js';
import { NAMES, RunCharts } from './charts.js';
import { DrawPad } from './draw.js';
import { FeatureMapsPanel } from './maps-view.js';
import { ModelFields } from './model-fields.js';
import { argmax, parseDecimal, softmaxT } from './mnist-input.js';
import type {
  DataFilesRequest, DataInfo, EpochPoint, ExportFormat, ExportedFile, LabConfig, LabMethod, ModelResult, ProgressPoint, Role, RunSummary, TeacherInfo,
} from './types.js';

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`lab: #${id} is missing from the page`);
  return el as T;
};
const fmtInt = (n: number): string => Math.round(n).toLocaleString('en-US');
const pct = (x: number, digits = 2): string => `${(100 * x).toFixed(digits)} %`;
const bytes = (b: number): string => (b >= 1 << 20 ? `${(b / (1 << 20)).toFixed(2)} MiB` : b >= 1024 ? `${(b / 1024).toFixed(1)} KiB` : `${b} B`);
const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** ?quick=1 shrinks every size (tests, and a first look on a slow device). */
const QUICK = new URLSearchParams(location.search).has('quick');
const QUICK_VALUES: Record<string, string> = {
  'teacher-spec': 'mlp:784-64-10', 'teacher-epochs': '2', 'teacher-size': '3000', 'student-hidden': '32', 'student-width': '0.25', epochs: '8',
  'transfer-size': '1000', 'batch-size': '64', validation: '500', 'test-size': '1000',
};

type ModelState = Omit<ModelResult, 'testLogits'>;
const SHORT: Record<Role, string> = { teacher: 'teacher', distilled: 'distilled', baseline: 'baseline' };

export function startLab(engine: Remote<Api>): void {
  const form = $<HTMLFormElement>('run-form');
  const startBtn = $<HTMLButtonElement>('start');
  const pauseBtn = $<HTMLButtonElement>('pause');
  const stopBtn = $<HTMLButtonElement>('stop');
  const phase = $('phase');
  const runError = $('run-error');
  const charts = new RunCharts($('chart-loss'), $('chart-acc'));
  const methodSelect = $<HTMLSelectElement>('method');

  const state = {
    dataReady: false,
    running: false,
    paused: false,
    /** The loaded data (MNIST until the visitor loads files). */
    data: null as DataInfo | null,
    testImages: new Uint8Array(0) as Uint8Array,
    testLabels: new Int32Array(0) as Int32Array,
    logits: {} as Partial<Record<Role, Float32Array>>,
    results: {} as Partial<Record<Role, ModelState>>,
    summary: undefined as RunSummary | undefined,
    config: undefined as LabConfig | undefined,
    generation: 0,
    selected: 0,
    teacherLoaded: null as { kind: string; info: TeacherInfo } | null,
    drawing: null as Float32Array | null,
    exports: new Map<ExportFormat, Promise<ExportedFile[]>>(),
    methods: [] as { name: string; title: string; source: string; needsTeacher: boolean; terms: string }[],
  };

  /** Classes of the loaded data, their names, and the test samples' picture size (null: table rows). */
  const K = (): number => state.data?.classes ?? 10;
  const names = (): string[] => state.data?.classNames ?? Array.from({ length: 10 }, (_, k) => String(k));
  const picture = (): Picture | null => state.data ? state.data.picture : { h: 28, w: 28, c: 1 };
  const maps = new FeatureMapsPanel(engine, () => state.selected, () => state.testImages, () => state.drawing, picture);

  if (QUICK) {
    for (const [id, v] of Object.entries(QUICK_VALUES)) ($<HTMLInputElement>(id)).value = v;
    phase.textContent = 'Not started. Quick mode (?quick=1): every size is tiny.';
  }

  // ---- the form ------------------------------------------------------------------------------

  const teacherSource = (): string => (form.querySelector<HTMLInputElement>('input[name="teacher-source"]:checked')?.value ?? 'train');
  const fields = new ModelFields(engine, () => undefined, () => state.data);
  const showSourcePanel = (): void => {
    const src = teacherSource();
    form.querySelectorAll<HTMLElement>('.source-panel[data-source]').forEach((p) => { p.hidden = p.dataset.source !== src; });
    const loaded = state.teacherLoaded;
    $('teacher-info').textContent = src === 'train' ? ''
      : loaded && loaded.kind === src ? `Loaded: ${loaded.info.description}` : 'No file loaded yet.';
    fields.setLoadedTeacher(src === 'train' ? null : loaded && loaded.kind === src ? loaded.info.taps : []);
  };
  form.querySelectorAll<HTMLInputElement>('input[name="teacher-source"]').forEach((r) => r.addEventListener('change', () => {
    showSourcePanel();
    setError('teacher-file', '');
  }));

  const methodInfo = (): void => {
    const m = methodSelect.value;
    form.querySelectorAll<HTMLElement>('[data-methods]').forEach((f) => { f.hidden = !f.dataset.methods!.split(' ').includes(m); });
    const info = state.methods.find((x) => x.name === m);
    $('method-info').textContent = info ? `${info.terms}. ${info.source !== '-' ? info.source + '.' : ''}${m === 'born-again' ? ' Generation 0 is the baseline; the last generation is the distilled student.' : ''}` : '';
  };
  methodSelect.addEventListener('change', methodInfo);

  function setError(field: string, message: string): void {
    const el = document.getElementById(`${field}-error`);
    if (el) el.textContent = message;
    const input = document.getElementById(field);
    if (input instanceof HTMLInputElement || input instanceof HTMLSelectElement) {
      if (message) input.setAttribute('aria-invalid', 'true'); else input.removeAttribute('aria-invalid');
    }
  }

  const value = (id: string): string => ($<HTMLInputElement>(id)).value;
  const checks: Record<string, () => string> = {
    temperature: () => {
      const t = parseDecimal(value('temperature'));
      return Number.isNaN(t) ? 'The temperature must be a number, e.g. 4.' : t <= 0 ? 'The temperature must be greater than 0.' : t > 1000 ? 'The temperature must be at most 1000.' : '';
    },
    alpha: () => {
      const a = parseDecimal(value('alpha'));
      return Number.isNaN(a) ? 'α must be a number between 0 and 1, e.g. 0.9.' : a < 0 || a > 1 ? 'α must be between 0 and 1.' : '';
    },
  };
  const intCheck = (id: string, what: string, min: number, max: () => number) => (): string => {
    const raw = value(id).trim();
    const n = parseDecimal(raw);
    if (!Number.isInteger(n)) return `${what} must be a whole number.`;
    if (n < min || n > max()) return `${what} must be between ${fmtInt(min)} and ${fmtInt(max())}.`;
    return '';
  };
  const trainMax = (): number => (state.data?.trainCount ?? 60000) - (parseDecimal(value('validation')) || 0);
  Object.assign(checks, {
    'teacher-epochs': intCheck('teacher-epochs', 'Teacher epochs', 1, () => 1000),
    'teacher-size': intCheck('teacher-size', 'The teacher\'s training images', 1, trainMax),
    epochs: intCheck('epochs', 'Epochs', 1, () => 1000),
    'transfer-size': intCheck('transfer-size', 'The transfer set', 1, trainMax),
    seed: intCheck('seed', 'The seed', 0, () => 2 ** 32 - 1),
    'batch-size': intCheck('batch-size', 'The batch size', 1, () => 4096),
    validation: intCheck('validation', 'Validation images', 1, () => Math.floor((state.data?.trainCount ?? 60000) / 2)),
    'test-size': intCheck('test-size', 'Test images', 1, () => state.data?.testCount ?? 10000),
    peers: intCheck('peers', 'Peers', 1, () => 4),
    generations: intCheck('generations', 'Generations', 1, () => 5),
    'student-hidden': () => {
      const parts = value('student-hidden').trim().split(/[-,\s]+/).filter(Boolean);
      return parts.length === 0 || parts.some((p) => !/^\d+$/.test(p) || +p < 1 || +p > 4096)
        ? 'Give the hidden widths as whole numbers from 1 to 4096, e.g. 100-100.' : '';
    },
    'student-width': () => { const w = parseDecimal(value('student-width')); return w > 0 && w <= 64 ? '' : 'The width multiplier must be a number in (0, 64], e.g. 0.5.'; },
    lr: () => { const v = parseDecimal(value('lr')); return v > 0 && v < 10 ? '' : 'The learning rate must be a number between 0 and 10, e.g. 0.001.'; },
    'dkd-alpha': () => (parseDecimal(value('dkd-alpha')) >= 0 ? '' : 'DKD\'s α must be a number ≥ 0.'),
    'dkd-beta': () => (parseDecimal(value('dkd-beta')) >= 0 ? '' : 'DKD\'s β must be a number ≥ 0.'),
    correct: () => { const v = parseDecimal(value('correct')); return v > 0 && v < 1 ? '' : 'The probability on the label must be in (0, 1), e.g. 0.9.'; },
    'rkd-distance': () => (parseDecimal(value('rkd-distance')) >= 0 ? '' : 'The distance weight must be a number ≥ 0.'),
    'rkd-angle': () => (parseDecimal(value('rkd-angle')) >= 0 ? '' : 'The angle weight must be a number ≥ 0.'),
    'hint-epochs': () => {
      const raw = value('hint-epochs').trim();
      if (raw === '') return parseDecimal(value('epochs')) >= 2 ? '' : 'FitNets needs at least 2 epochs (a hint stage, then KD).';
      const n = parseDecimal(raw), e = parseDecimal(value('epochs'));
      return Number.isInteger(n) && n >= 1 && n < e ? '' : `Hint epochs must be a whole number from 1 to ${Number.isInteger(e) ? fmtInt(e - 1) : 'epochs − 1'}.`;
    },
  });
  /** Fields that apply now (method parameters of other methods and the teacher-training fields when a file is used are skipped). */
  const applies = (id: string): boolean => {
    const el = document.getElementById(id);
    const scoped = el?.closest<HTMLElement>('[data-methods]');
    if (scoped && scoped.hidden) return false;
    if (el?.closest('.source-panel[data-source="train"]') && teacherSource() !== 'train') return false;
    const part = el?.closest<HTMLElement>('[data-student]');
    if (part && part.hidden) return false;
    return true;
  };
  const validate = (id: string): string => {
    const msg = applies(id) ? checks[id]!() : '';
    setError(id, msg);
    return msg;
  };
  for (const id of Object.keys(checks)) {
    const el = $(id);
    el.addEventListener(id === 'temperature' || id === 'alpha' ? 'input' : 'change', () => validate(id));
  }

  async function readConfig(): Promise<LabConfig | null> {
    let first: string | null = null;
    for (const id of Object.keys(checks)) if (validate(id) && !first) first = id;
    // the model specs, checked by the worker (parse, resolve against MNIST, compile)
    // (a field of the student's kind that is already refused above is not sent)
    const own = fields.studentKind === 'mlp' ? 'student-hidden' : fields.studentKind === 'graph' ? null : 'student-width';
    const studentError = own && checks[own]!() ? '' : await fields.update('student');
    if (studentError && !first) first = fields.studentKind === 'graph' ? 'student-graph' : fields.studentKind === 'mlp' ? 'student-hidden' : 'student-width';
    if (teacherSource() === 'train' && await fields.update('teacher') && !first) first = 'teacher-spec';
    const src = teacherSource();
    if (src !== 'train' && state.teacherLoaded?.kind !== src) {
      setError('teacher-file', 'Pick a teacher file first (or choose "Train one here").');
      first ??= `teacher-${src}`;
    }
    if (first) { document.getElementById(first)?.focus(); return null; }
    const n = (id: string): number => parseDecimal(value(id));
    const epochs = n('epochs');
    return {
      teacher: src === 'train' ? { spec: fields.teacherSpec(), epochs: n('teacher-epochs'), trainSize: n('teacher-size') } : null,
      student: fields.studentSpec(),
      method: methodSelect.value as LabMethod,
      studentTap: $<HTMLSelectElement>('student-tap').value, teacherTap: $<HTMLSelectElement>('teacher-tap').value,
      temperature: n('temperature'), alpha: n('alpha'), dkdAlpha: n('dkd-alpha'), dkdBeta: n('dkd-beta'), correct: n('correct'),
      peers: n('peers'), rkdDistance: n('rkd-distance'), rkdAngle: n('rkd-angle'),
      hintEpochs: value('hint-epochs').trim() === '' ? Math.max(1, Math.ceil(epochs / 4)) : n('hint-epochs'),
      generations: n('generations'), epochs, transferSize: n('transfer-size'), seed: n('seed'), batchSize: n('batch-size'),
      lr: n('lr'), validation: n('validation'), testSize: n('test-size'), timingSeconds: QUICK ? 0.005 : 0.04,
    };
  }

  // ---- teacher files -------------------------------------------------------------------------

  const fileInputs: Record<string, HTMLInputElement> = {
    retort: $<HTMLInputElement>('teacher-retort'), tfjs: $<HTMLInputElement>('teacher-tfjs'), onnx: $<HTMLInputElement>('teacher-onnx'),
    logits: $<HTMLInputElement>('teacher-logits'),
  };
  for (const [kind, input] of Object.entries(fileInputs)) {
    input.addEventListener('change', async () => {
      const files = Array.from(input.files ?? []);
      if (files.length === 0) return;
      setError('teacher-file', '');
      $('teacher-info').textContent = `Reading ${files.map((f) => f.name).join(', ')}…`;
      try {
        const payload = await Promise.all(files.map(async (f) => ({ name: f.name, bytes: new Uint8Array(await f.arrayBuffer()) })));
        const info = await engine.loadTeacher(kind as 'retort' | 'tfjs' | 'onnx' | 'logits', transfer(payload, payload.map((p) => p.bytes.buffer)));
        state.teacherLoaded = { kind, info };
        $('teacher-info').textContent = `Loaded: ${info.description}`;
        fields.setLoadedTeacher(info.taps);
      } catch (e) {
        state.teacherLoaded = null;
        $('teacher-info').textContent = 'No teacher file loaded.';
        setError('teacher-file', `Could not load the teacher: ${(e as Error).message}`);
        input.value = '';
      }
    });
  }

  // ---- data ----------------------------------------------------------------------------------

  const dataSource = (): string => (form.querySelector<HTMLInputElement>('input[name="data-source"]:checked')?.value ?? 'mnist');
  const dataInputs = ['data-files', 'data-folder', 'data-test-files'].map((id) => $<HTMLInputElement>(id));
  const dataFieldChecks: Record<string, () => string> = {
    'data-label-column': () => (value('data-label-column').trim() ? '' : 'Name the label column of the CSV table.'),
    'data-image-size': () => (value('data-image-size').trim() === '' || imageSize() ? '' : 'Give the size as HEIGHTxWIDTH, e.g. 32x32, or leave it empty.'),
    'data-test-fraction': () => { const f = parseDecimal(value('data-test-fraction')); return f > 0 && f < 1 ? '' : 'The test fraction must be a number in (0, 1), e.g. 0.2.'; },
    'data-split-seed': () => { const n = parseDecimal(value('data-split-seed')); return Number.isInteger(n) && n >= 0 && n <= 2 ** 32 - 1 ? '' : 'The split seed must be a whole number ≥ 0.'; },
  };
  function imageSize(): [number, number] | null {
    const m = /^\s*(\d+)\s*[x×]\s*(\d+)\s*$/i.exec(value('data-image-size'));
    if (!m) return null;
    const h = Number(m[1]), w = Number(m[2]);
    return h >= 1 && w >= 1 && h <= 1024 && w <= 1024 ? [h, w] : null;
  }
  for (const id of Object.keys(dataFieldChecks)) $(id).addEventListener('change', () => setError(id, dataFieldChecks[id]!()));

  /** Shows what data the lab holds now (and drops what was learnt from the data before). */
  function useData(info: DataInfo): void {
    state.data = info;
    state.testImages = info.testImages ?? new Uint8Array(0);
    state.testLabels = info.testLabels;
    state.dataReady = true;
    state.logits = {};
    state.results = {};
    state.summary = undefined;
    state.exports.clear();
    charts.reset();
    resetResults();
    if (info.teacherDropped && state.teacherLoaded) {
      state.teacherLoaded = null;
      for (const input of Object.values(fileInputs)) input.value = '';
      showSourcePanel();
    }
    fields.dataChanged();
    dkIndex.max = String(info.testCount - 1);
    $('teacher-logits-label').innerHTML = `Teacher logits over the ${fmtInt(info.trainCount)} training samples of ${info.name.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`)} `
      + `(<code>.npy</code> or <code>.safetensors</code>, [${info.trainCount}, ${info.classes}], in the data's order)`;
    const shape = info.sampleShape.join('×');
    $('data-status').textContent = `${info.name} ready: ${fmtInt(info.trainCount)} training and ${fmtInt(info.testCount)} test samples (${info.seconds.toFixed(1)} s).`;
    $('data-info').textContent = `${info.name}: ${fmtInt(info.trainCount)} training and ${fmtInt(info.testCount)} test samples of ${shape}, ` +
      `${info.classes} classes${info.name === 'MNIST' ? '' : ` (${info.classNames.slice(0, 12).join(', ')}${info.classes > 12 ? ', …' : ''})`}; test set: ${info.split}; inputs ${info.normalization}.`;
    $('try').classList.toggle('not-drawable', !info.drawable);
    $('pad-note').textContent = info.drawable ? '' : `The drawing pad is for 28×28 grey pictures such as MNIST's; ${info.name}'s samples are ${shape}.`;
    pad.clear();
    state.selected = 0;
    select(0);
    setRunning(false);
  }

  const picked = async (input: HTMLInputElement): Promise<{ path: string; bytes: Uint8Array }[]> =>
    Promise.all(Array.from(input.files ?? []).map(async (f) => ({ path: f.webkitRelativePath || f.name, bytes: new Uint8Array(await f.arrayBuffer()) })));

  async function loadFiles(): Promise<void> {
    setError('data', '');
    let bad = '';
    for (const [id, check] of Object.entries(dataFieldChecks)) { const m = check(); setError(id, m); if (m && !bad) bad = id; }
    if (bad) { $(bad).focus(); return; }
    const [filesInput, folderInput, testInput] = dataInputs as [HTMLInputElement, HTMLInputElement, HTMLInputElement];
    const source = (folderInput.files?.length ?? 0) > 0 ? folderInput : filesInput;
    if ((source.files?.length ?? 0) === 0) { setError('data', 'Pick data files or an image folder first.'); filesInput.focus(); return; }
    state.dataReady = false;
    setRunning(false);
    $('data-info').textContent = `Reading ${fmtInt(source.files!.length)} file${source.files!.length === 1 ? '' : 's'}…`;
    try {
      const files = await picked(source);
      const testFiles = await picked(testInput);
      const size = imageSize();
      const req: DataFilesRequest = {
        files, ...(testFiles.length ? { testFiles } : {}), labelColumn: value('data-label-column').trim(), ...(size ? { imageSize: size } : {}),
        testFraction: parseDecimal(value('data-test-fraction')), splitSeed: parseDecimal(value('data-split-seed')),
        normalize: $<HTMLInputElement>('data-normalize').checked,
      };
      useData(await engine.loadFiles(transfer(req, [...files, ...testFiles].map((f) => f.bytes.buffer as ArrayBuffer))));
    } catch (e) {
      setError('data', `Could not read the data: ${(e as Error).message}`);
      $('data-info').textContent = state.data ? `Still using ${state.data.name}.` : '';
      state.dataReady = state.data !== null;
      setRunning(false);
    }
  }
  $('data-load').addEventListener('click', () => void loadFiles());
  // the data are the files or the folder picked last: picking one clears the other
  {
    const [filesInput, folderInput] = dataInputs as [HTMLInputElement, HTMLInputElement];
    filesInput.addEventListener('change', () => { if (filesInput.files?.length) folderInput.value = ''; });
    folderInput.addEventListener('change', () => { if (folderInput.files?.length) filesInput.value = ''; });
  }

  async function loadMnist(): Promise<void> {
    const dataStatus = $('data-status');
    dataStatus.textContent = 'Loading MNIST (about 11 MB, once)…';
    state.dataReady = false;
    setRunning(false);
    try {
      useData(await engine.loadData(new URL('mnist/', document.baseURI).href));
    } catch (e) {
      dataStatus.textContent = '';
      runError.textContent = `Could not load MNIST: ${(e as Error).message}`;
    }
  }
  form.querySelectorAll<HTMLInputElement>('input[name="data-source"]').forEach((r) => r.addEventListener('change', () => {
    const src = dataSource();
    form.querySelectorAll<HTMLElement>('.source-panel[data-data]').forEach((p) => { p.hidden = p.dataset.data !== src; });
    setError('data', '');
    if (src === 'mnist' && state.data?.name !== 'MNIST') void loadMnist();
  }));

  // ---- running -------------------------------------------------------------------------------

  const setRunning = (running: boolean): void => {
    state.running = running;
    startBtn.disabled = running || !state.dataReady;
    pauseBtn.disabled = !running;
    stopBtn.disabled = !running;
    for (const input of [...Object.values(fileInputs), ...dataInputs]) input.disabled = running;
    $<HTMLButtonElement>('data-load').disabled = running;
    form.querySelectorAll<HTMLInputElement>('input[name="data-source"]').forEach((r) => { r.disabled = running; });
    if (!running) { state.paused = false; pauseBtn.textContent = 'Pause'; pauseBtn.setAttribute('aria-pressed', 'false'); }
    document.body.classList.toggle('is-running', running);
  };

  let statFrame = 0;
  let lastProgress: ProgressPoint | null = null;
  const showStats = (): void => {
    statFrame = 0;
    const p = lastProgress;
    if (!p) return;
    $('stat-model').textContent = SHORT[p.role] + (p.generation !== undefined ? `, gen. ${p.generation}` : '');
    $('stat-epoch').textContent = `${p.epoch} / ${p.epochs}`;
    $('stat-rate').textContent = fmtInt(p.samplesPerSec);
    $('stat-eta').textContent = Number.isFinite(p.etaSeconds) ? `${Math.max(0, Math.ceil(p.etaSeconds))} s` : '—';
  };

  const callbacks = {
    phase(message: string): void { if (!state.paused) phase.textContent = message; },
    progress(p: ProgressPoint): void {
      if (p.role === 'distilled' && p.generation !== undefined && p.generation !== state.generation) {
        state.generation = p.generation;
        charts.resetRole('distilled');
      }
      charts.progress(p);
      lastProgress = p;
      statFrame ||= requestAnimationFrame(showStats);
    },
    epoch(p: EpochPoint): void { charts.epoch(p); },
    modelDone(m: ModelResult): void {
      const { testLogits, ...rest } = m;
      state.results[m.role] = rest;
      if (testLogits) state.logits[m.role] = testLogits;
      if (m.source === 'reused') {
        // a teacher reused from the previous run: its curves from its history
        const n = m.history.length;
        m.history.forEach((h) => {
          charts.progress({ role: 'teacher', x: h.epoch / n, loss: h.trainLoss, accuracy: h.trainAccuracy, samplesPerSec: h.samplesPerSec, epoch: h.epoch, epochs: n, etaSeconds: 0 });
          charts.epoch({ role: 'teacher', x: h.epoch / n, valAccuracy: h.valAccuracy ?? NaN });
        });
      }
      renderResultsTable();
      if (m.role === 'teacher' || m.role === 'distilled') { renderDark(); maps.refresh(); }
      if (m.role === 'distilled') $<HTMLButtonElement>('dk-mistake').disabled = false;
    },
  };

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (state.running || !state.dataReady) return;
    runError.textContent = '';
    const config = await readConfig();
    if (!config) return;
    state.config = config;
    state.summary = undefined;
    state.results = {};
    state.logits = {};
    state.generation = 0;
    state.exports.clear();
    lastProgress = null;
    charts.reset();
    resetResults();
    const slider = $<HTMLInputElement>('dk-temp');
    slider.value = String(Math.min(20, Math.max(1, Math.round(config.temperature * 2) / 2)));
    onSlider();
    setRunning(true);
    phase.textContent = 'Starting…';
    try {
      const summary = await engine.run(config, proxy(callbacks));
      state.summary = summary;
      if (summary.stopped) phase.textContent = 'Stopped. The models that finished are shown; start again to run the rest.';
      else phase.textContent = `Done in ${summary.wallSeconds.toFixed(1)} s (${summary.backend} backend, ${summary.threads} thread${summary.threads === 1 ? '' : 's'}).`;
      renderFinal();
      maps.refresh();
    } catch (err) {
      runError.textContent = `The run failed: ${(err as Error).message}`;
      phase.textContent = 'The run failed; change the settings and start again.';
    } finally {
      setRunning(false);
      showStats();
    }
  });

  pauseBtn.addEventListener('click', () => {
    if (!state.running) return;
    state.paused = !state.paused;
    if (state.paused) { void engine.pause(); phase.textContent = 'Paused. The worker still answers your drawings.'; }
    else { void engine.resume(); phase.textContent = 'Resumed.'; }
    pauseBtn.textContent = state.paused ? 'Resume' : 'Pause';
    pauseBtn.setAttribute('aria-pressed', String(state.paused));
  });
  stopBtn.addEventListener('click', () => { if (state.running) { void engine.stop(); phase.textContent = 'Stopping…'; } });

  // ---- dark knowledge ------------------------------------------------------------------------

  const dkIndex = $<HTMLInputElement>('dk-index');
  const temp = (): number => parseFloat($<HTMLInputElement>('dk-temp').value);
  function onSlider(): void {
    const t = temp();
    $('dk-temp-out').textContent = String(t);
    document.querySelectorAll('.t-now').forEach((s) => { s.textContent = String(t); });
    renderDark();
  }
  $('dk-temp').addEventListener('input', onSlider);

  function select(i: number): void {
    const n = state.testLabels.length;
    if (n === 0) return;
    state.selected = ((Math.round(i) % n) + n) % n;
    dkIndex.value = String(state.selected);
    renderDark();
    if (!maps.followsDrawing) maps.refresh();
  }
  dkIndex.addEventListener('change', () => { const v = parseDecimal(dkIndex.value); if (Number.isInteger(v)) select(v); else dkIndex.value = String(state.selected); });
  $('dk-prev').addEventListener('click', () => select(state.selected - 1));
  $('dk-next').addEventListener('click', () => select(state.selected + 1));
  $('dk-mistake').addEventListener('click', () => {
    const z = state.logits.distilled;
    if (!z) return;
    const n = z.length / K();
    for (let k = 1; k <= n; k++) {
      const i = (state.selected + k) % n;
      if (argmax(z, i * K(), K()) !== state.testLabels[i]) { select(i); return; }
    }
  });

  function renderDark(): void {
    const i = state.selected;
    const n = state.testLabels.length;
    const canvas = $<HTMLCanvasElement>('dk-image');
    if (n === 0) return;
    const pic = picture(), k = K(), cls = names();
    canvas.hidden = !pic;
    if (pic) drawDigit(canvas, state.testImages, i * pic.h * pic.w * pic.c, false, pic);
    const label = state.testLabels[i]!;
    const what = state.data ? `${state.data.picture ? 'test image' : 'test row'} ${i}, of class ${cls[label]}` : `Test image ${i}, a handwritten ${label}`;
    canvas.setAttribute('aria-label', what);
    const t = temp();
    const parts = [state.data ? `Test ${state.data.picture ? 'image' : 'row'} #${i}: ${cls[label]}.` : `Test image #${i}: a ${label}.`];
    for (const [role, id, who] of [['teacher', 'teacher', 'Teacher'], ['distilled', 'student', 'Distilled student']] as const) {
      const z = state.logits[role];
      const inRange = z && (i + 1) * k <= z.length;
      const p1 = inRange ? softmaxT(z, 1, i * k, k) : null;
      renderBars($(`bars-${id}-1`), p1, `${who} at T = 1`, label, cls);
      renderBars($(`bars-${id}-t`), inRange ? softmaxT(z, t, i * k, k) : null, `${who} at T = ${t}`, label, cls);
      if (p1) { const top = argmax(p1, 0, k); parts.push(`${who}: ${cls[top]} (${pct(p1[top]!, 1)}).`); }
    }
    if (!state.logits.teacher && state.results.teacher && !state.results.teacher.test) parts.push('The teacher is a logits file: it has no test-set predictions.');
    else if (!state.logits.teacher) parts.push('The teacher\'s probabilities appear once it has trained.');
    $('dk-caption').textContent = parts.join(' ');
    $<HTMLButtonElement>('pad-use').disabled = !(state.data?.drawable ?? true);
  }

  // ---- judge ---------------------------------------------------------------------------------

  function resetResults(): void {
    $('verdict').textContent = 'Results appear here as each model finishes.';
    $('results').querySelector('tbody')!.innerHTML = '';
    $('confusion').innerHTML = '<tbody><tr><td class="muted">—</td></tr></tbody>';
    $('mistakes').innerHTML = '';
    $('deploy').querySelector('tbody')!.innerHTML = '';
    $('deploy-summary').textContent = '—';
    $<HTMLButtonElement>('dk-mistake').disabled = true;
    document.querySelectorAll<HTMLButtonElement>('[data-export]').forEach((b) => { b.disabled = true; });
    $('export-error').textContent = '';
    renderDark();
  }

  function renderResultsTable(): void {
    const rows = (['teacher', 'distilled', 'baseline'] as const).map((role) => {
      const r = state.results[role];
      if (!r) return '';
      const t = r.test;
      const name = NAMES[role] + (r.generation !== undefined ? ` (generation ${r.generation})` : '') + (r.source !== 'trained' ? ` <span class="muted">(${r.source})</span>` : '');
      return `<tr class="${role}"><th scope="row"><span class="swatch" aria-hidden="true"></span>${name}</th><td data-label="Spec"><code>${esc(r.spec)}</code>${r.losses && role !== 'teacher' ? `<br><span class="muted small-text">${esc(r.losses)}</span>` : ''}</td>` +
        `<td class="num" data-label="Parameters">${r.params ? fmtInt(r.params) : '—'}</td><td class="num" data-label="Test errors" data-errors="${t?.errors ?? ''}">${t ? fmtInt(t.errors) : '—'}</td>` +
        `<td class="num" data-label="Accuracy" data-accuracy="${t?.accuracy ?? ''}">${t ? pct(t.accuracy) : '—'}</td>` +
        `<td class="num" data-label="Agreement with teacher">${role === 'teacher' ? (t ? '100.00 %' : '—') : t?.agreement !== undefined ? pct(t.agreement) : '—'}</td>` +
        `<td class="num" data-label="Training time">${r.source === 'trained' ? `${r.trainSeconds.toFixed(1)} s` : '—'}</td></tr>`;
    });
    $('results').querySelector('tbody')!.innerHTML = rows.join('');
  }

  function renderFinal(): void {
    const s = state.summary;
    const d = state.results.distilled?.test, b = state.results.baseline?.test, t = state.results.teacher?.test;
    if (d && b) {
      const diff = b.errors - d.errors;
      const verdict = diff > 0 ? `The distilled student makes ${fmtInt(diff)} fewer test errors than the same student trained alone (${fmtInt(d.errors)} vs ${fmtInt(b.errors)} of ${fmtInt(d.count)}).`
        : diff < 0 ? `Here the distilled student makes ${fmtInt(-diff)} more test errors than the student alone (${fmtInt(d.errors)} vs ${fmtInt(b.errors)}): try another temperature, more epochs or another method.`
          : `The distilled student and the student alone make the same number of test errors (${fmtInt(d.errors)}).`;
      $('verdict').innerHTML = `<strong>Final accuracy: ${pct(d.accuracy)}</strong> for the distilled student${t ? `, ${pct(t.accuracy)} for the teacher` : ''}, ${pct(b.accuracy)} for the student alone. ${esc(verdict)}`;
      $('verdict').dataset.final = String(d.accuracy);
    } else if (s?.stopped) {
      $('verdict').textContent = 'The run was stopped before both students finished.';
    }
    if (d) renderConfusion(d.confusion);
    renderMistakes();
    renderDeployment();
    const canExport = !!s && !s.stopped && !!state.results.distilled;
    document.querySelectorAll<HTMLButtonElement>('[data-export]').forEach((btn) => { btn.disabled = !canExport; });
  }

  function renderConfusion(m: number[][]): void {
    let max = 1;
    m.forEach((row, i) => row.forEach((v, j) => { if (i !== j && v > max) max = v; }));
    const cls = names().map((n) => esc(n.length > 6 ? `${n.slice(0, 5)}…` : n));
    const head = `<thead><tr><th scope="col"><span class="visually-hidden">true \\ predicted</span></th>${m.map((_, j) => `<th scope="col">${cls[j]}</th>`).join('')}</tr></thead>`;
    const body = m.map((row, i) => `<tr><th scope="row">${cls[i]}</th>${row.map((v, j) => {
      const heat = 0.12 + 0.88 * v / max;
      const style = i === j ? '' : v > 0 ? ` style="--heat:${heat.toFixed(3)}"` : '';
      const cell = i === j ? 'diag' : v > 0 ? `off${heat > 0.55 ? ' hot' : ''}` : 'zero';
      return `<td class="${cell}"${style} title="true ${cls[i]}, predicted ${cls[j]}: ${v}">${v}</td>`;
    }).join('')}</tr>`).join('');
    $('confusion').innerHTML = head + `<tbody>${body}</tbody>`;
  }

  function renderMistakes(): void {
    const z = state.logits.distilled;
    const box = $('mistakes');
    box.innerHTML = '';
    if (!z) return;
    const k = K(), cls = names(), pic = picture();
    const n = z.length / k;
    const frag = document.createDocumentFragment();
    let shown = 0;
    for (let i = 0; i < n && shown < 24; i++) {
      const pred = argmax(z, i * k, k), truth = state.testLabels[i]!;
      if (pred === truth) continue;
      shown++;
      const btn = document.createElement('button');
      btn.type = 'button';
      btn.className = 'mistake';
      btn.setAttribute('aria-label', `Test ${pic ? 'image' : 'row'} ${i}: ${cls[truth]}, predicted ${cls[pred]}`);
      const cap = document.createElement('span');
      cap.textContent = `${cls[truth]} → ${cls[pred]}`;
      if (pic) {
        const c = document.createElement('canvas');
        c.className = 'digit';
        drawDigit(c, state.testImages, i * pic.h * pic.w * pic.c, false, pic);
        btn.append(c);
      } else {
        const row = document.createElement('span');
        row.textContent = `#${i}`;
        btn.append(row);
      }
      btn.append(cap);
      btn.addEventListener('click', () => { select(i); $('dark').scrollIntoView({ block: 'start', behavior: matchMedia('(prefers-reduced-motion: reduce)').matches ? 'auto' : 'smooth' }); });
      frag.append(btn);
    }
    if (shown === 0) box.innerHTML = '<p class="muted">No mistakes on these test images.</p>';
    box.append(frag);
  }

  function renderDeployment(): void {
    const d = state.summary?.deployment;
    const tbody = $('deploy').querySelector('tbody')!;
    if (!d) { tbody.innerHTML = ''; return; }
    const row = (name: string, f: { parameters: number; bytes: number; latencyMs: number; throughput: number; accuracy: number; errors: number }, retained?: number) =>
      `<tr><th scope="row">${name}</th><td class="num" data-label="Parameters">${fmtInt(f.parameters)}</td><td class="num" data-label="Weights">${bytes(f.bytes)}</td>` +
      `<td class="num" data-label="Latency (batch 1)">${f.latencyMs < 0.1 ? f.latencyMs.toFixed(4) : f.latencyMs.toFixed(3)} ms</td>` +
      `<td class="num" data-label="Throughput (batch 128)">${fmtInt(f.throughput)} /s</td><td class="num" data-label="Test accuracy">${pct(f.accuracy)} (${fmtInt(f.errors)})</td>` +
      `<td class="num" data-label="Retained">${retained !== undefined ? pct(retained) : '—'}</td></tr>`;
    const q = d.studentInt8;
    tbody.innerHTML = (d.teacher ? row('teacher (f32)', d.teacher, 1) : '') + row('student (f32)', d.student, d.retained) + (q ? row('student (int8)', q, d.retainedInt8) : '');
    const parts: string[] = [];
    if (d.teacher) {
      parts.push(`The student is ${(d.teacher.bytes / d.student.bytes).toFixed(1)}× smaller${q ? ` (${(d.teacher.bytes / q.bytes).toFixed(1)}× as int8)` : ''} and ${(d.teacher.latencyMs / d.student.latencyMs).toFixed(1)}× faster at batch 1 than the teacher`);
    } else {
      parts.push(`The student has ${fmtInt(d.student.parameters)} parameters (${bytes(d.student.bytes)} as f32${q ? `, ${bytes(q.bytes)} as int8` : ''})`);
    }
    if (d.retained !== undefined) parts.push(`, and keeps ${pct(d.retained)} of its test accuracy${q ? ` (int8: ${pct(d.retainedInt8 ?? NaN)})` : ''}`);
    $('deploy-summary').textContent = `${parts.join('')}. Latency measured in this tab's worker (${d.backend} backend, one thread, median of 5 rounds)` +
      (q ? `; int8 activations calibrated on ${fmtInt(d.calibrationRows)} held-out training images.` : `. ${d.int8Note ?? ''}`);
    $('deploy-summary').classList.remove('muted');
  }

  // ---- drawing -------------------------------------------------------------------------------

  const preview = $<HTMLCanvasElement>('pad-preview');
  let inflight = false;
  let queued: Float32Array | null | undefined;
  const predict = async (pixels: Float32Array | null): Promise<void> => {
    if (inflight) { queued = pixels; return; }
    if (!pixels) {
      $('pad-guess').textContent = '—';
      $('pad-others').textContent = '';
      renderBars($('bars-pad'), null, 'Student probabilities for the drawing');
      return;
    }
    inflight = true;
    try {
      const out = await engine.predict(transfer(pixels, [pixels.buffer]));
      const student = out.distilled ?? out.baseline;
      if (!student) {
        $('pad-guess').textContent = '—';
        $('pad-others').textContent = 'Start a run: the student classifies your drawing as soon as it exists.';
        renderBars($('bars-pad'), null, 'Student probabilities for the drawing');
      } else {
        const p = softmaxT(student, 1, 0, K());
        const k = argmax(p, 0, K());
        $('pad-guess').textContent = `${names()[k]} (${pct(p[k]!, 1)})`;
        $('pad-guess').dataset.digit = String(k);
        renderBars($('bars-pad'), p, out.distilled ? 'Distilled student probabilities for the drawing' : 'Baseline student probabilities for the drawing', undefined, names());
        const others: string[] = [];
        if (!out.distilled) others.push('(the baseline: the distilled student is not trained yet)');
        if (out.teacher) others.push(`Teacher: ${names()[argmax(out.teacher, 0, K())]}`);
        if (out.distilled && out.baseline) others.push(`Student alone: ${names()[argmax(out.baseline, 0, K())]}`);
        $('pad-others').textContent = others.join(' · ');
      }
    } catch (e) {
      $('pad-others').textContent = `Could not classify the drawing: ${(e as Error).message}`;
    } finally {
      inflight = false;
      if (queued !== undefined) { const q = queued; queued = undefined; void predict(q); }
    }
  };
  const pad = new DrawPad($<HTMLCanvasElement>('pad'), (pixels) => {
    if (pixels) drawDigit(preview, pixels, 0, true);
    else preview.getContext('2d')?.clearRect(0, 0, 28, 28);
    state.drawing = pixels ? pixels.slice() : null;
    void predict(pixels);
    if (maps.followsDrawing) maps.refresh();
  });
  $('pad-clear').addEventListener('click', () => pad.clear());
  $('pad-use').addEventListener('click', () => { if (state.testImages.length) pad.showImage(state.testImages, state.selected * 784); });

  // ---- downloads -----------------------------------------------------------------------------

  const save = (name: string, mime: string, data: Uint8Array | string): void => {
    const blob = new Blob([data as BlobPart], { type: mime });
    const url = URL.createObjectURL(blob);
    const a = document.createElement('a');
    a.href = url;
    a.download = name;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  };
  document.querySelectorAll<HTMLButtonElement>('[data-export]').forEach((btn) => btn.addEventListener('click', async () => {
    const [format, file] = btn.dataset.export!.split(':') as [ExportFormat | 'metrics', string | undefined];
    $('export-error').textContent = '';
    if (format === 'metrics') {
      save('retort-lab-metrics.json', 'application/json', JSON.stringify({ generatedBy: 'Retort web lab', createdAt: new Date().toISOString(), ...state.summary }, null, 2));
      return;
    }
    try {
      let files = state.exports.get(format);
      if (!files) { files = engine.exportStudent(format); state.exports.set(format, files); }
      const list = await files;
      const f = file ? list.find((x) => x.name === file) : list[0];
      if (!f) throw new Error(`the export has no ${file}`);
      save(f.name, f.mime, f.bytes);
    } catch (e) {
      state.exports.delete(format);
      $('export-error').textContent = `Could not export: ${(e as Error).message}`;
    }
  }));

  // ---- start-up ------------------------------------------------------------------------------

  showSourcePanel();
  renderBars($('bars-pad'), null, 'Student probabilities for the drawing');
  void (async () => {
    try {
      state.methods = await engine.methods();
      methodSelect.innerHTML = state.methods.map((m) => `<option value="${esc(m.name)}"${m.name === 'kd' ? ' selected' : ''}>${esc(m.name)} — ${esc(m.title)}</option>`).join('');
    } catch { /* the static kd option stays */ }
    methodInfo();
    // what the default models are (parameters, taps), as the worker reads their specs
    void fields.update('student');
    if (teacherSource() === 'train') void fields.update('teacher');
    await loadMnist();
  })();
}
