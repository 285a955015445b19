// Network namespace plumbing for the lab. Every command that changes network
// state names its namespace explicitly (`ip -n`, `ip netns exec`), so nothing
// here can touch the machine's own namespace by accident.
import { run, type ExecOptions, type ExecResult } from './exec';

export interface Netns {
  name: string;
  /** what a runtime passes as CNI_NETNS */
  path: string;
}

const NETNS_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

function nsName(ns: Netns | string): string {
  const name = typeof ns === 'string' ? ns : ns.name;
  // An empty or odd name would make `ip netns exec` fail in confusing ways, or
  // worse, let a caller slip an option in where the namespace belongs.
  if (!NETNS_NAME.test(name)) throw new Error(`not a test netns name: ${JSON.stringify(name)}`);
  return name;
}

export function netnsPath(name: string): string {
  return `/run/netns/${name}`;
}

export async function addNetns(name: string): Promise<Netns> {
  await run('ip', ['netns', 'add', nsName(name)]);
  return { name, path: netnsPath(name) };
}

export async function deleteNetns(ns: Netns | string): Promise<void> {
  await run('ip', ['netns', 'delete', nsName(ns)], { reject: false });
}

export async function listNetns(): Promise<string[]> {
  const { stdout } = await run('ip', ['netns', 'list']);
  // Lines look like "name (id: 3)" or just "name".
  return stdout.split('\n').map((l) => l.split(' ')[0] ?? '').filter((n) => n !== '');
}

/**
 * The nft tables of the machine's own namespace, as "family name" (read
 * only). A run compares them before and after: a host firewall's tables are
 * expected, one that appeared during the run is a leak.
 */
export async function rootNftTables(): Promise<string[]> {
  const { stdout } = await run('nft', ['-j', 'list', 'tables']);
  const objects = (JSON.parse(stdout) as { nftables: { table?: { family: string; name: string } }[] }).nftables;
  return objects.flatMap((o) => (o.table ? [`${o.table.family} ${o.table.name}`] : []));
}

/** Runs `cmd args` inside `ns`; throws on a non-zero exit unless reject:false. */
export function execIn(ns: Netns | string, cmd: string, args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  return run('ip', ['netns', 'exec', nsName(ns), cmd, ...args], opts);
}

/** `ip -n <ns> …`: iproute2 switches namespace itself, no extra exec. */
export function ip(ns: Netns | string, args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  return run('ip', ['-n', nsName(ns), ...args], opts);
}

/** `ip -j` output parsed, for assertions on kernel state. */
export async function ipJson<T = any>(ns: Netns | string, args: string[]): Promise<T[]> {
  const { stdout } = await ip(ns, ['-j', ...args]);
  return stdout.trim() === '' ? [] : (JSON.parse(stdout) as T[]);
}

export async function sysctl(ns: Netns | string, key: string, value: string | number): Promise<void> {
  await execIn(ns, 'sysctl', ['-q', '-w', `${key}=${value}`]);
}

export async function linkUp(ns: Netns | string, dev: string): Promise<void> {
  await ip(ns, ['link', 'set', 'dev', dev, 'up']);
}

export async function addAddress(ns: Netns | string, dev: string, cidr: string): Promise<void> {
  // nodad: an IPv6 address must be usable at once, not after duplicate detection.
  const extra = cidr.includes(':') ? ['nodad'] : [];
  await ip(ns, ['addr', 'add', cidr, 'dev', dev, ...extra]);
}

/**
 * A veth pair between two namespaces, both ends up. It is created inside `a`
 * with its peer moved straight into `b`, so it never exists in the root netns.
 */
export async function addVeth(a: Netns, aDev: string, b: Netns, bDev: string): Promise<void> {
  await ip(a, ['link', 'add', aDev, 'type', 'veth', 'peer', 'name', bDev, 'netns', nsName(b)]);
  await linkUp(a, aDev);
  await linkUp(b, bDev);
}
