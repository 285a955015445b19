// Test fixture: the agent's cluster IPAM service on its own: a
// ClusterIpamStore over a real etcd, served on a unix socket by
// serveClusterIpam, exactly as the agent serves it. Run in a node netns, so
// its etcd connection starts where the agent's would. Prints "ready" once
// the socket listens; stops when stdin closes.
// argv[2]: {"etcd": {--etcd-* flags}, "node": name, "socket": path, "group"?: gid also let in, "resendFirstWrite"?: true}
// resendFirstWrite: the first compare-and-put reaches etcd twice, as when its
// answer is lost to a timeout and the transport sends it to the next endpoint.
import { EtcdClient } from '../../lib/datastore/etcd';
import { etcdSettings, type EtcdFlag } from '../../lib/datastore/etcd-options';
import { serveClusterIpam } from '../../lib/ipam/cluster/server';
import { ClusterIpamStore, DEFAULT_ROUTED_PREFIX } from '../../lib/ipam/cluster/store';

const opts = JSON.parse(process.argv[2]!) as { etcd: Partial<Record<EtcdFlag, string>>; node: string; socket: string; group?: number; resendFirstWrite?: boolean };
const settings = etcdSettings(opts.etcd, process.env, DEFAULT_ROUTED_PREFIX);
const client = new EtcdClient(settings.connection);
if (opts.resendFirstWrite) {
  const putIfModRevision = client.putIfModRevision.bind(client);
  let resent = false;
  client.putIfModRevision = async (...args) => {
    if (!resent) {
      resent = true;
      await putIfModRevision(...args); // applied; its answer never arrives
    }
    return putIfModRevision(...args);
  };
}
const store = new ClusterIpamStore(client, settings.prefix, opts.node);

serveClusterIpam(opts.socket, store, opts.group !== undefined ? { group: opts.group } : {}).then((server) => {
  process.stdout.write('ready\n');
  process.stdin.on('data', () => undefined);
  process.stdin.on('end', async () => {
    await server.close();
    client.close();
    process.exit(0);
  });
}, (e: unknown) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
