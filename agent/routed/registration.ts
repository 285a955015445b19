// The node's record in etcd, and its heartbeat. The record is written at
// start, retrying while etcd is unreachable (the agent starts before etcd on
// a rebooting cluster), and written again when it disappears under the
// running agent: the node is not gone. The heartbeat is a key on a lease that
// says the agent runs.
import type { EtcdClient } from '../../lib/datastore/etcd';
import { aliveKey, decodeNode, nodeKey, registerNode, type RoutedNode } from '../../lib/datastore/routed-nodes';
import { vtepMac } from '../vtep/vtep-mac';
import type { Logger } from '../log';
import { Heartbeat, HEARTBEAT_TTL_S } from './heartbeat';
import type { RoutedOptions } from './options';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Registration {
  private registering: Promise<void> | undefined;
  private readonly heartbeat: Heartbeat;

  /** `registered` runs after each registration again, when the record is back. */
  constructor(
    private readonly client: EtcdClient,
    private readonly opts: RoutedOptions,
    private readonly ip: string,
    private readonly stopped: () => boolean,
    private readonly logger: Logger,
    private readonly registered: () => void,
  ) {
    this.heartbeat = new Heartbeat(client, opts.etcd.prefix, opts.node);
  }

  /** Registers the node, retrying while etcd is unreachable. */
  async register(): Promise<void> {
    const { opts, ip, client } = this;
    const record: RoutedNode = {
      name: opts.node, ip, ...(opts.ip6 ? { ip6: opts.ip6 } : {}), asn: opts.asn, routeReflector: opts.routeReflector,
      ...(opts.clusterId ? { clusterId: opts.clusterId } : {}), vtepMAC: vtepMac(opts.node),
    };
    for (let delay = 500; !this.stopped(); delay = Math.min(delay * 2, 5_000)) {
      try {
        // A restart keeps the tunnel address: the peers' routes and neighbours point at it.
        const before = await client.get(nodeKey(opts.etcd.prefix, opts.node));
        const old = before ? decodeNode(opts.node, before.value) : undefined;
        if (typeof old === 'object' && old.tunnelAddress) record.tunnelAddress = old.tunnelAddress;
        await registerNode(client, opts.etcd.prefix, record);
        this.logger.event('node-registered', { node: opts.node, ip, ip6: opts.ip6, asn: opts.asn, reflector: opts.routeReflector ? opts.clusterId : undefined });
        return;
      } catch (e) {
        this.logger.event('etcd-unreachable', { error: (e as Error).message, retry_ms: delay });
        await sleep(delay);
      }
    }
  }

  /** Writes the node's record again when it disappears under the running agent; one at a time. */
  reregister(): void {
    this.registering ??= this.register().finally(() => {
      this.registering = undefined;
      this.registered();
    });
  }

  async beat(): Promise<void> {
    try {
      if ((await this.heartbeat.beat()) === 'started') this.logger.event('heartbeat', { key: aliveKey(this.opts.etcd.prefix, this.opts.node), ttl: HEARTBEAT_TTL_S });
    } catch (e) {
      this.logger.once('heartbeat', 'heartbeat-failed', { error: (e as Error).message });
    }
  }

  /** The heartbeat ends; its key goes with its lease. */
  async stop(): Promise<void> {
    await this.heartbeat.stop().catch((e: Error) => this.logger.event('heartbeat-failed', { error: e.message, why: 'it ends with its lease' }));
  }
}
