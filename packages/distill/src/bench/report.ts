// A StepBenchResult as plain-text tables (Node's stdout, a <pre> in the web app).

import type { StepBenchResult } from './step.js';
import type { CnnBenchResult } from './cnn-step.js';

function table(header: readonly string[], rows: readonly (readonly string[])[], align: string): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => cells
    .map((c, i) => (align[i] === 'l' ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
    .join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].map((l) => `  ${l}`).join('\n');
}

const fixed = (v: number, d: number): string => (Number.isFinite(v) ? v.toFixed(d) : String(v));

export function formatStepReport(r: StepBenchResult): string {
  const p = r.problem;
  const out: string[] = [];
  out.push(`Retort training-step benchmark (${r.mode} mode), ${r.startedAt}, ${fixed(r.durationMs / 1000, 1)} s`);
  for (const [k, v] of Object.entries(r.environment)) out.push(`  ${k}: ${String(v)}`);
  out.push('', `One step: ${p.model}, batch ${p.batch}, ${p.paramCount} parameters:`,
    `  forward (train mode), fused KD loss (T = ${p.temperature}, alpha = ${p.alpha}, T² scaling; teacher logits a [${p.batch},${p.classes}] tensor),`,
    `  backward, ${p.optimizer}. ${fixed(p.flop / 1e6, 1)} MFLOP of matrix products per step.`);
  out.push('', 'Contenders (single thread, interleaved round-robin, one step per sample, median after warm-up):');
  for (const c of r.contenders) out.push(`  ${c.name.padEnd(10)} ${c.description}`);

  out.push('', `Sanity check, untimed: loss over the first ${r.sanity[0]?.losses.length ?? 0} steps from the same weights (must fall, and follow ${r.reference}):`);
  out.push(table(['contender', 'losses', `vs ${r.reference}`], r.sanity.map((s) => [
    s.contender, s.losses.map((l) => fixed(l, 4)).join(' > '), s.deviation === 0 ? '0' : s.deviation.toExponential(1),
  ]), 'lll'));

  const base = r.entries.find((e) => e.contender === 'tfjs-wasm');
  out.push('', 'Training step (median):');
  out.push(table(['contender', 'samples/s', 'ms/step', 'GFLOP/s', 'vs tfjs-wasm', 'samples'], r.entries.map((e) => [
    e.contender, fixed(e.samplesPerSec, 0), fixed(e.msPerStep, 2), fixed(e.gflops, 2),
    base ? `${fixed(base.msPerStep / e.msPerStep, 2)}x` : '-', String(e.stat.samples),
  ]), 'lrrrrr'));

  out.push('', 'Ratios (this run):');
  out.push(table(['ratio', 'value', 'note'], r.ratios.map((x) => [x.name, x.value === null ? '-' : fixed(x.value, 2), x.note]), 'lrl'));
  out.push('', 'Targets (reported, not asserted):');
  out.push(table(['status', 'target', 'requirement', 'measured'],
    r.targets.map((t) => [t.status.toUpperCase(), t.name, t.requirement, t.measured]), 'llll'));
  return out.join('\n');
}

export function formatCnnReport(r: CnnBenchResult, title = 'CNN training step'): string {
  const p = r.problem;
  const out: string[] = [];
  out.push(`${title}: ${p.model}, batch ${p.batch}, ${p.params} parameters, ${fixed(p.macsPerSample / 1e6, 2)} M multiply-adds per sample;`,
    `  forward (train mode), fused KD loss (T = ${p.temperature}, alpha = ${p.alpha}), backward, ${p.optimizer}.`,
    `  Effective FLOPs: step ${fixed(p.stepFlop / 1e6, 1)} MFLOP (forward, weight and input gradients of the layers with multiply-adds), forward ${fixed(p.forwardFlop / 1e6, 1)} MFLOP.`,
    `  Measured SIMD peak: ${r.peakGflops === null ? '-' : `${fixed(r.peakGflops, 2)} GFLOP/s`}.`);
  for (const c of r.contenders) if (c.cannotTrain) out.push(`  ${c.name} cannot train it: ${c.cannotTrain}`);
  for (const c of r.contenders) if (c.note) out.push(`  ${c.name}: ${c.note}`);
  out.push('', 'Sanity check, untimed (losses must fall and follow the js backend; logits agree):');
  out.push(table(['contender', 'losses', 'vs js', 'logits vs js'], r.sanity.map((s) => [
    s.contender, s.losses.length ? s.losses.map((l) => fixed(l, 4)).join(' > ') : '(cannot train)',
    s.deviation === null ? '-' : s.deviation === 0 ? '0' : s.deviation.toExponential(1),
    s.forwardDeviation === 0 ? '0' : s.forwardDeviation.toExponential(1),
  ]), 'llll'));
  const rows = (entries: CnnBenchResult['step'], base: string | undefined) => {
    const b = entries.find((e) => e.contender === base);
    return entries.map((e) => [e.contender, fixed(e.samplesPerSec, 0), fixed(e.ms, 2), fixed(e.gflops, 2),
      e.fractionOfPeak === null ? '-' : `${fixed(100 * e.fractionOfPeak, 1)} %`, b ? `${fixed(b.ms / e.ms, 2)}x` : '-']);
  };
  out.push('', 'Training step (median):');
  out.push(table(['contender', 'samples/s', 'ms/step', 'GFLOP/s', 'of peak', 'vs tfjs-cpu'], rows(r.step, 'tfjs-cpu'), 'lrrrrr'));
  out.push('', 'Forward pass, eval mode (median):');
  out.push(table(['contender', 'samples/s', 'ms/batch', 'GFLOP/s', 'of peak', 'vs tfjs-wasm'], rows(r.forward, 'tfjs-wasm'), 'lrrrrr'));
  out.push('', 'Targets (reported, not asserted):');
  out.push(table(['status', 'target', 'requirement', 'measured'], r.targets.map((t) => [t.status.toUpperCase(), t.name, t.requirement, t.measured]), 'llll'));
  return out.join('\n');
}
