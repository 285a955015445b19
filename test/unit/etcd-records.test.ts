// Records read from etcd that the CLI or an agent would never have written
// (routed mode's nodes and BGP peers, the overlay's leases): each is refused
// by its decoder with the field named, or left out by the routed agent's
// choice of one session per address, and the BIRD configuration of what
// stays is valid (BIRD's own parser) with one protocol per neighbour.
import { describe, expect, it } from 'vitest';
import { expectBirdParses } from './bird-parses';
import { renderBirdConfig, type BirdInput } from '../../agent/routed/bird-config';
import { kindOfProtocol, sessionName } from '../../lib/routed/session-names';
import { distinctNodes, sessionsOf } from '../../agent/routed/sessions';
import { tunnelRoutes, vxlanPeers } from '../../agent/routed/vxlan';
import { decodePeer, makePeer, peerConflict } from '../../lib/datastore/bgp-peers';
import { decodeNode, type RoutedNode } from '../../lib/datastore/routed-nodes';
import { decodeSubnetLease, leaseSubnetProblem } from '../../lib/datastore/flannel-subnets';
import { parseCidr, type Cidr } from '../../lib/ip/address';

const routed = (name: string, ip: string, more: Partial<RoutedNode> = {}): RoutedNode => ({ name, ip, asn: 64512, routeReflector: false, ...more });
const value = (fields: Record<string, unknown>) => JSON.stringify({ ip: '10.250.0.11', asn: 64512, routeReflector: false, ...fields });

