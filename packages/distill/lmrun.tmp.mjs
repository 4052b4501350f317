import { loadCore } from '@retort/distill';
import { lmJob } from '@retort/distill/node';
const [, , model, out, epochs, lr, teacher, T, alpha, k, seed] = process.argv;
const core = await loadCore({ backend: 'simd' });
const t0 = Date.now();
const r = await lmJob({ core, data: 'sotu', model, out, epochs: +epochs, batch: 32, lr: +lr, seed: +(seed ?? 1), trainChars: 1000000, testChars: 200000,
  ...(teacher && teacher !== '-' ? { teacher, temperature: +T, alpha: +alpha, topK: +k } : {}),
  onEpoch: (e) => console.log(JSON.stringify(e)), onInfo: (l) => console.log(l) });
console.log('done', (Date.now() - t0) / 1000, JSON.stringify({ params: r.params, testBpc: r.testBpc, teacher: r.teacher }));
