// A SuiteResult as aligned plain-text tables (Node's stdout, a <pre> in the web app).

import { LAYER_FORMULAS } from './layers.js';
import type { SuiteResult } from './types.js';

/** `align[i]` is 'l' or 'r' for column i; missing columns are right-aligned. */
function table(header: readonly string[], rows: readonly (readonly string[])[], align = 'l'): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => cells
    .map((c, i) => (align[i] === 'l' ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
    .join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function contendersOf(rows: readonly { entries: readonly { contender: string }[] }[]): string[] {
  const seen: string[] = [];
  for (const r of rows) for (const e of r.entries) if (!seen.includes(e.contender)) seen.push(e.contender);
  return seen;
}

const fixed = (v: number, d: number): string => (Number.isFinite(v) ? v.toFixed(d) : String(v));
const sci = (v: number): string => (v === 0 ? '0' : Number.isFinite(v) ? v.toExponential(1) : String(v));

export function formatReport(r: SuiteResult): string {
  const out: string[] = [];
  out.push(`Retort benchmark (${r.mode} mode), ${r.startedAt}, ${fixed(r.durationMs / 1000, 1)} s`);
  const env = Object.entries(r.environment).map(([k, v]) => `  ${k}: ${String(v)}`);
  if (env.length) out.push(...env);
  out.push('', 'Contenders (single thread, interleaved round-robin, median per call):');
  for (const c of r.contenders) out.push(`  ${c.name.padEnd(20)} ${c.description}`);

  out.push('', 'Peak probe (independent register-resident multiply-add chains):');
  if (r.peak.length === 0) out.push('  (no contender has a probe)');
  for (const p of r.peak) {
    out.push(`  ${p.contender.padEnd(8)} ${fixed(p.gflops, 2).padStart(8)} GFLOP/s  (${p.iters} iters x ${p.flopsPerIter} flop, ${p.stat.samples} samples)`);
  }

  const gNames = contendersOf(r.gemm);
  if (r.gemm.length) {
    out.push('', `sgemm, GFLOP/s = 2MNK/t (fraction of the simd peak${r.peakGflops ? ` ${fixed(r.peakGflops, 2)} GFLOP/s` : ', not measured'}):`);
    const rows = r.gemm.map((g) => [g.form, String(g.M), String(g.K), String(g.N), ...gNames.map((n) => {
      const e = g.entries.find((x) => x.contender === n);
      if (!e) return '-';
      return e.fractionOfPeak === null ? fixed(e.gflops, 2) : `${fixed(e.gflops, 2)} (${fixed(100 * e.fractionOfPeak, 0)}%)`;
    })]);
    out.push(table(['form', 'M', 'K', 'N', ...gNames], rows));
    const samples = gNames.map((n) => {
      const s = r.gemm.flatMap((g) => g.entries.filter((e) => e.contender === n).map((e) => e.stat.samples));
      return `${n} ${Math.min(...s)}-${Math.max(...s)}`;
    });
    out.push(`  samples per figure: ${samples.join(', ')}`);
  }

  if (r.conv.length) out.push('', ...convTable(r));
  if (r.layers.length) out.push('', ...layersTable(r));

  const lNames = contendersOf(r.losses);
  if (r.losses.length) {
    const first = r.losses[0]!;
    out.push('', `Losses, µs per call (T = ${first.temperature}, alpha = ${first.alpha}):`);
    const rows = r.losses.map((l) => [l.kernel, `[${l.rows},${l.cols}]`, ...lNames.map((n) => {
      const e = l.entries.find((x) => x.contender === n);
      return e ? fixed(e.usPerCall, e.usPerCall < 10 ? 2 : 1) : '-';
    })]);
    out.push(table(['kernel', 'shape', ...lNames], rows, 'll'));
    out.push('  formulas (value and gradient computed by every contender):');
    for (const [k, f] of Object.entries(r.formulas)) out.push(`    ${k}: ${f}`);
  }

  const names = [...new Set([...gNames, ...contendersOf(r.conv), ...contendersOf(r.layers), ...lNames])];
  if (names.length) {
    out.push('', 'Accuracy, worst relative error vs an f64 reference (max |x - ref| / max |ref|):');
    out.push(`  ${names.map((n) => {
      const errs = [...r.gemm.flatMap((g) => g.entries), ...r.conv.flatMap((c) => c.entries), ...r.layers.flatMap((l) => l.entries),
        ...r.losses.flatMap((l) => l.entries)]
        .filter((e) => e.contender === n).map((e) => e.error);
      return `${n} ${sci(Math.max(...errs))}`;
    }).join(', ')}`);
  }

  out.push('', 'Module sizes:');
  for (const v of ['simd', 'scalar'] as const) {
    const b = r.wasmBytes[v];
    out.push(`  retort.${v}.wasm`.padEnd(22) + (b === undefined ? 'not given' : `${b} bytes (${fixed(b / 1024, 1)} KiB)`));
  }

  out.push('', 'Ratios (this run):');
  out.push(table(['ratio', 'value', 'note'], r.ratios.map((x) => [x.name, x.value === null ? '-' : fixed(x.value, 2), x.note]), 'lrl')
    .split('\n').map((l) => `  ${l}`).join('\n'));

  out.push('', 'Targets (reported, not asserted):');
  out.push(table(['status', 'target', 'requirement', 'measured'],
    r.targets.map((t) => [t.status.toUpperCase(), t.name, t.requirement, t.measured]), 'llll')
    .split('\n').map((l) => `  ${l}`).join('\n'));
  return out.join('\n');
}

const PASS_LABEL = { forward: 'fwd', backwardData: 'dx', backwardFilter: 'dw' } as const;

/** The conv2d table: one row per (layer, pass), GFLOP/s and % of peak per contender, n/a where unavailable. */
function convTable(r: SuiteResult): string[] {
  const names = [...new Set([...contendersOf(r.conv), ...r.conv.flatMap((c) => c.unavailable.map((u) => u.contender))])];
  const out = [`conv2d NHWC, GFLOP/s = 2 B OH OW KH KW (C/G) OC / t for every pass (fraction of the simd peak probe timed in`
    + ' the same rounds as the row, column peak); fwd y = conv(x, w), dx, dw accumulate:'];
  const rows = r.conv.map((c, i) => [
    i > 0 && r.conv[i - 1]!.layer === c.layer ? '' : `${c.layer} (B ${c.geometry.B})`, PASS_LABEL[c.pass],
    ...names.map((n) => {
      if (c.unavailable.some((u) => u.contender === n)) return 'n/a';
      const e = c.entries.find((x) => x.contender === n);
      if (!e) return '-';
      const once = e.stat.samples === 1 ? '*' : '';
      return e.fractionOfPeak === null ? `${fixed(e.gflops, 2)}${once}` : `${fixed(e.gflops, 2)}${once} (${fixed(100 * e.fractionOfPeak, 0)}%)`;
    }),
    c.peakGflops === null ? '-' : fixed(c.peakGflops, 2),
  ]);
  out.push(table(['layer', 'pass', ...names, 'peak'], rows, 'll'));
  if (r.conv.some((c) => c.entries.some((e) => e.stat.samples === 1))) {
    out.push('  * one call only: its check call was too slow to repeat (CONV_SLOW_CALL_MS)');
  }
  const reasons = new Map<string, string[]>();
  for (const c of r.conv) {
    for (const u of c.unavailable) reasons.set(`${u.contender}: ${u.reason}`, [...(reasons.get(`${u.contender}: ${u.reason}`) ?? []), `${c.layer} ${PASS_LABEL[c.pass]}`]);
  }
  for (const [why, where] of reasons) out.push(`  n/a = ${why} (${where.length} pass${where.length > 1 ? 'es' : ''})`);
  const judged = r.conv.flatMap((c) => (c.target ? [c.target] : []));
  if (judged.length) {
    const below = judged.filter((t) => t.status !== 'pass');
    out.push(`  target, every pass of a layer with >= 16 input channels at >= 60% of peak: ${judged.length - below.length}/${judged.length} passes meet it`
      + (below.length ? `; below: ${below.map((t) => `${t.name.replace(/^conv2d | vs peak$/g, '')} ${t.measured}`).join(', ')}` : ''));
  }
  return out;
}

/** Batch norm and GELU, forward + backward: µs per call per contender, n/a where unavailable. */
function layersTable(r: SuiteResult): string[] {
  const names = [...new Set([...contendersOf(r.layers), ...r.layers.flatMap((l) => l.unavailable.map((u) => u.contender))])];
  const rows = r.layers.map((l) => [l.kernel, `[${l.rows},${l.cols}]`, ...names.map((n) => {
    if (l.unavailable.some((u) => u.contender === n)) return 'n/a';
    const e = l.entries.find((x) => x.contender === n);
    return e ? fixed(e.usPerCall, 1) : '-';
  })]);
  const out = ['Normalisation and activation, forward + backward, µs per call:', table(['kernel', 'shape', ...names], rows, 'll')];
  for (const l of r.layers) for (const u of l.unavailable) out.push(`  n/a = ${u.contender} on ${l.kernel}: ${u.reason}`);
  for (const k of [...new Set(r.layers.map((l) => l.kernel))]) out.push(`    ${k}: ${LAYER_FORMULAS[k]}`);
  return out;
}
