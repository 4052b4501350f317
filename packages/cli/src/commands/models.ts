// `retort models`: the named architectures (presets), with their parameter counts, input
// shapes and taps for a given input and class count (MNIST's by default).
import { compileSpec, isLmPreset, isTextPreset, parseModelSpec, PRESET_INFO, PRESET_NAMES, shapeText } from '@retort/distill';
import type { Io } from '../program.js';

export interface ModelsFlags { json?: boolean; input?: string; classes?: number; width?: number; length?: number; vocab?: number }

export function modelsCommand(flags: ModelsFlags, io: Io): number {
  const input = flags.input ?? '28x28x1';
  const classes = flags.classes ?? 10;
  const width = flags.width ?? 1;
  const length = flags.length ?? 128, vocab = flags.vocab ?? 4096;
  const rows = PRESET_NAMES.map((name) => {
    // a language model reads characters: its rows use a 256-symbol vocabulary unless --vocab says otherwise
    const shape = isTextPreset(name) ? `${length},vocab=${isLmPreset(name) ? flags.vocab ?? 256 : vocab}` : input;
    const text = `${name}:input=${shape},classes=${classes}${width !== 1 ? `,width=${width}` : ''}`;
    const spec = parseModelSpec(text, '--input');
    const g = compileSpec(spec);
    return {
      name, summary: PRESET_INFO[name].summary, spec: text, input: [...g.inputShape], classes: g.classes, width,
      params: g.paramCount, state: g.stateCount, macs: g.macs,
      taps: [...g.taps].map(([tap, i]) => ({ name: tap, shape: [...g.nodes[i]!.outShape] })),
      layers: g.nodes.length,
    };
  });
  if (flags.json) {
    io.out(JSON.stringify(rows));
    return 0;
  }
  io.out(`Presets for ${classes} classes${width !== 1 ? `, width ${width}` : ''}: image presets for input ${input}, text presets for ${length} tokens of a ${vocab}-token vocabulary (language models: ${flags.vocab ?? 256} characters)`);
  io.out('(--model NAME, NAME:width=W, NAME:input=HxWxC,classes=N; text: NAME:layers=N,dim=D,heads=H; a text model takes its length and vocabulary from the data):');
  io.out('');
  for (const r of rows) {
    io.out(`${r.name.padEnd(15)} ${r.params.toLocaleString('en-US').padStart(9)} parameters  ${(r.macs / 1e6).toFixed(2).padStart(7)} M multiply-adds per sample  input ${shapeText(r.input)}`);
    io.out(`${' '.repeat(16)}${r.summary}`);
    io.out(`${' '.repeat(16)}taps: ${r.taps.map((t) => `${t.name} ${shapeText(t.shape)}`).join(', ')}`);
    io.out('');
  }
  io.out('Any model is also a JSON graph of layers (dense, conv2d, depthwiseConv2d, maxPool2d, avgPool2d,');
  io.out('globalAvgPool, batchNorm, layerNorm, relu, gelu, dropout, flatten, residual; text: embedding, attention,');
  io.out('sequencePool) or an MLP (mlp:784-800-800-10);');
  io.out('see the README, "Models".');
  return 0;
}
