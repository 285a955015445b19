// The udp backend: flanneld's layout. One TUN device, flannel0, for the whole
// cluster network: the subnet's network address as a /32 (a source address
// for the node's own traffic to pods elsewhere, with no broadcast routes),
// MTU the underlay's minus 28 bytes (outer IPv4 + UDP header), and a route
// to the cluster network through it; the node's own subnet is more specific
// and stays on the pods' bridge. Packets cross in user space (proxy.ts) to
// the UDP port of the config (8285) on the node whose lease holds the
// destination; datagrams are taken only from the PublicIP of a udp lease
// (flanneld takes them from anyone who can reach the port). The device lives as long as the agent holds its fd, as
// flanneld's does.
import { formatCidr, formatIp, type Cidr } from '../../../lib/ip/address';
import type { Link } from '../../../lib/netlink';
import { native } from '../../../lib/native';
import { reconcileRoutes } from '../../route-table';
import { ROUTE_PROTOCOL } from '../../../lib/route-protocol';
import { routeChanges, type Backend, type BackendContext, type Peer } from '../backend';
import { PacketProxy, type ProxyRoute } from './proxy';

export const TUN_NAME = 'flannel0';
/** outer IPv4 (20) + UDP (8) */
export const UDP_OVERHEAD = 28;
/**
 * Packets the kernel may queue for the packet loop (the TUN default is 500):
 * a burst that arrives while the loop's thread waits for a CPU is held, not
 * dropped, which TCP across the overlay would take as congestion.
 */
export const TUN_QUEUE_PACKETS = 10_000;

export class UdpBackend implements Backend {
  readonly type = 'udp';
  readonly mtu: number;
  private readonly port: number;
  private tun?: { fd: number; proxy: PacketProxy };
  /** drops already logged, so each reconcile logs only new ones */
  private dropsLogged = { unknownSource: 0, oversized: 0 };

  constructor(private readonly ctx: BackendContext) {
    const b = ctx.config.Backend;
    if (b.Type !== 'udp') throw new Error('udp backend for a config of another type');
    this.port = b.Port;
    this.mtu = ctx.underlay.mtu - UDP_OVERHEAD;
  }

  async reconcile(own: Cidr, peers: Peer[]): Promise<string[]> {
    const changes: string[] = [];
    // flanneld's udp leases carry no BackendType; ours say "udp"
    const routes: ProxyRoute[] = peers.filter((p) => !p.lease.BackendType || p.lease.BackendType === 'udp')
      .map((p) => ({ network: p.subnet.ip.value, prefix: p.subnet.prefix, nextHop: p.lease.PublicIP }));
    const link = await this.ensureTun(changes);
    this.tun!.proxy.setRoutes(routes);
    this.logDrops();
    await this.ensureDevice(link, own, changes);
    const r = await reconcileRoutes(this.ctx.nl, ROUTE_PROTOCOL.overlay, [{ dst: formatCidr(this.ctx.config.Network), dev: link.index }]);
    changes.push(...routeChanges(r, this.ctx.log));
    return changes;
  }

  /** flannel0 and its packet loop; made again when someone deleted the device under the loop. */
  private async ensureTun(changes: string[]): Promise<Link> {
    const nl = this.ctx.nl;
    let link = await nl.links.get(TUN_NAME);
    const stopped = this.tun ? this.tun.proxy.counters().lanesStopped : 0;
    if (this.tun && link?.kind === 'tun' && stopped === 0) return link;
    if (this.tun) {
      changes.push(stopped > 0 ? `${TUN_NAME} packet loop stopped on a failed fd: opened again` : `${TUN_NAME} gone: opened again`);
      await this.closeTun();
    }
    if (link) {
      // someone else's device under our name: TUNSETIFF would fail on a non-TUN, and join another's TUN
      await nl.links.delete(link.index, { ignoreMissing: true });
      changes.push(`${TUN_NAME} deleted: a ${link.kind ?? 'device'} not made by this agent`);
    }
    const fd = native().tunOpen(TUN_NAME);
    let proxy: PacketProxy;
    try {
      proxy = new PacketProxy(fd, this.ctx.underlay.publicIp, this.port);
    } catch (e) {
      native().close(fd);
      throw e;
    }
    this.tun = { fd, proxy };
    link = await nl.links.require(TUN_NAME);
    changes.push(`${TUN_NAME} created: udp port ${this.port} on ${this.ctx.underlay.publicIp}`);
    return link;
  }

  /** Datagrams dropped since the last reconcile: from no node of the cluster, or too large to carry whole. */
  private logDrops(): void {
    const { unknownSource, oversized } = this.tun!.proxy.counters();
    const last = this.dropsLogged;
    if (unknownSource > last.unknownSource) {
      this.ctx.log.event('udp-dropped', { why: 'source is no node of the network', count: unknownSource - last.unknownSource, total: unknownSource });
    }
    if (oversized > last.oversized) {
      this.ctx.log.event('udp-dropped', { why: 'larger than the packet loop carries', count: oversized - last.oversized, total: oversized });
    }
    this.dropsLogged = { unknownSource, oversized };
  }

  private async ensureDevice(link: Link, own: Cidr, changes: string[]): Promise<void> {
    const nl = this.ctx.nl;
    if (link.mtu !== this.mtu) {
      await nl.links.setMtu(link.index, this.mtu);
      changes.push(`${TUN_NAME} mtu ${this.mtu}`);
    }
    if (link.txQueueLength !== TUN_QUEUE_PACKETS) {
      await nl.links.setTxQueueLength(link.index, TUN_QUEUE_PACKETS);
      changes.push(`${TUN_NAME} txqueuelen ${TUN_QUEUE_PACKETS}`);
    }
    const address = `${formatIp(own.ip)}/32`;
    let has = false;
    for (const a of await nl.addrs.list({ link: link.index, family: 4 })) {
      if (a.cidr === address) has = true;
      else {
        await nl.addrs.del(link.index, a.cidr, { ignoreMissing: true });
        changes.push(`${TUN_NAME} address ${a.cidr} removed`);
      }
    }
    if (!has) {
      await nl.addrs.add(link.index, address, { ignoreExisting: true });
      changes.push(`${TUN_NAME} address ${address} added`);
    }
    if (!link.up) {
      await nl.links.setUp(link.index);
      changes.push(`${TUN_NAME} up`);
    }
  }

  private async closeTun(): Promise<void> {
    const tun = this.tun;
    this.tun = undefined;
    this.dropsLogged = { unknownSource: 0, oversized: 0 };
    if (!tun) return;
    const moved = tun.proxy.counters();
    tun.proxy.stop();
    native().close(tun.fd);
    this.ctx.log.event('udp-loop-stopped', { ...moved });
  }

  /** The loop stops and flannel0 goes with its fd, as flanneld's does; routes through it go with it. */
  async stop(): Promise<void> {
    await this.closeTun();
  }
}
