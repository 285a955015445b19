// Runs the `nft` program in the caller's network namespace: a plugin runs in
// the node's netns, so "the current netns" is the node. Through the native
// addon's posix_spawn rather than node:child_process (or execa, which adds
// ~40 ms of start-up): measured here, `nft --version` from a plugin cost
// 6 ms to load child_process plus 18 ms to spawn and reap, against 9 ms in
// all through posix_spawn. nft writes a ruleset's first version (and any
// change of it); element changes of later pods, and all of DEL, go over
// nfnetlink (elements.ts, add-elements.ts). A plugin has nothing else to do
// while nft runs, so waiting synchronously costs nothing.
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { CniError, UNKNOWN_ERROR_CODE } from '../cni/errors';
import { native } from '../native';
import type { NftCommand, TableRef } from './json';

export class NftError extends CniError {
  constructor(readonly args: string[], readonly exitCode: number, readonly stderr: string) {
    const first = stderr.split('\n').find((l) => l.trim() !== '') ?? `exit ${exitCode}`;
    const shown = args.map((a) => (a.length > 60 ? `${a.slice(0, 57)}...` : a)).join(' ');
    super(UNKNOWN_ERROR_CODE, `nft ${shown}: ${first.trim()}`, stderr.trim() || undefined);
  }

  /** nft reports a missing table, chain, set or element as ENOENT. */
  get notFound(): boolean {
    return /No such file or directory/.test(this.stderr);
  }
}

/**
 * Runtimes pass their own PATH, which may lack the sbin directories. Only
 * absolute entries count: an empty or relative one would name a program
 * relative to whatever directory the runtime started the plugin in.
 */
export function nftPath(searchPath = process.env.PATH ?? ''): string {
  const dirs = [...searchPath.split(':'), '/usr/sbin', '/sbin', '/usr/local/sbin'];
  for (const dir of dirs) {
    if (!isAbsolute(dir)) continue;
    try {
      accessSync(`${dir}/nft`, constants.X_OK);
      return `${dir}/nft`;
    } catch {
      // try the next directory
    }
  }
  throw new CniError(UNKNOWN_ERROR_CODE, 'nft: program not found in PATH or /usr/sbin (install nftables)');
}

/** nft finishes in milliseconds; one that hangs is killed rather than hanging the plugin and its runtime. */
const NFT_TIMEOUT_MS = 30_000;

async function runNft(args: string[]): Promise<string> {
  const path = nftPath();
  const r = native().runProgram(path, ['nft', ...args], NFT_TIMEOUT_MS);
  if (r.status !== 0) throw new NftError(args, r.status, r.stderr);
  return r.stdout;
}

// nft 1.0.6 reads `-f -` by opening /dev/stdin, which fails (ENXIO) on the
// socketpair Node gives a child as stdin. `nft -j <json>` parses the argument
// the same way; one argument may hold at most 128 KiB (MAX_ARG_STRLEN), so a
// batch larger than that (a big GC) goes through a private temp file instead.
const MAX_INLINE_BATCH = 96 * 1024;

/** Applies a batch atomically, in one nft call: one transaction, all or nothing. */
export async function applyCommands(commands: NftCommand[]): Promise<void> {
  if (commands.length === 0) return;
  const batch = JSON.stringify({ nftables: commands });
  if (Buffer.byteLength(batch) <= MAX_INLINE_BATCH) {
    await runNft(['-j', batch]);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'tscni-nft-'));
  try {
    writeFileSync(join(dir, 'batch.json'), batch, { mode: 0o600 });
    await runNft(['-j', '-f', join(dir, 'batch.json')]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Objects of `nft -j list …` output, e.g. {table}, {chain}, {rule}, {set}, {map}. */
export type NftListing = Record<string, any>[];

/** The table's objects, or undefined when the table does not exist. */
export async function listTable(t: TableRef): Promise<NftListing | undefined> {
  try {
    const out = await runNft(['-j', 'list', 'table', t.family, t.name]);
    const parsed = JSON.parse(out) as { nftables?: NftListing };
    return (parsed.nftables ?? []).filter((o) => !('metainfo' in o));
  } catch (e) {
    if (e instanceof NftError && e.notFound) return undefined;
    throw e;
  }
}

/** The chain's objects ({chain}, then its {rule}s), or undefined when the table or chain does not exist. */
export async function listChain(t: TableRef, chain: string): Promise<NftListing | undefined> {
  try {
    const out = await runNft(['-j', 'list', 'chain', t.family, t.name, chain]);
    const parsed = JSON.parse(out) as { nftables?: NftListing };
    return (parsed.nftables ?? []).filter((o) => !('metainfo' in o));
  } catch (e) {
    if (e instanceof NftError && e.notFound) return undefined;
    throw e;
  }
}

export interface ListedElement {
  /** the key as nft prints it, e.g. "10.244.1.5" */
  key: unknown;
  /** map data (e.g. {jump:{target}}), undefined for a set */
  data?: unknown;
  comment?: string;
}

/** Elements of one set or map in a listing, comments unwrapped. */
export function elementsOf(listing: NftListing, name: string): ListedElement[] {
  const obj = listing.find((o) => (o.set ?? o.map)?.name === name);
  const elems: unknown[] = (obj?.set ?? obj?.map)?.elem ?? [];
  return elems.map((e) => {
    const [rawKey, data] = Array.isArray(e) ? e : [e, undefined];
    if (rawKey !== null && typeof rawKey === 'object' && 'elem' in rawKey) {
      const { val, comment } = (rawKey as { elem: { val: unknown; comment?: string } }).elem;
      return { key: val, data, comment };
    }
    return { key: rawKey, data };
  });
}
