// tscni-agent overlay: flanneld's job on one node. In order:
//   1. flags, etcd settings, underlay, the network config: all checked before
//      the kernel is touched, so bad input changes nothing; an etcd that does
//      not answer yet (a cluster booting) is waited for, as routed's agent does;
//   2. the backend is chosen, the subnet lease acquired (the same one as
//      last time if it lives), the subnet file written;
//   3. the lease table is read and watched; every change, and a tick once a
//      second, runs one reconcile: the backend's devices, routes, neighbours
//      and FDB against what they should be, and the masquerade chain when
//      the subnet changed or MASQ_CHECK_INTERVAL_MS passed;
//   4. the lease is renewed a third of its TTL apart, through etcd outages;
//   5. SIGTERM stops the loops and leaves everything in place: the lease
//      (it lives its TTL), the kernel state, the masquerade chain.
import { EtcdClient } from '../../lib/datastore/etcd';
import { listSubnetLeases, readFlannelConfig, configKey, subnetsPrefix, type StoredLease } from '../../lib/datastore/flannel';
import { watchPrefix, type Watch } from '../../lib/datastore/etcd-watch';
import { EtcdUnreachableError } from '../../lib/datastore/etcd-http';
import { decodeSubnetLease, leaseSubnetProblem, subnetOfKey } from '../../lib/datastore/flannel-subnets';
import { formatCidr, sameCidr, type Cidr } from '../../lib/ip/address';
import { Rtnl } from '../../lib/netlink';
import { ensureOverlayMasq, removeOverlayMasq } from './masquerade';
import type { Logger } from '../log';
import { untilTerminated } from '../signals';
import type { Backend, Peer } from './backend';
import { createBackend } from './backends';
import { LeaseManager } from './lease-manager';
import type { OverlayOptions } from './options';
import { previousSubnet, writeSubnetFile } from './subnet-file';
import { SerialRunner } from '../serial-runner';
import { findUnderlay } from '../underlay';

/** Healing: how often the kernel is compared with the desired state when nothing in etcd changed. */
const RECONCILE_INTERVAL_MS = 1000;
/**
 * The masquerade chain is read by running nft, which blocks the agent's
 * thread for the whole run (leases, the watch): not once a second, but
 * on a change of the node's subnet and at this interval.
 */
const MASQ_CHECK_INTERVAL_MS = 3000;
/** Waits between start-up attempts while etcd does not answer: doubling up to the longest. */
const ETCD_RETRY_FIRST_MS = 500;
const ETCD_RETRY_LONGEST_MS = 5000;

/** A signal that ends the agent: `received` once it came, so a start-up wait can end early. */
interface Termination {
  signal: Promise<NodeJS.Signals>;
  received: boolean;
}

/**
 * Runs a start-up step that needs etcd until etcd answers it, or the agent is
 * told to stop (undefined). Only an unreachable etcd is waited for; what etcd
 * answers (no config, a bad one) stays the step's error.
 */
async function untilEtcdAnswers<T>(what: string, step: () => Promise<T>, stop: Termination, log: Logger): Promise<T | undefined> {
  for (let delay = ETCD_RETRY_FIRST_MS; !stop.received; delay = Math.min(delay * 2, ETCD_RETRY_LONGEST_MS)) {
    try {
      return await step();
    } catch (e) {
      if (!(e instanceof EtcdUnreachableError)) throw e;
      log.event('etcd-unreachable', { step: what, error: e.message, retry_ms: delay });
      await Promise.race([new Promise((r) => setTimeout(r, delay)), stop.signal]);
    }
  }
  return undefined;
}

export async function runOverlayAgent(o: OverlayOptions, log: Logger): Promise<void> {
  const stop: Termination = { signal: untilTerminated(), received: false };
  void stop.signal.then(() => (stop.received = true));
  const nl = Rtnl.open();
  // A short per-request timeout: renewals of a few-second lease must not hang on a dead member.
  const client = new EtcdClient({ ...o.etcd.connection, timeoutMs: Math.min(5000, Math.max(500, (o.leaseTtl * 1000) / 3)) });
  try {
    const underlay = await findUnderlay(nl, o);
    const stored = await untilEtcdAnswers('read the network config', () => readFlannelConfig(client, o.etcd.prefix), stop, log);
    if (stop.received) return;
    if (!stored) throw new Error(`no network config at ${configKey(o.etcd.prefix)} (write it with: tscni overlay config set)`);
    const config = stored.config;
    const backend = await createBackend({ nl, underlay, config, nodeName: o.nodeName, log });
    log.event('starting', {
      node: o.nodeName, backend: backend.type, network: formatCidr(config.Network), iface: underlay.name, publicIp: underlay.publicIp,
    });

    const leases = new LeaseManager({
      client, prefix: o.etcd.prefix, config, ttlSeconds: o.leaseTtl, log,
      lease: { PublicIP: underlay.publicIp, BackendType: backend.type, ...(backend.leaseData ? { BackendData: backend.leaseData } : {}) },
      previous: previousSubnet(o.subnetFile),
    });
    if (!(await untilEtcdAnswers('acquire the subnet lease', () => leases.acquire(), stop, log))) {
      await backend.stop();
      return;
    }
    const writeFile = () => {
      writeSubnetFile(o.subnetFile, { network: config.Network, subnet: leases.subnet, mtu: backend.mtu, ipMasq: o.ipMasq });
      log.event('subnet-file-written', { path: o.subnetFile, subnet: formatCidr(leases.subnet) });
    };
    writeFile();
    if (!o.ipMasq && (await removeOverlayMasq())) log.event('masquerade-removed', { why: 'no --ip-masq' });

    const node = new OverlayNode(backend, leases, o, log, config.Network);
    if (!(await untilEtcdAnswers('read the leases', async () => (await node.start(client), true), stop, log))) {
      await backend.stop();
      return;
    }
    const timers = [
      setInterval(() => node.kick(), RECONCILE_INTERVAL_MS),
      setInterval(() => void node.renew().then((moved) => moved && writeFile()), leases.renewIntervalMs),
    ];
    const signal = await stop.signal;
    log.event('terminating', { signal, keeping: 'lease, routes, masquerade' });
    for (const t of timers) clearInterval(t);
    await node.stop();
    await backend.stop();
  } finally {
    client.close();
    nl.close();
  }
}

