// The flannel plugin as a runtime runs it (built executable, env -i, inside a
// virtual node), with a subnet file this test writes: the pod lands on cni0
// with an address from FLANNEL_SUBNET and a route to FLANNEL_NETWORK, our
// bridge masquerades only when the node does not, DEL uses the delegate
// config ADD saved, and a missing or garbled subnet file changes nothing.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { nftElementCount } from '../../cli/demo/inspect';
import { formatSubnetEnv } from '../../lib/flannel/subnet-env';
import { parseCidr, type Cidr } from '../../lib/ip/address';
import { expectSuccess, ipJson, useHarness, type CniCommand, type External, type Netns } from './harness';

const h = useHarness();
const NETWORK = 'cbr0';
let node: Netns;
let external: External;
let dir: string;

const cidr = (text: string) => parseCidr(text) as Cidr;
const subnetFile = () => join(dir, 'subnet.env');
const dataDir = () => join(dir, 'flannel');
const ipamDir = () => join(dir, 'ipam');

function writeSubnetFile(subnet: string, ipMasq: boolean, mtu = 1400): Promise<void> {
  return writeFile(subnetFile(), formatSubnetEnv({ networks: [cidr('10.244.0.0/16')], subnet: cidr(subnet), ipv6Networks: [], mtu, ipMasq }));
}

function config(extra: Record<string, unknown> = {}) {
  return {
    cniVersion: '1.1.0', name: NETWORK, type: 'flannel',
    subnetFile: subnetFile(), dataDir: dataDir(), ipam: { dataDir: ipamDir() }, ...extra,
  };
}

function flannel(command: CniCommand, containerId: string | undefined, pod: Netns | string | undefined, extra: Record<string, unknown> = {}) {
  return h.runCniPlugin({
    node, plugin: 'flannel', command, config: config(extra),
    ...(containerId !== undefined ? { containerId, ifname: 'eth0' } : {}), ...(pod !== undefined ? { netns: pod } : {}),
  });
}

const saved = () => (existsSync(dataDir()) ? readdirSync(dataDir()) : []);
const reservations = () => (existsSync(join(ipamDir(), NETWORK)) ? readdirSync(join(ipamDir(), NETWORK)).filter((f) => /^\d/.test(f)) : []);
const nodeVeths = async () => (await ipJson(node, ['link', 'show', 'type', 'veth'])).map((l) => l.ifname).filter((n) => n !== external.nodeDev);

beforeAll(async () => {
  node = await h.createNode();
  external = await h.createExternal(node);
  dir = await h.tempDir('flannel');
});

