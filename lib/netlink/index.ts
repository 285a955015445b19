// lib/netlink: routing netlink for tscni. Open an Rtnl in a namespace, then
// use its links / addrs / routes / neighbors / fdb. Loads only the rtnetlink
// parts of the netlink package (its index would pull genl and nl80211 in).
export { Rtnl } from './rtnl';
export type { Links, LinkRef, NewLinkCommon } from './links';
export type { Link } from './link-decode';
export type { Addresses, Address, AddAddressOptions } from './addrs';
export type { Routes, Route, RouteSpec } from './routes';
export type { Neighbors, Neighbor, NeighborSpec, Fdb, FdbEntry, FdbSpec } from './neigh';
export { NetlinkError, isNetlinkErrno, isNotFound, isExists, errnoName } from './errors';
export {
  encodeVethLinkInfo,
  encodeBridgeLinkInfo,
  encodeVxlanLinkInfo,
  encodeMacvlanLinkInfo,
  encodeIpipLinkInfo,
  encodeDummyLinkInfo,
  encodeBridgePortHairpin,
  decodeLinkInfo,
} from './linkinfo';
export type { VethPeer, BridgeOptions, VxlanOptions, VxlanInfo, IpipOptions } from './linkinfo';
export type { MacvlanMode, RouteScopeName, RouteTypeName } from './constants';
export { RTPROT, RT_TABLE } from './constants';
