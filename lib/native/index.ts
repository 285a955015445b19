// Loads tscni's native addon (setns, flock, netlink and unix sockets,
// runProgram, tunOpen and the udp backend's packet loop). In a built
// executable (dist/bin) the addon is embedded, and the executable's entry
// (scripts/build.mjs) provides the loader; from source (tests) the node-gyp
// output beside this file is used. Loaded on first use: VERSION and
// configuration errors need no dlopen.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export interface TscniNative {
  setns(fd: number, nstype: number): void;
  flock(fd: number, operation: number): void;
  /** A bound AF_NETLINK socket of `protocol` whose receive fails with ETIMEDOUT after `timeoutMs` without data. */
  netlinkOpen(protocol: number, receiveBufferBytes: number, timeoutMs: number): number;
  /** Sends one datagram to the kernel. */
  netlinkSend(fd: number, datagram: Buffer): void;
  /** The next datagram, whole; blocks until one arrives or the socket's timeout passes. */
  netlinkReceive(fd: number): Buffer;
  close(fd: number): void;
  /** A connected AF_UNIX stream socket; reads and writes on it fail with EAGAIN after `timeoutMs` without progress. */
  unixConnect(path: string, timeoutMs: number): number;
  /** Who connected to an AF_UNIX socket (SO_PEERCRED on the accepted `fd`). */
  peerCredentials(fd: number): { pid: number; uid: number; gid: number };
  /**
   * Runs `path` with `argv` (argv[0] included) to completion; stdin is /dev/null; status 128+n for
   * signal n. Throws (errno ETIMEDOUT) after killing a child still running after `timeoutMs`.
   */
  runProgram(path: string, argv: string[], timeoutMs: number): { status: number; stdout: string; stderr: string };
  /** A non-blocking fd on TUN device `name` (IFF_TUN | IFF_NO_PI), created if absent; the device goes with the last fd. */
  tunOpen(name: string): number;
  /** Starts the udp backend's packet loop (its own thread) between `tunFd` and a UDP socket bound to address:port. */
  udpProxyStart(tunFd: number, address: string, port: number): number;
  /** Replaces the loop's routes: 12 bytes each, network order: network, next hop, prefix length, 3 zero bytes. */
  udpProxySetRoutes(handle: number, routes: Buffer): void;
  /**
   * [packets to peers, from peers, without a route, send errors, TUN write errors, datagrams from an
   * unknown source, oversized datagrams, socket errors, lanes stopped] (udp_proxy.h says what each is)
   */
  udpProxyCounters(handle: number): number[];
  /** Stops the loop and closes its socket; the TUN fd stays open. */
  udpProxyStop(handle: number): void;
  readonly CLONE_NEWNET: number;
  readonly LOCK_SH: number;
  readonly LOCK_EX: number;
  readonly LOCK_UN: number;
  readonly LOCK_NB: number;
}

declare global {
  // eslint-disable-next-line no-var
  var __tscniLoadNative: (() => TscniNative) | undefined;
}

let loaded: TscniNative | undefined;

export function native(): TscniNative {
  loaded ??= globalThis.__tscniLoadNative?.() ?? (createRequire(import.meta.url)(
    fileURLToPath(new URL('./build/Release/tscni_native.node', import.meta.url)),
  ) as TscniNative);
  return loaded;
}
