// The agent's heartbeat: <prefix>/nodes-alive/<node>, bound to an etcd lease
// of HEARTBEAT_TTL_S seconds that the agent renews every third of it. The
// node record stays when the agent stops (peers keep its routes through a
// restart); the heartbeat does not, so together they tell a node that is
// gone (no record, no heartbeat) from one whose record was deleted under a
// running agent, which `tscni ipam release` must never take blocks from.
import type { EtcdClient, LeaseId } from '../../lib/datastore/etcd';
import { aliveKey } from '../../lib/datastore/routed-nodes';

export const HEARTBEAT_TTL_S = 10;
export const HEARTBEAT_EVERY_MS = (HEARTBEAT_TTL_S * 1000) / 3;

export class Heartbeat {
  private lease?: LeaseId;

  constructor(private readonly client: EtcdClient, private readonly prefix: string, private readonly node: string) {}

  private get key(): string {
    return aliveKey(this.prefix, this.node);
  }

  /**
   * Renews the lease; when etcd forgot it (expired while etcd was out of
   * reach, or never granted), takes a new one and writes the key with it.
   * A key deleted by hand under a live lease is written again. Returns
   * 'started' when it wrote the key anew.
   */
  async beat(): Promise<'started' | 'renewed'> {
    const value = JSON.stringify({ pid: process.pid });
    if (this.lease !== undefined && (await this.client.leaseKeepAlive(this.lease)) !== undefined) {
      const r = await this.client.createIfAbsent(this.key, value, { lease: this.lease });
      return r.created ? 'started' : 'renewed';
    }
    const { id } = await this.client.leaseGrant(HEARTBEAT_TTL_S);
    await this.client.put(this.key, value, { lease: id });
    this.lease = id;
    return 'started';
  }

  /** A stopped agent is not alive: the key goes now, not a TTL later. */
  async stop(): Promise<void> {
    if (this.lease !== undefined) await this.client.leaseRevoke(this.lease);
    this.lease = undefined;
  }
}
