// Values that change over training: loss weights and temperatures (adaptive distillation).
//
//   a number                                   constant
//   { schedule: 'linear', from, to }           from → to linearly over the run's steps
//   { schedule: 'cosine', from, to }           from → to along a half cosine (slow, fast, slow)
//   { schedule: 'step', from, to, atEpoch }    from before epoch atEpoch (1-based), to from then on
//   { schedule: 'agreement', from, to }        driven by the student, not the clock:
//                                              from + (to − from) · a, where a is the student's top-1
//                                              agreement with the teacher on the validation split,
//                                              measured after the previous epoch (a = 0 before the
//                                              first measurement). E.g. the soft weight falls as the
//                                              student comes to agree with its teacher.
//
// Progress t = step / totalSteps in [0, 1). Only +, *, / (and the Taylor cosine the learning-rate
// schedule uses) enter, so a value has the same bits in every JavaScript engine.
import { z } from 'zod';
import { cosHalfPi } from '../optim/schedule.js';

const epochNumber = z.number({ error: 'must be a positive integer (an epoch, 1-based)' })
  .int({ error: 'must be a positive integer (an epoch, 1-based)' }).positive({ error: 'must be a positive integer (an epoch, 1-based)' });

export function scheduledValueSchema<V extends z.ZodType<number>>(value: V) {
  return z.union([
    value,
    z.discriminatedUnion('schedule', [
      z.strictObject({ schedule: z.literal('linear'), from: value, to: value }),
      z.strictObject({ schedule: z.literal('cosine'), from: value, to: value }),
      z.strictObject({ schedule: z.literal('step'), from: value, to: value, atEpoch: epochNumber }),
      z.strictObject({ schedule: z.literal('agreement'), from: value, to: value }),
    ], { error: 'must be a number or a schedule { schedule: linear | cosine | step | agreement, from, to }' }),
  ], { error: 'must be a number or a schedule { schedule: linear | cosine | step | agreement, from, to }' });
}

export type ScheduledValue =
  | number
  | { schedule: 'linear' | 'cosine' | 'agreement'; from: number; to: number }
  | { schedule: 'step'; from: number; to: number; atEpoch: number };

/** Where training stands, for evaluating scheduled values. */
export interface ScheduleContext {
  /** step / totalSteps, in [0, 1). */
  progress: number;
  /** The current epoch, 1-based. */
  epoch: number;
  /** The student's top-1 agreement with the teacher on validation after the previous epoch, if measured. */
  agreement?: number;
}

export function valueAt(v: ScheduledValue, ctx: ScheduleContext): number {
  if (typeof v === 'number') return v;
  switch (v.schedule) {
    case 'linear': return v.from + (v.to - v.from) * clamp01(ctx.progress);
    case 'cosine': {
      const c = cosHalfPi(clamp01(ctx.progress)); // (1 + cos(pi t)) / 2 = cos²(pi t / 2)
      return v.to + (v.from - v.to) * c * c;
    }
    case 'step': return ctx.epoch < v.atEpoch ? v.from : v.to;
    case 'agreement': return v.from + (v.to - v.from) * clamp01(ctx.agreement ?? 0);
  }
}

export function isScheduled(v: ScheduledValue): boolean { return typeof v !== 'number'; }
export function usesAgreement(v: ScheduledValue): boolean { return typeof v !== 'number' && v.schedule === 'agreement'; }

function clamp01(x: number): number { return x < 0 ? 0 : x > 1 ? 1 : x; }
