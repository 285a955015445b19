// RTM_NEWLINK answers turned into the Link objects tscni works with.
import type { LinkMessage } from './rt-package';
import { decodeLinkInfo, type VxlanInfo } from './linkinfo';
import { macBytesToString } from '../ip/address';
import type { MacvlanMode } from './constants';

const OPER_STATES = ['unknown', 'notpresent', 'down', 'lowerlayerdown', 'testing', 'dormant', 'up'] as const;

export interface Link {
  index: number;
  name: string;
  /** IFLA_INFO_KIND: "veth", "bridge", "vxlan", ...; undefined for lo and physical devices */
  kind?: string;
  mtu?: number;
  /** IFLA_TXQLEN, in packets */
  txQueueLength?: number;
  mac?: string;
  /** administratively up (IFF_UP) */
  up: boolean;
  /** carrier (IFF_LOWER_UP) */
  lowerUp: boolean;
  promisc: boolean;
  operState: string;
  /** ifindex of the master (bridge) this link is a port of */
  master?: number;
  /** IFLA_LINK: for veth the peer's ifindex, for macvlan the parent's */
  linkIndex?: number;
  /** veth only: the peer's ifindex, in the namespace linkNetnsId points to when set */
  peerIndex?: number;
  /** set when linkIndex refers to another namespace (a netnsid, not a path) */
  linkNetnsId?: number;
  /** kind of the master for ports ("bridge") */
  slaveKind?: string;
  /** bridge ports only: hairpin mode */
  hairpin?: boolean;
  vxlan?: VxlanInfo;
  macvlanMode?: MacvlanMode;
  bridgeVlanFiltering?: boolean;
}

export function decodeLink(m: LinkMessage): Link {
  const a = m.attrs;
  const flags = m.data.flags ?? {};
  const info = decodeLinkInfo(a.linkinfo);
  const link: Link = {
    index: m.data.index ?? 0,
    name: a.ifname ?? '',
    up: !!flags.up,
    lowerUp: !!flags.lowerUp,
    promisc: !!flags.promisc,
    operState: OPER_STATES[a.operstate ?? 0] ?? String(a.operstate),
  };
  if (info.kind) link.kind = info.kind;
  if (a.mtu !== undefined) link.mtu = a.mtu;
  if (a.txqlen !== undefined) link.txQueueLength = a.txqlen;
  if (a.address && a.address.length === 6) link.mac = macBytesToString(a.address);
  if (a.master) link.master = a.master;
  const linkIndex = a.link && a.link.length >= 4 ? a.link.readUInt32LE(0) : undefined;
  if (linkIndex) {
    link.linkIndex = linkIndex;
    if (info.kind === 'veth') link.peerIndex = linkIndex;
  }
  if (a.linkNetnsid !== undefined) link.linkNetnsId = a.linkNetnsid;
  if (info.slaveKind) link.slaveKind = info.slaveKind;
  if (info.hairpin !== undefined) link.hairpin = info.hairpin;
  if (info.vxlan) link.vxlan = info.vxlan;
  if (info.macvlanMode) link.macvlanMode = info.macvlanMode;
  if (info.bridgeVlanFiltering !== undefined) link.bridgeVlanFiltering = info.bridgeVlanFiltering;
  return link;
}
