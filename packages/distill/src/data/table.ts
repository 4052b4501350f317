// Tables and text into datasets: CSV with a header (csv-parse) as numeric features plus a label
// column, and text as JSONL or CSV with `text` and `label` fields. Labels are class numbers when
// every one is a non-negative integer, else names mapped to classes in sorted order (the mapping
// is returned, and a test file maps through its training file's). Every error names the file,
// the line and the column or field. Pure (text in), for Node and the lab alike.

import { parse } from 'csv-parse/browser/esm/sync'; // the self-contained build: the Node entry needs Buffer
import { makeDataset, type Dataset } from './dataset.js';
import { DataFormatError } from './errors.js';

/** The label column or field read when none is named. */
export const DEFAULT_LABEL_COLUMN = 'label';
/** The text column or field of a text dataset. */
export const DEFAULT_TEXT_COLUMN = 'text';

export interface TableOptions {
  /** The label column (default 'label'). */
  labelColumn?: string;
  /** A test file's classes: its training file's names (null when those were class numbers). */
  classNames?: readonly string[] | null;
  /** Dataset name. */
  name?: string;
}

/** Rows of strings from CSV text: the header, then each record with its line number. */
export interface CsvTable {
  header: string[];
  rows: { line: number; fields: string[] }[];
}

/** Parses CSV text with a header; a row with the wrong number of fields names its line. */
export function parseCsv(text: string, file: string): CsvTable {
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parse(text, { bom: true, skip_empty_lines: true, info: true, relax_column_count: false }) as unknown as typeof records;
  } catch (e) {
    const err = e as { code?: string; lines?: number; message?: string };
    const where = err.lines !== undefined ? `:${err.lines}` : '';
    const what = err.code === 'CSV_RECORD_INCONSISTENT_FIELDS_LENGTH'
      ? 'wrong number of fields: ' + (err.message ?? '').replace(/^Invalid Record Length: /, '')
      : err.message ?? String(e);
    throw new DataFormatError(`${file}${where}`, `CSV does not parse: ${what}`);
  }
  if (records.length === 0) throw new DataFormatError(file, 'empty: a CSV needs a header line and at least one row');
  const header = records[0]!.record.map((h) => h.trim());
  const seen = new Set<string>();
  header.forEach((h, i) => {
    if (h === '') throw new DataFormatError(`${file}:1`, `header column ${i + 1} has no name`);
    if (seen.has(h)) throw new DataFormatError(`${file}:1`, `header names column '${h}' twice`);
    seen.add(h);
  });
  const rows = records.slice(1).map((r) => ({ line: r.info.lines, fields: r.record }));
  if (rows.length === 0) throw new DataFormatError(file, 'no rows after the header');
  return { header, rows };
}

/** The column names of a CSV header line (as csv-parse reads it: quotes, BOM), or null when it does not parse. */
export function csvHeaderNames(line: string): string[] | null {
  try {
    const [header] = parse(line, { bom: true, to_line: 1 }) as string[][];
    return header ? header.map((h) => h.trim()) : null;
  } catch {
    return null;
  }
}

/**
 * Labels as classes: class numbers when no names are given and every label is a non-negative
 * integer, else indices into `classNames` (given, or the sorted distinct labels).
 */
function labelsToClasses(labels: readonly { value: string; where: string }[], given: readonly string[] | null | undefined):
  { y: Int32Array; classNames: string[] | null } {
  const y = new Int32Array(labels.length);
  const numeric = given === null || (given === undefined && labels.every((l) => /^\d+$/.test(l.value.trim())));
  if (numeric) {
    labels.forEach((l, i) => {
      const s = l.value.trim();
      if (!/^\d+$/.test(s)) throw new DataFormatError(l.where, `label '${l.value}' is not a class number (the training labels are)`);
      const v = Number(s);
      if (!Number.isSafeInteger(v) || v > 0x7fffffff) throw new DataFormatError(l.where, `label ${s} is out of range`);
      y[i] = v;
    });
    return { y, classNames: null };
  }
  const names = given ? [...given] : [...new Set(labels.map((l) => l.value))].sort();
  const index = new Map(names.map((n, i) => [n, i]));
  labels.forEach((l, i) => {
    const c = index.get(l.value);
    if (c === undefined) throw new DataFormatError(l.where, `label '${l.value}' is not one of the training classes (${names.slice(0, 10).join(', ')}${names.length > 10 ? ', …' : ''})`);
    y[i] = c;
  });
  return { y, classNames: names };
}

/** A numeric CSV table's dataset, its class names (null: labels are class numbers) and feature names. */
export interface TableDataset {
  dataset: Dataset;
  classNames: string[] | null;
  featureNames: string[];
}

/**
 * A dataset from CSV text: every column but the label column is a feature and must hold finite
 * numbers; samples are f32 [rows, features].
 */
