// bridge DEL and GC against what can go wrong around them: an address given
// to a new pod while the old pod's elements are being removed, a namespace
// file the runtime unmounted and left behind, and a device that carries the
// host veth's derived name but is not ours.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { hostVethName } from '../../lib/netlink/pod-veth';
import { expectSuccess, execIn, ip, ipJson, run, useHarness, type Netns } from './harness';

const h = useHarness();
let node: Netns;
let dir: string;

function config(name: string, bridge: string, subnet: string, extra: Record<string, unknown> = {}) {
  return {
    cniVersion: '1.1.0', name, type: 'bridge', bridge, isGateway: true, ipMasq: true, macspoofchk: true,
    ipam: { type: 'host-local', dataDir: join(dir, 'ipam'), ranges: [[{ subnet }]] },
    ...extra,
  };
}

function bridge(command: 'ADD' | 'DEL' | 'CHECK' | 'GC', containerId: string, netns: Netns | string, conf: Record<string, unknown>) {
  return h.runCniPlugin({ node, plugin: 'bridge', command, containerId, netns, ifname: 'eth0', config: conf });
}

const reservations = (network: string) =>
  existsSync(join(dir, 'ipam', network)) ? readdirSync(join(dir, 'ipam', network)).filter((f) => /^\d/.test(f)) : [];

/** masq4 elements as "<address> <owner id>". */
async function masqOwners(): Promise<string[]> {
  const out = await execIn(node, 'nft', ['-j', 'list', 'map', 'inet', 'tscni', 'masq4'], { reject: false });
  if (out.exitCode !== 0) return [];
  const map = (JSON.parse(out.stdout).nftables as any[]).find((o) => o.map)?.map;
  return (map?.elem ?? []).map((e: any) => `${e[0].elem.val} ${String(e[0].elem.comment).split(' ').pop()}`).sort();
}

