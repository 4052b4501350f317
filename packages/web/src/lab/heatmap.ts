// Heat maps into canvases: values in [0, 1] (the worker scales them) coloured along a perceptually
// ordered dark-to-light scale, one canvas pixel per map cell (CSS scales the canvas up, pixelated).

/** Colour stops from 0 (dark purple) to 1 (light yellow), in the manner of magma. */
const STOPS: readonly [number, number, number][] = [[0, 0, 4], [59, 15, 112], [140, 41, 129], [222, 73, 104], [254, 159, 109], [252, 253, 191]];

/** A 256-entry RGB table interpolated between the stops. */
const LUT: Uint8ClampedArray = (() => {
  const lut = new Uint8ClampedArray(256 * 3);
  for (let i = 0; i < 256; i++) {
    const t = (i / 255) * (STOPS.length - 1);
    const k = Math.min(STOPS.length - 2, Math.floor(t)), f = t - k;
    for (let ch = 0; ch < 3; ch++) lut[3 * i + ch] = Math.round(STOPS[k]![ch]! + f * (STOPS[k + 1]![ch]! - STOPS[k]![ch]!));
  }
  return lut;
})();

/** Draws h x w values in [0, 1] (row-major) into `canvas`, resizing it to w x h. */
export function drawHeat(canvas: HTMLCanvasElement, values: ArrayLike<number>, w: number, h: number): void {
  if (canvas.width !== w) canvas.width = w;
  if (canvas.height !== h) canvas.height = h;
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const img = ctx.createImageData(w, h);
  for (let i = 0; i < w * h; i++) {
    const k = 3 * Math.max(0, Math.min(255, Math.round(255 * values[i]!)));
    img.data[4 * i] = LUT[k]!; img.data[4 * i + 1] = LUT[k + 1]!; img.data[4 * i + 2] = LUT[k + 2]!; img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}
