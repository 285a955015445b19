// Links: create (veth, bridge, vxlan, macvlan, dummy, ipip), change, delete,
// look up. A link is named by its name or its ifindex (LinkRef).
import { AttrStream, formatLinkMessage, type DeviceFlags, type LinkAttrs, type LinkHeader, type LinkMessage } from './rt-package';
import { u32 } from './attr';
import type { RtnlChannel } from './channel';
import { AF_UNSPEC, NLM_F, RTM, type MacvlanMode } from './constants';
import { isNetlinkErrno, NetlinkError } from './errors';
import { toMacBytes } from '../ip/address';
import { decodeLink, type Link } from './link-decode';
import {
  encodeBridgeLinkInfo,
  encodeBridgePortHairpin,
  encodeDummyLinkInfo,
  encodeIpipLinkInfo,
  encodeMacvlanLinkInfo,
  encodeVethLinkInfo,
  encodeVxlanLinkInfo,
  type BridgeOptions,
  type IpipOptions,
  type VethPeer,
  type VxlanOptions,
} from './linkinfo';

export type LinkRef = string | number;

/** What every new link may be given. */
export interface NewLinkCommon {
  name: string;
  mtu?: number;
  mac?: string;
  /** create the link directly in the namespace behind this fd */
  netnsFd?: number;
}


const describe = (ref: LinkRef): string => (typeof ref === 'number' ? `ifindex ${ref}` : ref);

export class Links {
  constructor(private readonly ch: RtnlChannel) {}

  private async send(op: string, type: number, flags: number, data: LinkHeader, attrs: LinkAttrs): Promise<LinkMessage[]> {
    const out = new AttrStream();
    formatLinkMessage({ kind: 'link', data: { family: AF_UNSPEC, ...data }, attrs }, out);
    const answers = await this.ch.request(op, type, flags, out.bufs);
    return answers.filter((m): m is LinkMessage => m.kind === 'link');
  }

  /** Header + attributes that select an existing link by index or name. */
  private select(ref: LinkRef): { data: LinkHeader; attrs: LinkAttrs } {
    return typeof ref === 'number' ? { data: { index: ref }, attrs: {} } : { data: {}, attrs: { ifname: ref } };
  }

  async list(filter: { kind?: string } = {}): Promise<Link[]> {
    const links = (await this.send('list links', RTM.GETLINK, NLM_F.DUMP, {}, {})).map(decodeLink);
    return filter.kind === undefined ? links : links.filter((l) => l.kind === filter.kind);
  }

  /** The link, or null when there is none by that name/index. */
  async get(ref: LinkRef): Promise<Link | null> {
    const { data, attrs } = this.select(ref);
    try {
      const [m] = await this.send(`get link ${describe(ref)}`, RTM.GETLINK, 0, data, attrs);
      return m ? decodeLink(m) : null;
    } catch (e) {
      if (isNetlinkErrno(e, 'ENODEV')) return null;
      throw e;
    }
  }

  /** The link, or NetlinkError ENODEV. */
  async require(ref: LinkRef): Promise<Link> {
    const link = await this.get(ref);
    if (!link) throw new NetlinkError(`get link ${describe(ref)}`, 19 /* ENODEV */);
    return link;
  }

  async index(ref: LinkRef): Promise<number> {
    return typeof ref === 'number' ? ref : (await this.require(ref)).index;
  }

  private async create(what: string, c: NewLinkCommon, linkinfo: Buffer, extra: LinkAttrs = {}): Promise<void> {
    const attrs: LinkAttrs = { ...extra, ifname: c.name, linkinfo };
    if (c.mtu !== undefined) attrs.mtu = c.mtu;
    if (c.mac !== undefined) attrs.address = toMacBytes(c.mac);
    if (c.netnsFd !== undefined) attrs.netNsFd = c.netnsFd;
    await this.send(`create ${what}`, RTM.NEWLINK, NLM_F.CREATE | NLM_F.EXCL, {}, attrs);
  }

  /** A veth pair; `peer.netnsFd` places the other end in another namespace. */
  createVeth(o: NewLinkCommon & { peer: VethPeer }): Promise<void> {
    return this.create(`veth ${o.name} (peer ${o.peer.name})`, o, encodeVethLinkInfo(o.peer));
  }

  createBridge(o: NewLinkCommon & BridgeOptions): Promise<void> {
    return this.create(`bridge ${o.name}`, o, encodeBridgeLinkInfo(o));
  }

