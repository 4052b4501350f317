// `retort methods`: the distillation methods, their loss terms, parameters and defaults.
import { METHODS } from '@retort/distill';
import type { Io } from '../program.js';

export function methodsCommand(flags: { json?: boolean }, io: Io): number {
  if (flags.json) {
    io.out(JSON.stringify(METHODS));
    return 0;
  }
  for (const m of METHODS) {
    io.out(`${m.name.padEnd(11)} ${m.title} (${m.source})${m.needsTeacher ? '' : ' — no teacher needed'}`);
    io.out(`${' '.repeat(12)}loss: ${m.terms}`);
    for (const p of m.params) io.out(`${' '.repeat(12)}${p.name} = ${p.default}: ${p.note}`);
    io.out(`${' '.repeat(12)}docs: ${m.doc}`);
    io.out('');
  }
  io.out('Use one with `retort distill --method NAME`, or write the terms out with --losses (JSON list of');
  io.out('{ "type": ce|kd|dkd|tfkd|hint|rkd|dml, "weight": ..., ... }); see docs/methods/README.md.');
  return 0;
}
