import { describe, expect, it } from 'vitest';
import { CniError } from '../../lib/cni/errors';
import { ownerComment } from '../../lib/nft/owner';
import {
  addPortmapCommands, DuplicateMappingError, elementId, planElements, PM_SETS, portmapBaseCommands, type PortmapTarget,
} from '../../plugins/portmap/nft-rules';
import { portmapProblems, resolveClaims } from '../../plugins/portmap/nft-state';
import { isOwnedBy, staleIn } from '../../lib/nft/owner';
import { elementsOf, type NftListing } from '../../lib/nft/run';

const pod = { network: 'pmnet', containerId: 'ctr-a', ifname: 'eth0' };
const other = { ...pod, containerId: 'ctr-b' };
const target = (over: Partial<PortmapTarget> = {}): PortmapTarget => ({
  ...pod,
  addresses: ['10.244.1.5', 'fd00:244:1::5'],
  mappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }],
  snat: true,
  masqAll: false,
  ...over,
});
const T = { family: 'inet', table: 'tscni' };
const rulesOf = (cmds: object[], chain: string) =>
  cmds.filter((c: any) => c.add?.rule?.chain === chain).map((c: any) => c.add.rule.expr);

/** What `nft -j list table` would print after `cmds`, elements only. */
function listingAfter(cmds: any[]): NftListing {
  const sets = new Map<string, Map<string, unknown>>();
  const keyOf = (e: any) => JSON.stringify(Array.isArray(e) ? e[0].elem?.val ?? e[0] : e.elem?.val ?? e);
  for (const c of cmds) {
    const e = (c.add ?? c.create ?? c.delete)?.element;
    if (!e) continue;
    const set = sets.get(e.name) ?? new Map<string, unknown>();
    sets.set(e.name, set);
    for (const x of e.elem) {
      if (c.delete) set.delete(keyOf(x));
      else set.set(keyOf(x), x);
    }
  }
  return [...sets].map(([name, elem]) => ({ map: { name, elem: [...elem.values()] } }));
}

describe('portmap layout', () => {
  const base = portmapBaseCommands();

  it('hooks prerouting and output (dstnat) to node-local destinations only', () => {
    for (const [chain, hook] of [['pm_prerouting', 'prerouting'], ['pm_output', 'output']] as const) {
      expect(base).toContainEqual({ add: { chain: { ...T, name: chain, type: 'nat', hook, prio: -100, policy: 'accept' } } });
      expect(rulesOf(base, chain)).toEqual([[
        { match: { op: '==', left: { fib: { flags: ['daddr'], result: 'type' } }, right: 'local' } },
        { jump: { target: 'pm_dnat' } },
      ]]);
    }
  });

  it('looks up hostIP mappings before any-address ones, address and port from two maps', () => {
    const [first, , third] = rulesOf(base, 'pm_dnat');
    expect(first[1].dnat.family).toBe('ip');
    expect(first[1].dnat.addr.map).toEqual({
      key: { concat: [{ payload: { protocol: 'ip', field: 'daddr' } }, { meta: { key: 'l4proto' } }, { payload: { protocol: 'th', field: 'dport' } }] },
      data: '@pm_hostip_addr4',
    });
    expect(first[1].dnat.port.map.data).toBe('@pm_hostip_port4');
    expect(third[0]).toEqual({ match: { op: '==', left: { meta: { key: 'nfproto' } }, right: 'ipv4' } });
    expect(third[1].dnat.addr.map.key).toEqual({ concat: [{ meta: { key: 'l4proto' } }, { payload: { protocol: 'th', field: 'dport' } }] });
    expect(rulesOf(base, 'pm_dnat')).toHaveLength(4);
  });

  it('declares maps with proto/port keys and a masquerade set of saddr . daddr intervals', () => {
    expect(base).toContainEqual({ add: { map: { ...T, name: 'pm_hostip_addr6', type: ['ipv6_addr', 'inet_proto', 'inet_service'], map: 'ipv6_addr' } } });
    expect(base).toContainEqual({ add: { map: { ...T, name: 'pm_port4', type: ['inet_proto', 'inet_service'], map: 'inet_service' } } });
    expect(base).toContainEqual({ add: { set: { ...T, name: 'pm_masq4', type: ['ipv4_addr', 'ipv4_addr'], flags: ['interval'] } } });
    expect(rulesOf(base, 'pm_postrouting')[0]).toEqual([
      { match: { op: 'in', left: { ct: { key: 'status' } }, right: 'dnat' } },
      { match: { op: '==', left: { concat: [{ payload: { protocol: 'ip', field: 'saddr' } }, { payload: { protocol: 'ip', field: 'daddr' } }] }, right: '@pm_masq4' } },
      { masquerade: null },
    ]);
    expect(JSON.stringify(rulesOf(base, 'pm_input'))).toContain('"drop":null');
  });
});

