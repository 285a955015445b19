// The cluster store's pure parts: pool rules, block keys and arithmetic,
// handles, and the agent protocol's request checks.
import { describe, expect, it } from 'vitest';
import { cidrsOverlap, formatCidr, formatIp, parseCidr, type Cidr } from '../../lib/ip/address';
import {
  attachmentOfHandle, blockCapacity, blockGateway, blockKey, blockOfKey, decodeBlock, encodeBlock, freeAddress, handleOf, type Block,
} from '../../lib/ipam/cluster/block';
import { blockCount, decodePool, makePool, nthBlock, poolValue, PoolError } from '../../lib/ipam/cluster/pool';
import { parseRequest } from '../../lib/ipam/cluster/server';
import { parseClusterIpamConfig } from '../../lib/ipam/cluster/config';
import { legacyTunnelHandle, tunnelHandle } from '../../agent/routed/vxlan';
import { validateNetworkName } from '../../lib/cni/validate';

const cidr = (s: string) => parseCidr(s) as Cidr;

describe('pools', () => {
  it('takes Calico\'s defaults per family', () => {
    expect(poolValue(makePool({ name: 'default-ipv4', cidr: '10.244.0.0/16' }))).toEqual({ cidr: '10.244.0.0/16', blockSize: 26, vxlan: 'never', natOutgoing: false });
    expect(poolValue(makePool({ name: 'v6', cidr: 'fd00:244::/48', vxlan: 'always', natOutgoing: true }))).toEqual({ cidr: 'fd00:244::/48', blockSize: 122, vxlan: 'always', natOutgoing: true });
  });

  it.each([
    [{ name: 'Bad_Name', cidr: '10.244.0.0/16' }, 'name', '"Bad_Name" must be lower-case letters'],
    [{ name: 'p', cidr: '10.244.0.0' }, 'cidr', 'not in CIDR notation'],
    [{ name: 'p', cidr: '10.244.0.300/16' }, 'cidr', '"10.244.0.300" is not an IP address'],
    [{ name: 'p', cidr: '10.244.1.0/16' }, 'cidr', '10.244.1.0/16 has host bits set (the network is 10.244.0.0/16)'],
    [{ name: 'p', cidr: '10.244.0.0/24', blockSize: 20 }, 'blockSize', '/20 does not fit the IPv4 pool 10.244.0.0/24: it must be from /24 to /31'],
    [{ name: 'p', cidr: '10.244.0.0/24', blockSize: 32 }, 'blockSize', 'it must be from /24 to /31'],
    [{ name: 'p', cidr: 'fd00:244::/48', blockSize: 26 }, 'blockSize', '/26 does not fit the IPv6 pool fd00:244::/48: it must be from /48 to /127'],
    [{ name: 'p', cidr: '10.244.0.0/16', vxlan: 'sometimes' }, 'vxlan', '"sometimes" is not one of never, cross-subnet, always'],
  ])('refuses %j, naming %s', (input, field, message) => {
    let err: unknown;
    try {
      makePool(input);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PoolError);
    expect((err as PoolError).field).toBe(field);
    expect((err as PoolError).message).toContain(message);
  });

  it('decodes what it stores, and checks what someone wrote by hand', () => {
    const p = makePool({ name: 'a', cidr: '10.244.0.0/16', blockSize: 24, natOutgoing: true });
    expect(decodePool('a', JSON.stringify(poolValue(p)))).toEqual(p);
  });

  it.each([
    ['{"cidr":"10.244.0.0/16","blockSize":8}', 'pool a: blockSize: /8 does not fit the IPv4 pool 10.244.0.0/16: it must be from /16 to /31'],
    ['nope', /^pool a: the stored value is not JSON/],
    ['null', 'pool a: the stored value is not an object'],
    ['{"blockSize":26}', 'pool a: cidr: must be a CIDR'],
    ['{"cidr":"10.244.1.0/16"}', 'pool a: cidr: 10.244.1.0/16 has host bits set (the network is 10.244.0.0/16)'],
    ['{"cidr":"10.244.0.0/16","blockSize":"26"}', 'pool a: blockSize: must be a prefix length'],
    ['{"cidr":"10.244.0.0/16","vxlan":"sometimes"}', 'pool a: vxlan: "sometimes" is not one of never, cross-subnet, always'],
    ['{"cidr":"10.244.0.0/16","natOutgoing":"yes"}', 'pool a: natOutgoing: must be true or false'],
  ])('names what is wrong with a pool written by hand, without throwing: %s', (text, problem) => {
    expect(decodePool('a', text)).toMatch(problem);
  });

  it('refuses a stored pool whose key is no pool name', () => {
    expect(decodePool('A\nb', '{"cidr":"10.244.0.0/16"}')).toMatch(/^pool "A\\nb": name: /);
  });

  it('knows overlaps within a family only', () => {
    expect(cidrsOverlap(cidr('10.244.0.0/16'), cidr('10.244.7.0/24'))).toBe(true);
    expect(cidrsOverlap(cidr('10.244.0.0/16'), cidr('10.245.0.0/16'))).toBe(false);
    expect(cidrsOverlap(cidr('10.244.0.0/16'), cidr('fd00:244::/48'))).toBe(false);
  });

  it('cuts the pool into blocks in order', () => {
    const p = makePool({ name: 'a', cidr: '10.244.0.0/24', blockSize: 26 });
    expect(blockCount(p)).toBe(4n);
    expect([0n, 1n, 3n].map((i) => formatCidr(nthBlock(p, i)))).toEqual(['10.244.0.0/26', '10.244.0.64/26', '10.244.0.192/26']);
    const v6 = makePool({ name: 'b', cidr: 'fd00:244::/48' });
    expect(blockCount(v6)).toBe(1n << 74n);
    expect(formatCidr(nthBlock(v6, 1n))).toBe('fd00:244::40/122');
  });
});

