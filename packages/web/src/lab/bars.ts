// Probability bar charts (10 classes) in plain DOM: a fixed-height box per chart, each bar a
// transform-scaled fill (no reflow, no layout shift when the values change), the value in text
// for screen readers and a summary in the chart's aria-label.
import { argmax } from './mnist-input.js';

const pct = (p: number): string => `${(100 * p).toFixed(p >= 0.995 || p < 0.0005 ? 0 : p < 0.01 ? 2 : 1)} %`;

/** Renders probabilities into `el` (a .bars element); null shows the empty state. */
export function renderBars(el: HTMLElement, probs: ArrayLike<number> | null, title: string, truth?: number): void {
  if (!el.dataset.ready) {
    el.dataset.ready = '1';
    el.setAttribute('role', 'img');
    const frag = document.createDocumentFragment();
    for (let k = 0; k < 10; k++) {
      const bar = document.createElement('div');
      bar.className = 'bar';
      bar.innerHTML = `<span class="track"><span class="fill"></span><span class="val"></span></span><span class="cls">${k}</span>`;
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
  const top = argmax(probs);
  bars.forEach((b, k) => {
    const p = probs[k]!;
    b.dataset.p = p.toFixed(6);
    b.style.setProperty('--p', String(p));
    b.querySelector('.val')!.textContent = pct(p);
    b.title = `${k}: ${pct(p)}`;
    b.classList.toggle('top', k === top);
    b.classList.toggle('high', p > 0.84); // the label sits inside the bar's top
    b.classList.toggle('truth', k === truth);
  });
  const order = Array.from({ length: 10 }, (_, k) => k).sort((a, b) => probs[b]! - probs[a]!);
  el.setAttribute('aria-label', `${title}: ${order.slice(0, 3).map((k) => `${k} ${pct(probs[k]!)}`).join(', ')}`);
}

/** Draws a 28x28 u8 (or [0, 1] float) image into a 28x28 canvas (scaled up by CSS). */
export function drawDigit(canvas: HTMLCanvasElement, pixels: ArrayLike<number>, offset = 0, floats = false): void {
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const img = ctx.createImageData(28, 28);
  for (let i = 0; i < 784; i++) {
    const v = floats ? Math.round(255 * pixels[offset + i]!) : pixels[offset + i]!;
    // white ink on a dark ground, as MNIST stores it
    img.data[4 * i] = v; img.data[4 * i + 1] = v; img.data[4 * i + 2] = v; img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}
