// Learning-rate schedules: pure functions of the step index, 0-based (step 0 is the first
// optimizer step of the run), over a run of `totalSteps` steps.
//
//   constant:  lr
//   step:      lr * gamma^floor(t / every)
//   cosine:    minLr + (lr - minLr) * (1 + cos(pi * t / T)) / 2, T = totalSteps - warmupSteps
//
// With warmupSteps = W > 0, steps 0..W-1 ramp linearly from 0: lr * (step + 1) / W (so the
// first step already moves, and step W-1 reaches lr), and t = step - W counts from the end of
// the warm-up. Cosine reaches minLr at t = T (one step past the last; the last step still
// moves) and holds it beyond.
//
// Only +, *, / and comparisons are used: Math.cos and Math.pow are not guaranteed to give the
// same bits in every JavaScript engine, and the learning rate feeds the parameters' bits.

import { z } from 'zod';
import { parseWith } from '../model/spec.js';

const warmupSteps = z.number({ error: 'must be a non-negative integer' }).int({ error: 'must be a non-negative integer' })
  .min(0, { error: 'must be a non-negative integer' }).optional();

export const scheduleConfigSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('constant'), warmupSteps }),
  z.strictObject({
    type: z.literal('step'),
    every: z.number({ error: 'must be a positive integer' }).int({ error: 'must be a positive integer' }).positive({ error: 'must be a positive integer' }),
    gamma: z.number({ error: 'must be a number in (0, 1]' }).positive({ error: 'must be a number in (0, 1]' }).max(1, { error: 'must be a number in (0, 1]' }),
    warmupSteps,
  }),
  z.strictObject({
    type: z.literal('cosine'),
    minLr: z.number({ error: 'must be a finite number >= 0' }).min(0, { error: 'must be a finite number >= 0' }).optional(),
    warmupSteps,
  }),
], { error: 'must be an object with type "constant", "step" or "cosine"' });

export type ScheduleConfig = z.infer<typeof scheduleConfigSchema>;

export function parseScheduleConfig(input: unknown, root = 'schedule'): ScheduleConfig {
  return parseWith(scheduleConfigSchema, input, root);
}

/** (step) => learning rate, for steps 0..totalSteps-1 of a run whose base rate is `lr`. */
export function lrSchedule(config: ScheduleConfig | object, totalSteps: number, lr: number): (step: number) => number {
  const c = parseScheduleConfig(config);
  if (!Number.isInteger(totalSteps) || totalSteps < 1) throw new RangeError(`lrSchedule: totalSteps must be a positive integer, got ${String(totalSteps)}`);
  if (!Number.isFinite(lr) || lr < 0) throw new RangeError(`lrSchedule: lr must be a finite number >= 0, got ${String(lr)}`);
  const warmup = c.warmupSteps ?? 0;
  const span = Math.max(1, totalSteps - warmup);
  const main = (t: number): number => {
    switch (c.type) {
      case 'constant': return lr;
      case 'step': return lr * powInt(c.gamma, Math.floor(t / c.every));
      case 'cosine': {
        const minLr = c.minLr ?? 0;
        const u = Math.min(t, span) / span;          // 0..1
        const half = cosHalfPi(u);                   // cos(pi u / 2); (1 + cos(pi u)) / 2 = cos^2(pi u / 2)
        return minLr + (lr - minLr) * half * half;
      }
    }
  };
  return (step: number): number => {
    if (!Number.isInteger(step) || step < 0) throw new RangeError(`lrSchedule: step must be a non-negative integer, got ${String(step)}`);
    if (step < warmup) return (lr * (step + 1)) / warmup;
    return main(step - warmup);
  };
}

/** x^k for integer k >= 0 by repeated squaring (fixed operation order: same bits everywhere). */
function powInt(x: number, k: number): number {
  let result = 1;
  let base = x;
  for (let e = k; e > 0; e = Math.floor(e / 2)) {
    if (e % 2 === 1) result *= base;
    base *= base;
  }
  return result;
}

/** cos(pi u / 2) for u in [0, 1] by its Taylor series (|error| < 1e-16 on [0, pi/2]). */
export function cosHalfPi(u: number): number {
  const x = (Math.PI / 2) * u;
  const x2 = x * x;
  // Horner form of sum_k (-1)^k x^(2k) / (2k)!, k = 0..11
  let s = 0;
  for (let k = 11; k >= 1; k--) s = 1 - (x2 / ((2 * k) * (2 * k - 1))) * s;
  return s;
}
