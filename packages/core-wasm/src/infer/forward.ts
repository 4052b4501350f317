// The forward pass of a layer graph over raw kernels, float32 or int8: ONE implementation, used by
// the inference entry (./index.ts) and by @retort/distill (its int8 model, and the f32 pass that
// calibrates it), so that both compute the same bits.
//
// A Program (./program.ts) is the graph made resident: an ordered op list whose weights, scales and
// geometry structs sit in module memory. Ops read earlier ops' outputs (index -1: the model input).
//   f32:   dense = sgemm + biasAdd; conv = conv2dForward + biasAdd; batchNorm = batchNormInferForward
//          (running statistics); layerNorm; relu; gelu; add; max/avg pooling; global average pooling
//   int8:  dense   xq = quantizeI8(x, s_in); acc = gemmI8(xq, W packed); y = dequantizeI8(acc) (+ ReLU)
//          conv    G == 1: im2colI8 of xq in chunks of output pixels (COL_BUDGET bytes), gemmI8 of each
//                  chunk into its rows of acc (1x1 stride-1 unpadded: gemmI8 on xq itself); 1 < G < C:
//                  the same on block-diagonal weights (KH*KW*C, OC) with zeros outside each group (exact:
//                  G times the multiply-adds, no preset has such a layer); G == C: depthwiseConvI8.
//                  Then dequantizeI8 (+ ReLU) over (B*OH*OW, OC).
//          affine  channelAffine (a batch norm that was not folded)
//          pooling, global average pooling, add, ReLU, GELU, layer norm, flatten: f32 as above.
//   text:  the model input is (rows, L) token ids (-1 pads after the tokens); each sample's token
//          count n is read from it once per run. embedding = embeddingForward (+ biasAdd of the
//          positions), embeddingI8 = the row's int8 values times its scale (one f32 product each);
//          attention = per sample and head sgemm (q kᵀ over the n tokens), softmaxRows with T =
//          sqrt(dh) (causal: row i over its first i + 1 keys, zeros after), sgemm (P v), rows >= n
//          zero: the kernel sequence of @retort/distill's attention layer, so a float program gives
//          Model.forward's bits; sequencePool = globalAvgPoolForward over the n rows (or row 0).
// Every int8 kernel is exact or specified as f32 operations, and so are pooling, add, ReLU and
// the affine op, so an int8 program gives the same bits on simd, scalar and js; layer norm and
// GELU give the same bits on simd and scalar (the js backend computes them in f64, within a few
// ulp: see kernels/list.ts).
//
// Memory: activations live in slots planned once per batch size (planProgram): an op's output
// takes a free slot, elementwise ops (ReLU, GELU, add, affine, norms) run in place over an input
// no later op reads, flatten is its input's buffer, and a slot is freed after its last reader.
// An int8 dense or conv op accumulates its i32 sums in its own output slot and dequantizes in place.

import { GEOM, type Ptr } from '../abi.js';
import type { MemoryViews } from '../tensor.js';
import { COL_BUDGET, type Program, type ProgramKernels, type ProgramMemory } from './program.js';

export {
  floatProgram, int8Program, freeProgram, COL_BUDGET,
  type Program, type ProgramKernels, type ProgramMemory, type ExecOp,
} from './program.js';

/** Ops that may write their output over an input no later op reads (the kernels allow y to alias x). */
const IN_PLACE = new Set(['relu', 'gelu', 'add', 'affine', 'batchNorm', 'layerNorm']);

// ---- planning ---------------------------------------------------------------------------------

/** Bytes of every buffer a run of up to `batch` rows needs, and which activation slot each op writes. */
export interface ProgramPlan {
  readonly batch: number;
  /** Bytes of each activation slot. */
  readonly slots: number[];
  /** Per op, the slot of its output (-1: the model input itself, for an alias of it). */
  readonly slotOf: number[];
  /** i8 bytes for a quantized input; i8 bytes of im2col rows; i32 argmax of max pooling; f32 layer-norm statistics. */
  readonly xq: number;
  readonly col: number;
  readonly argmax: number;
  readonly stats: number;
  /** f32 bytes of one head's (L, L) attention probabilities. */
  readonly attn: number;
}

