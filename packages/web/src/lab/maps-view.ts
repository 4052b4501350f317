// The page's feature-map panel: asks the worker for the feature maps of one image (the selected
// test image or the drawing) and draws them — the teacher's and the student's attention maps per
// tap pair side by side, and the strongest channels of a chosen tap of each model. One request in
// flight at a time (the latest one waits); every strip has a fixed height and scrolls sideways,
// so drawing never moves the page.
import type { Remote } from 'comlink';
import type { Api } from '../engine.js';
import { drawDigit, type Picture } from './bars.js';
import { drawHeat } from './heatmap.js';
import type { ChannelMaps, FeatureMaps, HeatMap } from './types.js';

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`lab: #${id} is missing from the page`);
  return el as T;
};
const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export class FeatureMapsPanel {
  private inflight = false;
  private queued = false;
  private readonly caption = $('maps-caption');
  private readonly pairs = $('maps-pairs');
  private readonly tapSelect = { teacher: $<HTMLSelectElement>('maps-teacher-tap'), student: $<HTMLSelectElement>('maps-student-tap') };
  private readonly channelRows = { teacher: $('maps-teacher-channels'), student: $('maps-student-channels') };

  /**
   * `selected`: the test image of Dark knowledge; `testImages`: the test set's u8 pixels (a
   * picture's h*w*c a row); `drawing`: the pad's 784 values in [0, 1], or null before anything is
   * drawn; `picture`: the test samples' picture size (null: table rows, drawn as nothing).
   */
  constructor(private readonly engine: Remote<Api>, private readonly selected: () => number, private readonly testImages: () => Uint8Array,
              private readonly drawing: () => Float32Array | null, private readonly picture: () => Picture | null) {
    document.querySelectorAll<HTMLInputElement>('input[name="maps-source"]').forEach((r) => r.addEventListener('change', () => this.refresh()));
    for (const s of Object.values(this.tapSelect)) s.addEventListener('change', () => this.refresh());
  }

  /** The drawing is the source: a new drawing redraws the maps. */
  get followsDrawing(): boolean {
    return document.querySelector<HTMLInputElement>('input[name="maps-source"]:checked')?.value === 'drawing';
  }

  /** Asks for the maps of the current image (coalesced: at most one request waits behind the one in flight). */
  refresh(): void {
    if (this.inflight) { this.queued = true; return; }
    void this.load();
  }

  private async load(): Promise<void> {
    this.inflight = true;
    try {
      const drawn = this.followsDrawing ? this.drawing() : null;
      if (this.followsDrawing && !drawn) {
        this.render(null, 'Draw a digit in "Try it" to see the maps of your drawing.');
        return;
      }
      const maps = await this.engine.featureMaps({
        image: drawn ?? this.selected(),
        ...(this.tapSelect.teacher.value ? { teacherTap: this.tapSelect.teacher.value } : {}),
        ...(this.tapSelect.student.value ? { studentTap: this.tapSelect.student.value } : {}),
      });
      this.render(maps, drawn ? 'your drawing' : `test image #${this.selected()}`);
    } catch (e) {
      this.caption.textContent = `Could not compute the feature maps: ${(e as Error).message}`;
    } finally {
      this.inflight = false;
      if (this.queued) { this.queued = false; void this.load(); }
    }
  }

  private render(maps: FeatureMaps | null, what: string): void {
    const cap = this.caption;
    this.pairs.innerHTML = '';
    for (const side of ['teacher', 'student'] as const) this.channelRows[side].innerHTML = '';
    if (!maps) {
      cap.textContent = what.startsWith('Draw') ? what : 'The maps appear once a teacher or a student exists (start a run, or load a teacher).';
      this.pairs.dataset.pairs = '0';
      return;
    }
    const drawn = maps.pairs.filter((p) => p.student || p.teacher).length;
    this.pairs.dataset.pairs = String(drawn);
    cap.textContent = maps.pairing === 'none'
      ? `No feature maps for ${what}: an MLP has flat layers only. With a CNN teacher or student (lenet5, resnet8, mobilenet-tiny, or a graph with named convolutions) its spatial attention shows here.`
      : `Spatial attention on ${what}: at each position the sum over channels of the squared activations, normalised — what attention transfer (method at) matches. ` +
        (maps.pairing === 'method' ? 'The pairs are the taps the method\'s terms read.' : 'The method pairs no feature maps: each student map is shown with the teacher\'s map of the same resolution.') +
        ' Brighter is more attention.';
    if (maps.pairs.length) this.pairs.append(this.input());
    for (const [i, p] of maps.pairs.entries()) {
      const col = document.createElement('div');
      col.className = 'map-pair';
      col.innerHTML = `<p class="map-pair-cap">${esc(p.teacher?.tap ?? '—')}<br>↕ ${esc(p.student?.tap ?? '—')}</p>`;
      col.title = `pair ${i + 1}: the teacher's ${p.teacher?.tap ?? '(none)'} and the student's ${p.student?.tap ?? '(none)'}`;
      col.append(this.heat(p.teacher, 'teacher'), this.heat(p.student, 'student'));
      this.pairs.append(col);
    }
    for (const side of ['teacher', 'student'] as const) this.channels(side, maps.channels[side]);
  }

  /** The image the maps are of, as the models see it (a drawing: 28x28). */
  private input(): HTMLElement {
    const col = document.createElement('div');
    col.className = 'map-pair input';
    col.innerHTML = '<p class="map-pair-cap">image<br>&nbsp;</p>';
    const c = document.createElement('canvas');
    c.className = 'heat-canvas digit-input';
    c.setAttribute('role', 'img');
    c.setAttribute('aria-label', 'The image the maps are of');
    const drawn = this.followsDrawing ? this.drawing() : null;
    const pic = drawn ? { h: 28, w: 28, c: 1 } : this.picture();
    if (drawn) drawDigit(c, drawn, 0, true);
    else if (pic) drawDigit(c, this.testImages(), this.selected() * pic.h * pic.w * pic.c, false, pic);
    const fig = document.createElement('figure');
    fig.className = 'heat';
    const cap = document.createElement('figcaption');
    cap.textContent = pic ? `${pic.h}×${pic.w}` : 'a table row';
    fig.append(c, cap);
    col.append(fig);
    return col;
  }

  private heat(m: HeatMap | undefined, role: 'teacher' | 'student'): HTMLElement {
    const fig = document.createElement('figure');
    fig.className = `heat ${role}`;
    if (!m) {
      fig.innerHTML = `<div class="heat-empty" aria-hidden="true">—</div><figcaption>${role}: no map</figcaption>`;
      return fig;
    }
    const c = document.createElement('canvas');
    c.className = 'heat-canvas';
    c.dataset.role = role;
    c.dataset.kind = 'attention';
    c.dataset.tap = m.tap;
    c.setAttribute('role', 'img');
    c.setAttribute('aria-label', `The ${role}'s attention map at ${m.tap} (${m.h}×${m.w})`);
    drawHeat(c, m.values, m.w, m.h);
    const cap = document.createElement('figcaption');
    cap.textContent = `${role} ${m.h}×${m.w}`;
    fig.append(c, cap);
    return fig;
  }

  private channels(side: 'teacher' | 'student', ch: ChannelMaps | undefined): void {
    const select = this.tapSelect[side];
    const row = this.channelRows[side];
    if (!ch) {
      select.innerHTML = '<option value="">—</option>';
      select.disabled = true;
      row.innerHTML = `<p class="muted small-text">The ${side} has no feature maps.</p>`;
      return;
    }
    select.disabled = false;
    select.innerHTML = ch.taps.map((t) => `<option value="${esc(t)}"${t === ch.tap ? ' selected' : ''}>${esc(t)}</option>`).join('');
    for (const c of ch.channels) {
      const fig = document.createElement('figure');
      fig.className = `heat small ${side}`;
      const canvas = document.createElement('canvas');
      canvas.className = 'heat-canvas';
      canvas.dataset.role = side;
      canvas.dataset.kind = 'channel';
      canvas.dataset.tap = ch.tap;
      canvas.setAttribute('role', 'img');
      canvas.setAttribute('aria-label', `The ${side}'s channel ${c.index} at ${ch.tap}`);
      drawHeat(canvas, c.values, ch.w, ch.h);
      const cap = document.createElement('figcaption');
      cap.textContent = `#${c.index}`;
      fig.append(canvas, cap);
      row.append(fig);
    }
  }
}
