// How tscni-agent routed starts: bad flags are refused naming the flag; an
// etcd it cannot reach is retried, not fatal, and SIGTERM still ends it
// cleanly; over TLS with client certificates it registers the node and
// serves IPAM; with --socket-group, the group's members may use its socket
// and no one else but root.
import { chmodSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCluster, DIST_BIN, useHarness, type Cluster } from './harness';
import { eventually, POOL_CIDR, RoutedLab } from './routed-lab';

// Asks for the pools and prints the answer line, or the error code the connection failed with.
const POOLS_CLIENT = `
const c = require('net').connect(process.argv[1], () => c.write('{"op":"pools"}\\n'));
let got = '';
c.on('data', (d) => (got += d));
c.on('error', (e) => { console.log(JSON.stringify({ error: e.code })); process.exit(0); });
c.on('close', () => { console.log(got.split('\\n')[0]); process.exit(0); });
`;

describe('tscni-agent routed start-up', () => {
  const h = useHarness();
  let cluster: Cluster;
  let lab: RoutedLab;

  beforeAll(async () => {
    cluster = await createCluster(h, { nodesPerSegment: [1], etcd: { tls: true } });
    lab = new RoutedLab(h, cluster, await h.tempDir('run'));
    await lab.createPool('default', POOL_CIDR, 26);
  }, 60_000);

  afterAll(async () => {
    for (const name of [...lab.agents.keys()]) await lab.stopAgent(name);
    lab.killBirds(['tls', 'away', 'grouped']);
  });

  it('refuses bad flags, naming the flag, and creates nothing', async () => {
    const runDir = join(lab.baseDir, 'bad');
    const cases: [string[], string][] = [
      [['--ip', cluster.nodes[0]!.ip, '--as', '0'], '--as: 0 is out of range (1-4294967294)'],
      [['--ip', '10.250.0.999'], '--ip: "10.250.0.999" is not an IPv4 address'],
      [['--ip', cluster.nodes[0]!.ip, '--route-reflector'], '--route-reflector needs --cluster-id'],
      [['--ip', cluster.nodes[0]!.ip, '--etcd-endpoints', 'http://10.250.0.2:2379', '--etcd-cafile', '/nonexistent.pem'], 'is not https://'],
      [['--ip', cluster.nodes[0]!.ip, '--socket-group', 'no-such-group-tscni'], '--socket-group: no group "no-such-group-tscni" in /etc/group'],
    ];
    for (const [flags, message] of cases) {
      const r = await h.execIn(cluster.nodes[0]!, join(DIST_BIN, 'tscni-agent'), ['routed', '--node-name', 'bad', '--run-dir', runDir, ...flags], { reject: false });
      expect(r.exitCode, flags.join(' ')).toBe(2);
      expect(r.stderr).toContain(message);
    }
    expect((await h.execIn(cluster.nodes[0]!, 'ls', [lab.baseDir], { reject: false })).stdout).not.toContain('bad');
  });

  it('retries an etcd it cannot reach, and SIGTERM ends it cleanly', async () => {
    const a = lab.startAgent(cluster.nodes[0]!, 'away', [], ['--etcd-endpoints', 'http://10.250.0.99:2379']);
    await eventually('the agent says etcd is unreachable', async () => a.log.some((l) => / etcd-unreachable /.test(l)) || a.log.join('\n'), 20_000);
    expect(a.child.exitCode).toBeNull();
    expect(await lab.stopAgent('away')).toBe(0);
  }, 30_000);

  it('registers the node and serves IPAM over TLS with client certificates', async () => {
    lab.startAgent(cluster.nodes[0]!, 'tls');
    await eventually('node record', async () => (await lab.etcdctl(['get', '--print-value-only', '/tscni/v1/nodes/tls'])).includes(cluster.nodes[0]!.ip));
    const record = JSON.parse(await lab.etcdctl(['get', '--print-value-only', '/tscni/v1/nodes/tls']));
    expect(record).toMatchObject({ ip: cluster.nodes[0]!.ip, asn: 64512, routeReflector: false });
    expect(await lab.assign('tls', 'c1')).toBe('10.244.0.1');
  }, 30_000);

  it('with --socket-group: agent.sock is 0660 of that group, a member that is not root is served, others are refused', async () => {
    // a group every Debian has, that nobody (65534) is not in
    const gid = Number(readFileSync('/etc/group', 'utf8').split('\n').find((l) => l.startsWith('daemon:'))!.split(':')[2]);
    chmodSync(lab.baseDir, 0o755); // the temp dir is 0700: let the non-root clients reach the socket
    // one agent (and one BIRD) per node
    if (lab.agents.has('tls')) await lab.stopAgent('tls');
    lab.killBirds(['tls']);
    lab.startAgent(cluster.nodes[0]!, 'grouped', ['--socket-group', 'daemon']);
    await lab.assign('grouped', 'g1');
    const st = statSync(lab.socket('grouped'));
    expect([st.mode & 0o777, st.gid]).toEqual([0o660, gid]);
    // uid 65534 with the group as a supplementary one, then without it
    const ask = (groups: string[]) => h.execIn(cluster.nodes[0]!, 'setpriv', [
      '--reuid=65534', '--regid=65534', ...groups, process.execPath, '-e', POOLS_CLIENT, lab.socket('grouped'),
    ], { timeout: 30_000, reject: false });
    const member = await ask([`--groups=${gid}`]);
    expect(JSON.parse(member.stdout), member.stderr).toMatchObject({ ok: true, pools: [{ name: 'default' }] });
    const outsider = await ask(['--clear-groups']);
    const refused = JSON.parse(outsider.stdout);
    // the file's mode keeps it out; were it let through, the agent's credential check would refuse it (code 5)
    expect(refused.error === 'EACCES' || (refused.ok === false && refused.code === 5), outsider.stdout).toBe(true);
  }, 30_000);
});
