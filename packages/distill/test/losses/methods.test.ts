import { describe, expect, it } from 'vitest';
import { hintTeacherTap, methodLosses, transformerPairs, type MethodTap } from '../../src/losses/methods.js';

// The taps of lenet5:width=0.5 and resnet8 on MNIST (retort models)
const LENET: MethodTap[] = [
  { ref: 'conv1', shape: [14, 14, 3] }, { ref: 'conv2', shape: [5, 5, 8] }, { ref: 'fc1', shape: [60] }, { ref: 'fc2', shape: [42] },
];
const RESNET: MethodTap[] = [
  { ref: 'stem', shape: [28, 28, 16] }, { ref: 'res1', shape: [28, 28, 16] }, { ref: 'block1', shape: [28, 28, 16] },
  { ref: 'res2', shape: [14, 14, 32] }, { ref: 'block2', shape: [14, 14, 32] }, { ref: 'res3', shape: [7, 7, 64] },
  { ref: 'block3', shape: [7, 7, 64] }, { ref: 'pool', shape: [64] },
];

describe('FitNets default taps', () => {
  it('keep the middle of each where a regressor can map them', () => {
    expect(hintTeacherTap(LENET[0], RESNET)).toBe('res2'); // 14x14 <- 14x14
    expect(hintTeacherTap({ ref: 1, shape: [300] }, [{ ref: 1, shape: [1200] }, { ref: 2, shape: [1200] }])).toBe(1);
  });

  it('move the teacher tap to the nearest one that fits when the middle does not pool evenly', () => {
    // the student's 5x5 map: no teacher map divides it (28, 14, 7), the flat pool does
    expect(hintTeacherTap(LENET[1], RESNET)).toBe('pool');
    // a 7x7 student map: the middle, res2 (14x14), pools evenly to it
    expect(hintTeacherTap({ ref: 's', shape: [7, 7, 4] }, RESNET)).toBe('res2');
    expect(hintTeacherTap({ ref: 's', shape: [9, 9, 4] }, [{ ref: 'a', shape: [28, 28, 2] }, { ref: 'b', shape: [14, 14, 2] }, { ref: 'c', shape: [3, 3, 2] }])).toBe('c');
    // nothing fits: the middle, for the objective's check to name
    expect(hintTeacherTap({ ref: 's', shape: [5, 5, 4] }, [{ ref: 'a', shape: [28, 28, 2] }, { ref: 'b', shape: [14, 14, 2] }])).toBe('a');
  });

  it('the fitnets preset uses them', () => {
    const terms = methodLosses('fitnets', { alpha: 0.9, temperature: 4, scaleT2: true, epochs: 8, student: LENET, teacher: RESNET });
    expect(terms[0]).toMatchObject({ type: 'hint', studentLayer: 'conv2', teacherLayer: 'pool', untilEpoch: 2 });
  });
});

describe('Transformer methods (tinybert, minilm): layer maps and terms', () => {
  const seq = (n: number, d: number): readonly number[] => [n, d];
  // a 2-block student and a 4-block teacher as the presets tap them
  const taps = (blocks: number, d: number): MethodTap[] => [
    { ref: 'embed', shape: seq(16, d) },
    ...Array.from({ length: blocks }, (_, i) => [
      { ref: `attn${i + 1}`, shape: seq(16, d), attention: true },
      { ref: `block${i + 1}`, shape: seq(16, d) },
    ]).flat(),
    { ref: 'pool', shape: [d] },
  ];
  const ctx = { alpha: 0.9, temperature: 4, scaleT2: true, epochs: 3, student: taps(2, 32), teacher: taps(4, 64) };

  it('uniform maps student block m of M to teacher block m·N/M; last maps the last blocks', () => {
    expect(transformerPairs('tinybert', ctx.student, ctx.teacher, 'uniform').map(([s, t]) => [s.ref, t.ref])).toEqual([['attn1', 'attn2'], ['attn2', 'attn4']]);
    expect(transformerPairs('minilm', ctx.student, ctx.teacher, 'last').map(([s, t]) => [s.ref, t.ref])).toEqual([['attn2', 'attn4']]);
    // three student blocks of five teacher blocks: ceil(5/3) = 2, ceil(10/3) = 4, 5
    expect(transformerPairs('tinybert', taps(3, 8), taps(5, 8), 'uniform').map(([, t]) => t.ref)).toEqual(['attn2', 'attn4', 'attn5']);
    expect(() => transformerPairs('minilm', [{ ref: 'conv1', shape: [8, 8, 4] }], ctx.teacher, 'last')).toThrow(/method minilm: needs Transformer attention on both sides/);
  });

  it('tinybert: KD, attention scores (mse) and hidden states of each mapped block, and the embeddings; minilm: KD, attention (kl) and values of the last', () => {
    const tb = methodLosses('tinybert', ctx);
    expect(tb.map((t) => [t.type, (t as { loss?: string }).loss, (t as { studentLayer?: string }).studentLayer, (t as { teacherLayer?: string }).teacherLayer].filter((v) => v !== undefined))).toEqual([
      ['ce'], ['kd'], ['hint', 'embed', 'embed'], ['attn', 'mse', 'attn1', 'attn2'], ['hint', 'block1', 'block2'], ['attn', 'mse', 'attn2', 'attn4'], ['hint', 'block2', 'block4'],
    ]);
    const ml = methodLosses('minilm', { ...ctx, layerMap: 'uniform' });
    expect(ml.filter((t) => t.type === 'attn' || t.type === 'vr').map((t) => `${t.type}:${(t as { studentLayer: string }).studentLayer}->${(t as { teacherLayer: string }).teacherLayer}`))
      .toEqual(['attn:attn1->attn2', 'vr:attn1->attn2', 'attn:attn2->attn4', 'vr:attn2->attn4']);
    expect(methodLosses('minilm', ctx).filter((t) => t.type === 'vr')).toHaveLength(1);
  });
});
