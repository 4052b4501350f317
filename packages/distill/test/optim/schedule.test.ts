import { describe, expect, it } from 'vitest';
import { lrSchedule } from '../../src/optim/schedule.js';

describe('lrSchedule', () => {
  it('constant, with and without warm-up', () => {
    const f = lrSchedule({ type: 'constant' }, 100, 0.1);
    expect([0, 50, 99, 500].map(f)).toEqual([0.1, 0.1, 0.1, 0.1]);
    const w = lrSchedule({ type: 'constant', warmupSteps: 4 }, 100, 0.1);
    [0.025, 0.05, 0.075, 0.1, 0.1, 0.1].forEach((v, i) => expect(w([0, 1, 2, 3, 4, 99][i]!)).toBeCloseTo(v, 15));
  });

  it('step decay: lr * gamma^floor(t / every), counted after the warm-up', () => {
    const f = lrSchedule({ type: 'step', every: 10, gamma: 0.5 }, 100, 0.8);
    expect([0, 9, 10, 19, 20, 35, 99].map(f)).toEqual([0.8, 0.8, 0.4, 0.4, 0.2, 0.1, 0.8 / 512]);
    const w = lrSchedule({ type: 'step', every: 10, gamma: 0.5, warmupSteps: 5 }, 100, 0.8);
    expect([4, 5, 14, 15].map(w)).toEqual([0.8, 0.8, 0.8, 0.4]);
  });

  it('cosine: lr at the start, the midpoint halfway, minLr at the end; deterministic arithmetic matches Math.cos', () => {
    const f = lrSchedule({ type: 'cosine', minLr: 0.001 }, 100, 0.1); // T = 100: step 100 (one past the end) is minLr
    expect(f(0)).toBe(0.1);
    expect(f(50)).toBeCloseTo((0.1 + 0.001) / 2, 15);
    expect(f(100)).toBeCloseTo(0.001, 15);
    expect(f(1000)).toBeCloseTo(0.001, 15);
    for (const t of [1, 13, 37, 71, 99]) {
      expect(f(t)).toBeCloseTo(0.001 + (0.1 - 0.001) * (1 + Math.cos((Math.PI * t) / 100)) / 2, 15);
    }
    const w = lrSchedule({ type: 'cosine', warmupSteps: 10 }, 110, 1); // T = 100 after the warm-up
    expect(w(0)).toBe(0.1);
    expect(w(9)).toBe(1);
    expect(w(10)).toBe(1);
    expect(w(60)).toBeCloseTo(0.5, 15);
  });

  it('rejects bad configs and steps with clear messages', () => {
    expect(() => lrSchedule({ type: 'step', every: 0, gamma: 0.5 }, 10, 0.1)).toThrow('schedule.every: must be a positive integer');
    expect(() => lrSchedule({ type: 'step', every: 2, gamma: 2 }, 10, 0.1)).toThrow('schedule.gamma: must be a number in (0, 1]');
    expect(() => lrSchedule({ type: 'cosine', warmupSteps: -1 }, 10, 0.1)).toThrow('schedule.warmupSteps: must be a non-negative integer');
    expect(() => lrSchedule({ type: 'linear' }, 10, 0.1)).toThrow('schedule.type');
    expect(() => lrSchedule({ type: 'constant' }, 0, 0.1)).toThrow(/totalSteps/);
    expect(() => lrSchedule({ type: 'constant' }, 10, 0.1)(-1)).toThrow(/step must be/);
  });
});
