// The bridge benchmark: one node, N pods, our bridge+portmap against the
// reference Go plugins with the same conflist, interleaved pod by pod so
// machine noise hits both; then N ADDs started at once per suite. Prints
// per-call medians, p95 and peak RSS, and the ratios ours/reference.
// Then the overlay benchmark (overlay.ts) and the routed one (routed.ts).
// --only bridge|overlay|routed runs one.
// Exits non-zero only when something fails functionally, never on a timing.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createHarness, REFERENCE_BIN, type Harness } from '../lib/lab/index';
import { openNetns, type NetnsHandle } from '../lib/netns/netns';
import { benchOverlay } from './overlay';
import { benchRouted } from './routed';
import { median, printRatios, printTable, type Ratio, type Row } from './report';
import { chainAdd, chainDel, Recorder, type Op, type Pod, type Suite } from './suite';

interface Options {
  pods: number;
  rounds: number;
  /** iperf3 time per overlay measurement */
  seconds: number;
  only?: 'bridge' | 'overlay' | 'routed';
}

const USAGE = 'usage: bench/run.mjs [--only bridge|overlay|routed] [--pods 1..250] [--rounds 1..250] [--seconds 1..30]';
const LIMITS = { pods: 250, rounds: 250, seconds: 30 } as const;

function parseOptions(argv: string[]): Options {
  const opts: Options = { pods: 50, rounds: 3, seconds: 4 };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, text] = [argv[i] ?? '', argv[i + 1]];
    if (flag === '--only' && (text === 'bridge' || text === 'overlay' || text === 'routed')) {
      opts.only = text;
      continue;
    }
    const key = flag.slice(2) as keyof typeof LIMITS;
    const value = Number(text);
    if (!flag.startsWith('--') || !(key in LIMITS) || !Number.isInteger(value) || value < 1 || value > LIMITS[key]) throw new Error(USAGE);
    opts[key] = value;
  }
  return opts;
}

const REPO = process.env.TSCNI_REPO ?? process.cwd();
const OPS: Op[] = ['bridge ADD', 'portmap ADD', 'portmap DEL', 'bridge DEL'];
/** Targets for one plugin call (bridge: ipMasq, host-local), ours/reference median. */
const OP_TARGETS: Partial<Record<Op, number>> = { 'bridge ADD': 1.25, 'bridge DEL': 0.8 };

/** Interleaving order for step i: alternate which suite goes first. */
const ordered = <T>(pair: [T, T], i: number): [T, T] => (i % 2 === 0 ? pair : [pair[1], pair[0]]);

interface SuiteRun {
  suite: Suite;
  pods: Pod[];
  rec: Recorder;
  addMs: number[];
  delMs: number[];
  concurrentAddMs: number[];
  concurrentDelMs: number[];
}

async function prepare(h: Harness, suite: Omit<Suite, 'dataDir'>, n: number): Promise<SuiteRun> {
  const dataDir = await h.tempDir(`ipam-${suite.name}`);
  const pods: Pod[] = [];
  for (let i = 0; i < n; i++) {
    const ns = await h.createPod();
    pods.push({ index: i, containerId: `bench-${suite.name}-${i}`, netns: ns.path });
  }
  return { suite: { ...suite, dataDir }, pods, rec: new Recorder(), addMs: [], delMs: [], concurrentAddMs: [], concurrentDelMs: [] };
}

/** After the last DEL, host-local's dataDir must hold no reservation. */
async function assertReleased(r: SuiteRun): Promise<void> {
  const dir = join(r.suite.dataDir, `bench-${r.suite.name}`);
  const left = (await readdir(dir).catch(() => [] as string[])).filter((f) => /^[0-9a-f.:]+$/.test(f));
  if (left.length > 0) throw new Error(`${r.suite.name}: reservations left after DEL: ${left.join(' ')}`);
}

async function sequential(node: NetnsHandle, runs: [SuiteRun, SuiteRun], n: number): Promise<void> {
  const results = new Map<SuiteRun, unknown[]>(runs.map((r) => [r, []]));
  for (let i = 0; i < n; i++) {
    for (const r of ordered(runs, i)) {
      const add = await chainAdd(r.rec, node, r.suite, r.pods[i]!);
      r.addMs.push(add.ms);
      results.get(r)![i] = add.result;
    }
  }
  for (let i = 0; i < n; i++) {
    for (const r of ordered(runs, i)) r.delMs.push((await chainDel(r.rec, node, r.suite, r.pods[i]!, results.get(r)![i])).ms);
  }
}

/** All pods' ADD chains started at once; wall time until the last one is done, then the same for DEL. */
async function concurrent(node: NetnsHandle, r: SuiteRun): Promise<void> {
  const rec = new Recorder(); // per-call figures under contention are not the sequential ones
  let start = performance.now();
  const adds = await Promise.all(r.pods.map((p) => chainAdd(rec, node, r.suite, p)));
  r.concurrentAddMs.push(performance.now() - start);
  const distinct = new Set(adds.map((a) => a.address));
  if (distinct.size !== r.pods.length) {
    throw new Error(`${r.suite.name}: ${r.pods.length} concurrent ADDs got only ${distinct.size} distinct addresses`);
  }
  start = performance.now();
  await Promise.all(r.pods.map((p, i) => chainDel(rec, node, r.suite, p, adds[i]!.result)));
  r.concurrentDelMs.push(performance.now() - start);
  await assertReleased(r);
}

