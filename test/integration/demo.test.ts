// The built `tscni demo`, run from a namespace of the test as a user runs it:
// overlay and routed mode pass and leave nothing of their run behind, and a demo whose
// output reader goes away early (`| head`) still removes what it made.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIST_BIN, deleteNetns, listNetns, run, type Netns } from './harness';
import { useHarness } from './harness/vitest';

const h = useHarness();
const TSCNI = join(DIST_BIN, 'tscni');
let shell: Netns;
/** the run prefixes the demos announced, for the leftovers check and the cleanup */
const prefixes: string[] = [];

async function leftovers(prefix: string): Promise<string[]> {
  return [...(await listNetns()).filter((n) => n.startsWith(prefix)), ...readdirSync(tmpdir()).filter((f) => f.startsWith(prefix))];
}

/** Runs the demo in the test's namespace; stops reading its output after `keepReading` lines when given. */
function demo(args: string[], keepReading = Infinity): Promise<{ code: number | null; out: string; prefix: string }> {
  const child = h.startDaemon(shell, TSCNI, ['demo', ...args]);
  let out = '';
  let prefix = '';
  child.stderr!.resume();
  child.stdout!.on('data', (b: Buffer) => {
    out += b.toString();
    const m = /named (tscni-[0-9a-f]{6}-)\*/.exec(out);
    if (m && !prefix) prefixes.push((prefix = m[1]!));
    if (out.split('\n').length > keepReading) child.stdout!.destroy();
  });
  const bound = setTimeout(() => child.kill('SIGTERM'), 120_000);
  return new Promise((resolve) => child.once('exit', (code) => {
    clearTimeout(bound);
    resolve({ code, out, prefix });
  }));
}

beforeAll(async () => {
  shell = await h.createNetns('shell');
});

// A demo that died would have left its namespaces and the processes in them.
afterAll(async () => {
  for (const prefix of prefixes) {
    for (const ns of (await listNetns()).filter((n) => n.startsWith(prefix))) {
      const pids = (await run('ip', ['netns', 'pids', ns], { reject: false })).stdout.split('\n').filter((p) => /^\d+$/.test(p));
      for (const pid of pids) process.kill(Number(pid), 'SIGKILL');
      await deleteNetns(ns);
    }
    for (const f of readdirSync(tmpdir()).filter((n) => n.startsWith(prefix))) await rm(join(tmpdir(), f), { recursive: true, force: true });
  }
});

describe('tscni demo, as built', () => {
  it('--mode overlay: every cross-node path works, and nothing of the run is left', async () => {
    const r = await demo(['--mode', 'overlay']);
    expect(r.out).toMatch(/all 31 expected paths work/);
    expect(r.out).toMatch(/✓ IP 10\.250\.0\.\d+\.\d+ > 10\.250\.0\.\d+\.8472: /);
    expect(r.out).toMatch(/route 10\.244\.\d+\.0\/24 via 10\.244\.\d+\.0 dev flannel\.1 onlink proto 74/);
    expect(r.out).toMatch(/none left ✓/);
    expect(r.code).toBe(0);
    expect(await leftovers(r.prefix)).toEqual([]);
  }, 150_000);

  it('--mode routed: pods reach each other on a node, over BGP and through VXLAN, and nothing of the run is left', async () => {
    const r = await demo(['--mode', 'routed']);
    expect(r.out).not.toMatch(/not built yet/);
    expect(r.out).toMatch(/all 38 expected paths work/);
    expect(r.out).toMatch(/^ {2}10\.244\.0\.\d+\/26 via 10\.250\.0\.12 dev eth0 proto bird$/m);
    expect(r.out).toMatch(/pod ↔ pod, one segment \(BGP\), IPv6 +n1-pod1 +n2-pod1 \[fd00:244:[0-9a-f:]+\]:80 +✓ ping 2\/2, TCP seen as fd00:244:/);
    expect(r.out).toMatch(/pod ↔ pod, across segments \(VXLAN\), IPv6 +n1-pod1 +n3-pod1 \[fd00:244:[0-9a-f:]+\]:80 +✓ ping 2\/2, TCP seen as fd00:244:/);
    expect(r.out).toMatch(/^ {2}fd00:244:[0-9a-f:]*\/122 via fd00:250::12 dev eth0 proto bird/m);
    expect(r.out).toMatch(/^ {2}fd00:244:[0-9a-f:]*\/122 via fe80::[0-9a-f:]+ dev vxlan\.tscni proto 75 onlink/m);
    expect(r.out).toMatch(/^ {2}10\.244\.0\.\d+\/26 via 10\.244\.0\.\d+ dev vxlan\.tscni proto 75 onlink$/m);
    expect(r.out).toMatch(/answered by ee:ee:ee:ee:ee:ee/);
    expect(r.out).toMatch(/etcd: 0 addresses still allocated to the demo's pods ✓/);
    expect(r.out).toMatch(/none left ✓/);
    expect(r.code).toBe(0);
    expect(await leftovers(r.prefix)).toEqual([]);
  }, 150_000);

  it('removes its namespaces also when the reader of its output has gone away', async () => {
    const r = await demo(['--mode', 'bridge'], 3);
    expect(r.prefix).not.toBe('');
    expect(r.code).toBe(0);
    expect(await leftovers(r.prefix)).toEqual([]);
  }, 150_000);
});
