// A 280x280 drawing pad for mouse, pen and touch (pointer events; touch-action: none keeps the
// page from scrolling under a finger). White ink on black, like MNIST; every change is reported
// at most once per animation frame as 784 MNIST-like values (toMnist).
import { toMnist } from './mnist-input.js';

export const PAD = 280;

export class DrawPad {
  private readonly ctx: CanvasRenderingContext2D;
  private last: { x: number; y: number } | null = null;
  private pending = false;
  private inked = false;

  constructor(private readonly canvas: HTMLCanvasElement, private readonly onChange: (pixels: Float32Array | null) => void) {
    canvas.width = PAD;
    canvas.height = PAD;
    this.ctx = canvas.getContext('2d', { willReadFrequently: true })!;
    this.clear();
    canvas.addEventListener('pointerdown', (e) => {
      if (e.button !== 0) return;
      e.preventDefault();
      canvas.setPointerCapture(e.pointerId);
      this.last = this.point(e);
      this.stroke(this.last, this.last);
    });
    canvas.addEventListener('pointermove', (e) => {
      if (!this.last) return;
      e.preventDefault();
      // coalesced events keep fast strokes smooth
      const events = typeof e.getCoalescedEvents === 'function' ? e.getCoalescedEvents() : [];
      for (const ev of events.length ? events : [e]) {
        const p = this.point(ev);
        this.stroke(this.last, p);
        this.last = p;
      }
    });
    const end = (): void => { this.last = null; };
    canvas.addEventListener('pointerup', end);
    canvas.addEventListener('pointercancel', end);
    canvas.addEventListener('lostpointercapture', end);
  }

  clear(): void {
    this.ctx.fillStyle = '#000';
    this.ctx.fillRect(0, 0, PAD, PAD);
    this.inked = false;
    this.changed();
  }

  /** Puts a 28x28 u8 image on the pad (scaled up), e.g. a test image, for keyboard users. */
  showImage(pixels: ArrayLike<number>, offset = 0): void {
    const small = document.createElement('canvas');
    small.width = 28; small.height = 28;
    const sctx = small.getContext('2d')!;
    const img = sctx.createImageData(28, 28);
    for (let i = 0; i < 784; i++) {
      const v = pixels[offset + i]!;
      img.data[4 * i] = v; img.data[4 * i + 1] = v; img.data[4 * i + 2] = v; img.data[4 * i + 3] = 255;
    }
    sctx.putImageData(img, 0, 0);
    this.ctx.imageSmoothingEnabled = true;
    this.ctx.drawImage(small, 0, 0, PAD, PAD);
    this.inked = true;
    this.changed();
  }

  private point(e: PointerEvent): { x: number; y: number } {
    const r = this.canvas.getBoundingClientRect();
    return { x: ((e.clientX - r.left) * PAD) / r.width, y: ((e.clientY - r.top) * PAD) / r.height };
  }

  private stroke(a: { x: number; y: number }, b: { x: number; y: number }): void {
    const ctx = this.ctx;
    ctx.strokeStyle = '#fff';
    ctx.lineWidth = 22;
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    ctx.beginPath();
    ctx.moveTo(a.x, a.y);
    ctx.lineTo(b.x + 0.01, b.y);
    ctx.stroke();
    this.inked = true;
    this.changed();
  }

  private changed(): void {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      if (!this.inked) { this.onChange(null); return; }
      const rgba = this.ctx.getImageData(0, 0, PAD, PAD).data;
      const ink = new Float32Array(PAD * PAD);
      for (let i = 0; i < ink.length; i++) ink[i] = rgba[4 * i]! / 255;
      this.onChange(toMnist(ink, PAD));
    });
  }
}