function report(runs: [SuiteRun, SuiteRun], opts: Options): void {
  const [ours, ref] = runs;
  console.log(`\nsequential: ${opts.pods} pods per suite, ADD = bridge ADD + portmap ADD (ipMasq, one host port), DEL in reverse`);
  console.log('figures are the plugin process alone (fork to exit), env -i; the machine is shared: treat them as noisy\n');
  const rows: Row[] = [];
  for (const r of [ref, ours]) {
    for (const op of OPS) {
      const calls = r.rec.calls.get(op) ?? [];
      rows.push({
        suite: r.suite.name, op, ms: calls.map((c) => c.ms), cpuMs: calls.map((c) => c.cpuMs), rssKb: Math.max(...calls.map((c) => c.rssKb)),
      });
    }
    rows.push({ suite: r.suite.name, op: 'ADD chain', ms: r.addMs }, { suite: r.suite.name, op: 'DEL chain', ms: r.delMs });
  }
  printTable(rows);
  console.log(`\nconcurrent: ${opts.pods} ADD chains started at once, then ${opts.pods} DEL chains; ${opts.rounds} round(s), wall ms`);
  printTable([ref, ours].flatMap((r) => [
    { suite: r.suite.name, op: 'concurrent ADD', ms: r.concurrentAddMs },
    { suite: r.suite.name, op: 'concurrent DEL', ms: r.concurrentDelMs },
  ]));
  const perOp = (r: SuiteRun, op: Op) => (r.rec.calls.get(op) ?? []).map((c) => c.ms);
  const ratios: Ratio[] = [
    ...OPS.map((op) => ({ what: op, ours: perOp(ours, op), reference: perOp(ref, op), target: OP_TARGETS[op] })),
    { what: 'ADD chain', ours: ours.addMs, reference: ref.addMs, target: 1.0 },
    { what: 'DEL chain', ours: ours.delMs, reference: ref.delMs, target: 0.8 },
    { what: `${opts.pods} concurrent ADD chains, wall`, ours: ours.concurrentAddMs, reference: ref.concurrentAddMs, target: 0.8 },
    { what: `${opts.pods} concurrent DEL chains, wall`, ours: ours.concurrentDelMs, reference: ref.concurrentDelMs },
  ];
  console.log('');
  printRatios(ratios);
  const peakKb = (r: SuiteRun): number => Math.max(...[...r.rec.calls.values()].flat().map((c) => c.rssKb));
  console.log(`\npeak RSS of one plugin process: ours ${(peakKb(ours) / 1024).toFixed(1)} MiB, reference ${(peakKb(ref) / 1024).toFixed(1)} MiB`);
  console.log(`concurrent ADDs got distinct addresses in every round (ours median wall ${median(ours.concurrentAddMs).toFixed(0)} ms)`);
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  const harnesses: Harness[] = [];
  let interrupted = false;
  process.once('SIGINT', () => {
    interrupted = true;
    console.error('\ninterrupted: removing the bench namespaces');
    void Promise.all(harnesses.map((h) => h.cleanup())).finally(() => process.exit(130));
  });
  const runs = (part: NonNullable<Options['only']>) => opts.only === undefined || opts.only === part;
  if (runs('bridge')) {
    const h = createHarness();
    harnesses.push(h);
    await benchBridge(h, opts, () => interrupted);
  }
  if (runs('overlay')) {
    console.log('\noverlay: three nodes and five joining ones on one underlay segment, etcd, the built tscni-agent overlay');
    await benchOverlay({ seconds: opts.seconds, rounds: opts.rounds, binDir: join(REPO, 'dist/bin'), onHarness: (h) => harnesses.push(h) });
  }
  if (runs('routed')) {
    console.log('\nrouted: three nodes on one underlay segment, etcd, the built tscni-agent routed with BIRD');
    await benchRouted({
      seconds: opts.seconds, rounds: opts.rounds, pods: opts.pods, binDir: join(REPO, 'dist/bin'), onHarness: (h) => harnesses.push(h),
    });
  }
}

async function benchBridge(h: Harness, opts: Options, interrupted: () => boolean): Promise<void> {
  try {
    const nodeNs = await h.createNode();
    const node = openNetns(nodeNs.path);
    const ours = await prepare(h, {
      name: 'ours', binDir: join(REPO, 'dist/bin'), bridge: 'bench-ours', subnet: '10.244.0.0/17', firstHostPort: 20000,
    }, opts.pods);
    const ref = await prepare(h, {
      name: 'reference', binDir: REFERENCE_BIN, bridge: 'bench-ref', subnet: '10.244.128.0/17', firstHostPort: 40000,
    }, opts.pods);
    const runs: [SuiteRun, SuiteRun] = [ours, ref];
    console.log(`node ${nodeNs.name}: warming up (one ADD/DEL per suite, not counted)`);
    await sequential(node, [
      { ...ours, rec: new Recorder(), addMs: [], delMs: [] }, { ...ref, rec: new Recorder(), addMs: [], delMs: [] },
    ], 1);
    await sequential(node, runs, opts.pods);
    for (const r of runs) await assertReleased(r);
    for (let round = 0; round < opts.rounds; round++) {
      for (const r of ordered(runs, round)) await concurrent(node, r);
    }
    node.close();
    report(runs, opts);
  } finally {
    if (!interrupted()) await h.cleanup();
  }
}

main().catch((e: unknown) => {
  console.error(`bench failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
});
