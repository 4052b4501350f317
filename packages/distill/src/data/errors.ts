// The one error the data layer throws for a bad file: it names the file, then the
// problem, on one line, so the CLI can print `err.message` as is.

export class DataFormatError extends Error {
  override readonly name = 'DataFormatError';

  constructor(
    /** The file at fault, as the caller named it (a path, or a label for in-memory bytes). */
    readonly file: string,
    /** What is wrong with it, without the file name. */
    readonly problem: string,
  ) {
    super(`${file}: ${problem}`);
  }
}

/** "60000x28x28" */
export function formatDims(dims: readonly number[]): string {
  return dims.length === 0 ? '()' : dims.join('x');
}
