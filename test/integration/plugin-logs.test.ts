// Plugin logs from the built executables, run as a runtime runs them: a
// failed ADD leaves its failing step and what the rollback removed in the
// config's logFile, stdout carries only the error JSON, and the kernel shows
// the rollback really happened.
import { readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectSuccess, ip, ipJson, runCniPlugin, type Netns } from './harness';
import { useHarness } from './harness/vitest';

const h = useHarness();
let node: Netns;
let dir: string;

function bridgeConf(logLevel: string) {
  return {
    cniVersion: '1.0.0', name: 'logs', type: 'bridge', bridge: 'logs0', isGateway: true,
    logLevel, logFile: join(dir, 'log/tscni.log'),
    ipam: { type: 'host-local', dataDir: join(dir, 'ipam'), ranges: [[{ subnet: '10.244.40.0/24', rangeStart: '10.244.40.10', rangeEnd: '10.244.40.20' }]] },
  };
}

const logLines = () => readFileSync(join(dir, 'log/tscni.log'), 'utf8').trim().split('\n');

beforeAll(async () => {
  node = await h.createNode();
  dir = await h.tempDir('logs');
});

describe('plugin logs', () => {
  it('a successful ADD at info level logs one line per plugin with identity and duration, nothing on stdout but the result', async () => {
    const pod = await h.createPod();
    const add = expectSuccess(await runCniPlugin({ node, plugin: 'bridge', command: 'ADD', containerId: 'log-ok', netns: pod, ifname: 'eth0', config: bridgeConf('info') }));
    expect(add.json.ips[0].address).toBe('10.244.40.10/24');
    expect(add.stderr).toBe('');
    const lines = logLines();
    expect(lines.map((l) => l.replace(/^\S+ \[(\w+)\]\[\d+\] /, '$1 ').replace(/took=[\d.]+ms/, 'took=T'))).toEqual([
      `INFO host-local ADD containerID=log-ok netns=${pod.path} ifname=eth0: ADD ok took=T ips=10.244.40.10/24`,
      `INFO bridge ADD containerID=log-ok netns=${pod.path} ifname=eth0: ADD ok took=T ips=10.244.40.10/24`,
    ]);
  });

  it('a failed ADD logs the failing step and the rollback; stdout is only the error JSON; the address is free again', async () => {
    const pod = await h.createPod();
    // The pod has an eth0 already: the veth step fails, after IPAM and the bridge.
    await ip(pod, ['link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'taken0']);
    const before = logLines().length;
    const add = await runCniPlugin({ node, plugin: 'bridge', command: 'ADD', containerId: 'log-fail', netns: pod, ifname: 'eth0', config: bridgeConf('debug') });
    expect(add.exitCode).toBe(1);
    expect(add.stderr).toBe('');
    expect(Object.keys(add.json).sort()).toEqual(['cniVersion', 'code', 'msg'].concat(add.json.details ? ['details'] : []).sort());
    expect(add.json.msg).toMatch(/eth0/);

    const lines = logLines().slice(before);
    const rolledBack = lines.find((l) => l.includes(': rolled back '));
    expect(rolledBack).toMatch(/\[ERROR\]\[\d+\] bridge ADD containerID=log-fail netns=\S+ ifname=eth0: rolled back failedStep=veth error=".+" undone="IPAM host-local reservation"$/);
    expect(lines.at(-1)).toMatch(/\[ERROR\]\[\d+\] bridge ADD containerID=log-fail .*: ADD failed step=veth code=\d+ error=".+" took=[\d.]+ms$/);
    // debug: the steps before the failure, each timed
    expect(lines.filter((l) => l.includes('bridge ADD') && l.includes('step done')).map((l) => l.match(/step=("[^"]+"|\S+)/)![1])).toEqual(['"IPAM host-local"', 'bridge']);
    expect(readdirSync(join(dir, 'ipam/logs')).filter((f) => f.startsWith('10.'))).toEqual(['10.244.40.10']);
    expect((await ipJson(node, ['link', 'show', 'type', 'veth'])).map((l: any) => l.ifname)).toHaveLength(1);
  });

  it('a bad logFile is refused with code 7 before anything is built', async () => {
    const pod = await h.createPod();
    const r = await runCniPlugin({ node, plugin: 'bridge', command: 'ADD', containerId: 'log-bad', netns: pod, ifname: 'eth0', config: { ...bridgeConf('info'), logFile: 'relative.log' } });
    expect(r.json).toMatchObject({ code: 7, msg: 'logFile: must be an absolute path' });
    // at the default level, the failure goes to stderr, where runtimes keep it
    expect(r.stderr).toMatch(/\[ERROR\]\[\d+\] bridge ADD containerID=log-bad .*: ADD failed code=7 error="logFile: must be an absolute path"/);
  });

  it('does not follow a symlink put where the log file should be: the target is untouched, the lines go to stderr', async () => {
    const target = join(dir, 'not-a-log');
    writeFileSync(target, 'precious\n');
    const link = join(dir, 'linked.log');
    symlinkSync(target, link);
    const pod = await h.createPod();
    const out = await runCniPlugin({ node, plugin: 'bridge', command: 'ADD', containerId: 'log-link', netns: pod, ifname: 'eth0', config: { ...bridgeConf('error'), bridge: 'a/b', logFile: link } });
    expect(out.json).toMatchObject({ code: 7, msg: expect.stringMatching(/^bridge: /) });
    expect(readFileSync(target, 'utf8')).toBe('precious\n');
    expect(out.stderr).toMatch(new RegExp(`^bridge: cannot open logFile ${link}: ELOOP`));
    expect(out.stderr).toMatch(/\[ERROR\]\[\d+\] bridge ADD containerID=log-link .*: ADD failed code=7/);
  });
});
