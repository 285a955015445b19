// Host ports (the `portmap` plugin) in table inet tscni: DNAT from the node's
// addresses to a pod, for traffic from outside, from the node itself and from
// the pod itself (hairpin), with the masquerade that the last two need.
//
// Layout (f = 4 or 6):
//   pm_addr<f>, pm_port<f>   maps `meta l4proto . th dport` -> pod address /
//                            container port: mappings on any node address
//   pm_hostip_addr<f>, pm_hostip_port<f>
//                            the same keyed `ip daddr . meta l4proto . th dport`:
//                            mappings restricted to one hostIP
//   pm_masq<f>               interval set `ip saddr . ip daddr`: sources that must
//                            be masqueraded on their way to a pod (the pod itself,
//                            127.0.0.0/8, or any source with masqAll)
//   pm_dnat                  hostIP maps first (more specific), then the others
//   pm_prerouting, pm_output nat dstnat: `fib daddr type local jump pm_dnat`
//   pm_postrouting           nat srcnat: `ct status dnat ip saddr . ip daddr @pm_masq4 masquerade`
//   pm_input                 filter input: new connections to 127.0.0.0/8 from
//                            other interfaces and sources are dropped, since
//                            route_localnet (for localhost:hostPort) would accept them
// Address and port live in two maps because nft 1.0.6's JSON parser cannot
// declare a map whose data is a concatenation. Each element carries its owner
// (lib/nft/owner.ts). DNAT elements are claimed with `create`, so a second pod asking
// for a taken host port fails in the kernel, race-free, and ADD stays one call.
import { parsePodCidr } from '../../lib/nft/cidr';
import {
  commentedElement, concat, ct, daddr, dnat, drop, fib, jump, mapLookup, match, meta, payload, prefix, saddr, masquerade,
  type AddressFamily,
} from '../../lib/nft/expr';
import {
  addSet, addTable, createElements, defineChain, deleteElements, PRIORITY, replaceElements,
  TSCNI_TABLE, type Expr, type NftCommand,
} from '../../lib/nft/json';
import { ownerComment, type PodAttachment } from '../../lib/nft/owner';

export type Protocol = 'tcp' | 'udp' | 'sctp';

export interface PortMapping {
  hostPort: number;
  containerPort: number;
  protocol: Protocol;
  /** a node address; absent (or unspecified, 0.0.0.0 / ::) means any node address */
  hostIP?: string;
}

export interface PortmapTarget extends PodAttachment {
  /** the pod's addresses, without prefix length, at most one per family */
  addresses: string[];
  mappings: PortMapping[];
  snat: boolean;
  masqAll: boolean;
}

const T = TSCNI_TABLE;
export const PM_CHAINS = ['pm_dnat', 'pm_prerouting', 'pm_output', 'pm_postrouting', 'pm_input'] as const;

export function mapNames(f: AddressFamily, hostIp: boolean): { addr: string; port: string } {
  const infix = hostIp ? 'hostip_' : '';
  return { addr: `pm_${infix}addr${f}`, port: `pm_${infix}port${f}` };
}

export const masqSet = (f: AddressFamily): string => `pm_masq${f}`;

/** Every set and map of the layout: what DEL and GC look through. */
export const PM_SETS: string[] = ([4, 6] as const).flatMap((f) => [
  ...Object.values(mapNames(f, false)), ...Object.values(mapNames(f, true)), masqSet(f),
]);

const addrType = (f: AddressFamily): string => (f === 4 ? 'ipv4_addr' : 'ipv6_addr');
const nfproto = (f: AddressFamily): Expr => match(meta('nfproto'), '==', f === 4 ? 'ipv4' : 'ipv6');
const portKey = (): Expr[] => [meta('l4proto'), payload('th', 'dport')];

/** `dnat ip to <key> map @addr : <key> map @port` */
function dnatRule(f: AddressFamily, hostIp: boolean): Expr[] {
  const key = concat(...(hostIp ? [daddr(f)] : []), ...portKey());
  const m = mapNames(f, hostIp);
  return [nfproto(f), dnat(f, mapLookup(key, m.addr), mapLookup(key, m.port))];
}

/** Table, sets, maps and chains; safe to repeat, and repairs flushed chains. */
export function portmapBaseCommands(): NftCommand[] {
  const sets = ([4, 6] as const).flatMap((f) => [false, true].flatMap((hostIp) => {
    const key = hostIp ? [addrType(f), 'inet_proto', 'inet_service'] : ['inet_proto', 'inet_service'];
    const m = mapNames(f, hostIp);
    return [addSet(T, { name: m.addr, type: key, map: addrType(f) }), addSet(T, { name: m.port, type: key, map: 'inet_service' })];
  }).concat(addSet(T, { name: masqSet(f), type: [addrType(f), addrType(f)], flags: ['interval'] })));
  const toLocal = [match(fib(['daddr'], 'type'), '==', 'local'), jump('pm_dnat')];
  const masq = (f: AddressFamily): Expr[] => [
    match(ct('status'), 'in', 'dnat'), match(concat(saddr(f), daddr(f)), '==', `@${masqSet(f)}`), masquerade(),
  ];
  return [
    addTable(T),
    ...sets,
    ...defineChain(T, 'pm_dnat', [dnatRule(4, true), dnatRule(6, true), dnatRule(4, false), dnatRule(6, false)]),
    ...defineChain(T, 'pm_prerouting', [toLocal], { type: 'nat', hook: 'prerouting', prio: PRIORITY.dstnat }),
    ...defineChain(T, 'pm_output', [toLocal], { type: 'nat', hook: 'output', prio: PRIORITY.dstnat }),
    ...defineChain(T, 'pm_postrouting', [masq(4), masq(6)], { type: 'nat', hook: 'postrouting', prio: PRIORITY.srcnat }),
    ...defineChain(T, 'pm_input', [[
      match(meta('iifname'), '!=', 'lo'), match(daddr(4), '==', prefix('127.0.0.0', 8)),
      match(saddr(4), '!=', prefix('127.0.0.0', 8)), match(ct('state'), 'in', 'new'), drop(),
    ]], { type: 'filter', hook: 'input', prio: 0 }),
  ];
}

