import { describe, expect, it } from 'vitest';
import { formatResult, parseResult, resultToVersion } from '../../lib/cni/convert';
import { CniError } from '../../lib/cni/errors';
import { SUPPORTED_VERSIONS, type SpecVersion } from '../../lib/cni/types';
import { compareVersions } from '../../lib/cni/version';
import { result10, result11, resultIn } from './cni-fixtures';

const convertResult = (raw: unknown, to: SpecVersion) => resultToVersion(parseResult(raw), to);

const is0x = (v: string) => compareVersions(v, '1.0.0') < 0;

describe('result conversion between every pair of versions', () => {
  for (const from of SUPPORTED_VERSIONS) {
    for (const to of SUPPORTED_VERSIONS) {
      it(`${from} -> ${to}`, () => {
        const out = convertResult(resultIn(from), to);
        // Down (or within 0.x) the target's own fixture comes out; up, the source's
        // content (nothing more: 1.1 fields cannot be invented) in the target's form.
        const down = compareVersions(to, from) <= 0 || (is0x(from) && is0x(to));
        expect(out).toEqual(down ? resultIn(to) : { ...result10, cniVersion: to });
        // and converting back to the older of the two gives exactly its fixture
        const older = (compareVersions(from, to) <= 0 ? from : to) as SpecVersion;
        expect(convertResult(out, older)).toEqual(resultIn(older));
      });
    }
  }
});

describe('what each direction does with version-specific fields', () => {
  it('up from 0.x drops ips[].version', () => {
    const r = parseResult(resultIn('0.3.1'));
    expect(r.cniVersion).toBe('1.1.0');
    for (const ip of r.ips!) expect(ip).not.toHaveProperty('version');
  });

  it('down to 0.x derives ips[].version from the address family', () => {
    const out = resultToVersion(result11, '0.4.0') as { ips: { version: string }[] };
    expect(out.ips.map((i) => i.version)).toEqual(['4', '6']);
  });

  it('down to 1.0.0 drops the 1.1 interface and route fields, keeps everything else', () => {
    expect(resultToVersion(result11, '1.0.0')).toEqual(result10);
  });

  it('1.1.0 -> 1.1.0 keeps every field', () => {
    expect(resultToVersion(parseResult(structuredClone(result11)), '1.1.0')).toEqual(result11);
  });

  it('an empty dns is left out rather than printed as {}', () => {
    const out = resultToVersion({ cniVersion: '1.1.0', ips: [{ address: '10.0.0.2/24' }], dns: {} }, '0.4.0');
    expect(out).toEqual({ cniVersion: '0.4.0', ips: [{ version: '4', address: '10.0.0.2/24' }] });
  });

  it('a result without cniVersion takes the fallback (the config version), as libcni does', () => {
    const { cniVersion: _, ...bare } = resultIn('0.4.0');
    expect(parseResult(bare, '0.4.0').ips).toEqual(result10.ips);
    expect(() => parseResult(bare)).toThrow(/unsupported CNI result version/);
  });

  it('refuses versions it does not support (0.2.0) with code 1', () => {
    try {
      parseResult({ cniVersion: '0.2.0', ip4: { ip: '10.0.0.2/24' } });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(CniError);
      expect((e as CniError).code).toBe(1);
    }
  });

  it('prints results as the reference does: 4-space indent, fields in spec order', () => {
    const text = formatResult(result11, '0.4.0');
    expect(text.startsWith('{\n    "cniVersion": "0.4.0",\n    "interfaces": [')).toBe(true);
    expect(text.endsWith('}')).toBe(true);
    expect(Object.keys(JSON.parse(text).ips[0])).toEqual(['version', 'interface', 'address', 'gateway']);
    expect(Object.keys(JSON.parse(formatResult(result11, '1.1.0')).interfaces[1])).toEqual(['name', 'mac', 'mtu', 'sandbox', 'socketPath', 'pciID']);
  });
});
