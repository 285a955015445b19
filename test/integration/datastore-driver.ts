// Test fixture: lib/datastore as a small program, bundled by the test and run
// with `ip netns exec` in a node netns, so every etcd connection starts where
// an agent's would, crosses the fabric to the infra netns, and the test
// process itself never opens a socket outside its own namespace.
// One JSON request per stdin line, {id, op, args}; one answer per request,
// {id, value} or {id, error}; watch events arrive as {watch, ...} lines.
import { createInterface } from 'node:readline';
import { EtcdClient } from '../../lib/datastore/etcd';
import { etcdSettings, type EtcdFlag } from '../../lib/datastore/etcd-options';
import { watchPrefix, type Watch } from '../../lib/datastore/etcd-watch';
import { claimSubnet, listSubnetLeases } from '../../lib/datastore/flannel';
import { parseCidr, type Cidr } from '../../lib/ip/address';

const settings = etcdSettings(JSON.parse(process.argv[2] ?? '{}') as Partial<Record<EtcdFlag, string>>, process.env);
// TSCNI_TEST_MAX_RESPONSE_BYTES: a small cap, for the tests of the cap
const maxResponseBytes = process.env.TSCNI_TEST_MAX_RESPONSE_BYTES ? Number(process.env.TSCNI_TEST_MAX_RESPONSE_BYTES) : undefined;
const client = new EtcdClient({ ...settings.connection, timeoutMs: 2000, ...(maxResponseBytes ? { maxResponseBytes } : {}) });
const watches = new Map<number, Watch>();
const send = (msg: unknown) => process.stdout.write(JSON.stringify(msg) + '\n');

const ops: Record<string, (...args: any[]) => unknown> = {
  get: (key: string) => client.get(key),
  getPrefix: (prefix: string) => client.getPrefix(prefix),
  put: (key: string, value: string, lease?: string) => client.put(key, value, { lease }),
  delete: (key: string, prefix?: boolean) => client.delete(key, { prefix }),
  createIfAbsent: (key: string, value: string, lease?: string) => client.createIfAbsent(key, value, { lease }),
  putIfModRevision: (key: string, value: string, rev: number) => client.putIfModRevision(key, value, rev),
  compact: (revision: number) => client.transport.call('/v3/kv/compaction', { revision: String(revision), physical: true }),
  leaseGrant: (ttl: number) => client.leaseGrant(ttl),
  leaseKeepAlive: (id: string) => client.leaseKeepAlive(id),
  leaseTimeToLive: (id: string) => client.leaseTimeToLive(id),
  leaseRevoke: (id: string) => client.leaseRevoke(id),
  claimSubnet: (subnet: string, lease: any, leaseId: string) => claimSubnet(client, settings.prefix, parseCidr(subnet) as Cidr, lease, leaseId),
  listSubnetLeases: async () => {
    const r = await listSubnetLeases(client, settings.prefix);
    return { ...r, leases: r.leases.map((l) => ({ key: l.kv.key, lease: l.lease })) };
  },
  // failFirst: that many deliveries make onEvents throw (reported as failedEvents), as a failing handler would
  watch: (id: number, prefix: string, startRevision?: number, failFirst = 0) => {
    watches.set(id, watchPrefix(client, prefix, {
      onEvents: (events, revision) => {
        if (failFirst-- > 0) {
          send({ watch: id, failedEvents: events });
          throw new Error('the handler failed');
        }
        send({ watch: id, events, revision });
      },
      onCompacted: (compactRevision) => send({ watch: id, compactRevision }),
      onConnection: (up, reason) => send({ watch: id, up, reason }),
    }, { startRevision, minBackoffMs: 100, maxBackoffMs: 500, idleReopenMs: 1000 }));
  },
  unwatch: (id: number) => watches.get(id)?.close(),
};

createInterface({ input: process.stdin }).on('line', async (line) => {
  const { id, op, args } = JSON.parse(line) as { id: number; op: string; args: unknown[] };
  try {
    const fn = ops[op];
    if (!fn) throw new Error(`unknown op ${op}`);
    send({ id, value: (await fn(...args)) ?? null });
  } catch (e) {
    send({ id, error: (e as Error).message, name: (e as Error).name });
  }
}).on('close', () => {
  for (const w of watches.values()) w.close();
  client.close();
});
