// What a training run prints: a cli-progress bar per epoch on a terminal, one plain line
// per epoch (and phase messages) otherwise, or with --json one JSON object per line for
// every event (steps throttled) and nothing else on stdout.
import cliProgress from 'cli-progress';
import type { EpochMetrics } from '@retort/distill';
import type { RunEvent, RunReport } from '@retort/distill/node';

export interface Reporter {
  event(e: RunEvent): void;
  /** Any other record (run start, final report, interruption). */
  record(type: string, data: Record<string, unknown>): void;
  /** A human-readable line (phase messages, summary); dropped in JSON mode. */
  line(text: string): void;
  close(): void;
}

export type ReporterKind = 'tty' | 'plain' | 'json';

export interface ReporterOptions {
  out: (line: string) => void;
  stream?: NodeJS.WritableStream;
  /** JSON mode: at most one 'step' line per this many ms (the last step of an epoch always). */
  stepIntervalMs?: number;
}

export function createReporter(kind: ReporterKind, opts: ReporterOptions): Reporter {
  if (kind === 'json') return new JsonReporter(opts.out, opts.stepIntervalMs ?? 100);
  if (kind === 'tty' && opts.stream) return new BarReporter(opts.out, opts.stream);
  return new PlainReporter(opts.out);
}

const pct = (x: number): string => `${(100 * x).toFixed(2)} %`;

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const mm = String(m).padStart(2, '0'), ss = String(r).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

/** "epoch 3/10  loss 0.1234  acc 97.12 %  val loss 0.0811  val acc 97.60 % (120 errors)  81234 samples/s  1.2 s" */
export function formatEpoch(m: EpochMetrics, epochs: number): string {
  const v = m.validation;
  const val = v ? `  val loss ${v.loss.toFixed(4)}  val acc ${pct(v.accuracy)} (${v.errors} errors)` : '';
  return `epoch ${m.epoch}/${epochs}  loss ${m.trainLoss.toFixed(4)}  acc ${pct(m.trainAccuracy)}${val}  ${Math.round(m.samplesPerSec)} samples/s  ${m.seconds.toFixed(m.seconds < 10 ? 2 : 1)} s`;
}

/** The closing lines of a finished run. */
export function summaryLines(r: RunReport): string[] {
  const t = r.test;
  const lines = [`test: ${t.errors} errors of ${t.count} (${pct(t.accuracy)} accuracy), loss ${t.loss.toFixed(4)}, ECE ${t.ece.toFixed(4)}`
    + (t.agreement !== undefined ? `, agreement with the teacher ${pct(t.agreement)}` : '')
    + (r.teacher?.test ? ` (teacher: ${r.teacher.test.errors} errors)` : '')];
  lines.push(`model: ${r.model.spec}, ${r.model.params.toLocaleString('en-US')} parameters, trained ${r.trainSeconds.toFixed(1)} s on ${r.backend}${(r.threads ?? 1) > 1 ? `, ${r.threads} threads` : ''}`);
  lines.push(`run: ${r.runDir} (model.retort, report.md, report.json, metrics.jsonl)`);
  return lines;
}

class PlainReporter implements Reporter {
  protected epochs = 0;
  constructor(protected readonly out: (line: string) => void) {}

  event(e: RunEvent): void {
    switch (e.type) {
      case 'phase': this.out(e.message); break;
      case 'start':
        this.epochs = e.epochs;
        this.out(`training: epochs ${e.startEpoch + 1}..${e.epochs}, ${e.batchesPerEpoch} steps of ${e.samplesPerEpoch} samples per epoch`);
        break;
      case 'epoch': this.out(formatEpoch(e.metrics, this.epochs)); break;
      default: break;
    }
  }

  record(): void {}
  line(text: string): void { this.out(text); }
  close(): void {}
}

class BarReporter extends PlainReporter {
  private bar: cliProgress.SingleBar | null = null;
  private barEpoch = -1;

  constructor(out: (line: string) => void, private readonly stream: NodeJS.WritableStream) {
    super(out);
  }

  override event(e: RunEvent): void {
    if (e.type !== 'step') {
      if (e.type === 'epoch' || e.type === 'end') this.stopBar();
      super.event(e);
      return;
    }
    const tokens = {
      epoch: e.epoch + 1, epochs: this.epochs, loss: e.loss.toFixed(4), acc: pct(e.accuracy).padStart(8),
      rate: String(Math.round(e.samplesPerSec)).padStart(6), runEta: formatDuration(e.etaSeconds),
    };
    if (!this.bar || this.barEpoch !== e.epoch) {
      this.stopBar();
      this.bar = new cliProgress.SingleBar({
        stream: this.stream, hideCursor: true, clearOnComplete: true, fps: 10, barsize: 24,
        format: 'epoch {epoch}/{epochs} [{bar}] {value}/{total} | loss {loss} | acc {acc} | {rate} samples/s | ETA {runEta}',
      }, cliProgress.Presets.shades_classic);
      this.barEpoch = e.epoch;
      this.bar.start(e.batches, e.batch + 1, tokens);
    } else {
      this.bar.update(e.batch + 1, tokens);
    }
  }

  override line(text: string): void {
    this.stopBar();
    super.line(text);
  }

  override close(): void { this.stopBar(); }

  private stopBar(): void {
    this.bar?.stop();
    this.bar = null;
    this.barEpoch = -1;
  }
}

class JsonReporter implements Reporter {
  private lastStep = -Infinity;
  constructor(private readonly out: (line: string) => void, private readonly intervalMs: number) {}

  event(e: RunEvent): void {
    if (e.type === 'step') {
      const now = performance.now();
      if (now - this.lastStep < this.intervalMs && e.batch + 1 < e.batches) return;
      this.lastStep = now;
    }
    this.out(JSON.stringify(e));
  }

  record(type: string, data: Record<string, unknown>): void {
    this.out(JSON.stringify({ type, ...data }));
  }

  line(): void {}
  close(): void {}
}