describe('node records', () => {
  it('refuses a name the agent\'s --node-name refuses, a newline quoted', () => {
    expect(decodeNode('evil\nname', value({}))).toBe('node "evil\\nname": the name must be lower-case letters, digits, "-" and ".", starting and ending with a letter or digit, at most 63 characters');
    expect(decodeNode('a"b', value({}))).toMatch(/^node "a\\"b": the name must be/);
  });

  it.each([
    [{ tunnelAddress: '10.244.0.300' }, 'tunnelAddress must be an IPv4 address'],
    [{ tunnelAddress: 'fd00::1' }, 'tunnelAddress must be an IPv4 address'],
    [{ vtepMAC: 'not-a-mac' }, 'vtepMAC must be a MAC address'],
    [{ routeReflector: true, clusterId: '224.0.0' }, 'clusterId must be an IPv4-formatted ID'],
    [{ routeReflector: true }, 'a route reflector, and only one, has a clusterId'],
    [{ clusterId: '224.0.0.1' }, 'a route reflector, and only one, has a clusterId'],
    [{ routeReflector: 'yes' }, 'routeReflector must be true or false'],
    [{ asn: '64512' }, 'asn must be an AS number'],
  ])('refuses %j: %s', (fields, problem) => {
    expect(decodeNode('a', value(fields))).toBe(`node a: ${problem}`);
  });

  it('reads what the agent writes, addresses in their printed form', () => {
    expect(decodeNode('a', value({ tunnelAddress: '10.244.0.0', vtepMAC: '66:0A:0B:0C:0D:0E', routeReflector: true, clusterId: '224.0.0.1' }))).toEqual(
      routed('a', '10.250.0.11', { tunnelAddress: '10.244.0.0', vtepMAC: '66:0a:0b:0c:0d:0e', routeReflector: true, clusterId: '224.0.0.1' }),
    );
    expect(decodeNode('a', '[]')).toBe('node a: the stored value is not an object');
  });
});

describe('BGP peer records', () => {
  it('name the field that is wrong, and refuse a node that is not a name', () => {
    expect(decodePeer('x', '{"peerIP":"10.0.0.1","asNumber":4294967295}')).toBe('BGP peer x: asNumber: 4294967295 is out of range (1-4294967294)');
    expect(decodePeer('x', '{"peerIP":"10.0.0.1","asNumber":1,"node":7}')).toBe('BGP peer x: node must be a node\'s name');
    expect(decodePeer('x\n', '{"peerIP":"10.0.0.1","asNumber":1}')).toMatch(/^BGP peer "x\\n": name: /);
  });

  it('bgp peer add: refuses a second session with one address on a node, naming who has it', () => {
    const global = makePeer({ peerIP: '10.250.0.3', asNumber: '65001' });
    const onA = makePeer({ peerIP: '10.250.0.4', asNumber: '65001', node: 'a' });
    const nodes = [routed('a', '10.250.0.11')];
    expect(peerConflict(makePeer({ peerIP: '10.250.0.3', asNumber: '65001', node: 'b' }), [global, onA], nodes))
      .toBe('BGP peer 10-250-0-3 has 10.250.0.3 for every node already: node b would have two sessions with it (tscni bgp peer remove 10-250-0-3 first)');
    expect(peerConflict(makePeer({ peerIP: '10.250.0.4', asNumber: '65001' }), [global, onA], nodes)).toMatch(/^BGP peer a\.10-250-0-4 has 10\.250\.0\.4 for node a already/);
    expect(peerConflict(makePeer({ peerIP: '10.250.0.11', asNumber: '65001' }), [], nodes)).toBe('10.250.0.11 is node a\'s address: the nodes have their sessions with each other already');
    // another node's own peer, and the same peer written again, are no conflict
    expect(peerConflict(makePeer({ peerIP: '10.250.0.4', asNumber: '65001', node: 'b' }), [global, onA], nodes)).toBeUndefined();
    expect(peerConflict(makePeer({ peerIP: '10.250.0.3', asNumber: '65002' }), [global, onA], nodes)).toBeUndefined();
  });
});

describe('one session per address', () => {
  const self = routed('b', '10.250.0.12');
  const input = (sessions: BirdInput['sessions']): BirdInput => ({ node: 'b', routerId: self.ip, asn: 64512, underlayDev: 'eth0', ownBlocks: [], routeProtocol: 75, sessions });

  it('keeps one node per address: this node\'s own record, else the one written last, else the lowest name; the same for tunnel addresses', () => {
    const nodes = [
      routed('z-new', '10.250.0.13', { written: 9 }), routed('a-old', '10.250.0.13', { written: 5 }), routed('b-old', '10.250.0.12', { written: 12 }), { ...self, written: 3 },
      routed('c', '10.250.0.14', { tunnelAddress: '10.244.0.0', written: 7 }), routed('d', '10.250.0.15', { tunnelAddress: '10.244.0.0', written: 7 }),
    ];
    const { kept, problems } = distinctNodes('b', nodes);
    expect(kept.map((n) => n.name)).toEqual(['b', 'c', 'z-new']);
    expect(problems).toEqual([
      'node b-old: ip 10.250.0.12 is node b\'s too; only b is used',
      'node d: tunnelAddress 10.244.0.0 is node c\'s too; only c is used',
      'node a-old: ip 10.250.0.13 is node z-new\'s too; only z-new is used',
    ]);
  });

  it('keeps one external peer per address (this node\'s own first), none at a node\'s address, and BIRD takes the result', async () => {
    const nodes = [routed('a', '10.250.0.11'), self];
    const peers = [
      makePeer({ peerIP: '10.250.0.3', asNumber: '65001' }), makePeer({ peerIP: '10.250.0.3', asNumber: '65001', node: 'b', name: 'tor-b' }),
      makePeer({ peerIP: '10.250.0.11', asNumber: '65001', name: 'at-a' }), makePeer({ peerIP: '10.250.0.3', asNumber: '65001', node: 'c', name: 'tor-c' }),
    ];
    const { kept, problems } = sessionsOf(self, nodes, peers);
    expect(kept.map((s) => `${s.kind}:${s.peer}:${s.ip}`)).toEqual(['mesh:a:10.250.0.11', 'external:tor-b:10.250.0.3']);
    expect(problems).toEqual([
      'BGP peer 10-250-0-3: 10.250.0.3 is BGP peer tor-b\'s too; one session, with tor-b',
      'BGP peer at-a: 10.250.0.11 is node a\'s address; the node-to-node session stays',
    ]);
    const text = renderBirdConfig(input(kept));
    await expectBirdParses(text);
    const names = [...text.matchAll(/^protocol bgp (\S+)/gm)].map((m) => m[1]!);
    expect(names).toEqual(['mesh_10_250_0_11', 'ext_10_250_0_3']);
    expect(names.map(kindOfProtocol)).toEqual(['mesh', 'external']);
    expect(names).toEqual(kept.map(sessionName));
  });

  it('refuses to render two sessions with one address instead of a file BIRD refuses', () => {
    const twice = [{ kind: 'mesh' as const, ip: '10.250.0.11', asn: 64512, peer: 'a' }, { kind: 'mesh' as const, ip: '10.250.0.11', asn: 64512, peer: 'a2' }];
    expect(() => renderBirdConfig(input(twice))).toThrow('BIRD config: two sessions with 10.250.0.11');
  });

  it('quotes a description so that no quote, backslash or newline in a name ends it', async () => {
    const text = renderBirdConfig(input([{ kind: 'external', ip: '10.250.0.3', asn: 65001, peer: 'x"y\\z\nprotocol device evil {}' }]));
    await expectBirdParses(text);
    expect(text).toContain('  description "external x_y_z_protocol device evil {}";\n');
  });
});

describe('VXLAN peers', () => {
  const cidr = (t: string) => parseCidr(t) as Cidr;
  const underlay = { name: 'eth0', index: 2, mtu: 1500, publicIp: '10.250.0.11', segment: cidr('10.250.0.0/24') };
  const pools = [{ name: 'v4', cidr: cidr('10.244.0.0/16'), blockSize: 26, vxlan: 'always' as const, natOutgoing: false }];

  it('leaves out a node whose tunnel address no encapsulating pool holds, and routes the others', () => {
    const good = routed('good', '10.250.0.12', { tunnelAddress: '10.244.1.0', vtepMAC: '66:0a:0b:0c:0d:0e' });
    const stray = routed('stray', '10.250.0.13', { tunnelAddress: '10.99.0.1', vtepMAC: '66:0a:0b:0c:0d:0f' });
    expect(vxlanPeers('self', [good, stray], pools)).toEqual({
      peers: [good], problems: ['node stray: tunnelAddress 10.99.0.1 is in no pool that encapsulates; no VXLAN route to its blocks'],
    });
    const blocks = [{ pool: 'v4', cidr: cidr('10.244.1.0/26'), node: 'good', allocations: {} }, { pool: 'v4', cidr: cidr('10.244.2.0/26'), node: 'stray', allocations: {} }];
    expect(tunnelRoutes('self', underlay, [good, stray], blocks, pools).map((t) => `${t.block} via ${t.gw}`)).toEqual(['10.244.1.0/26 via 10.244.1.0']);
  });
});

describe('overlay leases', () => {
  it('refuse a VNI out of 24 bits and a PublicIPv6 that is not one', () => {
    const lease = (fields: Record<string, unknown>) => JSON.stringify({ PublicIP: '10.250.0.14', BackendType: 'vxlan', BackendData: { VNI: 1, VtepMAC: 'aa:bb:cc:00:11:22' }, ...fields });
    expect(decodeSubnetLease(lease({ BackendData: { VNI: 16777216, VtepMAC: 'aa:bb:cc:00:11:22' } }))).toBe('BackendData.VNI: must be an integer from 1 to 16777215');
    expect(decodeSubnetLease(lease({ PublicIPv6: '10.250.0.14' }))).toBe('PublicIPv6: must be an IPv6 address');
    expect(decodeSubnetLease(lease({ PublicIPv6: 'fd00::14' }))).toMatchObject({ PublicIP: '10.250.0.14' });
  });

  it('refuse a subnet that is no share of the network: the whole network, or anything outside it', () => {
    const network = parseCidr('10.244.0.0/16') as Cidr;
    expect(leaseSubnetProblem(network, parseCidr('10.244.7.0/24') as Cidr)).toBeUndefined();
    expect(leaseSubnetProblem(network, parseCidr('10.244.0.0/16') as Cidr)).toBe('10.244.0.0/16 is not a subnet of the network 10.244.0.0/16');
    expect(leaseSubnetProblem(network, parseCidr('10.250.0.0/24') as Cidr)).toBe('10.250.0.0/24 is not a subnet of the network 10.244.0.0/16');
    expect(leaseSubnetProblem(network, parseCidr('10.0.0.0/8') as Cidr)).toBe('10.0.0.0/8 is not a subnet of the network 10.244.0.0/16');
  });
});
