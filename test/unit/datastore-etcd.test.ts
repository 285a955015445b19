// What of etcd access needs no etcd: prefix ranges, endpoint and TLS settings
// from flags and environment. The calls themselves are tested against a real
// etcd in test/integration/datastore.test.ts.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { prefixRangeEnd } from '../../lib/datastore/etcd';
import { etcdSettings } from '../../lib/datastore/etcd-options';

const unb64 = (s: string) => Buffer.from(s, 'base64');

describe('prefixRangeEnd', () => {
  it('is the prefix with its last byte incremented', () => {
    expect(unb64(prefixRangeEnd('/coreos.com/network/subnets/')).toString()).toBe('/coreos.com/network/subnets0');
    expect(unb64(prefixRangeEnd('a\xff'))).toEqual(Buffer.from([0x61, 0xc3, 0xc0]));
  });

  it('drops trailing 0xff bytes, and all-0xff means the end of the key space', () => {
    expect(unb64(prefixRangeEnd(Buffer.from([0x61, 0xff]).toString('latin1')))).toEqual(Buffer.from([0x61, 0xc3, 0xc0]));
    expect(unb64(prefixRangeEnd(''))).toEqual(Buffer.from([0]));
  });
});

describe('etcd settings', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tscni-unit-etcd-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const pem = join(dir, 'ca.pem');
  writeFileSync(pem, '-----BEGIN CERTIFICATE-----\n');

  it('defaults to the local member and flannel prefix', () => {
    expect(etcdSettings({}, {})).toEqual({ connection: { endpoints: ['http://127.0.0.1:2379'] }, prefix: '/coreos.com/network' });
  });

  it('takes calicoctl environment variables, and a flag wins over them', () => {
    const env = { ETCD_ENDPOINTS: 'https://10.250.0.2:2379, https://10.250.0.3:2379', ETCD_CA_CERT_FILE: pem };
    const s = etcdSettings({ 'etcd-prefix': '/my/net/' }, env);
    expect(s.connection.endpoints).toEqual(['https://10.250.0.2:2379', 'https://10.250.0.3:2379']);
    expect(s.connection.tls?.ca?.toString()).toContain('BEGIN CERTIFICATE');
    expect(s.prefix).toBe('/my/net');
    expect(etcdSettings({ 'etcd-endpoints': 'https://10.250.0.9:2379' }, env).connection.endpoints).toEqual(['https://10.250.0.9:2379']);
  });

  it.each([
    [{ 'etcd-endpoints': '10.250.0.2:2379' }, {}, /^--etcd-endpoints: "10\.250\.0\.2:2379" (is not a URL|must start with http)/],
    [{ 'etcd-endpoints': 'http://10.250.0.2:2379/v3' }, {}, /^--etcd-endpoints: .*scheme:\/\/host:port only/],
    [{}, { ETCD_ENDPOINTS: 'not a url' }, /^ETCD_ENDPOINTS: .*not a URL/],
    [{ 'etcd-endpoints': ',' }, {}, /^--etcd-endpoints: must name at least one endpoint/],
    [{ 'etcd-prefix': 'coreos.com' }, {}, /^--etcd-prefix: must be a key path/],
    [{ 'etcd-endpoints': 'https://10.250.0.2:2379', 'etcd-certfile': pem }, {}, /^--etcd-keyfile: a client certificate needs its key/],
    [{ 'etcd-cafile': pem }, {}, /^--etcd-endpoints: TLS files are given, but http:\/\/127\.0\.0\.1:2379 is not https/],
    [{ 'etcd-endpoints': 'https://10.250.0.2:2379' }, { ETCD_CA_CERT_FILE: '/nonexistent/ca.pem' }, /^ETCD_CA_CERT_FILE: cannot read \/nonexistent\/ca\.pem: ENOENT/],
  ])('rejects %j %j naming the flag or variable', (flags, env, message) => {
    expect(() => etcdSettings(flags, env)).toThrow(message);
  });
});