/** The steps a command finished, in order, from its debug log. */
function finishedSteps(logFile: string, command: string, containerId?: string): string[] {
  return readFileSync(logFile, 'utf8').split('\n')
    .filter((l) => new RegExp(`\\] bridge ${command}[ :]`).test(l) && (!containerId || l.includes(`containerID=${containerId} `)) && l.includes(': step done '))
    .map((l) => /step=("[^"]*"|\S+)/.exec(l)![1]!.replace(/^"|"$/g, ''));
}

beforeAll(async () => {
  node = await h.createNode();
  dir = await h.tempDir('bridge-del');
});

describe('bridge DEL and GC remove the nft elements before they give the address back', () => {
  it('DEL and GC: masquerade and spoof-check removal are logged done before the IPAM release', async () => {
    const logFile = join(dir, 'order.log');
    const conf = config('tscni-order', 'tscnio0', '10.244.20.0/24', { logLevel: 'debug', logFile });
    for (const id of ['order-1', 'order-2']) expectSuccess(await bridge('ADD', id, await h.createPod(), conf));
    expectSuccess(await bridge('DEL', 'order-1', '', conf));
    expect(finishedSteps(logFile, 'DEL', 'order-1')).toEqual(['remove masquerade', 'delete host veth', 'remove MAC spoof check', 'IPAM host-local release']);
    expectSuccess(await h.runCniPlugin({ node, plugin: 'bridge', command: 'GC', config: { ...conf, 'cni.dev/valid-attachments': [] } }));
    expect(finishedSteps(logFile, 'GC')).toEqual(['masquerade GC', 'MAC spoof check GC', 'IPAM host-local GC']);
    expect(reservations('tscni-order')).toEqual([]);
    expect((await masqOwners()).filter((e) => e.startsWith('10.244.20.'))).toEqual([]);
  });

  it('an ADD racing the DEL of the pod whose only address it gets keeps its masquerade element (8 rounds)', async () => {
    // A /30 holds one pod address: the new pod can only have it once DEL released it.
    const conf = config('tscni-race', 'tscnir0', '10.244.21.0/30');
    let holder = 'race-0';
    expectSuccess(await bridge('ADD', holder, await h.createPod(), conf));
    for (let round = 1; round <= 8; round++) {
      const next = `race-${round}`;
      const pod = await h.createPod();
      const del = bridge('DEL', holder, '', conf);
      let added = await bridge('ADD', next, pod, conf);
      // Until the DEL released the address, the ADD fails with the IPAM's code and leaves nothing.
      for (let tries = 0; added.exitCode !== 0 && added.json?.code === 100 && tries < 20; tries++) added = await bridge('ADD', next, pod, conf);
      expectSuccess(await del, `DEL ${holder}`);
      expectSuccess(added, `ADD ${next}`);
      expect((await masqOwners()).filter((e) => e.startsWith('10.244.21.'))).toEqual([`10.244.21.2 id=${next}`]);
      holder = next;
    }
    expectSuccess(await bridge('DEL', holder, '', conf));
    expect((await masqOwners()).filter((e) => e.startsWith('10.244.21.'))).toEqual([]);
  });
});

describe('bridge DEL whose element removal fails', () => {
  it('keeps the address reserved, so no ADD is given it while the old element stands; a later DEL releases it', async () => {
    // A node of its own: its masq4 map is replaced by one the kernel refuses to change.
    const own = await h.createNode();
    const conf = config('tscni-busy', 'tscnib0', '10.244.25.0/24', { macspoofchk: false });
    const del = () => h.runCniPlugin({ node: own, plugin: 'bridge', command: 'DEL', containerId: 'busy-1', netns: '', ifname: 'eth0', config: conf });
    expectSuccess(await h.runCniPlugin({ node: own, plugin: 'bridge', command: 'ADD', containerId: 'busy-1', netns: await h.createPod(), ifname: 'eth0', config: conf }));
    const listed = JSON.parse((await execIn(own, 'nft', ['-j', 'list', 'map', 'inet', 'tscni', 'masq4'])).stdout).nftables as any[];
    const [key, verdict] = listed.find((o) => o.map).map.elem[0];
    // A constant map bound to a rule: deleting its elements fails with EBUSY.
    const constant = [
      'flush chain inet tscni masq_postrouting', 'delete map inet tscni masq4',
      `add map inet tscni masq4 { type ipv4_addr : verdict; flags constant; elements = { ${key.elem.val} comment "${key.elem.comment}" : jump ${verdict.jump.target} } }`,
      'add rule inet tscni masq_postrouting ip saddr vmap @masq4',
    ];
    await execIn(own, 'nft', ['-f', '-'], { input: constant.join('\n') });
    const failed = await del();
    expect(failed.exitCode).not.toBe(0);
    expect(failed.json).toMatchObject({ cniVersion: '1.1.0', code: 999 });
    expect(failed.json.msg).toMatch(/^remove masquerade: .*EBUSY/);
    expect(reservations('tscni-busy')).toEqual(['10.244.25.2']);
    await execIn(own, 'nft', ['-f', '-'], { input: 'flush chain inet tscni masq_postrouting\ndelete map inet tscni masq4\n' });
    expectSuccess(await del());
    expect(reservations('tscni-busy')).toEqual([]);
  });
});

describe('bridge DEL of a namespace file the runtime unmounted', () => {
  it('counts the namespace as gone and removes the rest; ADD and CHECK refuse the file with code 4', async () => {
    const conf = config('tscni-umount', 'tscniu0', '10.244.22.0/24');
    const pod = await h.createPod();
    const added = expectSuccess(await bridge('ADD', 'umount-1', pod, conf)).json;
    expect(reservations('tscni-umount')).toEqual(['10.244.22.2']);
    // What a runtime leaves when it unmounted the namespace but kept the file: the namespace dies with its veth.
    await run('umount', [pod.path]);
    expect(readFileSync(pod.path, 'utf8')).toBe('');
    const del = await bridge('DEL', 'umount-1', pod, conf);
    expect(del.stdout).toBe('');
    expect(del.exitCode).toBe(0);
    expect(reservations('tscni-umount')).toEqual([]);
    expect((await masqOwners()).filter((e) => e.startsWith('10.244.22.'))).toEqual([]);
    expect((await ip(node, ['link', 'show', added.interfaces[1].name], { reject: false })).exitCode).not.toBe(0);
    expectSuccess(await bridge('DEL', 'umount-1', pod, conf));

    const file = join(dir, 'plain-file');
    writeFileSync(file, '');
    for (const command of ['ADD', 'CHECK'] as const) {
      const out = await bridge(command, 'umount-2', file, { ...conf, prevResult: added });
      expect(out.exitCode, out.stdout).not.toBe(0);
      expect(out.json, out.stdout).toMatchObject({ cniVersion: "1.1.0", code: 4 });
      expect(out.json.msg).toMatch(/^CNI_NETNS: ".*plain-file" is not a network namespace \(a plain file: its namespace was unmounted\)$/);
    }
    expect(reservations('tscni-umount')).toEqual([]);
  });
});

describe('bridge DEL and a device that carries the host veth name', () => {
  it('leaves a bridge, or a veth that is no port of this bridge, standing', async () => {
    const conf = config('tscni-taken', 'tscnit0', '10.244.23.0/24');
    const asBridge = hostVethName('taken-br', 'eth0');
    const asVeth = hostVethName('taken-veth', 'eth0');
    await ip(node, ['link', 'add', asBridge, 'type', 'bridge']);
    await ip(node, ['link', 'add', asVeth, 'type', 'veth', 'peer', 'name', 'takenpeer0']);
    expectSuccess(await bridge('DEL', 'taken-br', '', conf));
    expectSuccess(await bridge('DEL', 'taken-veth', '', conf));
    const [br] = await ipJson(node, ['-d', 'link', 'show', asBridge]);
    expect(br.linkinfo.info_kind).toBe('bridge');
    const [veth] = await ipJson(node, ['-d', 'link', 'show', asVeth]);
    expect(veth.linkinfo.info_kind).toBe('veth');
    await ip(node, ['link', 'del', asBridge]);
    await ip(node, ['link', 'del', asVeth]);
  });

  it('still deletes its own host veth when the pod namespace is lost', async () => {
    const conf = config('tscni-own', 'tscnit1', '10.244.24.0/24');
    const out = expectSuccess(await bridge('ADD', 'own-1', await h.createPod(), conf)).json;
    expectSuccess(await bridge('DEL', 'own-1', '', conf));
    expect((await ip(node, ['link', 'show', out.interfaces[1].name], { reject: false })).exitCode).not.toBe(0);
  });
});