describe('portmap elements', () => {
  it('maps every port to the v4 and the v6 address, with hairpin and localhost masquerade', () => {
    const plan = planElements(target());
    expect(plan.map((p) => [p.set, p.key, p.data])).toEqual([
      ['pm_addr4', { concat: ['tcp', 8080] }, '10.244.1.5'],
      ['pm_port4', { concat: ['tcp', 8080] }, 80],
      ['pm_masq4', { concat: ['10.244.1.5', '10.244.1.5'] }, undefined],
      ['pm_masq4', { concat: [{ prefix: { addr: '127.0.0.0', len: 8 } }, '10.244.1.5'] }, undefined],
      ['pm_addr6', { concat: ['tcp', 8080] }, 'fd00:244:1::5'],
      ['pm_port6', { concat: ['tcp', 8080] }, 80],
      ['pm_masq6', { concat: ['fd00:244:1::5', 'fd00:244:1::5'] }, undefined],
    ]);
  });

  it('restricts to hostIP, skips a hostIP of the other family, treats 0.0.0.0 as any', () => {
    const plan = planElements(target({
      snat: false,
      mappings: [
        { hostPort: 53, containerPort: 5353, protocol: 'udp', hostIP: '10.250.0.1' },
        { hostPort: 443, containerPort: 8443, protocol: 'sctp', hostIP: '0.0.0.0' },
      ],
    }));
    expect(plan.map((p) => [p.set, p.key])).toEqual([
      ['pm_hostip_addr4', { concat: ['10.250.0.1', 'udp', 53] }], ['pm_hostip_port4', { concat: ['10.250.0.1', 'udp', 53] }],
      ['pm_addr4', { concat: ['sctp', 443] }], ['pm_port4', { concat: ['sctp', 443] }],
    ]);
  });

  it('masquerades any source with masqAll, nothing with snat off', () => {
    const all = planElements(target({ masqAll: true })).filter((p) => p.set.startsWith('pm_masq'));
    expect(all.map((p) => p.key)).toEqual([
      { concat: [{ prefix: { addr: '0.0.0.0', len: 0 } }, '10.244.1.5'] },
      { concat: [{ prefix: { addr: '::', len: 0 } }, 'fd00:244:1::5'] },
    ]);
    expect(planElements(target({ snat: false })).some((p) => p.set.startsWith('pm_masq'))).toBe(false);
  });

  it('writes canonical v6 keys, so listed and planned elements compare equal', () => {
    const plan = planElements(target({ addresses: ['FD00:0244:0001:0:0:0:0:5'], mappings: [{ hostPort: 1, containerPort: 2, protocol: 'tcp', hostIP: 'fd00:0::1' }] }));
    expect(plan[0]).toMatchObject({ key: { concat: ['fd00::1', 'tcp', 1] }, data: 'fd00:244:1::5' });
  });

  it('accepts a repeated mapping, refuses one host port sent to two container ports', () => {
    const m = { hostPort: 8080, containerPort: 80, protocol: 'tcp' as const };
    expect(planElements(target({ mappings: [m, m] }))).toHaveLength(7);
    expect(() => planElements(target({ mappings: [m, { ...m, containerPort: 81 }] }))).toThrow(DuplicateMappingError);
  });

  it('claims host ports with create (a taken key fails the batch) and replaces masquerade elements', () => {
    const cmds = addPortmapCommands(target({ addresses: ['10.244.1.5'] }));
    const own = ownerComment(pod);
    const tail = cmds.slice(portmapBaseCommands().length);
    expect(tail[0]).toEqual({ create: { element: { ...T, name: 'pm_addr4', elem: [[{ elem: { val: { concat: ['tcp', 8080] }, comment: own } }, '10.244.1.5']] } } });
    expect(tail[1]).toMatchObject({ create: { element: { name: 'pm_port4' } } });
    expect(tail.slice(2, 5).map((c) => Object.keys(c)[0])).toEqual(['add', 'delete', 'add']);
    const reclaim = new Set([elementId('pm_addr4', { concat: ['tcp', 8080] })]);
    const again = addPortmapCommands(target({ addresses: ['10.244.1.5'] }), reclaim).slice(portmapBaseCommands().length);
    expect(again.slice(0, 2)).toEqual([
      { delete: { element: { ...T, name: 'pm_addr4', elem: [{ concat: ['tcp', 8080] }] } } },
      tail[0],
    ]);
  });
});

