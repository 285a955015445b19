// This node's subnet lease (flannel's pkg/subnet, over etcd): acquire, keep
// alive, take back after an expiry. The subnet key is bound to an etcd lease
// of --subnet-lease-ttl seconds; the key goes away when the node stops
// renewing it, which is how the other nodes learn that it is gone.
//
// A restarted agent takes the same subnet again: the lease key that is still
// there for the subnet its file names (or, failing that, any lease with its
// PublicIP) is reused with the etcd lease it is bound to; an expired one is
// claimed anew when no one else took the subnet meanwhile.
import type { EtcdClient, LeaseId } from '../../lib/datastore/etcd';
import { claimSubnet, listSubnetLeases, type StoredLease } from '../../lib/datastore/flannel';
import type { FlannelConfig } from '../../lib/datastore/flannel-config';
import { encodeSubnetLease, firstFreeSubnet, subnetFits, subnetKey, type SubnetLease } from '../../lib/datastore/flannel-subnets';
import { formatCidr, sameCidr, type Cidr } from '../../lib/ip/address';
import type { Logger } from '../log';

export interface LeaseManagerOptions {
  client: EtcdClient;
  prefix: string;
  config: FlannelConfig;
  ttlSeconds: number;
  /** the value this node publishes (PublicIP, BackendType, BackendData) */
  lease: SubnetLease;
  /** the subnet of the previous run (the subnet file), preferred when it is free */
  previous?: Cidr;
  log: Logger;
}

/** Lost races on a free subnet before acquire gives up: each loss means another node took one. */
const MAX_CLAIM_ATTEMPTS = 20;

export class LeaseManager {
  private leaseId: LeaseId = '0';
  private current?: Cidr;

  constructor(private readonly o: LeaseManagerOptions) {}

  /** The subnet this node holds; only after acquire(). */
  get subnet(): Cidr {
    if (!this.current) throw new Error('no subnet lease acquired yet');
    return this.current;
  }

  get key(): string {
    return subnetKey(this.o.prefix, this.subnet);
  }

  /** Takes a subnet: our own live lease, else the previous subnet if free, else the first free one. */
  async acquire(): Promise<Cidr> {
    const { config, client, prefix } = this.o;
    const value = encodeSubnetLease(this.o.lease);
    const prefer = this.current ?? this.o.previous;
    for (let attempt = 0; attempt < MAX_CLAIM_ATTEMPTS; attempt++) {
      const { leases } = await listSubnetLeases(client, prefix);
      const own = this.ownLease(leases, prefer);
      if (own && own.kv.lease !== '0' && (await client.leaseKeepAlive(own.kv.lease)) !== undefined) {
        if (own.kv.value !== value) {
          const r = await client.putIfModRevision(own.kv.key, value, own.kv.modRevision, { lease: own.kv.lease });
          if (!r.succeeded) continue;
        }
        return this.took(own.subnet, own.kv.lease, 'reused');
      }
      const taken = leases.filter((l) => l !== own).map((l) => l.subnet);
      const free = prefer && subnetFits(config, prefer) && !taken.some((t) => sameCidr(t, prefer)) ? prefer : firstFreeSubnet(config, taken);
      if (free === undefined) throw new Error(`no free subnet left in ${formatCidr(config.Network)} (every /${config.SubnetLen} is leased)`);
      const { id } = await client.leaseGrant(this.o.ttlSeconds);
      if (own) await client.delete(own.kv.key); // ours, but bound to no lease or to one that is gone
      const r = await claimSubnet(client, prefix, free, this.o.lease, id);
      if (r.claimed) return this.took(free, id, 'acquired');
      await client.leaseRevoke(id);
    }
    throw new Error(`could not claim a subnet after ${MAX_CLAIM_ATTEMPTS} attempts: other nodes kept taking the free ones`);
  }

  /** Our lease in the list: the preferred subnet's if its PublicIP is ours, else any with our PublicIP. */
  private ownLease(leases: StoredLease[], prefer: Cidr | undefined): StoredLease | undefined {
    const mine = leases.filter((l) => l.lease.PublicIP === this.o.lease.PublicIP && subnetFits(this.o.config, l.subnet));
    return mine.find((l) => prefer && sameCidr(l.subnet, prefer)) ?? mine[0];
  }

  private took(subnet: Cidr, id: LeaseId, how: string): Cidr {
    this.current = subnet;
    this.leaseId = id;
    this.o.log.event(`subnet-lease-${how}`, { subnet: formatCidr(subnet), lease: id, ttl: this.o.ttlSeconds });
    return subnet;
  }

  /**
   * Renews the lease once. When etcd forgot it (expired while this node could
   * not reach etcd, or revoked), takes the subnet again. Returns whether the
   * subnet changed (then the node must be rebuilt around the new one).
   */
  async renew(): Promise<boolean> {
    const ttl = await this.o.client.leaseKeepAlive(this.leaseId);
    if (ttl !== undefined) return false;
    this.o.log.event('subnet-lease-expired', { subnet: formatCidr(this.subnet), lease: this.leaseId });
    const before = this.subnet;
    const after = await this.acquire();
    return !sameCidr(before, after);
  }

  /** Writes our key again when someone deleted it while the etcd lease lives. */
  async restoreKey(): Promise<void> {
    const r = await this.o.client.createIfAbsent(this.key, encodeSubnetLease(this.o.lease), { lease: this.leaseId });
    if (r.created) this.o.log.event('subnet-lease-key-restored', { subnet: formatCidr(this.subnet) });
  }

  /** How often to renew: a third of the TTL (so two renewals may fail before expiry), at most every 10 minutes. */
  get renewIntervalMs(): number {
    return Math.min(this.o.ttlSeconds * 1000 / 3, 600_000);
  }
}
