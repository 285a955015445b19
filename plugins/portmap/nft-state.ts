// The portmap layout (nft-rules.ts) against what the kernel holds: ADD with its
// conflict report, DEL and GC by owner, CHECK naming each missing mapping.
import { CniError, ErrorCode } from '../../lib/cni/errors';
import { TSCNI_TABLE } from '../../lib/nft/json';
import { removeOwnedElements, removeStaleElements } from '../../lib/nft/owned';
import { describeOwner, isOwnedBy, type PodAttachment } from '../../lib/nft/owner';
import {
  addPortmapCommands, elementId, PM_CHAINS, PM_SETS, planElements, type PlannedElement, type PortmapTarget,
} from './nft-rules';
import type { NfnlChannel } from '../../lib/netlink/nfnetlink';
import { applyRuleset, type Applied } from '../../lib/nft/add-elements';
import { elementsOf, listTable, NftError, type ListedElement, type NftListing } from '../../lib/nft/run';

const T = TSCNI_TABLE;

function listedById(listing: NftListing): Map<string, ListedElement> {
  const out = new Map<string, ListedElement>();
  for (const set of PM_SETS) for (const e of elementsOf(listing, set)) out.set(elementId(set, e.key), e);
  return out;
}

/**
 * After a claim failed: the claims this attachment holds already (to take
 * again), or a CniError naming every host port another attachment holds.
 */
export function resolveClaims(listing: NftListing, t: PortmapTarget): Set<string> {
  const listed = listedById(listing);
  const reclaim = new Set<string>();
  const taken = new Map<string, string>();
  for (const p of planElements(t).filter((x) => x.claim)) {
    const id = elementId(p.set, p.key);
    const e = listed.get(id);
    if (!e) continue;
    if (isOwnedBy(e, t)) reclaim.add(id);
    else taken.set(p.what.replace(/ -> .*/, ''), describeOwner(e.comment));
  }
  if (taken.size > 0) {
    const list = [...taken].map(([what, owner]) => `${what} is already mapped by ${owner}`).join('; ');
    throw new CniError(ErrorCode.InvalidNetworkConfig, `runtimeConfig.portMappings: ${list}`);
  }
  return reclaim;
}

/**
 * ADD: one batch; only when a host port is taken (nft then reports it) does
 * it list the table and decide. `channel`: as applyRuleset's.
 */
export async function addPortmap(t: PortmapTarget, channel?: NfnlChannel): Promise<Applied> {
  try {
    return await applyRuleset(addPortmapCommands(t), channel);
  } catch (e) {
    if (!(e instanceof NftError && /File exists/.test(e.stderr))) throw e;
  }
  const listing = (await listTable(T)) ?? [];
  return applyRuleset(addPortmapCommands(t, resolveClaims(listing, t)), channel);
}

/** DEL: this attachment's elements, whatever addresses it had; a missing table is success. */
export function removePortmap(a: PodAttachment): Promise<void> {
  return removeOwnedElements(T, PM_SETS, a);
}

/** GC: elements of `network` whose attachment is not in `valid`. */
export function gcPortmap(network: string, valid: { containerId: string; ifname: string }[]): Promise<void> {
  return removeStaleElements(T, PM_SETS, network, valid);
}

function problemWith(p: PlannedElement, e: ListedElement | undefined, t: PortmapTarget): string | undefined {
  if (!e) return `missing from ${p.set}`;
  if (!isOwnedBy(e, t)) return `${p.set} holds it for ${describeOwner(e.comment)}`;
  if (JSON.stringify(e.data) !== JSON.stringify(p.data)) return `${p.set} maps it to ${JSON.stringify(e.data)}`;
  return undefined;
}

/** CHECK's findings, one message per mapping or chain that is wrong; empty when everything is in place. */
export function portmapProblems(listing: NftListing, t: PortmapTarget): string[] {
  const chains = new Set(listing.filter((o) => o.chain).map((o) => o.chain.name as string));
  const problems = PM_CHAINS.filter((c) => !chains.has(c)).map((c) => `nft chain inet tscni ${c} is missing`);
  const listed = listedById(listing);
  const byMapping = new Map<string, string[]>();
  for (const p of planElements(t)) {
    const problem = problemWith(p, listed.get(elementId(p.set, p.key)), t);
    if (problem) byMapping.set(p.what, [...(byMapping.get(p.what) ?? []), problem]);
  }
  for (const [what, found] of byMapping) problems.push(`${what}: ${found.join(', ')}`);
  return problems;
}

export async function checkPortmap(t: PortmapTarget): Promise<string[]> {
  return portmapProblems((await listTable(T)) ?? [], t);
}
