import { makeDataset, type Dataset } from '../../src/data/dataset.js';

/** 8x8 "images" of 4 classes: a bright bar whose position encodes the class, plus seeded noise. */
export function barsDataset(count: number, seed: number): Dataset {
  let s = seed >>> 0;
  const rand = () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32; };
  const x = new Uint8Array(count * 64);
  const y = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const c = i % 4;
    y[i] = c;
    for (let p = 0; p < 64; p++) x[i * 64 + p] = Math.floor(rand() * 60);
    const row = 1 + 2 * c;
    for (let col = 0; col < 8; col++) x[i * 64 + row * 8 + col] = 200 + Math.floor(rand() * 55);
  }
  return makeDataset(x, [count, 8, 8], y, { xFile: 'bars-x', yFile: 'bars-y' });
}
