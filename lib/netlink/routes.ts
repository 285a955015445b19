// Routes: unicast via a gateway or straight out of a device, blackhole and
// unreachable; any table, protocol and metric; IPv4 and IPv6.
import {
  AttrStream,
  formatRouteMessage,
  RouteProtocol,
  RouteScope,
  RouteType,
  type RouteMessage,
  type RouteAttrs,
} from './rt-package';
import { u32 } from './attr';
import type { RtnlChannel } from './channel';
import {
  AF_INET,
  AF_INET6,
  NLM_F,
  ROUTE_SCOPE,
  ROUTE_TYPE,
  RT_TABLE,
  RTNH_F_ONLINK,
  RTPROT,
  RTM,
  type RouteScopeName,
  type RouteTypeName,
} from './constants';
import { isNetlinkErrno } from './errors';
import { ipBytesToString } from '../ip/address';
import { toIpBytes, toNetworkBytes } from './address-bytes';
import type { LinkRef, Links } from './links';

export interface RouteSpec {
  /** "10.244.1.0/24", "0.0.0.0/0" and "::/0" for default routes */
  dst: string;
  gw?: string;
  dev?: LinkRef;
  /** default: link for a unicast route without gateway, else universe */
  scope?: RouteScopeName;
  /** the gateway is reachable on dev even though no prefix covers it */
  onlink?: boolean;
  /** rtm_protocol; default boot (3) like iproute2; the agent uses its own number */
  protocol?: number;
  /** default main (254) */
  table?: number;
  metric?: number;
  type?: RouteTypeName;
  /** preferred source address (RTA_PREFSRC) */
  src?: string;
  mtu?: number;
  advmss?: number;
}

export interface Route {
  dst: string;
  family: 4 | 6;
  gw?: string;
  /** ifindex of the output device */
  dev?: number;
  scope: number;
  protocol: number;
  table: number;
  metric?: number;
  type: RouteTypeName | number;
  onlink: boolean;
  src?: string;
}

const enumNumber = (e: Record<string, string | number>, v: unknown): number => (typeof v === 'string' ? Number(e[v]) : Number(v ?? 0));

export class Routes {
  constructor(
    private readonly ch: RtnlChannel,
    private readonly links: Links,
  ) {}

  private async message(r: RouteSpec, forDelete: boolean): Promise<Omit<RouteMessage, 'kind'>> {
    const dst = toNetworkBytes(r.dst);
    const type = r.type ?? 'unicast';
    const table = r.table ?? RT_TABLE.MAIN;
    const attrs: RouteAttrs = { table };
    if (dst.prefixLen > 0) attrs.dst = dst.bytes;
    if (r.gw !== undefined) {
      const gw = toIpBytes(r.gw);
      if (gw.family !== dst.family) throw new Error(`route ${r.dst}: gateway ${r.gw} is of another address family`);
      attrs.gateway = gw.bytes;
    }
    if (r.dev !== undefined) attrs.oif = await this.links.index(r.dev);
    if (r.metric !== undefined) attrs.priority = r.metric;
    if (r.src !== undefined) attrs.prefsrc = toIpBytes(r.src).bytes;
    if (r.mtu !== undefined || r.advmss !== undefined) {
      attrs.metrics = {};
      if (r.mtu !== undefined) attrs.metrics.mtu = u32(r.mtu);
      if (r.advmss !== undefined) attrs.metrics.advmss = u32(r.advmss);
    }
    // Deleting with scope "nowhere" and protocol 0 means "any", as iproute2 does.
    const scope = r.scope ?? (forDelete ? 'nowhere' : type === 'unicast' && r.gw === undefined ? 'link' : 'universe');
    return {
      data: {
        family: dst.family,
        dstLen: dst.prefixLen,
        // rtm_table is 8 bits; larger table ids travel only in RTA_TABLE.
        table: table > 255 ? RT_TABLE.COMPAT : table,
        protocol: r.protocol ?? (forDelete ? 0 : RTPROT.boot),
        scope: ROUTE_SCOPE[scope],
        type: ROUTE_TYPE[type],
        flags: r.onlink ? { __unknown: RTNH_F_ONLINK } : {},
      },
      attrs,
    };
  }