export function planProgram(p: Program, batch: number): ProgramPlan {
  const ops = p.ops, n = ops.length;
  const root = new Array<number>(n);
  ops.forEach((op, i) => { root[i] = op.kind === 'alias' ? (op.inputs[0]! < 0 ? -1 : root[op.inputs[0]!]!) : i; });
  const lastUse = new Array<number>(n).fill(-1);
  ops.forEach((op, i) => { for (const j of op.inputs) if (j >= 0 && root[j]! >= 0) lastUse[root[j]!] = i; });
  if (root[n - 1]! >= 0) lastUse[root[n - 1]!] = Infinity; // the logits stay
  const slots: number[] = [], slotOf = new Array<number>(n).fill(-1), free: number[] = [];
  let xq = 0, col = 0, argmax = 0, stats = 0, attn = 0;
  ops.forEach((op, i) => {
    const bytes = 4 * batch * op.outElems;
    if (op.kind === 'alias') {
      slotOf[i] = root[i]! < 0 ? -1 : slotOf[root[i]!]!;
    } else {
      const reuse = IN_PLACE.has(op.kind) ? op.inputs.find((j) => j >= 0 && root[j]! >= 0 && lastUse[root[j]!] === i) : undefined;
      if (reuse !== undefined) {
        slotOf[i] = slotOf[root[reuse]!]!;
        lastUse[root[reuse]!] = -1; // ownership passes to this op
      } else {
        let best = -1;
        for (const s of free) if (slots[s]! >= bytes && (best < 0 || slots[s]! < slots[best]!)) best = s;
        if (best < 0 && free.length > 0) best = free.reduce((a, s) => (slots[s]! > slots[a]! ? s : a), free[0]!);
        if (best >= 0) {
          free.splice(free.indexOf(best), 1);
          slots[best] = Math.max(slots[best]!, bytes);
        } else {
          best = slots.length;
          slots.push(bytes);
        }
        slotOf[i] = best;
      }
    }
    switch (op.kind) {
      case 'denseI8': case 'depthwiseI8': xq = Math.max(xq, batch * op.inElems); break;
      case 'convI8': {
        xq = Math.max(xq, batch * op.inElems);
        if (!op.pointwise) col = Math.max(col, op.K * Math.min(batch * (op.outElems / op.OC), Math.max(1, Math.floor(COL_BUDGET / op.K))));
        break;
      }
      case 'maxPool': argmax = Math.max(argmax, 4 * batch * op.outElems); break;
      case 'layerNorm': stats = Math.max(stats, 2 * 4 * batch * (op.outElems / op.D)); break;
      case 'attention': attn = Math.max(attn, 4 * op.L * op.L); break;
      default:
    }
    // slots whose last reader this op was are free for the next ops
    for (const j of new Set(op.inputs)) {
      const r = j >= 0 ? root[j]! : -1;
      if (r >= 0 && lastUse[r] === i) free.push(slotOf[r]!);
    }
  });
  return { batch, slots, slotOf, xq, col, argmax, stats, attn };
}

/** The buffers of a plan in module memory. */
export interface ProgramBuffers { slots: Ptr[]; xq: Ptr; col: Ptr; argmax: Ptr; stats: Ptr; attn: Ptr }

/** Allocates a plan's buffers (release them with freeBuffers). */
export function allocBuffers(mem: ProgramMemory, plan: ProgramPlan): ProgramBuffers {
  const got: Ptr[] = [];
  const take = (bytes: number): Ptr => { if (bytes === 0) return 0; const p = mem.alloc(bytes); got.push(p); return p; };
  try {
    return { slots: plan.slots.map(take), xq: take(plan.xq), col: take(plan.col), argmax: take(plan.argmax), stats: take(plan.stats), attn: take(plan.attn) };
  } catch (e) {
    for (const p of got) mem.free(p);
    throw e;
  }
}

export function freeBuffers(mem: ProgramMemory, b: ProgramBuffers): void {
  for (const p of [...b.slots, b.xq, b.col, b.argmax, b.stats, b.attn]) if (p !== 0) mem.free(p);
}

// ---- running ----------------------------------------------------------------------------------

/**
 * Runs the program on `rows` (<= plan.batch) rows of x ((rows, inputSize) f32 at byte offset x);
 * returns the offset of the (rows, classes) f32 logits (one of the buffers). `after(i, ptr)` sees
 * each op's output as it is written (calibration reads activations there). Unchecked: the caller
 * sized and validated every buffer.
 */
