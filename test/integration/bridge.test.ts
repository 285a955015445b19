// The bridge plugin as a runtime runs it (built executable, env -i, JSON on
// stdin, inside a virtual node), judged by kernel state and real packets.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectSuccess, ip, ipJson, execIn, useHarness, type External, type Netns } from './harness';

const h = useHarness();
let node: Netns;
let external: External;
let dataDir: string;

const NETWORK = 'tscni-br-test';
const BRIDGE = 'tscni0';

function bridgeConfig(extra: Record<string, unknown> = {}, ipam: Record<string, unknown> = {}) {
  return {
    cniVersion: '1.0.0',
    name: NETWORK,
    type: 'bridge',
    bridge: BRIDGE,
    isDefaultGateway: true,
    ipMasq: true,
    ipam: { type: 'host-local', dataDir, ranges: [[{ subnet: '10.244.1.0/24' }]], ...ipam },
    ...extra,
  };
}

function bridge(command: 'ADD' | 'DEL' | 'CHECK', containerId: string, pod: Netns | string, config: Record<string, unknown> = bridgeConfig()) {
  return h.runCniPlugin({ node, plugin: 'bridge', command, containerId, netns: pod, ifname: 'eth0', config });
}

async function masqElements(): Promise<string[]> {
  const out = await execIn(node, 'nft', ['-j', 'list', 'table', 'inet', 'tscni'], { reject: false });
  if (out.exitCode !== 0) return [];
  const items = JSON.parse(out.stdout).nftables as any[];
  return items.filter((o) => o.map?.name === 'masq4').flatMap((o) => (o.map.elem ?? []).map((e: any) => JSON.stringify(e)));
}

const reservations = () => (existsSync(join(dataDir, NETWORK)) ? readdirSync(join(dataDir, NETWORK)).filter((f) => /^\d/.test(f)) : []);

beforeAll(async () => {
  node = await h.createNode();
  external = await h.createExternal(node);
  dataDir = await h.tempDir('bridge-ipam');
});

