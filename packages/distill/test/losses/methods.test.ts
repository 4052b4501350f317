import { describe, expect, it } from 'vitest';
import { hintTeacherTap, methodLosses, type MethodTap } from '../../src/losses/methods.js';

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