export function runProgram(k: ProgramKernels, views: MemoryViews, p: Program, plan: ProgramPlan, buf: ProgramBuffers,
                           x: Ptr, rows: number, after?: (op: number, ptr: Ptr) => void): Ptr {
  const out: Ptr[] = new Array<number>(p.ops.length);
  const batchGeom = (geom: Ptr): Ptr => { views.i32[(geom >>> 2) + GEOM.B] = rows; return geom; };
  // a text model's token counts: the ids before the first -1 of each row of the input
  let counts: Int32Array | null = null;
  const tokens = (): Int32Array => {
    if (counts) return counts;
    const L = p.inputSize, f = views.f32, base = x >>> 2;
    counts = new Int32Array(rows);
    for (let r = 0; r < rows; r++) {
      let n = 0;
      while (n < L && f[base + r * L + n]! >= 0) n++;
      counts[r] = n;
    }
    return counts;
  };
  p.ops.forEach((op, i) => {
    const src = (w: number): Ptr => (op.inputs[w]! < 0 ? x : out[op.inputs[w]!]!);
    const y = plan.slotOf[i]! < 0 ? x : buf.slots[plan.slotOf[i]!]!;
    out[i] = op.kind === 'alias' ? src(0) : y;
    const n = rows * op.outElems;
    switch (op.kind) {
      case 'dense':
        k.sgemm(0, 0, rows * op.L, op.OUT, op.IN, 1, src(0), op.IN, op.w, op.OUT, 0, y, op.OUT);
        if (op.b) k.biasAdd(y, op.b, rows * op.L, op.OUT);
        break;
      case 'embedding':
        k.embeddingForward(y, src(0), op.table, rows * op.L, op.D, op.V);
        if (op.pos) k.biasAdd(y, op.pos, rows, op.L * op.D);
        break;
      case 'embeddingI8': {
        const f = views.f32, q = views.i8, ids = src(0) >>> 2, D = op.D, sc = op.scales >>> 2;
        for (let r = 0; r < rows * op.L; r++) {
          const id = f[ids + r]!, dst = (y >>> 2) + r * D;
          if (!(id >= 0 && id < op.V)) { f.fill(0, dst, dst + D); continue; } // padding: a zero row
          const s = f[sc + id]!, row = op.table + id * D;
          for (let d = 0; d < D; d++) f[dst + d] = q[row + d]! * s;
        }
        if (op.pos) k.biasAdd(y, op.pos, rows, op.L * D);
        break;
      }
      case 'attention': {
        const { L, D, heads: H } = op, dh = D / H, D3 = 3 * D, T = Math.sqrt(dh), P = buf.attn, f = views.f32, n8 = tokens();
        const qkv = src(0);
        for (let b = 0; b < rows; b++) {
          const n = Math.min(n8[b]!, L), rowB = qkv + 4 * b * L * D3, ctxB = y + 4 * b * L * D;
          if (n < L) f.fill(0, (ctxB >>> 2) + n * D, (ctxB >>> 2) + L * D);
          for (let h = 0; h < H && n > 0; h++) {
            const q = rowB + 4 * h * dh, kk = rowB + 4 * (D + h * dh), v = rowB + 4 * (2 * D + h * dh);
            k.sgemm(0, 1, n, n, dh, 1, q, D3, kk, D3, 0, P, n);
            if (op.causal) {
              for (let i = 0; i < n; i++) {
                k.softmaxRows(P + 4 * i * n, P + 4 * i * n, 1, i + 1, T);
                if (i + 1 < n) f.fill(0, (P >>> 2) + i * n + i + 1, (P >>> 2) + (i + 1) * n);
              }
            } else {
              k.softmaxRows(P, P, n, n, T);
            }
            k.sgemm(0, 0, n, dh, n, 1, P, n, v, D3, 0, ctxB + 4 * h * dh, D);
          }
        }
        break;
      }
      case 'sequencePool': {
        const n8 = tokens(), { L, D } = op, f = views.f32, x0 = src(0);
        for (let b = 0; b < rows; b++) {
          const n = Math.min(op.first ? 1 : L, n8[b]!);
          if (n === 0) f.fill(0, (y >>> 2) + b * D, (y >>> 2) + (b + 1) * D);
          else k.globalAvgPoolForward(y + 4 * b * D, x0 + 4 * b * L * D, 1, n, D);
        }
        break;
      }
      case 'conv':
        k.conv2dForward(y, src(0), op.w, batchGeom(op.geom), 0, 0);
        if (op.b) k.biasAdd(y, op.b, n / op.OC, op.OC);
        break;
      case 'denseI8':
        k.quantizeI8(buf.xq, src(0), rows * op.inElems, op.inputScale);
        k.gemmI8(y, buf.xq, op.packed, rows * op.L, op.OC, op.inElems / op.L);
        k.dequantizeI8(y, y, op.scales, op.bias, rows * op.L, op.OC, op.inputScale, op.relu ? 1 : 0);
        break;
      case 'convI8': {
        const pixels = n / op.OC;
        k.quantizeI8(buf.xq, src(0), rows * op.inElems, op.inputScale);
        if (op.pointwise) {
          k.gemmI8(y, buf.xq, op.packed, pixels, op.OC, op.K);
        } else {
          const geom = batchGeom(op.geom), chunk = Math.max(1, Math.floor(COL_BUDGET / op.K));
          for (let p0 = 0; p0 < pixels; p0 += chunk) {
            const np = Math.min(chunk, pixels - p0);
            k.im2colI8(buf.col, buf.xq, geom, p0, np);
            k.gemmI8(y + 4 * p0 * op.OC, buf.col, op.packed, np, op.OC, op.K);
          }
        }
        k.dequantizeI8(y, y, op.scales, op.bias, pixels, op.OC, op.inputScale, op.relu ? 1 : 0);
        break;
      }
      case 'depthwiseI8':
        k.quantizeI8(buf.xq, src(0), rows * op.inElems, op.inputScale);
        k.depthwiseConvI8(y, buf.xq, op.packed, batchGeom(op.geom));
        k.dequantizeI8(y, y, op.scales, op.bias, n / op.OC, op.OC, op.inputScale, op.relu ? 1 : 0);
        break;
      case 'maxPool': k.maxPool2dForward(y, buf.argmax, src(0), batchGeom(op.geom)); break;
      case 'avgPool': k.avgPool2dForward(y, src(0), batchGeom(op.geom)); break;
      case 'globalAvgPool': k.globalAvgPoolForward(y, src(0), rows, op.HW, op.C); break;
      case 'batchNorm': k.batchNormInferForward(y, src(0), op.mean, op.variance, op.gamma, op.beta, n / op.C, op.C, op.eps); break;
      case 'affine': k.channelAffine(y, src(0), op.scale, op.shift, n / op.C, op.C); break;
      case 'layerNorm': {
        const r = n / op.D;
        k.layerNormForward(y, buf.stats, buf.stats + 4 * r, src(0), op.gamma, op.beta, r, op.D, op.eps);
        break;
      }
      case 'relu': k.reluForward(y, src(0), n); break;
      case 'gelu': k.geluForward(y, src(0), n); break;
      case 'add': k.addForward(y, src(0), src(1), n); break;
      case 'alias': break;
    }
    after?.(i, out[i]!);
  });
  return out[p.ops.length - 1]!;
}

