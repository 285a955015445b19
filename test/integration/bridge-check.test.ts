// bridge CHECK verifies everything ADD built: after each single change to
// the kernel state, CHECK fails with a message naming it, and passes again
// once it is put back.
import { beforeAll, describe, expect, it } from 'vitest';
import { expectSuccess, execIn, ip, useHarness, type Netns } from './harness';

const h = useHarness();
let node: Netns;
let pod: Netns;
let conf: Record<string, unknown>;
let added: any;
let hostVeth: string;

const check = () => h.runCniPlugin({ node, plugin: 'bridge', command: 'CHECK', containerId: 'chk-1', netns: pod, ifname: 'eth0', config: { ...conf, prevResult: added } });

async function expectCheckFails(message: RegExp): Promise<void> {
  const out = await check();
  expect(out.exitCode).not.toBe(0);
  expect(out.json).toMatchObject({ cniVersion: '1.0.0', code: 999 });
  expect(out.json.msg).toMatch(message);
}

beforeAll(async () => {
  node = await h.createNode();
  pod = await h.createPod();
  conf = {
    cniVersion: '1.0.0', name: 'tscni-chk', type: 'bridge', bridge: 'tscnic0', isDefaultGateway: true, ipMasq: true,
    hairpinMode: true, mtu: 1400, macspoofchk: true,
    ipam: { type: 'host-local', dataDir: await h.tempDir('chk'), ranges: [[{ subnet: '10.244.30.0/24' }], [{ subnet: 'fd00:244:30::/64' }]] },
  };
  added = expectSuccess(await h.runCniPlugin({ node, plugin: 'bridge', command: 'ADD', containerId: 'chk-1', netns: pod, ifname: 'eth0', config: conf })).json;
  hostVeth = added.interfaces[1].name;
});

describe('bridge CHECK', () => {
  it('passes for what ADD built', async () => {
    expectSuccess(await check());
  });

  it('names a gateway address missing on the bridge', async () => {
    await ip(node, ['addr', 'del', 'fd00:244:30::1/64', 'dev', 'tscnic0']);
    await expectCheckFails(/gateway address fd00:244:30::1\/64 missing on bridge tscnic0/);
    await ip(node, ['addr', 'add', 'fd00:244:30::1/64', 'dev', 'tscnic0', 'nodad']);
    expectSuccess(await check());
  });

  it('names hairpin mode turned off on the host veth', async () => {
    await ip(node, ['link', 'set', 'dev', hostVeth, 'type', 'bridge_slave', 'hairpin', 'off']);
    await expectCheckFails(new RegExp(`host veth ${hostVeth} has hairpin off, the config says on`));
    await ip(node, ['link', 'set', 'dev', hostVeth, 'type', 'bridge_slave', 'hairpin', 'on']);
    expectSuccess(await check());
  });

  it('names an MTU that differs from the config, on either end', async () => {
    await ip(pod, ['link', 'set', 'dev', 'eth0', 'mtu', '1300']);
    await expectCheckFails(/eth0 in the container has MTU 1300, the config says 1400/);
    await ip(pod, ['link', 'set', 'dev', 'eth0', 'mtu', '1400']);
    await ip(node, ['link', 'set', 'dev', hostVeth, 'mtu', '1500']);
    await expectCheckFails(new RegExp(`host veth ${hostVeth} has MTU 1500, the config says 1400`));
    await ip(node, ['link', 'set', 'dev', hostVeth, 'mtu', '1400']);
    expectSuccess(await check());
  });

  it('names a spoof-check element of the pod whose key is not host veth . MAC', async () => {
    const mac = added.interfaces[2].mac;
    const listed = JSON.parse((await execIn(node, 'nft', ['-j', 'list', 'set', 'bridge', 'tscni', 'spoofchk_allowed'])).stdout).nftables as any[];
    const comment = listed.find((o) => o.set).set.elem[0].elem.comment;
    await execIn(node, 'nft', ['delete', 'element', 'bridge', 'tscni', 'spoofchk_allowed', `{ ${hostVeth} . ${mac} }`]);
    await execIn(node, 'nft', ['add', 'element', 'bridge', 'tscni', 'spoofchk_allowed', `{ ${hostVeth} . 0a:58:00:00:00:01 comment "${comment}" }`]);
    await expectCheckFails(new RegExp(`nft set spoofchk_allowed element of this pod is ${hostVeth} \\. 0a:58:00:00:00:01, not ${hostVeth} \\. ${mac}`));
    await execIn(node, 'nft', ['delete', 'element', 'bridge', 'tscni', 'spoofchk_allowed', `{ ${hostVeth} . 0a:58:00:00:00:01 }`]);
    await execIn(node, 'nft', ['add', 'element', 'bridge', 'tscni', 'spoofchk_allowed', `{ ${hostVeth} . ${mac} comment "${comment}" }`]);
    expectSuccess(await check());
  });

  it('DEL removes it all', async () => {
    expectSuccess(await h.runCniPlugin({ node, plugin: 'bridge', command: 'DEL', containerId: 'chk-1', netns: pod, ifname: 'eth0', config: conf }));
    expect((await ip(node, ['link', 'show', hostVeth], { reject: false })).exitCode).not.toBe(0);
  });
});
