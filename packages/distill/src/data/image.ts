// Image files into a dataset: PNG (fast-png) and JPEG (jpeg-js) decoded to 8-bit RGB, resized
// with an antialiased linear filter to one size, and stacked as [N, H, W, C] u8 samples, C = 1
// when every image is grey (its three channels agree everywhere) and 3 otherwise. The class of a
// file is its folder: `cat/1.png`, or `train/cat/1.png` and `test/cat/2.png` when the folder holds
// its own split. Pure: bytes come from a callback (files.ts walks a folder in Node; the lab reads
// a dropped folder), so Node and the browser decode the same bits.

import { decode as decodePng, hasPngSignature, convertIndexedToRgb } from 'fast-png';
import jpeg from 'jpeg-js';
import { makeDataset, type Dataset } from './dataset.js';
import { DataFormatError } from './errors.js';

/** File name endings read as images (case-insensitive). */
export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg'] as const;

/** Largest image accepted, in pixels (a decoder bomb is refused before it allocates). */
export const MAX_IMAGE_PIXELS = 1 << 24;

export interface RgbImage {
  width: number;
  height: number;
  /** [height, width, 3] u8. */
  rgb: Uint8Array;
}

const JPEG_SOI = [0xff, 0xd8, 0xff];

/** Decodes a PNG or JPEG (told apart by their signatures) to 8-bit RGB; alpha is dropped. */
export function decodeImage(bytes: Uint8Array, label: string): RgbImage {
  if (bytes.length >= 8 && hasPngSignature(bytes)) return decodePngRgb(bytes, label);
  if (bytes.length >= 3 && JPEG_SOI.every((b, i) => bytes[i] === b)) return decodeJpegRgb(bytes, label);
  throw new DataFormatError(label, 'not a PNG or JPEG image (its first bytes are neither signature)');
}

function decodePngRgb(bytes: Uint8Array, label: string): RgbImage {
  // the size in the IHDR chunk that opens every PNG, checked before the decoder allocates for it
  if (bytes.length >= 24) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    checkPixels(label, view.getUint32(16), view.getUint32(20));
  }
  let png;
  try {
    png = decodePng(bytes, { checkCrc: true });
  } catch (e) {
    throw new DataFormatError(label, `PNG does not decode: ${e instanceof Error ? e.message : String(e)}`);
  }
  const { width, height } = png;
  checkPixels(label, width, height);
  const n = width * height;
  const rgb = new Uint8Array(n * 3);
  if (png.palette) {
    let expanded: Uint8Array;
    try {
      expanded = convertIndexedToRgb(png);
    } catch (e) {
      throw new DataFormatError(label, `PNG palette does not decode: ${e instanceof Error ? e.message : String(e)}`);
    }
    const ch = expanded.length / n;
    if (ch !== 3 && ch !== 4) throw new DataFormatError(label, `PNG palette expands to ${expanded.length} values for ${n} pixels`);
    for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) rgb[3 * i + c] = expanded[ch * i + c]!;
    return { width, height, rgb };
  }
  const ch = png.channels, depth = png.depth;
  // fast-png returns 16-bit samples as Uint16Array and 1/2/4-bit grey packed, each row from a
  // new byte: unpack, then scale every sample to 0..255
  const data = depth < 8 ? unpackBits(png.data, width, height, ch, depth, label) : png.data;
  if (ch < 1 || ch > 4 || data.length < n * ch) throw new DataFormatError(label, `PNG holds ${data.length} values for ${n} pixels of ${ch} channels`);
  const scale = depth === 16 ? 1 / 257 : depth < 8 ? 255 / ((1 << depth) - 1) : 1;
  const colour = ch >= 3;
  for (let i = 0; i < n; i++) {
    if (colour) {
      for (let c = 0; c < 3; c++) rgb[3 * i + c] = Math.round(data[ch * i + c]! * scale);
    } else {
      const v = Math.round(data[ch * i]! * scale);
      rgb[3 * i] = v; rgb[3 * i + 1] = v; rgb[3 * i + 2] = v;
    }
  }
  return { width, height, rgb };
}

