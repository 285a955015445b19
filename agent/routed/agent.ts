// One routed node's agent, in order:
//   1. BIRD starts from the last good configuration, before etcd is read;
//   2. the node registers (waiting for etcd), its heartbeat starts, the pod
//      MTU is written and cluster IPAM is served on <run-dir>/agent.sock;
//   3. a watch on the datastore, and a resync every 30 s, request a sync; the
//      serial runner runs one at a time: the desired state read from etcd,
//      then its steps in a fixed order (the VXLAN device, BIRD, the kernel
//      routes, the VXLAN neighbours);
//   4. a leak scan every 2.5 s; the heartbeat a third of its TTL apart;
//   5. on the signal everything stops, BIRD for a graceful restart, and the
//      kernel state stays for the next start.
import { mkdirSync, writeFileSync } from 'node:fs';
import { EtcdClient } from '../../lib/datastore/etcd';
import { watchPrefix, type Watch } from '../../lib/datastore/etcd-watch';
import { nodeKey } from '../../lib/datastore/routed-nodes';
import type { Block } from '../../lib/ipam/cluster/block';
import type { Pool } from '../../lib/ipam/cluster/pool';
import { ClusterIpamStore } from '../../lib/ipam/cluster/store';
import { serveClusterIpam } from '../../lib/ipam/cluster/server';
import { AttachmentRecords } from '../../lib/ipam/cluster/attachments';
import { formatCidr } from '../../lib/ip/address';
import type { Rtnl } from '../../lib/netlink';
import { writePodMtu } from '../../lib/routed/pod-mtu';
import { birdPaths } from '../../lib/routed/run-dir';
import { blockUse, writeStatus, type AgentStatus } from '../../lib/routed/status-file';
import type { Logger } from '../log';
import { SerialRunner } from '../serial-runner';
import type { Underlay } from '../underlay';
import { VXLAN_OVERHEAD } from '../vtep/vtep';
import { BirdProcess } from './bird-process';
import { readCluster, readDesired } from './desired';
import { HEARTBEAT_EVERY_MS } from './heartbeat';
import { LeakScan } from './leaks';
import type { RoutedOptions } from './options';
import { Registration } from './registration';
import { BirdStep } from './steps/bird';
import { reconcileBlockRoutes } from './steps/routes';
import { VxlanStep } from './steps/vxlan';
import { legacyTunnelHandle, tunnelHandle, vxlanPools } from './vxlan';
import { impactOf } from './watch-events';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A periodic resync repairs drift nobody announced (a route deleted by hand). */
const RESYNC_EVERY_MS = 30_000;
const LEAK_SCAN_EVERY_MS = 2_500;

/** The pods' MTU: the VXLAN device's when a pool may encapsulate (the device exists then), else the underlay's. */
function vethMtu(underlay: Underlay, pools: Pool[]): number {
  return vxlanPools(pools).length > 0 ? underlay.mtu - VXLAN_OVERHEAD : underlay.mtu;
}

export class RoutedAgent {
  private terminated = false;
  private status: AgentStatus | undefined;
  private podMtu: number | undefined;
  private watch: Watch | undefined;
  private readonly client: EtcdClient;
  private readonly store: ClusterIpamStore;
  private readonly registration: Registration;
  private readonly birdStep: BirdStep;
  private readonly vxlanStep: VxlanStep;
  // One sync at a time; changes that arrive meanwhile make one more.
  private readonly syncs = new SerialRunner(async () => {
    try {
      await this.sync();
    } catch (e) {
      this.logger.event('sync-failed', { error: (e as Error).message });
      await sleep(1_000);
      this.syncs.request();
    }
  });

  constructor(
    private readonly opts: RoutedOptions,
    private readonly nl: Rtnl,
    private readonly underlay: Underlay,
    private readonly underlay6: { address: string; dev: string } | undefined,
    private readonly logger: Logger,
  ) {
    // BIRD's own state (its watch restarts it without etcd) goes to the status file as it changes.
    this.birdStep = new BirdStep(new BirdProcess(birdPaths(opts.runDir), logger.event, () => this.publishStatus()), logger);
    this.client = new EtcdClient(opts.etcd.connection);
    this.store = new ClusterIpamStore(this.client, opts.etcd.prefix, opts.node);
    this.registration = new Registration(this.client, opts, underlay.publicIp, () => this.terminated, logger, () => this.schedule());
    this.vxlanStep = new VxlanStep(nl, this.client, this.store, opts.etcd.prefix, opts.node, underlay, logger);
  }

