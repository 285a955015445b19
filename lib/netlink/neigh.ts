// Neighbor entries (ARP / NDP) and bridge forwarding database entries. Both
// are RTM_*NEIGH messages: FDB entries use family AF_BRIDGE and name a MAC
// (plus, on a VXLAN device, the remote VTEP's underlay IP in NDA_DST).
import { AttrStream, formatLinkMessage, formatNeighborMessage, type NeighborMessage, type NeighborAttrs } from './rt-package';
import { u32 } from './attr';
import type { RtnlChannel } from './channel';
import { AF_BRIDGE, AF_INET, AF_INET6, NLM_F, NUD, RTM } from './constants';
import { isNetlinkErrno } from './errors';
import { ipBytesToString, macBytesToString, toMacBytes } from '../ip/address';
import { toIpBytes } from './address-bytes';
import type { LinkRef, Links } from './links';

type Msg = Omit<NeighborMessage, 'kind'>;

async function send(ch: RtnlChannel, op: string, type: number, flags: number, m: Msg): Promise<NeighborMessage[]> {
  const out = new AttrStream();
  formatNeighborMessage({ kind: 'neighbor', ...m }, out);
  const answers = await ch.request(op, type, flags, out.bufs);
  return answers.filter((x): x is NeighborMessage => x.kind === 'neighbor');
}

const stateNumber = (m: NeighborMessage): number => {
  const s = m.data.state ?? {};
  return (s.permanent ? NUD.PERMANENT : 0) | (s.noarp ? NUD.NOARP : 0) | (s.reachable ? NUD.REACHABLE : 0) | (s.stale ? NUD.STALE : 0) | (s.__unknown ?? 0);
};

export interface NeighborSpec {
  dev: LinkRef;
  ip: string;
  mac: string;
}

export interface Neighbor {
  /** ifindex */
  dev: number;
  ip: string;
  mac?: string;
  permanent: boolean;
  /** NUD_* bits */
  state: number;
}

/** Static ARP (IPv4) and NDP (IPv6) entries. */
export class Neighbors {
  constructor(
    private readonly ch: RtnlChannel,
    private readonly links: Links,
  ) {}

  private async message(n: { dev: LinkRef; ip: string; mac?: string }): Promise<Msg> {
    const ip = toIpBytes(n.ip);
    const attrs: NeighborAttrs = { dst: ip.bytes };
    if (n.mac !== undefined) attrs.lladdr = toMacBytes(n.mac);
    return { data: { family: ip.family, ifindex: await this.links.index(n.dev), state: { permanent: true } }, attrs };
  }

  /** A permanent entry; EEXIST if one for this IP is there (use replace to overwrite). */
  async add(n: NeighborSpec): Promise<void> {
    await send(this.ch, `add neighbor ${n.ip} lladdr ${n.mac} dev ${n.dev}`, RTM.NEWNEIGH, NLM_F.CREATE | NLM_F.EXCL, await this.message(n));
  }

  async replace(n: NeighborSpec): Promise<void> {
    await send(this.ch, `replace neighbor ${n.ip} lladdr ${n.mac} dev ${n.dev}`, RTM.NEWNEIGH, NLM_F.CREATE | NLM_F.REPLACE, await this.message(n));
  }

  async del(n: { dev: LinkRef; ip: string }, o: { ignoreMissing?: boolean } = {}): Promise<void> {
    try {
      await send(this.ch, `delete neighbor ${n.ip} dev ${n.dev}`, RTM.DELNEIGH, 0, await this.message(n));
    } catch (e) {
      if (o.ignoreMissing && isNetlinkErrno(e, 'ENOENT', 'ENODEV')) return;
      throw e;
    }
  }

  async list(filter: { dev?: LinkRef; family?: 4 | 6 } = {}): Promise<Neighbor[]> {
    const dev = filter.dev === undefined ? undefined : await this.links.index(filter.dev);
    const family = filter.family === 4 ? AF_INET : filter.family === 6 ? AF_INET6 : 0;
    // NDA_IFINDEX makes the kernel dump one device's entries only (Linux 4.20+); the check below covers older kernels.
    const attrs: NeighborAttrs = dev === undefined ? {} : { ifindex: u32(dev) };
    const answers = await send(this.ch, 'list neighbors', RTM.GETNEIGH, NLM_F.DUMP, { data: { family }, attrs });
    const out: Neighbor[] = [];
    for (const m of answers) {
      if (m.data.family !== AF_INET && m.data.family !== AF_INET6) continue;
      if (!m.attrs.dst || (dev !== undefined && m.data.ifindex !== dev)) continue;
      const n: Neighbor = { dev: m.data.ifindex ?? 0, ip: ipBytesToString(m.attrs.dst), permanent: !!m.data.state?.permanent, state: stateNumber(m) };
      if (m.attrs.lladdr?.length === 6) n.mac = macBytesToString(m.attrs.lladdr);
      out.push(n);
    }
    return out;
  }
}

