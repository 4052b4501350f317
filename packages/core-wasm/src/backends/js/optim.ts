// Optimizers over the model's flat buffers: params, grads and the state buffers
// (velocity, or m and v) share one layout, so a whole model steps in one loop.
// All buffers are (n) f32. Arithmetic is f64 per element, rounded once on store.

import type { Ptr } from '../../abi.js';
import type { HeapViews } from './memory.js';

/**
 * SGD with PyTorch semantics (dampening 0):
 *   g = grad + weightDecay * p
 *   momentum != 0:  vel = momentum * vel + g;  step = nesterov ? g + momentum * vel : vel
 *   momentum == 0:  step = g (velocity is not read or written, it may be a null pointer)
 *   p -= lr * step
 */
export function sgdStep(heap: HeapViews, params: Ptr, velocity: Ptr, grads: Ptr, n: number,
                        lr: number, momentum: number, weightDecay: number, nesterov: number): void {
  const f = heap.sync().f32;
  const pi = params >>> 2, vi = velocity >>> 2, gi = grads >>> 2;
  if (momentum === 0) {
    for (let i = 0; i < n; i++) {
      const p = f[pi + i]!;
      f[pi + i] = p - lr * (f[gi + i]! + weightDecay * p);
    }
    return;
  }
  for (let i = 0; i < n; i++) {
    const p = f[pi + i]!;
    const g = f[gi + i]! + weightDecay * p;
    const vel = momentum * f[vi + i]! + g;
    f[vi + i] = vel;
    f[pi + i] = p - lr * (nesterov !== 0 ? g + momentum * vel : vel);
  }
}

/**
 * AdamW (Loshchilov & Hutter): decoupled weight decay, then Adam with bias correction.
 * `step` counts from 1.
 *   p -= lr * weightDecay * p
 *   m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2
 *   p -= lr * (m / (1 - beta1^step)) / (sqrt(v / (1 - beta2^step)) + eps)
 */
export function adamwStep(heap: HeapViews, params: Ptr, m: Ptr, v: Ptr, grads: Ptr, n: number,
                          lr: number, beta1: number, beta2: number, eps: number, weightDecay: number,
                          step: number): void {
  const f = heap.sync().f32;
  const pi = params >>> 2, mi = m >>> 2, vi = v >>> 2, gi = grads >>> 2;
  const correction1 = 1 - Math.pow(beta1, step), correction2 = 1 - Math.pow(beta2, step);
  const decay = lr * weightDecay;
  for (let i = 0; i < n; i++) {
    const g = f[gi + i]!;
    const mNew = beta1 * f[mi + i]! + (1 - beta1) * g;
    const vNew = beta2 * f[vi + i]! + (1 - beta2) * g * g;
    f[mi + i] = mNew;
    f[vi + i] = vNew;
    const p = f[pi + i]!;
    f[pi + i] = (p - decay * p) - lr * (mNew / correction1) / (Math.sqrt(vNew / correction2) + eps);
  }
}