describe('portmap state', () => {
  const mine = addPortmapCommands(target());
  const theirs = addPortmapCommands({ ...target(), ...other, addresses: ['10.244.1.6'], mappings: [{ hostPort: 9090, containerPort: 90, protocol: 'udp' }] });
  const listing = listingAfter([...mine, ...theirs]);

  it('names the taken host port and its owner', () => {
    const clash = { ...target(), ...other, addresses: ['10.244.1.7'] };
    let error: unknown;
    try {
      resolveClaims(listing, clash);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CniError);
    expect(error).toMatchObject({ code: 7, msg: 'runtimeConfig.portMappings: host port 8080/tcp is already mapped by net=pmnet if=eth0 id=ctr-a' });
  });

  it('takes its own claims again on a repeated ADD', () => {
    expect([...resolveClaims(listing, target())].sort()).toEqual([
      'pm_addr4 {"concat":["tcp",8080]}', 'pm_addr6 {"concat":["tcp",8080]}',
      'pm_port4 {"concat":["tcp",8080]}', 'pm_port6 {"concat":["tcp",8080]}',
    ]);
  });

  // What DEL and GC pick from a listing (lib/nft/owned deletes what they pick, over nfnetlink).
  const listed = PM_SETS.flatMap((set) => elementsOf(listing, set).map((e) => ({ set, ...e })));

  it('DEL picks exactly its own elements', () => {
    const picked = listed.filter((e) => isOwnedBy(e, other)).map((e) => [e.set, JSON.stringify(e.key)]);
    expect(picked).toEqual([
      ['pm_addr4', '{"concat":["udp",9090]}'], ['pm_port4', '{"concat":["udp",9090]}'],
      ['pm_masq4', '{"concat":["10.244.1.6","10.244.1.6"]}'], ['pm_masq4', '{"concat":[{"prefix":{"addr":"127.0.0.0","len":8}},"10.244.1.6"]}'],
    ]);
  });

  it('GC picks the attachments that are not valid, in its own network only', () => {
    const gone = listed.filter(staleIn('pmnet', [{ containerId: 'ctr-a', ifname: 'eth0' }]));
    expect(gone.length).toBe(4);
    expect(gone.every((e) => JSON.stringify(e.key).includes('10.244.1.6') || JSON.stringify(e.key).includes('9090'))).toBe(true);
    expect(listed.filter(staleIn('othernet', []))).toEqual([]);
  });

  it('CHECK names each missing mapping and the chains', () => {
    const partial = listing.map((o) => (o.map.name === 'pm_port4' ? { map: { name: 'pm_port4', elem: [] } } : o));
    const problems = portmapProblems([...partial, ...['pm_dnat', 'pm_prerouting', 'pm_output', 'pm_postrouting'].map((name) => ({ chain: { name } }))], target());
    expect(problems).toEqual([
      'nft chain inet tscni pm_input is missing',
      'host port 8080/tcp -> 10.244.1.5:80: missing from pm_port4',
    ]);
    expect(portmapProblems(listing, { ...target(), ...other }).find((p) => p.startsWith('host'))).toMatch(/^host port 8080\/tcp -> 10\.244\.1\.5:80: pm_addr4 holds it for net=pmnet if=eth0 id=ctr-a, pm_port4 holds/);
  });
});