export interface FdbSpec {
  /** the VXLAN device (or a bridge port) */
  dev: LinkRef;
  mac: string;
  /** remote VTEP underlay IP (VXLAN) */
  dst?: string;
  /**
   * Add one more destination for the same MAC (NLM_F_APPEND) instead of
   * failing with EEXIST; used for 00:00:00:00:00:00 flood entries.
   */
  append?: boolean;
}

export interface FdbEntry {
  dev: number;
  mac: string;
  dst?: string;
  permanent: boolean;
  /** NTF_SELF: entry of the device itself (VXLAN), not of its master bridge */
  self: boolean;
  master?: number;
}

/** Bridge forwarding database entries (`bridge fdb`), as programmed on VXLAN devices. */
export class Fdb {
  constructor(
    private readonly ch: RtnlChannel,
    private readonly links: Links,
  ) {}

  private async message(f: { dev: LinkRef; mac: string; dst?: string }): Promise<Msg> {
    const attrs: NeighborAttrs = { lladdr: toMacBytes(f.mac) };
    if (f.dst !== undefined) attrs.dst = toIpBytes(f.dst).bytes;
    const ifindex = await this.links.index(f.dev);
    return { data: { family: AF_BRIDGE, ifindex, state: { permanent: true }, flags: { self: true } }, attrs };
  }

  private describe(f: { dev: LinkRef; mac: string; dst?: string }): string {
    return `fdb entry ${f.mac}${f.dst ? ` dst ${f.dst}` : ''} dev ${f.dev}`;
  }

  async add(f: FdbSpec): Promise<void> {
    const flags = NLM_F.CREATE | (f.append ? NLM_F.APPEND : NLM_F.EXCL);
    await send(this.ch, `add ${this.describe(f)}`, RTM.NEWNEIGH, flags, await this.message(f));
  }

  /** Adds or overwrites the entry for this MAC. */
  async replace(f: Omit<FdbSpec, 'append'>): Promise<void> {
    await send(this.ch, `replace ${this.describe(f)}`, RTM.NEWNEIGH, NLM_F.CREATE | NLM_F.REPLACE, await this.message(f));
  }

  async del(f: { dev: LinkRef; mac: string; dst?: string }, o: { ignoreMissing?: boolean } = {}): Promise<void> {
    try {
      await send(this.ch, `delete ${this.describe(f)}`, RTM.DELNEIGH, 0, await this.message(f));
    } catch (e) {
      if (o.ignoreMissing && isNetlinkErrno(e, 'ENOENT', 'ENODEV')) return;
      throw e;
    }
  }

  /**
   * One device's FDB: the kernel's FDB dump filters by port only when the
   * request is an ifinfomsg (ifi_index = the port) with an IFLA_MASTER
   * attribute (0: any bridge, or none, as for a VXLAN device), the layout
   * `bridge fdb show dev` relied on before strict checking.
   */
  private async dumpPort(dev: number): Promise<NeighborMessage[]> {
    const out = new AttrStream();
    formatLinkMessage({ kind: 'link', data: { family: AF_BRIDGE, index: dev }, attrs: { master: 0 } }, out);
    const answers = await this.ch.request(`list fdb of ifindex ${dev}`, RTM.GETNEIGH, NLM_F.DUMP, out.bufs);
    return answers.filter((x): x is NeighborMessage => x.kind === 'neighbor');
  }

  async list(filter: { dev?: LinkRef } = {}): Promise<FdbEntry[]> {
    const dev = filter.dev === undefined ? undefined : await this.links.index(filter.dev);
    const answers = dev === undefined
      ? await send(this.ch, 'list fdb', RTM.GETNEIGH, NLM_F.DUMP, { data: { family: AF_BRIDGE }, attrs: {} })
      : await this.dumpPort(dev);
    const out: FdbEntry[] = [];
    for (const m of answers) {
      if (m.data.family !== AF_BRIDGE || !m.attrs.lladdr) continue;
      if (dev !== undefined && m.data.ifindex !== dev) continue;
      const e: FdbEntry = {
        dev: m.data.ifindex ?? 0,
        mac: macBytesToString(m.attrs.lladdr),
        permanent: !!m.data.state?.permanent,
        self: !!m.data.flags?.self,
      };
      if (m.attrs.dst) e.dst = ipBytesToString(m.attrs.dst);
      if (m.attrs.master) e.master = m.attrs.master;
      out.push(e);
    }
    return out;
  }
}
