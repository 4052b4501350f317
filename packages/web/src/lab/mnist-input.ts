// A drawing as MNIST would have it. MNIST's digits were scaled (keeping their aspect ratio) to fit
// a 20x20 box, anti-aliased, and placed in the 28x28 field so that their centre of mass sits at
// the centre: over the test set the mean centre of mass is at pixel (14.0, 14.0) in index
// coordinates, and the longer side of the bounding box is 20 pixels. This does the same to a
// square grey-level canvas (ink in [0, 1]), in one pass: each of the 784 output pixels is the
// mean ink of the source pixels it covers (an area filter), so a 280x280 drawing with a ~20 px
// pen comes out with MNIST's 2–3 px strokes. Pure (no canvas): the Node tests run it.

export const SIDE = 28;
/** Longer side of the digit's bounding box after scaling, as in MNIST. */
export const BOX = 20;
/** Where the centre of mass lands (index coordinates), as measured on MNIST. */
export const CENTRE = 14;

/** `ink` is size x size in [0, 1], row-major; returns 784 values in [0, 1] (all 0 for an empty drawing). */
export function toMnist(ink: ArrayLike<number>, size: number, threshold = 0.05): Float32Array {
  const out = new Float32Array(SIDE * SIDE);
  if (ink.length !== size * size) throw new RangeError(`toMnist: expected ${size * size} values, got ${ink.length}`);
  let x0 = size, x1 = -1, y0 = size, y1 = -1, mass = 0, mx = 0, my = 0;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const v = ink[y * size + x]!;
      if (v <= threshold) continue;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
      mass += v; mx += v * x; my += v * y;
    }
  }
  if (mass === 0) return out;
  const scale = BOX / Math.max(x1 - x0 + 1, y1 - y0 + 1); // output pixels per source pixel
  const cx = mx / mass, cy = my / mass;
  const half = 0.5 / scale; // half an output pixel, in source pixels
  for (let oy = 0; oy < SIDE; oy++) {
    const sy = cy + (oy - CENTRE) / scale;
    let ya = Math.ceil(sy - half), yb = Math.floor(sy + half - 1e-9);
    if (yb < ya) ya = yb = Math.round(sy); // magnifying: the nearest source pixel
    for (let ox = 0; ox < SIDE; ox++) {
      const sx = cx + (ox - CENTRE) / scale;
      let xa = Math.ceil(sx - half), xb = Math.floor(sx + half - 1e-9);
      if (xb < xa) xa = xb = Math.round(sx);
      let sum = 0, n = 0;
      for (let y = ya; y <= yb; y++) {
        for (let x = xa; x <= xb; x++) {
          n++;
          if (y >= 0 && y < size && x >= 0 && x < size) sum += ink[y * size + x]!;
        }
      }
      out[oy * SIDE + ox] = n > 0 ? Math.min(1, sum / n) : 0;
    }
  }
  return out;
}

/** Probabilities softmax(logits / T) of one row (10 numbers), in float64. */
export function softmaxT(logits: ArrayLike<number>, T: number, offset = 0, n = 10): Float64Array {
  const p = new Float64Array(n);
  let max = -Infinity;
  for (let j = 0; j < n; j++) max = Math.max(max, logits[offset + j]! / T);
  let sum = 0;
  for (let j = 0; j < n; j++) { p[j] = Math.exp(logits[offset + j]! / T - max); sum += p[j]!; }
  for (let j = 0; j < n; j++) p[j] = p[j]! / sum;
  return p;
}

/** Index of the largest of n values from offset. */
export function argmax(values: ArrayLike<number>, offset = 0, n = 10): number {
  let best = 0;
  for (let j = 1; j < n; j++) if (values[offset + j]! > values[offset + best]!) best = j;
  return best;
}

/**
 * A number typed by a person: decimal notation only ("0.9", ".5", "4", "1e-3"); NaN for
 * anything else ("", "abc", "4x", "0x10", "Infinity").
 */
export function parseDecimal(text: string): number {
  const t = text.trim();
  return /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(t) ? Number(t) : NaN;
}
