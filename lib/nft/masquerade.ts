// Masquerade for pods of a bridge network: traffic from a pod to anything
// outside its own subnet, multicast excepted, leaves with the node's address.
//
// Layout in table inet tscni:
//   masq_postrouting  nat/postrouting base chain: skip multicast, then
//                     `ip saddr vmap @masq4`, `ip6 saddr vmap @masq6`
//   masq4, masq6      maps pod address -> `jump masq_<subnet>`; each element's
//                     comment names its owner (network, ifname, container)
//   masq_<subnet>     `ip daddr != <subnet> masquerade`
//   masq_keep_<hash>  for pods whose traffic keeps its address towards a set
//                     of networks (routed mode: every IP pool):
//                     `ip daddr <pool> return` per network, then `masquerade`
// One element per pod address makes ADD and DEL touch exactly one pod, and the
// owner comment lets DEL and GC tell a stale owner of a reused address from the
// current one. Every ADD rewrites the fixed chains in the same transaction,
// which keeps it idempotent and repairs them if someone flushed them.
import type { NfnlChannel } from '../netlink/nfnetlink';
import { sha256Hex } from '../hash';
import { parsePodCidr, type PodCidr } from './cidr';
import { commentedElement, daddr, jump, masquerade, match, prefix, ret, saddr, vmap } from './expr';
import {
  addSet, addTable, defineChain, PRIORITY, replaceElements, TSCNI_TABLE,
  type NftCommand,
} from './json';
import { isOwnedBy, ownerComment, type PodAttachment } from './owner';
import { removeOwnedElements, removeStaleElements } from './owned';
import { applyRuleset, type Applied } from './add-elements';
import { elementsOf, listTable } from './run';

export { ownerComment, type PodAttachment } from './owner';

export interface MasqueradeTarget extends PodAttachment {
  /** the pod's addresses with their prefix, e.g. "10.244.1.5/24" */
  addresses: string[];
  /** networks the pod's traffic reaches with its own address; default: each address's own subnet */
  keepTo?: string[];
}

const T = TSCNI_TABLE;
const POSTROUTING = 'masq_postrouting';
const MAP = { 4: 'masq4', 6: 'masq6' } as const;

export function subnetChain(subnet: string): string {
  return `masq_${subnet.replace(/[.:/]/g, '_')}`;
}

/** Table, maps and the postrouting chain; safe to repeat. */
export function masqueradeBaseCommands(): NftCommand[] {
  return [
    addTable(T),
    addSet(T, { name: MAP[4], type: 'ipv4_addr', map: 'verdict' }),
    addSet(T, { name: MAP[6], type: 'ipv6_addr', map: 'verdict' }),
    ...defineChain(T, POSTROUTING, [
      [match(daddr(4), '==', prefix('224.0.0.0', 4)), ret()],
      [match(daddr(6), '==', prefix('ff00::', 8)), ret()],
      [vmap(saddr(4), MAP[4])],
      [vmap(saddr(6), MAP[6])],
    ], { type: 'nat', hook: 'postrouting', prio: PRIORITY.srcnat }),
  ];
}

function subnetChainCommands(p: PodCidr): NftCommand[] {
  const [addr, len] = p.subnet.split('/');
  return defineChain(T, subnetChain(p.subnet), [[match(daddr(p.family), '!=', prefix(addr!, Number(len))), masquerade()]]);
}

/** The networks in one canonical order, so one set of networks is one chain. */
const canonicalNetworks = (keepTo: string[]) => [...new Set(keepTo.map((c) => parsePodCidr(c).subnet))].sort();

function keepChain(keepTo: string[]): string {
  return `masq_keep_${sha256Hex(canonicalNetworks(keepTo).join(',')).slice(0, 12)}`;
}

function keepChainCommands(keepTo: string[]): NftCommand[] {
  const returns = canonicalNetworks(keepTo).map((net) => {
    const [addr, len] = net.split('/');
    return [match(daddr(parsePodCidr(net).family), '==', prefix(addr!, Number(len))), ret()];
  });
  return defineChain(T, keepChain(keepTo), [...returns, [masquerade()]]);
}

const chainOf = (p: PodCidr, keepTo: string[] | undefined) => (keepTo ? keepChain(keepTo) : subnetChain(p.subnet));

function podElement(p: PodCidr, comment: string, keepTo: string[] | undefined): unknown[] {
  return [commentedElement(p.address, comment), jump(chainOf(p, keepTo))];
}

/** Everything ADD needs, in one batch (add-elements.ts applies it). */
export function addMasqueradeCommands(t: MasqueradeTarget): NftCommand[] {
  const pods = t.addresses.map(parsePodCidr);
  const subnets = new Map(pods.map((p) => [p.subnet, p]));
  const comment = ownerComment(t);
  return [
    ...masqueradeBaseCommands(),
    ...(t.keepTo ? keepChainCommands(t.keepTo) : [...subnets.values()].flatMap(subnetChainCommands)),
    ...pods.flatMap((p) => replaceElements(T, MAP[p.family], [podElement(p, comment, t.keepTo)])),
  ];
}

/** ADD: the ruleset if it is not in place at this version, and the pod's elements. */
export function addMasquerade(t: MasqueradeTarget, channel?: NfnlChannel): Promise<Applied> {
  return applyRuleset(addMasqueradeCommands(t), channel);
}

/** DEL: removes this attachment's elements only; a missing table or element is success. */
export function removeMasquerade(a: PodAttachment, channel?: NfnlChannel): Promise<void> {
  return removeOwnedElements(T, Object.values(MAP), a, channel);
}

/** GC: removes elements of `network` whose attachment is not in `valid`. */
export function gcMasquerade(network: string, valid: { containerId: string; ifname: string }[]): Promise<void> {
  return removeStaleElements(T, Object.values(MAP), network, valid);
}

/** CHECK: what is missing for this attachment, as messages; empty when all is in place. */
export async function checkMasquerade(t: MasqueradeTarget): Promise<string[]> {
  const listing = (await listTable(T)) ?? [];
  const problems: string[] = [];
  const chains = new Set(listing.filter((o) => o.chain).map((o) => o.chain.name as string));
  if (!chains.has(POSTROUTING)) problems.push(`nft chain inet tscni ${POSTROUTING} is missing`);
  for (const p of t.addresses.map(parsePodCidr)) {
    const chain = chainOf(p, t.keepTo);
    const e = elementsOf(listing, MAP[p.family]).find((x) => x.key === p.address);
    if (!e) problems.push(`nft map ${MAP[p.family]} has no element for ${p.address}`);
    else if (!isOwnedBy(e, t)) problems.push(`nft map ${MAP[p.family]} element ${p.address} belongs to "${e.comment ?? ''}"`);
    else if ((e.data as { jump?: { target?: string } })?.jump?.target !== chain) {
      problems.push(`nft map ${MAP[p.family]} element ${p.address} does not jump to ${chain}`);
    }
    if (!chains.has(chain)) problems.push(`nft chain inet tscni ${chain} is missing`);
  }
  return problems;
}