describe('bridge ADD: two pods on one bridge', () => {
  let podA: Netns;
  let podB: Netns;
  let resultA: any;
  let resultB: any;

  beforeAll(async () => {
    podA = await h.createPod();
    podB = await h.createPod();
    resultA = expectSuccess(await bridge('ADD', 'pod-a', podA)).json;
    resultB = expectSuccess(await bridge('ADD', 'pod-b', podB)).json;
  });

  it('returns bridge, host veth and container interface as the reference does', () => {
    expect(resultA.cniVersion).toBe('1.0.0');
    expect(resultA.interfaces.map((i: any) => i.name)).toEqual([BRIDGE, expect.stringMatching(/^veth[0-9a-f]{8}$/), 'eth0']);
    expect(resultA.interfaces[2].sandbox).toBe(podA.path);
    expect(resultA.ips).toEqual([{ interface: 2, address: '10.244.1.2/24', gateway: '10.244.1.1' }]);
    expect(resultA.routes).toEqual([{ dst: '0.0.0.0/0', gw: '10.244.1.1' }]);
  });

  it('builds the kernel objects: bridge with the gateway address, host veth on it, pod address and default route', async () => {
    const [br] = await ipJson(node, ['-d', 'addr', 'show', 'dev', BRIDGE]);
    expect(br.linkinfo.info_kind).toBe('bridge');
    expect(br.addr_info.map((a: any) => `${a.local}/${a.prefixlen}`)).toContain('10.244.1.1/24');
    const [hostVeth] = await ipJson(node, ['link', 'show', 'dev', resultA.interfaces[1].name]);
    expect(hostVeth.master).toBe(BRIDGE);
    const [eth0] = await ipJson(podA, ['addr', 'show', 'dev', 'eth0']);
    expect(eth0.address).toBe(resultA.interfaces[2].mac);
    expect(eth0.addr_info.map((a: any) => a.local)).toContain('10.244.1.2');
    const routes = await ipJson(podA, ['route', 'show', 'default']);
    expect(routes[0]).toMatchObject({ dst: 'default', gateway: '10.244.1.1', dev: 'eth0' });
  });

  it('pods reach each other and the gateway', async () => {
    expect((await h.ping(podA, '10.244.1.3', 2)).ok).toBe(true);
    expect((await h.ping(podB, '10.244.1.2', 2)).ok).toBe(true);
    expect((await h.ping(podA, '10.244.1.1', 2)).ok).toBe(true);
  });

  it('masquerades pod traffic leaving the pod subnet: the external host sees the node address', async () => {
    const server = await h.startTcpServer(external, { port: 8090 });
    try {
      expect(await h.tcpRequest(podA, external.ip, server.port)).toBe(external.nodeIp);
    } finally {
      server.stop();
    }
  });

  it('keeps pod addresses inside the pod subnet', async () => {
    const server = await h.startTcpServer(podB, { port: 8091 });
    try {
      expect(await h.tcpRequest(podA, '10.244.1.3', server.port)).toBe('10.244.1.2');
    } finally {
      server.stop();
    }
  });

  it('CHECK passes for an intact pod and names the default route once it is deleted', async () => {
    const withPrev = { ...bridgeConfig(), prevResult: resultB };
    expectSuccess(await bridge('CHECK', 'pod-b', podB, withPrev));
    await ip(podB, ['route', 'del', 'default']);
    const out = await bridge('CHECK', 'pod-b', podB, withPrev);
    expect(out.exitCode).not.toBe(0);
    expect(out.json.msg).toMatch(/route 0\.0\.0\.0\/0 via 10\.244\.1\.1 dev eth0 missing/);
  });

  it('DEL removes the veth, the reservation and the masquerade element; the bridge stays for the other pod', async () => {
    const hostName = resultA.interfaces[1].name;
    expect(reservations()).toContain('10.244.1.2');
    expect((await masqElements()).some((e) => e.includes('10.244.1.2'))).toBe(true);
    expectSuccess(await bridge('DEL', 'pod-a', podA));
    expect((await ip(node, ['link', 'show', hostName], { reject: false })).exitCode).not.toBe(0);
    expect(await ipJson(podA, ['link', 'show', 'eth0']).catch(() => [])).toEqual([]);
    expect(reservations()).not.toContain('10.244.1.2');
    expect((await masqElements()).some((e) => e.includes('10.244.1.2'))).toBe(false);
    expect((await masqElements()).some((e) => e.includes('10.244.1.3'))).toBe(true);
    expect((await ipJson(node, ['link', 'show', BRIDGE]))[0].ifname).toBe(BRIDGE);
  });

  it('DEL is idempotent: twice, with the netns deleted, and for a container never added', async () => {
    expectSuccess(await bridge('DEL', 'pod-a', podA));
    await h.execIn(node, 'true', []);
    await execDeleteNetns(podB);
    expectSuccess(await bridge('DEL', 'pod-b', podB));
    expect(reservations()).toEqual([]);
    expect(await masqElements()).toEqual([]);
    expectSuccess(await bridge('DEL', 'never-added', '/run/netns/tscni-never-existed'));
    expectSuccess(await bridge('DEL', 'pod-b', ''));
  });
});

async function execDeleteNetns(ns: Netns): Promise<void> {
  const { run } = await import('./harness');
  await run('ip', ['netns', 'delete', ns.name]);
}

