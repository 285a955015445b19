// `tscni overlay config set|get` end to end: the built executable in a node
// netns, etcd in the infra netns, and etcdctl (etcd's own client) as the
// oracle for what is stored. Bad input: non-zero exit, a message naming the
// problem, and nothing written.
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createCluster, DIST_BIN, INFRA_IP, startEtcd, useHarness, makeCertificates, type Cluster, type EtcdServer } from './harness';

const h = useHarness();
let cluster: Cluster;
let etcd: EtcdServer;
let badCase = 0;

function tscni(args: string[], env: Record<string, string> = {}) {
  return h.execIn(cluster.nodes[0]!, join(DIST_BIN, 'tscni'), ['overlay', ...args], { reject: false, env, timeout: 20_000 });
}

/** What etcd holds under `prefix`, read by etcdctl inside the infra netns. */
async function stored(prefix: string, endpoint = etcd.endpoints[0]!, tls: string[] = []): Promise<Record<string, string>> {
  const r = await h.execIn(cluster.infra, 'etcdctl', ['--endpoints', endpoint, ...tls, 'get', '--prefix', prefix, '-w', 'json'], {
    env: { ETCDCTL_API: '3' },
  });
  const kvs: { key: string; value: string }[] = JSON.parse(r.stdout).kvs ?? [];
  return Object.fromEntries(kvs.map((kv) => [Buffer.from(kv.key, 'base64').toString(), Buffer.from(kv.value, 'base64').toString()]));
}

beforeAll(async () => {
  cluster = await createCluster(h, { nodesPerSegment: [1], etcd: true });
  etcd = cluster.etcd!;
});

