import { describe, expect, it } from 'vitest';
import { parseResult, resultToVersion } from '../../lib/cni/convert';
import { CniError } from '../../lib/cni/errors';
import { confListSchema, netConfBaseSchema, parseOrThrow, resultSchemaFor } from '../../lib/cni/schemas';
import { SUPPORTED_VERSIONS } from '../../lib/cni/types';
import { errorOf, resultIn } from './cni-fixtures';


describe('result schemas accept each version as its plugins print it', () => {
  for (const v of SUPPORTED_VERSIONS) {
    it(v, () => {
      expect(resultSchemaFor(v).safeParse(resultIn(v)).success).toBe(true);
      // parsed into the internal form and printed in its own version again, nothing is lost or added
      expect(resultToVersion(parseResult(resultIn(v)), v)).toEqual(resultIn(v));
    });
  }
  it('an IPAM-style result with ips only (no interfaces, no interface index)', () => {
    expect(parseResult({ cniVersion: '1.0.0', ips: [{ address: '10.1.0.2/16', gateway: '10.1.0.1' }] }).ips).toHaveLength(1);
  });
});

describe('result schemas reject what the version forbids, naming the field', () => {
  const cases: [string, string, (r: any) => void, RegExp][] = [
    ['0.4.0', 'ips[].version missing', (r) => delete r.ips[0].version, /^result\.ips\[0\]\.version: is required/],
    ['0.3.1', 'ips[].version not 4/6', (r) => (r.ips[0].version = '5'), /^result\.ips\[0\]\.version: must be one of "4", "6"/],
    ['0.3.0', 'ips[].version disagrees with the address', (r) => (r.ips[1].version = '4'), /^result\.ips\[1\]\.version: version does not match/],
    ['1.0.0', 'address without prefix', (r) => (r.ips[0].address = '10.244.0.5'), /^result\.ips\[0\]\.address: must be a CIDR/],
    ['1.1.0', 'gateway not an IP', (r) => (r.ips[1].gateway = 'fd00::zz'), /^result\.ips\[1\]\.gateway: must be an IP address/],
    ['1.1.0', 'route dst prefix too long', (r) => (r.routes[0].dst = '0.0.0.0/33'), /^result\.routes\[0\]\.dst: must be a CIDR/],
    ['1.1.0', 'negative mtu', (r) => (r.interfaces[0].mtu = -1), /^result\.interfaces\[0\]\.mtu: must be >= 0/],
    ['1.1.0', 'fractional route table', (r) => (r.routes[0].table = 1.5), /^result\.routes\[0\]\.table: must be an integer/],
    ['1.0.0', 'interface without name', (r) => delete r.interfaces[0].name, /^result\.interfaces\[0\]\.name: is required/],
    ['1.0.0', 'negative interface index', (r) => (r.ips[0].interface = -1), /^result\.ips\[0\]\.interface: must be >= 0/],
    ['0.4.0', 'dns.nameservers not a list', (r) => (r.dns.nameservers = '10.96.0.10'), /^result\.dns\.nameservers: must be an array/],
  ];
  for (const [v, what, mutate, msg] of cases) {
    it(`${v}: ${what}`, () => {
      const r = resultIn(v);
      mutate(r);
      const e = errorOf(() => parseResult(r));
      expect(e.code).toBe(7);
      expect(e.msg).toMatch(msg);
    });
  }

  it('fields newer than the declared version are not carried over', () => {
    const r = resultIn('1.1.0');
    r.cniVersion = '1.0.0';
    const parsed = parseResult(r);
    expect(parsed.interfaces![1]).not.toHaveProperty('mtu');
    expect(parsed.routes![0]).not.toHaveProperty('table');
  });

  it('a result that is not an object', () => {
    expect(errorOf(() => parseResult('ok', '1.0.0')).msg).toBe('result: must be a JSON object');
  });
});

describe('network config base schema', () => {
  const base = { cniVersion: '1.1.0', name: 'pods', type: 'bridge', bridge: 'cni0' };
  it('keeps plugin-specific keys', () => {
    expect(parseOrThrow(netConfBaseSchema(), base)).toEqual(base);
  });
  it('rejects wrongly typed shared keys naming them', () => {
    expect(errorOf(() => parseOrThrow(netConfBaseSchema(), { ...base, capabilities: { portMappings: 'yes' } })).msg).toBe(
      'capabilities.portMappings: must be a boolean',
    );
    expect(errorOf(() => parseOrThrow(netConfBaseSchema(), { ...base, 'cni.dev/valid-attachments': [{ containerID: 'a' }] })).msg).toBe(
      'cni.dev/valid-attachments[0].ifname: is required',
    );
  });
});

describe('conflist schema', () => {
  const list = {
    cniVersion: '1.0.0',
    cniVersions: ['0.4.0', '1.0.0', '1.1.0'],
    name: 'pods',
    plugins: [{ type: 'bridge' }, { type: 'portmap', capabilities: { portMappings: true } }],
  };
  it('accepts a 1.1 conflist with cniVersions', () => {
    expect(confListSchema().safeParse(list).success).toBe(true);
  });
  it('rejects an empty plugin list and a plugin without type', () => {
    expect(errorOf(() => parseOrThrow(confListSchema(), { ...list, plugins: [] })).msg).toBe('plugins: must not be empty');
    expect(errorOf(() => parseOrThrow(confListSchema(), { ...list, plugins: [{ type: 'bridge' }, {}] })).msg).toBe('plugins[1].type: is required');
  });
  it('accepts disableCheck as a boolean or "true"/"false", nothing else', () => {
    expect(confListSchema().safeParse({ ...list, disableCheck: 'true' }).success).toBe(true);
    expect(confListSchema().safeParse({ ...list, disableCheck: 'yes' }).success).toBe(false);
  });
});
