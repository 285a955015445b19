// Keys matched as Go's encoding/json matches them, through the real schemas.
// The shapes are go-cni's (containerd's CRI plugin), whose capability structs
// have no JSON tags, and the expected values are what Go's decoder gives for
// the same JSON (checked against Go's encoding/json).
import { describe, expect, it } from 'vitest';
import * as z from 'zod/mini';
import { parseResult } from '../../lib/cni/convert';
import { matchKeys } from '../../lib/cni/keys';
import { dispatch, type Env, type Plugin } from '../../lib/cni/skel';
import { parseOrThrow } from '../../lib/cni/schemas';
import { parseClusterIpamDelConfig } from '../../lib/ipam/cluster/config';
import { parseHostLocalConfig, parseHostLocalDelConfig } from '../../lib/ipam/host-local/config';
import { parseBridgeConfig, parseBridgeDelConfig } from '../../plugins/bridge/config';
import { parseFlannelDelConfig } from '../../plugins/flannel/config';
import { parsePortmapConfig, parsePortmapDelConfig } from '../../plugins/portmap/config';
import { parseRoutedDelConfig } from '../../plugins/routed/config';

const base = { cniVersion: '1.0.0', name: 'pods', type: 'portmap' };
const portmap = (runtimeConfig: unknown, extra: Record<string, unknown> = {}) => parsePortmapConfig({ ...base, runtimeConfig, ...extra });
const mappingsOf = (...entries: unknown[]) => portmap({ portMappings: entries }).mappings;

/** go-cni's capability values as containerd marshals them. */
const goCni = {
  portMappings: [
    { HostPort: 8080, ContainerPort: 80, Protocol: 'tcp', HostIP: '' },
    { HostPort: 5353, ContainerPort: 53, Protocol: 'UDP', HostIP: '127.0.0.1' },
  ],
  bandwidth: { IngressRate: 1000000, IngressBurst: 100000, EgressRate: 2000000, EgressBurst: 200000 },
  dns: { Servers: ['10.96.0.10'], Searches: ['svc.cluster.local'], Options: ['ndots:5'] },
};

describe("go-cni's capability structs", () => {
  it('portMappings with Go field names are the mappings', () => {
    expect(portmap(goCni).mappings).toEqual([
      { hostPort: 8080, containerPort: 80, protocol: 'tcp' },
      { hostPort: 5353, containerPort: 53, protocol: 'udp', hostIP: '127.0.0.1' },
    ]);
  });
  it('bandwidth and dns with Go field names do not get in the way of bridge or portmap', () => {
    expect(portmap(goCni).mappings).toHaveLength(2);
    const bridge = parseBridgeConfig({ ...base, type: 'bridge', runtimeConfig: goCni });
    expect(bridge.network).toBe('pods');
  });
  it('a malformed go-cni mapping still names the field', () => {
    expect(() => mappingsOf({ HostPort: 'x', ContainerPort: 80 })).toThrow(/runtimeConfig\.portMappings\[0\]\.hostPort: must be a number/);
    expect(() => mappingsOf({ ContainerPort: 80 })).toThrow(/runtimeConfig\.portMappings\[0\]\.hostPort: is required/);
  });
  it('host-local reads runtimeConfig ips and ipRanges in Go spelling', () => {
    const c = parseHostLocalConfig({
      ...base,
      type: 'bridge',
      IPAM: { Type: 'host-local', DataDir: '/tmp/x' },
      RuntimeConfig: { IPRanges: [[{ Subnet: '10.1.0.0/24', RangeStart: '10.1.0.10', Gateway: '10.1.0.1' }]], IPs: ['10.1.0.20'] },
    });
    expect(c.dataDir).toBe('/tmp/x');
    expect(c.rangeSets).toHaveLength(1);
    expect(c.requestedIps).toHaveLength(1);
  });
});

describe('conflist keys in another case', () => {
  it('"IPMasq": true is ipMasq, as the reference bridge reads it', () => {
    const c = parseBridgeConfig({ ...base, type: 'bridge', IPMasq: true, IsGateway: true, HAIRPINMODE: true, Bridge: 'cni5' });
    expect(c).toMatchObject({ ipMasq: true, isGateway: true, hairpinMode: true, bridge: 'cni5' });
  });
  it('the Kelvin sign and the long s fold to k and s, as in Go', () => {
    expect(portmap({}, { '\u017fnat': false }).snat).toBe(false);
    expect(() => portmap({}, { mar\u212aMasqBit: 40 })).toThrow(/^markMasqBit: /);
  });
  it('a key that folds to no field stays unknown', () => {
    expect(portmap({}, { snatt: false, 'sn\u00e1t': false }).snat).toBe(true);
  });
});