describe('flannel ADD, CHECK, DEL with a subnet file', () => {
  let pod: Netns;
  let result: any;

  beforeAll(async () => {
    await writeSubnetFile('10.244.7.1/24', false);
    pod = await h.createPod();
    result = expectSuccess(await flannel('ADD', 'flannel-a', pod)).json;
  });

  it('puts the pod on cni0 with an address from FLANNEL_SUBNET, a route to FLANNEL_NETWORK and FLANNEL_MTU', async () => {
    expect(result.ips).toEqual([{ interface: 2, address: '10.244.7.2/24', gateway: '10.244.7.1' }]);
    const [br] = await ipJson(node, ['-d', 'addr', 'show', 'dev', 'cni0']);
    expect(br.linkinfo.info_kind).toBe('bridge');
    expect(br.addr_info.map((a: any) => `${a.local}/${a.prefixlen}`)).toContain('10.244.7.1/24');
    const [eth0] = await ipJson(pod, ['addr', 'show', 'dev', 'eth0']);
    expect(eth0.mtu).toBe(1400);
    expect(eth0.addr_info.map((a: any) => a.local)).toContain('10.244.7.2');
    expect(await ipJson(pod, ['route', 'show', '10.244.0.0/16'])).toEqual([expect.objectContaining({ dst: '10.244.0.0/16', gateway: '10.244.7.1', dev: 'eth0' })]);
    const [hostVeth] = await ipJson(node, ['link', 'show', 'dev', result.interfaces[1].name]);
    expect(hostVeth).toMatchObject({ master: 'cni0', mtu: 1400 });
    const gw = await h.ping(pod, '10.244.7.1', 2);
    expect(gw.ok, gw.output).toBe(true);
  });

  it('saves the delegate config flannel builds under dataDir/<container ID>', () => {
    expect(saved()).toEqual(['flannel-a']);
    expect(JSON.parse(readFileSync(join(dataDir(), 'flannel-a'), 'utf8'))).toEqual({
      cniVersion: '1.1.0', name: NETWORK, type: 'bridge', isGateway: true, ipMasq: true, mtu: 1400,
      ipam: { type: 'host-local', dataDir: ipamDir(), ranges: [[{ subnet: '10.244.7.0/24' }]], routes: [{ dst: '10.244.0.0/16' }] },
    });
  });

  it('masquerades through the bridge when FLANNEL_IPMASQ=false, and not when it is true', async () => {
    expect(await nftElementCount(node)).toBe(1);
    await writeSubnetFile('10.244.7.1/24', true);
    const other = await h.createPod();
    expectSuccess(await flannel('ADD', 'flannel-b', other));
    expect(await nftElementCount(node)).toBe(1);
    expect(JSON.parse(readFileSync(join(dataDir(), 'flannel-b'), 'utf8')).ipMasq).toBe(false);
    expectSuccess(await flannel('DEL', 'flannel-b', other));
  });

  it('CHECK passes on what ADD built', async () => {
    expectSuccess(await flannel('CHECK', 'flannel-a', pod, { prevResult: result }));
  });

  it('DEL after the subnet file changed uses the saved delegate: veth, reservation, masquerade and saved config gone', async () => {
    await writeSubnetFile('10.244.9.1/24', true, 1300);
    expectSuccess(await flannel('DEL', 'flannel-a', pod));
    expect(await nodeVeths()).toEqual([]);
    expect(reservations()).toEqual([]);
    expect(await nftElementCount(node)).toBe(0);
    expect(saved()).toEqual([]);
    expectSuccess(await flannel('DEL', 'flannel-a', pod));
  });

  it('DEL after the subnet file vanished uses the saved delegate', async () => {
    await writeSubnetFile('10.244.7.1/24', false);
    const p = await h.createPod();
    expectSuccess(await flannel('ADD', 'flannel-c', p));
    expect(await nodeVeths()).toHaveLength(1);
    await rm(subnetFile());
    expectSuccess(await flannel('DEL', 'flannel-c', p));
    expect(await nodeVeths()).toEqual([]);
    expect(reservations()).toEqual([]);
    expect(await nftElementCount(node)).toBe(0);
    expect(saved()).toEqual([]);
  });
});

