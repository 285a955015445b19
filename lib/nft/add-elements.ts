// Applying an ADD's nftables batch. The first pod on a node (or the first
// after an upgrade) needs everything: table, sets, chains, rules, and its own
// elements, in one `nft` JSON transaction. Every later pod only adds
// elements to sets that exist already; those go over nfnetlink in one
// nf_tables transaction, without starting nft (about half of ADD's own work
// when nft did it).
//
// Which case holds is decided from the rules. Each rule of a chain the batch
// defines carries a comment naming the chain's version: a hash of the
// chain's definition, its rules and the sets they use, as this code writes
// them. When every such chain in the kernel holds exactly those rules, the
// ruleset is ours at this version, and the sets exist (a rule that uses a
// set keeps it from being deleted). Anything else — a missing table, a
// flushed chain, rules of another version, a value this module does not
// encode, any refusal of the element transaction — sends the whole batch to
// nft, which writes the ruleset afresh; the element transaction is all or
// nothing, so a refused one leaves nothing behind.
import { sha256Hex } from '../hash';
import { parseAttrs, stringAttr } from '../netlink/attr';
import { NFNL_SUBSYS, NFT_MSG, NfnlChannel, type NftMessage } from '../netlink/nfnetlink';
import { deleteElementsMessage, newElementsMessage, userdataComment, type NewElement } from './elements';
import { encodeData, encodeKey, UnencodableValue } from './element-values';
import type { Family, NftCommand, TableRef } from './json';
import { applyCommands } from './run';

/** How a batch was applied; for nft, why the elements alone would not do. */
export type Applied = { via: 'nfnetlink' } | { via: 'nft'; why: string };

type Body = Record<string, any>;
const tableKey = (b: Body): string => `${b.family} ${b.table}`;
const chainKey = (b: Body): string => `${b.family} ${b.table} ${b.chain ?? b.name}`;

/** Where the sets and maps of a batch are declared, by "<family> <table> <name>". */
function declaredSets(commands: readonly NftCommand[]): Map<string, Body> {
  const sets = new Map<string, Body>();
  for (const c of commands) {
    const s = c.add?.set ?? c.add?.map;
    if (s) sets.set(chainKey(s as Body), s as Body);
  }
  return sets;
}

/**
 * The batch with every rule of a defined chain (add + flush + rules)
 * commented with the chain's version, so a later ADD can tell the ruleset
 * is the one this code writes.
 */
