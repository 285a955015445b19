// Host ports as containerd's CRI plugin asks for them: go-cni's capability
// structs have no JSON tags, so runtimeConfig reaches the plugins with Go's
// field names ({"HostPort":8080,"ContainerPort":80,"Protocol":"tcp","HostIP":""}),
// and users write conflist keys in other cases ("IPMasq"). Our bridge and
// portmap executables run as a runtime runs them; the pod is reached through
// its host port, and DEL, also one carrying a malformed mapping and a garbled
// prevResult, leaves no element, reservation or veth behind.
import { readdir } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectSuccess, ipJson, rootNftTables, run, useHarness, type Netns } from './harness';
import { bridgeConfig, elementOwners, setupNode, type TestNode } from './portmap-env';

const h = useHarness();
let n: TestNode;
let rootTablesBefore: string[];

beforeAll(async () => {
  rootTablesBefore = await rootNftTables();
  n = await setupNode(h, 5);
});

/** The bridge's config with "IPMasq" written as users write it; the reference bridge reads it as ipMasq. */
function goBridgeConfig(): Record<string, unknown> {
  const { ipMasq, ...rest } = bridgeConfig(n);
  return { ...rest, IPMasq: ipMasq };
}

/** What libcni hands portmap when go-cni asks for host ports (plus go-cni's other capability structs, unread). */
function goPortmapConfig(portMappings: unknown[], prevResult: unknown): Record<string, unknown> {
  return {
    cniVersion: '1.0.0', name: 'pmnet', type: 'portmap', capabilities: { portMappings: true, bandwidth: true },
    runtimeConfig: {
      portMappings,
      bandwidth: { IngressRate: 1000000, IngressBurst: 100000, EgressRate: 1000000, EgressBurst: 100000 },
    },
    prevResult,
  };
}

const call = (plugin: string, command: 'ADD' | 'DEL', id: string, pod: Netns | string, config: Record<string, unknown>) =>
  h.runCniPlugin({ node: n.node, plugin, command, containerId: id, netns: pod, ifname: 'eth0', config });

async function masqueradeElements(): Promise<unknown[]> {
  const r = await run('ip', ['netns', 'exec', n.node.name, 'nft', '-j', 'list', 'table', 'inet', 'tscni'], { reject: false });
  if (r.exitCode !== 0) return [];
  return (JSON.parse(r.stdout).nftables as any[]).filter((o) => /^masq[46]$/.test(o.map?.name ?? '')).flatMap((o) => o.map.elem ?? []);
}

async function reservations(): Promise<string[]> {
  return (await readdir(`${n.dataDir}/pmnet`).catch(() => [])).filter((f) => /^[0-9a-f.:]+$/.test(f));
}

/** The node's veths but the one to the external host: the pods' host ends. */
const podVeths = async () => (await ipJson<{ ifname: string }>(n.node, ['link', 'show', 'type', 'veth'])).map((l) => l.ifname).filter((d) => d !== n.ext.nodeDev);

/** bridge then portmap ADD (go-cni's mapping unless `mappings` is given); the pod serves TCP on port 80. */
async function attach(id: string, hostPort: number, mappings: unknown[] = [{ HostPort: hostPort, ContainerPort: 80, Protocol: 'tcp', HostIP: '' }]) {
  const pod = await h.createPod();
  const br = expectSuccess(await call('bridge', 'ADD', id, pod, goBridgeConfig()), 'bridge ADD');
  const pm = await call('portmap', 'ADD', id, pod, goPortmapConfig(mappings, br.json));
  await h.startTcpServer(pod, { port: 80 });
  return { pod, bridgeResult: br.json, mappings, portmapAdd: pm };
}

describe("our bridge and portmap with go-cni's capitalised keys", () => {
  it('ADD maps the host port, a TCP connection to it reaches the pod, and DEL leaves nothing', async () => {
    const a = await attach('ctr-gocni', 8080);
    expect(a.portmapAdd.exitCode, a.portmapAdd.stdout).toBe(0);
    expect((await elementOwners(n)).filter((e) => e.endsWith('id=ctr-gocni'))).not.toEqual([]);
    // "IPMasq": true took effect: the pod's addresses are masqueraded.
    expect(await masqueradeElements()).not.toEqual([]);
    expect(await h.tcpRequest(n.ext, n.ext.nodeIp, 8080)).toBe(n.ext.ip);
    expect(await podVeths()).toHaveLength(1);

    expectSuccess(await call('portmap', 'DEL', 'ctr-gocni', a.pod, goPortmapConfig(a.mappings, a.bridgeResult)), 'portmap DEL');
    expectSuccess(await call('bridge', 'DEL', 'ctr-gocni', a.pod, goBridgeConfig()), 'bridge DEL');
    expect(await elementOwners(n)).toEqual([]);
    expect(await masqueradeElements()).toEqual([]);
    expect(await reservations()).toEqual([]);
    expect(await podVeths()).toEqual([]);
    await expect(h.tcpRequest(n.ext, n.ext.nodeIp, 8080, 1500)).rejects.toThrow();
  });

  it('DEL with a malformed mapping and a garbled prevResult still succeeds and removes everything', async () => {
    // Added with the spelling every version read, so that only DEL is on trial here.
    const a = await attach('ctr-garbled', 8181, [{ hostPort: 8181, containerPort: 80, protocol: 'tcp' }]);
    expect(a.portmapAdd.exitCode, a.portmapAdd.stdout).toBe(0);
    expect(await h.tcpRequest(n.ext, n.ext.nodeIp, 8181)).toBe(n.ext.ip);

    const malformed = [{ HostPort: 'eighty', ContainerPort: -1, Protocol: 7 }];
    const garbledPrev = { cniVersion: '1.0.0', ips: [{ address: 'not an address' }] };
    expectSuccess(await call('portmap', 'DEL', 'ctr-garbled', a.pod, goPortmapConfig(malformed, garbledPrev)), 'portmap DEL');
    const bridgeDel = { ...goBridgeConfig(), runtimeConfig: { mac: 'not a mac', portMappings: 'garbage', ipRanges: 'garbage' }, prevResult: 'garbage' };
    expectSuccess(await call('bridge', 'DEL', 'ctr-garbled', a.pod, bridgeDel), 'bridge DEL');
    expect(await elementOwners(n)).toEqual([]);
    expect(await masqueradeElements()).toEqual([]);
    expect(await reservations()).toEqual([]);
    expect(await podVeths()).toEqual([]);
    await expect(h.tcpRequest(n.ext, n.ext.nodeIp, 8181, 1500)).rejects.toThrow();
  });

  it('adds no nft table to the root network namespace', async () => {
    expect((await rootNftTables()).filter((t) => !rootTablesBefore.includes(t))).toEqual([]);
  });
});
