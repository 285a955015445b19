// The host-local IPAM plugin: addresses from local range sets, reservations in
// the reference's on-disk layout. Exported as a Plugin so that our bridge can
// run it in-process (through dispatch) instead of spawning a second Node.
import { CniError, ErrorCode, UNKNOWN_ERROR_CODE } from '../../cni/errors';
import type { CmdArgs, GcArgs, Plugin } from '../../cni/skel';
import type { Dns, IpConfig, Result } from '../../cni/types';
import { formatIp, parseIp, type Ip } from '../../ip/address';
import { allocateFromRangeSet } from '../allocator';
import { DiskStore } from '../disk-store';
import { allocatableCount } from '../range';
import { formatRangeSet, rangeSetContains, type RangeSet } from '../range-set';
import { readResolvConf } from '../resolv-conf';
import { heldBy, type IpamStore, type Reservation } from '../store';
import { parseHostLocalConfig, parseHostLocalDelConfig, requestedFromCniArgs, type HostLocalConfig, type HostLocalDelConfig } from './config';

type Args = CmdArgs<HostLocalConfig>;

/** Runs `fn` on the network's store under its lock; without create, a store that does not exist yet yields `absent`. */
async function withStore<T>(conf: HostLocalDelConfig, create: boolean, absent: T, fn: (s: IpamStore) => Promise<T>): Promise<T> {
  const store = DiskStore.open(conf.dataDir, conf.name, { create });
  if (!store) return absent;
  try {
    return await store.withLock(() => fn(store));
  } finally {
    await store.close();
  }
}

/** Pairs each requested address with the range set that holds it; all checked before anything is reserved. */
function requestsPerSet(sets: RangeSet[], requested: Ip[]): (Ip | undefined)[] {
  const perSet: (Ip | undefined)[] = sets.map(() => undefined);
  const unmatched: string[] = [];
  for (const ip of requested) {
    const i = sets.findIndex((s, k) => perSet[k] === undefined && rangeSetContains(s, ip));
    if (i < 0) unmatched.push(formatIp(ip));
    else perSet[i] = ip;
  }
  if (unmatched.length > 0) {
    throw new CniError(UNKNOWN_ERROR_CODE, `failed to allocate all requested IPs: ${unmatched.join(' ')} (not in a range set, or two for one set)`);
  }
  return perSet;
}

async function add(a: Args): Promise<Result> {
  const conf = a.config;
  const perSet = requestsPerSet(conf.rangeSets, [...conf.requestedIps, ...requestedFromCniArgs(a.args)]);
  const dns: Dns | undefined = conf.resolvConf ? readResolvConf(conf.resolvConf, 'ipam.resolvConf') : undefined;

  const ips = await withStore(conf, true, [], async (store) => {
    const out: IpConfig[] = [];
    try {
      for (const [i, set] of conf.rangeSets.entries()) {
        const requested = perSet[i];
        try {
          out.push(await allocateFromRangeSet({
            store, set, rangeSetId: String(i), containerId: a.containerId, ifname: a.ifname, ...(requested ? { requested } : {}),
          }));
        } catch (e) {
          if (e instanceof CniError) throw new CniError(e.code, `failed to allocate for range ${i}: ${e.msg}`, e.details);
          throw e;
        }
      }
    } catch (e) {
      // Release exactly what this call reserved: a duplicate ADD must not
      // take away the reservation the first ADD made.
      for (const ip of out) await store.release(ip.address.split('/')[0]!);
      throw e;
    }
    return out;
  });
  return { cniVersion: a.cniVersion, ips, routes: conf.routes, ...(dns ? { dns } : {}) };
}

async function del(a: CmdArgs<HostLocalDelConfig>): Promise<void> {
  await withStore(a.config, false, [], (store) => store.releaseById(a.containerId, a.ifname));
}

async function check(a: Args): Promise<void> {
  const conf = a.config;
  const reservations = await withStore<Reservation[]>(conf, false, [], (store) => store.list());
  const mine = reservations.filter((r) => heldBy(r, a.containerId, a.ifname));
  const mineIn = (set: RangeSet) => mine.filter((r) => { const ip = parseIp(r.ip); return ip && rangeSetContains(set, ip); });
  for (const [i, set] of conf.rangeSets.entries()) {
    if (mineIn(set).length === 0) {
      throw new CniError(UNKNOWN_ERROR_CODE, `host-local: no address of range set ${i} (${formatRangeSet(set)}) is reserved for container ${a.containerId}, interface ${a.ifname}`);
    }
  }
  for (const ip of a.prevResult?.ips ?? []) {
    const addr = ip.address.split('/')[0]!;
    const parsed = parseIp(addr);
    if (!parsed || !conf.rangeSets.some((s) => rangeSetContains(s, parsed))) continue;
    if (!mine.some((r) => r.ip === formatIp(parsed))) {
      throw new CniError(UNKNOWN_ERROR_CODE, `host-local: prevResult address ${addr} is not reserved for container ${a.containerId}, interface ${a.ifname}`);
    }
  }
}

async function gc(a: GcArgs<HostLocalConfig>): Promise<void> {
  const valid = a.validAttachments;
  await withStore(a.config, false, undefined, async (store) => {
    for (const r of await store.list()) {
      if (!valid.some((v) => heldBy(r, v.containerID, v.ifname))) await store.release(r.ip);
    }
  });
}

/** Not ready when a range set has no address left: an ADD could only fail. */
async function status(a: Args): Promise<void> {
  const conf = a.config;
  const reservations = await withStore<Reservation[]>(conf, false, [], (store) => store.list());
  const reserved = reservations.map((r) => parseIp(r.ip)).filter((ip): ip is Ip => ip !== undefined);
  for (const [i, set] of conf.rangeSets.entries()) {
    const capacity = set.reduce((n, r) => n + allocatableCount(r), 0n);
    const used = reserved.filter((ip) => rangeSetContains(set, ip)).length;
    if (BigInt(used) >= capacity) {
      throw new CniError(ErrorCode.NotAvailable, `no IP addresses available in range set ${i}: ${formatRangeSet(set)}`);
    }
  }
}

export const hostLocal: Plugin<HostLocalConfig, HostLocalDelConfig> = {
  name: 'host-local',
  parseConfig: parseHostLocalConfig,
  parseDelConfig: parseHostLocalDelConfig,
  add,
  del,
  check,
  gc,
  status,
};
