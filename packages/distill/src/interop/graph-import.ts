// Recovering a Retort layer graph from another framework's dataflow graph (ONNX nodes, the
// layers of a TF.js model). An importer turns each node it understands into an op — one Retort
// layer, or the add of two values — whose tensors are already in Retort's layout (HWIO
// kernels, [in, out] dense weights); this file nests the adds back into residual blocks,
// checks that the result computes the same function (every op used exactly once), and lays the
// tensors out in the flat parameter and state buffers of the spec it builds
// (model/graph.ts compileGraph: body, then shortcut, then the add).
//
// Residual blocks: an add of values a and b forks at the nearest value both are computed from
// along the "trunk" (each op's first input, an add's fork for an add). The branch ending in a
// is the body and the one ending in b the shortcut (swapped when a is the fork itself, so that
// an identity shortcut is the empty one). A graph whose branches share an op, or whose add
// reads from inside another block, uses some op twice in this reconstruction and is refused.

import { compileGraph, shapeText, windowGeometry, type CompiledGraph, type GraphNode, type NodeSpec, type Shape } from '../model/graph.js';
import { pairOf, type GraphSpec, type LayerSpec } from '../model/layer-spec.js';
import { parseModelSpec, SpecError, type MlpSpec } from '../model/spec.js';

/** One node of the imported graph as a Retort layer (or an add). */
export interface ImportOp {
  readonly layer: NodeSpec;
  /** Ops read (-1 = the model input); two for an add, one otherwise; all earlier than this op. */
  readonly inputs: readonly number[];
  /** The layer's tensors by kind (w, b, gamma, beta, running_mean, running_var), in Retort's layout. */
  readonly tensors: ReadonlyMap<string, Float32Array>;
  /** How messages name the node it came from: "node 'conv1' (Conv)". */
  readonly label: string;
}

export interface BuiltGraph {
  spec: GraphSpec;
  graph: CompiledGraph;
  params: Float32Array;
  state: Float32Array;
}

/** Deepest nesting of residual blocks accepted (real networks nest one or two deep). */
const MAX_NESTING = 64;

/**
 * The graph spec, flat params and state of `ops` computing op `output` from an input of shape
 * `input`. Every problem is a `fail` naming the node at fault.
 */
export function buildGraph(ops: readonly ImportOp[], output: number, input: Shape, fail: (problem: string) => never): BuiltGraph {
  // the trunk predecessor of each op; forks computed in op order (inputs come first)
  const pred = new Int32Array(ops.length);
  const chain = new Set<number>();
  ops.forEach((op, i) => {
    if (op.inputs.some((j) => j >= i || j < -1)) throw new Error(`buildGraph: ${op.label} reads an op that comes after it`);
    if (op.layer.type !== 'add') { pred[i] = op.inputs[0]!; return; }
    const [a, b] = op.inputs as [number, number];
    chain.clear();
    for (let v = a; ; v = pred[v]!) { chain.add(v); if (v < 0) break; }
    let f = b;
    while (!chain.has(f)) f = pred[f]!;
    pred[i] = f;
  });

  const used = new Uint8Array(ops.length);
  const order: number[] = [];
  const sequence = (end: number, stop: number, depth: number): LayerSpec[] => {
    if (depth > MAX_NESTING) fail(`${ops[end]!.label}: residual blocks nest more than ${MAX_NESTING} deep`);
    const steps: number[] = [];
    for (let v = end; v !== stop; v = pred[v]!) steps.push(v);
    steps.reverse();
    const layers: LayerSpec[] = [];
    for (const i of steps) {
      const op = ops[i]!;
      if (used[i]) {
        fail(`${op.label}: its output feeds two branches in a way Retort cannot express (a residual block is a body and a shortcut from one value, joined by one add)`);
      }
      used[i] = 1;
      if (op.layer.type !== 'add') {
        layers.push(op.layer);
        order.push(i);
        continue;
      }
      const fork = pred[i]!;
      let [a, b] = op.inputs as [number, number];
      if (a === fork) [a, b] = [b, a];
      if (a === fork) fail(`${op.label}: adds a value to itself, which Retort's residual blocks cannot express`);
      const body = sequence(a, fork, depth + 1);
      const shortcut = b === fork ? [] : sequence(b, fork, depth + 1);
      layers.push({ type: 'residual', body, shortcut });
      order.push(i);
    }
    return layers;
  };
  const layers = sequence(output, -1, 0);
  const unused = ops.findIndex((_, i) => !used[i]);
  if (unused >= 0) fail(`${ops[unused]!.label}: its output does not lead to the model's output`);
  if (layers.length === 0) fail('the graph computes its output without any layer');

  let spec: GraphSpec;
  let graph: CompiledGraph;
  try {
    spec = parseModelSpec({ type: 'graph', input: [...input], layers }) as GraphSpec;
    graph = compileGraph(spec);
  } catch (e) {
    if (e instanceof SpecError) return fail(`the graph is not a valid Retort model (${e.message})`);
    throw e;
  }
  if (graph.nodes.length !== order.length) throw new Error('buildGraph: the compiled graph does not follow the ops');
  const params = new Float32Array(graph.paramCount);
  const state = new Float32Array(graph.stateCount);
  graph.nodes.forEach((node, k) => {
    const op = ops[order[k]!]!;
    const place = (decls: GraphNode['params'], into: Float32Array): void => {
      for (const d of decls) {
        const kind = d.name.slice(node.name.length + 1);
        const t = op.tensors.get(kind);
        if (!t || t.length !== d.length) fail(`${op.label}: its ${kind} holds ${t?.length ?? 0} values but the layer needs ${d.length} ([${d.shape.join(', ')}])`);
        into.set(t, d.offset);
      }
    };
    place(node.params, params);
    place(node.state, state);
  });
  return { spec, graph, params, state };
}

