// Plugin logging: config validation, levels, the file it writes (0600, its
// directory created), and what a failed call logs through the skel.
import { existsSync, lstatSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CniError } from '../../lib/cni/errors';
import { Logger, parseLogOptions } from '../../lib/cni/log';
import { dispatch, type Plugin } from '../../lib/cni/skel';
import { ErrorCollector, withRollback } from '../../lib/cni/transaction';

const dir = mkdtempSync(join(tmpdir(), 'tscni-log-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ctx = { plugin: 'demo', command: 'ADD', containerId: 'c1', netns: '/run/netns/p 1', ifname: 'eth0' };

describe('parseLogOptions', () => {
  it('defaults to error level on stderr', () => {
    expect(parseLogOptions({})).toEqual({ level: 'error' });
  });

  it('accepts the four levels in any case and an absolute file', () => {
    expect(parseLogOptions({ logLevel: 'DEBUG', logFile: '/var/log/tscni.log' })).toEqual({ level: 'debug', file: '/var/log/tscni.log' });
  });

  it.each([
    [{ logLevel: 'trace' }, /^logLevel: must be one of error, warn, info, debug$/],
    [{ logLevel: 3 }, /^logLevel:/],
    [{ logFile: 'tscni.log' }, /^logFile: must be an absolute path$/],
    [{ logFile: '/tmp/a\0b' }, /^logFile: must not contain NUL$/],
    [{ logFile: '/tmp/' }, /^logFile: must name a file/],
    [{ logFile: 7 }, /^logFile: must be a string$/],
  ])('refuses %j with code 7 naming the field', (raw, msg) => {
    try {
      parseLogOptions(raw as Record<string, unknown>);
      expect.unreachable();
    } catch (e) {
      expect((e as CniError).code).toBe(7);
      expect((e as CniError).msg).toMatch(msg);
    }
  });
});

describe('Logger', () => {
  it('writes labelled lines at or above its level, creating the directory and a 0600 file', () => {
    const file = join(dir, 'sub/dir/plugin.log');
    const log = new Logger({ level: 'info', file }, ctx);
    log.debug('not shown');
    log.info('hello', { ips: ['10.244.1.2/24', 'fd00::2/64'], quoted: 'a b', none: undefined });
    log.error('bad');
    log.finish();
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(
      /^\d{4}-\d\d-\d\dT[\d:.]+Z \[INFO\]\[\d+\] demo ADD containerID=c1 netns="\/run\/netns\/p 1" ifname=eth0: hello ips="10\.244\.1\.2\/24, fd00::2\/64" quoted="a b"$/,
    );
    expect(lines[1]).toMatch(/\[ERROR\].*: bad$/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'sub/dir')).mode & 0o777).toBe(0o700);
  });

  it('appends, and times each named step at debug level', () => {
    const file = join(dir, 'steps.log');
    for (const level of ['debug', 'error'] as const) {
      const log = new Logger({ level, file }, ctx);
      log.step('bridge');
      log.step('veth');
      expect(log.currentStep).toBe('veth');
      log.endStep();
      log.finish();
    }
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/\[DEBUG\].*: step done step=bridge took=\d+\.\d+ms$/);
    expect(lines[1]).toMatch(/: step done step=veth took=/);
  });

  it('does not follow a symlink put where the log file should be', () => {
    const target = join(dir, 'not-a-log');
    writeFileSync(target, 'precious\n');
    const link = join(dir, 'linked.log');
    symlinkSync(target, link);
    const log = new Logger({ level: 'error', file: link }, ctx);
    log.error('must not land in the target');
    log.finish();
    expect(readFileSync(target, 'utf8')).toBe('precious\n');
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
  });
});