describe('bridge ADD failures roll back', () => {
  it('IPAM exhausted on the 3rd pod: the IPAM code, and no veth, nft element or reservation left for it', async () => {
    // Two addresses to hand out: .2 and .3 of a /29 whose gateway is .1.
    const tiny = bridgeConfig({ name: 'tscni-tiny', bridge: 'tscni1' }, { ranges: [[{ subnet: '10.244.2.0/29', rangeStart: '10.244.2.2', rangeEnd: '10.244.2.3' }]] });
    const pods = [await h.createPod(), await h.createPod(), await h.createPod()];
    expect(expectSuccess(await bridge('ADD', 'tiny-1', pods[0]!, tiny)).json.ips[0].address).toBe('10.244.2.2/29');
    expect(expectSuccess(await bridge('ADD', 'tiny-2', pods[1]!, tiny)).json.ips[0].address).toBe('10.244.2.3/29');
    const third = await bridge('ADD', 'tiny-3', pods[2]!, tiny);
    expect(third.exitCode).not.toBe(0);
    expect(third.json.code).toBe(100);
    expect(third.json.msg).toMatch(/no IP addresses available in range set: 10\.244\.2\.2-10\.244\.2\.3/);
    // the two pods' veths, and nothing for the third
    expect(await ipJson(node, ['link', 'show', 'master', 'tscni1'])).toHaveLength(2);
    expect(await ipJson(pods[2]!, ['link', 'show', 'eth0']).catch(() => [])).toEqual([]);
    const elements = await masqElements();
    expect(elements.filter((e) => e.includes('10.244.2.'))).toHaveLength(2);
    expect(readdirSync(join(dataDir, 'tscni-tiny')).filter((f) => /^\d/.test(f)).sort()).toEqual(['10.244.2.2', '10.244.2.3']);
    expectSuccess(await bridge('DEL', 'tiny-1', pods[0]!, tiny));
    expectSuccess(await bridge('DEL', 'tiny-2', pods[1]!, tiny));
  });

  it('refuses a bad config with code 7 naming the field, creating nothing', async () => {
    const pod = await h.createPod();
    const out = await bridge('ADD', 'bad-1', pod, bridgeConfig({ bridge: 'a/b' }));
    expect(out.json.code).toBe(7);
    expect(out.json.msg).toMatch(/^bridge: /);
    expect((await ip(node, ['link', 'show', 'a/b'], { reject: false })).exitCode).not.toBe(0);
  });
});

describe('bridge ADD failing after IPAM', () => {
  it('a bridge holding another address: error, and the veth, reservation and nft element are rolled back', async () => {
    await ip(node, ['link', 'add', 'tscni2', 'type', 'bridge']);
    await ip(node, ['addr', 'add', '10.99.0.1/24', 'dev', 'tscni2']);
    const config = bridgeConfig({ name: 'tscni-clash', bridge: 'tscni2' }, { ranges: [[{ subnet: '10.244.3.0/24' }]] });
    const pod = await h.createPod();
    const out = await bridge('ADD', 'clash-1', pod, config);
    expect(out.exitCode).not.toBe(0);
    expect(out.json.msg).toMatch(/"tscni2" already has an IP address different from 10\.244\.3\.1\/24/);
    expect(await ipJson(node, ['link', 'show', 'master', 'tscni2'])).toEqual([]);
    expect(await ipJson(pod, ['link', 'show', 'eth0']).catch(() => [])).toEqual([]);
    expect(readdirSync(join(dataDir, 'tscni-clash')).filter((f) => /^\d/.test(f))).toEqual([]);
    expect((await masqElements()).filter((e) => e.includes('10.244.3.'))).toEqual([]);
  });
});

describe('bridge GC and STATUS (1.1.0)', () => {
  it('GC releases the reservation and masquerade element of attachments not listed as valid', async () => {
    const config = { ...bridgeConfig({ name: 'tscni-gc', bridge: 'tscni3' }, { ranges: [[{ subnet: '10.244.4.0/24' }]] }), cniVersion: '1.1.0' };
    const keep = await h.createPod();
    const lose = await h.createPod();
    expectSuccess(await bridge('ADD', 'gc-keep', keep, config));
    expectSuccess(await bridge('ADD', 'gc-lose', lose, config));
    expectSuccess(await h.runCniPlugin({ node, plugin: 'bridge', command: 'STATUS', config }));
    const gc = { ...config, 'cni.dev/valid-attachments': [{ containerID: 'gc-keep', ifname: 'eth0' }] };
    expectSuccess(await h.runCniPlugin({ node, plugin: 'bridge', command: 'GC', config: gc }));
    const left = readdirSync(join(dataDir, 'tscni-gc')).filter((f) => /^\d/.test(f));
    expect(left).toEqual(['10.244.4.2']);
    const elements = (await masqElements()).filter((e) => e.includes('10.244.4.'));
    expect(elements).toHaveLength(1);
    expect(elements[0]).toContain('10.244.4.2');
    expectSuccess(await bridge('DEL', 'gc-keep', keep, config));
    expectSuccess(await bridge('DEL', 'gc-lose', lose, config));
  });
});

