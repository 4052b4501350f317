// A run is a function of (inputs, seed): a small training chain (init with rngNormal,
// forward sgemm + bias + relu + sgemm, fused KD loss, backward, AdamW x3) gives the same
// bits in repeated runs on the same backend, in one core and in fresh ones.
import { describe, expect, it } from 'vitest';
import { loadCore, type Core } from '@retort/core-wasm';
import { TestRand } from '../reference/prng.js';
import { BACKENDS, f32, fnv1a, i32, useCore } from './helpers.js';

const B = 5, IN = 13, H = 17, C = 7;

/** Runs the chain from `seed` and returns a fingerprint of the final parameters and losses. */
function chain(core: Core, seed: number): { params: string; losses: number[] } {
  const rand = new TestRand(1234);
  const x = f32(core, rand.f32(B * IN)), v = f32(core, rand.logits(B * C)), y = i32(core, rand.labels(B, C));
  const rng = core.createRng(seed);
  const n = IN * H + H + H * C;
  const params = core.alloc(n), grads = core.alloc(n), m = core.alloc(n), s = core.alloc(n);
  core.rngNormal(params, rng, n, 0, 0.3);
  const w1 = params.ptr, b1 = w1 + IN * H * 4, w2 = b1 + H * 4;
  const gw1 = grads.ptr, gb1 = gw1 + IN * H * 4, gw2 = gb1 + H * 4;
  const h = core.alloc(B * H), z = core.alloc(B * C), dz = core.alloc(B * C), dh = core.alloc(B * H), dpre = core.alloc(B * H);
  const losses: number[] = [];
  for (let step = 1; step <= 3; step++) {
    core.sgemm(false, false, B, H, IN, 1, x, w1, 0, h);
    core.biasAdd(h, b1, B, H);
    core.reluForward(h, h, B * H);
    core.sgemm(false, false, B, C, H, 1, h, w2, 0, z);
    core.fill(dz, B * C, 0); core.fill(grads, n, 0); core.fill(dh, B * H, 0); core.fill(dpre, B * H, 0);
    losses.push(core.distillationLoss(dz, z, v, y, B, C, { temperature: 4, alpha: 0.3 }));
    core.sgemm(true, false, H, C, B, 1, h, dz, 1, gw2);      // dW2 += hᵀ dz
    core.sgemm(false, true, B, H, C, 1, dz, w2, 1, dh);      // dh  += dz W2ᵀ
    core.reluBackward(dpre, dh, h, B * H);
    core.biasBackward(gb1, dpre, B, H);
    core.sgemm(true, false, IN, H, B, 1, x, dpre, 1, gw1);   // dW1 += xᵀ dpre
    core.adamwStep(params, m, s, grads, n, { lr: 1e-2, weightDecay: 0.01, step });
  }
  return { params: fnv1a(params.toArray()), losses };
}

describe.each(BACKENDS)('determinism [%s]', (backend) => {
  const core = useCore(backend);

  it('the same seed gives the same parameters bit for bit (same core twice, and a fresh core)', async () => {
    const a = chain(core(), 99), b = chain(core(), 99);
    const c = chain(await loadCore({ backend }), 99);
    expect(b).toEqual(a);
    expect(c).toEqual(a);
    for (const L of a.losses) expect(Number.isFinite(L)).toBe(true);
    expect(a.losses[2]!).toBeLessThan(a.losses[0]!); // the chain does train
    expect(chain(core(), 100).params).not.toBe(a.params);
  });
});
