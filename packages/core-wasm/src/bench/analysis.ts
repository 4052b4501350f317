// Ratios and the targets, computed from the figures of one run (never from
// figures of different runs: the machine's state changes between runs).

import type { GemmEntry, GemmForm, LossEntry, LossKernel, Ratio, SuiteResult, TargetResult } from './types.js';

type Figures = Omit<SuiteResult, 'ratios' | 'targets'>;

/** The headline shape: the first layer of the 784-800-800-10 MLP at batch 128. */
export const HEADLINE: readonly [number, number, number] = [128, 784, 800];
const SIMD_WASM_LIMIT = 64 * 1024;

function gemmEntry(r: Figures, form: GemmForm, [M, K, N]: readonly [number, number, number], who: string): GemmEntry | undefined {
  return r.gemm.find((g) => g.form === form && g.M === M && g.K === K && g.N === N)?.entries.find((e) => e.contender === who);
}

function lossEntry(r: Figures, kernel: LossKernel, rows: number, cols: number, who: string): LossEntry | undefined {
  return r.losses.find((l) => l.kernel === kernel && l.rows === rows && l.cols === cols)?.entries.find((e) => e.contender === who);
}

/** How many times faster `ours` is than `base` (ratio of median times); null if either is missing. */
function speedup(ours: { stat: { medianMs: number } } | undefined, base: { stat: { medianMs: number } } | undefined): number | null {
  return ours && base ? base.stat.medianMs / ours.stat.medianMs : null;
}

function target(name: string, requirement: string, value: number | null, pass: (v: number) => boolean,
                show: (v: number) => string): TargetResult {
  if (value === null || !Number.isFinite(value)) return { name, requirement, measured: '-', status: 'not measured' };
  return { name, requirement, measured: show(value), status: pass(value) ? 'pass' : 'fail' };
}

const pct = (v: number): string => `${(100 * v).toFixed(1)}%`;
const times = (v: number): string => `${v.toFixed(2)}x`;

export function evaluate(r: Figures, ours: string, base: string): { ratios: Ratio[]; targets: TargetResult[] } {
  const ratios: Ratio[] = [];
  const targets: TargetResult[] = [];
  const shape = `(${HEADLINE.join(',')})`;
  const resident = `${base}-resident`;

  for (const form of ['NN', 'TN', 'NT'] as const) {
    const e = gemmEntry(r, form, HEADLINE, ours);
    const frac = e?.fractionOfPeak ?? null;
    ratios.push({ name: `${ours} sgemm ${form} ${shape} / peak`, value: frac, note: 'fraction of the SIMD peak probe' });
    targets.push(target(`${ours} sgemm ${form} ${shape} vs peak`, '>= 75% of peak', frac, (v) => v >= 0.75, pct));
  }
  for (const form of ['NN', 'TN', 'NT'] as const) {
    const s = speedup(gemmEntry(r, form, HEADLINE, ours), gemmEntry(r, form, HEADLINE, base));
    ratios.push({ name: `${ours} / ${base} sgemm ${form} ${shape}`, value: s, note: 'speed-up; tfjs B tensor created fresh each call' });
    const need = form === 'NN' ? 1.5 : 10;
    targets.push(target(`${ours} sgemm ${form} ${shape} vs ${base} ${form} (fresh weights)`, `>= ${need}x`, s, (v) => v >= need, times));
  }
  for (const form of ['NN', 'TN', 'NT'] as const) {
    const s = speedup(gemmEntry(r, form, HEADLINE, ours), gemmEntry(r, form, HEADLINE, resident));
    if (s !== null) ratios.push({ name: `${ours} / ${resident} sgemm ${form} ${shape}`, value: s, note: 'speed-up; tfjs B resident (kernel only), for reference' });
  }

  // the opt-in relaxed-SIMD build (fused multiply-adds) against plain SIMD, where it ran
  for (const form of ['NN', 'TN', 'NT'] as const) {
    const relaxed = gemmEntry(r, form, HEADLINE, 'relaxed');
    if (!relaxed) continue;
    const s = speedup(relaxed, gemmEntry(r, form, HEADLINE, ours));
    ratios.push({ name: `relaxed / ${ours} sgemm ${form} ${shape}`, value: s, note: 'speed-up of relaxed_madd over mul + add' });
    targets.push(target(`relaxed sgemm ${form} ${shape} vs ${ours}`, '>= 1.1x', s, (v) => v >= 1.1, times));
  }

  const lossShapes = [...new Map(r.losses.map((l) => [`${l.rows}x${l.cols}`, [l.rows, l.cols] as const])).values()];
  for (const kernel of ['kdLoss', 'kl', 'softmax'] as const) {
    for (const [rows, cols] of lossShapes) {
      const s = speedup(lossEntry(r, kernel, rows, cols, ours), lossEntry(r, kernel, rows, cols, base));
      const what = kernel === 'softmax' ? 'value' : 'value + gradient';
      ratios.push({ name: `${ours} / ${base} ${kernel} [${rows},${cols}]`, value: s, note: `speed-up, ${what}` });
    }
  }
  for (const [rows, cols] of [[128, 10], [128, 1000]] as const) {
    const s = speedup(lossEntry(r, 'kdLoss', rows, cols, ours), lossEntry(r, 'kdLoss', rows, cols, base));
    targets.push(target(`fused KD loss + grad [${rows},${cols}] vs ${base}`, 'faster (> 1x)', s, (v) => v > 1, times));
  }

  const bytes = r.wasmBytes.simd ?? null;
  targets.push(target('retort.simd.wasm size', '< 64 KiB (65536 bytes)', bytes, (v) => v < SIMD_WASM_LIMIT,
    (v) => `${v} bytes (${(v / 1024).toFixed(1)} KiB)`));
  return { ratios, targets };
}
