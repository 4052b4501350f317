// `retort data inspect PATH`: what a dataset holds (any form --data takes) and what looks wrong
// in it, as a table or one JSON object. A file a reader refuses is the reader's one-line error.
import { summarizeData, type DataSummary } from '@retort/distill';
import { loadData } from '@retort/distill/node';
import type { Io } from '../program.js';

const num = (v: number): string => (Number.isInteger(v) ? String(v) : v.toPrecision(4));

export function dataInspectCommand(path: string, flags: { json?: boolean }, io: Io): number {
  const { train, test } = loadData({ data: path });
  const summary: DataSummary & { data: string } = { data: path, ...summarizeData({ train, test }) };
  if (flags.json) {
    io.out(JSON.stringify(summary));
    return 0;
  }
  io.out(`${path}: ${summary.classes} classes`);
  for (const s of summary.splits) {
    io.out(`  ${s.split.padEnd(5)} ${String(s.count).padStart(8)} samples of ${s.sampleShape.join('x')} ${s.dtype}, values ${num(s.min)} .. ${num(s.max)}`
      + ` (mean ${num(s.mean)})${s.nonFinite ? `, ${s.nonFinite} not finite` : ''}`);
    io.out(`        per class: ${s.classCounts.map((n, c) => `${c}: ${n}`).join(', ')}`);
  }
  io.out(summary.warnings.length ? `warnings:\n${summary.warnings.map((w) => `  - ${w}`).join('\n')}` : 'nothing suspicious found');
  return 0;
}