/** The lease table, the watch on it and the serialized reconcile. */
class OverlayNode {
  private readonly table = new Map<string, StoredLease>();
  private watch?: Watch;
  private readonly reconciles = new SerialRunner(() => this.reconcile());
  /** When the masquerade chain was last read, and for which subnet. */
  private masqChecked?: { subnet: Cidr; at: number };
  private stopped = false;
  private etcdDown = false;
  private renewing = false;

  constructor(
    private readonly backend: Backend,
    private readonly leases: LeaseManager,
    private readonly o: OverlayOptions,
    private readonly log: Logger,
    private readonly network: Cidr,
  ) {}

  async start(client: EtcdClient): Promise<void> {
    const { leases, unreadable, revision } = await listSubnetLeases(client, this.o.etcd.prefix);
    // After a compaction the events in between are lost: the listing replaces the whole table.
    this.table.clear();
    for (const l of leases) {
      const problem = leaseSubnetProblem(this.network, l.subnet);
      if (problem) this.log.once(`unreadable ${l.kv.key}`, 'ignored-record', { key: l.kv.key, problem });
      else this.table.set(l.kv.key, l);
    }
    for (const u of unreadable) this.log.once(`unreadable ${u.key}`, 'ignored-record', { key: u.key, problem: u.problem });
    await this.reconcile();
    this.watch = watchPrefix(client, subnetsPrefix(this.o.etcd.prefix), {
      onEvents: (events) => {
        for (const e of events) this.apply(e.type, e.kv.key, e.kv.value, e.kv);
        this.kick();
      },
      onCompacted: () => {
        this.log.event('watch-compacted', { then: 'reading the leases again' });
        void this.start(client);
      },
      onConnection: (up, reason) => this.log.once('watch', up ? 'watch-up' : 'watch-down', { reason }),
    }, { startRevision: revision + 1 });
  }

  private apply(type: 'put' | 'delete', key: string, value: string, kv: StoredLease['kv']): void {
    const subnet = subnetOfKey(this.o.etcd.prefix, key);
    if (type === 'delete') {
      if (this.table.delete(key) && subnet) this.log.event('lease-gone', { subnet: formatCidr(subnet) });
      if (key === this.leases.key) void this.leases.restoreKey().catch((e) => this.log.event('lease-key-restore-failed', { error: (e as Error).message }));
      return;
    }
    const lease = decodeSubnetLease(value);
    const problem = !subnet ? 'not an IPv4 subnet key' : typeof lease === 'string' ? lease : leaseSubnetProblem(this.network, subnet);
    if (!subnet || typeof lease === 'string' || problem) {
      this.log.once(`unreadable ${key}`, 'ignored-record', { key, problem });
      return;
    }
    const isNew = !this.table.has(key);
    this.table.set(key, { subnet, lease, kv });
    this.log.event(isNew ? 'lease-added' : 'lease-changed', { subnet: formatCidr(subnet), publicIp: lease.PublicIP, backend: lease.BackendType });
  }

  /** Asks for a reconcile; one runs at a time, and a request during a run makes one more run after it. */
  kick(): void {
    this.reconciles.request();
  }

  private masqCheckDue(own: Cidr): boolean {
    const last = this.masqChecked;
    return !last || !sameCidr(last.subnet, own) || Date.now() - last.at >= MASQ_CHECK_INTERVAL_MS;
  }

  private async reconcile(): Promise<void> {
    const own = this.leases.subnet;
    const peers: Peer[] = [...this.table.values()]
      .filter((l) => !sameCidr(l.subnet, own))
      .map((l) => ({ subnet: l.subnet, lease: l.lease }));
    try {
      for (const change of await this.backend.reconcile(own, peers)) this.log.event('dataplane', { change });
      if (this.o.ipMasq && this.masqCheckDue(own)) {
        if (await ensureOverlayMasq({ network: formatCidr(this.network), subnet: formatCidr(own) })) {
          this.log.event('masquerade-written', { network: formatCidr(this.network) });
        }
        this.masqChecked = { subnet: own, at: Date.now() };
      }
      this.log.clear('reconcile');
    } catch (e) {
      this.log.once('reconcile', 'reconcile-failed', { error: (e as Error).message });
    }
  }

  /** One renewal; etcd being away is logged once and tried again next time. Returns whether the subnet moved. */
  async renew(): Promise<boolean> {
    // A renewal that hangs on a dead member must not overlap the next: two
    // re-acquisitions at once could each claim a subnet.
    if (this.renewing || this.stopped) return false;
    this.renewing = true;
    try {
      const moved = await this.leases.renew();
      if (this.etcdDown) this.log.event('lease-renewed', { subnet: formatCidr(this.leases.subnet), why: 'etcd reachable again' });
      this.etcdDown = false;
      if (moved) this.kick();
      return moved;
    } catch (e) {
      if (!this.etcdDown) this.log.event('lease-renewal-failed', { error: (e as Error).message, keeping: 'the kernel state' });
      this.etcdDown = true;
      return false;
    } finally {
      this.renewing = false;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.watch?.close();
    await this.reconciles.stop();
  }
}
