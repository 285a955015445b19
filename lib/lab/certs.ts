// Certificates for etcd over TLS in the lab (tests, demo), made with openssl
// as an operator makes them: a CA, a server certificate for the members'
// addresses, and a client certificate. P-256 keys, valid for a day: quick.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from './exec';

export interface LabCertificates {
  caFile: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

const KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

async function issue(dir: string, name: string, cn: string, extensions: string): Promise<void> {
  const ext = join(dir, `${name}.ext`);
  await writeFile(ext, extensions);
  await run('openssl', ['req', ...KEY, '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.csr`), '-subj', `/CN=${cn}`]);
  await run('openssl', [
    'x509', '-req', '-in', join(dir, `${name}.csr`), '-CA', join(dir, 'ca.pem'), '-CAkey', join(dir, 'ca.key'),
    '-CAcreateserial', '-days', '1', '-out', join(dir, `${name}.pem`), '-extfile', ext,
  ]);
}

/** A CA, a server certificate for `serverIps`, and a client certificate, in `dir`. */
export async function makeCertificates(dir: string, serverIps: string[]): Promise<LabCertificates> {
  await run('openssl', ['req', '-x509', ...KEY, '-keyout', join(dir, 'ca.key'), '-out', join(dir, 'ca.pem'),
    '-subj', '/CN=tscni test CA', '-days', '1']);
  const san = ['IP:127.0.0.1', ...serverIps.map((ip) => `IP:${ip}`)].join(',');
  // clientAuth too: etcd's JSON gateway reaches its own gRPC server as a
  // client with the server certificate, which --client-cert-auth checks.
  await issue(dir, 'server', 'etcd', `subjectAltName=${san}\nextendedKeyUsage=serverAuth,clientAuth\n`);
  await issue(dir, 'client', 'tscni', 'extendedKeyUsage=clientAuth\n');
  return {
    caFile: join(dir, 'ca.pem'),
    serverCert: join(dir, 'server.pem'),
    serverKey: join(dir, 'server.key'),
    clientCert: join(dir, 'client.pem'),
    clientKey: join(dir, 'client.key'),
  };
}
