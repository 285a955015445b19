// resolv.conf → the result's `dns`, read the way the reference host-local
// reads it: nameserver (one per line), domain (the last wins), search and
// options (appended); comments start with '#' or ';'; other keywords ignored.
import { readFileSync } from 'node:fs';
import { CniError, ErrorCode } from '../cni/errors';
import type { Dns } from '../cni/types';

export function parseResolvConf(text: string): Dns {
  const dns: Dns = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const [keyword, ...values] = line.split(/\s+/);
    if (values.length === 0) continue;
    switch (keyword) {
      case 'nameserver':
        (dns.nameservers ??= []).push(values[0]!);
        break;
      case 'domain':
        dns.domain = values[0]!;
        break;
      case 'search':
        (dns.search ??= []).push(...values);
        break;
      case 'options':
        (dns.options ??= []).push(...values);
        break;
    }
  }
  return dns;
}

/** Reads and parses `path`; `field` names the config key that pointed at it. */
export function readResolvConf(path: string, field: string): Dns {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new CniError(ErrorCode.IoFailure, `${field}: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  return parseResolvConf(text);
}
