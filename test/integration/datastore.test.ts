// lib/datastore against a real etcd: clients in node namespaces, etcd in the
// cluster's infra namespace, across the fabric. CRUD, leases that expire,
// create-if-absent under contention, watches across an etcd restart, TLS with
// client certificates, fail-over between endpoints, and an unreachable etcd.
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ETCD_CLIENT_PORT, ip, startEtcd, useHarness, createCluster, makeCertificates, INFRA_IP, type Cluster, type EtcdServer } from './harness';
import { RemoteEtcd } from './datastore-remote';
import { bundleFixture } from './fixture-bundle';

const h = useHarness();
let cluster: Cluster;
let etcd: EtcdServer;
let driver: string;
const remotes: RemoteEtcd[] = [];

// The executables are compiled by Bun, so the client must work there as it does under Node.
const bun = join(dirname(createRequire(import.meta.url).resolve('@oven/bun-linux-x64/package.json')), 'bin/bun');

function client(nodeIndex: number, flags: Record<string, string> = {}, env: Record<string, string> = {}, runtime?: string): RemoteEtcd {
  const r = RemoteEtcd.start(h, driver, cluster.nodes[nodeIndex]!, { 'etcd-endpoints': etcd.endpoints.join(','), ...flags }, env, runtime);
  remotes.push(r);
  return r;
}

beforeAll(async () => {
  driver = await bundleFixture('datastore-driver.ts', await h.tempDir('driver'));
  cluster = await createCluster(h, { nodesPerSegment: [3], etcd: true });
  etcd = cluster.etcd!;
});
afterAll(async () => {
  for (const r of remotes) await r.close();
});

describe('etcd key-value', () => {
  it('puts, gets, lists by prefix and deletes, with revisions', async () => {
    const c = client(0);
    const r1 = await c.call('put', '/t/crud/a', 'one');
    const r2 = await c.call('put', '/t/crud/b', 'two');
    await c.call('put', '/t/crudx', 'outside the prefix');
    expect(r2).toBeGreaterThan(r1);
    const a = await c.call('get', '/t/crud/a');
    expect(a).toMatchObject({ key: '/t/crud/a', value: 'one', createRevision: r1, modRevision: r1, version: 1, lease: '0' });
    const listed = await c.call('getPrefix', '/t/crud/');
    expect(listed.kvs.map((kv: any) => [kv.key, kv.value])).toEqual([['/t/crud/a', 'one'], ['/t/crud/b', 'two']]);
    expect(listed.revision).toBeGreaterThanOrEqual(r2);
    expect(await c.call('delete', '/t/crud/', true)).toBe(2);
    expect(await c.call('get', '/t/crud/a')).toBeNull();
    expect((await c.call('get', '/t/crudx')).value).toBe('outside the prefix');
  });

  it('keeps non-ASCII keys and values intact through base64', async () => {
    const c = client(1);
    await c.call('put', '/t/utf8/ключ', '{"MAC":"ee:ee","note":"ü ✓"}');
    expect((await c.call('get', '/t/utf8/ключ')).value).toBe('{"MAC":"ee:ee","note":"ü ✓"}');
  });

  it('names the endpoint and etcd\'s reason when etcd refuses a request', async () => {
    const c = client(0);
    await expect(c.call('put', '/t/bad-lease', 'x', '12345')).rejects.toThrow(
      `etcd ${etcd.endpoints[0]}/v3/kv/put: etcdserver: requested lease not found`);
  });
});

