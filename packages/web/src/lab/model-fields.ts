// The form's model fields: the student (an MLP's hidden widths, a preset CNN with its width, or a
// pasted JSON layer graph) and the teacher trained here (any spec as text). Each spec is checked by
// the worker against the loaded data (describeModel: parse, resolve, compile), which also gives its
// parameters and taps; the taps fill the per-side tap selects of fitnets, rkd and at. An MLP's
// first and last widths follow the data: its values per sample and its classes.
import type { Remote } from 'comlink';
import type { Api } from '../engine.js';
import type { DataInfo, ModelDescription, TapInfo } from './types.js';

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`lab: #${id} is missing from the page`);
  return el as T;
};
const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const fmtInt = (n: number): string => Math.round(n).toLocaleString('en-US');

export const PRESETS = ['lenet5', 'resnet8', 'mobilenet-tiny'] as const;

type Described = { ok: true; d: ModelDescription } | { ok: false; message: string };

/** "conv1 14×14×6, conv2 5×5×16" */
const tapList = (taps: readonly TapInfo[]): string => taps.map((t) => `${t.name} ${t.shape.join('×')}`).join(', ');

export class ModelFields {
  private readonly cache = new Map<string, Promise<Described>>();
  /** Taps of a teacher loaded from a file (null: the teacher is trained here). */
  private loadedTaps: TapInfo[] | null = null;

  constructor(private readonly engine: Remote<Api>, private readonly onChange: () => void, private readonly data: () => DataInfo | null) {
    $('student-kind').addEventListener('change', () => { this.showStudentFields(); void this.update('student'); });
    for (const id of ['student-hidden', 'student-width', 'student-graph']) $(id).addEventListener('change', () => void this.update('student'));
    $('teacher-spec').addEventListener('change', () => void this.update('teacher'));
    this.showStudentFields();
  }

  get studentKind(): string { return $<HTMLSelectElement>('student-kind').value; }

  /** The student's spec as text, from the fields of its kind. */
  studentSpec(): string {
    const kind = this.studentKind;
    if (kind === 'graph') return $<HTMLTextAreaElement>('student-graph').value.trim();
    if ((PRESETS as readonly string[]).includes(kind)) {
      const w = $<HTMLInputElement>('student-width').value.trim();
      return Number(w) === 1 ? kind : `${kind}:width=${w}`;
    }
    const widths = $<HTMLInputElement>('student-hidden').value.trim().split(/[-,\s]+/).filter(Boolean);
    const d = this.data();
    return `mlp:${d?.features ?? 784}-${widths.join('-')}-${d?.classes ?? 10}`;
  }

  /**
   * The data changed: specs are checked afresh, and a teacher MLP written out in the short form
   * (mlp:784-800-800-10,...) takes the new data's input and class counts. Flat features (a table)
   * reach a CNN as 1x1 images, where its convolutions are dense layers in disguise: a CNN teacher
   * becomes the page's default MLP teacher and a CNN student an MLP student, with the data's counts.
   */
  dataChanged(): void {
    this.cache.clear();
    const d = this.data();
    const input = $<HTMLInputElement>('teacher-spec');
    const shortMlp = /^(\s*mlp:)\d+(-[\d-]*-)\d+(\s*(,.*)?)$/;
    const flat = d !== null && d.sampleShape.length === 1;
    if (flat && !shortMlp.test(input.value)) input.value = input.defaultValue;
    const m = shortMlp.exec(input.value);
    if (d && m) input.value = `${m[1]}${d.features}${m[2]}${d.classes}${m[3]}`;
    if (flat && this.studentKind !== 'mlp') {
      $<HTMLSelectElement>('student-kind').value = 'mlp';
      this.showStudentFields();
    }
    $('student-hidden-help').innerHTML = `Widths, e.g. <code>100-100</code> → ${d?.features ?? 784}-100-100-${d?.classes ?? 10}.`;
    void this.update('student');
    if (!this.loadedTaps) void this.update('teacher');
  }

  teacherSpec(): string { return $<HTMLInputElement>('teacher-spec').value.trim(); }

  /** A teacher loaded from a file (its taps), or null for the teacher trained here. */
  setLoadedTeacher(taps: TapInfo[] | null): void {
    this.loadedTaps = taps;
    void this.update('teacher');
  }

  private showStudentFields(): void {
    const kind = this.studentKind;
    const group = kind === 'graph' ? 'graph' : kind === 'mlp' ? 'mlp' : 'preset';
    document.querySelectorAll<HTMLElement>('[data-student]').forEach((el) => { el.hidden = el.dataset.student !== group; });
  }

  private describe(role: 'student' | 'teacher', spec: string): Promise<Described> {
    const key = `${role}\n${spec}`;
    let p = this.cache.get(key);
    if (!p) {
      p = this.engine.describeModel(spec, role).then((d): Described => ({ ok: true, d }), (e: unknown): Described => ({ ok: false, message: (e as Error).message }));
      this.cache.set(key, p);
    }
    return p;
  }

  /**
   * Checks the role's spec in the worker and shows what it is (or why not); fills the tap select.
   * Resolves to the error message ('' when the spec is good).
   */
  async update(role: 'student' | 'teacher'): Promise<string> {
    const info = $(`${role === 'student' ? 'student' : 'teacher-spec'}-info`);
    const errorId = role === 'student' ? 'student-model' : 'teacher-spec';
    let message = '';
    let taps: TapInfo[] = [];
    if (role === 'teacher' && this.loadedTaps) {
      taps = this.loadedTaps;
    } else {
      const spec = role === 'student' ? this.studentSpec() : this.teacherSpec();
      const r = spec ? await this.describe(role, spec) : { ok: false as const, message: `Give the ${role}'s model.` };
      // a newer edit may have come in meanwhile: only the current text's answer is shown
      if (spec !== (role === 'student' ? this.studentSpec() : this.teacherSpec())) return this.update(role);
      if (r.ok) {
        taps = r.d.taps;
        info.textContent = `${r.d.spec}: ${fmtInt(r.d.params)} parameters${taps.length ? `; taps ${tapList(taps)}` : ''}.`;
      } else {
        message = `The ${role} model: ${r.message}`;
        info.textContent = '';
      }
    }
    const el = $(`${errorId}-error`);
    el.textContent = message;
    const input = role === 'teacher' ? $('teacher-spec') : $(this.studentKind === 'graph' ? 'student-graph' : this.studentKind === 'mlp' ? 'student-hidden' : 'student-width');
    if (message) input.setAttribute('aria-invalid', 'true'); else input.removeAttribute('aria-invalid');
    this.fillTaps($<HTMLSelectElement>(`${role}-tap`), taps);
    this.onChange();
    return message;
  }

  private fillTaps(select: HTMLSelectElement, taps: readonly TapInfo[]): void {
    const keep = select.value;
    select.innerHTML = '<option value="">auto (the method\'s choice)</option>' +
      taps.map((t) => `<option value="${esc(t.name)}">${esc(t.name)} (${t.shape.join('×')})</option>`).join('');
    select.value = taps.some((t) => t.name === keep) ? keep : '';
  }
}
