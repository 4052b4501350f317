import { describe, expect, it } from 'vitest';
import { loadCore } from '@retort/core-wasm';
import { accuracy } from '../src/index.js';

describe.each(['simd', 'scalar', 'js'] as const)('accuracy on %s', (backend) => {
  it('counts rows whose argmax equals the label', async () => {
    const core = await loadCore({ backend });
    // 4 rows x 3 classes; argmaxes are 2, 0, 1, 1
    const logits = new Float32Array([0, 1, 5, 9, -1, 3, 0.5, 0.7, 0.1, -3, -2, -2.5]);
    const r = accuracy(core, logits, [2, 0, 0, 1], 4, 3);
    expect(r).toEqual({ correct: 3, total: 4, accuracy: 0.75, errors: 1 });
    expect(core.bytesInUse).toBe(0);
  });

  it('rejects mismatched shapes', async () => {
    const core = await loadCore({ backend });
    expect(() => accuracy(core, new Float32Array(5), [0, 1], 2, 3)).toThrow(/logits has 5 elements/);
    expect(() => accuracy(core, new Float32Array(6), [0], 2, 3)).toThrow(/labels has 1 elements/);
  });
});
