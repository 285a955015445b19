// Figures and the printed table. The bench never judges its timings: it
// prints them next to the reference's and the targets, and leaves the
// verdict to whoever reads them on a machine quiet enough to trust.

export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  // nearest rank: the smallest value with at least q of the sample at or below it
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export const median = (v: readonly number[]): number => quantile(v, 0.5);
export const p95 = (v: readonly number[]): number => quantile(v, 0.95);

export interface Row {
  suite: string;
  op: string;
  ms: readonly number[];
  /** CPU time (user + system) per call; absent for chains and wall-clock rows */
  cpuMs?: readonly number[];
  /** peak RSS of one plugin process in KiB; absent for chains */
  rssKb?: number;
}

const ms = (x: number): string => (Number.isNaN(x) ? '-' : x.toFixed(1));
const mib = (kb: number | undefined): string => (kb === undefined ? '' : `${(kb / 1024).toFixed(1)} MiB`);

export function printTable(rows: readonly Row[]): void {
  const lines = [['suite', 'op', 'n', 'median ms', 'p95 ms', 'CPU median ms', 'peak RSS']];
  for (const r of rows) {
    const cpu = r.cpuMs ? ms(median(r.cpuMs)) : '';
    lines.push([r.suite, r.op, String(r.ms.length), ms(median(r.ms)), ms(p95(r.ms)), cpu, mib(r.rssKb)]);
  }
  printColumns(lines);
}

export interface Ratio {
  what: string;
  ours: readonly number[];
  reference: readonly number[];
  /** the target for the median ratio, e.g. 1.25 */
  target?: number;
}

export function printRatios(ratios: readonly Ratio[]): void {
  const lines = [['ours/reference', 'median', 'p95', 'target (median)']];
  for (const r of ratios) {
    const m = median(r.ours) / median(r.reference);
    const p = p95(r.ours) / p95(r.reference);
    const verdict = r.target === undefined ? '' : `<= ${r.target.toFixed(2)}x ${m <= r.target ? 'met' : 'NOT met'}`;
    lines.push([r.what, `${m.toFixed(2)}x`, `${p.toFixed(2)}x`, verdict]);
  }
  printColumns(lines);
}

export function printColumns(lines: string[][]): void {
  const widths = lines[0]!.map((_, i) => Math.max(...lines.map((l) => (l[i] ?? '').length)));
  for (const l of lines) {
    console.log(l.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ').trimEnd());
  }
}
