// Conntrack entries over ctnetlink. A UDP flow that reached a host port
// before its DNAT existed stays tracked as "not NATed", and every later
// datagram of it (a client retrying from the same source port, as DNS
// resolvers do) follows that entry past the new mapping until it times out.
// Deleting the entries makes the next datagram be tracked afresh, through
// the DNAT — what the reference portmap does after each ADD.
import { nested, nlattr, parseAttrs, attrBe16, attrU8 } from './attr';
import { isNotFound } from './errors';
import { NFNL_SUBSYS, type NfnlChannel } from './nfnetlink';

const IPCTNL_MSG_CT = { GET: 1, DELETE: 2 } as const;
const CTA = { TUPLE_ORIG: 1, ZONE: 18 } as const;
const CTA_TUPLE_PROTO = 2;
const CTA_PROTO = { NUM: 1, DST_PORT: 3 } as const;

export const IPPROTO = { tcp: 6, udp: 17, sctp: 132 } as const;

/** The protocol and destination port of an entry's original-direction tuple (CTA_TUPLE_ORIG). */
export function originalDestination(tuple: Buffer | undefined): { proto?: number; dport?: number } {
  const proto = tuple && parseAttrs(tuple).get(CTA_TUPLE_PROTO);
  if (!proto) return {};
  const p = parseAttrs(proto);
  return { proto: attrU8(p.get(CTA_PROTO.NUM)), dport: attrBe16(p.get(CTA_PROTO.DST_PORT)) };
}

/**
 * Deletes the node's conntrack entries of one family whose original
 * direction went to `port` over `proto`; returns how many went. An entry
 * that expires between listing and deleting counts as gone.
 */
export async function deleteConntrackByDestinationPort(ch: NfnlChannel, family: 4 | 6, proto: number, port: number): Promise<number> {
  const nfFamily = family === 4 ? 'ip' : 'ip6';
  const entries = await ch.dump(`list IPv${family} conntrack entries`, NFNL_SUBSYS.CTNETLINK, IPCTNL_MSG_CT.GET, nfFamily, []);
  let deleted = 0;
  for (const entry of entries) {
    const attrs = parseAttrs(entry);
    const tuple = attrs.get(CTA.TUPLE_ORIG);
    const dst = originalDestination(tuple);
    if (!tuple || dst.proto !== proto || dst.dport !== port) continue;
    // The original tuple (and zone) names the entry, as the kernel listed them.
    const name = [nested(CTA.TUPLE_ORIG, [tuple])];
    const zone = attrs.get(CTA.ZONE);
    if (zone) name.push(nlattr(CTA.ZONE, zone));
    try {
      await ch.send(`delete conntrack entry to port ${port}`, NFNL_SUBSYS.CTNETLINK, IPCTNL_MSG_CT.DELETE, nfFamily, name);
      deleted++;
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }
  return deleted;
}