describe('blocks', () => {
  it('has keys that name pool and CIDR, both ways, for both families', () => {
    const key = blockKey('/tscni/v1', 'default-ipv4', cidr('10.244.0.64/26'));
    expect(key).toBe('/tscni/v1/ipam/blocks/default-ipv4/10.244.0.64-26');
    expect(blockOfKey('/tscni/v1', key)).toEqual({ pool: 'default-ipv4', cidr: cidr('10.244.0.64/26') });
    const v6 = blockKey('/tscni/v1', 'v6', cidr('fd00:244::40/122'));
    expect(v6).toBe('/tscni/v1/ipam/blocks/v6/fd00:244::40-122');
    expect(formatCidr(blockOfKey('/tscni/v1', v6)!.cidr)).toBe('fd00:244::40/122');
    expect(blockOfKey('/tscni/v1', '/tscni/v1/ipam/blocks/v6/garbage')).toBeUndefined();
    expect(blockOfKey('/tscni/v1', '/other/ipam/blocks/v6/fd00::-122')).toBeUndefined();
  });

  it('keeps its first address as the gateway and hands out the lowest free one', () => {
    const b = decodeBlock('a', cidr('10.244.0.0/30'), encodeBlock({ node: 'n1', allocations: { '10.244.0.1': 'net/c1/eth0' } })) as Block;
    expect(formatIp(blockGateway(b.cidr))).toBe('10.244.0.0');
    expect(blockCapacity(30, 4)).toBe(3n);
    expect(formatIp(freeAddress(b)!)).toBe('10.244.0.2');
    b.allocations['10.244.0.2'] = 'net/c2/eth0';
    b.allocations['10.244.0.3'] = 'net/c3/eth0';
    expect(freeAddress(b)).toBeUndefined();
  });

  it.each([
    ['{"node":"n1",', 'the stored value is not JSON'],
    ['{"allocations":{}}', 'node must be a node\'s name'],
    ['{"node":"n1\\n","allocations":{}}', 'node must be a node\'s name'],
    ['{"node":"n1"}', 'allocations must be an object'],
    ['{"node":"n1","allocations":"lots"}', 'allocations must be an object'],
    ['{"node":"n1","allocations":{"10.244.0.0":"net/c1/eth0"}}', 'allocation "10.244.0.0" is not an address the block gives out'],
    ['{"node":"n1","allocations":{"10.244.0.9":"net/c1/eth0"}}', 'allocation "10.244.0.9" is not an address the block gives out'],
    ['{"node":"n1","allocations":{"fd00::1":"net/c1/eth0"}}', 'allocation "fd00::1" is not an address the block gives out'],
    ['{"node":"n1","allocations":{"10.244.0.1":42}}', 'the handle of 10.244.0.1 is not network/container/interface'],
    ['{"node":"n1","allocations":{"10.244.0.1":"c1"}}', 'the handle of 10.244.0.1 is not network/container/interface'],
  ])('names what is wrong with a block written by hand, without throwing: %s', (text, problem) => {
    expect(decodeBlock('a', cidr('10.244.0.0/30'), text)).toBe(`block 10.244.0.0/30 of pool a: ${problem}`);
  });

  it('refuses a block key whose CIDR is no block, and reads an address in any spelling as the store prints it', () => {
    expect(decodeBlock('a', cidr('10.244.0.1/30'), '{"node":"n1","allocations":{}}')).toBe('block 10.244.0.1/30 of pool a: the key\'s CIDR has host bits set');
    expect(decodeBlock('a', cidr('fd00::/126'), '{"node":"n1","allocations":{"FD00:0::1":"net/c1/eth0"}}')).toMatchObject({ allocations: { 'fd00::1': 'net/c1/eth0' } });
    expect(decodeBlock('a', cidr('fd00::/126'), '{"node":"n1","allocations":{"FD00:0::1":"net/c1/eth0","fd00::1":"net/c2/eth0"}}')).toBe('block fd00::/126 of pool a: fd00::1 is allocated twice');
  });

  it('spells a handle as network/container/ifname and reads it back', () => {
    const a = { network: 'k8s-pod-network', containerId: 'abc123', ifname: 'eth0' };
    expect(handleOf(a)).toBe('k8s-pod-network/abc123/eth0');
    expect(attachmentOfHandle(handleOf(a))).toEqual(a);
    expect(attachmentOfHandle('abc123/eth0')).toBeUndefined();
    expect(attachmentOfHandle('n//eth0')).toBeUndefined();
  });
});

