import { describe, expect, it } from 'vitest';
import { formatCniArgs, parseCniArgs, parseCniArgsLoose } from '../../lib/cni/args';
import { CniError } from '../../lib/cni/errors';

const known = ['IP', 'K8S_POD_NAME', 'K8S_POD_NAMESPACE'];

function msgOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(CniError);
    expect((e as CniError).code).toBe(4);
    return (e as CniError).msg;
  }
  throw new Error('expected an error');
}

describe('parseCniArgs (the reference LoadArgs semantics)', () => {
  it('empty or unset is no args', () => {
    expect(parseCniArgs('', known)).toEqual({});
    expect(parseCniArgs(undefined, known)).toEqual({});
  });
  it('returns the known keys', () => {
    expect(parseCniArgs('IP=10.244.0.9;K8S_POD_NAME=web-0', known)).toEqual({ IP: '10.244.0.9', K8S_POD_NAME: 'web-0' });
  });
  it('allows an empty value', () => {
    expect(parseCniArgs('K8S_POD_NAMESPACE=', known)).toEqual({ K8S_POD_NAMESPACE: '' });
  });
  it('refuses unknown keys, listing them', () => {
    expect(msgOf(() => parseCniArgs('IP=10.244.0.9;FOO=1;BAR=2', known))).toMatch(/^CNI_ARGS: unknown args "FOO=1", "BAR=2"/);
  });
  it('keys are case-sensitive', () => {
    expect(msgOf(() => parseCniArgs('ip=10.244.0.9', known))).toMatch(/unknown args "ip=10.244.0.9"/);
  });
  for (const v of ['1', 'true', 'True', 'TRUE']) {
    it(`IgnoreUnknown=${v} skips unknown keys, wherever it appears`, () => {
      expect(parseCniArgs(`FOO=1;IP=10.244.0.9;IgnoreUnknown=${v}`, known)).toEqual({ IP: '10.244.0.9', IgnoreUnknown: v });
    });
  }
  for (const v of ['0', 'false']) {
    it(`IgnoreUnknown=${v} still refuses them`, () => {
      expect(msgOf(() => parseCniArgs(`IgnoreUnknown=${v};FOO=1`, known))).toMatch(/unknown args "FOO=1"/);
    });
  }
  it('IgnoreUnknown with a value that is not a boolean is an error', () => {
    expect(msgOf(() => parseCniArgs('IgnoreUnknown=yes', known))).toMatch(/IgnoreUnknown must be 1, 0, true or false/);
  });
  for (const bad of ['IP', 'IP=1=2', 'IP=10.244.0.9;', ';IP=10.244.0.9']) {
    it(`malformed pair in ${JSON.stringify(bad)}`, () => {
      expect(msgOf(() => parseCniArgs(bad, known))).toMatch(/^CNI_ARGS: invalid pair/);
    });
  }
});

describe('loose parsing for plugins that declare no keys', () => {
  it('keeps well-formed pairs and skips the rest', () => {
    expect(parseCniArgsLoose('A=1;broken;B=x=y;C=')).toEqual({ A: '1', C: '' });
  });
});

describe('formatCniArgs', () => {
  it('is the inverse of parsing', () => {
    const s = formatCniArgs([['K8S_POD_NAME', 'web-0'], ['IP', '10.244.0.9']]);
    expect(s).toBe('K8S_POD_NAME=web-0;IP=10.244.0.9');
    expect(parseCniArgs(s, known)).toEqual({ K8S_POD_NAME: 'web-0', IP: '10.244.0.9' });
  });
});