describe('etcd leases', () => {
  it('a key bound to a lease goes away when the lease expires', async () => {
    const c = client(0);
    const lease = await c.call('leaseGrant', 2);
    expect(lease.ttl).toBe(2);
    await c.call('put', '/t/lease/short', 'v', lease.id);
    expect((await c.call('get', '/t/lease/short')).lease).toBe(lease.id);
    expect((await c.call('leaseTimeToLive', lease.id)).keys).toEqual(['/t/lease/short']);
    const w = await c.watch('/t/lease/');
    await w.until('the expiry', () => w.events.some((e) => e.type === 'delete' && e.kv.key === '/t/lease/short'));
    expect(await c.call('get', '/t/lease/short')).toBeNull();
    expect(await c.call('leaseTimeToLive', lease.id)).toBeNull();
    expect(await c.call('leaseKeepAlive', lease.id)).toBeNull();
    await w.close();
  });

  it('keep-alives hold a lease past its TTL, and revoking it deletes its keys', async () => {
    const c = client(1);
    const lease = await c.call('leaseGrant', 2);
    await c.call('put', '/t/lease/kept', 'v', lease.id);
    for (let i = 0; i < 8; i++) {
      expect(await c.call('leaseKeepAlive', lease.id)).toBe(2);
      await new Promise((r) => setTimeout(r, 500));
    }
    expect((await c.call('get', '/t/lease/kept')).value).toBe('v');
    await c.call('leaseRevoke', lease.id);
    expect(await c.call('get', '/t/lease/kept')).toBeNull();
    await c.call('leaseRevoke', lease.id); // already gone: not an error
  });
});

describe('etcd transactions', () => {
  it('create-if-absent: of many writers on three nodes exactly one wins, the rest see its value', async () => {
    const writers = [0, 1, 2, 0, 1, 2].map((n) => client(n));
    const results = await Promise.all(writers.map((w, i) => w.call('createIfAbsent', '/t/txn/once', `writer ${i}`)));
    const winners = results.filter((r) => r.created);
    expect(winners).toHaveLength(1);
    const stored = await writers[0]!.call('get', '/t/txn/once');
    for (const r of results.filter((x) => !x.created)) expect(r.existing.value).toBe(stored.value);
    expect(stored.version).toBe(1);
  });

  it('compare-on-mod-revision: of two updates from one revision only the first lands', async () => {
    const [a, b] = [client(0), client(2)];
    const rev = await a.call('put', '/t/txn/cas', 'v0');
    const first = await a.call('putIfModRevision', '/t/txn/cas', 'from a', rev);
    const second = await b.call('putIfModRevision', '/t/txn/cas', 'from b', rev);
    expect(first.succeeded).toBe(true);
    expect(second).toMatchObject({ succeeded: false, current: { value: 'from a', modRevision: first.revision } });
  });

  it('flannel subnet leases: one node gets a subnet, a second is refused, both read the lease', async () => {
    const [a, b] = [client(0), client(1)];
    const la = await a.call('leaseGrant', 30);
    const lb = await b.call('leaseGrant', 30);
    const value = (ip: string) => ({ PublicIP: ip, BackendType: 'vxlan', BackendData: { VNI: 1, VtepMAC: '0e:00:00:00:00:0b' } });
    const [ra, rb] = await Promise.all([
      a.call('claimSubnet', '10.244.5.0/24', value(cluster.nodes[0]!.ip), la.id),
      b.call('claimSubnet', '10.244.5.0/24', value(cluster.nodes[1]!.ip), lb.id),
    ]);
    expect([ra.claimed, rb.claimed].filter(Boolean)).toHaveLength(1);
    const listed = await b.call('listSubnetLeases');
    expect(listed.leases).toHaveLength(1);
    expect(listed.leases[0].key).toBe('/coreos.com/network/subnets/10.244.5.0-24');
    expect([cluster.nodes[0]!.ip, cluster.nodes[1]!.ip]).toContain(listed.leases[0].lease.PublicIP);
    await a.call('leaseRevoke', la.id);
    await b.call('leaseRevoke', lb.id);
    expect((await b.call('listSubnetLeases')).leases).toEqual([]);
  });
});

/** A watcher on node 0 that has seen `<prefix>before`, and a writer on node 1. */
async function watchingAfterOnePut(prefix: string) {
  const [watcher, writer] = [client(0), client(1)];
  const w = await watcher.watch(prefix);
  await writer.call('put', `${prefix}before`, 'x');
  await w.until('the first event', () => w.events.length === 1);
  return { writer, w };
}

