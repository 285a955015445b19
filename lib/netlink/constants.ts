// Kernel numbers the netlink package does not give us in a usable form
// (linux/if_link.h, linux/veth.h, linux/neighbour.h, linux/rtnetlink.h).

export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_BRIDGE = 7;
export const AF_INET6 = 10;

/** nlmsghdr flags */
export const NLM_F = {
  REQUEST: 0x1,
  ACK: 0x4,
  DUMP: 0x300,
  REPLACE: 0x100,
  EXCL: 0x200,
  CREATE: 0x400,
  APPEND: 0x800,
} as const;

export const NLMSG_ERROR = 2;

export const RTM = {
  NEWLINK: 16,
  DELLINK: 17,
  GETLINK: 18,
  SETLINK: 19,
  NEWADDR: 20,
  DELADDR: 21,
  GETADDR: 22,
  NEWROUTE: 24,
  DELROUTE: 25,
  GETROUTE: 26,
  NEWNEIGH: 28,
  DELNEIGH: 29,
  GETNEIGH: 30,
} as const;

/** top-level link attributes we write ourselves (inside VETH_INFO_PEER) */
export const IFLA = {
  ADDRESS: 1,
  IFNAME: 3,
  MTU: 4,
  LINK: 5,
  MASTER: 10,
  LINKINFO: 18,
  NET_NS_FD: 28,
} as const;

export const IFLA_INFO = {
  KIND: 1,
  DATA: 2,
  XSTATS: 3,
  SLAVE_KIND: 4,
  SLAVE_DATA: 5,
} as const;

export const VETH_INFO_PEER = 1;

export const IFLA_BR = {
  VLAN_FILTERING: 7,
} as const;

export const IFLA_BRPORT = {
  /** "hairpin mode": reflect frames back out of the port they came in on */
  MODE: 4,
  LEARNING: 8,
} as const;

export const IFLA_VXLAN = {
  ID: 1,
  GROUP: 2,
  LINK: 3,
  LOCAL: 4,
  TTL: 5,
  LEARNING: 7,
  PORT: 15,
  GROUP6: 16,
  LOCAL6: 17,
  GBP: 23,
} as const;

export const IFLA_MACVLAN = {
  MODE: 1,
} as const;

export const MACVLAN_MODE = {
  private: 1,
  vepa: 2,
  bridge: 4,
  passthru: 8,
  source: 16,
} as const;
export type MacvlanMode = keyof typeof MACVLAN_MODE;

export const IFLA_IPTUN = {
  LINK: 1,
  LOCAL: 2,
  REMOTE: 3,
  TTL: 4,
  PMTUDISC: 10,
} as const;

/** rtmsg rtm_flags */
export const RTNH_F_ONLINK = 0x4;

export const RT_TABLE = { COMPAT: 252, MAIN: 254, LOCAL: 255 } as const;

export const ROUTE_SCOPE = { universe: 0, site: 200, link: 253, host: 254, nowhere: 255 } as const;
export type RouteScopeName = keyof typeof ROUTE_SCOPE;

export const ROUTE_TYPE = { unicast: 1, local: 2, broadcast: 3, blackhole: 6, unreachable: 7, prohibit: 8 } as const;
export type RouteTypeName = keyof typeof ROUTE_TYPE;

/** rtm_protocol values with a name; agent code may use its own number. */
export const RTPROT = { kernel: 2, boot: 3, static: 4 } as const;

/** neighbor states */
export const NUD = {
  REACHABLE: 0x02,
  STALE: 0x04,
  NOARP: 0x40,
  PERMANENT: 0x80,
} as const;