describe('bridge options', () => {
  it('dual-stack: IPv4 and IPv6 addresses, gateways on the bridge, both reachable', async () => {
    const config = bridgeConfig(
      { name: 'tscni-ds', bridge: 'tscni4' },
      { ranges: [[{ subnet: '10.244.5.0/24' }], [{ subnet: 'fd00:244:5::/64' }]] },
    );
    const pod = await h.createPod();
    const out = expectSuccess(await bridge('ADD', 'ds-1', pod, config)).json;
    expect(out.ips).toEqual([
      { interface: 2, address: '10.244.5.2/24', gateway: '10.244.5.1' },
      { interface: 2, address: 'fd00:244:5::2/64', gateway: 'fd00:244:5::1' },
    ]);
    expect(out.routes).toEqual([{ dst: '0.0.0.0/0', gw: '10.244.5.1' }, { dst: '::/0', gw: 'fd00:244:5::1' }]);
    expect((await h.ping(pod, '10.244.5.1', 1)).ok).toBe(true);
    expect((await h.ping(pod, 'fd00:244:5::1', 1)).ok).toBe(true);
    expectSuccess(await bridge('DEL', 'ds-1', pod, config));
  });

  it('mtu, hairpinMode and runtimeConfig.mac reach the kernel', async () => {
    const config = bridgeConfig(
      { name: 'tscni-opts', bridge: 'tscni5', mtu: 1400, hairpinMode: true, runtimeConfig: { mac: '0a:58:0a:f4:06:09' } },
      { ranges: [[{ subnet: '10.244.6.0/24' }]] },
    );
    const pod = await h.createPod();
    const out = expectSuccess(await bridge('ADD', 'opts-1', pod, config)).json;
    const [eth0] = await ipJson(pod, ['link', 'show', 'eth0']);
    expect(eth0).toMatchObject({ mtu: 1400, address: '0a:58:0a:f4:06:09' });
    expect(out.interfaces[2].mac).toBe('0a:58:0a:f4:06:09');
    const [port] = await ipJson(node, ['-d', 'link', 'show', out.interfaces[1].name]);
    expect(port.mtu).toBe(1400);
    expect(port.linkinfo.info_slave_data.hairpin).toBe(true);
    expectSuccess(await bridge('DEL', 'opts-1', pod, config));
  });
});

describe('bridge macspoofchk', () => {
  it('drops frames from a pod whose MAC is not the one ADD saw; DEL removes its elements', async () => {
    const config = bridgeConfig({ name: 'tscni-spoof', bridge: 'tscni6', macspoofchk: true }, { ranges: [[{ subnet: '10.244.7.0/24' }]] });
    const pod = await h.createPod();
    const out = expectSuccess(await bridge('ADD', 'spoof-1', pod, config)).json;
    expect((await h.ping(pod, '10.244.7.1', 1)).ok).toBe(true);
    expectSuccess(await bridge('CHECK', 'spoof-1', pod, { ...config, prevResult: out }));
    const listed = JSON.stringify(JSON.parse((await execIn(node, 'nft', ['-j', 'list', 'table', 'bridge', 'tscni'])).stdout));
    expect(listed).toContain(out.interfaces[2].mac);
    await ip(pod, ['link', 'set', 'eth0', 'address', '0a:58:de:ad:be:ef']);
    await ip(node, ['neigh', 'flush', 'dev', 'tscni6']);
    expect((await h.ping(pod, '10.244.7.1', 2)).ok).toBe(false);
    expectSuccess(await bridge('DEL', 'spoof-1', pod, config));
    const after = JSON.parse((await execIn(node, 'nft', ['-j', 'list', 'table', 'bridge', 'tscni'])).stdout).nftables as any[];
    expect(after.filter((o) => o.set?.elem?.length)).toEqual([]);
  });
});
