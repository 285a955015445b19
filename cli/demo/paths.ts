// The traffic paths every mode promises, as matrix rows. Each one sends real
// packets between namespaces and judges by what the far end saw: the TCP
// servers answer with the peer address they observed, which shows NAT.
import type { External, Harness, Netns } from '../../lib/lab/index';
import type { PathCheck } from './types';

/** A pod as the demo sees it after ADD. */
export interface DemoPod {
  name: string;
  ns: Netns;
  /** the pod's address, no prefix length */
  ip: string;
  gateway?: string;
}

/** TCP port every pod's server listens on; the host port maps to it. */
export const POD_PORT = 80;
const TCP_TIMEOUT_MS = 3_000;
const PING_COUNT = 2;

export function podToPod(h: Harness, from: DemoPod, to: DemoPod): PathCheck {
  return {
    kind: 'pod ↔ pod',
    from: from.name,
    to: `${to.name} ${to.ip.includes(':') ? `[${to.ip}]` : to.ip}:${POD_PORT}`,
    async run() {
      const seen = await h.tcpRequest(from.ns, to.ip, POD_PORT, TCP_TIMEOUT_MS);
      return seen === from.ip
        ? { ok: true, detail: `seen as ${seen} (pod address, no NAT)` }
        : { ok: false, detail: `seen as ${seen || 'nothing'}, expected ${from.ip}` };
    },
  };
}

/** Across nodes, through the overlay: ping, then TCP, the far pod seeing this pod's own address. */
export function podToRemotePod(h: Harness, from: DemoPod, to: DemoPod): PathCheck {
  const tcp = podToPod(h, from, to);
  return {
    ...tcp,
    kind: 'pod ↔ pod, across nodes',
    async run() {
      const r = await h.ping(from.ns, to.ip, PING_COUNT);
      if (!r.ok) return { ok: false, detail: `ping ${r.received}/${r.transmitted} replies` };
      const seen = await tcp.run();
      return { ok: seen.ok, detail: `ping ${r.received}/${r.transmitted}, TCP ${seen.detail}` };
    },
  };
}

export function podToGateway(h: Harness, pod: DemoPod): PathCheck {
  return {
    kind: 'pod → gateway',
    from: pod.name,
    to: `gateway ${pod.gateway ?? '(none in result)'}`,
    async run() {
      if (!pod.gateway) return { ok: false, detail: 'the ADD result names no gateway' };
      const r = await h.ping(pod.ns, pod.gateway, PING_COUNT);
      return { ok: r.ok, detail: `ping ${r.received}/${r.transmitted} replies` };
    },
  };
}

/** Egress to the external host must arrive from the node's address: masquerade. */
export function podToExternal(h: Harness, pod: DemoPod, ext: External, port: number): PathCheck {
  return {
    kind: 'pod → external',
    from: pod.name,
    to: `external ${ext.ip}:${port}`,
    async run() {
      const seen = await h.tcpRequest(pod.ns, ext.ip, port, TCP_TIMEOUT_MS);
      if (seen === ext.nodeIp) return { ok: true, detail: `seen as ${seen} (masqueraded to the node's address)` };
      return { ok: false, detail: `seen as ${seen || 'nothing'}, expected the node's ${ext.nodeIp}` };
    },
  };
}

/** The external host connects to node:hostPort; DNAT takes it to the pod, keeping the client's address. */
export function externalToHostPort(h: Harness, ext: External, hostPort: number, pod: DemoPod): PathCheck {
  return {
    kind: 'external → host port',
    from: 'external',
    to: `node ${ext.nodeIp}:${hostPort} → ${pod.name}:${POD_PORT}`,
    async run() {
      const seen = await h.tcpRequest(ext, ext.nodeIp, hostPort, TCP_TIMEOUT_MS);
      if (seen === ext.ip) return { ok: true, detail: `reached ${pod.name} (DNAT), client seen as ${seen}` };
      return { ok: false, detail: `answer ${seen || 'none'}, expected the client's own ${ext.ip}` };
    },
  };
}

/** A pod reaching its own host port comes back to itself (hairpin), masqueraded so the reply returns through NAT. */
export function hairpinHostPort(h: Harness, pod: DemoPod, nodeIp: string, hostPort: number): PathCheck {
  return {
    kind: 'pod → own host port',
    from: pod.name,
    to: `node ${nodeIp}:${hostPort} → ${pod.name}:${POD_PORT}`,
    async run() {
      const seen = await h.tcpRequest(pod.ns, nodeIp, hostPort, TCP_TIMEOUT_MS);
      if (seen && seen !== pod.ip) return { ok: true, detail: `hairpin, seen as ${seen} (masqueraded)` };
      return { ok: false, detail: seen ? `seen as its own ${seen}: reply would bypass NAT` : 'no answer' };
    },
  };
}

/**
 * What pod traffic between nodes looks like on the underlay: one packet of a
 * ping from `from` to `to`, as tcpdump on the fabric's bridge decodes it.
 */
export function onTheWire(h: Harness, fabric: Netns, from: DemoPod, to: DemoPod, filter: string): PathCheck {
  return {
    kind: 'on the fabric (tcpdump br0)',
    from: from.name,
    to: `${to.name}: ${filter}`,
    async run() {
      const dump = h.startDaemon(fabric, 'tcpdump', ['-n', '-l', '-i', 'br0', '-c', '1', filter]);
      let out = '';
      let err = '';
      dump.stdout!.on('data', (b: Buffer) => (out += b.toString()));
      const done = new Promise<void>((r) => dump.once('exit', () => r()));
      await new Promise<void>((resolve) => {
        const bound = setTimeout(resolve, 3_000);
        dump.stderr!.on('data', (b: Buffer) => {
          err += b.toString();
          if (/listening on/.test(err)) {
            clearTimeout(bound);
            resolve();
          }
        });
      });
      await h.ping(from.ns, to.ip, PING_COUNT);
      const late = setTimeout(() => dump.kill('SIGKILL'), 3_000);
      await done;
      clearTimeout(late);
      // "12:00:00.000000 IP 10.250.0.11.40000 > 10.250.0.12.8472: OTV, ..." without the time
      const line = out.split('\n').find((l) => / IP /.test(l))?.replace(/^\S+ /, '');
      return line ? { ok: true, detail: line.length > 90 ? `${line.slice(0, 87)}...` : line } : { ok: false, detail: `nothing matching "${filter}"` };
    },
  };
}
