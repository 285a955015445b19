// The agent watches its BIRD, the one it started and one it adopted from an
// agent before it: a BIRD killed while etcd is down is back within 5 s,
// started from the last good configuration without a read from etcd, and
// no route is lost meanwhile, neither the node's block on its peer nor the
// routes in the node's own kernel; `tscni node status` says it happened.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCluster, DIST_BIN, INFRA_IP, startEtcd, useHarness, type Cluster } from './harness';
import { eventually, POOL_CIDR, RoutedLab, type Agent } from './routed-lab';

const NAMES = ['n0', 'n1'];

describe('tscni-agent routed watches BIRD', () => {
  const h = useHarness();
  let cluster: Cluster;
  let lab: RoutedLab;
  const blocks = new Map<string, string>();
  const nodeOf = (name: string) => cluster.nodes[NAMES.indexOf(name)]!;

  beforeAll(async () => {
    cluster = await createCluster(h, { nodesPerSegment: [NAMES.length], etcd: true });
    lab = new RoutedLab(h, cluster, await h.tempDir('run'));
    await lab.createPool('default', POOL_CIDR, 26);
    for (let i = 0; i < NAMES.length; i++) lab.startAgent(cluster.nodes[i]!, NAMES[i]!);
    for (const name of NAMES) {
      await lab.assign(name, `c-${name}`);
      blocks.set(name, (await lab.blocksOf(name))[0]!);
    }
    await eventually('each node holds the other\'s block via it', async () => everyRoute());
  }, 90_000);

  afterAll(async () => {
    for (const name of [...lab.agents.keys()]) await lab.stopAgent(name);
    lab.killBirds(NAMES);
  });

  /** n1 holds n0's block via n0 and n0 holds n1's, as BGP routes; and each its own blackhole. */
  const everyRoute = async (): Promise<true | string> => {
    for (const [name, other] of [['n0', 'n1'], ['n1', 'n0']] as const) {
      const learned = await lab.routes(nodeOf(name), 'bird');
      if (!learned.some(([dst, gw]) => dst === blocks.get(other) && gw === nodeOf(other).ip)) return `${name} lacks ${blocks.get(other)} via ${other}: ${JSON.stringify(learned)}`;
      const own = await lab.routes(nodeOf(name), '75');
      if (!own.some(([dst, type]) => dst === blocks.get(name) && type === 'blackhole')) return `${name} lacks its blackhole ${blocks.get(name)}: ${JSON.stringify(own)}`;
    }
    return true;
  };

  const birdPid = (a: Agent) => lab.birdPid(a.name);

  /** Runs `fn` with etcd stopped, sampling every 100 ms that no route is missing; resolves with what fn gave and the routes missed. */
  const duringOutage = async <T>(fn: () => Promise<T>): Promise<{ result: T; missing: string[] }> => {
    const etcd = cluster.etcd!;
    await etcd.stop();
    const missing: string[] = [];
    let sampling = true;
    const sample = (async () => {
      while (sampling) {
        const r = await everyRoute();
        if (r !== true) missing.push(r);
        await new Promise((res) => setTimeout(res, 100));
      }
    })();
    try {
      const result = await fn();
      await eventually('n0 in session with n1 again', async () => {
        const s = (await lab.protocols('n0')).filter((p) => p.proto === 'BGP');
        return (s.length === 1 && s[0]!.info === 'Established') || JSON.stringify(s);
      }, 15_000);
      // Past the graceful restart: what the new BIRD sent has replaced the stale routes.
      await new Promise((r) => setTimeout(r, 2_000));
      return { result, missing };
    } finally {
      sampling = false;
      await sample;
      const restarted = await startEtcd(h, cluster.infra, { ips: [INFRA_IP], dataDir: etcd.dataDir });
      cluster.etcd = { ...restarted };
    }
  };

  /** How long from `since` until a BIRD other than `old` answers on n0's socket. */
  const untilNewBird = async (agent: Agent, old: number | undefined, since: number): Promise<number> => {
    await eventually('a new BIRD answers on n0', async () => {
      const pid = birdPid(agent);
      if (pid === undefined || pid === old) return `no new BIRD yet (pid ${pid})\n${agent.log.slice(-3).join('\n')}`;
      const r = await h.execIn(nodeOf('n0'), 'birdc', ['-s', join(agent.runDir, 'bird.ctl'), 'show', 'status'], { reject: false });
      return /Daemon is up and running/.test(r.stdout) || r.stdout;
    }, 10_000);
    return Date.now() - since;
  };

  /** Kills n0's BIRD with etcd stopped; resolves with how long until a new BIRD answered, and the routes missed meanwhile. */
  const killBirdDuringOutage = async (agent: Agent) => {
    const { result: backAfter, missing } = await duringOutage(async () => {
      const old = birdPid(agent)!;
      expect(old).toBeGreaterThan(1);
      const killed = Date.now();
      process.kill(old, 'SIGKILL');
      return untilNewBird(agent, old, killed);
    });
    return { backAfter, missing };
  };

  it('a BIRD it started, killed while etcd is down, is back within 5 s and no route is lost', async () => {
    const agent = lab.agents.get('n0')!;
    const { backAfter, missing } = await killBirdDuringOutage(agent);
    expect(agent.log.join('\n')).toMatch(/ bird-restarted pid=\d+ why="bird exited SIGKILL"/);
    expect(backAfter).toBeLessThan(5_000);
    expect(missing).toEqual([]);
    const status = await h.execIn(nodeOf('n0'), join(DIST_BIN, 'tscni'), ['node', 'status', '--run-dir', agent.runDir], { reject: false });
    expect(status.stdout).toMatch(/\nBIRD: running, pid \d+, /);
    expect(status.stdout).toMatch(/\nBIRD restarted by the agent 1 time, last at \S+: bird exited SIGKILL\n/);
  }, 90_000);

  it('a BIRD it adopted from an agent that died, killed while etcd is down, is back within 5 s and no route is lost', async () => {
    // An agent killed outright leaves its BIRD running; the next agent adopts it.
    const first = lab.agents.get('n0')!;
    const bird = birdPid(first);
    lab.agents.delete('n0');
    const gone = new Promise((r) => first.child.once('exit', r));
    first.child.kill('SIGKILL');
    await gone;
    const agent = lab.startAgent(nodeOf('n0'), 'n0');
    await eventually('the new agent adopts the BIRD that runs', async () => agent.log.some((l) => / bird-running how=adopted /.test(l)) || agent.log.slice(-3).join('\n'), 30_000);
    expect(birdPid(agent)).toBe(bird);
    const { backAfter, missing } = await killBirdDuringOutage(agent);
    expect(agent.log.join('\n')).toMatch(new RegExp(` bird-restarted pid=\\d+ why="adopted bird \\(pid ${bird}\\) is gone"`));
    expect(backAfter).toBeLessThan(5_000);
    expect(missing).toEqual([]);
  }, 90_000);

  it('an agent restarted while etcd is down starts BIRD from the last good configuration at once, and no route is lost', async () => {
    const { result: upAfter, missing } = await duringOutage(async () => {
      const old = birdPid(lab.agents.get('n0')!);
      expect(await lab.stopAgent('n0')).toBe(0);
      const started = Date.now();
      const agent = lab.startAgent(nodeOf('n0'), 'n0');
      return untilNewBird(agent, old, started);
    });
    expect(upAfter).toBeLessThan(5_000);
    expect(missing).toEqual([]);
    const agent = lab.agents.get('n0')!;
    expect(agent.log.join('\n')).toMatch(/ bird-running how=recovering config=\S+ why="the last good configuration, before etcd is read"/);
    // etcd back: the agent registers and configures BIRD from what etcd says.
    await eventually('the agent syncs once etcd is back', async () => agent.log.some((l) => / bird-configured /.test(l)) || agent.log.slice(-3).join('\n'), 30_000);
    expect(await everyRoute()).toBe(true);
  }, 90_000);
});
