// The CNI codes and messages a plugin answers lib/netns's errors with: the
// error JSON a runtime sees for a bad CNI_NETNS (tests and runtimes match it).
import { describe, expect, it } from 'vitest';
import { asCniError } from '../../lib/cni/errors';
import { NetnsError } from '../../lib/netns';

const json = (e: unknown) => asCniError(e).toJSON('1.0.0');

describe('asCniError on a NetnsError', () => {
  it('missing is 3, unreadable 5, both "failed to open netns", with what the system said as details', () => {
    expect(json(new NetnsError('missing', '/run/netns/p1', 'ENOENT: no such file or directory', 'ENOENT'))).toEqual({
      cniVersion: '1.0.0', code: 3, msg: 'CNI_NETNS: failed to open netns "/run/netns/p1"', details: 'ENOENT: no such file or directory',
    });
    expect(json(new NetnsError('unreadable', '/run/netns/p1', 'EACCES: permission denied', 'EACCES'))).toEqual({
      cniVersion: '1.0.0', code: 5, msg: 'CNI_NETNS: failed to open netns "/run/netns/p1"', details: 'EACCES: permission denied',
    });
  });

  it('not a namespace and a plain file left by an unmount are 4', () => {
    expect(json(new NetnsError('not-netns', '/tmp', 'not on nsfs'))).toEqual({
      cniVersion: '1.0.0', code: 4, msg: 'CNI_NETNS: "/tmp" is not a network namespace', details: 'not on nsfs',
    });
    expect(json(new NetnsError('unmounted', '/run/netns/p1', 'a regular file, not on nsfs'))).toEqual({
      cniVersion: '1.0.0', code: 4,
      msg: 'CNI_NETNS: "/run/netns/p1" is not a network namespace (a plain file: its namespace was unmounted)',
      details: 'a regular file, not on nsfs',
    });
  });

  it('no detail, no details field', () => {
    expect(json(new NetnsError('not-netns', 'x'))).toEqual({ cniVersion: '1.0.0', code: 4, msg: 'CNI_NETNS: "x" is not a network namespace' });
  });

  it('the error itself says what failed without CNI terms', () => {
    const e = new NetnsError('missing', '/run/netns/p1', 'ENOENT: no such file or directory', 'ENOENT');
    expect(e.message).toBe('netns "/run/netns/p1" does not exist: ENOENT: no such file or directory');
    expect(e).toMatchObject({ reason: 'missing', path: '/run/netns/p1', errno: 'ENOENT' });
  });
});