export function withChainMarkers(commands: readonly NftCommand[]): NftCommand[] {
  const sets = declaredSets(commands);
  const chains = new Map<string, { chain?: unknown; rules: unknown[] }>();
  for (const c of commands) {
    const body = (c.add?.chain ?? c.flush?.chain ?? c.add?.rule) as Body | undefined;
    if (!body) continue;
    const def = chains.get(chainKey(body)) ?? { rules: [] };
    if (c.add?.chain) def.chain = body;
    if (c.add?.rule) def.rules.push(body.expr);
    chains.set(chainKey(body), def);
  }
  const markers = new Map<string, string>();
  for (const [key, def] of chains) {
    const [family, table] = key.split(' ');
    const used = [...new Set(JSON.stringify(def.rules).match(/"@[^"]+"/g) ?? [])]
      .map((ref) => sets.get(`${family} ${table} ${ref.slice(2, -1)}`));
    markers.set(key, `tscni ruleset ${sha256Hex(JSON.stringify({ ...def, used })).slice(0, 16)}`);
  }
  return commands.map((c) => {
    const rule = c.add?.rule as Body | undefined;
    if (!rule || rule.comment !== undefined) return c;
    return { add: { rule: { ...rule, comment: markers.get(chainKey(rule)) } } };
  });
}

interface ElementTransaction {
  /** per table: each defined chain's rule comments, in order */
  chains: Map<string, { table: TableRef; rules: Map<string, string[]> }>;
  messages: NftMessage[];
}

const ELEMENTS_PER_MESSAGE = 256;

/** The element commands of a marked batch as nf_tables messages, or why they cannot stand for it. */
export function elementTransaction(commands: readonly NftCommand[]): ElementTransaction | string {
  const sets = declaredSets(commands);
  const chains: ElementTransaction['chains'] = new Map();
  const messages: NftMessage[] = [];
  const touched = new Set<string>();
  for (const c of commands) {
    const [verb, what] = Object.entries(c)[0] as [string, Body];
    const kind = Object.keys(what)[0]!;
    const body = what[kind] as Body;
    if (verb === 'add' && ['table', 'set', 'map', 'chain'].includes(kind)) continue;
    if (verb === 'flush' && kind === 'chain') {
      // defineChain: add, flush, then the rules
      const t = chains.get(tableKey(body)) ?? { table: { family: body.family as Family, name: body.table }, rules: new Map() };
      t.rules.set(body.name, []);
      chains.set(tableKey(body), t);
      continue;
    }
    if (verb === 'add' && kind === 'rule') {
      const rules = chains.get(tableKey(body))?.rules.get(body.chain);
      if (!rules) return `rule added to chain ${chainKey(body)} without its other rules`;
      rules.push(body.comment);
      continue;
    }
    if (kind !== 'element' || !['add', 'create', 'delete'].includes(verb)) return `${verb} ${kind} is not an element change`;
    const set = sets.get(chainKey(body));
    if (!set) return `set ${chainKey(body)} is not declared in the batch`;
    if (body.elem.length > ELEMENTS_PER_MESSAGE) return `${body.elem.length} elements for one set`;
    touched.add(tableKey(body));
    try {
      messages.push(elementMessage(verb, { family: body.family, name: body.table }, set, body.elem));
    } catch (e) {
      if (e instanceof UnencodableValue) return e.message;
      throw e;
    }
  }
  for (const t of touched) if (!chains.has(t)) return `no chain of table ${t} shows it is this version's`;
  return { chains, messages };
}

function elementMessage(verb: string, t: TableRef, set: Body, elems: unknown[]): NftMessage {
  const types: string[] = Array.isArray(set.type) ? set.type : [set.type];
  const interval = (set.flags ?? []).includes('interval');
  if (verb === 'delete') {
    return deleteElementsMessage(t, set.name, elems.map((k) => ({ set: set.name, ...encodeKey(types, k, interval), flags: 0 })));
  }
  const elements = elems.map((e): NewElement => {
    const [rawKey, data] = Array.isArray(e) ? e : [e, undefined];
    const wrapped = (rawKey as { elem?: { val: unknown; comment?: string } } | null)?.elem;
    const key = encodeKey(types, wrapped ? wrapped.val : rawKey, interval);
    if ((set.map !== undefined) !== (data !== undefined)) throw new UnencodableValue(`element ${JSON.stringify(e)} does not fit ${set.name}`);
    return { ...key, ...(data !== undefined ? { data: encodeData(set.map, data) } : {}), ...(wrapped?.comment !== undefined ? { comment: wrapped.comment } : {}) };
  });
  return newElementsMessage(t, set.name, elements, verb === 'create');
}

const NFTA_RULE = { TABLE: 1, CHAIN: 2, USERDATA: 7 } as const;

/** What differs between the kernel's rules and the chains the batch defines; undefined when nothing does. */
async function chainsDiffer(ch: NfnlChannel, t: TableRef, expected: Map<string, string[]>): Promise<string | undefined> {
  const answers = await ch.dump(`list rules of ${t.family} ${t.name}`, NFNL_SUBSYS.NFTABLES, NFT_MSG.GETRULE, t.family, [stringAttr(NFTA_RULE.TABLE, t.name)]);
  const held = new Map<string, (string | undefined)[]>();
  for (const a of answers) {
    const r = parseAttrs(a);
    const chain = r.get(NFTA_RULE.CHAIN)?.toString('utf8').replace(/\0.*$/s, '') ?? '';
    held.set(chain, [...(held.get(chain) ?? []), userdataComment(r.get(NFTA_RULE.USERDATA))]);
  }
  for (const [chain, comments] of expected) {
    const rules = held.get(chain);
    if (!rules) return `chain ${t.family} ${t.name} ${chain} has no rules or does not exist`;
    if (JSON.stringify(rules) !== JSON.stringify(comments)) return `chain ${t.family} ${t.name} ${chain} is not as this version writes it`;
  }
  return undefined;
}

/**
 * Applies an ADD's batch: its element changes alone over nfnetlink when the
 * ruleset is in place at this version, else the whole batch through nft.
 *
 * Closing a netfilter socket right after a transaction waits for the
 * kernel's cleanup of that transaction (an RCU grace period, milliseconds on
 * a busy node); a caller that passes its own channel and closes it after its
 * remaining steps lets that wait overlap with them.
 */
export async function applyRuleset(commands: readonly NftCommand[], channel?: NfnlChannel): Promise<Applied> {
  const marked = withChainMarkers(commands);
  const plan = elementTransaction(marked);
  let why: string | undefined = typeof plan === 'string' ? plan : undefined;
  if (typeof plan !== 'string') {
    const viaNetlink = async (ch: NfnlChannel): Promise<string | undefined> => {
      for (const { table, rules } of plan.chains.values()) {
        const differs = await chainsDiffer(ch, table, rules);
        if (differs) return differs;
      }
      await ch.transaction(`add ${plan.messages.length} element change(s)`, plan.messages);
      return undefined;
    };
    try {
      why = await (channel ? viaNetlink(channel) : NfnlChannel.use(viaNetlink));
    } catch (e) {
      why = (e as Error).message;
    }
    if (why === undefined) return { via: 'nfnetlink' };
  }
  await applyCommands(marked);
  return { via: 'nft', why: why! };
}
