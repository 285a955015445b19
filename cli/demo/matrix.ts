// The connectivity matrix: every expected path is tried once, bounded in time,
// and printed as a table with ✓/✗ and what was observed.
import type { PathCheck, PathOutcome } from './types';

export interface MatrixRow {
  check: PathCheck;
  outcome: PathOutcome;
  durationMs: number;
}

/** A path that neither succeeds nor fails within `ms` counts as failed. */
async function bounded(check: PathCheck, ms: number): Promise<PathOutcome> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<PathOutcome>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, detail: `no answer within ${ms / 1000} s` }), ms);
  });
  try {
    return await Promise.race([
      check.run().catch((e: Error): PathOutcome => ({ ok: false, detail: firstLine(e.message) })),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function firstLine(s: string): string {
  const line = s.split('\n').find((l) => l.trim() !== '') ?? s;
  return line.length > 100 ? `${line.slice(0, 97)}...` : line;
}

/** Runs the checks one after another (one at a time keeps a busy 2-core machine's answers honest). */
export async function runMatrix(checks: PathCheck[], perCheckMs: number): Promise<MatrixRow[]> {
  const rows: MatrixRow[] = [];
  for (const check of checks) {
    const started = performance.now();
    const outcome = await bounded(check, perCheckMs);
    rows.push({ check, outcome, durationMs: performance.now() - started });
  }
  return rows;
}

const width = (s: string): number => [...s].length;
const pad = (s: string, n: number): string => s + ' '.repeat(Math.max(0, n - width(s)));

export function renderMatrix(rows: MatrixRow[]): string[] {
  const header = ['path', 'from', 'to', 'result'];
  const cells = rows.map((r) => [
    r.check.kind,
    r.check.from,
    r.check.to,
    `${r.outcome.ok ? '✓' : '✗'} ${r.outcome.detail}`,
  ]);
  const widths = header.map((h, i) => Math.max(width(h), ...cells.map((c) => width(c[i]!))));
  const line = (c: string[]): string => `  ${c.map((v, i) => (i === c.length - 1 ? v : pad(v, widths[i]!))).join('  ')}`;
  const out = [line(header), line(widths.map((w) => '─'.repeat(w)))];
  let lastKind = '';
  for (const [i, c] of cells.entries()) {
    // The path name only on the first row of its group, so groups read as blocks.
    const kind = rows[i]!.check.kind;
    out.push(line([kind === lastKind ? '' : kind, ...c.slice(1)]));
    lastKind = kind;
  }
  const failed = rows.filter((r) => !r.outcome.ok).length;
  out.push('', failed === 0
    ? `  all ${rows.length} expected paths work`
    : `  ${failed} of ${rows.length} expected paths FAILED`);
  return out;
}
