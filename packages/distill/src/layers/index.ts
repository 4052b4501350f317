// The layer of each node type.
import type { GraphNode } from '../model/graph.js';
import { Add, Dropout, Flatten, Gelu, Relu } from './activation.js';
import { Conv1d, Conv2d } from './conv2d.js';
import { Dense } from './dense.js';
import type { Layer } from './layer.js';
import { BatchNorm, LayerNorm } from './norm.js';
import { GlobalAvgPool, Pool2d } from './pool.js';
import { Embedding, SequencePool } from './sequence.js';
import { Attention } from './attention.js';

export function layerFor(node: GraphNode): Layer {
  switch (node.spec.type) {
    case 'dense': return new Dense(node);
    case 'conv2d': case 'depthwiseConv2d': return new Conv2d(node);
    case 'maxPool2d': case 'avgPool2d': return new Pool2d(node);
    case 'globalAvgPool': return new GlobalAvgPool(node);
    case 'batchNorm': return new BatchNorm(node);
    case 'layerNorm': return new LayerNorm(node);
    case 'relu': return new Relu(node);
    case 'gelu': return new Gelu(node);
    case 'dropout': return new Dropout(node);
    case 'flatten': return new Flatten(node);
    case 'add': return new Add(node);
    case 'embedding': return new Embedding(node);
    case 'sequencePool': return new SequencePool(node);
    case 'attention': return new Attention(node);
    case 'conv1d': return new Conv1d(node);
  }
}

export { Layer, type Step, type Planner } from './layer.js';
export { Dense } from './dense.js';
