// tscni-agent routed: calico-node's job on one node. It registers the node
// (again, when its record is deleted) and keeps its heartbeat, serves cluster
// IPAM to the node's plugins on <run-dir>/agent.sock, keeps a blackhole route
// per block the node holds, and runs BIRD with a
// configuration rendered from etcd (nodes, BGP peers, blocks), re-rendered
// and reloaded whenever they change. SIGTERM: everything stops, BIRD for a
// graceful restart, and the kernel state stays for the next start.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { EtcdClient } from '../../lib/datastore/etcd';
import { watchPrefix, type Watch } from '../../lib/datastore/etcd-watch';
import { listPeers } from '../../lib/datastore/bgp-peers';
import { aliveKey, decodeNode, listNodes, nodeKey, registerNode, type RoutedNode } from '../../lib/datastore/routed-nodes';
import type { Block } from '../../lib/ipam/cluster/block';
import type { Pool } from '../../lib/ipam/cluster/pool';
import { vtepMac } from '../vtep/vtep-mac';
import { ClusterIpamStore } from '../../lib/ipam/cluster/store';
import { serveClusterIpam } from '../../lib/ipam/cluster/server';
import { formatCidr, ipFamily, parseIp } from '../../lib/ip/address';
import { Rtnl } from '../../lib/netlink';
import { reloadsAfterConfigure, renderBirdConfig, type BirdInput } from './bird-config';
import { distinctNodes, sessionsOf } from './sessions';
import { BirdProcess } from './bird-process';
import { birdPaths } from '../../lib/routed/run-dir';
import { createLogger } from '../log';
import { UnderlayError, type Underlay } from '../underlay';
import { reconcileRoutes, type DesiredRoute } from '../route-table';
import { ROUTE_PROTOCOL } from '../../lib/route-protocol';
import { reconcileFdb, reconcileNeighbors } from '../vtep/entries';
import { ensureVtep, VXLAN_OVERHEAD } from '../vtep/vtep';
import { writePodMtu } from '../../lib/routed/pod-mtu';
import { SerialRunner } from '../serial-runner';
import { untilTerminated } from '../signals';
import { OptionsError } from '../../lib/flags';
import { parseRoutedOptions, ROUTED_USAGE, type RoutedOptions } from './options';
import { blockUse, writeStatus, type AgentStatus } from '../../lib/routed/status-file';
import { LeakScan } from './leaks';
import { Heartbeat, HEARTBEAT_EVERY_MS, HEARTBEAT_TTL_S } from './heartbeat';
import { AttachmentRecords } from '../../lib/ipam/cluster/attachments';
import { routedUnderlay, routedUnderlay6 } from './underlay';
import { impactOf } from './watch-events';
import { legacyTunnelHandle, tunnelHandle, tunnelRoutes, vtepLinkLocal, VXLAN_DEVICE, VXLAN_PORT, VXLAN_VNI, vxlanPeers, vxlanPools } from './vxlan';

const logger = createLogger();
const log = logger.event;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Registers the node, retrying while etcd is unreachable (the agent starts before etcd on a rebooting cluster). */
async function register(client: EtcdClient, opts: RoutedOptions, ip: string, stopped: () => boolean): Promise<void> {
  const record: RoutedNode = {
    name: opts.node, ip, ...(opts.ip6 ? { ip6: opts.ip6 } : {}), asn: opts.asn, routeReflector: opts.routeReflector,
    ...(opts.clusterId ? { clusterId: opts.clusterId } : {}), vtepMAC: vtepMac(opts.node),
  };
  for (let delay = 500; !stopped(); delay = Math.min(delay * 2, 5_000)) {
    try {
      // A restart keeps the tunnel address: the peers' routes and neighbours point at it.
      const before = await client.get(nodeKey(opts.etcd.prefix, opts.node));
      const old = before ? decodeNode(opts.node, before.value) : undefined;
      if (typeof old === 'object' && old.tunnelAddress) record.tunnelAddress = old.tunnelAddress;
      await registerNode(client, opts.etcd.prefix, record);
      log('node-registered', { node: opts.node, ip, ip6: opts.ip6, asn: opts.asn, reflector: opts.routeReflector ? opts.clusterId : undefined });
      return;
    } catch (e) {
      log('etcd-unreachable', { error: (e as Error).message, retry_ms: delay });
      await sleep(delay);
    }
  }
}

