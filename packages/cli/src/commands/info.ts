// `retort info FILE`: what a file holds, detected by its magic bytes (not its extension):
// a Retort model or checkpoint, an IDX file or a .npy file.
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { formatModelSpec, paramCount } from '@retort/distill';
import { readIdxFile, readModelFile, readNpyFile } from '@retort/distill/node';
import type { Io } from '../program.js';

const RETORT_MAGIC = [0x52, 0x45, 0x54, 0x4f, 0x52, 0x54, 0x00, 0x1a];
const NPY_MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];

type Info = Record<string, unknown> & { kind: string };

export function infoCommand(file: string, flags: { json?: boolean }, io: Io): number {
  const path = resolve(file);
  const head = readHead(file, path);
  const info = describe(file, path, head);
  if (flags.json) io.out(JSON.stringify(info));
  else for (const line of infoLines(info)) io.out(line);
  return 0;
}

function readHead(file: string, path: string): Uint8Array {
  let fd: number;
  try {
    if (!statSync(path).isFile()) throw new RangeError(`${file}: not a regular file`);
    fd = openSync(path, 'r');
  } catch (e) {
    if (e instanceof RangeError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new RangeError(`${file}: ${code === 'ENOENT' ? 'no such file' : `cannot open (${code ?? (e as Error).message})`}`);
  }
  try {
    const head = new Uint8Array(8);
    const n = readSync(fd, head, 0, 8, 0);
    return head.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

const startsWith = (head: Uint8Array, magic: number[]): boolean => head.length >= magic.length && magic.every((b, i) => head[i] === b);

function describe(file: string, path: string, head: Uint8Array): Info {
  const bytes = statSync(path).size;
  if (startsWith(head, RETORT_MAGIC)) {
    const m = readModelFile(path);
    const checkpoint = m.meta.kind === 'checkpoint';
    return {
      kind: checkpoint ? 'retort-checkpoint' : 'retort-model', file: path, bytes, version: m.version,
      spec: m.spec, shortSpec: formatModelSpec(m.spec), params: paramCount(m.spec),
      tensors: Object.entries(m.tensors).map(([name, t]) => ({ name, shape: t.shape, values: t.data.length })),
      meta: checkpoint ? { ...m.meta, history: `${Array.isArray(m.meta.history) ? m.meta.history.length : 0} epochs` } : m.meta,
    };
  }
  if (startsWith(head, NPY_MAGIC)) {
    const a = readNpyFile(path);
    return { kind: 'npy', file: path, bytes, dtype: a.dtype, shape: a.shape, ...(a.dtype === 'f4' || a.dtype === 'f8' ? floatStats(a.data) : intRange(a.data)) };
  }
  if (head.length >= 4 && head[0] === 0 && head[1] === 0) {
    const a = readIdxFile(path);
    return { kind: 'idx', file: path, bytes, type: a.type, dims: a.dims, ...(a.type === 'f32' || a.type === 'f64' ? floatStats(a.data) : intRange(a.data)) };
  }
  if (head[0] === 0x1f && head[1] === 0x8b) throw new RangeError(`${file}: gzip-compressed; decompress it first (gunzip)`);
  const hex = [...head.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  throw new RangeError(`${file}: not a Retort model, IDX or .npy file (magic bytes ${hex || 'none: empty file'})`);
}

function floatStats(data: ArrayLike<number>): Record<string, number | null> {
  let min = Infinity, max = -Infinity, nan = 0, inf = 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (Number.isNaN(v)) nan++;
    else {
      if (!Number.isFinite(v)) inf++;
      if (v < min) min = v;
      if (v > max) max = v;
    }
  }
  // min/max over the non-NaN values (null when there are none)
  return { min: min === Infinity ? null : min, max: max === -Infinity ? null : max, nanCount: nan, infCount: inf };
}

function intRange(data: ArrayLike<number>): Record<string, number | null> {
  let min = Infinity, max = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return data.length > 0 ? { min, max } : { min: null, max: null };
}

function infoLines(info: Info): string[] {
  const lines = [`file: ${String(info.file)} (${Number(info.bytes).toLocaleString('en-US')} bytes)`];
  switch (info.kind) {
    case 'retort-model':
    case 'retort-checkpoint': {
      lines.push(`type: Retort ${info.kind === 'retort-checkpoint' ? 'checkpoint' : 'model'}, format version ${String(info.version)}`);
      lines.push(`spec: ${String(info.shortSpec)}  ${JSON.stringify(info.spec)}`);
      lines.push(`parameters: ${Number(info.params).toLocaleString('en-US')}`);
      lines.push('tensors:');
      for (const t of info.tensors as { name: string; shape: number[]; values: number }[]) {
        lines.push(`  ${t.name.padEnd(20)} [${t.shape.join(', ')}]`.padEnd(44) + ` ${t.values.toLocaleString('en-US')} values`);
      }
      lines.push(`meta: ${JSON.stringify(info.meta)}`);
      break;
    }
    case 'npy':
      lines.push(`type: .npy array, dtype ${String(info.dtype)}, shape [${(info.shape as number[]).join(', ')}]`);
      lines.push(rangeLine(info));
      break;
    default:
      lines.push(`type: IDX file, element type ${String(info.type)}, dims ${(info.dims as number[]).join('x')}`);
      lines.push(rangeLine(info));
  }
  return lines;
}

function rangeLine(info: Info): string {
  const r = `min ${String(info.min)}, max ${String(info.max)}`;
  return 'nanCount' in info ? `${r}, NaN ${String(info.nanCount)}, Inf ${String(info.infCount)}` : r;
}
