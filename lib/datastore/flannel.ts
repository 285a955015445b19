// The flannel key family in etcd: the network config and the subnet leases
// under one prefix (flannel's --etcd-prefix, /coreos.com/network by default).
import type { Cidr } from '../ip/address';
import type { EtcdClient, KeyValue, LeaseId } from './etcd';
import { decodeFlannelConfig, type FlannelConfig } from './flannel-config';
import { decodeSubnetLease, encodeSubnetLease, subnetKey, subnetOfKey, type SubnetLease } from './flannel-subnets';

export const configKey = (prefix: string) => `${prefix}/config`;
export const subnetsPrefix = (prefix: string) => `${prefix}/subnets/`;

/** The stored config: its text as written, and what it means; undefined when there is none. */
export async function readFlannelConfig(client: EtcdClient, prefix: string): Promise<{ text: string; config: FlannelConfig } | undefined> {
  const kv = await client.get(configKey(prefix));
  if (kv === undefined) return undefined;
  return { text: kv.value, config: decodeFlannelConfig(kv.value) };
}

/** Writes config text that flannelConfigJson (or the caller) has checked. */
export async function writeFlannelConfig(client: EtcdClient, prefix: string, json: string): Promise<void> {
  decodeFlannelConfig(json);
  await client.put(configKey(prefix), json);
}

export interface StoredLease {
  subnet: Cidr;
  lease: SubnetLease;
  kv: KeyValue;
}

/** Every readable lease, the keys that are not (with the reason), and the revision they were read at. */
export async function listSubnetLeases(client: EtcdClient, prefix: string): Promise<{
  leases: StoredLease[]; unreadable: { key: string; problem: string }[]; revision: number;
}> {
  const { kvs, revision } = await client.getPrefix(subnetsPrefix(prefix));
  const leases: StoredLease[] = [];
  const unreadable: { key: string; problem: string }[] = [];
  for (const kv of kvs) {
    const subnet = subnetOfKey(prefix, kv.key);
    const lease = decodeSubnetLease(kv.value);
    if (subnet === undefined) unreadable.push({ key: kv.key, problem: 'not an IPv4 subnet key (<net>-<len>)' });
    else if (typeof lease === 'string') unreadable.push({ key: kv.key, problem: lease });
    else leases.push({ subnet, lease, kv });
  }
  return { leases, unreadable, revision };
}

/**
 * Takes `subnet` for a node if no one holds it: one create-if-absent
 * transaction, the key bound to `leaseId`, so it goes away with the node's
 * etcd lease. Returns whether this call took it, or who holds it.
 */
export async function claimSubnet(
  client: EtcdClient, prefix: string, subnet: Cidr, lease: SubnetLease, leaseId: LeaseId,
): Promise<{ claimed: true; revision: number } | { claimed: false; holder?: KeyValue }> {
  const r = await client.createIfAbsent(subnetKey(prefix, subnet), encodeSubnetLease(lease), { lease: leaseId });
  return r.created ? { claimed: true, revision: r.revision } : { claimed: false, holder: r.existing };
}
