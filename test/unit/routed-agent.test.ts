// Routed mode's pure parts: who peers with whom (mesh and reflector rules),
// the BIRD configuration (checked by BIRD's own parser), birdc's protocols
// table, BGP peer and node records, and the agent's flags.
import { describe, expect, it } from 'vitest';
import { expectBirdParses } from './bird-parses';
import { meshSessions, reloadsAfterConfigure, renderBirdConfig, type BirdInput, type NodeView } from '../../agent/routed/bird-config';
import { kindOfProtocol, sessionName } from '../../lib/routed/session-names';
import { OptionsError } from '../../lib/flags';
import { parseRoutedOptions } from '../../agent/routed/options';
import { parseProtocols } from '../../lib/bird/control';
import { BgpPeerError, decodePeer, makePeer, peersOfNode } from '../../lib/datastore/bgp-peers';
import { decodeNode, encodeNode, type RoutedNode } from '../../lib/datastore/routed-nodes';
import { tunnelRoutes } from '../../agent/routed/vxlan';
import { parseCidr, type Cidr } from '../../lib/ip/address';

const node = (name: string, ip: string, routeReflector = false): NodeView => ({ name, ip, asn: 64512, routeReflector });
const nodes = [node('a', '10.250.0.11'), node('b', '10.250.0.12'), node('c', '10.250.0.13'), node('d', '10.250.0.14')];
const kinds = (s: ReturnType<typeof meshSessions>) => s.map((x) => `${x.kind}:${x.peer}`);

describe('sessions', () => {
  it('full mesh without reflectors: every other node', () => {
    expect(kinds(meshSessions(nodes[0]!, nodes))).toEqual(['mesh:b', 'mesh:c', 'mesh:d']);
  });

  it('with reflectors: a client peers with the reflectors only, a reflector with everyone, its clients marked', () => {
    const withRr = [node('a', '10.250.0.11', true), nodes[1]!, node('c', '10.250.0.13', true), nodes[3]!];
    expect(kinds(meshSessions(withRr[1]!, withRr))).toEqual(['reflector:a', 'reflector:c']);
    expect(kinds(meshSessions(withRr[0]!, withRr))).toEqual(['client:b', 'reflector:c', 'client:d']);
  });

  it('names protocols so that the kind reads back', () => {
    const name = sessionName({ kind: 'client', ip: '10.250.0.12' });
    expect(name).toBe('rrclient_10_250_0_12');
    expect(kindOfProtocol(name)).toBe('client');
    expect(kindOfProtocol('rr_10_250_0_11')).toBe('reflector');
    expect(kindOfProtocol('kernel4')).toBeUndefined();
  });
});