/** One element the ADD writes, with what it means to a person. */
export interface PlannedElement {
  set: string;
  key: unknown;
  /** map data; undefined for a set element */
  data?: unknown;
  /** claims fail on a taken key (host ports); the others replace any previous owner */
  claim: boolean;
  what: string;
}

function canonicalIp(ip: string): { family: AddressFamily; address: string } {
  const p = parsePodCidr(`${ip}/${ip.includes(':') ? 128 : 32}`);
  return { family: p.family, address: p.address };
}

const isUnspecified = (ip: string): boolean => /^(0\.0\.0\.0|::|0:0:0:0:0:0:0:0)$/.test(ip);

export function describeMapping(m: PortMapping, podAddr: string): string {
  const host = m.hostIP && !isUnspecified(m.hostIP) ? `${m.hostIP.includes(':') ? `[${m.hostIP}]` : m.hostIP}:` : '';
  const pod = podAddr.includes(':') ? `[${podAddr}]` : podAddr;
  return `host port ${host}${m.hostPort}/${m.protocol} -> ${pod}:${m.containerPort}`;
}

/** The elements for one attachment, in the order ADD writes them. */
export function planElements(t: PortmapTarget): PlannedElement[] {
  const out: PlannedElement[] = [];
  for (const { family: f, address } of t.addresses.map(canonicalIp)) {
    let mapped = 0;
    for (const m of t.mappings) {
      const host = m.hostIP && !isUnspecified(m.hostIP) ? canonicalIp(m.hostIP) : undefined;
      // A hostIP of the other family does not apply to this address, as in the reference.
      if (m.hostIP && canonicalIp(m.hostIP).family !== f) continue;
      const names = mapNames(f, host !== undefined);
      const key = concat(...(host ? [host.address] : []), m.protocol, m.hostPort);
      const what = describeMapping(m, address);
      out.push({ set: names.addr, key, data: address, claim: true, what }, { set: names.port, key, data: m.containerPort, claim: true, what });
      mapped++;
    }
    if (!t.snat || mapped === 0) continue;
    const any = prefix(f === 4 ? '0.0.0.0' : '::', 0);
    const sources = t.masqAll ? [any] : f === 4 ? [address, prefix('127.0.0.0', 8)] : [address];
    for (const src of sources) {
      const from = src === address ? 'the pod itself (hairpin)' : src === any ? 'any source (masqAll)' : 'localhost';
      out.push({ set: masqSet(f), key: concat(src, address), claim: false, what: `masquerade from ${from} to ${address}` });
    }
  }
  return dedupe(out);
}

/** The same mapping listed twice is one mapping; one host port sent to two targets is a config error. */
function dedupe(planned: PlannedElement[]): PlannedElement[] {
  const seen = new Map<string, PlannedElement>();
  for (const p of planned) {
    const id = `${p.set} ${JSON.stringify(p.key)}`;
    const prev = seen.get(id);
    if (prev && JSON.stringify(prev.data) !== JSON.stringify(p.data)) {
      throw new DuplicateMappingError(`${prev.what} and ${p.what} claim the same host port`);
    }
    if (!prev) seen.set(id, p);
  }
  return [...seen.values()];
}

export class DuplicateMappingError extends Error {}

export function elementOf(p: PlannedElement, comment: string): unknown {
  const key = commentedElement(p.key, comment);
  return p.data === undefined ? key : [key, p.data];
}

/** Identifies a key within its set, for comparing planned and listed elements. */
export function elementId(set: string, key: unknown): string {
  return `${set} ${JSON.stringify(key)}`;
}

/**
 * ADD's whole batch. `reclaim` names claims this attachment owns already (a
 * repeated ADD): they are deleted and claimed again in the same transaction.
 */
export function addPortmapCommands(t: PortmapTarget, reclaim: ReadonlySet<string> = new Set()): NftCommand[] {
  const comment = ownerComment(t);
  return [
    ...portmapBaseCommands(),
    ...planElements(t).flatMap((p) => {
      const elem = elementOf(p, comment);
      if (!p.claim) return replaceElements(T, p.set, [elem]);
      const claim = createElements(T, p.set, [elem]);
      return reclaim.has(elementId(p.set, p.key)) ? [deleteElements(T, p.set, [p.key]), claim] : [claim];
    }),
  ];
}
