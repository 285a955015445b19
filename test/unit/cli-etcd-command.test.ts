// The frame of the CLI's etcd commands: the prefix each mode defaults to, and
// the one map from what a command throws to its exit code and message.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { commandEtcdSettings, ETCD_SPEC, etcdCommandUsage, runEtcdCommand, UsageError } from '../../cli/etcd-command';
import { EtcdError, EtcdUnreachableError } from '../../lib/datastore/etcd-http';
import { FlagError } from '../../lib/flags';

class Refused extends Error {}

/** What the command exits with, and what it writes to stderr. */
async function run(thrown: unknown, refusals: (typeof Refused)[] = []): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    stderr += String(chunk);
    return true;
  });
  const code = await runEtcdCommand('pool create', 'USAGE\n', async () => {
    throw thrown;
  }, refusals);
  return { code, stderr };
}

afterEach(() => vi.restoreAllMocks());

describe('the etcd flags', () => {
  it('are the same in every command, --etcd-prefix among them', () => {
    expect(Object.keys(ETCD_SPEC)).toEqual(['etcd-endpoints', 'etcd-prefix', 'etcd-cafile', 'etcd-certfile', 'etcd-keyfile']);
    expect(etcdCommandUsage('routed')).toMatch(/--etcd-prefix .*\(default \/tscni\/v1\)/);
    expect(etcdCommandUsage('overlay')).toMatch(/--etcd-prefix .*\(default \/coreos\.com\/network\)/);
  });

  it('default the prefix per mode, and take the one given', () => {
    expect(commandEtcdSettings('routed', {}, {}).prefix).toBe('/tscni/v1');
    expect(commandEtcdSettings('overlay', {}, {}).prefix).toBe('/coreos.com/network');
    expect(commandEtcdSettings('routed', { 'etcd-prefix': '/tscni-test/x/', 'etcd-endpoints': 'http://10.250.0.2:2379' }, {}))
      .toEqual({ prefix: '/tscni-test/x', connection: { endpoints: ['http://10.250.0.2:2379'] } });
  });
});

describe('runEtcdCommand', () => {
  it('a command line of the wrong shape: exit 2, the message, then the usage', async () => {
    expect(await run(new UsageError('--cidr is required'))).toEqual({ code: 2, stderr: 'tscni: pool create: --cidr is required\n\nUSAGE\n' });
    expect(await run(new FlagError('unknown flag --x'))).toEqual({ code: 2, stderr: 'tscni: pool create: unknown flag --x\n\nUSAGE\n' });
  });

  it('a bad value or bad etcd settings: exit 2, the message naming the flag, no usage', async () => {
    expect(await run(new UsageError('--vxlan: "yes" is not one of never, cross-subnet, always', false)))
      .toEqual({ code: 2, stderr: 'tscni: pool create: --vxlan: "yes" is not one of never, cross-subnet, always\n' });
    let settingsError: unknown;
    try {
      commandEtcdSettings('routed', { 'etcd-prefix': 'x' }, {});
    } catch (e) {
      settingsError = e;
    }
    expect(await run(settingsError)).toEqual({ code: 2, stderr: 'tscni: pool create: --etcd-prefix: must be a key path starting with "/"\n' });
  });

  it('etcd unreachable, an etcd error or a refusal: exit 1, the message alone', async () => {
    const unreachable = new EtcdUnreachableError([{ endpoint: 'http://10.250.0.99:2379', reason: 'connect ECONNREFUSED' }]);
    expect(await run(unreachable)).toEqual({ code: 1, stderr: 'tscni: pool create: etcd unreachable: http://10.250.0.99:2379: connect ECONNREFUSED\n' });
    expect(await run(new EtcdError('http://10.250.0.2:2379', '/v3/kv/txn', 9, 'too many operations'))).toEqual({ code: 1, stderr: 'tscni: pool create: etcd http://10.250.0.2:2379/v3/kv/txn: too many operations\n' });
    expect(await run(new Refused('pool p exists already'), [Refused])).toEqual({ code: 1, stderr: 'tscni: pool create: pool p exists already\n' });
  });

  it('anything else is a bug, and goes on up', async () => {
    await expect(run(new TypeError('x is undefined'))).rejects.toThrow('x is undefined');
    await expect(run(new Refused('not this command\'s'))).rejects.toThrow(Refused);
  });
});
