// Payloads of IFLA_LINKINFO (the netlink package passes it through as raw
// bytes): IFLA_INFO_KIND names the driver, IFLA_INFO_DATA carries the driver's
// own attributes. Each encoder returns the payload, not the IFLA_LINKINFO
// header, which the caller's message writer adds.
import {
  be16attr,
  bareStringAttr,
  nested,
  nlattr,
  stringAttr,
  u32attr,
  u8attr,
  parseAttrs,
  attrString,
  attrU8,
  attrU32,
  attrBe16,
} from './attr';
import {
  AF_INET,
  IFLA,
  IFLA_BR,
  IFLA_BRPORT,
  IFLA_INFO,
  IFLA_IPTUN,
  IFLA_MACVLAN,
  IFLA_VXLAN,
  MACVLAN_MODE,
  VETH_INFO_PEER,
  type MacvlanMode,
} from './constants';
import { ipBytesToString, toMacBytes } from '../ip/address';
import { toIpBytes } from './address-bytes';

function linkInfo(kind: string, data: readonly Buffer[]): Buffer {
  const kindAttr = bareStringAttr(IFLA_INFO.KIND, kind);
  return data.length ? Buffer.concat([kindAttr, nested(IFLA_INFO.DATA, data)]) : kindAttr;
}

/** struct ifinfomsg with every field zero: "no particular device". */
const EMPTY_IFINFOMSG = Buffer.alloc(16);

export interface VethPeer {
  name: string;
  /** fd of the namespace the peer is created in (IFLA_NET_NS_FD) */
  netnsFd?: number;
  mtu?: number;
  mac?: string;
}

export function encodeVethLinkInfo(peer: VethPeer): Buffer {
  // VETH_INFO_PEER is not a plain nest: it holds a whole ifinfomsg followed
  // by the peer's own IFLA_* attributes, so the peer is described exactly
  // like the device in an RTM_NEWLINK message (hence no NLA_F_NESTED).
  const attrs: Buffer[] = [EMPTY_IFINFOMSG];
  if (peer.mtu !== undefined) attrs.push(u32attr(IFLA.MTU, peer.mtu));
  if (peer.mac !== undefined) attrs.push(nlattr(IFLA.ADDRESS, toMacBytes(peer.mac)));
  attrs.push(stringAttr(IFLA.IFNAME, peer.name));
  if (peer.netnsFd !== undefined) attrs.push(u32attr(IFLA.NET_NS_FD, peer.netnsFd));
  return linkInfo('veth', [nlattr(VETH_INFO_PEER, Buffer.concat(attrs))]);
}

export interface BridgeOptions {
  /**
   * Sent only when set: kernels without CONFIG_BRIDGE_VLAN_FILTERING (this
   * one) reject the attribute with EOPNOTSUPP even when it asks for "off",
   * which is the kernel default anyway.
   */
  vlanFiltering?: boolean;
}

export function encodeBridgeLinkInfo(opts: BridgeOptions = {}): Buffer {
  const data: Buffer[] = [];
  if (opts.vlanFiltering !== undefined) data.push(u8attr(IFLA_BR.VLAN_FILTERING, opts.vlanFiltering ? 1 : 0));
  return linkInfo('bridge', data);
}

export interface VxlanOptions {
  vni: number;
  /** underlay source address (IPv4 or IPv6) */
  local?: string;
  /** UDP destination port; the kernel default is 8472, IANA's is 4789 */
  port?: number;
  /** ifindex of the underlay device */
  underlayIndex?: number;
  /** default false: peers are programmed with static FDB/neighbor entries */
  learning?: boolean;
  ttl?: number;
  gbp?: boolean;
}

export function encodeVxlanLinkInfo(o: VxlanOptions): Buffer {
  if (!Number.isInteger(o.vni) || o.vni < 0 || o.vni >= 1 << 24) throw new RangeError(`VNI ${o.vni} out of range 0..16777215`);
  const data: Buffer[] = [];
  if (o.underlayIndex !== undefined) data.push(u32attr(IFLA_VXLAN.LINK, o.underlayIndex));
  data.push(u32attr(IFLA_VXLAN.ID, o.vni));
  if (o.local !== undefined) {
    const ip = toIpBytes(o.local);
    data.push(nlattr(ip.family === AF_INET ? IFLA_VXLAN.LOCAL : IFLA_VXLAN.LOCAL6, ip.bytes));
  }
  if (o.ttl !== undefined) data.push(u8attr(IFLA_VXLAN.TTL, o.ttl));
  data.push(u8attr(IFLA_VXLAN.LEARNING, o.learning ? 1 : 0));
  if (o.port !== undefined) data.push(be16attr(IFLA_VXLAN.PORT, o.port));
  if (o.gbp) data.push(nlattr(IFLA_VXLAN.GBP, Buffer.alloc(0)));
  return linkInfo('vxlan', data);
}