describe('agent protocol requests', () => {
  it('accepts what the plugin sends', () => {
    expect(parseRequest('{"op":"assign","handle":"n/c/eth0","pools":["a"]}')).toEqual({ op: 'assign', handle: 'n/c/eth0', pools: ['a'] });
    expect(parseRequest('{"op":"gc","network":"n","keep":["n/c/eth0"]}')).toEqual({ op: 'gc', network: 'n', keep: ['n/c/eth0'] });
    expect(parseRequest('{"op":"pools"}')).toEqual({ op: 'pools' });
  });

  it.each([
    ['not json', 'the request is not JSON'],
    ['{"op":"assign","handle":"c/eth0"}', 'handle: must be'],
    ['{"op":"assign","handle":"n/c/eth0","pools":"a"}', 'pools: must be a list'],
    ['{"op":"gc","network":"n"}', 'keep: must be a list'],
    ['{"op":"format-disk"}', 'op: unknown operation "format-disk"'],
  ])('refuses %s', (line, message) => {
    expect(parseRequest(line)).toContain(message);
  });
});

describe('the agent\'s own handles', () => {
  const gc = (network: string) => parseRequest(JSON.stringify({ op: 'gc', network, keep: [] }));

  it('are filed under a network name no CNI network can have', () => {
    const network = tunnelHandle('node-a').split('/')[0]!;
    expect(() => validateNetworkName(network)).toThrow(/invalid characters found in network name/);
  });

  it('no plugin can name them: GC, DEL, CHECK and ADD of the agent\'s networks are refused, the old "vxlan-tunnel" included', () => {
    for (const handle of [tunnelHandle('node-a'), legacyTunnelHandle('node-a')]) {
      const network = handle.split('/')[0]!;
      expect(gc(network)).toBe(`network: "${network}" is reserved for the agent's own addresses`);
      for (const op of ['release', 'held', 'assign']) expect(parseRequest(JSON.stringify({ op, handle }))).toContain('is reserved for the agent\'s own addresses');
    }
    expect(gc('vxlan-tunnels')).toEqual({ op: 'gc', network: 'vxlan-tunnels', keep: [] });
  });

  it('cluster-ipam refuses a network named "vxlan-tunnel"', () => {
    const config = { cniVersion: '1.0.0', name: 'vxlan-tunnel', type: 'ptp', ipam: { type: 'cluster-ipam' } };
    expect(() => parseClusterIpamConfig(config)).toThrow('name: "vxlan-tunnel" is reserved for the tscni agent\'s own addresses');
    expect(parseClusterIpamConfig({ ...config, name: 'vxlan-tunnel2' }).name).toBe('vxlan-tunnel2');
  });

  it('an assign carries the ADD\'s netns, an absolute path', () => {
    expect(parseRequest('{"op":"assign","handle":"n/c/eth0","netns":"/run/netns/p1"}')).toEqual({ op: 'assign', handle: 'n/c/eth0', netns: '/run/netns/p1' });
    expect(parseRequest('{"op":"assign","handle":"n/c/eth0","netns":"p1"}')).toBe('netns: must be an absolute path');
  });
});