export function csvDataset(text: string, file: string, opts: TableOptions = {}): TableDataset {
  const { header, rows } = parseCsv(text, file);
  const labelColumn = opts.labelColumn ?? DEFAULT_LABEL_COLUMN;
  const li = header.indexOf(labelColumn);
  if (li < 0) {
    throw new DataFormatError(`${file}:1`, `no label column '${labelColumn}' in the header (${header.join(', ')}): name it with --label-column`);
  }
  const featureNames = header.filter((_, i) => i !== li);
  if (featureNames.length === 0) throw new DataFormatError(`${file}:1`, `no feature columns besides the label column '${labelColumn}'`);
  const D = featureNames.length;
  const x = new Float32Array(rows.length * D);
  const labels: { value: string; where: string }[] = [];
  rows.forEach((r, i) => {
    let k = 0;
    r.fields.forEach((f, j) => {
      if (j === li) return;
      const s = f.trim();
      const v = s === '' ? NaN : Number(s);
      if (!Number.isFinite(v)) throw new DataFormatError(`${file}:${r.line}`, `column '${header[j]}': '${f}' is not a finite number`);
      x[i * D + k++] = v;
    });
    labels.push({ value: r.fields[li]!, where: `${file}:${r.line}` });
  });
  const { y, classNames } = labelsToClasses(labels, opts.classNames);
  const classes = classNames ? classNames.length : undefined;
  const dataset = makeDataset(x, [rows.length, D], y, { xFile: file, yFile: file }, { name: opts.name ?? baseName(file), ...(classes ? { classes } : {}) });
  return { dataset, classNames, featureNames };
}

/** Texts and their labels, for text models (the tokenizers and models come with the text issue). */
export interface TextDataset {
  name: string;
  count: number;
  texts: string[];
  y: Int32Array;
  classes: number;
  /** Null when the labels are class numbers. */
  classNames: string[] | null;
}

export interface TextOptions extends TableOptions {
  /** The text column or field (default 'text'). */
  textColumn?: string;
}

function textDataset(texts: string[], labels: { value: string; where: string }[], file: string, opts: TextOptions): TextDataset {
  if (texts.length === 0) throw new DataFormatError(file, 'no rows');
  const { y, classNames } = labelsToClasses(labels, opts.classNames);
  let classes = classNames ? classNames.length : 0;
  if (!classNames) for (const v of y) classes = Math.max(classes, v + 1);
  return { name: opts.name ?? baseName(file), count: texts.length, texts, y, classes, classNames };
}

/** A text dataset from CSV text with a text and a label column. */
export function textDatasetFromCsv(text: string, file: string, opts: TextOptions = {}): TextDataset {
  const { header, rows } = parseCsv(text, file);
  const textColumn = opts.textColumn ?? DEFAULT_TEXT_COLUMN, labelColumn = opts.labelColumn ?? DEFAULT_LABEL_COLUMN;
  const ti = header.indexOf(textColumn), li = header.indexOf(labelColumn);
  if (ti < 0) throw new DataFormatError(`${file}:1`, `no text column '${textColumn}' in the header (${header.join(', ')})`);
  if (li < 0) throw new DataFormatError(`${file}:1`, `no label column '${labelColumn}' in the header (${header.join(', ')}): name it with --label-column`);
  return textDataset(rows.map((r) => r.fields[ti]!), rows.map((r) => ({ value: r.fields[li]!, where: `${file}:${r.line}` })), file, opts);
}

/** A text dataset from JSON Lines: one object per line with a string text field and a label (a class number or a name). */
export function textDatasetFromJsonl(text: string, file: string, opts: TextOptions = {}): TextDataset {
  const textField = opts.textColumn ?? DEFAULT_TEXT_COLUMN, labelField = opts.labelColumn ?? DEFAULT_LABEL_COLUMN;
  const texts: string[] = [];
  const labels: { value: string; where: string }[] = [];
  const lines = text.replace(/^\uFEFF/, '').split('\n');
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    const where = `${file}:${i + 1}`;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch (e) {
      throw new DataFormatError(where, `not JSON: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw new DataFormatError(where, 'each line must be a JSON object');
    const rec = obj as Record<string, unknown>;
    const t = rec[textField], l = rec[labelField];
    if (typeof t !== 'string') throw new DataFormatError(where, `field '${textField}' must be a string, got ${t === undefined ? 'nothing' : JSON.stringify(t)?.slice(0, 40)}`);
    if (typeof l === 'number' ? !(Number.isInteger(l) && l >= 0) : typeof l !== 'string') {
      throw new DataFormatError(where, `field '${labelField}' must be a class number or a name, got ${l === undefined ? 'nothing' : JSON.stringify(l)?.slice(0, 40)}`);
    }
    texts.push(t);
    labels.push({ value: String(l), where });
  });
  return textDataset(texts, labels, file, opts);
}

function baseName(path: string): string {
  return path.slice(Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\')) + 1);
}
