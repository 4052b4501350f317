// The `retort` command's program definition. Commands arrive with the engine issue;
// for now it reports what the compute core can run here.
import { Command, CommanderError } from 'commander';
import { hasSimd, loadCore, type BackendName } from '@retort/core-wasm';

export const VERSION = '0.1.0';

export interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
}

export function buildProgram(io: Io): Command {
  const program = new Command('retort')
    .description('Knowledge distillation in JavaScript: train a teacher, distill a student, on WebAssembly SIMD.')
    .version(VERSION)
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) });

  program
    .command('backends')
    .description('list the compute backends this runtime supports and check each one runs')
    .option('--json', 'print one JSON object instead of a table')
    .action(async (opts: { json?: boolean }) => {
      const rows: { backend: BackendName; available: boolean; check: string }[] = [];
      for (const backend of ['simd', 'scalar', 'js'] as const) {
        if (backend === 'simd' && !hasSimd()) {
          rows.push({ backend, available: false, check: 'engine lacks WebAssembly SIMD' });
          continue;
        }
        const core = await loadCore({ backend });
        // 2x2 identity times [[1,2],[3,4]]: a smoke test that the kernels run
        const c = core.matmul(new Float32Array([1, 0, 0, 1]), new Float32Array([1, 2, 3, 4]), 2, 2, 2);
        const ok = c.join(',') === '1,2,3,4';
        rows.push({ backend, available: true, check: ok ? 'ok' : `wrong result ${c.join(',')}` });
      }
      const auto = (await loadCore({ backend: 'auto' })).backend;
      if (opts.json) io.out(JSON.stringify({ auto, backends: rows }));
      else {
        for (const r of rows) io.out(`${r.backend.padEnd(7)} ${r.available ? 'yes' : 'no '}  ${r.check}`);
        io.out(`auto -> ${auto}`);
      }
      if (rows.some((r) => r.available && r.check !== 'ok')) process.exitCode = 1;
    });

  return program;
}

/** Runs the CLI; returns the exit code instead of exiting, so tests can call it. */
export async function run(argv: string[], io: Io): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    io.err(`retort: ${(e as Error).message}`);
    return 1;
  }
}