describe('flannel without a usable subnet file', () => {
  let freshNode: Netns;
  const run = (command: CniCommand, pod: Netns) =>
    h.runCniPlugin({ node: freshNode, plugin: 'flannel', command, containerId: 'flannel-bad', ifname: 'eth0', netns: pod, config: config() });

  beforeAll(async () => {
    freshNode = await h.createNode();
  });

  async function expectNothingCreated(pod: Netns): Promise<void> {
    expect((await ipJson(freshNode, ['link', 'show'])).map((l) => l.ifname)).toEqual(['lo']);
    expect((await ipJson(pod, ['link', 'show'])).map((l) => l.ifname)).toEqual(['lo']);
    expect(saved()).toEqual([]);
    expect(reservations()).toEqual([]);
  }

  it('missing: ADD fails with 11 (try again later) naming the file, and creates nothing', async () => {
    await rm(subnetFile(), { force: true });
    const pod = await h.createPod();
    const add = await run('ADD', pod);
    expect(add.exitCode).toBe(1);
    expect(add.json).toMatchObject({ code: 11, msg: expect.stringContaining(subnetFile()) });
    await expectNothingCreated(pod);
  });

  it.each([
    ['a value that is no CIDR', 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.7.300/24\nFLANNEL_MTU=1400\nFLANNEL_IPMASQ=true\n', /line 2: FLANNEL_SUBNET: .*10\.244\.7\.300/],
    ['a line that is not NAME=value', 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.7.1/24\ngarbage\nFLANNEL_MTU=1400\nFLANNEL_IPMASQ=true\n', /line 3: "garbage" is not NAME=value/],
    ['an MTU that is no number', 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.7.1/24\nFLANNEL_MTU=big\nFLANNEL_IPMASQ=true\n', /line 3: FLANNEL_MTU: "big"/],
    ['a missing key', 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.7.1/24\nFLANNEL_MTU=1400\n', /is missing FLANNEL_IPMASQ/],
  ])('garbled (%s): ADD fails with 7 naming the problem, and creates nothing', async (_what, text, problem) => {
    await writeFile(subnetFile(), text);
    const pod = await h.createPod();
    const add = await run('ADD', pod);
    expect(add.exitCode).toBe(1);
    expect(add.json.code).toBe(7);
    expect(add.json.msg).toMatch(problem);
    await expectNothingCreated(pod);
  });
});

describe('flannel ADD whose delegate fails', () => {
  it('a delegate type that is not installed: code 7 naming delegate.type, nothing saved or created', async () => {
    await writeSubnetFile('10.244.7.1/24', false);
    const pod = await h.createPod();
    const add = await flannel('ADD', 'flannel-nodelegate', pod, { delegate: { type: 'no-such-plugin' } });
    expect(add.json).toMatchObject({ code: 7, msg: expect.stringContaining('delegate.type: failed to find plugin "no-such-plugin"') });
    expect(saved()).toEqual([]);
    expect(await nodeVeths()).toEqual([]);
  });

  it('a bridge that fails half-way (its IPAM is missing): the bridge rolls back, the saved config is removed', async () => {
    const pod = await h.createPod();
    const add = await flannel('ADD', 'flannel-noipam', pod, { ipam: { type: 'no-such-ipam', dataDir: ipamDir() } });
    expect(add.exitCode).toBe(1);
    expect(add.json.msg).toContain('no-such-ipam');
    expect(saved()).toEqual([]);
    expect(await nodeVeths()).toEqual([]);
    expect((await ipJson(pod, ['link', 'show'])).map((l) => l.ifname)).toEqual(['lo']);
  });
});

describe('flannel STATUS, GC and names that become paths', () => {
  it('a container ID that would climb out of dataDir is refused (code 4) before anything is written', async () => {
    await writeSubnetFile('10.244.7.1/24', false);
    const add = await flannel('ADD', '../escape', await h.createPod());
    expect(add.json).toMatchObject({ code: 4, msg: expect.stringContaining('CNI_CONTAINERID') });
    expect(existsSync(join(dir, 'escape'))).toBe(false);
    expect(saved()).toEqual([]);
  });


  it('STATUS is "not available" (50) while the subnet file is missing, and passes once it is there', async () => {
    await rm(subnetFile(), { force: true });
    const missing = await flannel('STATUS', undefined, undefined);
    expect(missing.exitCode).toBe(1);
    expect(missing.json).toMatchObject({ code: 50, msg: expect.stringContaining(subnetFile()) });
    await writeSubnetFile('10.244.7.1/24', false);
    expectSuccess(await flannel('STATUS', undefined, undefined));
  });

  it('GC releases what attachments the runtime no longer lists hold, saved configs included', async () => {
    await writeSubnetFile('10.244.7.1/24', false);
    const [keep, lose] = [await h.createPod(), await h.createPod()];
    expectSuccess(await flannel('ADD', 'flannel-keep', keep));
    expectSuccess(await flannel('ADD', 'flannel-lose', lose));
    expect(reservations()).toHaveLength(2);
    expectSuccess(await flannel('GC', undefined, undefined, { 'cni.dev/valid-attachments': [{ containerID: 'flannel-keep', ifname: 'eth0' }] }));
    expect(saved()).toEqual(['flannel-keep']);
    expect(reservations()).toHaveLength(1);
    expect(await nftElementCount(node)).toBe(1);
    expectSuccess(await flannel('DEL', 'flannel-keep', keep));
  });
});
