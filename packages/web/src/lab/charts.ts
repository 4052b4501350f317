// The two live charts (uPlot): training loss, and validation accuracy after each epoch, for the
// teacher, the distilled student and the baseline. The x axis is each model's own progress
// through its epochs (0–100 %), so models with different epoch counts share it. Points are
// collected as they arrive and drawn at most once per animation frame; the chart boxes have
// fixed heights, so nothing moves around them while they update.
import uPlot from 'uplot';
import type { EpochPoint, ProgressPoint, Role } from './types.js';
import { ROLES } from './types.js';

export const COLORS: Record<Role, string> = { teacher: '#6741d9', distilled: '#d9480f', baseline: '#1864ab' };
export const NAMES: Record<Role, string> = { teacher: 'teacher', distilled: 'distilled student', baseline: 'student alone (baseline)' };
const DASH: Record<Role, number[] | undefined> = { teacher: [2, 3], distilled: undefined, baseline: [7, 4] };

type Table = [number[], number[]];
const HEIGHT = 200;

function powersOfTen(min: number, max: number): number[] {
  const out: number[] = [];
  if (!(min > 0) || !(max > min)) return out;
  for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) {
    const v = 10 ** e;
    if (v >= min * 0.999 && v <= max * 1.001) out.push(v);
  }
  return out;
}

function chart(el: HTMLElement, yLabel: string, yValues: (v: number) => string, points: boolean, log: boolean): uPlot {
  const width = Math.max(200, el.clientWidth);
  const opts: uPlot.Options = {
    width, height: HEIGHT,
    legend: { show: false },
    cursor: { drag: { x: false, y: false }, points: { size: 6 } },
    scales: { x: { time: false, range: [0, 100] }, ...(log ? { y: { distr: 3, log: 10 } } : {}) },
    axes: [
      { label: '% of training', size: 36, labelSize: 16, values: (_u, v) => v.map((x) => `${x}`), stroke: '#495057', grid: { stroke: '#e9ecef' } },
      // (a log scale hands null for the ticks it leaves unlabelled)
      {
        label: yLabel, size: 48, labelSize: 16, values: (_u, v) => v.map((x) => (x == null ? '' : yValues(x))), stroke: '#495057', grid: { stroke: '#e9ecef' },
        // on the log scale, ticks and grid lines at the powers of ten only
        ...(log ? { splits: (_u: uPlot, _i: number, min: number, max: number) => powersOfTen(min, max) } : {}),
      },
    ],
    series: [
      {},
      ...ROLES.map((r): uPlot.Series => ({
        label: NAMES[r], stroke: COLORS[r], width: r === 'distilled' ? 2.5 : 2, spanGaps: true,
        ...(DASH[r] ? { dash: DASH[r] } : {}),
        points: { show: points, size: 5, fill: COLORS[r] },
      })),
    ],
  };
  return new uPlot(opts, [[], [], [], []], el);
}

export class RunCharts {
  private readonly loss: uPlot;
  private readonly acc: uPlot;
  private data: Record<Role, { loss: Table; acc: Table }> = RunCharts.empty();
  private pending = false;

  constructor(private readonly lossEl: HTMLElement, private readonly accEl: HTMLElement) {
    // log scale: a distilled student's objective (T²-scaled soft term) starts far above cross-entropy
    this.loss = chart(lossEl, 'loss (log)', (v) => (v >= 1 ? v.toFixed(0) : String(+v.toPrecision(1))), false, true);
    this.acc = chart(accEl, 'accuracy %', (v) => `${v.toFixed(v >= 99 || v % 1 === 0 ? 0 : 1)}`, true, false);
    const resize = new ResizeObserver(() => {
      for (const [u, el] of [[this.loss, lossEl], [this.acc, accEl]] as const) {
        const w = Math.max(200, el.clientWidth);
        if (w !== u.width) u.setSize({ width: w, height: HEIGHT });
      }
    });
    resize.observe(lossEl);
    resize.observe(accEl);
    this.flush();
  }

  private static empty(): Record<Role, { loss: Table; acc: Table }> {
    return Object.fromEntries(ROLES.map((r) => [r, { loss: [[], []], acc: [[], []] }])) as unknown as Record<Role, { loss: Table; acc: Table }>;
  }

  reset(): void { this.data = RunCharts.empty(); this.schedule(); }

  /** Forget one model's points (a born-again generation starts over). */
  resetRole(role: Role): void { this.data[role] = { loss: [[], []], acc: [[], []] }; this.schedule(); }

  progress(p: ProgressPoint): void {
    const t = this.data[p.role].loss;
    if (Number.isFinite(p.loss)) { t[0].push(100 * p.x); t[1].push(p.loss); }
    this.schedule();
  }

  epoch(p: Pick<EpochPoint, 'role' | 'x' | 'valAccuracy'>): void {
    const t = this.data[p.role].acc;
    if (Number.isFinite(p.valAccuracy)) { t[0].push(100 * p.x); t[1].push(100 * p.valAccuracy); }
    this.schedule();
  }

  /** Points per chart (for tests and the status line). */
  counts(): { loss: number; accuracy: number } {
    let loss = 0, accuracy = 0;
    for (const r of ROLES) { loss += this.data[r].loss[0].length; accuracy += this.data[r].acc[0].length; }
    return { loss, accuracy };
  }

  private schedule(): void {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => { this.pending = false; this.flush(); });
  }

  private flush(): void {
    // uPlot.join aligns the three series on the union of their x values (x ascending in each)
    this.loss.setData(uPlot.join(ROLES.map((r) => this.data[r].loss)) as uPlot.AlignedData);
    this.acc.setData(uPlot.join(ROLES.map((r) => this.data[r].acc)) as uPlot.AlignedData);
    const n = this.counts();
    this.lossEl.dataset.points = String(n.loss);
    this.accEl.dataset.points = String(n.accuracy);
  }
}
