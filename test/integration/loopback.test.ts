// loopback: lo comes up in the pod (and only there), DEL brings it down and
// is idempotent.
import { beforeAll, describe, expect, it } from 'vitest';
import { expectSuccess, ipJson, run, useHarness, type Netns } from './harness';

const h = useHarness();
let node: Netns;
const config = { cniVersion: '1.0.0', name: 'lo-test', type: 'loopback' };

beforeAll(async () => {
  node = await h.createNode();
});

const loState = async (ns: Netns) => (await ipJson(ns, ['link', 'show', 'lo']))[0].flags.includes('UP');

describe('loopback', () => {
  it('ADD brings lo up in the pod and reports its addresses; DEL brings it down', async () => {
    const pod = await h.createNetns('lo-pod');
    await run('ip', ['-n', pod.name, 'link', 'set', 'lo', 'down']);
    const nodeBefore = await loState(node);
    const out = expectSuccess(await h.runCniPlugin({ node, plugin: 'loopback', command: 'ADD', containerId: 'lo1', netns: pod, ifname: 'lo', config }));
    expect(out.json.interfaces).toEqual([{ name: 'lo', mac: '00:00:00:00:00:00', sandbox: pod.path }]);
    expect(out.json.ips).toEqual([{ interface: 0, address: '127.0.0.1/8' }, { interface: 0, address: '::1/128' }]);
    expect(await loState(pod)).toBe(true);
    expect((await h.ping(pod, '127.0.0.1', 1)).ok).toBe(true);
    expectSuccess(await h.runCniPlugin({ node, plugin: 'loopback', command: 'CHECK', containerId: 'lo1', netns: pod, ifname: 'lo', config: { ...config, prevResult: out.json } }));
    expectSuccess(await h.runCniPlugin({ node, plugin: 'loopback', command: 'DEL', containerId: 'lo1', netns: pod, ifname: 'lo', config }));
    expect(await loState(pod)).toBe(false);
    expect(await loState(node)).toBe(nodeBefore);
  });

  it('DEL succeeds when the netns is gone or empty', async () => {
    expectSuccess(await h.runCniPlugin({ node, plugin: 'loopback', command: 'DEL', containerId: 'lo2', netns: '/run/netns/tscni-gone', ifname: 'lo', config }));
    expectSuccess(await h.runCniPlugin({ node, plugin: 'loopback', command: 'DEL', containerId: 'lo2', netns: '', ifname: 'lo', config }));
  });
});
