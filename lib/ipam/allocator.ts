// Picks one address from a range set. The order is the reference's round
// robin: start right after the set's last reserved address, walk to the end
// of its range, continue with the next range, wrap around to the first, and
// stop after a full circle. A crash-looping pod therefore does not get its
// old address back at once, and ours and the reference continue one sequence.
import { CniError, ErrorCode, UNKNOWN_ERROR_CODE } from '../cni/errors';
import type { IpConfig } from '../cni/types';
import { formatCidr, formatIp, parseIp, withValue, type Ip } from '../ip/address';
import { isAllocatable, rangeContains, type IpRange } from './range';
import { formatRangeSet, rangeFor, rangeSetContains, type RangeSet } from './range-set';
import { heldBy, type IpamStore } from './store';

export interface Candidate {
  ip: Ip;
  range: IpRange;
}

/** Every allocatable address of the set once, in allocation order. Lazy: an IPv6 set can be 2^64 long. */
export function* iterateRangeSet(set: RangeSet, lastReserved?: Ip): Generator<Candidate> {
  let idx = 0;
  let cur = set[0]!.rangeStart.value;
  const lastIdx = lastReserved ? set.findIndex((r) => rangeContains(r, lastReserved)) : -1;
  if (lastReserved && lastIdx >= 0) {
    idx = lastIdx;
    cur = lastReserved.value;
    [idx, cur] = advance(set, idx, cur);
  }
  const startIdx = idx;
  const startValue = cur;
  do {
    const range = set[idx]!;
    const ip = withValue(range.rangeStart, cur);
    if (isAllocatable(range, ip)) yield { ip, range };
    [idx, cur] = advance(set, idx, cur);
  } while (idx !== startIdx || cur !== startValue);
}

function advance(set: RangeSet, idx: number, cur: bigint): [number, bigint] {
  if (cur < set[idx]!.rangeEnd.value) return [idx, cur + 1n];
  const next = (idx + 1) % set.length;
  return [next, set[next]!.rangeStart.value];
}

export interface AllocateRequest {
  store: IpamStore;
  set: RangeSet;
  /** the set's index in the config: names its last_reserved_ip file */
  rangeSetId: string;
  containerId: string;
  ifname: string;
  /** a specific address asked for (args.cni.ips, runtimeConfig.ips, CNI_ARGS IP) */
  requested?: Ip;
}

function ipConfig(ip: Ip, range: IpRange): IpConfig {
  return { address: formatCidr({ ip, prefix: range.subnet.prefix }), gateway: formatIp(range.gateway) };
}

/**
 * Reserves one address of `set` for the attachment. The caller holds the
 * store's lock, so the reservations listed here stay true until we reserve.
 */
export async function allocateFromRangeSet(req: AllocateRequest): Promise<IpConfig> {
  const { store, set, rangeSetId, containerId, ifname, requested } = req;
  const reservations = await store.list();
  const held = reservations.find((r) => heldBy(r, containerId, ifname) && inSet(set, r.ip));
  if (held) {
    throw new CniError(UNKNOWN_ERROR_CODE, `${held.ip} has been allocated to ${containerId}, duplicate allocation is not allowed`);
  }
  if (requested) return reserveRequested(req, requested);

  const taken = new Set(reservations.map((r) => r.ip));
  for (const { ip, range } of iterateRangeSet(set, await store.lastReserved(rangeSetId))) {
    // Skipping known reservations saves a failed open(O_EXCL) per taken address;
    // reserve() still decides, so a stale list cannot cause a double booking.
    if (taken.has(formatIp(ip))) continue;
    if (await store.reserve(containerId, ifname, ip, rangeSetId)) return ipConfig(ip, range);
  }
  throw new CniError(ErrorCode.IpamExhausted, `no IP addresses available in range set: ${formatRangeSet(set)}`);
}

async function reserveRequested(req: AllocateRequest, requested: Ip): Promise<IpConfig> {
  const range = rangeFor(req.set, requested);
  const text = formatIp(requested);
  if (!range) throw new CniError(UNKNOWN_ERROR_CODE, `requested IP address ${text} is not in range set ${formatRangeSet(req.set)}`);
  if (requested.value === range.gateway.value) {
    throw new CniError(UNKNOWN_ERROR_CODE, `requested IP address ${text} is the gateway of ${formatCidr(range.subnet)}`);
  }
  if (!(await req.store.reserve(req.containerId, req.ifname, requested, req.rangeSetId))) {
    throw new CniError(UNKNOWN_ERROR_CODE, `requested IP address ${text} is not available in range set ${formatRangeSet(req.set)}`);
  }
  return ipConfig(requested, range);
}

function inSet(set: RangeSet, ipText: string): boolean {
  const ip = parseIp(ipText);
  return ip !== undefined && rangeSetContains(set, ip);
}
