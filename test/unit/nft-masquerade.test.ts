import { describe, expect, it } from 'vitest';
import { addMasqueradeCommands, ownerComment, subnetChain } from '../../lib/nft/masquerade';

const pod = { network: 'podnet', containerId: 'c0ffee', ifname: 'eth0' };
const podJson = (t: object) => JSON.stringify(t);

describe('masquerade ruleset', () => {
  const cmds = addMasqueradeCommands({ ...pod, addresses: ['10.244.1.5/24', 'fd00:244:1::5/64'] });
  const json = podJson(cmds);

  it('creates table inet tscni, both maps and a srcnat postrouting chain', () => {
    expect(cmds[0]).toEqual({ add: { table: { family: 'inet', name: 'tscni' } } });
    expect(json).toContain('"map":{"family":"inet","table":"tscni","name":"masq4","type":"ipv4_addr","map":"verdict"}');
    expect(json).toContain('"map":{"family":"inet","table":"tscni","name":"masq6","type":"ipv6_addr","map":"verdict"}');
    expect(cmds).toContainEqual({
      add: { chain: { family: 'inet', table: 'tscni', name: 'masq_postrouting', type: 'nat', hook: 'postrouting', prio: 100, policy: 'accept' } },
    });
  });

  it('skips multicast before looking up the pod address', () => {
    const rules = cmds.filter((c) => (c.add?.rule as any)?.chain === 'masq_postrouting').map((c) => (c.add!.rule as any).expr);
    expect(rules).toEqual([
      [{ match: { op: '==', left: { payload: { protocol: 'ip', field: 'daddr' } }, right: { prefix: { addr: '224.0.0.0', len: 4 } } } }, { return: null }],
      [{ match: { op: '==', left: { payload: { protocol: 'ip6', field: 'daddr' } }, right: { prefix: { addr: 'ff00::', len: 8 } } } }, { return: null }],
      [{ vmap: { key: { payload: { protocol: 'ip', field: 'saddr' } }, data: '@masq4' } }],
      [{ vmap: { key: { payload: { protocol: 'ip6', field: 'saddr' } }, data: '@masq6' } }],
    ]);
  });

  it('masquerades only traffic that leaves the pod subnet', () => {
    expect(subnetChain('fd00:244:1::/64')).toBe('masq_fd00_244_1___64');
    expect(cmds).toContainEqual({
      add: { rule: { family: 'inet', table: 'tscni', chain: 'masq_10_244_1_0_24', expr: [
        { match: { op: '!=', left: { payload: { protocol: 'ip', field: 'daddr' } }, right: { prefix: { addr: '10.244.1.0', len: 24 } } } },
        { masquerade: null },
      ] } },
    });
  });

  it('with keepTo, keeps the address towards each of those networks and masquerades the rest', () => {
    const keep = addMasqueradeCommands({ ...pod, addresses: ['10.244.64.1/26'], keepTo: ['10.245.0.0/16', '10.244.0.0/16', 'fd00:244::/48'] });
    const keepRules = keep.filter((c) => ((c.add?.rule as any)?.chain ?? '').startsWith('masq_keep_'));
    const chain = (keepRules[0]!.add!.rule as any).chain as string;
    expect(chain).toMatch(/^masq_keep_[0-9a-f]{12}$/);
    expect(keepRules.map((c) => (c.add!.rule as any).expr)).toEqual([
      [{ match: { op: '==', left: { payload: { protocol: 'ip', field: 'daddr' } }, right: { prefix: { addr: '10.244.0.0', len: 16 } } } }, { return: null }],
      [{ match: { op: '==', left: { payload: { protocol: 'ip', field: 'daddr' } }, right: { prefix: { addr: '10.245.0.0', len: 16 } } } }, { return: null }],
      [{ match: { op: '==', left: { payload: { protocol: 'ip6', field: 'daddr' } }, right: { prefix: { addr: 'fd00:244::', len: 48 } } } }, { return: null }],
      [{ masquerade: null }],
    ]);
    // the pod's element jumps there, and no per-subnet chain is made
    expect(JSON.stringify(keep)).toContain(`{"jump":{"target":"${chain}"}}`);
    expect(JSON.stringify(keep)).not.toContain('masq_10_244_64_0_26');
    // one set of networks, in any order, is one chain
    const again = addMasqueradeCommands({ ...pod, addresses: ['10.244.64.2/26'], keepTo: ['fd00:244::/48', '10.244.0.0/16', '10.245.0.0/16'] });
    expect(JSON.stringify(again)).toContain(`"chain":"${chain}"`);
  });

  it('writes the pod element with its owner, replacing any previous owner', () => {
    const elem = [{ elem: { val: '10.244.1.5', comment: ownerComment(pod) } }, { jump: { target: 'masq_10_244_1_0_24' } }];
    const tail = cmds.slice(-6);
    expect(tail.slice(0, 3)).toEqual([
      { add: { element: { family: 'inet', table: 'tscni', name: 'masq4', elem: [elem] } } },
      { delete: { element: { family: 'inet', table: 'tscni', name: 'masq4', elem: ['10.244.1.5'] } } },
      { add: { element: { family: 'inet', table: 'tscni', name: 'masq4', elem: [elem] } } },
    ]);
    expect(tail[5]).toMatchObject({ add: { element: { name: 'masq6' } } });
  });

  it('tags owners with a hash, so long or odd names stay exact and fit', () => {
    const c = ownerComment({ network: 'n"\u00e9'.repeat(60), containerId: 'x'.repeat(64), ifname: 'eth0' });
    expect(c.length).toBeLessThanOrEqual(127);
    expect(c).toMatch(/^tscni\/[0-9a-f]{16}\/[0-9a-f]{16} net=n__/);
    expect(ownerComment(pod)).not.toBe(ownerComment({ ...pod, ifname: 'eth1' }));
  });
});
