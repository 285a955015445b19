import { describe, expect, it } from 'vitest';
import { parsePodCidr } from '../../lib/nft/cidr';
import { commentedElement, daddr, dnat, jump, mapLookup, match, meta, prefix, vmap } from '../../lib/nft/expr';
import {
  addChain, addElements, addSet, defineChain, deleteElementsIfPresent, elementKey, replaceElements, TSCNI_TABLE,
} from '../../lib/nft/json';
import { elementsOf } from '../../lib/nft/run';

const T = TSCNI_TABLE;

describe('nft JSON commands', () => {
  it('writes base chains with type, hook, priority and policy', () => {
    expect(addChain(T, 'pre', { type: 'nat', hook: 'prerouting', prio: -100 })).toEqual({
      add: { chain: { family: 'inet', table: 'tscni', name: 'pre', type: 'nat', hook: 'prerouting', prio: -100, policy: 'accept' } },
    });
    expect(addChain(T, 'plain')).toEqual({ add: { chain: { family: 'inet', table: 'tscni', name: 'plain' } } });
  });

  it('defines a chain as add, flush, then its rules', () => {
    const cmds = defineChain(T, 'c', [[match(daddr(4), '!=', prefix('10.0.0.0', 8))]]);
    expect(cmds.map((c) => Object.keys(c)[0])).toEqual(['add', 'flush', 'add']);
    expect(cmds[2]).toEqual({
      add: { rule: { family: 'inet', table: 'tscni', chain: 'c', expr: [
        { match: { op: '!=', left: { payload: { protocol: 'ip', field: 'daddr' } }, right: { prefix: { addr: '10.0.0.0', len: 8 } } } },
      ] } },
    });
  });

  it('names sets and maps by their JSON object type', () => {
    expect(addSet(T, { name: 's', type: 'ipv4_addr', flags: ['interval'] })).toEqual({
      add: { set: { family: 'inet', table: 'tscni', name: 's', type: 'ipv4_addr', flags: ['interval'] } },
    });
    expect(addSet(T, { name: 'm', type: ['ipv4_addr', 'inet_service'], map: 'verdict' })).toEqual({
      add: { map: { family: 'inet', table: 'tscni', name: 'm', type: ['ipv4_addr', 'inet_service'], map: 'verdict' } },
    });
  });

  it('deletes an element that may be missing by adding it first, keyed without data or comment', () => {
    const elem = [commentedElement('10.1.1.1', 'owner'), jump('x')];
    expect(elementKey(elem)).toBe('10.1.1.1');
    expect(elementKey('fd00::1')).toBe('fd00::1');
    const [add, del] = deleteElementsIfPresent(T, 'm', [elem]);
    expect(add).toEqual(addElements(T, 'm', [elem]));
    expect(del).toEqual({ delete: { element: { family: 'inet', table: 'tscni', name: 'm', elem: ['10.1.1.1'] } } });
  });

  it('replaces an element so that the new comment wins', () => {
    const cmds = replaceElements(T, 's', [commentedElement('10.1.1.1', 'new')]);
    expect(cmds.map((c) => Object.keys(c)[0])).toEqual(['add', 'delete', 'add']);
  });

  it('builds lookups, verdict maps and NAT statements', () => {
    expect(vmap(meta('l4proto'), 'v')).toEqual({ vmap: { key: { meta: { key: 'l4proto' } }, data: '@v' } });
    expect(dnat(6, mapLookup(meta('mark'), 'targets'))).toEqual({
      dnat: { family: 'ip6', addr: { map: { key: { meta: { key: 'mark' } }, data: '@targets' } } },
    });
  });

  it('reads elements with and without comments out of a listing', () => {
    const listing = [
      { table: { family: 'inet', name: 'tscni' } },
      { map: { name: 'm', elem: [[{ elem: { val: '10.0.0.2', comment: 'a' } }, { jump: { target: 'c' } }], ['10.0.0.3', { jump: { target: 'c' } }]] } },
      { set: { name: 's', elem: ['10.0.0.4'] } },
    ];
    expect(elementsOf(listing, 'm')).toEqual([
      { key: '10.0.0.2', data: { jump: { target: 'c' } }, comment: 'a' },
      { key: '10.0.0.3', data: { jump: { target: 'c' } } },
    ]);
    expect(elementsOf(listing, 's')).toEqual([{ key: '10.0.0.4', data: undefined }]);
    expect(elementsOf(listing, 'absent')).toEqual([]);
  });
});

describe('pod CIDRs', () => {
  it.each([
    ['10.244.1.5/24', 4, '10.244.1.5', '10.244.1.0/24'],
    ['10.244.1.5/32', 4, '10.244.1.5', '10.244.1.5/32'],
    ['FD00:244:0:1::0005/64', 6, 'fd00:244:0:1::5', 'fd00:244:0:1::/64'],
    ['fd00:0:0:1:0:0:0:1/48', 6, 'fd00:0:0:1::1', 'fd00::/48'],
    // IPv4-mapped: IPv4, the prefix counted from the IPv4 part, as Go's IPNet has it
    ['::ffff:10.0.0.1/120', 4, '10.0.0.1', '10.0.0.0/24'],
    ['2001:db8:0:0:1:0:0:1/128', 6, '2001:db8::1:0:0:1', '2001:db8::1:0:0:1/128'],
  ])('%s', (cidr, family, address, subnet) => {
    expect(parsePodCidr(cidr)).toEqual({ family, address, subnet });
  });

  it.each(['10.244.1.5', '10.244.1.256/24', '10.1.1.1/33', 'fd00::1::2/64', 'fd00:1:2:3:4:5:6:7:8/64', 'x/1'])(
    'rejects %s',
    (bad) => expect(() => parsePodCidr(bad)).toThrow(/not an address/),
  );
});
