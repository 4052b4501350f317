// The one error a bad model file raises, whichever decoder reads it (the float model file of
// @retort/distill, the int8 file here): it names the file, then the problem, on one line.
// It lives here, with no dependencies, so that the inference entry can throw the same class
// that @retort/distill re-exports.

export class ModelFormatError extends Error {
  override readonly name = 'ModelFormatError';
  constructor(readonly file: string, readonly problem: string) {
    super(`${file}: ${problem}`);
  }
}
