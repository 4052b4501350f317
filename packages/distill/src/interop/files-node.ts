// Safetensors files and teacher logits on disk (Node only), without TensorFlow.js: reading
// exactly the bytes the pure parser (safetensors.ts) asks for, after it has checked every size,
// and writing atomically. The TF.js side is in node.ts (it loads tfjs).

import { basename } from 'node:path';
import { DataFormatError } from '../data/errors.js';
import { readExact, withFile } from '../data/files.js';
import { writeFileAtomic } from '../io/atomic.js';
import { readTeacherLogits } from '../node/teacher-logits.js';
import {
  decodeSafetensor, parseSafetensorsHeader, quoteName, safetensorsHeaderLength, selectEntries, writeSafetensors,
  type SafetensorsDType, type SafetensorsEntry, type SafetensorsFile, type SafetensorsInput, type SafetensorsReadOptions, type SafetensorsTensor,
} from './safetensors.js';

// ---- safetensors ---------------------------------------------------------------------------------

function readSafetensorsHeaderAt(fd: number, size: number, label: string) {
  const prefix = new Uint8Array(Math.min(8, size));
  readExact(label, fd, prefix, 0);
  const n = safetensorsHeaderLength(prefix, size, label);
  const json = new Uint8Array(n);
  readExact(label, fd, json, 8);
  return parseSafetensorsHeader(json, size - 8 - n, label);
}

function readEntry(fd: number, headerBytes: number, e: SafetensorsEntry, label: string): SafetensorsTensor {
  const bytes = new Uint8Array(e.end - e.begin);
  readExact(label, fd, bytes, headerBytes + e.begin);
  return { dtype: e.dtype as SafetensorsDType, shape: e.shape, data: decodeSafetensor(e, bytes, label) };
}

/**
 * Reads a .safetensors file: the header is validated against the file size before anything
 * else is read, then only the selected tensors' bytes are read. Errors name `path`.
 */
export function readSafetensorsFile(path: string, opts: SafetensorsReadOptions = {}): SafetensorsFile {
  return withFile(path, path, (fd, size) => {
    const header = readSafetensorsHeaderAt(fd, size, path);
    const tensors = Object.create(null) as Record<string, SafetensorsTensor>;
    for (const e of selectEntries(header, opts.tensors, path)) tensors[e.name] = readEntry(fd, header.headerBytes, e, path);
    return { tensors, metadata: header.metadata };
  });
}

/** Writes a .safetensors file atomically (e.g. teacher logits for another tool). */
export function writeSafetensorsFile(path: string, tensors: Record<string, SafetensorsInput>, metadata?: Record<string, string>): void {
  writeFileAtomic(path, writeSafetensors(tensors, metadata));
}

const NPY_MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];

/**
 * Teacher logits [count, classes] from a .npy (readTeacherLogits) or a .safetensors file: the
 * tensor named `tensor`, else the file's only tensor, else the one named 'logits'. It must be
 * 2-D, [count, classes], any float dtype (F16/BF16/F64 converted), every value finite
 * ("teacher logit [12, 3] is NaN"). Files with another extension are recognised by content.
 * Errors name the file by its base name.
 */
export function readTeacherLogitsFile(path: string, count: number, classes: number, opts: { tensor?: string } = {}): Float32Array {
  const name = basename(path);
  let kind: 'npy' | 'safetensors';
  if (/\.npy$/i.test(path)) kind = 'npy';
  else if (/\.safetensors$/i.test(path)) kind = 'safetensors';
  else {
    kind = withFile(path, name, (fd, size) => {
      const head = new Uint8Array(Math.min(6, size));
      readExact(name, fd, head, 0);
      return head.length === 6 && NPY_MAGIC.every((m, i) => head[i] === m) ? 'npy' : 'safetensors';
    });
  }
  if (kind === 'npy') {
    if (opts.tensor !== undefined) throw new DataFormatError(name, `a .npy file holds one array: the tensor name ${quoteName(opts.tensor)} does not apply`);
    return readTeacherLogits(path, count, classes);
  }
  return withFile(path, name, (fd, size) => {
    const header = readSafetensorsHeaderAt(fd, size, name);
    let entry: SafetensorsEntry | undefined;
    if (opts.tensor !== undefined) entry = selectEntries(header, [opts.tensor], name)[0];
    else if (header.entries.length === 1) entry = header.entries[0];
    else entry = header.entries.find((e) => e.name === 'logits');
    if (!entry) {
      const names = header.entries.map((e) => quoteName(e.name)).slice(0, 10).join(', ');
      throw new DataFormatError(name, header.entries.length === 0 ? 'holds no tensors' : `holds ${header.entries.length} tensors (${names}) and none is named 'logits': name the teacher logits with { tensor }`);
    }
    const what = `tensor ${quoteName(entry.name)}`;
    if (!['F32', 'F16', 'BF16', 'F64'].includes(entry.dtype)) throw new DataFormatError(name, `${what}: teacher logits must be F32, F16, BF16 or F64, got ${entry.dtype}`);
    if (entry.shape.length !== 2) throw new DataFormatError(name, `${what}: teacher logits must be 2-D [samples, classes], got shape [${entry.shape.join(', ')}]`);
    const [n, c] = entry.shape as [number, number];
    if (c !== classes) throw new DataFormatError(name, `${what}: teacher logits have ${c} classes but the student has ${classes}`);
    if (n !== count) throw new DataFormatError(name, `${what}: teacher logits cover ${n} samples but the transfer set has ${count}`);
    const data = readEntry(fd, header.headerBytes, entry, name).data;
    for (let i = 0; i < data.length; i++) {
      const v = data[i]!;
      if (!Number.isFinite(v)) throw new DataFormatError(name, `${what}: teacher logit [${Math.floor(i / c)}, ${i % c}] is ${v}`);
    }
    return data;
  });
}

