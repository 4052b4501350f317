// Optimizer steps over the model's flat buffers (params, grads and each state buffer share
// one layout, so a whole model is one call).
// params, velocity, m, v, grads are (n) f32.
//
// sgd (PyTorch semantics, dampening 0):
//   g = grad + wd * p
//   momentum != 0: vel = momentum * vel + g;  step = nesterov ? g + momentum * vel : vel
//   momentum == 0: step = g (vel untouched)
//   p -= lr * step
// adamw (decoupled weight decay, Loshchilov & Hutter):
//   p -= lr * wd * p
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
//   p -= lr * (m / (1 - b1^step)) / (sqrt(v / (1 - b2^step)) + eps)
//   bias corrections: the module's Math.pow in f64, once per call, then f32

export function sgdStep(params: usize, velocity: usize, grads: usize, n: i32,
                        lr: f32, momentum: f32, weightDecay: f32, nesterov: i32): void {
  if (momentum == 0) sgdPass(params, velocity, grads, n, lr, momentum, weightDecay, false, false);
  else if (nesterov != 0) sgdPass(params, velocity, grads, n, lr, momentum, weightDecay, true, true);
  else sgdPass(params, velocity, grads, n, lr, momentum, weightDecay, true, false);
}

/** One SGD sweep; useMomentum / nesterov are compile-time constants at each call site. */
// @ts-ignore: decorator
@inline function sgdPass(params: usize, velocity: usize, grads: usize, n: i32,
                         lr: f32, momentum: f32, wd: f32, useMomentum: bool, nesterov: bool): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const lr4 = f32x4.splat(lr), mu4 = f32x4.splat(momentum), wd4 = f32x4.splat(wd);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      const p = v128.load(params + o);
      const g = f32x4.add(v128.load(grads + o), f32x4.mul(wd4, p));
      let step = g;
      if (useMomentum) {
        const vel = f32x4.add(f32x4.mul(mu4, v128.load(velocity + o)), g);
        v128.store(velocity + o, vel);
        step = nesterov ? f32x4.add(g, f32x4.mul(mu4, vel)) : vel;
      }
      v128.store(params + o, f32x4.sub(p, f32x4.mul(lr4, step)));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const p = load<f32>(params + o);
    const g = load<f32>(grads + o) + wd * p;
    let step = g;
    if (useMomentum) {
      const vel = momentum * load<f32>(velocity + o) + g;
      store<f32>(velocity + o, vel);
      step = nesterov ? g + momentum * vel : vel;
    }
    store<f32>(params + o, p - lr * step);
  }
}

export function adamwStep(params: usize, m: usize, v: usize, grads: usize, n: i32,
                          lr: f32, beta1In: f64, beta2In: f64, eps: f32, weightDecay: f32, step: i32): void {
  // The betas arrive as f64 so that 1 - beta is formed before rounding: in f32,
  // 1 - f32(0.999) is off by ~6e-5 relative, and v would drift from the reference by that much.
  const bc1 = <f32>(1.0 - Math.pow(beta1In, <f64>step));
  const bc2 = <f32>(1.0 - Math.pow(beta2In, <f64>step));
  const beta1 = <f32>beta1In;
  const beta2 = <f32>beta2In;
  const lrwd = lr * weightDecay;
  const omb1 = <f32>(1.0 - beta1In);
  const omb2 = <f32>(1.0 - beta2In);
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const lr4 = f32x4.splat(lr), lrwd4 = f32x4.splat(lrwd), eps4 = f32x4.splat(eps);
    const b14 = f32x4.splat(beta1), b24 = f32x4.splat(beta2);
    const omb14 = f32x4.splat(omb1), omb24 = f32x4.splat(omb2);
    const bc14 = f32x4.splat(bc1), bc24 = f32x4.splat(bc2);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      let p = v128.load(params + o);
      const g = v128.load(grads + o);
      p = f32x4.sub(p, f32x4.mul(lrwd4, p));
      const mi = f32x4.add(f32x4.mul(b14, v128.load(m + o)), f32x4.mul(omb14, g));
      const vi = f32x4.add(f32x4.mul(b24, v128.load(v + o)), f32x4.mul(f32x4.mul(omb24, g), g));
      v128.store(m + o, mi);
      v128.store(v + o, vi);
      const num = f32x4.mul(lr4, f32x4.div(mi, bc14));
      const den = f32x4.add(f32x4.sqrt(f32x4.div(vi, bc24)), eps4);
      v128.store(params + o, f32x4.sub(p, f32x4.div(num, den)));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    let p = load<f32>(params + o);
    const g = load<f32>(grads + o);
    p = p - lrwd * p;
    const mi = beta1 * load<f32>(m + o) + omb1 * g;
    const vi = beta2 * load<f32>(v + o) + omb2 * g * g;
    store<f32>(m + o, mi);
    store<f32>(v + o, vi);
    store<f32>(params + o, p - lr * (mi / bc1) / (Mathf.sqrt(vi / bc2) + eps));
  }
}