describe('etcd watch', () => {
  it('sees puts and deletes in order, with the previous value', async () => {
    const [watcher, writer] = [client(0), client(1)];
    const w = await watcher.watch('/t/watch/');
    await writer.call('put', '/t/watch/a', '1');
    await writer.call('put', '/t/watch/a', '2');
    await writer.call('delete', '/t/watch/a');
    await writer.call('put', '/t/watchx', 'not under the prefix');
    await w.until('three events', () => w.events.length >= 3);
    expect(w.events.map((e) => [e.type, e.kv.key, e.kv.value, e.prevKv?.value])).toEqual([
      ['put', '/t/watch/a', '1', undefined], ['put', '/t/watch/a', '2', '1'], ['delete', '/t/watch/a', '', '2'],
    ]);
    await w.close();
  });

  it('replays from a start revision', async () => {
    const c = client(2);
    const rev = await c.call('put', '/t/replay/k', 'old');
    await c.call('put', '/t/replay/k', 'new');
    const w = await c.watch('/t/replay/', rev);
    await w.until('the replay', () => w.events.length >= 2);
    expect(w.events.map((e) => e.kv.value)).toEqual(['old', 'new']);
    await w.close();
  });

  it('reports a compacted start revision instead of skipping events', async () => {
    const c = client(0);
    const rev = await c.call('put', '/t/compact/k', '1');
    const now = await c.call('put', '/t/compact/k', '2');
    await c.call('compact', now);
    const w = await c.watch('/t/compact/', rev);
    await w.until('compaction', () => w.compactRevision !== undefined);
    expect(w.compactRevision).toBe(now);
    expect(w.events).toEqual([]);
  });

  it('survives an etcd restart and delivers what was written while it was away, once', async () => {
    const { writer, w } = await watchingAfterOnePut('/t/restart/');
    const watcherNode = cluster.nodes[0]!;
    await etcd.stop();
    await w.until('the stream to break', () => w.connections.some((c) => !c.up));
    // The watcher stays cut off while etcd comes back and takes a write, so
    // only a reconnect from the right revision can deliver that write.
    await ip(watcherNode, ['link', 'set', 'dev', 'eth0', 'down']);
    etcd = await startEtcd(h, cluster.infra, { ips: [INFRA_IP], dataDir: etcd.dataDir });
    await writer.call('put', '/t/restart/meanwhile', 'y');
    await ip(watcherNode, ['link', 'set', 'dev', 'eth0', 'up']);
    await w.until('the event written meanwhile', () => w.events.length >= 2);
    await writer.call('put', '/t/restart/after', 'z');
    await w.until('the event after', () => w.events.length >= 3);
    expect(w.events.map((e) => e.kv.key)).toEqual(['/t/restart/before', '/t/restart/meanwhile', '/t/restart/after']);
    expect(w.connections.at(-1)!.up).toBe(true);
    await w.close();
  });

  it('replaces a connection that died silently: etcd restarted and its FIN never arrived', async () => {
    const { writer, w } = await watchingAfterOnePut('/t/silent/');
    const watcherNode = cluster.nodes[0]!;
    // The watcher's node loses every FIN and RST from etcd, as behind a
    // partition: its stream looks alive after the restart, and never speaks again.
    await h.execIn(watcherNode, 'nft', ['-f', '-'], { input: `table inet silent {
      chain input { type filter hook input priority 0; ip saddr ${INFRA_IP} tcp sport ${ETCD_CLIENT_PORT} tcp flags & (fin | rst) != 0 drop; }
    }` });
    try {
      await etcd.stop('SIGKILL'); // no goodbye at the HTTP level either
      etcd = await startEtcd(h, cluster.infra, { ips: [INFRA_IP], dataDir: etcd.dataDir });
      await writer.call('put', '/t/silent/meanwhile', 'y');
      await w.until('the event written meanwhile', () => w.events.length >= 2);
    } finally {
      await h.execIn(watcherNode, 'nft', ['delete', 'table', 'inet', 'silent']);
    }
    expect(w.events.map((e) => e.kv.key)).toEqual(['/t/silent/before', '/t/silent/meanwhile']);
    await w.close();
  });
});