export function encodeMacvlanLinkInfo(mode: MacvlanMode): Buffer {
  return linkInfo('macvlan', [u32attr(IFLA_MACVLAN.MODE, MACVLAN_MODE[mode])]);
}

export interface IpipOptions {
  local?: string;
  remote?: string;
  underlayIndex?: number;
  ttl?: number;
}

/** IPv4-in-IPv4 tunnel; encoded for kernels that have it (this one lacks it). */
export function encodeIpipLinkInfo(o: IpipOptions = {}): Buffer {
  const data: Buffer[] = [];
  if (o.underlayIndex !== undefined) data.push(u32attr(IFLA_IPTUN.LINK, o.underlayIndex));
  if (o.local !== undefined) data.push(nlattr(IFLA_IPTUN.LOCAL, toIpBytes(o.local).bytes));
  if (o.remote !== undefined) data.push(nlattr(IFLA_IPTUN.REMOTE, toIpBytes(o.remote).bytes));
  if (o.ttl !== undefined) data.push(u8attr(IFLA_IPTUN.TTL, o.ttl));
  // Path MTU discovery on, as iproute2 does unless "nopmtudisc".
  data.push(u8attr(IFLA_IPTUN.PMTUDISC, 1));
  return linkInfo('ipip', data);
}

export function encodeDummyLinkInfo(): Buffer {
  return linkInfo('dummy', []);
}

/** Bridge-port setting on an enslaved link, as `ip link set X type bridge_slave hairpin on`. */
export function encodeBridgePortHairpin(on: boolean): Buffer {
  return Buffer.concat([
    bareStringAttr(IFLA_INFO.SLAVE_KIND, 'bridge_slave'),
    nested(IFLA_INFO.SLAVE_DATA, [u8attr(IFLA_BRPORT.MODE, on ? 1 : 0)]),
  ]);
}

export interface VxlanInfo {
  vni?: number;
  local?: string;
  port?: number;
  underlayIndex?: number;
  learning?: boolean;
  ttl?: number;
}

export interface DecodedLinkInfo {
  kind?: string;
  /** kind of the master when the link is a port ("bridge" for bridge ports) */
  slaveKind?: string;
  vxlan?: VxlanInfo;
  macvlanMode?: MacvlanMode;
  bridgeVlanFiltering?: boolean;
  /** bridge port hairpin mode, present for bridge ports */
  hairpin?: boolean;
}

/** Reads what tscni needs back out of an IFLA_LINKINFO payload. */
export function decodeLinkInfo(payload: Buffer | undefined): DecodedLinkInfo {
  if (!payload) return {};
  const info = parseAttrs(payload);
  const out: DecodedLinkInfo = {};
  const kind = attrString(info.get(IFLA_INFO.KIND));
  if (kind) out.kind = kind;
  const data = parseAttrs(info.get(IFLA_INFO.DATA) ?? Buffer.alloc(0));
  if (kind === 'vxlan') {
    const local = data.get(IFLA_VXLAN.LOCAL) ?? data.get(IFLA_VXLAN.LOCAL6);
    out.vxlan = {
      vni: attrU32(data.get(IFLA_VXLAN.ID)),
      local: local ? ipBytesToString(local) : undefined,
      port: attrBe16(data.get(IFLA_VXLAN.PORT)),
      underlayIndex: attrU32(data.get(IFLA_VXLAN.LINK)),
      learning: attrU8(data.get(IFLA_VXLAN.LEARNING)) === 1,
      ttl: attrU8(data.get(IFLA_VXLAN.TTL)),
    };
  } else if (kind === 'macvlan') {
    const mode = attrU32(data.get(IFLA_MACVLAN.MODE));
    const name = (Object.keys(MACVLAN_MODE) as MacvlanMode[]).find((k) => MACVLAN_MODE[k] === mode);
    if (name) out.macvlanMode = name;
  } else if (kind === 'bridge') {
    const vf = attrU8(data.get(IFLA_BR.VLAN_FILTERING));
    if (vf !== undefined) out.bridgeVlanFiltering = vf === 1;
  }
  const slaveKind = attrString(info.get(IFLA_INFO.SLAVE_KIND));
  if (slaveKind) {
    out.slaveKind = slaveKind;
    const slave = parseAttrs(info.get(IFLA_INFO.SLAVE_DATA) ?? Buffer.alloc(0));
    if (slaveKind === 'bridge') out.hairpin = attrU8(slave.get(IFLA_BRPORT.MODE)) === 1;
  }
  return out;
}
