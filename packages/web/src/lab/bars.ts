// Probability bar charts (one bar per class, named by the data's class names) in plain DOM: a fixed-height box per chart, each bar a
// transform-scaled fill (no reflow, no layout shift when the values change), the value in text
// for screen readers and a summary in the chart's aria-label.
import { argmax } from './mnist-input.js';

const pct = (p: number): string => `${(100 * p).toFixed(p >= 0.995 || p < 0.0005 ? 0 : p < 0.01 ? 2 : 1)} %`;

const DIGITS: readonly string[] = Array.from({ length: 10 }, (_, k) => String(k));

/**
 * Renders probabilities into `el` (a .bars element), one bar per class of `names` (default the
 * digits); null shows the empty state.
 */
export function renderBars(el: HTMLElement, probs: ArrayLike<number> | null, title: string, truth?: number, names: readonly string[] = DIGITS): void {
  const key = names.join('\u0000');
  if (el.dataset.classes !== key) {
    el.dataset.classes = key;
    el.setAttribute('role', 'img');
    el.replaceChildren();
    el.style.setProperty('--classes', String(names.length));
    const frag = document.createDocumentFragment();
    for (const name of names) {
      const bar = document.createElement('div');
      bar.className = 'bar';
      bar.innerHTML = `<span class="track"><span class="fill"></span><span class="val"></span></span><span class="cls"></span>`;
      const cls = bar.querySelector<HTMLElement>('.cls')!;
      cls.textContent = name.length > 6 ? `${name.slice(0, 5)}…` : name;
      cls.title = name;
      frag.append(bar);
    }
    el.append(frag);
  }
  const bars = el.querySelectorAll<HTMLElement>('.bar');
  if (!probs) {
    el.classList.add('empty');
    el.setAttribute('aria-label', `${title}: not available yet`);
    bars.forEach((b) => { b.dataset.p = ''; b.style.setProperty('--p', '0'); b.querySelector('.val')!.textContent = ''; b.classList.remove('top', 'truth'); });
    return;
  }
  el.classList.remove('empty');
  const top = argmax(probs, 0, names.length);
  bars.forEach((b, k) => {
    const p = probs[k]!;
    b.dataset.p = p.toFixed(6);
    b.style.setProperty('--p', String(p));
    b.querySelector('.val')!.textContent = pct(p);
    b.title = `${names[k]}: ${pct(p)}`;
    b.classList.toggle('top', k === top);
    b.classList.toggle('high', p > 0.84); // the label sits inside the bar's top
    b.classList.toggle('truth', k === truth);
  });
  const order = Array.from({ length: names.length }, (_, k) => k).sort((a, b) => probs[b]! - probs[a]!);
  el.setAttribute('aria-label', `${title}: ${order.slice(0, 3).map((k) => `${names[k]} ${pct(probs[k]!)}`).join(', ')}`);
}

/** The size of a picture: height, width and channels (1: grey, 3: RGB). */
export interface Picture { h: number; w: number; c: number }
const DIGIT: Picture = { h: 28, w: 28, c: 1 };

/**
 * Draws one picture (u8, or floats in [0, 1]) of `pixels` from `offset` into `canvas`, sized to it
 * (scaled up by CSS): a 28x28 grey digit by default.
 */
export function drawDigit(canvas: HTMLCanvasElement, pixels: ArrayLike<number>, offset = 0, floats = false, pic: Picture = DIGIT): void {
  if (canvas.width !== pic.w || canvas.height !== pic.h) { canvas.width = pic.w; canvas.height = pic.h; }
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const img = ctx.createImageData(pic.w, pic.h);
  const at = (i: number): number => (floats ? Math.round(255 * pixels[offset + i]!) : pixels[offset + i]!);
  for (let i = 0; i < pic.h * pic.w; i++) {
    // grey: white ink on a dark ground, as MNIST stores it
    const r = at(i * pic.c), g = pic.c === 3 ? at(i * 3 + 1) : r, b = pic.c === 3 ? at(i * 3 + 2) : r;
    img.data[4 * i] = r; img.data[4 * i + 1] = g; img.data[4 * i + 2] = b; img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}
