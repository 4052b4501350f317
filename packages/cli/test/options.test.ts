import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../src/errors.js';
import { buildRunConfig, configArg, configOrAutoArg, defaultRunDir, intArg, numberArg, scheduleArg } from '../src/options.js';

describe('strict number flags', () => {
  it('accepts numbers within bounds', () => {
    expect(numberArg('--alpha', { min: 0, max: 1 })('0.25')).toBe(0.25);
    expect(numberArg('--lr', { min: 0 })('1e-3')).toBe(0.001);
    expect(intArg('--epochs', { min: 1 })('12')).toBe(12);
  });

  it.each([
    ['--alpha', 'abc'], ['--alpha', '1.5'], ['--alpha', '-0.1'], ['--alpha', ''], ['--alpha', '0x1'], ['--alpha', 'NaN'], ['--alpha', 'Infinity'],
  ])('%s %j is an error naming the flag', (flag, value) => {
    expect(() => numberArg(flag, { min: 0, max: 1 })(value)).toThrow(new RegExp(`^${flag}: expected a number in \\[0, 1\\], got '${value}'`));
  });

  it('rejects non-integers and out-of-range integers', () => {
    for (const v of ['2.5', '1e3', '-1', '0', 'ten', '']) expect(() => intArg('--epochs', { min: 1 })(v)).toThrow(UsageError);
    expect(() => numberArg('--temperature', { above: 0 })('0')).toThrow(/--temperature: expected a number > 0/);
  });

  it('run flags take their bounds and messages from the config schema, declared once', () => {
    expect(configArg('--epochs', 'epochs')('12')).toBe(12);
    expect(() => configArg('--epochs', 'epochs')('0')).toThrow(/^--epochs: must be a positive integer, got '0'$/);
    expect(() => configArg('--epochs', 'epochs')('2.5')).toThrow(/^--epochs: must be a positive integer, got '2.5'$/);
    expect(() => configArg('--batch-size', 'batchSize')('70000')).toThrow(/^--batch-size: must be at most 65536/);
    expect(() => configArg('--alpha', 'alpha')('1.5')).toThrow(/^--alpha: must be a number in \[0, 1\], got '1.5'$/);
    expect(() => configArg('--jitter', 'jitter')('ten')).toThrow(/^--jitter: must be a number, got 'ten'$/);
    expect(configOrAutoArg('--temperature', 'temperature')('auto')).toBe('auto');
    expect(configOrAutoArg('--temperature', 'temperature')('2.5')).toBe(2.5);
    expect(() => configOrAutoArg('--temperature', 'temperature')('0')).toThrow(/^--temperature: expected 'auto' or a number \(must be a number > 0\), got '0'$/);
  });

  it('parses schedules', () => {
    expect(scheduleArg('cosine')).toEqual({ type: 'cosine' });
    expect(scheduleArg('step:100:0.5')).toEqual({ type: 'step', every: 100, gamma: 0.5 });
    expect(() => scheduleArg('step')).toThrow(/step:EVERY:GAMMA/);
    expect(() => scheduleArg('step:100:2')).toThrow(/GAMMA/);
    expect(() => scheduleArg('linear')).toThrow(/--schedule/);
  });
});

describe('buildRunConfig', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'retort-options-'));

  it('maps flags onto RunConfig, with absolute paths', () => {
    const c = buildRunConfig('distill', { model: 'mlp:784-32-10', teacher: 't.retort', temperature: 20, alpha: 0.5, t2Scaling: false,
      epochs: 3, batchSize: 64, optimizer: 'sgd', momentum: 0.8, weightDecay: 1e-4, schedule: { type: 'constant' }, warmup: 10,
      validation: 100, trainSize: 1000, testSize: 200, jitter: 0, seed: 5 }, cwd);
    expect(c).toMatchObject({ data: 'mnist', model: { type: 'mlp', sizes: [784, 32, 10] }, teacher: join(cwd, 't.retort'),
      temperature: 20, alpha: 0.5, scaleT2: false, epochs: 3, batchSize: 64, seed: 5, validation: 100, trainSize: 1000, testSize: 200,
      optimizer: { type: 'sgd', lr: 0.1, momentum: 0.8, weightDecay: 1e-4 }, schedule: { type: 'constant', warmupSteps: 10 } });
  });

  it('lets flags override a config file, whose relative paths are relative to it', () => {
    const file = join(cwd, 'job.json');
    writeFileSync(file, JSON.stringify({ model: 'mlp:784-10', data: 'data', epochs: 7, optimizer: { type: 'adamw', lr: 0.01 }, teacherLogits: 'l.npy' }));
    const c = buildRunConfig('distill', { config: 'job.json', epochs: 2, lr: 0.002 }, cwd);
    expect(c).toMatchObject({ data: join(cwd, 'data'), epochs: 2, optimizer: { type: 'adamw', lr: 0.002 }, teacherLogits: join(cwd, 'l.npy') });
    // a --teacher flag replaces the file's teacherLogits rather than clashing with it
    expect(buildRunConfig('distill', { config: 'job.json', teacher: 'x.retort' }, cwd).teacherLogits).toBeUndefined();
  });

  it('names unknown and invalid config-file fields', () => {
    writeFileSync(join(cwd, 'bad.json'), JSON.stringify({ model: 'mlp:784-10', batchsize: 3 }));
    expect(() => buildRunConfig('train', { config: 'bad.json' }, cwd)).toThrow(/unknown field 'batchsize'/);
    writeFileSync(join(cwd, 'bad2.json'), JSON.stringify({ model: 'mlp:784-10', temperature: 0 }));
    expect(() => buildRunConfig('train', { config: 'bad2.json' }, cwd)).toThrow(/config\.temperature: must be a number > 0/);
    writeFileSync(join(cwd, 'bad3.json'), '{ not json');
    expect(() => buildRunConfig('train', { config: 'bad3.json' }, cwd)).toThrow(/not valid JSON/);
    expect(() => buildRunConfig('train', { config: 'none.json' }, cwd)).toThrow(/no such file/);
  });

  it('checks the teacher choice and the model', () => {
    expect(() => buildRunConfig('train', { epochs: 1 }, cwd)).toThrow(/--model: required/);
    expect(() => buildRunConfig('distill', { model: 'mlp:784-10' }, cwd)).toThrow(/needs a teacher/);
    expect(() => buildRunConfig('distill', { model: 'mlp:784-10', teacher: 'a', teacherLogits: 'b' }, cwd)).toThrow(/not both/);
    expect(() => buildRunConfig('distill', { model: 'mlp:784-10', teacherLogits: 'b', jitter: 2 }, cwd)).toThrow(/--jitter/);
    expect(() => buildRunConfig('distill', { model: 'mlp:784-10', teacherLogits: 'b', mixup: true }, cwd)).toThrow(/--mixup: precomputed --teacher-logits/);
    expect(buildRunConfig('train', { model: 'lenet5', mixup: true }, cwd).mixup).toBe(true);
    expect(buildRunConfig('train', { model: 'lenet5' }, cwd).mixup).toBe(false);
    expect(() => buildRunConfig('train', { model: 'mlp:784-10', momentum: 0.9 }, cwd)).toThrow(/--momentum: only applies to --optimizer sgd/);
    expect(() => buildRunConfig('train', { model: 'mlp:0-10' }, cwd)).toThrow(/^--model\.sizes\[0\]/);
  });

  it('names default run directories by command and time', () => {
    expect(defaultRunDir('distill', new Date(2026, 0, 2, 3, 4, 5))).toBe('runs/distill-20260102-030405');
  });
});
