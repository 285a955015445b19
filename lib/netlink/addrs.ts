// Interface addresses (IPv4 and IPv6), written as CIDR strings.
import { AttrStream, formatAddressMessage, type AddressMessage, type AddressFlags } from './rt-package';
import type { RtnlChannel } from './channel';
import { AF_INET, AF_INET6, NLM_F, ROUTE_SCOPE, RTM, type RouteScopeName } from './constants';
import { isNetlinkErrno } from './errors';
import { ipBytesToString } from '../ip/address';
import { toCidrBytes } from './address-bytes';
import type { LinkRef, Links } from './links';

export interface Address {
  /** ifindex of the link */
  index: number;
  /** "10.1.2.3/24", "fd00::1/64" */
  cidr: string;
  ip: string;
  prefixLen: number;
  family: 4 | 6;
  scope: number;
  nodad: boolean;
  permanent: boolean;
  /** IPv6 duplicate address detection still running */
  tentative: boolean;
  label?: string;
}

export interface AddAddressOptions {
  /** skip IPv6 duplicate address detection (IFA_F_NODAD), so the address is usable at once */
  nodad?: boolean;
  /** do not install the prefix route the kernel adds for the subnet */
  noPrefixRoute?: boolean;
  scope?: RouteScopeName;
  /** EEXIST (the same address already on this link) counts as success */
  ignoreExisting?: boolean;
}

function ipv4Broadcast(bytes: Buffer, prefixLen: number): Buffer {
  const n = bytes.readUInt32BE(0) | (prefixLen === 0 ? 0xffffffff : (1 << (32 - prefixLen)) - 1);
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

export class Addresses {
  constructor(
    private readonly ch: RtnlChannel,
    private readonly links: Links,
  ) {}

  private async send(op: string, type: number, flags: number, m: Omit<AddressMessage, 'kind'>): Promise<AddressMessage[]> {
    const out = new AttrStream();
    formatAddressMessage({ kind: 'address', ...m }, out);
    const answers = await this.ch.request(op, type, flags, out.bufs);
    return answers.filter((x): x is AddressMessage => x.kind === 'address');
  }

  private async message(link: LinkRef, cidr: string, o: AddAddressOptions = {}): Promise<Omit<AddressMessage, 'kind'>> {
    const c = toCidrBytes(cidr);
    const index = await this.links.index(link);
    const flags: AddressFlags = {};
    if (o.nodad) flags.nodad = true;
    if (o.noPrefixRoute) flags.noprefixroute = true;
    const attrs: AddressMessage['attrs'] = { local: c.bytes, address: c.bytes, flags };
    // Like iproute2's "brd +" and the Go netlink library: an IPv4 subnet gets
    // its broadcast address (not for /31 and /32, which have none).
    if (c.family === AF_INET && c.prefixLen < 31) attrs.broadcast = ipv4Broadcast(c.bytes, c.prefixLen);
    return {
      data: { family: c.family, prefixlen: c.prefixLen, index, scope: ROUTE_SCOPE[o.scope ?? 'universe'], flags },
      attrs,
    };
  }

  async add(link: LinkRef, cidr: string, o: AddAddressOptions = {}): Promise<void> {
    const m = await this.message(link, cidr, o);
    try {
      await this.send(`add address ${cidr} to ${link}`, RTM.NEWADDR, NLM_F.CREATE | NLM_F.EXCL, m);
    } catch (e) {
      if (o.ignoreExisting && isNetlinkErrno(e, 'EEXIST')) return;
      throw e;
    }
  }

  async del(link: LinkRef, cidr: string, o: { ignoreMissing?: boolean } = {}): Promise<void> {
    try {
      const m = await this.message(link, cidr);
      await this.send(`delete address ${cidr} from ${link}`, RTM.DELADDR, 0, m);
    } catch (e) {
      if (o.ignoreMissing && isNetlinkErrno(e, 'EADDRNOTAVAIL', 'ENODEV')) return;
      throw e;
    }
  }

  async list(filter: { link?: LinkRef; family?: 4 | 6 } = {}): Promise<Address[]> {
    const index = filter.link === undefined ? undefined : await this.links.index(filter.link);
    const family = filter.family === 4 ? AF_INET : filter.family === 6 ? AF_INET6 : 0;
    const answers = await this.send('list addresses', RTM.GETADDR, NLM_F.DUMP, { data: { family }, attrs: {} });
    const out: Address[] = [];
    for (const m of answers) {
      if (index !== undefined && m.data.index !== index) continue;
      const raw = m.attrs.local ?? m.attrs.address;
      if (!raw) continue;
      const ip = ipBytesToString(raw);
      const prefixLen = m.data.prefixlen ?? 0;
      // IFA_FLAGS (32 bits) supersedes the 8-bit ifa_flags when present.
      const f = m.attrs.flags ?? m.data.flags ?? {};
      const a: Address = {
        index: m.data.index ?? 0,
        cidr: `${ip}/${prefixLen}`,
        ip,
        prefixLen,
        family: m.data.family === AF_INET6 ? 6 : 4,
        scope: m.data.scope ?? 0,
        nodad: !!f.nodad,
        permanent: !!f.permanent,
        tentative: !!f.tentative,
      };
      if (m.attrs.label) a.label = m.attrs.label;
      out.push(a);
    }
    return out;
  }
}
