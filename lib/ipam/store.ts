// The seam between the allocator and where host-local's reservations live:
// the disk store, in host-local's layout. Routed mode's cluster IPAM does not
// sit behind it: its blocks and per-handle assignments live in etcd and are
// handed out by the node's agent (lib/ipam/cluster). The methods are async
// because withLock runs the allocator's async walk, even though the disk
// store does its file work synchronously.
import type { Ip } from '../ip/address';

export interface Reservation {
  /** the reserved address, printed as the reference prints it */
  ip: string;
  containerId: string;
  /** absent in files written by host-local before it recorded the ifname */
  ifname?: string;
}

export interface IpamStore {
  /**
   * Runs `fn` while holding the store's exclusive lock. Every other method is
   * only meaningful inside it; the lock is what makes concurrent plugin
   * processes (ours and the reference's) see a consistent set of reservations.
   */
  withLock<T>(fn: () => Promise<T>): Promise<T>;
  /** Claims `ip` for the attachment; false if it is already taken. Records it as the range set's last reserved address. */
  reserve(containerId: string, ifname: string, ip: Ip, rangeSetId: string): Promise<boolean>;
  /** The address most recently reserved in range set `rangeSetId`, if any. */
  lastReserved(rangeSetId: string): Promise<Ip | undefined>;
  /**
   * Releases every address held by the attachment. Old reservations that name
   * only the container are released when none names container and ifname, as
   * the reference does. Returns the released addresses.
   */
  releaseById(containerId: string, ifname: string): Promise<string[]>;
  /** Releases one address whatever holds it (GC, which already decided from list()). */
  release(ip: string): Promise<void>;
  list(): Promise<Reservation[]>;
  /** Frees the store's handles; the store is unusable afterwards. */
  close(): Promise<void>;
}

/** Whether a reservation belongs to an attachment, old single-id entries included. */
export function heldBy(r: Reservation, containerId: string, ifname: string): boolean {
  return r.containerId === containerId.trim() && (r.ifname === undefined || r.ifname === ifname);
}