/**
 * A program's work buffers for the largest batch asked for so far (re-planned and reallocated when
 * a larger batch comes), and a batched run over any number of rows: what the inference entry and
 * @retort/distill's int8 model both use to predict.
 */
export class ProgramRunner {
  private plan: ProgramPlan | null = null;
  private buffers: ProgramBuffers | null = null;
  private input: Ptr = 0;

  constructor(readonly k: ProgramKernels, readonly mem: ProgramMemory, readonly program: Program) {}

  /** (rows, classes) f32 logits of x (rows, inputSize), in batches of at most `batchSize` rows. */
  predict(x: Float32Array, rows: number, batchSize: number): Float32Array {
    const p = this.program, IN = p.inputSize, C = p.classes;
    const out = new Float32Array(rows * C);
    if (rows === 0) return out;
    const first = p.ops[0];
    if (first && (first.kind === 'embedding' || first.kind === 'embeddingI8')) checkTokenIds(x, rows, IN, first.V);
    const batch = Math.min(rows, batchSize);
    this.ensure(batch);
    const views = this.mem.views;
    for (let r0 = 0; r0 < rows; r0 += batch) {
      const r = Math.min(batch, rows - r0);
      views.f32.set(x.subarray(r0 * IN, (r0 + r) * IN), this.input >>> 2);
      const y = runProgram(this.k, views, p, this.plan!, this.buffers!, this.input, r);
      out.set(views.f32.subarray(y >>> 2, (y >>> 2) + r * C), r0 * C);
    }
    return out;
  }

  private ensure(batch: number): void {
    if (this.plan && this.plan.batch >= batch) return;
    this.release();
    this.plan = planProgram(this.program, batch);
    this.input = this.mem.alloc(Math.max(16, 4 * batch * this.program.inputSize));
    try {
      this.buffers = allocBuffers(this.mem, this.plan);
    } catch (e) {
      this.mem.free(this.input);
      this.input = 0;
      this.plan = null;
      throw e;
    }
  }

  /** Frees the work buffers (not the program). */
  release(): void {
    if (this.buffers) freeBuffers(this.mem, this.buffers);
    if (this.input) this.mem.free(this.input);
    this.buffers = null;
    this.input = 0;
    this.plan = null;
  }
}

/** Every id is -1 or a token of the vocabulary [0, V), padding only after the tokens; the error names the row and position. */
export function checkTokenIds(x: Float32Array, rows: number, L: number, V: number): void {
  for (let r = 0; r < rows; r++) {
    let padded = false;
    for (let l = 0; l < L; l++) {
      const v = x[r * L + l]!;
      if (v === -1) { padded = true; continue; }
      if (!(Number.isInteger(v) && v >= 0 && v < V)) {
        throw new RangeError(`row ${r}, position ${l}: token id ${v} is ${Number.isInteger(v) ? `outside the vocabulary [0, ${V})` : 'not an integer'} (-1 pads)`);
      }
      if (padded) throw new RangeError(`row ${r}, position ${l}: a token after padding (Retort pads after the tokens)`);
    }
  }
}
