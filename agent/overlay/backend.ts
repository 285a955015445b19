// The one interface every overlay backend implements (flannel's pkg/backend:
// one folder per backend, each a small type behind it). A backend is created
// before the lease is acquired, because the lease carries what it publishes
// (vxlan's VTEP MAC); after that, the agent calls reconcile() on every change
// of the lease table and once a second, and the backend makes the kernel
// match: its own device(s) for this node's subnet, and one set of entries per
// peer. reconcile() must be cheap when nothing differs and must never touch
// what is not the backend's own.
import type { FlannelConfig } from '../../lib/datastore/flannel-config';
import type { SubnetLease } from '../../lib/datastore/flannel-subnets';
import type { Cidr } from '../../lib/ip/address';
import type { Rtnl } from '../../lib/netlink';
import type { Logger } from '../log';
import type { RouteChanges } from '../route-table';
import type { Underlay } from '../underlay';

/** Another node's lease, as read from etcd. */
export interface Peer {
  subnet: Cidr;
  lease: SubnetLease;
}

export interface BackendContext {
  nl: Rtnl;
  underlay: Underlay;
  config: FlannelConfig;
  nodeName: string;
  log: Logger;
}

export interface Backend {
  /** BackendType in the lease, as flannel names it */
  readonly type: string;
  /** BackendData this node publishes; undefined when the backend has none */
  readonly leaseData?: Record<string, unknown>;
  /** the pods' MTU (FLANNEL_MTU): the underlay's minus the encapsulation */
  readonly mtu: number;
  /** Makes the kernel match `own` and `peers` (every other node's lease); returns one line per change made. */
  reconcile(own: Cidr, peers: Peer[]): Promise<string[]>;
  /** Stops work in user space (udp's packet loop); kernel state stays for the next start. */
  stop(): Promise<void>;
}

/**
 * The route table's changes for the log; a destination another owner's route
 * holds is logged once, not at every reconcile of every second.
 */
export function routeChanges(r: RouteChanges, log: Logger): string[] {
  for (const dst of r.conflicts) {
    log.once(`route conflict ${dst}`, 'route-conflict', { dst, why: 'a route of another owner holds this destination' });
  }
  return r.changes;
}