/** Samples of `depth` < 8 bits packed MSB first, rows starting on a byte, as one value per byte. */
function unpackBits(packed: ArrayLike<number>, width: number, height: number, ch: number, depth: number, label: string): Uint8Array {
  const perRow = width * ch, rowBytes = Math.ceil((perRow * depth) / 8);
  if (packed.length < rowBytes * height) throw new DataFormatError(label, `PNG holds ${packed.length} bytes for ${height} rows of ${rowBytes}`);
  const out = new Uint8Array(perRow * height), mask = (1 << depth) - 1;
  for (let r = 0; r < height; r++) {
    for (let i = 0; i < perRow; i++) {
      const bit = i * depth, byte = packed[r * rowBytes + (bit >> 3)]!;
      out[r * perRow + i] = (byte >> (8 - depth - (bit & 7))) & mask;
    }
  }
  return out;
}

function decodeJpegRgb(bytes: Uint8Array, label: string): RgbImage {
  let img;
  try {
    img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false, maxResolutionInMP: MAX_IMAGE_PIXELS / 1e6, maxMemoryUsageInMB: 256 });
  } catch (e) {
    throw new DataFormatError(label, `JPEG does not decode: ${e instanceof Error ? e.message : String(e)}`);
  }
  const { width, height } = img;
  checkPixels(label, width, height);
  if (img.data.length !== width * height * 3) throw new DataFormatError(label, `JPEG decoded to ${img.data.length} values for ${width}x${height} RGB pixels`);
  return { width, height, rgb: img.data };
}

function checkPixels(label: string, width: number, height: number): void {
  if (!(width >= 1 && height >= 1)) throw new DataFormatError(label, `image is ${width}x${height} pixels`);
  if (width * height > MAX_IMAGE_PIXELS) throw new DataFormatError(label, `image is ${width}x${height} pixels, more than ${MAX_IMAGE_PIXELS} in all`);
}

/**
 * Resizes RGB to outH x outW with a linear (triangle) filter whose support widens with the
 * shrink factor, so downscaling averages every input pixel rather than sampling a few (the
 * antialiased "bilinear" of image libraries); separable, f64, rounded to u8 at the end.
 */
export function resizeRgb(img: RgbImage, outH: number, outW: number): Uint8Array {
  if (img.height === outH && img.width === outW) return img.rgb;
  const rows = filterTaps(img.height, outH), cols = filterTaps(img.width, outW);
  const W = img.width;
  // horizontal pass: [height, outW, 3]
  const tmp = new Float64Array(img.height * outW * 3);
  for (let y = 0; y < img.height; y++) {
    for (let ox = 0; ox < outW; ox++) {
      const { start, weights } = cols[ox]!;
      let r = 0, g = 0, b = 0;
      for (let k = 0; k < weights.length; k++) {
        const p = 3 * (y * W + start + k), w = weights[k]!;
        r += w * img.rgb[p]!; g += w * img.rgb[p + 1]!; b += w * img.rgb[p + 2]!;
      }
      const q = 3 * (y * outW + ox);
      tmp[q] = r; tmp[q + 1] = g; tmp[q + 2] = b;
    }
  }
  const out = new Uint8Array(outH * outW * 3);
  for (let oy = 0; oy < outH; oy++) {
    const { start, weights } = rows[oy]!;
    for (let i = 0; i < outW * 3; i++) {
      let s = 0;
      for (let k = 0; k < weights.length; k++) s += weights[k]! * tmp[(start + k) * outW * 3 + i]!;
      out[oy * outW * 3 + i] = Math.min(255, Math.max(0, Math.round(s)));
    }
  }
  return out;
}

/** For each output position, the first input index and the normalised weights from there. */
function filterTaps(inSize: number, outSize: number): { start: number; weights: Float64Array }[] {
  const scale = inSize / outSize, support = Math.max(1, scale);
  const taps: { start: number; weights: Float64Array }[] = [];
  for (let o = 0; o < outSize; o++) {
    const centre = (o + 0.5) * scale - 0.5;
    const lo = Math.max(0, Math.ceil(centre - support)), hi = Math.min(inSize - 1, Math.floor(centre + support));
    const w: number[] = [];
    let sum = 0;
    for (let i = lo; i <= hi; i++) {
      const v = Math.max(0, 1 - Math.abs(i - centre) / support);
      w.push(v);
      sum += v;
    }
    if (sum === 0) { // centre outside the input by a whole support: take the nearest pixel
      const i = Math.min(inSize - 1, Math.max(0, Math.round(centre)));
      taps.push({ start: i, weights: Float64Array.of(1) });
      continue;
    }
    taps.push({ start: lo, weights: Float64Array.from(w, (v) => v / sum) });
  }
  return taps;
}

