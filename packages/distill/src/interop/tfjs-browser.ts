// TF.js LayersModels from a URL or from files the user picked (<input type="file" multiple>,
// drag and drop): the browser side of teacher import. Platform-neutral (fetch, Blob): it also
// runs in Node 20. model.json is parsed and checked first; each shard it lists is then fetched
// or read (shard names must be plain relative paths: no URLs, no '..'), and the sizes are
// checked against the manifest before tfjs sees anything (tfjsArtifacts).
import type * as tf from '@tensorflow/tfjs-core';
import { DataFormatError } from '../data/errors.js';
import { Fnv1a64 } from '../data/hash.js';
import {
  buildTfjsModel, disposeTfjsModel, memoryShards, parseTfjsModelJson, tfjsArtifacts, TfjsTeacher, TFJS_MAX_MODEL_JSON_BYTES, TFJS_MAX_WEIGHT_BYTES,
  type TeacherInput, type TfjsModelJson,
} from './tfjs-layers.js';

export interface TfjsBrowserArtifacts { artifacts: tf.io.ModelArtifacts; modelJson: TfjsModelJson; fingerprint: string; file: string }

/** Something with a name and bytes: a File, or { name, bytes } in tests. */
export type NamedBlob = { name: string; arrayBuffer(): Promise<ArrayBuffer>; size: number } | { name: string; bytes: Uint8Array };

// (a Blob may have a bytes() method of its own: test for the array, not the key)
const isRaw = (f: NamedBlob): f is { name: string; bytes: Uint8Array } => (f as { bytes?: unknown }).bytes instanceof Uint8Array;
async function bytesOf(f: NamedBlob): Promise<Uint8Array> {
  return isRaw(f) ? f.bytes : new Uint8Array(await (f as { arrayBuffer(): Promise<ArrayBuffer> }).arrayBuffer());
}
const sizeOf = (f: NamedBlob): number => (isRaw(f) ? f.bytes.length : (f as { size: number }).size);

function shardNames(json: TfjsModelJson): string[] {
  return [...new Set(json.groups.flatMap((g) => g.paths))];
}

function assemble(json: TfjsModelJson, modelBytes: Uint8Array, shards: Map<string, Uint8Array>, file: string): TfjsBrowserArtifacts {
  const { artifacts, raw } = tfjsArtifacts(json, memoryShards(shards), file);
  const h = new Fnv1a64().updateString('retort-tfjs-v1\n').update(modelBytes);
  for (const group of raw) h.update(group);
  return { artifacts, modelJson: json, fingerprint: h.digest(), file };
}

/**
 * A LayersModel from picked files: one named model.json (or the only .json) and the shards it
 * lists, matched by base name. Missing or mis-sized shards are named before anything is built.
 */
export async function tfjsArtifactsFromFiles(files: Iterable<NamedBlob> | ArrayLike<NamedBlob>): Promise<TfjsBrowserArtifacts> {
  const list = Array.from(files as ArrayLike<NamedBlob>);
  const jsons = list.filter((f) => /\.json$/i.test(f.name));
  const model = jsons.find((f) => f.name === 'model.json') ?? (jsons.length === 1 ? jsons[0] : undefined);
  if (!model) throw new DataFormatError('model.json', jsons.length ? `several .json files were picked (${jsons.map((f) => f.name).join(', ')}); pick one model.json` : 'no model.json among the picked files');
  if (sizeOf(model) > TFJS_MAX_MODEL_JSON_BYTES) throw new DataFormatError(model.name, `${sizeOf(model)} bytes is larger than the ${TFJS_MAX_MODEL_JSON_BYTES}-byte limit for model.json`);
  const modelBytes = await bytesOf(model);
  const json = parseTfjsModelJson(modelBytes, model.name);
  const byName = new Map(list.map((f) => [f.name, f]));
  const shards = new Map<string, Uint8Array>();
  let total = 0;
  for (const p of shardNames(json)) {
    const base = p.slice(p.lastIndexOf('/') + 1);
    const f = byName.get(p) ?? byName.get(base);
    if (!f) throw new DataFormatError(base, `weight shard not picked (${model.name} lists it; pick it together with ${model.name})`);
    total += sizeOf(f);
    if (total > TFJS_MAX_WEIGHT_BYTES) throw new DataFormatError(model.name, `its shards add up to more than the ${TFJS_MAX_WEIGHT_BYTES}-byte limit`);
    shards.set(p, await bytesOf(f));
  }
  return assemble(json, modelBytes, shards, model.name);
}

/**
 * A LayersModel from a URL of its model.json; shards are fetched relative to it. `fetchImpl`
 * defaults to the global fetch.
 */
export async function tfjsArtifactsFromUrl(url: string | URL, fetchImpl: typeof fetch = fetch): Promise<TfjsBrowserArtifacts> {
  const modelUrl = new URL(url);
  const label = modelUrl.pathname.slice(modelUrl.pathname.lastIndexOf('/') + 1) || 'model.json';
  const get = async (u: URL, what: string, limit: number): Promise<Uint8Array> => {
    let res: Response;
    try { res = await fetchImpl(u); } catch (e) { throw new DataFormatError(what, `could not be fetched from ${u.href} (${(e as Error).message})`); }
    if (!res.ok) throw new DataFormatError(what, `could not be fetched from ${u.href} (HTTP ${res.status})`);
    const declared = Number(res.headers.get('content-length') ?? NaN);
    if (declared > limit) throw new DataFormatError(what, `${declared} bytes is larger than the ${limit}-byte limit`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (bytes.length > limit) throw new DataFormatError(what, `${bytes.length} bytes is larger than the ${limit}-byte limit`);
    return bytes;
  };
  const modelBytes = await get(modelUrl, label, TFJS_MAX_MODEL_JSON_BYTES);
  const json = parseTfjsModelJson(modelBytes, label);
  const shards = new Map<string, Uint8Array>();
  let total = 0;
  for (const p of shardNames(json)) {
    const bytes = await get(new URL(p, modelUrl), p, TFJS_MAX_WEIGHT_BYTES - total);
    total += bytes.length;
    shards.set(p, bytes);
  }
  return assemble(json, modelBytes, shards, label);
}

/** A teacher (any architecture tfjs runs) from loaded artifacts; call tf.setBackend first. */
export async function tfjsTeacherFromArtifacts(a: TfjsBrowserArtifacts, input: TeacherInput = {}): Promise<TfjsTeacher> {
  const model = await buildTfjsModel(a.artifacts, a.file);
  try {
    return new TfjsTeacher(model, input, a.fingerprint);
  } catch (e) {
    disposeTfjsModel(model);
    throw e;
  }
}