describe('several keys for one field: each decodes over the one before, in document order', () => {
  it('a scalar: the later key wins, exact or not', () => {
    expect(mappingsOf({ hostPort: 1, HostPort: 2, containerPort: 80 })[0]!.hostPort).toBe(2);
    expect(mappingsOf({ HostPort: 2, hostPort: 1, containerPort: 80 })[0]!.hostPort).toBe(1);
    expect(mappingsOf({ HOSTPORT: 2, hostport: 3, containerPort: 80 })[0]!.hostPort).toBe(3);
    expect(parseBridgeConfig({ ...base, ipMasq: false, IPMasq: true }).ipMasq).toBe(true);
    expect(parseBridgeConfig({ ...base, IPMasq: true, ipMasq: false }).ipMasq).toBe(false);
  });
  it('an object: members the later one does not name are kept', () => {
    const c = portmap(undefined, { runtimeConfig: { portMappings: [{ hostPort: 1, protocol: 'udp' }] }, RUNTIMECONFIG: { portMappings: [{ containerPort: 2 }] } });
    expect(c.mappings).toEqual([{ hostPort: 1, containerPort: 2, protocol: 'udp' }]);
  });
  it("a map's keys are data: not folded, and its values replaced whole", () => {
    const schema = z.object({ m: z.record(z.string(), z.object({ x: z.optional(z.int()), y: z.optional(z.int()) })) });
    expect(parseOrThrow(schema, { m: { a: { X: 1 } }, M: { A: { Y: 2 }, a: { y: 3 } } })).toEqual({ m: { a: { y: 3 }, A: { y: 2 } } });
  });
});

describe('matchKeys', () => {
  it('keeps "__proto__" an ordinary key, as JSON.parse made it: its members are not the config\'s', () => {
    const raw = JSON.parse('{"cniVersion":"1.0.0","name":"pods","type":"bridge","__proto__":{"ipMasq":true,"bridge":"evil0"}}');
    expect(parseBridgeConfig(raw)).toMatchObject({ ipMasq: false, bridge: 'cni0' });
    const map = parseOrThrow(z.object({ m: z.record(z.string(), z.unknown()) }), JSON.parse('{"m":{"__proto__":{"x":1}}}'));
    expect(Object.getPrototypeOf(map.m)).toBe(Object.prototype);
  });
  it('leaves its input as it was', () => {
    const input = { RuntimeConfig: { PortMappings: [{ HostPort: 1 }] } };
    const copy = structuredClone(input);
    matchKeys(z.object({ runtimeConfig: z.object({ portMappings: z.array(z.object({ hostPort: z.int() })) }) }), input);
    expect(input).toEqual(copy);
  });
});

describe('prevResult and delegated results in Go spelling', () => {
  it('a result with capitalised keys parses, its version included', () => {
    const r = parseResult({ CNIVersion: '0.4.0', IPs: [{ Version: '4', Address: '10.1.0.5/24', Gateway: '10.1.0.1', Interface: 0 }], Interfaces: [{ Name: 'eth0', Sandbox: '/var/run/netns/x' }] }, '1.0.0');
    expect(r.ips).toEqual([{ interface: 0, address: '10.1.0.5/24', gateway: '10.1.0.1' }]);
    expect(r.interfaces).toEqual([{ name: 'eth0', sandbox: '/var/run/netns/x' }]);
  });
});

describe('the common config keys, in the skel', () => {
  const seen: Record<string, unknown>[] = [];
  const plugin: Plugin<Record<string, unknown>> = {
    name: 'recorder',
    parseConfig: (raw) => raw,
    add: async (a) => (seen.push(a.raw), { cniVersion: a.cniVersion, ...(a.prevResult ?? {}) }),
    del: async (a) => void seen.push(a.raw),
    check: async () => undefined,
  };
  const env = (command: string): Env => ({ CNI_COMMAND: command, CNI_CONTAINERID: 'c1', CNI_NETNS: '/var/run/netns/p', CNI_IFNAME: 'eth0', CNI_PATH: '/opt/cni/bin' });
  it('CNIVersion, Name, Type and PrevResult are read as Go reads them', async () => {
    const stdin = JSON.stringify({ CNIVersion: '1.0.0', Name: 'pods', Type: 'recorder', PrevResult: { CNIVersion: '1.0.0', IPs: [{ Address: '10.1.0.5/24' }] } });
    const out = await dispatch(plugin, env('ADD'), stdin);
    expect(out.exitCode, out.stdout).toBe(0);
    expect(JSON.parse(out.stdout)).toEqual({ cniVersion: '1.0.0', ips: [{ address: '10.1.0.5/24' }] });
  });
  it('VERSION echoes a CNIVersion', async () => {
    const out = await dispatch(plugin, { CNI_COMMAND: 'VERSION' }, '{"CNIVersion":"0.4.0"}');
    expect(JSON.parse(out.stdout).cniVersion).toBe('0.4.0');
  });
});