/** Whether an RGB image's three channels agree at every pixel. */
function isGrey(rgb: Uint8Array): boolean {
  for (let i = 0; i < rgb.length; i += 3) if (rgb[i] !== rgb[i + 1] || rgb[i] !== rgb[i + 2]) return false;
  return true;
}

/** One image of a folder: its path relative to the folder ('cat/1.png') and a way to read it. */
export interface ImageEntry {
  path: string;
  read: () => Uint8Array;
}

export interface ImageFolderOptions {
  /** Output size [height, width]; default the first image's (in path order). */
  size?: readonly [number, number];
  /** Class names to use (a test folder takes its training folder's); default the sorted folder names. */
  classNames?: readonly string[];
  /** Channels: 1 (grey) or 3 (RGB); default 1 when every image is grey, else 3. */
  channels?: 1 | 3;
  /** Dataset name. */
  name?: string;
}

/** A dataset of images with the class names its labels index. */
export interface NamedDataset {
  dataset: Dataset;
  classNames: string[];
}

/** Whether a file name ends in one of IMAGE_EXTENSIONS. */
export function isImageName(name: string): boolean {
  const lower = name.toLowerCase();
  return IMAGE_EXTENSIONS.some((e) => lower.endsWith(e));
}

/**
 * Decodes `entries` ('CLASS/file.png' paths under `root`, which names them in errors) into one
 * dataset. Files are taken in path order (code-unit order, the same on every platform), so the
 * rows and hence every seeded split are the same wherever the folder is read.
 */
export function imageFolderDataset(root: string, entries: readonly ImageEntry[], opts: ImageFolderOptions = {}): NamedDataset {
  const sorted = [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const classOf = (p: string): string => {
    const parts = p.split('/');
    if (parts.length !== 2 || !parts[0] || !parts[1]) throw new DataFormatError(`${root}/${p}`, 'an image must sit in a class folder (CLASS/IMAGE)');
    return parts[0];
  };
  const found = [...new Set(sorted.map((e) => classOf(e.path)))].sort();
  const classNames = opts.classNames ? [...opts.classNames] : found;
  const index = new Map(classNames.map((c, i) => [c, i]));
  for (const c of found) {
    if (!index.has(c)) throw new DataFormatError(`${root}/${c}`, `class folder '${c}' is not among the training classes (${classNames.join(', ')})`);
  }
  if (sorted.length === 0) throw new DataFormatError(root, `no images (${IMAGE_EXTENSIONS.join(', ')}) in class folders`);
  if (opts.size) {
    const [h, w] = opts.size;
    if (!(Number.isInteger(h) && Number.isInteger(w) && h >= 1 && w >= 1 && h * w <= MAX_IMAGE_PIXELS)) {
      throw new RangeError(`image size must be two positive integers, got ${h}x${w}`);
    }
  }
  let H = opts.size?.[0] ?? 0, W = opts.size?.[1] ?? 0;
  const rgbAll: Uint8Array[] = [];
  const y = new Int32Array(sorted.length);
  let grey = true;
  sorted.forEach((e, i) => {
    const label = `${root}/${e.path}`;
    const img = decodeImage(e.read(), label);
    if (H === 0) { H = img.height; W = img.width; }
    const rgb = resizeRgb(img, H, W);
    if (grey && !isGrey(rgb)) grey = false;
    rgbAll.push(rgb);
    y[i] = index.get(classOf(e.path))!;
  });
  const C = opts.channels ?? (grey ? 1 : 3), px = H * W;
  const x = new Uint8Array(sorted.length * px * C);
  rgbAll.forEach((rgb, i) => {
    if (C === 3) x.set(rgb, i * px * 3);
    // grey by ITU-R BT.601 luma (exact for images already grey)
    else for (let p = 0; p < px; p++) x[i * px + p] = Math.round(0.299 * rgb[3 * p]! + 0.587 * rgb[3 * p + 1]! + 0.114 * rgb[3 * p + 2]!);
  });
  const dataset = makeDataset(x, [sorted.length, H, W, C], y, { xFile: root, yFile: root },
    { name: opts.name ?? root.replace(/[\\/]+$/, '').split(/[\\/]/).pop() ?? 'images', classes: classNames.length });
  return { dataset, classNames };
}