  private async send(op: string, type: number, flags: number, m: Omit<RouteMessage, 'kind'>): Promise<RouteMessage[]> {
    const out = new AttrStream();
    formatRouteMessage({ kind: 'route', ...m }, out);
    const answers = await this.ch.request(op, type, flags, out.bufs);
    return answers.filter((x): x is RouteMessage => x.kind === 'route');
  }

  private describe(r: RouteSpec): string {
    return `${r.type && r.type !== 'unicast' ? `${r.type} ` : ''}route ${r.dst}${r.gw ? ` via ${r.gw}` : ''}${r.dev !== undefined ? ` dev ${r.dev}` : ''}${r.table ? ` table ${r.table}` : ''}`;
  }

  /** Adds a route; EEXIST when an equal one (same dst, table, metric) is there. */
  async add(r: RouteSpec): Promise<void> {
    await this.send(`add ${this.describe(r)}`, RTM.NEWROUTE, NLM_F.CREATE | NLM_F.EXCL, await this.message(r, false));
  }

  /** Adds or overwrites the route with the same dst, table and metric. */
  async replace(r: RouteSpec): Promise<void> {
    await this.send(`replace ${this.describe(r)}`, RTM.NEWROUTE, NLM_F.CREATE | NLM_F.REPLACE, await this.message(r, false));
  }

  async del(r: RouteSpec, o: { ignoreMissing?: boolean } = {}): Promise<void> {
    try {
      await this.send(`delete ${this.describe(r)}`, RTM.DELROUTE, 0, await this.message(r, true));
    } catch (e) {
      if (o.ignoreMissing && isNetlinkErrno(e, 'ESRCH', 'ENODEV')) return;
      throw e;
    }
  }

  /**
   * Routes of one table (main unless given; "all" for every table), only
   * those of one rtm_protocol when `protocol` is given (an agent's own).
   */
  async list(filter: { family?: 4 | 6; table?: number | 'all'; dev?: LinkRef; protocol?: number } = {}): Promise<Route[]> {
    const family = filter.family === 4 ? AF_INET : filter.family === 6 ? AF_INET6 : 0;
    const dev = filter.dev === undefined ? undefined : await this.links.index(filter.dev);
    const table = filter.table ?? RT_TABLE.MAIN;
    const answers = await this.send('list routes', RTM.GETROUTE, NLM_F.DUMP, { data: { family }, attrs: {} });
    const out: Route[] = [];
    for (const m of answers) {
      const d = m.data;
      const rt: Route = {
        family: d.family === AF_INET6 ? 6 : 4,
        dst: m.attrs.dst ? `${ipBytesToString(m.attrs.dst)}/${d.dstLen ?? 0}` : d.family === AF_INET6 ? '::/0' : '0.0.0.0/0',
        scope: enumNumber(RouteScope, d.scope),
        protocol: enumNumber(RouteProtocol, d.protocol),
        table: m.attrs.table ?? d.table ?? 0,
        type: 'unicast',
        onlink: ((d.flags?.__unknown ?? 0) & RTNH_F_ONLINK) !== 0,
      };
      const typeNum = enumNumber(RouteType, d.type);
      rt.type = (Object.keys(ROUTE_TYPE) as RouteTypeName[]).find((k) => ROUTE_TYPE[k] === typeNum) ?? typeNum;
      if (m.attrs.gateway) rt.gw = ipBytesToString(m.attrs.gateway);
      if (m.attrs.oif) rt.dev = m.attrs.oif;
      if (m.attrs.priority !== undefined) rt.metric = m.attrs.priority;
      if (m.attrs.prefsrc) rt.src = ipBytesToString(m.attrs.prefsrc);
      if (table !== 'all' && rt.table !== table) continue;
      if (dev !== undefined && rt.dev !== dev) continue;
      if (filter.protocol !== undefined && rt.protocol !== filter.protocol) continue;
      out.push(rt);
    }
    return out;
  }
}
