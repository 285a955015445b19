// A range set: the ranges one interface may get exactly one address from (one
// entry of `ipam.ranges`). All ranges of a set share a family and must not
// overlap; dual-stack is two sets, one per family.
import { invalidConfig } from '../cni/errors';
import type { Ip } from '../ip/address';
import { canonicalizeRange, formatRange, rangeContains, rangesOverlap, type IpRange, type RangeInput } from './range';

export type RangeSet = readonly IpRange[];

/**
 * Validates a set. `field` names the set in errors (e.g. `ipam.ranges[0]`);
 * `rangeField` names its i-th range, which for the legacy top-level form is
 * `ipam` itself rather than `ipam[0]`.
 */
export function canonicalizeRangeSet(
  inputs: readonly RangeInput[],
  field: string,
  rangeField: (i: number) => string = (i) => `${field}[${i}]`,
): RangeSet {
  if (inputs.length === 0) throw invalidConfig(field, 'is an empty range set');
  const set = inputs.map((input, i) => canonicalizeRange(input, rangeField(i)));
  const family = set[0]!.subnet.ip.family;
  set.forEach((r, i) => {
    if (r.subnet.ip.family !== family) {
      throw invalidConfig(`${rangeField(i)}.subnet`, `IPv${r.subnet.ip.family} in a range set of IPv${family} ranges (mixed address families)`);
    }
  });
  for (let i = 0; i < set.length; i++) {
    for (let j = i + 1; j < set.length; j++) {
      if (rangesOverlap(set[i]!, set[j]!)) {
        throw invalidConfig(rangeField(j), `range ${formatRange(set[j]!)} overlaps ${rangeField(i)} (${formatRange(set[i]!)})`);
      }
    }
  }
  return set;
}

/** The range of the set that holds `ip` between its rangeStart and rangeEnd. */
export function rangeFor(set: RangeSet, ip: Ip): IpRange | undefined {
  return set.find((r) => rangeContains(r, ip));
}

export function rangeSetContains(set: RangeSet, ip: Ip): boolean {
  return rangeFor(set, ip) !== undefined;
}

export function rangeSetsOverlap(a: RangeSet, b: RangeSet): boolean {
  return a.some((ra) => b.some((rb) => rangesOverlap(ra, rb)));
}

/** "start-end,start-end": how the reference names a set in its messages. */
export function formatRangeSet(set: RangeSet): string {
  return set.map(formatRange).join(',');
}