export async function routedMain(args: string[]): Promise<number> {
  let opts: RoutedOptions;
  try {
    const parsed = parseRoutedOptions(args, process.env);
    if (parsed === 'help') {
      process.stdout.write(ROUTED_USAGE);
      return 0;
    }
    opts = parsed;
  } catch (e) {
    if (!(e instanceof OptionsError)) throw e;
    process.stderr.write(`tscni-agent routed: ${e.message}\n\n${ROUTED_USAGE}`);
    return 2;
  }

  let terminated = false;
  const termination = untilTerminated().then((s) => {
    terminated = true;
    return s;
  });
  const nl = Rtnl.open();
  let underlay: Underlay;
  let underlay6: { address: string; dev: string } | undefined;
  try {
    underlay = await routedUnderlay(nl, opts);
    underlay6 = opts.ip6 === undefined ? undefined : await routedUnderlay6(nl, opts.ip6);
  } catch (e) {
    if (!(e instanceof UnderlayError)) throw e;
    // An address this node does not have is a mistake in its flags: said, and nothing made.
    process.stderr.write(`tscni-agent routed: ${e.message}\n`);
    nl.close();
    return 1;
  }
  mkdirSync(opts.runDir, { recursive: true, mode: 0o755 });
  writeFileSync(opts.nodeNameFile, `${opts.node}\n`);

  let status: AgentStatus | undefined;
  let lastConfig: string | undefined;
  /** what the BIRD that runs was last configured from */
  let lastInput: BirdInput | undefined;
  // BIRD's own state (its watch restarts it without etcd) goes to the status file as it changes.
  const publishStatus = () => {
    if (status) writeStatus(opts.runDir, { ...status, bird: bird.status });
  };
  const bird = new BirdProcess(birdPaths(opts.runDir), log, publishStatus);
  // BIRD first, from the last good configuration a BIRD ran here with: an
  // agent that restarts while etcd is down keeps the node's sessions and routes.
  if (existsSync(bird.paths.config)) {
    try {
      log('bird-running', { how: await bird.start(), config: bird.paths.config, why: 'the last good configuration, before etcd is read' });
      lastConfig = readFileSync(bird.paths.config, 'utf8');
    } catch (e) {
      log('bird-start-failed', { error: (e as Error).message, why: 'the first sync starts it' });
    }
  }

  const client = new EtcdClient(opts.etcd.connection);
  const prefix = opts.etcd.prefix;
  await register(client, opts, underlay.publicIp, () => terminated);
  const store = new ClusterIpamStore(client, prefix, opts.node);
  const ownHandle = (h: string) => h === tunnelHandle(opts.node) || h === legacyTunnelHandle(opts.node);
  const heartbeat = new Heartbeat(client, prefix, opts.node);
  const beat = async () => {
    try {
      if ((await heartbeat.beat()) === 'started') log('heartbeat', { key: aliveKey(prefix, opts.node), ttl: HEARTBEAT_TTL_S });
    } catch (e) {
      logger.once('heartbeat', 'heartbeat-failed', { error: (e as Error).message });
    }
  };
  await beat();
  /** Writes the node's record again when it disappears under the running agent: the node is not gone. */
  let registering: Promise<void> | undefined;
  const reregister = () => {
    registering ??= register(client, opts, underlay.publicIp, () => terminated).finally(() => {
      registering = undefined;
      schedule();
    });
  };
  // The pod MTU is in place before the first plugin can ask for an address;
  // when etcd does not answer now, the first sync writes it.
  let podMtu: number | undefined;
  try {
    podMtu = vethMtu(underlay, await store.listPools());
    writePodMtu(opts.runDir, podMtu);
  } catch (e) {
    log('pod-mtu-unknown', { error: (e as Error).message, why: 'the pools could not be read; the first sync writes it' });
  }
  const records = new AttachmentRecords(opts.runDir);
  const server = await serveClusterIpam(opts.socketPath, store, { records, group: opts.socketGroup });
  log('ipam-serving', { socket: opts.socketPath, group: opts.socketGroup });

  /**
   * The VXLAN device, when a pool may encapsulate: its tunnel address is
   * this node's allocation under its own handle (taken once, then kept in
   * the node's record); its ifindex, or undefined when no pool needs it.
   */
  const ensureTunnel = async (self: RoutedNode | undefined, pools: Pool[]): Promise<number | undefined> => {
    const encapsulating = vxlanPools(pools);
    if (!self || encapsulating.length === 0) return undefined;
    let tunnel = self.tunnelAddress;
    if (tunnel === undefined) {
      // A record written anew (deleted under the agent) finds the address the node holds, in either handle form.
      const [legacy] = await store.heldBy(legacyTunnelHandle(opts.node));
      const a = legacy ?? (await store.assign(tunnelHandle(opts.node), encapsulating.map((p) => p.name))).ips[0];
      tunnel = a!.address.split('/')[0]!;
      await registerNode(client, prefix, { ...self, tunnelAddress: tunnel });
      log('tunnel-address', { address: tunnel });
    }
    const spec = { name: VXLAN_DEVICE, vni: VXLAN_VNI, port: VXLAN_PORT, mac: self.vtepMAC ?? vtepMac(opts.node), underlay };
    const { index, changes } = await ensureVtep(nl, spec, { ip: parseIp(tunnel)!, prefix: 32 });
    for (const change of changes) log('vxlan', { change });
    return index;
  };

  // One sync at a time; changes that arrive meanwhile make one more.
  const sync = async () => {
    // A record that does not pass the checks, or that would give one address two sessions, is left out and reported.
    const [listed, { peers, problems: peerProblems }, { records: pools, problems: poolProblems }] = await Promise.all([
      listNodes(client, prefix), listPeers(client, prefix), store.readPools(),
    ]);
    const { kept: nodes, problems: nodeProblems } = distinctNodes(opts.node, listed.nodes);
    const self = nodes.find((n) => n.name === opts.node);
    const vtep = await ensureTunnel(self, pools);
    if (vethMtu(underlay, pools) !== podMtu) {
      podMtu = vethMtu(underlay, pools);
      writePodMtu(opts.runDir, podMtu);
      log('pod-mtu', { mtu: String(podMtu), why: 'for pods attached from now on' });
    }
    const { records: blocks, problems: blockProblems } = await store.readBlocks();
    const mine = blocks.filter((b) => b.node === opts.node);
    const ownBlocks = mine.map((b) => formatCidr(b.cidr));
    const plan = self ? sessionsOf(self, nodes, peers) : { kept: [], problems: [] };
    const vxlan = vtep === undefined ? { peers: [], problems: [] } : vxlanPeers(opts.node, nodes, pools);
    const ignored = [...listed.problems, ...nodeProblems, ...peerProblems, ...plan.problems, ...poolProblems, ...blockProblems, ...vxlan.problems];
    for (const p of ignored) logger.once(`record:${p}`, 'ignored-record', { problem: p });
    status = {
      node: opts.node, pid: process.pid, ip: underlay.publicIp, ...(opts.ip6 ? { ip6: opts.ip6 } : {}), asn: opts.asn, routeReflector: opts.routeReflector,
      updated: new Date().toISOString(), blocks: mine.map(blockUse), ignored,
    };
    publishStatus();
    const tunnelled = vtep === undefined ? [] : tunnelRoutes(opts.node, underlay, nodes, blocks, pools);
    const lonely6 = vtep === undefined ? pools.filter((p) => p.vxlan !== 'never' && p.cidr.ip.family === 6) : [];
    for (const p of lonely6) {
      logger.once(`vxlan6:${p.name}`, 'vxlan-unavailable', { pool: p.name, why: 'IPv6 blocks ride the VXLAN device an IPv4 pool with vxlan builds; no IPv4 pool encapsulates, so they are not encapsulated' });
    }
    // A record deleted (or garbled) under the running agent: every session closes until it is written again.
    if (!self) {
      log('node-removed', { node: opts.node, why: 'its record is gone; BGP sessions closed until it is written again' });
      reregister();
    }
    const sessions = plan.kept;
    const birdInput: BirdInput = {
      node: opts.node, routerId: underlay.publicIp, asn: opts.asn, underlayDev: underlay.name,
      ownBlocks, tunnelBlocks: tunnelled.map((t) => t.block), routeProtocol: ROUTE_PROTOCOL.routed,
      ...(underlay6 ? { ipv6: underlay6 } : {}),
      ...(opts.clusterId ? { clusterId: opts.clusterId } : {}), sessions,
    };
    const config = renderBirdConfig(birdInput);
    if (config !== lastConfig || !bird.started || lastInput === undefined) {
      // A configuration BIRD refuses is said once and not installed: BIRD keeps the last good one.
      const refused = await bird.install(config);
      if (refused !== undefined) logger.once('bird-config', 'bird-config-refused', { error: refused, why: 'not installed; BIRD keeps the last good configuration' });
      else logger.clear('bird-config');
      // A BIRD that just started read the file, as did one that runs this very file; one
      // that was running another must rerun the filters whose blocks changed.
      let reloads = refused === undefined && config !== lastConfig ? reloadsAfterConfigure(lastInput, birdInput) : [];
      if (!bird.started) {
        const how = await bird.start();
        if (how !== 'adopted') reloads = [];
        log('bird-running', { how, config: bird.paths.config });
      } else if (refused === undefined) {
        await bird.reload();
      }
      lastConfig = config;
      if (refused === undefined) {
        lastInput = birdInput;
        const failed = await bird.refilter(reloads);
        if (failed.length > 0) log('bird-refilter-failed', { protocols: failed.join(' '), why: 'no route refresh: routes learned before the block change keep the old filter' });
        log('bird-configured', { sessions: sessions.length, blocks: ownBlocks.length });
      }
    }
    // Only now the kernel routes: BIRD has withdrawn a released block before
    // its blackhole goes, and no longer puts the BGP route of a block that is
    // now tunnelled into the kernel, where the agent's route takes its place.
    for (const family of [4, 6] as const) {
      const want: DesiredRoute[] = ownBlocks.filter((b) => ipFamily(b) === family).map((dst) => ({ dst, blackhole: true as const }));
      if (vtep !== undefined) {
        want.push(...tunnelled.filter((t) => ipFamily(t.block) === family).map((t) => ({ dst: t.block, gw: t.gw, dev: vtep, onlink: true })));
      }
      const routes = await reconcileRoutes(nl, ROUTE_PROTOCOL.routed, want, family);
      for (const change of routes.changes) log('route', { change });
      for (const dst of routes.conflicts) logger.once(`conflict:${dst}`, 'route-conflict', { dst, why: 'a route of another owner holds this destination' });
    }
    if (vtep !== undefined) {
      const remote = vxlan.peers;
      // IPv6 neighbours (each VTEP's link-local) only while an IPv6 pool encapsulates.
      const remote6 = pools.some((p) => p.vxlan !== 'never' && p.cidr.ip.family === 6) ? remote : [];
      const changes = [
        ...(await reconcileNeighbors(nl, vtep, new Map(remote.map((n) => [n.tunnelAddress!, n.vtepMAC!])))),
        ...(await reconcileNeighbors(nl, vtep, new Map(remote6.map((n) => [vtepLinkLocal(n), n.vtepMAC!])), 6)),
        ...(await reconcileFdb(nl, vtep, new Map(remote.map((n) => [n.vtepMAC!, n.ip])))),
      ];
      for (const change of changes) log('vxlan', { change });
    }
  };

  const syncs = new SerialRunner(async () => {
    try {
      await sync();
    } catch (e) {
      log('sync-failed', { error: (e as Error).message });
      await sleep(1_000);
      syncs.request();
    }
  });
  const schedule = () => {
    if (!terminated) syncs.request();
  };

  /**
   * An allocation in a block of this node: the status file counts it. A sync
   * under way may have read the block before the change, so one more runs.
   */
  const allocationsChanged = (blocks: Block[]) => {
    const mine = blocks.filter((b) => b.node === opts.node);
    if (mine.length === 0) return;
    if (syncs.busy || !status) {
      schedule();
      return;
    }
    const changed = new Map(mine.map((b) => [formatCidr(b.cidr), blockUse(b)]));
    status = { ...status, updated: new Date().toISOString(), blocks: status.blocks.map((u) => changed.get(u.cidr) ?? u) };
    publishStatus();
  };

  let watch: Watch | undefined;
  const startWatch = () => {
    watch = watchPrefix(client, `${prefix}/`, {
      onEvents: (events) => {
        if (events.some((e) => e.type === 'delete' && e.kv.key === nodeKey(prefix, opts.node))) {
          log('own-record-deleted', { node: opts.node, why: 'the agent runs: it registers again' });
          reregister();
        }
        const impacts = events.map((e) => impactOf(prefix, e));
        if (impacts.some((i) => i.kind === 'sync')) schedule();
        else allocationsChanged(impacts.flatMap((i) => (i.kind === 'allocations' ? [i.block] : [])));
      },
      onCompacted: () => {
        startWatch();
        schedule();
      },
      onConnection: (up, reason) => {
        log(up ? 'watch-up' : 'watch-down', { reason });
        if (up) schedule();
      },
    });
  };
  if (!terminated) {
    startWatch();
    schedule();
  }
  // A periodic resync repairs drift nobody announced (a route deleted by hand).
  const resync = setInterval(schedule, 30_000);
  const heartbeats = setInterval(() => void beat(), HEARTBEAT_EVERY_MS);
  const leaks = new LeakScan({ store, records, client, prefix, keep: ownHandle, log: logger });
  void leaks.run();
  const leakScan = setInterval(() => void leaks.run(), 2_500);

  const signal = await termination;
  log('terminating', { signal });
  clearInterval(resync);
  clearInterval(leakScan);
  clearInterval(heartbeats);
  watch?.close();
  await syncs.stop();
  await server.close();
  await bird.stop();
  await heartbeat.stop().catch((e: Error) => log('heartbeat-failed', { error: e.message, why: 'it ends with its lease' }));
  client.close();
  nl.close();
  log('stopped', { node: opts.node });
  return 0;
}

/** The pods' MTU: the VXLAN device's when a pool may encapsulate (the device exists then), else the underlay's. */
function vethMtu(underlay: Underlay, pools: Pool[]): number {
  return vxlanPools(pools).length > 0 ? underlay.mtu - VXLAN_OVERHEAD : underlay.mtu;
}
