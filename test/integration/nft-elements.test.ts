// lib/nft/elements against the real kernel: rulesets written by `nft` in a node
// netns, read back and deleted over nfnetlink, and checked with `nft -j list`.
// Covers the set shapes tscni uses: a verdict map keyed by address, a
// concatenated interval set (portmap's masquerade pairs), and a concatenated
// set in the bridge family (the MAC spoof check).
import { beforeAll, describe, expect, it } from 'vitest';
import { useHarness, type Netns } from './harness';
import { bundleNftCli } from './nft-cli-bundle';

const h = useHarness();
let cli: string;
let node: Netns;

const INET = { family: 'inet', name: 'elemtest' };
const BRIDGE = { family: 'bridge', name: 'elemtest' };

const RULESET = `
table inet elemtest {
  chain c { }
  map m { type ipv4_addr : verdict; elements = { 10.0.0.1 comment "a" : jump c, 10.0.0.2 comment "b" : jump c } }
  set pairs { type ipv4_addr . ipv4_addr; flags interval;
    elements = { 127.0.0.0/8 . 10.0.0.1 comment "a", 10.0.0.1 . 10.0.0.1 comment "a", 10.0.0.2 . 10.0.0.2 comment "b" } }
  set empty { type ipv4_addr; }
}
table bridge elemtest {
  set allowed { type ifname . ether_addr; elements = { "veth1" . 02:00:00:00:00:01 comment "a", "veth2" . 02:00:00:00:00:02 comment "b" } }
}
`;

async function op(req: Record<string, unknown>): Promise<any> {
  const r = await h.execIn(node, process.execPath, [cli], { input: JSON.stringify(req) });
  return JSON.parse(r.stdout);
}

/** Comments of a set's elements as `nft` lists them. */
async function nftComments(family: string, set: string): Promise<string[]> {
  const r = await h.execIn(node, 'nft', ['-j', 'list', 'table', family, 'elemtest']);
  const obj = (JSON.parse(r.stdout).nftables as any[]).find((o) => (o.set ?? o.map)?.name === set);
  const elems: any[] = (obj.set ?? obj.map).elem ?? [];
  return elems.map((e) => (Array.isArray(e) ? e[0] : e).elem?.comment).sort();
}

beforeAll(async () => {
  cli = await bundleNftCli(await h.tempDir('nft-elements'));
  node = await h.createNode();
  await h.execIn(node, 'nft', ['-f', '-'], { input: RULESET });
});

describe('set elements over nfnetlink', () => {
  it('lists keys and owner comments as the kernel holds them', async () => {
    const m = await op({ op: 'elements', table: INET, set: 'm' });
    expect(m.map((e: any) => [e.key, e.comment]).sort()).toEqual([['0a000001', 'a'], ['0a000002', 'b']]);
    const pairs = await op({ op: 'elements', table: INET, set: 'pairs' });
    // An interval of a concatenation has a key and a key end; 127.0.0.0/8 spans 127.0.0.0-127.255.255.255.
    expect(pairs.find((e: any) => e.key.startsWith('7f'))).toMatchObject({ key: '7f0000000a000001', keyEnd: '7fffffff0a000001', comment: 'a' });
    expect(pairs).toHaveLength(3);
    const allowed = await op({ op: 'elements', table: BRIDGE, set: 'allowed' });
    // ifname is 16 bytes, the MAC 6 bytes padded to 8 in the concatenation.
    expect(allowed.map((e: any) => e.key).sort()).toEqual([
      `${Buffer.from('veth1').toString('hex').padEnd(32, '0')}0200000000010000`,
      `${Buffer.from('veth2').toString('hex').padEnd(32, '0')}0200000000020000`,
    ]);
  });

  it('answers none for an empty set, a missing set and a missing table', async () => {
    expect(await op({ op: 'elements', table: INET, set: 'empty' })).toEqual([]);
    expect(await op({ op: 'elements', table: INET, set: 'nosuchset' })).toEqual([]);
    expect(await op({ op: 'elements', table: { family: 'inet', name: 'nosuchtable' }, set: 'm' })).toEqual([]);
  });

  it('deletes exactly the picked elements, across sets and families', async () => {
    await op({ op: 'delete-elements', table: INET, sets: ['m', 'pairs'], comments: ['a'] });
    expect(await nftComments('inet', 'm')).toEqual(['b']);
    expect(await nftComments('inet', 'pairs')).toEqual(['b']);
    await op({ op: 'delete-elements', table: BRIDGE, sets: ['allowed'], comments: ['b'] });
    expect(await nftComments('bridge', 'allowed')).toEqual(['a']);
    // Nothing picked is nothing to do.
    await op({ op: 'delete-elements', table: INET, sets: ['m'], comments: ['nobody'] });
    expect(await nftComments('inet', 'm')).toEqual(['b']);
  });

  it('deletes all or nothing: one element already gone refuses the whole transaction', async () => {
    await h.execIn(node, 'nft', ['add', 'element', 'inet', 'elemtest', 'm', '{ 10.0.0.3 comment "c" : jump c }']);
    const listed = await op({ op: 'elements', table: INET, set: 'm' });
    expect(listed.map((e: any) => e.comment).sort()).toEqual(['b', 'c']);
    // Someone else deletes 10.0.0.2 between our listing and our deletion.
    await h.execIn(node, 'nft', ['delete', 'element', 'inet', 'elemtest', 'm', '{ 10.0.0.2 }']);
    const r = await h.execIn(node, process.execPath, [cli], {
      input: JSON.stringify({ op: 'delete-listed', table: INET, elements: listed }),
      reject: false,
    });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/ENOENT/);
    expect(await nftComments('inet', 'm')).toEqual(['c']);
  });
});
