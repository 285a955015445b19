// Conntrack entries over ctnetlink. A UDP flow that reached a host port
// before its DNAT existed stays tracked as "not NATed", and every later
// datagram of it (a client retrying from the same source port, as DNS
// resolvers do) follows that entry past the new mapping until it times out.
// Deleting the entries makes the next datagram be tracked afresh, through
// the DNAT — what the reference portmap does after each ADD.
import { formatIp, ipFromBytes } from '../ip/address';
import { nested, nlattr, parseAttrs, attrBe16, attrU8 } from './attr';
import { isNotFound } from './errors';
import { NFNL_SUBSYS, type NfnlChannel } from './nfnetlink';

const IPCTNL_MSG_CT = { GET: 1, DELETE: 2 } as const;
const CTA = { TUPLE_ORIG: 1, ZONE: 18 } as const;
const CTA_TUPLE = { IP: 1, PROTO: 2 } as const;
const CTA_IP = { V4_DST: 2, V6_DST: 4 } as const;
const CTA_PROTO = { NUM: 1, DST_PORT: 3 } as const;

export const IPPROTO = { tcp: 6, udp: 17, sctp: 132 } as const;

/** Where an entry's original direction went. */
export interface OriginalDestination {
  family?: 4 | 6;
  /** the destination address, canonical ("10.250.0.1", "2001:db8::2") */
  address?: string;
  proto?: number;
  port?: number;
}

/** The destination of an entry's original-direction tuple (CTA_TUPLE_ORIG). */
export function originalDestination(tuple: Buffer | undefined): OriginalDestination {
  if (!tuple) return {};
  const t = parseAttrs(tuple);
  const out: OriginalDestination = {};
  const ip = t.get(CTA_TUPLE.IP) && parseAttrs(t.get(CTA_TUPLE.IP)!);
  const v4 = ip?.get(CTA_IP.V4_DST);
  const v6 = ip?.get(CTA_IP.V6_DST);
  if (v4?.length === 4 || v6?.length === 16) {
    out.family = v4 ? 4 : 6;
    out.address = formatIp(ipFromBytes((v4 ?? v6)!));
  }
  const proto = t.get(CTA_TUPLE.PROTO) && parseAttrs(t.get(CTA_TUPLE.PROTO)!);
  if (proto) {
    out.proto = attrU8(proto.get(CTA_PROTO.NUM));
    out.port = attrBe16(proto.get(CTA_PROTO.DST_PORT));
  }
  return out;
}

/**
 * Deletes the node's conntrack entries whose original destination `selected`
 * picks, from one dump of both families; returns how many went. An entry
 * that expires between listing and deleting counts as gone.
 */
export async function deleteConntrackEntries(ch: NfnlChannel, selected: (d: OriginalDestination) => boolean): Promise<number> {
  const entries = await ch.dump('list conntrack entries', NFNL_SUBSYS.CTNETLINK, IPCTNL_MSG_CT.GET, 'unspec', []);
  let deleted = 0;
  for (const entry of entries) {
    const attrs = parseAttrs(entry);
    const tuple = attrs.get(CTA.TUPLE_ORIG);
    const dst = originalDestination(tuple);
    if (!tuple || !dst.family || !selected(dst)) continue;
    // The original tuple (and zone) names the entry, as the kernel listed them.
    const name = [nested(CTA.TUPLE_ORIG, [tuple])];
    const zone = attrs.get(CTA.ZONE);
    if (zone) name.push(nlattr(CTA.ZONE, zone));
    try {
      await ch.send(`delete conntrack entry to ${dst.address} port ${dst.port}`, NFNL_SUBSYS.CTNETLINK, IPCTNL_MSG_CT.DELETE, dst.family === 4 ? 'ip' : 'ip6', name);
      deleted++;
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }
  return deleted;
}
