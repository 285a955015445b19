// What our plugins leave in a node, read from the kernel and from the node's
// private /var/lib/cni: the oracle for "ADD built it" and "DEL removed it all".
import { expect } from 'vitest';
import type { RuntimeNode } from './node';

export const NETWORK = 'tscni-bridge';
export const BRIDGE = 'tscni0';
export const GATEWAY = '10.244.1.1';
export const SUBNET_PREFIX = '10.244.1.';

export interface CniState {
  /** host-side veths enslaved to the bridge */
  bridgePorts: string[];
  /** host-local reservation files: address → the container id in it */
  reservations: Map<string, string>;
  /** libcni's result cache files (`<network>-<containerId>-<ifname>`) */
  cache: string[];
  /** comments of every nft element in table inet tscni (they carry `id=<containerId>`) */
  nftElements: string[];
}

export async function cniState(node: RuntimeNode): Promise<CniState> {
  const links = await node.exec('ip', ['-j', 'link', 'show', 'master', BRIDGE], { reject: false });
  const bridgePorts = links.exitCode === 0 && links.stdout.trim() !== ''
    ? (JSON.parse(links.stdout) as { ifname: string }[]).map((l) => l.ifname)
    : [];

  // One line per reservation: "<file>\t<first line of it>", the first line being the container id.
  const dir = `/var/lib/cni/networks/${NETWORK}`;
  const listing = await node.exec('sh', ['-c',
    'cd "$1" 2>/dev/null || exit 0; for f in *; do [ -f "$f" ] && printf "%s\\t%s\\n" "$f" "$(head -n1 "$f")"; done',
    'sh', dir]);
  const reservations = new Map<string, string>();
  for (const line of listing.stdout.split('\n')) {
    const [file, id] = line.split('\t');
    if (file && /^\d+\.\d+\.\d+\.\d+$|:/.test(file)) reservations.set(file, (id ?? '').trim());
  }

  const results = await node.exec('ls', ['-1', '/var/lib/cni/results'], { reject: false });
  const cache = results.stdout.split('\n').filter(Boolean);

  const nft = await node.exec('nft', ['list', 'table', 'inet', 'tscni'], { reject: false });
  // Element comments name their attachment; a rule's "tscni ruleset <hash>" marks the ruleset's version.
  const nftElements = [...nft.stdout.matchAll(/comment "([^"]*)"/g)].map((m) => m[1] ?? '').filter((c) => !c.startsWith('tscni ruleset '));

  return { bridgePorts, reservations, cache, nftElements };
}

/** The state entries that name `containerId` (nft comments may cut long ids short). */
export function traceOf(state: CniState, containerId: string) {
  const idPrefix = containerId.slice(0, 32);
  return {
    reservations: [...state.reservations].filter(([, id]) => id === containerId).map(([ip]) => ip),
    cache: state.cache.filter((f) => f === `${NETWORK}-${containerId}-eth0`),
    nftElements: state.nftElements.filter((c) => c.includes(`id=${idPrefix}`)),
  };
}

/**
 * Executables the runtime could find that are not ours: anything in /usr/lib/cni
 * (Debian's ctr falls back to it) or without our install marker in /opt/cni/bin.
 */
export async function foreignPlugins(node: RuntimeNode): Promise<string[]> {
  const { stdout } = await node.exec('sh', ['-c',
    'for f in /usr/lib/cni/* /opt/cni/bin/*; do [ -e "$f" ] || continue; ' +
    'case "$f" in /opt/*) grep -qF "tscni multi-call executable" "$f" && continue;; esac; echo "$f"; done']);
  return stdout.split('\n').filter(Boolean);
}

/** After every container is gone: no port, reservation, cache entry or nft element left, and the bridge kept for later pods. */
export async function expectNoPodState(node: RuntimeNode): Promise<void> {
  const state = await cniState(node);
  expect(state.bridgePorts).toEqual([]);
  expect([...state.reservations.keys()]).toEqual([]);
  expect(state.cache).toEqual([]);
  expect(state.nftElements).toEqual([]);
  // The bridge itself stays, as with the reference plugin: other pods may come.
  expect((await node.exec('ip', ['-o', 'link', 'show', BRIDGE])).stdout).toContain(BRIDGE);
}
