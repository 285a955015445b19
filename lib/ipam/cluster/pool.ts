// IP pools as Calico's IPPool has them: a CIDR cut into blocks of one size,
// each block held by one node, plus how traffic of the pool's pods leaves a
// node (encapsulation, masquerade). Stored at <prefix>/ipam/pools/<name>.
// Everything here is pure: `tscni pool create` checks a pool completely
// before it connects to etcd, so bad input writes nothing.
import { familyBits, formatCidr, networkOf, parseCidr, type Cidr, type Family } from '../../ip/address';
import { isObjectName, NAME_RULE } from '../../routed/names';
import { storedObject } from '../../routed/stored-object';

export const VXLAN_MODES = ['never', 'cross-subnet', 'always'] as const;
export type VxlanMode = (typeof VXLAN_MODES)[number];

/** Calico's defaults: /26 blocks for IPv4, /122 for IPv6. */
export const DEFAULT_BLOCK_SIZE: Record<Family, number> = { 4: 26, 6: 122 };

export interface Pool {
  name: string;
  /** the pool's network, host bits clear */
  cidr: Cidr;
  blockSize: number;
  vxlan: VxlanMode;
  natOutgoing: boolean;
}

/** The stored form, field names as DESIGN.md lists them. */
export interface PoolValue {
  cidr: string;
  blockSize: number;
  vxlan: VxlanMode;
  natOutgoing: boolean;
}

/** A pool's problem, with the field it is about (the CLI names its flag). */
export class PoolError extends Error {
  constructor(readonly field: 'name' | 'cidr' | 'blockSize' | 'vxlan' | 'natOutgoing', message: string) {
    super(message);
  }
}

/** Routed mode's name rule: a pool's name becomes part of etcd keys. */
export const isPoolName = isObjectName;

export interface PoolInput {
  name: string;
  cidr: string;
  blockSize?: number;
  vxlan?: string;
  natOutgoing?: boolean;
}

/** The pool, or a PoolError naming the field that is wrong. */
export function makePool(input: PoolInput): Pool {
  if (!isPoolName(input.name)) {
    throw new PoolError('name', `${JSON.stringify(input.name)} ${NAME_RULE}`);
  }
  const parsed = parseCidr(input.cidr);
  if (typeof parsed === 'string') throw new PoolError('cidr', parsed);
  const cidr = networkOf(parsed);
  if (cidr.ip.value !== parsed.ip.value) {
    throw new PoolError('cidr', `${input.cidr} has host bits set (the network is ${formatCidr(cidr)})`);
  }
  const family = cidr.ip.family;
  const blockSize = input.blockSize ?? DEFAULT_BLOCK_SIZE[family];
  // Every block keeps its first address as the gateway the result names, so a
  // block needs at least one more: /31 (IPv4) or /127 (IPv6) is the smallest.
  const longest = familyBits(family) - 1;
  if (!Number.isInteger(blockSize) || blockSize < cidr.prefix || blockSize > longest) {
    throw new PoolError('blockSize', `/${blockSize} does not fit the IPv${family} pool ${formatCidr(cidr)}: it must be from /${cidr.prefix} to /${longest}`);
  }
  const vxlan = input.vxlan ?? 'never';
  if (!(VXLAN_MODES as readonly string[]).includes(vxlan)) {
    throw new PoolError('vxlan', `"${vxlan}" is not one of ${VXLAN_MODES.join(', ')}`);
  }
  return { name: input.name, cidr, blockSize, vxlan: vxlan as VxlanMode, natOutgoing: input.natOutgoing ?? false };
}

export function poolValue(p: Pool): PoolValue {
  return { cidr: formatCidr(p.cidr), blockSize: p.blockSize, vxlan: p.vxlan, natOutgoing: p.natOutgoing };
}

/**
 * A stored pool, or a string naming what is wrong with it: what someone
 * wrote by hand goes through the checks `tscni pool create` makes.
 */
export function decodePool(name: string, text: string): Pool | string {
  const what = `pool ${isPoolName(name) ? name : JSON.stringify(name)}`;
  const raw = storedObject(what, text);
  if (typeof raw === 'string') return raw;
  if (typeof raw.cidr !== 'string') return `${what}: cidr: must be a CIDR`;
  if (raw.blockSize !== undefined && typeof raw.blockSize !== 'number') return `${what}: blockSize: must be a prefix length`;
  if (raw.vxlan !== undefined && typeof raw.vxlan !== 'string') return `${what}: vxlan: must be one of ${VXLAN_MODES.join(', ')}`;
  if (raw.natOutgoing !== undefined && typeof raw.natOutgoing !== 'boolean') return `${what}: natOutgoing: must be true or false`;
  try {
    return makePool({ name, cidr: raw.cidr, blockSize: raw.blockSize, vxlan: raw.vxlan, natOutgoing: raw.natOutgoing });
  } catch (e) {
    if (!(e instanceof PoolError)) throw e;
    return `${what}: ${e.field}: ${e.message}`;
  }
}

/** How many blocks the pool holds. */
export function blockCount(p: Pool): bigint {
  return 1n << BigInt(p.blockSize - p.cidr.prefix);
}

/** The pool's `index`th block. */
export function nthBlock(p: Pool, index: bigint): Cidr {
  const size = 1n << BigInt(familyBits(p.cidr.ip.family) - p.blockSize);
  return { ip: { family: p.cidr.ip.family, value: p.cidr.ip.value + index * size }, prefix: p.blockSize };
}
