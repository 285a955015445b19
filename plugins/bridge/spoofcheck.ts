// MAC spoof check (the bridge plugin's `macspoofchk`): frames a pod sends
// into the bridge must carry the pod's own MAC, so one pod cannot poison the
// others' ARP caches or the bridge's forwarding table.
//
// Layout in table bridge tscni (layer 2, so the bridge family):
//   spoofchk_ports    host veths under the check (ifname)
//   spoofchk_allowed  host veth . MAC pairs allowed to enter the bridge
//   spoofchk          prerouting filter chain:
//                     `iifname @spoofchk_ports iifname . ether saddr != @spoofchk_allowed drop`
// Both sets carry the owner comment, so DEL and GC remove exactly one pod.
import type { NfnlChannel } from '../../lib/netlink/nfnetlink';
import { commentedElement, concat, drop, match, meta, payload } from '../../lib/nft/expr';
import { addSet, addTable, defineChain, replaceElements, type NftCommand, type TableRef } from '../../lib/nft/json';
import { removeOwnedElements, removeStaleElements } from '../../lib/nft/owned';
import { isOwnedBy, ownedBy, ownerComment, type PodAttachment } from '../../lib/nft/owner';
import { elementsOf, listTable, type ListedElement } from '../../lib/nft/run';

export const SPOOFCHK_TABLE: TableRef = { family: 'bridge', name: 'tscni' };
const T = SPOOFCHK_TABLE;
const PORTS = 'spoofchk_ports';
const ALLOWED = 'spoofchk_allowed';
// Before anything else on the bridge sees the frame (the reference uses the same).
const PRIO_BEFORE_ALL = -300;

export interface SpoofCheckTarget extends PodAttachment {
  hostVeth: string;
  mac: string;
}

export function addSpoofCheckCommands(t: SpoofCheckTarget): NftCommand[] {
  const comment = ownerComment(t);
  return [
    addTable(T),
    addSet(T, { name: PORTS, type: 'ifname' }),
    addSet(T, { name: ALLOWED, type: ['ifname', 'ether_addr'] }),
    ...defineChain(
      T,
      'spoofchk',
      [[
        match(meta('iifname'), '==', `@${PORTS}`),
        match(concat(meta('iifname'), payload('ether', 'saddr')), '!=', `@${ALLOWED}`),
        drop(),
      ]],
      { type: 'filter', hook: 'prerouting', prio: PRIO_BEFORE_ALL },
    ),
    ...replaceElements(T, PORTS, [commentedElement(t.hostVeth, comment)]),
    ...replaceElements(T, ALLOWED, [commentedElement(concat(t.hostVeth, t.mac.toLowerCase()), comment)]),
  ];
}

/** DEL: this attachment's elements only; a missing table or element is success. */
export function removeSpoofCheck(a: PodAttachment, channel?: NfnlChannel): Promise<void> {
  return removeOwnedElements(T, [PORTS, ALLOWED], a, channel);
}

export function gcSpoofCheck(network: string, valid: { containerId: string; ifname: string }[]): Promise<void> {
  return removeStaleElements(T, [PORTS, ALLOWED], network, valid);
}

/** CHECK: one message per missing piece. */
export async function checkSpoofCheck(t: SpoofCheckTarget): Promise<string[]> {
  const listing = (await listTable(T)) ?? [];
  const problems: string[] = [];
  if (!listing.some((o) => o.chain?.name === 'spoofchk')) problems.push('nft chain bridge tscni spoofchk is missing');
  if (!elementsOf(listing, PORTS).some((e) => e.key === t.hostVeth && isOwnedBy(e, t))) {
    problems.push(`nft set ${PORTS} has no element for ${t.hostVeth}`);
  }
  const problem = allowedElementProblem(elementsOf(listing, ALLOWED), t);
  if (problem) problems.push(problem);
  return problems;
}

/** The pod's allowed element must carry the key ADD wrote (host veth . MAC), not only its owner. */
function allowedElementProblem(allowed: ListedElement[], t: SpoofCheckTarget): string | undefined {
  const want = `${t.hostVeth} . ${t.mac.toLowerCase()}`;
  const keyOf = (e: ListedElement): string => ((e.key as { concat?: unknown[] })?.concat ?? [e.key]).join(' . ');
  const owned = allowed.filter(ownedBy(t));
  if (owned.some((e) => keyOf(e) === want)) return undefined;
  if (owned.length === 0) return `nft set ${ALLOWED} has no element for ${want}`;
  return `nft set ${ALLOWED} element of this pod is ${owned.map(keyOf).join(', ')}, not ${want}`;
}