  createVxlan(o: NewLinkCommon & VxlanOptions): Promise<void> {
    return this.create(`vxlan ${o.name} (vni ${o.vni})`, o, encodeVxlanLinkInfo(o));
  }

  /** A macvlan on `parent` (IFLA_LINK is the parent's ifindex, in the socket's namespace). */
  async createMacvlan(o: NewLinkCommon & { parent: LinkRef; mode: MacvlanMode }): Promise<void> {
    const parent = await this.index(o.parent);
    return this.create(`macvlan ${o.name} (parent ${describe(o.parent)})`, o, encodeMacvlanLinkInfo(o.mode), { link: u32(parent) });
  }

  createDummy(o: NewLinkCommon): Promise<void> {
    return this.create(`dummy ${o.name}`, o, encodeDummyLinkInfo());
  }

  createIpip(o: NewLinkCommon & IpipOptions): Promise<void> {
    return this.create(`ipip ${o.name}`, o, encodeIpipLinkInfo(o));
  }

  private async change(op: string, ref: LinkRef, data: LinkHeader, attrs: LinkAttrs, type: number = RTM.SETLINK): Promise<void> {
    const sel = this.select(ref);
    await this.send(`${op} ${describe(ref)}`, type, 0, { ...sel.data, ...data }, { ...sel.attrs, ...attrs });
  }

  private setFlag(op: string, ref: LinkRef, flag: keyof DeviceFlags, on: boolean): Promise<void> {
    const flags: DeviceFlags = on ? { [flag]: true } : {};
    return this.change(op, ref, { flags, change: { [flag]: true } }, {});
  }

  setUp(ref: LinkRef): Promise<void> {
    return this.setFlag('set up', ref, 'up', true);
  }

  setDown(ref: LinkRef): Promise<void> {
    return this.setFlag('set down', ref, 'up', false);
  }

  setPromisc(ref: LinkRef, on: boolean): Promise<void> {
    return this.setFlag(`set promisc ${on ? 'on' : 'off'}`, ref, 'promisc', on);
  }

  /** Makes the link a port of `master` (a bridge); null detaches it. */
  async setMaster(ref: LinkRef, master: LinkRef | null): Promise<void> {
    const index = master === null ? 0 : await this.index(master);
    return this.change(master === null ? 'set nomaster' : `set master ${describe(master)} on`, ref, {}, { master: index });
  }

  setMtu(ref: LinkRef, mtu: number): Promise<void> {
    return this.change(`set mtu ${mtu} on`, ref, {}, { mtu });
  }

  /** The device's transmit queue length (`ip link set txqueuelen`), in packets. */
  setTxQueueLength(ref: LinkRef, packets: number): Promise<void> {
    return this.change(`set txqueuelen ${packets} on`, ref, {}, { txqlen: packets });
  }

  setMac(ref: LinkRef, mac: string): Promise<void> {
    return this.change(`set address ${mac} on`, ref, {}, { address: toMacBytes(mac) });
  }

  /** Renames a link (the kernel wants it down; IFLA_IFNAME is the new name, so select by index). */
  async rename(ref: LinkRef, newName: string): Promise<void> {
    const index = await this.index(ref);
    await this.send(`rename ${describe(ref)} to ${newName}`, RTM.SETLINK, 0, { index }, { ifname: newName });
  }

  /** Moves the link into the namespace behind `netnsFd`. */
  setNetns(ref: LinkRef, netnsFd: number): Promise<void> {
    return this.change('move to netns', ref, {}, { netNsFd: netnsFd });
  }

  /** Hairpin mode of a bridge port; goes through RTM_NEWLINK because SETLINK ignores IFLA_LINKINFO. */
  setHairpin(ref: LinkRef, on: boolean): Promise<void> {
    return this.change(`set hairpin ${on ? 'on' : 'off'} on`, ref, {}, { linkinfo: encodeBridgePortHairpin(on) }, RTM.NEWLINK);
  }

  /** Deletes a link (a veth takes its peer with it); missing is success with ignoreMissing. */
  async delete(ref: LinkRef, opts: { ignoreMissing?: boolean } = {}): Promise<void> {
    try {
      const { data, attrs } = this.select(ref);
      await this.send(`delete link ${describe(ref)}`, RTM.DELLINK, 0, data, attrs);
    } catch (e) {
      if (opts.ignoreMissing && isNetlinkErrno(e, 'ENODEV')) return;
      throw e;
    }
  }
}