describe('tscni overlay config', () => {
  it('set writes flannel\'s JSON with vxlan\'s defaults, get prints it', async () => {
    const set = await tscni(['config', 'set', '--network', '10.244.0.0/16', '--backend', 'vxlan', '--etcd-endpoints', etcd.endpoints[0]!]);
    expect(set.exitCode, set.stderr).toBe(0);
    const json = '{"Network":"10.244.0.0/16","SubnetLen":24,"Backend":{"Type":"vxlan","VNI":1,"Port":8472,"DirectRouting":false}}';
    expect(await stored('/coreos.com/network/')).toEqual({ '/coreos.com/network/config': json });
    const get = await tscni(['config', 'get', `--etcd-endpoints=${etcd.endpoints[0]}`]);
    expect(get.exitCode, get.stderr).toBe(0);
    expect(get.stdout).toBe(json + '\n');
  });

  it('takes every backend setting, its own prefix, and ETCD_ENDPOINTS from the environment', async () => {
    const env = { ETCD_ENDPOINTS: etcd.endpoints[0]! };
    const vxlan = await tscni(['config', 'set', '--network', '10.244.0.0/16', '--subnet-len', '26', '--backend', 'vxlan',
      '--vni', '4096', '--port', '4789', '--direct-routing', '--etcd-prefix', '/tscni-test/vx'], env);
    expect(vxlan.exitCode, vxlan.stderr).toBe(0);
    const udp = await tscni(['config', 'set', '--network', '10.246.0.0/20', '--backend', 'udp', '--port', '9000', '--etcd-prefix', '/tscni-test/udp'], env);
    expect(udp.exitCode, udp.stderr).toBe(0);
    const hostGw = await tscni(['config', 'set', '--network', '10.247.0.0/16', '--backend', 'host-gw', '--etcd-prefix', '/tscni-test/hgw'], env);
    expect(hostGw.exitCode, hostGw.stderr).toBe(0);
    expect(await stored('/tscni-test/')).toEqual({
      '/tscni-test/vx/config': '{"Network":"10.244.0.0/16","SubnetLen":26,"Backend":{"Type":"vxlan","VNI":4096,"Port":4789,"DirectRouting":true}}',
      '/tscni-test/udp/config': '{"Network":"10.246.0.0/20","SubnetLen":24,"Backend":{"Type":"udp","Port":9000}}',
      '/tscni-test/hgw/config': '{"Network":"10.247.0.0/16","SubnetLen":24,"Backend":{"Type":"host-gw"}}',
    });
  });

  it('get prints a config flanneld\'s operator wrote with etcdctl, warns when it is not valid, and says when there is none', async () => {
    const flannelStyle = '{"Network": "10.248.0.0/16", "Backend": {"Type": "vxlan"}}';
    await h.execIn(cluster.infra, 'etcdctl', ['--endpoints', etcd.endpoints[0]!, 'put', '/tscni-test/byhand/config', flannelStyle], { env: { ETCDCTL_API: '3' } });
    const get = await tscni(['config', 'get', '--etcd-prefix', '/tscni-test/byhand'], { ETCD_ENDPOINTS: etcd.endpoints[0]! });
    expect(get.stdout).toBe(flannelStyle + '\n');
    const broken = '{"Network": "10.248.0.0/16", "Backend": {"Type": "ipip"}}';
    await h.execIn(cluster.infra, 'etcdctl', ['--endpoints', etcd.endpoints[0]!, 'put', '/tscni-test/broken/config', broken], { env: { ETCDCTL_API: '3' } });
    const warned = await tscni(['config', 'get', '--etcd-prefix', '/tscni-test/broken'], { ETCD_ENDPOINTS: etcd.endpoints[0]! });
    expect([warned.exitCode, warned.stdout]).toEqual([0, broken + '\n']);
    expect(warned.stderr).toBe('tscni: warning: the stored config is not valid: Backend.Type: unknown backend type "ipip" (one of vxlan, host-gw, udp)\n');
    const none = await tscni(['config', 'get', '--etcd-prefix', '/tscni-test/nothing'], { ETCD_ENDPOINTS: etcd.endpoints[0]! });
    expect(none.exitCode).toBe(1);
    expect(none.stderr).toBe('tscni: overlay config get: no config at /tscni-test/nothing/config\n');
  });

  it.each([
    [['--network', '10.244.0.0/26', '--subnet-len', '24', '--backend', 'vxlan'], '--network (Network): 10.244.0.0/26 is smaller than one /24 subnet'],
    [['--network', '10.244.0.0/16', '--subnet-len', '16', '--backend', 'vxlan'], '--subnet-len (SubnetLen): /16 must be at least /18'],
    [['--network', '10.244.0.0/16', '--subnet-len', '31', '--backend', 'vxlan'], '--subnet-len (SubnetLen): /31 is longer than 30'],
    [['--network', '10.244.0.0/16', '--backend', 'wireguard'], '--backend (Backend.Type): unknown backend type "wireguard" (one of vxlan, host-gw, udp)'],
    [['--network', '10.244.0.0/16', '--backend', 'vxlan', '--vni', '16777216'], '--vni (Backend.VNI): 16777216 is out of range'],
    [['--network', '10.244.0.0/16', '--backend', 'vxlan', '--vni', 'one'], '--vni: "one" is not a whole number'],
    [['--network', '10.244.0.0/16', '--backend', 'host-gw', '--port', '8285'], '--port (Backend.Port): does not apply to the host-gw backend'],
    [['--network', '10.244.0.0/16'], '--backend is required'],
    [['--network', '10.244.0.0/16', '--backend', 'vxlan', '--etcd-cafile', '/nonexistent.pem'], '--etcd-endpoints: TLS files are given'],
  ])('set %j is refused: %s, and nothing is written', async (args, message) => {
    const prefix = `/tscni-test/bad-${++badCase}`;
    const r = await tscni(['config', 'set', ...args, '--etcd-prefix', prefix, '--etcd-endpoints', etcd.endpoints[0]!]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`tscni: overlay config set: ${message}`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(await stored(`${prefix}/`)).toEqual({});
  });

  it('an unreachable etcd is a one-line error naming it, exit 1', async () => {
    const dead = `http://${INFRA_IP}:2390`;
    const r = await tscni(['config', 'set', '--network', '10.244.0.0/16', '--backend', 'vxlan', '--etcd-endpoints', dead]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toBe(`tscni: overlay config set: etcd unreachable: ${dead}: connect ECONNREFUSED ${INFRA_IP}:2390\n`);
    const get = await tscni(['config', 'get'], { ETCD_ENDPOINTS: dead });
    expect(get.exitCode).toBe(1);
    expect(get.stderr).toMatch(/^tscni: overlay config get: etcd unreachable: /);
  });

  it('works over TLS with the CA and client certificate from calicoctl\'s variables', async () => {
    const certs = await makeCertificates(await h.tempDir('certs'), [INFRA_IP]);
    const secure = await startEtcd(h, cluster.infra, { ips: [INFRA_IP], port: 2579, tls: certs });
    const env = { ETCD_ENDPOINTS: secure.endpoints[0]!, ETCD_CA_CERT_FILE: certs.caFile, ETCD_CERT_FILE: certs.clientCert, ETCD_KEY_FILE: certs.clientKey };
    const set = await tscni(['config', 'set', '--network', '10.244.0.0/16', '--backend', 'host-gw'], env);
    expect(set.exitCode, set.stderr).toBe(0);
    const tls = ['--cacert', certs.caFile, '--cert', certs.clientCert, '--key', certs.clientKey];
    expect(await stored('/coreos.com/network/', secure.endpoints[0], tls)).toEqual({
      '/coreos.com/network/config': '{"Network":"10.244.0.0/16","SubnetLen":24,"Backend":{"Type":"host-gw"}}',
    });
    const noCert = await tscni(['config', 'get'], { ETCD_ENDPOINTS: secure.endpoints[0]!, ETCD_CA_CERT_FILE: certs.caFile });
    expect(noCert.exitCode).toBe(1);
    expect(noCert.stderr).toContain('TLS handshake failed');
    await secure.stop();
  });
});
