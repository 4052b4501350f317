// A run killed with SIGKILL and resumed ends with the same bits as the same run left
// alone: checkpoints are atomic and everything random derives from (seed, epoch).
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const distillNode = import.meta.resolve('@retort/distill/node');

// dropout and jitter on, so the PRNG streams matter; a partial last batch, a validation split
const MLP = {
  model: { type: 'mlp', sizes: [784, 96, 10], dropout: { input: 0.1, hidden: 0.3 }, maxNorm: 3 },
  epochs: 4, batchSize: 64, trainSize: 3000, validation: 500, testSize: 500, jitter: 1, seed: 7,
  optimizer: { type: 'adamw', lr: 2e-3 }, schedule: { type: 'cosine', warmupSteps: 10 },
};
// a convolutional net with batch norm (running statistics travel in the checkpoint), a residual
// add, pooling and dropout
const CNN = {
  model: { type: 'graph', layers: [
    { type: 'conv2d', filters: 6, kernel: 3, stride: 2 }, { type: 'batchNorm' }, { type: 'relu', name: 'stem' },
    { type: 'residual', body: [{ type: 'conv2d', filters: 6, kernel: 3, bias: false }, { type: 'batchNorm' }] }, { type: 'relu' },
    { type: 'maxPool2d', size: 2 }, { type: 'flatten' }, { type: 'dropout', rate: 0.2 }, { type: 'dense', units: 10 },
  ] },
  epochs: 4, batchSize: 64, trainSize: 1500, validation: 300, testSize: 300, jitter: 1, seed: 3,
  optimizer: { type: 'adamw', lr: 2e-3 }, schedule: { type: 'cosine', warmupSteps: 5 },
};

// a Transformer on a small JSONL corpus: the tokenizer is trained again on resume (from the same
// training split, so the same ids), attention, embeddings and layer norm
const TEXT_DIR = mkdtempSync(join(tmpdir(), 'retort-resume-text-'));
afterAll(() => rmSync(TEXT_DIR, { recursive: true, force: true }));
writeFileSync(join(TEXT_DIR, 'corpus.jsonl'), `${Array.from({ length: 240 }, (_, i) => JSON.stringify({
  text: `${['red', 'green', 'blue'][i % 3]} ${['sky', 'grass', 'sea', 'rose'][(i * 7) % 4]} number ${i} ${['warm', 'cold'][i % 2]}`, label: i % 3,
})).join('\n')}\n`);
const TEXT = {
  data: join(TEXT_DIR, 'corpus.jsonl'), model: 'transformer-s:layers=1,dim=16,heads=2', maxLength: 12, vocabSize: 300,
  epochs: 4, batchSize: 16, validation: 40, seed: 5, optimizer: { type: 'adamw', lr: 3e-3 }, schedule: { type: 'cosine', warmupSteps: 5 },
};

function childScript(dir: string, CONFIG: object): string {
  const path = join(dir, 'child.mjs');
  writeFileSync(path, `
import { runJob } from ${JSON.stringify(distillNode)};
const [out, resume] = process.argv.slice(2);
await runJob('train', resume ? undefined : ${JSON.stringify(CONFIG)}, {
  out, resume: resume === 'resume', backend: 'simd',
  onEvent: (e) => { if (e.type === 'epoch') process.stdout.write('epoch ' + e.metrics.epoch + '\\n'); },
});
process.stdout.write('done\\n');
`);
  return path;
}

function modelParams(runDir: string): Buffer {
  // the model file's bytes: header (spec, tensor table, meta with test metrics) and payload
  return readFileSync(join(runDir, 'model.retort'));
}

function epochLines(runDir: string): unknown[] {
  return readFileSync(join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => {
    const { seconds: _s, samplesPerSec: _r, ...rest } = JSON.parse(l) as Record<string, unknown>;
    return rest;
  });
}

describe.each([['an MLP', MLP], ['a CNN with batch norm', CNN], ['a Transformer on text', TEXT]] as const)('resume after SIGKILL (%s)', (_what, config) => {
  it('gives bit-identical final weights and the same metrics', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'retort-resume-'));
    try {
      const script = childScript(dir, config);
      const alone = join(dir, 'alone');
      const r = spawnSync(process.execPath, [script, alone], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);

      const killed = join(dir, 'killed');
      const child = spawn(process.execPath, [script, killed], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      const exit = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        // the first checkpoint is on disk: kill the run in the middle of epoch 2
        if (out.includes('epoch 1\n') && child.exitCode === null) child.kill('SIGKILL');
      });
      expect(await exit).toBe('SIGKILL');
      expect(out).not.toContain('done');
      expect(() => readFileSync(join(killed, 'model.retort'))).toThrow();

      const resumed = spawnSync(process.execPath, [script, killed, 'resume'], { encoding: 'utf8' });
      expect(resumed.status, resumed.stderr).toBe(0);
      expect(resumed.stdout).not.toContain('epoch 1\n');
      expect(resumed.stdout).toContain('epoch 4\n');

      expect(modelParams(killed).equals(modelParams(alone))).toBe(true);
      expect(epochLines(killed)).toEqual(epochLines(alone));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
