// The lab's text tab, page side (index.html #text): pick a teacher and a student text model; read a
// sentence (both models' probabilities as bars, every attention head's map over the tokens as a
// heat map, row i = where token i looks); a language model writes from a prompt. The work runs in
// the worker (./text-engine.ts).
import type { Remote } from 'comlink';
import type { Api } from '../engine.js';
import { renderBars } from './bars.js';
import { drawHeat } from './heatmap.js';
import type { TextModelInfo, TextReading, TextRole } from './text-engine.js';

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T;

export function startTextTab(engine: Remote<Api>): void {
  const loaded = new Map<TextRole, TextModelInfo>();
  const error = $('text-error'), readBtn = $<HTMLButtonElement>('text-read'), writeBtn = $<HTMLButtonElement>('text-write');
  const fail = (e: unknown): void => { error.textContent = e instanceof Error ? e.message : String(e); };

  const refresh = (): void => {
    readBtn.disabled = loaded.size === 0;
    writeBtn.disabled = ![...loaded.values()].some((m) => m.kind === 'lm');
    $('text-loaded').textContent = [...loaded.values()].map((m) =>
      `${m.role}: ${m.file}, ${m.kind === 'lm' ? 'language model' : `classifier of ${m.classes} classes`}, ${m.params.toLocaleString('en-US')} parameters, ${m.length} ${m.kind === 'lm' ? 'characters' : 'tokens'}`
      + `${m.attention.length ? `, attention in ${m.attention.join(', ')}` : ''}`).join(' · ');
  };

  for (const role of ['teacher', 'student'] as const) {
    const input = $<HTMLInputElement>(`text-${role}`);
    input.addEventListener('change', () => {
      const file = input.files?.[0];
      if (!file) return;
      error.textContent = '';
      void file.arrayBuffer().then((buf) => engine.loadTextModel(role, { name: file.name, bytes: new Uint8Array(buf) })).then(
        (info) => { loaded.set(role, info); refresh(); },
        (e: unknown) => { loaded.delete(role); refresh(); fail(e); input.value = ''; },
      );
    });
  }

  readBtn.addEventListener('click', () => {
    error.textContent = '';
    void engine.readText($<HTMLTextAreaElement>('text-sentence').value).then((r) => renderReading(r, loaded), fail);
  });

  writeBtn.addEventListener('click', () => {
    error.textContent = '';
    const num = (id: string): number => Number($<HTMLInputElement>(id).value);
    const o = { length: num('write-length'), temperature: num('write-temperature'), topK: num('write-topk'), seed: num('write-seed') };
    if (!(Number.isInteger(o.length) && o.length >= 1 && o.length <= 2000)) { fail(new RangeError('length: a whole number from 1 to 2000')); return; }
    if (!(o.temperature > 0 && o.temperature <= 5)) { fail(new RangeError('temperature: a number in (0, 5]')); return; }
    if (!(Number.isInteger(o.topK) && o.topK >= 0)) { fail(new RangeError('top-k: a whole number, 0 for all')); return; }
    if (!(Number.isInteger(o.seed) && o.seed >= 0)) { fail(new RangeError('seed: a whole number >= 0')); return; }
    writeBtn.disabled = true;
    void engine.writeText($<HTMLTextAreaElement>('text-sentence').value, o).then((rows) => {
      const out = $('text-written');
      out.replaceChildren(...rows.map((r) => {
        const fig = document.createElement('figure');
        fig.dataset.role = r.role;
        const cap = document.createElement('figcaption');
        cap.textContent = `${r.role} writes:`;
        const pre = document.createElement('p');
        pre.className = 'text-written';
        pre.textContent = r.text;
        fig.append(cap, pre);
        return fig;
      }));
    }, fail).finally(() => { writeBtn.disabled = false; refresh(); });
  });
}

function renderReading(readings: TextReading[], loaded: Map<TextRole, TextModelInfo>): void {
  const out = document.getElementById('text-reading')!;
  out.replaceChildren(...readings.map((r) => {
    const info = loaded.get(r.role)!;
    const box = document.createElement('div');
    box.dataset.role = r.role;
    const h = document.createElement('h3');
    h.textContent = `${r.role}: ${info.file}`;
    const tokens = document.createElement('p');
    tokens.className = 'muted text-tokens';
    tokens.textContent = `${r.tokens.length} tokens: ${r.tokens.map((t) => JSON.stringify(t)).join(' ')}`;
    const bars = document.createElement('div');
    bars.className = 'bars';
    bars.id = `text-bars-${r.role}`;
    let probs = r.probabilities, names: string[];
    if (r.labels) {
      // a language model: its 10 most likely next characters
      const order = probs.map((p, j) => [p, j] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, 10);
      names = order.map(([, j]) => JSON.stringify(r.labels![j]!).slice(1, -1) || '∅');
      probs = order.map(([p]) => p);
    } else {
      names = info.classNames ?? probs.map((_, j) => `class ${j}`);
    }
    renderBars(bars, probs, `${r.role}: ${r.labels ? 'next character' : 'class probabilities'}`, undefined, names);
    const maps = document.createElement('div');
    maps.className = 'text-maps';
    for (const m of r.maps) {
      m.values.forEach((values, head) => {
        const fig = document.createElement('figure');
        const canvas = document.createElement('canvas');
        canvas.dataset.role = r.role; canvas.dataset.tap = m.tap; canvas.dataset.head = String(head);
        canvas.setAttribute('role', 'img');
        canvas.setAttribute('aria-label', `${r.role} ${m.tap} head ${head + 1}: attention over ${m.n} tokens`);
        const max = Math.max(...values, 1e-12);
        drawHeat(canvas, values.map((v) => v / max), m.n, m.n);
        const cap = document.createElement('figcaption');
        cap.textContent = `${m.tap}, head ${head + 1}`;
        fig.append(canvas, cap);
        maps.append(fig);
      });
    }
    box.append(h, tokens, bars, maps);
    return box;
  }));
}
