import { encode as encodePng } from 'fast-png';
import jpeg from 'jpeg-js';
import { describe, expect, it } from 'vitest';
import { decodeImage, imageFolderDataset, resizeRgb, type ImageEntry } from '../../src/data/image.js';
import { expectDataError } from './helpers.js';

const png = (w: number, h: number, channels: number, data: Uint8Array | Uint16Array, depth: 8 | 16 | 1 | 2 | 4 = 8): Uint8Array =>
  encodePng({ width: w, height: h, data, channels, depth });

/** A JPEG of RGB pixels at quality 100. */
function jpg(w: number, h: number, rgb: Uint8Array): Uint8Array {
  const rgba = new Uint8Array(w * h * 4);
  for (let p = 0; p < w * h; p++) { rgba.set(rgb.subarray(3 * p, 3 * p + 3), 4 * p); rgba[4 * p + 3] = 255; }
  return new Uint8Array(jpeg.encode({ width: w, height: h, data: rgba }, 100).data);
}

const entry = (path: string, bytes: Uint8Array): ImageEntry => ({ path, read: () => bytes });

describe('decodeImage', () => {
  it('decodes 8-bit grey, grey+alpha, RGB and RGBA PNGs to RGB exactly (alpha dropped)', () => {
    const grey = Uint8Array.from([0, 17, 128, 255, 3, 99]);
    expect(Array.from(decodeImage(png(3, 2, 1, grey), 'g').rgb)).toEqual(Array.from(grey).flatMap((v) => [v, v, v]));
    const ga = Uint8Array.from([10, 0, 20, 255]);
    expect(Array.from(decodeImage(png(2, 1, 2, ga), 'ga').rgb)).toEqual([10, 10, 10, 20, 20, 20]);
    const rgb = Uint8Array.from([1, 2, 3, 4, 5, 6]);
    expect(Array.from(decodeImage(png(2, 1, 3, rgb), 'rgb').rgb)).toEqual([1, 2, 3, 4, 5, 6]);
    const rgba = Uint8Array.from([1, 2, 3, 0, 4, 5, 6, 128]);
    const d = decodeImage(png(2, 1, 4, rgba), 'rgba');
    expect([d.width, d.height]).toEqual([2, 1]);
    expect(Array.from(d.rgb)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('scales 16-bit samples and unpacks 1-, 2- and 4-bit grey rows (each row starting on a byte)', () => {
    expect(Array.from(decodeImage(png(2, 1, 1, Uint16Array.from([65535, 257 * 7]), 16), '16').rgb)).toEqual([255, 255, 255, 7, 7, 7]);
    // 3x2 at 1 bit: rows 0b011_00000 and 0b100_00000
    const one = decodeImage(png(3, 2, 1, Uint8Array.from([0b01100000, 0b10000000]), 1), '1bit');
    expect(Array.from(one.rgb).filter((_, i) => i % 3 === 0)).toEqual([0, 255, 255, 255, 0, 0]);
    // 3x1 at 4 bits: 0x0f 0x80 -> 0, 15, 8 -> 0, 255, 136
    const four = decodeImage(png(3, 1, 1, Uint8Array.from([0x0f, 0x80]), 4), '4bit');
    expect(Array.from(four.rgb).filter((_, i) => i % 3 === 0)).toEqual([0, 255, 136]);
    // 5x1 at 2 bits: 0b00011011 0b11000000 -> 0, 1, 2, 3, 3 -> 0, 85, 170, 255, 255
    const two = decodeImage(png(5, 1, 1, Uint8Array.from([0b00011011, 0b11000000]), 2), '2bit');
    expect(Array.from(two.rgb).filter((_, i) => i % 3 === 0)).toEqual([0, 85, 170, 255, 255]);
  });

  it('expands palette PNGs through their palette', () => {
    const bytes = encodePng({ width: 3, height: 1, data: Uint8Array.from([1, 0, 1]), depth: 8, channels: 1, palette: [[255, 0, 0], [0, 10, 250]] });
    expect(Array.from(decodeImage(bytes, 'pal').rgb)).toEqual([0, 10, 250, 255, 0, 0, 0, 10, 250]);
  });

  it('decodes JPEG close to what was encoded (lossy)', () => {
    const rgb = new Uint8Array(8 * 8 * 3);
    for (let i = 0; i < rgb.length; i++) rgb[i] = (i * 37) % 200 + 20;
    const flat = new Uint8Array(8 * 8 * 3).fill(90);
    const d = decodeImage(jpg(8, 8, flat), 'flat.jpg');
    expect([d.width, d.height]).toEqual([8, 8]);
    for (const v of d.rgb) expect(Math.abs(v - 90)).toBeLessThanOrEqual(2);
    const e = decodeImage(jpg(8, 8, rgb), 'busy.jpg');
    let err = 0;
    for (let i = 0; i < rgb.length; i++) err += Math.abs(e.rgb[i]! - rgb[i]!);
    expect(err / rgb.length).toBeLessThan(30); // a busy 8x8 block, quality 100: well under the 60 of noise
  });

  it('refuses what is not an image, a truncated PNG, a PNG with a bad checksum and a truncated JPEG, naming the file', () => {
    expectDataError(() => decodeImage(new TextEncoder().encode('hello, world'), 'notes.png'), 'notes.png', /not a PNG or JPEG/);
    const good = png(4, 4, 1, new Uint8Array(16).fill(7));
    expectDataError(() => decodeImage(good.subarray(0, good.length - 20), 'cut.png'), 'cut.png', /PNG does not decode/);
    const bad = good.slice();
    bad[40] = bad[40]! ^ 0xff; // inside the IDAT chunk: its CRC no longer matches
    expectDataError(() => decodeImage(bad, 'crc.png'), 'crc.png', /PNG does not decode/);
    const j = jpg(8, 8, new Uint8Array(192).fill(50));
    expectDataError(() => decodeImage(j.subarray(0, 30), 'cut.jpg'), 'cut.jpg', /JPEG does not decode|JPEG decoded to/);
  });
});

describe('resizeRgb', () => {
  it('leaves the same size alone, keeps a constant image constant and stays within the input range', () => {
    const img = { width: 5, height: 3, rgb: Uint8Array.from({ length: 45 }, (_, i) => (i * 53) % 256) };
    expect(resizeRgb(img, 3, 5)).toBe(img.rgb);
    const flat = { width: 7, height: 9, rgb: new Uint8Array(7 * 9 * 3).fill(77) };
    for (const [h, w] of [[3, 4], [18, 2], [1, 1], [10, 13]] as const) {
      const out = resizeRgb(flat, h, w);
      expect(out.length).toBe(h * w * 3);
      expect(out.every((v) => v === 77)).toBe(true);
    }
    const out = resizeRgb(img, 7, 2);
    expect(Math.min(...out)).toBeGreaterThanOrEqual(Math.min(...img.rgb));
    expect(Math.max(...out)).toBeLessThanOrEqual(Math.max(...img.rgb));
  });

  it('matches a direct 2-D triangle-filter reference (odd sizes, up and down)', () => {
    const W = 7, H = 5;
    const rgb = Uint8Array.from({ length: W * H * 3 }, (_, i) => (i * 97 + 13) % 256);
    const tri = (inSize: number, outSize: number, o: number, i: number): number => {
      const scale = inSize / outSize, support = Math.max(1, scale);
      return Math.max(0, 1 - Math.abs(i - ((o + 0.5) * scale - 0.5)) / support);
    };
    for (const [oh, ow] of [[3, 2], [11, 4], [5, 13], [2, 7]] as const) {
      const out = resizeRgb({ width: W, height: H, rgb }, oh, ow);
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          for (let c = 0; c < 3; c++) {
            let s = 0, wsum = 0;
            for (let y = 0; y < H; y++) {
              for (let x = 0; x < W; x++) {
                const w = tri(H, oh, oy, y) * tri(W, ow, ox, x);
                s += w * rgb[3 * (y * W + x) + c]!;
                wsum += w;
              }
            }
            expect(Math.abs(out[3 * (oy * ow + ox) + c]! - s / wsum)).toBeLessThanOrEqual(0.5 + 1e-9);
          }
        }
      }
    }
  });

  it('averages on the way down: a 1-pixel checkerboard halves to mid grey', () => {
    const n = 8, rgb = new Uint8Array(n * n * 3);
    for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) rgb.fill((x + y) % 2 ? 255 : 0, 3 * (y * n + x), 3 * (y * n + x) + 3);
    const out = resizeRgb({ width: n, height: n, rgb }, 4, 4);
    for (const v of out) expect(Math.abs(v - 127.5)).toBeLessThan(40); // sampling without a filter would give 0 or 255
  });
});