describe('etcd answers that are too large or not etcd\'s', () => {
  const CAPPED = { TSCNI_TEST_MAX_RESPONSE_BYTES: '4096' };

  it('refuses an answer larger than the cap instead of reading it all', async () => {
    await client(1).call('put', '/t/cap/large', 'x'.repeat(10_000));
    const r = await client(0, {}, CAPPED).attempt('get', '/t/cap/large');
    expect((r as { error: string }).error).toMatch(/the answer is larger than 4096 bytes/);
  });

  it('ends a watch stream whose message is larger than the cap, and says so', async () => {
    const c = client(0, {}, CAPPED);
    const w = await c.watch('/t/capwatch/');
    await client(1).call('put', '/t/capwatch/large', 'x'.repeat(10_000));
    await w.until('the stream ended', () => w.connections.some((x) => !x.up));
    expect(w.connections.find((x) => !x.up)!.reason).toMatch(/a watch message is larger than 4096 bytes/);
    expect(w.events).toEqual([]);
    await w.close();
  });

  it('hands the events of a handler that threw again, instead of passing them', async () => {
    const c = client(2);
    const w = await c.watch('/t/failed/', undefined, 1);
    await client(1).call('put', '/t/failed/k', 'v');
    await w.until('the events again', () => w.events.length >= 1);
    expect(w.failedEvents.map((e) => e.kv.value)).toEqual(['v']);
    expect(w.events.map((e) => e.kv.value)).toEqual(['v']);
    await w.close();
  });

  it('takes a watch line that is not JSON as a broken stream: reported, reopened from the same revision, no exit', async () => {
    // A gateway that garbles its first stream after confirming the watch, then serves a good one.
    const node = cluster.nodes[1]!;
    const gateway = h.startDaemon(node, process.execPath, ['-e', `
      const b64 = (s) => Buffer.from(s).toString('base64');
      let streams = 0;
      require('http').createServer((req, res) => {
        let body = '';
        req.on('data', (d) => (body += d));
        req.on('end', () => {
          console.log(body);
          res.writeHead(200, { 'content-type': 'application/json' });
          res.write(JSON.stringify({ result: { header: { revision: '6' }, created: true } }) + '\\n');
          if (++streams === 1) return res.write('this is not json\\n');
          const kv = { key: b64('/t/garbled/k'), value: b64('v'), create_revision: '7', mod_revision: '7', version: '1' };
          res.write(JSON.stringify({ result: { header: { revision: '7' }, events: [{ kv }] } }) + '\\n');
        });
      }).listen(2399, '127.0.0.1', () => console.log('listening'));
      setTimeout(() => process.exit(0), 60000);`]);
    const bodies: string[] = [];
    await new Promise<void>((resolve) => createInterface({ input: gateway.stdout! }).on('line', (l) => (l === 'listening' ? resolve() : bodies.push(l))));
    const c = client(1, { 'etcd-endpoints': 'http://127.0.0.1:2399' });
    const w = await c.watch('/t/garbled/', 6);
    await w.until('the event of the second stream', () => w.events.length >= 1);
    expect(w.connections.find((x) => !x.up)!.reason).toMatch(/not JSON: this is not json/);
    expect(w.events.map((e) => e.kv.key)).toEqual(['/t/garbled/k']);
    expect(bodies.map((b) => JSON.parse(b).create_request.start_revision)).toEqual(['6', '6']);
    expect(c.child.exitCode).toBeNull();
    await w.close();
  });
});

describe('etcd endpoints', () => {
  it('fails over to the next endpoint when one refuses connections', async () => {
    const c = client(0, { 'etcd-endpoints': `http://${INFRA_IP}:2390,${etcd.endpoints[0]}` });
    expect(await c.call('put', '/t/failover/refused', 'ok')).toBeGreaterThan(0);
  });

  it('fails over when the member it uses goes away mid-session', async () => {
    // A second member address: etcd on two addresses of the infra netns.
    await ip(cluster.infra, ['addr', 'add', '10.250.0.4/24', 'dev', 'eth0']);
    const two = await startEtcd(h, cluster.infra, { ips: ['10.250.0.4', INFRA_IP], port: 2479 });
    const c = client(1, { 'etcd-endpoints': two.endpoints.join(',') });
    await c.call('put', '/t/failover/first', 'via 10.250.0.4');
    await ip(cluster.infra, ['addr', 'del', '10.250.0.4/24', 'dev', 'eth0']);
    await c.call('put', '/t/failover/second', 'via 10.250.0.2');
    expect((await c.call('get', '/t/failover/first')).value).toBe('via 10.250.0.4');
    await two.stop();
  });

  it('an unreachable etcd is a clear error naming every endpoint', async () => {
    const c = client(2, { 'etcd-endpoints': `http://${INFRA_IP}:2390,http://10.250.0.99:2379` });
    const r = await c.attempt('get', '/t/x');
    expect(r).toMatchObject({ name: 'EtcdUnreachableError' });
    const msg = (r as { error: string }).error;
    expect(msg).toMatch(new RegExp(`^etcd unreachable: http://${INFRA_IP}:2390: connect ECONNREFUSED`));
    expect(msg).toMatch(/http:\/\/10\.250\.0\.99:2379: (no answer within 2000 ms|connect EHOSTUNREACH)/);
  });
});

