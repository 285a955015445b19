// lib/nft masquerade against the real kernel: rules applied in a node netns,
// read back with `nft -j list ruleset`, and pod traffic to an external host
// that only NATed packets can reach.
import { beforeAll, describe, expect, it } from 'vitest';
import { addElements, deleteElements, TSCNI_TABLE } from '../../lib/nft/json';
import { addAddress, addVeth, ip, rootNftTables, useHarness, type External, type Netns } from './harness';
import { bundleNftCli } from './nft-cli-bundle';

const h = useHarness();
const NET = 'podnet';
let rootTablesBefore: string[];
let cli: string;
let node: Netns;
let ext: External;

async function nftOp(req: Record<string, unknown>): Promise<unknown> {
  const r = await h.execIn(node, process.execPath, [cli], { input: JSON.stringify(req) });
  return JSON.parse(r.stdout);
}

async function ruleset(ns: Netns): Promise<Record<string, any>[]> {
  const r = await h.execIn(ns, 'nft', ['-j', 'list', 'ruleset']);
  return (JSON.parse(r.stdout).nftables as Record<string, any>[]).filter((o) => !o.metainfo);
}

async function elements(map: string): Promise<{ key: string; comment?: string }[]> {
  const m = (await ruleset(node)).find((o) => o.map?.name === map)?.map;
  return (m?.elem ?? []).map((e: any) => ({ key: e[0].elem?.val ?? e[0], comment: e[0].elem?.comment }));
}

/** A pod wired to the node by a plain veth, its gateway on the node side. */
async function podAt(addr: string, gw: string, hostDev: string): Promise<Netns> {
  const pod = await h.createPod();
  await addVeth(pod, 'eth0', node, hostDev);
  await addAddress(pod, 'eth0', addr);
  await addAddress(node, hostDev, gw);
  await ip(pod, ['route', 'add', 'default', 'via', gw.split('/')[0]!]);
  return pod;
}

beforeAll(async () => {
  rootTablesBefore = await rootNftTables();
  cli = await bundleNftCli(await h.tempDir('nft'));
  node = await h.createNode();
  ext = await h.createExternal(node);
});

describe('masquerade in a node netns', () => {
  it('SNATs pod traffic leaving the subnet only while the pod has its element', async () => {
    const pod = await podAt('10.244.1.5/24', '10.244.1.1/24', 'veth-a');
    const server = await h.startTcpServer(ext);
    await expect(h.tcpRequest(pod, ext.ip, server.port, 1500)).rejects.toThrow();
    const a = { network: NET, containerId: 'ctr-a', ifname: 'eth0', addresses: ['10.244.1.5/24'] };
    await nftOp({ op: 'add', ...a });
    expect(await h.tcpRequest(pod, ext.ip, server.port)).toBe(ext.nodeIp);
    // Inside the subnet the pod's own address must survive.
    const local = await h.startTcpServer(node, { host: '10.244.1.1' });
    expect(await h.tcpRequest(pod, '10.244.1.1', local.port)).toBe('10.244.1.5');
    expect(await nftOp({ op: 'check', ...a })).toEqual([]);
    await nftOp({ op: 'remove', ...a });
    await expect(h.tcpRequest(pod, ext.ip, server.port, 1500)).rejects.toThrow();
    expect(await nftOp({ op: 'check', ...a })).toEqual(['nft map masq4 has no element for 10.244.1.5']);
  });

  it('is idempotent and writes the layout it promises', async () => {
    const b = { network: NET, containerId: 'ctr-b', ifname: 'eth0', addresses: ['10.244.2.7/24', 'fd00:244:2::7/64'] };
    await nftOp({ op: 'add', ...b });
    await nftOp({ op: 'add', ...b });
    const rs = await ruleset(node);
    const rules = (chain: string) => rs.filter((o) => o.rule?.chain === chain);
    expect(rules('masq_postrouting')).toHaveLength(4);
    expect(rules('masq_10_244_2_0_24')).toHaveLength(1);
    expect(rules('masq_fd00_244_2___64')).toHaveLength(1);
    expect(rs.find((o) => o.chain?.name === 'masq_postrouting')?.chain).toMatchObject({ type: 'nat', hook: 'postrouting', prio: 100 });
    expect((await elements('masq4')).map((e) => e.key)).toEqual(['10.244.2.7']);
    expect((await elements('masq6')).map((e) => e.key)).toEqual(['fd00:244:2::7']);
    expect((await elements('masq4'))[0]!.comment).toMatch(/ net=podnet if=eth0 id=ctr-b$/);
  });

  it('DEL removes only its own pod, also when its address was handed to another pod', async () => {
    const c = { network: NET, containerId: 'ctr-c', ifname: 'eth0', addresses: ['10.244.2.8/24'] };
    const d = { network: NET, containerId: 'ctr-d', ifname: 'eth0', addresses: ['10.244.2.8/24'] };
    await nftOp({ op: 'add', ...c });
    await nftOp({ op: 'add', ...d });
    await nftOp({ op: 'remove', ...c });
    await nftOp({ op: 'remove', ...c });
    const owners = (await elements('masq4')).map((e) => e.comment?.split(' ').pop());
    expect(owners.sort()).toEqual(['id=ctr-b', 'id=ctr-d']);
    expect(await nftOp({ op: 'check', ...d })).toEqual([]);
  });

  it('GC keeps valid attachments and drops the rest of its network', async () => {
    await nftOp({ op: 'add', network: 'other', containerId: 'ctr-o', ifname: 'eth0', addresses: ['10.244.3.3/24'] });
    await nftOp({ op: 'gc', network: NET, valid: [{ containerId: 'ctr-d', ifname: 'eth0' }] });
    const owners = (await elements('masq4')).map((e) => e.comment?.split(' ').pop());
    expect(owners.sort()).toEqual(['id=ctr-d', 'id=ctr-o']);
    expect(await elements('masq6')).toEqual([]);
  });

  it('applies all of a batch or nothing', async () => {
    const elem = ['10.244.9.9', { jump: { target: 'masq_10_244_2_0_24' } }];
    const commands = [addElements(TSCNI_TABLE, 'masq4', [elem]), deleteElements(TSCNI_TABLE, 'masq4', ['10.244.9.10'])];
    const r = await h.execIn(node, process.execPath, [cli], { input: JSON.stringify({ op: 'apply', commands }), reject: false });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/No such file or directory/);
    expect((await elements('masq4')).map((e) => e.key)).not.toContain('10.244.9.9');
  });

  it('applies batches too large for one nft argument, and GC deletes more than one transaction holds', async () => {
    await nftOp({ op: 'bulk-add', network: 'bulk', count: 2500 });
    expect((await elements('masq4')).length).toBe(2502);
    await nftOp({ op: 'gc', network: 'bulk', valid: [] });
    expect((await elements('masq4')).length).toBe(2);
  });

  it('adds no nft table to the root network namespace', async () => {
    expect((await rootNftTables()).filter((t) => !rootTablesBefore.includes(t))).toEqual([]);
  });
});