/**
 * The same model as an MLP spec when the graph is one — flat input, dense layers with a ReLU
 * between each two (flattens of flat features skipped) — with a zero bias where a dense layer
 * had none; null otherwise.
 */
export function asMlpImport(built: BuiltGraph): { spec: MlpSpec; params: Float32Array } | null {
  const g = built.graph;
  if (g.inputShape.length !== 1) return null;
  const steps = g.nodes.filter((n) => n.spec.type !== 'flatten');
  const dense: GraphNode[] = [];
  for (const [k, n] of steps.entries()) {
    if (n.spec.type !== (k % 2 === 0 ? 'dense' : 'relu')) return null;
    if (n.spec.type === 'dense') dense.push(n);
  }
  if (steps.length % 2 !== 1) return null;
  const sizes = [g.inputShape[0]!, ...dense.map((n) => n.outShape[0]!)];
  let spec: MlpSpec;
  try {
    spec = parseModelSpec({ type: 'mlp', sizes }) as MlpSpec;
  } catch (e) {
    if (e instanceof SpecError) return null;
    throw e;
  }
  const params = new Float32Array(sizes.reduce((s, n, i) => (i === 0 ? 0 : s + sizes[i - 1]! * n + n), 0));
  let at = 0;
  for (const n of dense) {
    const w = n.params[0]!, b = n.params[1];
    params.set(built.params.subarray(w.offset, w.offset + w.length), at);
    at += w.length;
    if (b) params.set(built.params.subarray(b.offset, b.offset + b.length), at);
    at += n.outShape[0]!;
  }
  return { spec, params };
}

/**
 * Where two compiled graphs compute different functions — a spec saved beside the weights
 * against the graph actually found — or null when they agree node for node (dropout, a
 * training-only layer, is skipped; names, initialisation, momentum and max-norm are not compared;
 * a depthwise convolution equals a convolution with one group per channel).
 */
export function graphDifference(saved: CompiledGraph, found: CompiledGraph): string | null {
  const a = signatures(saved), b = signatures(found);
  const n = Math.min(a.length, b.length);
  for (let k = 0; k < n; k++) {
    if (a[k]!.sig !== b[k]!.sig) return `at layer ${k + 1} the spec has ${a[k]!.text} but the graph computes ${b[k]!.text}`;
  }
  if (a.length !== b.length) return `the spec has ${a.length} layers but the graph computes ${b.length}`;
  return null;
}

function signatures(g: CompiledGraph): { sig: string; text: string }[] {
  const mapped = new Map<number, number>([[-1, -1]]);
  const out: { sig: string; text: string }[] = [];
  for (const n of g.nodes) {
    if (n.spec.type === 'dropout') { mapped.set(n.index, mapped.get(n.inputs[0]!)!); continue; }
    mapped.set(n.index, out.length);
    const s = n.spec;
    let type: string = s.type;
    let extra: unknown[] = [];
    switch (s.type) {
      case 'dense': extra = [s.units, s.bias]; break;
      case 'conv2d': case 'depthwiseConv2d': {
        type = 'conv2d';
        const k = pairOf(s.kernel), st = pairOf(s.stride), geo = windowGeometry(n.inShape, k, st, s.padding);
        extra = [k, st, geo.pt, geo.pl, s.type === 'depthwiseConv2d' ? n.inShape[2] : s.groups, n.outShape[2], s.bias];
        break;
      }
      case 'maxPool2d': case 'avgPool2d': {
        const k = pairOf(s.size), st = pairOf(s.stride ?? s.size), geo = windowGeometry(n.inShape, k, st, s.padding);
        extra = [k, st, geo.pt, geo.pl];
        break;
      }
      case 'batchNorm': case 'layerNorm': extra = [Math.fround(s.eps)]; break;
      default: break;
    }
    const sig = JSON.stringify([type, n.inShape, n.outShape, n.inputs.map((i) => mapped.get(i)), n.params.map((p) => p.shape), n.state.map((p) => p.shape), extra]);
    out.push({ sig, text: `${type} ${shapeText(n.inShape)} -> ${shapeText(n.outShape)}${extra.length ? ` (${JSON.stringify(extra).slice(1, -1)})` : ''}` });
  }
  return out;
}