describe('DEL reads only what it needs', () => {
  const del = (p: Plugin<unknown, unknown>, conf: Record<string, unknown>) =>
    dispatch(p, { CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'c1', CNI_IFNAME: 'eth0', CNI_PATH: '/opt/cni/bin' }, JSON.stringify({ ...base, ...conf }));
  const portmapPlugin = (deleted: unknown[]): Plugin<unknown, unknown> => ({
    name: 'portmap',
    parseConfig: parsePortmapConfig as (raw: Record<string, unknown>) => unknown,
    parseDelConfig: parsePortmapDelConfig,
    add: async () => ({ cniVersion: '1.0.0' }),
    del: async (a) => void deleted.push(a.config),
    check: async () => undefined,
  });
  const cases: [string, Record<string, unknown>][] = [
    ['a malformed port mapping', { runtimeConfig: { portMappings: [{ HostPort: 'eighty', ContainerPort: -1 }] } }],
    ['portMappings that is no list', { runtimeConfig: { portMappings: 'garbage' } }],
    ['a runtimeConfig that is no object', { runtimeConfig: 42 }],
    ['a garbage prevResult', { prevResult: { cniVersion: '1.0.0', ips: [{ address: 'not an address' }] } }],
    ['a prevResult that is no object', { prevResult: 'garbage' }],
    ['an option DEL does not read', { markMasqBit: 99, backend: 'iptables' }],
  ];
  for (const [what, conf] of cases) {
    it(`succeeds with ${what}`, async () => {
      const deleted: unknown[] = [];
      const out = await del(portmapPlugin(deleted), conf);
      expect(out.stdout).toBe('');
      expect(out.exitCode).toBe(0);
      expect(deleted).toEqual([{ network: 'pods' }]);
    });
  }
});

describe("each plugin's DEL reads what it removes by, and nothing else", () => {
  const garbage = { runtimeConfig: { portMappings: 'x', ipRanges: 'x', ips: [1], mac: 'x' }, args: { cni: { ips: 'x', mac: 1 } }, dns: 'x' };
  it('bridge: the bridge, masquerade, spoof check and IPAM type', () => {
    const raw = { ...base, type: 'bridge', ...garbage, mtu: -1, hairpinMode: true, promiscMode: true, IPMasq: true, ipam: { type: 'host-local', ranges: 'x' } };
    expect(parseBridgeDelConfig(raw)).toEqual({ network: 'pods', bridge: 'cni0', ipMasq: true, macSpoofCheck: false, ipamType: 'host-local' });
    expect(() => parseBridgeDelConfig({ ...raw, bridge: 'a/b' })).toThrow(/^bridge: /);
  });
  it('portmap: the network', () => {
    expect(parsePortmapDelConfig({ ...base, ...garbage, snat: 'x', conditionsV4: ['-j DROP'] })).toEqual({ network: 'pods' });
  });
  it('host-local: the store', () => {
    const raw = { ...base, ...garbage, ipam: { type: 'host-local', dataDir: '/d', ranges: 'x', routes: 5, rangeStart: 'x' } };
    expect(parseHostLocalDelConfig(raw)).toEqual({ name: 'pods', dataDir: '/d' });
    expect(() => parseHostLocalDelConfig({ ...raw, ipam: { dataDir: 'relative' } })).toThrow(/^ipam\.dataDir: must be an absolute path/);
  });
  it('cluster-ipam: the agent and the network', () => {
    const raw = { ...base, ...garbage, ipam: { type: 'cluster-ipam', AgentSocket: '/s', pools: ['not a pool name'], routes: 'x' } };
    expect(parseClusterIpamDelConfig(raw)).toEqual({ name: 'pods', agentSocket: '/s' });
  });
  it('routed: the network and its IPAM', () => {
    expect(parseRoutedDelConfig({ ...base, ...garbage, mtu: 1, natOutgoing: 'x', ipam: { type: 'cluster-ipam', pools: 5 } })).toEqual({ network: 'pods', ipamType: 'cluster-ipam' });
  });
  it('flannel: where the delegate config was saved', () => {
    const raw = { ...base, ...garbage, DataDir: '/d', subnetFile: 'relative', delegate: { name: 'x', type: '../x' } };
    expect(parseFlannelDelConfig(raw)).toEqual({ network: 'pods', dataDir: '/d' });
  });
});