describe('BIRD configuration', () => {
  const input: BirdInput = {
    node: 'a', routerId: '10.250.0.11', asn: 64512, underlayDev: 'eth0', ownBlocks: ['10.244.0.0/26', '10.244.1.0/26'],
    routeProtocol: 75, clusterId: '224.0.0.1',
    sessions: [...meshSessions(node('a', '10.250.0.11', true), [node('a', '10.250.0.11', true), ...nodes.slice(1)]), { kind: 'external', ip: '10.250.0.3', asn: 65001, peer: 'tor' }],
  };

  it('is valid BIRD 2 with reflector clients, an external peer and blocks; and with no block and no peer', async () => {
    const text = renderBirdConfig(input);
    await expectBirdParses(text);
    await expectBirdParses(renderBirdConfig({ ...input, ownBlocks: [], sessions: [], clusterId: undefined }));
    // The blocks are announced from the configuration, there from BIRD's start; nothing is learned from the kernel.
    expect(text).toMatch(/protocol static blocks4 \{\n {2}ipv4;\n {2}route 10\.244\.0\.0\/26 blackhole;\n {2}route 10\.244\.1\.0\/26 blackhole;\n\}/);
    expect(text).toMatch(/protocol kernel kernel4 \{\n {2}ipv4 \{\n {4}import none;\n {4}export filter tscni_to_kernel4;/);
    expect(text).not.toMatch(/^ *learn;/m);
    expect(text).toMatch(/protocol bgp rrclient_10_250_0_12 from tscni_node \{[^}]*rr client;\n {2}rr cluster id 224\.0\.0\.1;/);
    expect(text).toMatch(/protocol bgp ext_10_250_0_3 from tscni_external \{[^}]*neighbor 10\.250\.0\.3 as 65001;/);
    // Only a reflector passes on BGP routes to other nodes.
    expect(text).toContain('export where proto = "blocks4" || source = RTS_BGP;');
    const plain = renderBirdConfig({ ...input, clusterId: undefined, sessions: [] });
    expect(plain.match(/export where[^;]*;/g)).toEqual(['export where proto = "blocks4";', 'export where proto = "blocks4";']);
    // Blocks reached through VXLAN stay out of the kernel's BGP routes.
    const tunnelled = renderBirdConfig({ ...input, tunnelBlocks: ['10.244.9.0/26'] });
    await expectBirdParses(tunnelled);
    expect(tunnelled).toMatch(/filter tscni_to_kernel4 \{\n {2}if net ~ \[ 10\.244\.9\.0\/26 \] then reject;\n {2}if source = RTS_BGP then accept;/);
    expect(plain).toMatch(/filter tscni_to_kernel4 \{\n {2}if false then reject;/);
    // A node without an IPv6 underlay address has no IPv6 at all: its sessions negotiate IPv4 only.
    expect(text).not.toMatch(/ipv6|kernel6/);
  });

  describe('with an IPv6 underlay address', () => {
    const dual: BirdInput = {
      ...input, ownBlocks: [...input.ownBlocks, 'fd00:244::/122'], tunnelBlocks: ['10.244.9.0/26', 'fd00:244::40/122'],
      ipv6: { address: 'fd00:250::11', dev: 'eth0' },
    };

    it('is valid BIRD 2: an ipv6 channel on every session, a kernel6 protocol, the IPv6 underlay prefix', async () => {
      const text = renderBirdConfig(dual);
      await expectBirdParses(text);
      await expectBirdParses(renderBirdConfig({ ...dual, ownBlocks: ['10.244.0.0/26'], tunnelBlocks: [], sessions: [] }));
      // BIRD's prefix sets hold one family each: each family's filters list its own blocks.
      expect(text).toMatch(/filter tscni_import4 \{\n {2}if net ~ \[ 10\.244\.0\.0\/26, 10\.244\.1\.0\/26 \] then reject;/);
      expect(text).toMatch(/filter tscni_import6 \{\n {2}if net ~ \[ fd00:244::\/122 \] then reject;/);
      expect(text).toMatch(/filter tscni_to_kernel6 \{\n {2}if net ~ \[ fd00:244::40\/122 \] then reject;\n {2}if source = RTS_BGP then accept;/);
      // The same rule as IPv4: the blocks go out from the configuration, what BGP learned goes into the kernel.
      expect(text).toMatch(/protocol static blocks6 \{\n {2}ipv6;\n {2}route fd00:244::\/122 blackhole;\n\}/);
      expect(text).toMatch(/protocol kernel kernel6 \{\n {2}ipv6 \{\n {4}import none;\n {4}export filter tscni_to_kernel6;/);
      expect(text).toMatch(/protocol direct underlay6 \{\n {2}ipv6;\n {2}interface "eth0";/);
      // Both templates carry IPv6 on the IPv4 session, announcing the IPv6 underlay address as next hop.
      expect(text).toMatch(/template bgp tscni_node \{[^]*? {2}ipv6 \{\n {4}gateway recursive;\n {4}next hop address fd00:250::11;\n {4}import filter tscni_import6;\n {4}export where proto = "blocks6" \|\| source = RTS_BGP;\n {2}\};\n\}/);
      expect(text).toMatch(/template bgp tscni_external \{[^]*? {2}ipv6 \{\n {4}next hop address fd00:250::11;\n {4}import filter tscni_import6;\n {4}export where proto = "blocks6";\n {2}\};\n\}/);
      // Still one protocol per peer.
      expect(text.match(/^protocol bgp /gm)).toHaveLength(input.sessions.length);
    });

    it('reruns the IPv6 kernel export when the IPv6 tunnelled blocks change, and only then', () => {
      expect(reloadsAfterConfigure(dual, { ...dual, sessions: [] })).toEqual([]);
      expect(reloadsAfterConfigure(dual, { ...dual, tunnelBlocks: ['10.244.9.0/26'] })).toEqual([{ direction: 'out', protocols: 'kernel6' }]);
      expect(reloadsAfterConfigure(undefined, { ...dual, sessions: [] })).toEqual([{ direction: 'out', protocols: 'kernel4' }, { direction: 'out', protocols: 'kernel6' }]);
    });

    it('refuses an IPv6 underlay that is not one', () => {
      expect(() => renderBirdConfig({ ...dual, ipv6: { address: '10.250.0.11', dev: 'eth0' } })).toThrow(/IPv6 underlay address "10\.250\.0\.11" is not an IPv6 address/);
      expect(() => renderBirdConfig({ ...dual, ipv6: { address: 'fd00:250::11', dev: 'eth0"; x' } })).toThrow(/interface/);
      expect(() => renderBirdConfig({ ...dual, ownBlocks: ['fd00:244::/129'] })).toThrow(/block "fd00:244::\/129" has no IPv6 prefix length/);
    });
  });

  it('reruns the filters whose block lists changed after a configure: the sessions\' imports, the kernel\'s exports', () => {
    const tunnelled = { ...input, tunnelBlocks: ['10.244.9.0/26'] };
    expect(reloadsAfterConfigure(tunnelled, { ...tunnelled, ownBlocks: [...input.ownBlocks].reverse() })).toEqual([]);
    expect(reloadsAfterConfigure(tunnelled, { ...tunnelled, sessions: [] })).toEqual([]);
    expect(reloadsAfterConfigure(tunnelled, { ...tunnelled, ownBlocks: [...input.ownBlocks, '10.244.2.0/26'] })).toEqual([
      { direction: 'in', protocols: '"rrclient_*"' }, { direction: 'in', protocols: '"ext_*"' },
    ]);
    expect(reloadsAfterConfigure(tunnelled, input)).toEqual([{ direction: 'out', protocols: 'kernel4' }]);
    expect(reloadsAfterConfigure(undefined, { ...input, sessions: [] })).toEqual([{ direction: 'out', protocols: 'kernel4' }]);
  });

  it('refuses what is not an address instead of writing it into the file', () => {
    expect(() => renderBirdConfig({ ...input, ownBlocks: ['10.244.0.0/26; } protocol static {'] })).toThrow(/block/);
    expect(() => renderBirdConfig({ ...input, sessions: [{ kind: 'external', ip: '1.2.3.4;', asn: 1, peer: 'x' }] })).toThrow(/peer x/);
    expect(() => renderBirdConfig({ ...input, underlayDev: 'eth0"; x' })).toThrow(/interface/);
  });
});

describe('VXLAN across segments', () => {
  const cidr = (t: string) => parseCidr(t) as Cidr;
  const underlay = { name: 'eth0', index: 2, mtu: 1500, publicIp: '10.250.0.11', segment: cidr('10.250.0.0/24') };
  const far: RoutedNode = { name: 'far', ip: '10.250.1.11', asn: 64512, routeReflector: false, tunnelAddress: '10.244.3.0', vtepMAC: '66:0a:0b:0c:0d:0e' };
  const near: RoutedNode = { ...far, name: 'near', ip: '10.250.0.12', tunnelAddress: '10.244.4.0', vtepMAC: '66:0a:0b:0c:0d:0f' };
  const pools = [
    { name: 'v4', cidr: cidr('10.244.0.0/16'), blockSize: 26, vxlan: 'cross-subnet' as const, natOutgoing: false },
    { name: 'v6', cidr: cidr('fd00:244::/48'), blockSize: 122, vxlan: 'cross-subnet' as const, natOutgoing: false },
    { name: 'v6-plain', cidr: cidr('fd00:245::/48'), blockSize: 122, vxlan: 'never' as const, natOutgoing: false },
  ];
  const block = (pool: string, c: string, node: string) => ({ pool, cidr: cidr(c), node, allocations: {} });

  it('routes the off-segment node\'s blocks through the device: IPv4 via its tunnel address, IPv6 via its VTEP\'s link-local', () => {
    const blocks = [
      block('v4', '10.244.3.0/26', 'far'), block('v6', 'fd00:244::40/122', 'far'), block('v6-plain', 'fd00:245::/122', 'far'),
      block('v4', '10.244.4.0/26', 'near'), block('v6', 'fd00:244::80/122', 'near'), block('v6', 'fd00:244::/122', 'self'),
    ];
    expect(tunnelRoutes('self', underlay, [far, near], blocks, pools).map((t) => [t.block, t.node.name, t.gw])).toEqual([
      ['10.244.3.0/26', 'far', '10.244.3.0'], ['fd00:244::40/122', 'far', 'fe80::640a:bff:fe0c:d0e'],
    ]);
  });
});

describe('birdc show protocols', () => {
  it('reads the table, Info with spaces included', () => {
    const text = `Name       Proto      Table      State  Since         Info
device1    Device     ---        up     2026-12-01T22:52:28
kernel4    Kernel     master4    up     2026-12-01T22:52:28
mesh_10_250_0_12 BGP        ---        start  2026-12-01T22:52:29  Active        Socket: Connection refused
rr_10_250_0_11 BGP        ---        up     2026-12-01T22:52:30  Established   `;
    const p = parseProtocols(text);
    expect(p.map((x) => [x.name, x.proto, x.state, x.info])).toEqual([
      ['device1', 'Device', 'up', ''], ['kernel4', 'Kernel', 'up', ''],
      ['mesh_10_250_0_12', 'BGP', 'start', 'Active        Socket: Connection refused'], ['rr_10_250_0_11', 'BGP', 'up', 'Established'],
    ]);
    expect(p[3]!.since).toBe('2026-12-01T22:52:30');
  });
});

describe('records', () => {
  it('BGP peers: the field that is wrong is named; global or per node', () => {
    expect(makePeer({ peerIP: '10.250.0.3', asNumber: '65001' })).toEqual({ name: '10-250-0-3', peerIP: '10.250.0.3', asNumber: 65001 });
    const bad = (input: Parameters<typeof makePeer>[0]) => {
      try {
        makePeer(input);
      } catch (e) {
        return [(e as BgpPeerError).field, (e as Error).message];
      }
      return undefined;
    };
    expect(bad({ peerIP: 'fd00::1', asNumber: '1' })).toEqual(['peerIP', '"fd00::1" is not an IPv4 address']);
    expect(bad({ peerIP: '10.0.0.1', asNumber: '0' })).toEqual(['asNumber', '0 is out of range (1-4294967294)']);
    expect(bad({ peerIP: '10.0.0.1', asNumber: '65a' })).toEqual(['asNumber', '"65a" is not an AS number']);
    expect(bad({ peerIP: '10.0.0.1', asNumber: '1', node: 'N/1' })?.[0]).toBe('node');
    const peers = [makePeer({ peerIP: '10.0.0.1', asNumber: '1' }), makePeer({ peerIP: '10.0.0.2', asNumber: '1', node: 'b' })];
    expect(peersOfNode(peers, 'a').map((p) => p.peerIP)).toEqual(['10.0.0.1']);
    expect(peersOfNode(peers, 'b').map((p) => p.peerIP)).toEqual(['10.0.0.1', '10.0.0.2']);
    expect(decodePeer('x', '{"peerIP":"10.0.0.1","asNumber":4294967295}')).toMatch(/BGP peer x: asNumber: 4294967295 is out of range/);
  });

  it('nodes: stored and read back; a bad address is named', () => {
    const n = { name: 'a', ip: '10.250.0.11', asn: 64512, routeReflector: true, clusterId: '224.0.0.1', vtepMAC: '66:0a:0b:0c:0d:0e' };
    expect(decodeNode('a', encodeNode(n))).toEqual(n);
    expect(decodeNode('b', encodeNode({ name: 'b', ip: '10.250.0.12', asn: 64512, routeReflector: false }))).toEqual({ name: 'b', ip: '10.250.0.12', asn: 64512, routeReflector: false });
    expect(decodeNode('a', '{"ip":"fd00::1","asn":1}')).toBe('node a: ip must be an IPv4 address');
    // The IPv6 underlay address is stored when the node has one; a record written before it existed still reads.
    const dual = { name: 'c', ip: '10.250.0.13', ip6: 'fd00:250::13', asn: 64512, routeReflector: false };
    expect(decodeNode('c', encodeNode(dual))).toEqual(dual);
    expect(JSON.parse(encodeNode({ ...dual, ip6: undefined }))).toMatchObject({ ip6: null });
    expect(decodeNode('c', '{"ip":"10.250.0.13","asn":64512,"routeReflector":false,"clusterId":null,"tunnelAddress":null,"vtepMAC":null}'))
      .toEqual({ name: 'c', ip: '10.250.0.13', asn: 64512, routeReflector: false });
    expect(decodeNode('c', '{"ip":"10.250.0.13","ip6":"10.250.0.13","asn":1}')).toBe('node c: ip6 must be an IPv6 address');
  });
});

describe('tscni-agent routed flags', () => {
  const parse = (args: string[]) => parseRoutedOptions(args, {});
  const problem = (args: string[]) => {
    try {
      parse(args);
    } catch (e) {
      if (e instanceof OptionsError) return e.message;
      throw e;
    }
    return undefined;
  };

  it('takes the defaults: AS 64512, /run/tscni, the routed key prefix', () => {
    const o = parse(['--node-name', 'n1', '--ip', '10.250.0.11']);
    expect(o).toMatchObject({ node: 'n1', ip: '10.250.0.11', asn: 64512, routeReflector: false, runDir: '/run/tscni', socketPath: '/run/tscni/agent.sock' });
    expect(o !== 'help' && o.etcd.prefix).toBe('/tscni/v1');
    expect(o !== 'help' && o.ip6).toBeUndefined();
    expect(parse(['--node-name', 'n1', '--ip', '10.250.0.11', '--ip6', 'FD00:250:0::11'])).toMatchObject({ ip6: 'fd00:250::11' });
  });

  it('takes --etcd-prefix, as every etcd command does', () => {
    const o = parse(['--node-name', 'n1', '--ip', '10.250.0.11', '--etcd-prefix', '/tscni-test/a/']);
    expect(o !== 'help' && o.etcd.prefix).toBe('/tscni-test/a');
  });

  it('names the flag that is wrong', () => {
    expect(problem(['--node-name', 'n1'])).toBe('--ip or --iface is required');
    expect(problem(['--node-name', 'n1', '--ip', '10.250.0.311'])).toBe('--ip: "10.250.0.311" is not an IPv4 address');
    expect(problem(['--node-name', 'n1', '--ip', '10.0.0.1', '--ip6', '10.0.0.1'])).toBe('--ip6: "10.0.0.1" is not an IPv6 address');
    expect(problem(['--node-name', 'n1', '--ip', '10.0.0.1', '--ip6', 'fe80::1'])).toBe('--ip6: fe80::1 is link-local: BGP next hops need a global or ULA address');
    expect(problem(['--node-name', 'n1', '--ip', '10.0.0.1', '--as', '0'])).toBe('--as: 0 is out of range (1-4294967294)');
    expect(problem(['--node-name', 'n1', '--ip', '10.0.0.1', '--route-reflector'])).toBe('--route-reflector needs --cluster-id');
    expect(problem(['--node-name', 'n1', '--ip', '10.0.0.1', '--cluster-id', '1.0.0.1'])).toMatch(/^--cluster-id is only for a route reflector/);
    expect(problem(['--node-name', 'N1', '--ip', '10.0.0.1'])).toMatch(/^--node-name: "N1" must be/);
    expect(problem(['--node-name', 'n1', '--ip', '10.0.0.1', '--etcd-prefix', 'x'])).toBe('--etcd-prefix: must be a key path starting with "/"');
    expect(problem(['--node-name', 'n1', '--ip', '10.0.0.1', '--etcd-endpoints', 'http://a:1', '--etcd-cafile', '/nonexistent'])).toMatch(/is not https/);
  });

  it('--socket-group: a name from /etc/group or a GID; an unknown name is refused', () => {
    expect(parse(['--node-name', 'n1', '--ip', '10.0.0.1'])).not.toHaveProperty('socketGroup');
    expect(parse(['--node-name', 'n1', '--ip', '10.0.0.1', '--socket-group', 'root'])).toMatchObject({ socketGroup: 0 });
    expect(parse(['--node-name', 'n1', '--ip', '10.0.0.1', '--socket-group', '4321'])).toMatchObject({ socketGroup: 4321 });
    expect(problem(['--node-name', 'n1', '--ip', '10.0.0.1', '--socket-group', 'no-such-group'])).toBe('--socket-group: no group "no-such-group" in /etc/group');
  });
});
