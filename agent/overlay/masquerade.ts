// Masquerade for an overlay node (flanneld's --ip-masq rules), in tscni's own
// table, chain overlay_postrouting, so no one else's rules are touched:
//   ip saddr <Network> ip daddr <Network> return          pod to pod: never NAT
//   ip saddr <Network> ip daddr != 224.0.0.0/4 masquerade  pod to the outside
//   ip saddr != <Network> ip daddr <subnet> return        to this node's pods: keep the source
//   ip saddr != <Network> ip daddr <Network> masquerade    node to remote pods: a source they can answer
// Each rule carries a comment naming its place and the networks, so a check
// (one `nft list chain`) tells a chain as written from a flushed or stale one.
import { addTable, defineChain, PRIORITY, TSCNI_TABLE, type NftCommand } from '../../lib/nft/json';
import { daddr, masquerade, match, prefix, ret, saddr } from '../../lib/nft/expr';
import { applyCommands, listChain } from '../../lib/nft/run';

export const OVERLAY_MASQ_CHAIN = 'overlay_postrouting';

export interface OverlayMasq {
  /** the cluster network, e.g. "10.244.0.0/16" */
  network: string;
  /** this node's subnet, e.g. "10.244.3.0/24" */
  subnet: string;
}

const p = (cidr: string) => {
  const [addr, len] = cidr.split('/');
  return prefix(addr!, Number(len));
};

const comments = (m: OverlayMasq) => [1, 2, 3, 4].map((n) => `tscni overlay ${n}/4 ${m.network} ${m.subnet}`);

export function overlayMasqCommands(m: OverlayMasq): NftCommand[] {
  const c = comments(m);
  const rules = [
    [match(saddr(4), '==', p(m.network)), match(daddr(4), '==', p(m.network)), ret()],
    [match(saddr(4), '==', p(m.network)), match(daddr(4), '!=', prefix('224.0.0.0', 4)), masquerade()],
    [match(saddr(4), '!=', p(m.network)), match(daddr(4), '==', p(m.subnet)), ret()],
    [match(saddr(4), '!=', p(m.network)), match(daddr(4), '==', p(m.network)), masquerade()],
  ];
  const chain = defineChain(TSCNI_TABLE, OVERLAY_MASQ_CHAIN, [], { type: 'nat', hook: 'postrouting', prio: PRIORITY.srcnat });
  const addRules = rules.map((expr, i) => ({ add: { rule: { family: TSCNI_TABLE.family, table: TSCNI_TABLE.name, chain: OVERLAY_MASQ_CHAIN, expr, comment: c[i] } } }));
  return [addTable(TSCNI_TABLE), ...chain, ...addRules];
}

/** Writes the chain when it is missing or differs from `m`; returns whether it wrote. */
export async function ensureOverlayMasq(m: OverlayMasq): Promise<boolean> {
  const listing = await listChain(TSCNI_TABLE, OVERLAY_MASQ_CHAIN);
  const have = (listing ?? []).filter((o) => o.rule).map((o) => o.rule.comment as string | undefined);
  const want = comments(m);
  if (have.length === want.length && have.every((c, i) => c === want[i])) return false;
  await applyCommands(overlayMasqCommands(m));
  return true;
}

/** Removes the chain (the node runs without --ip-masq now); a missing one is success. */
export async function removeOverlayMasq(): Promise<boolean> {
  if ((await listChain(TSCNI_TABLE, OVERLAY_MASQ_CHAIN)) === undefined) return false;
  await applyCommands([
    { flush: { chain: { family: TSCNI_TABLE.family, table: TSCNI_TABLE.name, name: OVERLAY_MASQ_CHAIN } } },
    { delete: { chain: { family: TSCNI_TABLE.family, table: TSCNI_TABLE.name, name: OVERLAY_MASQ_CHAIN } } },
  ]);
  return true;
}
