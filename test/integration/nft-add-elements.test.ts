// ADD's batches against the real kernel: the first pod's goes through nft and
// writes the ruleset; later pods' element changes go over nfnetlink. The
// kernel is the oracle for the encoding: two nodes get the same pods, one
// always through nft, one as ADD decides, and every attribute of every
// element must come out byte for byte the same, as must `nft list`.
import { beforeAll, describe, expect, it } from 'vitest';
import { useHarness, type Netns } from './harness';
import { bundleNftCli } from './nft-cli-bundle';

const h = useHarness();
let cli: string;
let byNft: Netns;
let asAdd: Netns;

const INET = { family: 'inet', name: 'tscni' };
const BRIDGE = { family: 'bridge', name: 'tscni' };
const SETS: [typeof INET, string][] = [
  ...['masq4', 'masq6', 'pm_addr4', 'pm_port4', 'pm_addr6', 'pm_port6', 'pm_hostip_addr4', 'pm_hostip_port4',
    'pm_hostip_addr6', 'pm_hostip_port6', 'pm_masq4', 'pm_masq6'].map((s): [typeof INET, string] => [INET, s]),
  [BRIDGE, 'spoofchk_ports'], [BRIDGE, 'spoofchk_allowed'],
];

const owner = (i: number) => ({ network: 'net1', containerId: `c${i}`, ifname: 'eth0' });

/** One pod's masquerade, spoof check and host ports, as bridge + portmap ADD would write them. */
function pod(i: number, subnet = 1) {
  return {
    masquerade: { ...owner(i), addresses: [`10.244.${subnet}.${i}/24`, `fd00:244:${subnet}::${i}/64`] },
    spoofcheck: { ...owner(i), hostVeth: `veth${i}`, mac: `0A:58:0a:f4:01:${i.toString(16).padStart(2, '0')}` },
    portmap: {
      ...owner(i), addresses: [`10.244.${subnet}.${i}`, `fd00:244:${subnet}::${i}`], snat: true, masqAll: i % 2 === 0,
      mappings: [
        { hostPort: 8000 + i, containerPort: 80, protocol: 'tcp' },
        { hostPort: 5300 + i, containerPort: 53, protocol: 'udp' },
        { hostPort: 9000 + i, containerPort: 9, protocol: 'sctp', hostIP: '10.250.0.1' },
        { hostPort: 9100 + i, containerPort: 9, protocol: 'tcp', hostIP: '2001:db8::1' },
      ],
    },
  };
}

async function op(node: Netns, req: Record<string, unknown>, reject = true): Promise<any> {
  const r = await h.execIn(node, process.execPath, [cli], { input: JSON.stringify(req), reject: false });
  if (r.exitCode !== 0) {
    if (reject) throw new Error(`nft-cli ${String(req.op)}: ${r.stderr}`);
    return { error: r.stderr.trim() };
  }
  return JSON.parse(r.stdout);
}

const add = (node: Netns, i: number, subnet = 1) => op(node, { op: 'add-ruleset', ...pod(i, subnet), viaNft: node === byNft });

/** Every element of every set, each as its attributes in hex, in a stable order. */
async function elementBytes(node: Netns): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const [table, set] of SETS) {
    const elems = await op(node, { op: 'raw-elements', table, set });
    out[`${table.family} ${set}`] = elems.map((e: Record<string, string>) => JSON.stringify(e)).sort();
  }
  return out;
}

const nft = async (node: Netns, args: string[]) => (await h.execIn(node, 'nft', args)).stdout;

beforeAll(async () => {
  cli = await bundleNftCli(await h.tempDir('nft-add'));
  byNft = await h.createNode();
  asAdd = await h.createNode();
});

describe('ADD batches: nft first, then nfnetlink', () => {
  it('the first pod writes the ruleset through nft; later pods add their elements over nfnetlink', async () => {
    const first = await add(asAdd, 1);
    expect(first.via).toBe('nft');
    expect(first.why).toMatch(/^chain inet tscni \S+ has no rules or does not exist$/);
    expect(await add(asAdd, 2)).toEqual({ via: 'nfnetlink' });
    expect(await add(asAdd, 3)).toEqual({ via: 'nfnetlink' });
    for (const i of [1, 2, 3]) await add(byNft, i);
  });

  it('the kernel holds the same bytes for every element either way, and nft lists the same ruleset', async () => {
    const viaNft = await elementBytes(byNft);
    expect(viaNft['inet pm_masq4']).toHaveLength(5);
    expect(viaNft['bridge spoofchk_allowed']).toHaveLength(3);
    expect(await elementBytes(asAdd)).toEqual(viaNft);
    expect(await nft(asAdd, ['list', 'ruleset'])).toBe(await nft(byNft, ['list', 'ruleset']));
  });

  it('a repeated portmap ADD takes its own host ports again over nfnetlink and changes nothing', async () => {
    const before = await elementBytes(asAdd);
    expect(await op(asAdd, { op: 'add-portmap', target: pod(2).portmap })).toEqual({ via: 'nfnetlink' });
    expect(await elementBytes(asAdd)).toEqual(before);
  });

  it('a flushed chain, rules of another version and a new subnet send the batch to nft, which repairs them', async () => {
    await nft(asAdd, ['flush', 'chain', 'inet', 'tscni', 'masq_postrouting']);
    expect(await add(asAdd, 4)).toEqual({ via: 'nft', why: 'chain inet tscni masq_postrouting has no rules or does not exist' });
    expect(await add(asAdd, 5)).toEqual({ via: 'nfnetlink' });

    // The same rule as an older version wrote it: without the version comment.
    const input = JSON.parse(await nft(asAdd, ['-j', 'list', 'chain', 'inet', 'tscni', 'pm_input'])).nftables.find((o: any) => o.rule).rule;
    delete input.comment;
    delete input.handle;
    await nft(asAdd, ['-j', JSON.stringify({ nftables: [{ flush: { chain: { family: 'inet', table: 'tscni', name: 'pm_input' } } }, { add: { rule: input } }] })]);
    expect(await add(asAdd, 6)).toEqual({ via: 'nft', why: 'chain inet tscni pm_input is not as this version writes it' });

    expect(await add(asAdd, 7, 2)).toEqual({ via: 'nft', why: 'chain inet tscni masq_10_244_2_0_24 has no rules or does not exist' });
    expect(await add(asAdd, 8, 2)).toEqual({ via: 'nfnetlink' });
    expect(await nft(asAdd, ['list', 'chain', 'inet', 'tscni', 'masq_postrouting'])).toMatch(/ip saddr vmap @masq4 comment "tscni ruleset [0-9a-f]{16}"/);
  });

  it('a host port another pod holds is refused by the kernel, named, and nothing of the new pod is left', async () => {
    const taken = { ...pod(9).portmap, mappings: [{ hostPort: 8001, containerPort: 80, protocol: 'tcp' }] };
    const r = await op(asAdd, { op: 'add-portmap', target: taken }, false);
    expect(r.error).toBe('runtimeConfig.portMappings: host port 8001/tcp is already mapped by net=net1 if=eth0 id=c1');
    expect(await nft(asAdd, ['list', 'table', 'inet', 'tscni'])).not.toMatch(/id=c9/);
  });
});