  /** Runs until the signal; the signal that ended it. */
  async run(signals: Promise<NodeJS.Signals>): Promise<NodeJS.Signals> {
    const { opts, logger, store, registration } = this;
    const log = logger.event;
    const termination = signals.then((s) => {
      this.terminated = true;
      return s;
    });
    mkdirSync(opts.runDir, { recursive: true, mode: 0o755 });
    writeFileSync(opts.nodeNameFile, `${opts.node}\n`);
    await this.birdStep.startFromLastGood();
    await registration.register();
    await registration.beat();
    // The pod MTU is in place before the first plugin can ask for an address;
    // when etcd does not answer now, the first sync writes it.
    try {
      this.podMtu = vethMtu(this.underlay, await store.listPools());
      writePodMtu(opts.runDir, this.podMtu);
    } catch (e) {
      log('pod-mtu-unknown', { error: (e as Error).message, why: 'the pools could not be read; the first sync writes it' });
    }
    const records = new AttachmentRecords(opts.runDir);
    const server = await serveClusterIpam(opts.socketPath, store, { records, group: opts.socketGroup });
    log('ipam-serving', { socket: opts.socketPath, group: opts.socketGroup });

    if (!this.terminated) {
      this.startWatch();
      this.schedule();
    }
    const resync = setInterval(() => this.schedule(), RESYNC_EVERY_MS);
    const heartbeats = setInterval(() => void registration.beat(), HEARTBEAT_EVERY_MS);
    const ownHandle = (h: string) => h === tunnelHandle(opts.node) || h === legacyTunnelHandle(opts.node);
    const leaks = new LeakScan({ store, records, client: this.client, prefix: opts.etcd.prefix, keep: ownHandle, log: logger });
    void leaks.run();
    const leakScan = setInterval(() => void leaks.run(), LEAK_SCAN_EVERY_MS);

    const signal = await termination;
    log('terminating', { signal });
    clearInterval(resync);
    clearInterval(leakScan);
    clearInterval(heartbeats);
    this.watch?.close();
    await this.syncs.stop();
    await server.close();
    await this.birdStep.bird.stop();
    await registration.stop();
    this.client.close();
    return signal;
  }

  private publishStatus(): void {
    if (this.status) writeStatus(this.opts.runDir, { ...this.status, bird: this.birdStep.bird.status });
  }

  private schedule(): void {
    if (!this.terminated) this.syncs.request();
  }

  /** One sync: the desired state, then each step in turn; the order of the steps matters. */
  private async sync(): Promise<void> {
    const { opts, logger, underlay } = this;
    const cluster = await readCluster(this.client, this.store, opts);
    const vtep = await this.vxlanStep.ensureDevice(cluster.self, cluster.pools);
    if (vethMtu(underlay, cluster.pools) !== this.podMtu) {
      this.podMtu = vethMtu(underlay, cluster.pools);
      writePodMtu(opts.runDir, this.podMtu);
      logger.event('pod-mtu', { mtu: String(this.podMtu), why: 'for pods attached from now on' });
    }
    const desired = await readDesired(this.store, opts, underlay, this.underlay6, cluster, vtep);
    for (const p of desired.ignored) logger.once(`record:${p}`, 'ignored-record', { problem: p });
    this.status = {
      node: opts.node, pid: process.pid, ip: underlay.publicIp, ...(opts.ip6 ? { ip6: opts.ip6 } : {}), asn: opts.asn, routeReflector: opts.routeReflector,
      updated: new Date().toISOString(), blocks: desired.mine.map(blockUse), ignored: desired.ignored,
    };
    this.publishStatus();
    for (const p of desired.lonely6) {
      logger.once(`vxlan6:${p.name}`, 'vxlan-unavailable', { pool: p.name, why: 'IPv6 blocks ride the VXLAN device an IPv4 pool with vxlan builds; no IPv4 pool encapsulates, so they are not encapsulated' });
    }
    // A record deleted (or garbled) under the running agent: every session closes until it is written again.
    if (!desired.self) {
      logger.event('node-removed', { node: opts.node, why: 'its record is gone; BGP sessions closed until it is written again' });
      this.registration.reregister();
    }
    await this.birdStep.apply(desired.birdInput);
    // Only now the kernel routes (see steps/routes.ts), then the VXLAN neighbours.
    await reconcileBlockRoutes(this.nl, desired, vtep, logger);
    if (vtep !== undefined) await this.vxlanStep.reconcilePeers(vtep, desired);
  }

  /**
   * An allocation in a block of this node: the status file counts it. A sync
   * under way may have read the block before the change, so one more runs.
   */
  private allocationsChanged(blocks: Block[]): void {
    const mine = blocks.filter((b) => b.node === this.opts.node);
    if (mine.length === 0) return;
    if (this.syncs.busy || !this.status) {
      this.schedule();
      return;
    }
    const changed = new Map(mine.map((b) => [formatCidr(b.cidr), blockUse(b)]));
    this.status = { ...this.status, updated: new Date().toISOString(), blocks: this.status.blocks.map((u) => changed.get(u.cidr) ?? u) };
    this.publishStatus();
  }

  private startWatch(): void {
    const { prefix } = this.opts.etcd;
    this.watch = watchPrefix(this.client, `${prefix}/`, {
      onEvents: (events) => {
        if (events.some((e) => e.type === 'delete' && e.kv.key === nodeKey(prefix, this.opts.node))) {
          this.logger.event('own-record-deleted', { node: this.opts.node, why: 'the agent runs: it registers again' });
          this.registration.reregister();
        }
        const impacts = events.map((e) => impactOf(prefix, e));
        if (impacts.some((i) => i.kind === 'sync')) this.schedule();
        else this.allocationsChanged(impacts.flatMap((i) => (i.kind === 'allocations' ? [i.block] : [])));
      },
      onCompacted: () => {
        this.startWatch();
        this.schedule();
      },
      onConnection: (up, reason) => {
        this.logger.event(up ? 'watch-up' : 'watch-down', { reason });
        if (up) this.schedule();
      },
    });
  }
}
