// The readable report of a run (report.md); report.json holds the same data.
import { describeNorm, describeTestSplit } from '../data/dataset.js';
import { confusionLines } from '../eval/metrics.js';
import type { RunReport } from './run.js';

const pct = (x: number): string => `${(100 * x).toFixed(2)} %`;

export function renderReportMarkdown(r: RunReport): string {
  const c = r.config;
  const lines: string[] = [];
  lines.push(`# Retort ${r.kind} run`, '');
  lines.push(`- model: \`${r.model.spec}\` (${r.model.params.toLocaleString('en-US')} parameters)`);
  if (r.teacher) {
    lines.push(`- teacher: \`${r.teacher.source}\`${r.teacher.params ? ` (${r.teacher.params.toLocaleString('en-US')} parameters)` : ''}`);
  }
  // older reports (before the method family) have no `losses`
  if (r.losses) lines.push(`- loss: ${r.losses}${c.method && !c.losses ? ` (method ${c.method})` : ''}`);
  else if (r.teacher) lines.push(`- distillation: T = ${c.temperature}, alpha = ${c.alpha} (soft weight), T² scaling ${c.scaleT2 ? 'on' : 'off'}`);
  if (r.peers?.length) lines.push(`- cohort peers (test errors): ${r.peers.map((p) => p.errors).join(', ')}`);
  if (c.transfer) lines.push(`- transfer set: ${JSON.stringify(c.transfer)}`);
  const used = r.trainSamples ?? c.trainSize;
  lines.push(`- data: ${c.data}; ${c.validation} training samples held out for validation (seed ${c.seed})${used !== undefined ? `; ${used} used for training` : ''}`);
  // older reports have no testSplit; the data's own test set goes without saying
  if (r.testSplit && r.testSplit.kind !== 'given') lines.push(`- test set: ${describeTestSplit(r.testSplit)}`);
  if (r.classNames) lines.push(`- classes: ${r.classNames.map((n, c) => `${c} = ${n}`).join(', ')}`);
  if (r.inputNorm && (r.config.normalize || JSON.stringify(r.inputNorm) !== JSON.stringify({ mean: 0, std: 1 }))) {
    lines.push(`- inputs: ${describeNorm(r.inputNorm)}${r.config.normalize ? ' (per channel, from the training split)' : ''}`);
  }
  if (r.autoTune) {
    const t = r.autoTune;
    lines.push(`- T = ${t.chosen.temperature}, alpha = ${t.chosen.alpha} chosen on the validation split (${t.validationCount} rows; the test set is not read) from ` +
      `${t.candidates.length} candidates trained ${t.epochs} epoch${t.epochs > 1 ? 's' : ''} each: ` +
      t.candidates.map((c) => `T ${c.temperature}, alpha ${c.alpha}: ${c.validationErrors} errors (loss ${c.validationLoss.toFixed(4)})`).join('; '));
  }
  lines.push(`- optimizer: ${JSON.stringify(c.optimizer)}, schedule ${JSON.stringify(c.schedule)}, ${c.epochs} epochs of batch ${c.batchSize}, jitter ±${c.jitter} px`);
  lines.push(`- backend: ${r.backend}${(r.threads ?? 1) > 1 ? ` on ${r.threads} threads` : ''}; training time ${r.trainSeconds.toFixed(1)} s`, '');
  lines.push('## Test set', '');
  lines.push('| metric | value |', '|---|---|');
  lines.push(`| errors | ${r.test.errors} of ${r.test.count} |`);
  lines.push(`| accuracy | ${pct(r.test.accuracy)} |`);
  lines.push(`| cross-entropy | ${r.test.loss.toFixed(4)} |`);
  lines.push(`| expected calibration error | ${r.test.ece.toFixed(4)} |`);
  if (r.test.agreement !== undefined) lines.push(`| top-1 agreement with the teacher | ${pct(r.test.agreement)} |`);
  if (r.teacher?.test) lines.push(`| teacher errors | ${r.teacher.test.errors} |`);
  lines.push('', 'Errors per true class: ' + r.test.perClassErrors.map((e, i) => `${i}: ${e}`).join(', '), '');
  const [title, ...body] = confusionLines(r.test.confusion, r.classNames ?? null);
  lines.push(title!.charAt(0).toUpperCase() + title!.slice(1), '', '```', ...body);
  lines.push('```', '', '## Epochs', '');
  lines.push('| epoch | lr | train loss | train acc | val loss | val acc | val errors | samples/s | s |', '|---|---|---|---|---|---|---|---|---|');
  for (const h of r.history) {
    const v = h.validation;
    lines.push(`| ${h.epoch} | ${h.lr.toExponential(2)} | ${h.trainLoss.toFixed(4)} | ${pct(h.trainAccuracy)} | ${v ? v.loss.toFixed(4) : '–'} | ${v ? pct(v.accuracy) : '–'} | ${v ? v.errors : '–'} | ${Math.round(h.samplesPerSec)} | ${h.seconds.toFixed(1)} |`);
  }
  lines.push('');
  return lines.join('\n');
}