describe('etcd over TLS with client certificates', () => {
  let secure: EtcdServer;
  let certs: Awaited<ReturnType<typeof makeCertificates>>;
  beforeAll(async () => {
    certs = await makeCertificates(await h.tempDir('certs'), [INFRA_IP]);
    secure = await startEtcd(h, cluster.infra, { ips: [INFRA_IP], port: 2579, tls: certs });
  });
  afterAll(() => secure.stop());

  it('works with the CA, client certificate and key as flags', async () => {
    const c = client(0, {
      'etcd-endpoints': secure.endpoints[0]!, 'etcd-cafile': certs.caFile, 'etcd-certfile': certs.clientCert, 'etcd-keyfile': certs.clientKey,
    });
    await c.call('put', '/t/tls', 'secret');
    expect((await c.call('get', '/t/tls')).value).toBe('secret');
  });

  it('works with calicoctl\'s environment variables', async () => {
    const c = client(1, { 'etcd-endpoints': secure.endpoints[0]! }, {
      ETCD_CA_CERT_FILE: certs.caFile, ETCD_CERT_FILE: certs.clientCert, ETCD_KEY_FILE: certs.clientKey,
    });
    expect((await c.call('get', '/t/tls')).value).toBe('secret');
  });

  it('is refused without a client certificate', async () => {
    const c = client(2, { 'etcd-endpoints': secure.endpoints[0]!, 'etcd-cafile': certs.caFile });
    const r = await c.attempt('get', '/t/tls');
    expect(r).toMatchObject({ name: 'EtcdUnreachableError' });
    expect((r as { error: string }).error).toBe(`etcd unreachable: ${secure.endpoints[0]}: TLS handshake failed: `
      + 'sslv3 alert bad certificate (the member did not accept our client certificate, or got none)');
  });

  it('does not trust a member whose certificate another CA signed', async () => {
    const other = await makeCertificates(await h.tempDir('other-ca'), [INFRA_IP]);
    const c = client(2, {
      'etcd-endpoints': secure.endpoints[0]!, 'etcd-cafile': other.caFile, 'etcd-certfile': certs.clientCert, 'etcd-keyfile': certs.clientKey,
    });
    const r = await c.attempt('get', '/t/tls');
    expect((r as { error: string }).error).toBe(`etcd unreachable: ${secure.endpoints[0]}: unable to verify the first certificate`);
  });

  it('works under Bun too: TLS, a watch that sees a lease expire, and fail-over', async () => {
    const c = client(0, {
      'etcd-endpoints': `https://${INFRA_IP}:2590,${secure.endpoints[0]}`,
      'etcd-cafile': certs.caFile, 'etcd-certfile': certs.clientCert, 'etcd-keyfile': certs.clientKey,
    }, {}, bun);
    const w = await c.watch('/t/bun/');
    const lease = await c.call('leaseGrant', 2);
    await c.call('put', '/t/bun/leased', 'v', lease.id);
    expect((await c.call('createIfAbsent', '/t/bun/leased', 'w')).created).toBe(false);
    await w.until('put and expiry', () => w.events.length >= 2);
    expect(w.events.map((e) => [e.type, e.kv.key])).toEqual([['put', '/t/bun/leased'], ['delete', '/t/bun/leased']]);
    const noCert = client(1, { 'etcd-endpoints': secure.endpoints[0]!, 'etcd-cafile': certs.caFile }, {}, bun);
    expect(await noCert.attempt('get', '/t/bun/leased')).toMatchObject({ name: 'EtcdUnreachableError' });
    await w.close();
  });
});
