// The netlink package's rtnetlink layer, imported in this one module: the
// bundle wraps every import site of a CommonJS module in a copy of all its
// exports, and rt/structs exports several hundred names (five sites cost
// ~2.7 ms of each bridge start-up, by profile).
export { AttrStream } from 'netlink/dist/structs';
export {
  formatAddressMessage, formatLinkMessage, formatNeighborMessage, formatRouteMessage, parseMessage,
  RouteProtocol, RouteScope, RouteType,
} from 'netlink/dist/rt/structs';
export type {
  AddressFlags, AddressMessage, DeviceFlags, Link as LinkHeader, LinkMessage, Message, MessageType,
  NeighborAttrs, NeighborMessage, RouteAttrs, RouteMessage,
} from 'netlink/dist/rt/structs';
export type { LinkAttrs } from 'netlink/dist/rt/ifla';
