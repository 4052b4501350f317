// ONNX files on disk (Node only): export atomically, import with every size checked.
// The conversions themselves are in onnx.ts (bytes in, bytes out).

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { basename } from 'node:path';
import type { Core } from '@retort/core-wasm';
import { DataFormatError } from '../data/errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import type { Model } from '../model/model.js';
import { exportOnnx, importOnnx, MAX_ONNX_BYTES, onnxToModel, type OnnxExportOptions, type OnnxExportSource, type OnnxImport } from './onnx.js';
import { int64, ONNX_METADATA_KEYS, type onnx } from './onnx-format.js';
import { decodeModelProto } from './onnx-wire.js';

/** Writes `model` as an ONNX file at `path`, atomically (a reader sees the old file or the new one). */
export function exportOnnxFile(path: string, model: OnnxExportSource, opts: OnnxExportOptions = {}): void {
  writeFileAtomic(path, exportOnnx(model, opts));
}

/** Reads and converts an ONNX file; errors are DataFormatErrors naming the file by its base name. */
export function readOnnxFile(path: string): OnnxImport {
  const name = basename(path);
  return importOnnx(readBounded(path, name), name);
}

/** What a Retort text model's ONNX export declares (it does not import back: see onnx-import.ts), or null for any other ONNX file. */
export interface OnnxTextExportInfo { producer: string; opset: number; spec: string; layout: string; input: (number | string)[]; output: (number | string)[]; nodes: number; tokenizer: boolean }

export function readOnnxTextExportInfo(path: string): OnnxTextExportInfo | null {
  const name = basename(path);
  const m = decodeModelProto(readBounded(path, name), (p) => { throw new DataFormatError(name, p); });
  const meta = new Map((m.metadataProps ?? []).map((p) => [p.key ?? '', p.value ?? '']));
  const layout = meta.get(ONNX_METADATA_KEYS.layout) ?? '';
  if (!layout.startsWith('tokens')) return null;
  const dims = (v: onnx.IValueInfoProto | undefined): (number | string)[] =>
    (v?.type?.tensorType?.shape?.dim ?? []).map((d) => (d.dimParam ? d.dimParam : int64(d.dimValue) ?? '?'));
  return {
    producer: m.producerName ?? '', opset: int64(m.opsetImport?.[0]?.version) ?? 0, spec: meta.get(ONNX_METADATA_KEYS.spec) ?? '', layout,
    input: dims(m.graph?.input?.[0]), output: dims(m.graph?.output?.[0]), nodes: m.graph?.node?.length ?? 0, tokenizer: meta.has(ONNX_METADATA_KEYS.tokenizer),
  };
}

/** A Model from an ONNX file (see importOnnx for what is accepted: an Mlp for an MLP). The caller owns it (free()). */
export function importOnnxFile(core: Core, path: string): Model {
  const name = basename(path);
  return onnxToModel(core, readBounded(path, name), name);
}

/** The file's bytes; files over MAX_ONNX_BYTES are refused before reading. */
function readBounded(path: string, name: string): Uint8Array {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new DataFormatError(name, code === 'ENOENT' ? 'no such file' : `cannot open (${code ?? (e as Error).message})`);
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new DataFormatError(name, 'not a regular file');
    const size = stat.size;
    if (size > MAX_ONNX_BYTES) throw new DataFormatError(name, `${size} bytes is larger than the ${MAX_ONNX_BYTES}-byte limit for an ONNX model`);
    const bytes = new Uint8Array(size);
    for (let off = 0; off < size;) {
      const got = readSync(fd, bytes, off, size - off, off);
      if (got === 0) throw new DataFormatError(name, `the file shrank while being read (${off} of ${size} bytes)`);
      off += got;
    }
    return bytes;
  } finally {
    closeSync(fd);
  }
}