describe('through the skel', () => {
  type Conf = Record<string, unknown>;
  const failing: Plugin<Conf> = {
    name: 'failing',
    parseConfig: (raw) => raw,
    add: (a) =>
      withRollback(async (rb) => {
        a.log.step('first');
        rb.push('thing one', () => {});
        a.log.step('second');
        rb.push('thing two', () => {
          throw new Error('busy');
        });
        a.log.step('third');
        throw new CniError(7, 'third step broke');
      }, a.log),
    del: async (a) => {
      const errors = new ErrorCollector(a.log);
      await errors.attempt('remove a', () => {});
      await errors.attempt('remove b', () => {
        throw new Error('gone wrong');
      });
      errors.throwIfAny();
    },
    check: async () => {},
  };
  const env = { CNI_CONTAINERID: 'ctr-9', CNI_NETNS: '/run/netns/x', CNI_IFNAME: 'eth0', CNI_PATH: '/opt/cni/bin' };

  it('a failed ADD logs the failing step and what the rollback removed; stdout is only the error JSON', async () => {
    const file = join(dir, 'skel.log');
    const out = await dispatch(failing, { ...env, CNI_COMMAND: 'ADD' }, JSON.stringify({ cniVersion: '1.0.0', name: 'n', type: 'failing', logFile: file }));
    expect(out.exitCode).toBe(1);
    expect(JSON.parse(out.stdout)).toEqual({ cniVersion: '1.0.0', code: 7, msg: 'third step broke', details: 'rollback left behind: thing two: busy' });
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/\[ERROR\]\[\d+\] failing ADD containerID=ctr-9 netns=\/run\/netns\/x ifname=eth0: rolled back failedStep=third error="third step broke" undone="thing one" leftBehind="thing two: busy"$/);
    expect(lines[1]).toMatch(/: ADD failed step=third code=7 error="third step broke" details="rollback left behind: thing two: busy" took=[\d.]+ms$/);
  });

  it('DEL names each removal that failed, and its own failure carries no stale step', async () => {
    const file = join(dir, 'del.log');
    const out = await dispatch(failing, { ...env, CNI_COMMAND: 'DEL' }, JSON.stringify({ cniVersion: '1.0.0', name: 'n', type: 'failing', logFile: file, logLevel: 'warn' }));
    expect(out.exitCode).toBe(1);
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines[0]).toMatch(/\[WARN\].*: removal failed step="remove b" error="gone wrong"$/);
    expect(lines[1]).toMatch(/\[ERROR\].*: DEL failed code=999 error="remove b: gone wrong" took=/);
  });

  it('a log file it cannot open costs the command nothing', async () => {
    const file = join(dir, 'skel.log/not-a-dir/x.log');
    const out = await dispatch(failing, { ...env, CNI_COMMAND: 'CHECK' }, JSON.stringify({ cniVersion: '1.0.0', name: 'n', type: 'failing', logFile: file, logLevel: 'debug' }));
    expect(out).toEqual({ stdout: '', exitCode: 0 });
    expect(existsSync(file)).toBe(false);
  });

  it('a bad logLevel is refused like any other config field', async () => {
    const out = await dispatch(failing, { ...env, CNI_COMMAND: 'ADD' }, JSON.stringify({ cniVersion: '1.0.0', name: 'n', type: 'failing', logLevel: 'loud' }));
    expect(JSON.parse(out.stdout)).toMatchObject({ code: 7, msg: 'logLevel: must be one of error, warn, info, debug' });
  });

  it('at info level a successful call logs one line with its duration', async () => {
    const file = join(dir, 'ok.log');
    const out = await dispatch(failing, { ...env, CNI_COMMAND: 'CHECK' }, JSON.stringify({ cniVersion: '1.0.0', name: 'n', type: 'failing', logFile: file, logLevel: 'info' }));
    expect(out).toEqual({ stdout: '', exitCode: 0 });
    expect(readFileSync(file, 'utf8')).toMatch(/^\S+ \[INFO\]\[\d+\] failing CHECK containerID=ctr-9 netns=\/run\/netns\/x ifname=eth0: CHECK ok took=[\d.]+ms\n$/);
  });
});