describe('imageFolderDataset', () => {
  const grey = (v: number, w = 2, h = 2): Uint8Array => png(w, h, 1, new Uint8Array(w * h).fill(v));

  it('labels by sorted class folder, orders rows by path whatever the listing order, and keeps grey images 1-channel', () => {
    const entries = [entry('dog/b.png', grey(30)), entry('cat/z.png', grey(20)), entry('cat/a.png', grey(10)), entry('dog/a.png', grey(40))];
    const a = imageFolderDataset('root', entries);
    const b = imageFolderDataset('root', [...entries].reverse());
    expect(a.classNames).toEqual(['cat', 'dog']);
    expect(a.dataset.sampleShape).toEqual([2, 2, 1]);
    expect(Array.from(a.dataset.y)).toEqual([0, 0, 1, 1]);
    expect(Array.from(a.dataset.x).filter((_, i) => i % 4 === 0)).toEqual([10, 20, 40, 30]);
    expect(Array.from(b.dataset.x)).toEqual(Array.from(a.dataset.x));
  });

  it('resizes to the first image or the size given, and goes to 3 channels when any image has colour', () => {
    const colour = png(4, 4, 3, Uint8Array.from({ length: 48 }, (_, i) => (i % 3 === 0 ? 200 : 10)));
    const ds = imageFolderDataset('r', [entry('a/1.png', grey(50, 2, 2)), entry('b/2.png', colour)]);
    expect(ds.dataset.sampleShape).toEqual([2, 2, 3]);
    expect(Array.from(ds.dataset.x.subarray(0, 12))).toEqual(new Array(12).fill(50));
    expect(Array.from(ds.dataset.x.subarray(12, 15))).toEqual([200, 10, 10]);
    const sized = imageFolderDataset('r', [entry('a/1.png', grey(50, 2, 2))], { size: [3, 5] });
    expect(sized.dataset.sampleShape).toEqual([3, 5, 1]);
    const forced = imageFolderDataset('r', [entry('b/2.png', colour)], { channels: 1 });
    expect(forced.dataset.sampleShape).toEqual([4, 4, 1]);
    expect(forced.dataset.x[0]).toBe(Math.round(0.299 * 200 + 0.587 * 10 + 0.114 * 10));
  });

  it('maps a test folder through the training classes and refuses a class it does not know', () => {
    const t = imageFolderDataset('test', [entry('dog/1.png', grey(1))], { classNames: ['cat', 'dog'] });
    expect(Array.from(t.dataset.y)).toEqual([1]);
    expect(t.dataset.classes).toBe(2);
    expectDataError(() => imageFolderDataset('test', [entry('cow/1.png', grey(1))], { classNames: ['cat', 'dog'] }), 'test/cow', /not among the training classes/);
  });

  it('refuses images outside a class folder, an empty list and an image that does not decode (naming it)', () => {
    expectDataError(() => imageFolderDataset('r', [entry('loose.png', grey(1))]), 'r/loose.png', /class folder/);
    expectDataError(() => imageFolderDataset('r', [entry('a/b/c.png', grey(1))]), 'r/a/b/c.png', /class folder/);
    expectDataError(() => imageFolderDataset('r', []), 'r', /no images/);
    expectDataError(() => imageFolderDataset('r', [entry('a/1.png', grey(1)), entry('a/2.png', new Uint8Array([1, 2, 3]))]), 'r/a/2.png', /not a PNG or JPEG/);
  });
});
