import { describe, expect, it } from 'vitest';
import { SpecError, formatModelSpec, paramCount, paramLayout, parseModelSpec } from '../../src/model/spec.js';

describe('parseModelSpec', () => {
  it('accepts an object, JSON text and the short form', () => {
    const full = { type: 'mlp', sizes: [784, 1200, 1200, 10], dropout: { input: 0.2, hidden: 0.5 }, maxNorm: 3.5 };
    expect(parseModelSpec(full)).toEqual(full);
    expect(parseModelSpec(JSON.stringify(full))).toEqual(full);
    expect(parseModelSpec('mlp:784-1200-1200-10,dropout=0.2/0.5,maxnorm=3.5')).toEqual(full);
    expect(parseModelSpec(' mlp:784-800-800-10 ')).toEqual({ type: 'mlp', sizes: [784, 800, 800, 10] });
    expect(parseModelSpec('mlp:5-3,dropout=0.5')).toEqual({ type: 'mlp', sizes: [5, 3], dropout: { hidden: 0.5 } });
    expect(parseModelSpec('MLP:5-3,MaxNorm=2')).toEqual({ type: 'mlp', sizes: [5, 3], maxNorm: 2 });
  });

  it('formats the short form back', () => {
    const s = 'mlp:784-1200-1200-10,dropout=0.2/0.5,maxnorm=3.5';
    expect(formatModelSpec(parseModelSpec(s))).toBe(s);
    expect(formatModelSpec(parseModelSpec('mlp:4-2'))).toBe('mlp:4-2');
  });

  const bad: [input: string | object, message: string][] = [
    ['mlp:784-8x-10', 'model.sizes[1]: must be a positive integer'],
    ['mlp:784--10', 'model.sizes[1]: must be a positive integer'],
    ['{"type":"mlp","sizes":[3,4,0]}', 'model.sizes[2]: must be a positive integer'],
    [{ type: 'mlp', sizes: [3, 2.5] }, 'model.sizes[1]: must be a positive integer'],
    [{ type: 'mlp', sizes: [3] }, 'model.sizes: needs at least 2 entries (input and output sizes)'],
    [{ type: 'mlp', sizes: 'x' }, 'model.sizes: must be an array of layer sizes'],
    [{ type: 'mlp' }, 'model.sizes: must be an array of layer sizes'],
    [{ sizes: [3, 4] }, 'model.type: must be a model spec: an object with type mlp, graph or a preset'],
    [{ type: 'cnn', sizes: [3, 4] }, 'model.type: must be a model spec: an object with type mlp, graph or a preset'],
    [{ type: 'mlp', sizes: [3, 4], foo: 1 }, "model: unknown field 'foo'"],
    [{ type: 'mlp', sizes: [3, 4], dropout: { input: 1 } }, 'model.dropout.input: must be a number in [0, 1)'],
    [{ type: 'mlp', sizes: [3, 4], dropout: { hidden: -0.1 } }, 'model.dropout.hidden: must be a number in [0, 1)'],
    [{ type: 'mlp', sizes: [3, 4], dropout: { output: 0.1 } }, "model.dropout: unknown field 'output'"],
    [{ type: 'mlp', sizes: [3, 4], maxNorm: 0 }, 'model.maxNorm: must be a finite number > 0'],
    [{ type: 'mlp', sizes: [3, 4], maxNorm: Infinity }, 'model.maxNorm: must be a finite number > 0'],
    ['mlp:3-4,dropout=0.2/0.3/0.4', "model.dropout: expected dropout=HIDDEN or dropout=INPUT/HIDDEN, got '0.2/0.3/0.4'"],
    ['mlp:3-4,dropout=1.5', 'model.dropout.hidden: must be a number in [0, 1)'],
    ['mlp:3-4,maxnorm=abc', 'model.maxNorm: must be a finite number > 0'],
    ['mlp:3-4,foo=1', "model: unknown option 'foo' in the short form (expected dropout= or maxnorm=)"],
    ['{bad', 'model: invalid JSON'],
    ['cnn:3-4', 'model: expected a JSON spec or a short form such as mlp:784-800-800-10'],
    [{ type: 'mlp', sizes: [100000, 100000, 3] }, 'model.sizes: give 10000400003 parameters'],
  ];
  for (const [input, message] of bad) {
    it(`rejects ${JSON.stringify(input)}`, () => {
      let err: unknown;
      try { parseModelSpec(input); } catch (e) { err = e; }
      expect(err).toBeInstanceOf(SpecError);
      expect((err as Error).message.startsWith(message), (err as Error).message).toBe(true);
      expect((err as Error).message).not.toContain('\n');
    });
  }
});

describe('paramLayout', () => {
  it('lays out W (in, out) then b (out) per layer', () => {
    const spec = parseModelSpec('mlp:5-7-3');
    expect(paramLayout(spec)).toEqual([
      { inputs: 5, outputs: 7, weightOffset: 0, biasOffset: 35 },
      { inputs: 7, outputs: 3, weightOffset: 42, biasOffset: 63 },
    ]);
    expect(paramCount(spec)).toBe(66);
    expect(paramCount(parseModelSpec('mlp:784-1200-1200-10'))).toBe(784 * 1200 + 1200 + 1200 * 1200 + 1200 + 1200 * 10 + 10);
  });
});
