// The udp backend's packet loop, flannel's proxy: a packet the kernel routes
// into flannel0 goes, whole and unchanged, as the payload of one UDP
// datagram to the node whose subnet holds its destination (longest-prefix
// match); a datagram that arrives on the port from a node of the table (a
// route's next hop) is written back into flannel0 for the kernel to deliver,
// and one from anywhere else is dropped and counted: flanneld takes any. The loop is a thread of the native addon
// (lib/native/udp_proxy.c), which reads and sends in batches: a loop in
// JavaScript moves packets one event at a time at a fraction of the rate.
import { parseIp } from '../../../lib/ip/address';
import { native } from '../../../lib/native';

/** One peer's subnet and the address of its node. */
export interface ProxyRoute {
  network: bigint;
  prefix: number;
  nextHop: string;
}

const ENTRY_BYTES = 12;

/** The table as the native loop takes it: network, next hop, prefix length, 3 zero bytes, network order. */
export function encodeRoutes(routes: ProxyRoute[]): Buffer {
  const out = Buffer.alloc(routes.length * ENTRY_BYTES);
  routes.forEach((r, i) => {
    const hop = parseIp(r.nextHop);
    if (hop?.family !== 4) throw new Error(`udp backend: next hop ${r.nextHop} is not an IPv4 address`);
    out.writeUInt32BE(Number(r.network), i * ENTRY_BYTES);
    out.writeUInt32BE(Number(hop.value), i * ENTRY_BYTES + 4);
    out.writeUInt8(r.prefix, i * ENTRY_BYTES + 8);
  });
  return out;
}

export interface ProxyCounters {
  toPeers: number;
  fromPeers: number;
  noRoute: number;
  sendErrors: number;
  tunErrors: number;
  /** datagrams from an address that is no node's of the table */
  unknownSource: number;
  /** datagrams larger than the loop's slot, dropped whole */
  oversized: number;
  socketErrors: number;
  /** threads stopped by a failed fd: the loop must be started anew */
  lanesStopped: number;
}

const COUNTER_NAMES = [
  'toPeers', 'fromPeers', 'noRoute', 'sendErrors', 'tunErrors', 'unknownSource', 'oversized', 'socketErrors', 'lanesStopped',
] as const;

export class PacketProxy {
  private readonly handle: number;

  /** Binds UDP address:port and starts moving packets between it and the TUN `tunFd`. */
  constructor(tunFd: number, address: string, port: number) {
    this.handle = native().udpProxyStart(tunFd, address, port);
  }

  setRoutes(routes: ProxyRoute[]): void {
    native().udpProxySetRoutes(this.handle, encodeRoutes(routes));
  }

  counters(): ProxyCounters {
    const values = native().udpProxyCounters(this.handle);
    return Object.fromEntries(COUNTER_NAMES.map((name, i) => [name, values[i] ?? 0])) as unknown as ProxyCounters;
  }

  stop(): void {
    native().udpProxyStop(this.handle);
  }
}
