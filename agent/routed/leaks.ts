// Addresses that leak: an allocation whose attachment vanished without a DEL.
// The evidence is the attachment itself, never a missing route (a pod of
// bridge, ptp or macvlan has none of ours, and a routed ADD holds its
// address before it adds one): the record the agent wrote when it gave the
// address (lib/ipam/cluster/attachments.ts) names a netns that is gone, on
// two scans at least a settle time apart, and the address was not given out
// within that settle time. An allocation without a record (given by an agent
// before records existed, or by another process) proves nothing and is never
// a leak. The agent reports those at /tscni/v1/ipam/leaks/<node> for `tscni
// ipam check`, and frees its own once, a settle time after it starts.
import type { EtcdClient } from '../../lib/datastore/etcd';
import type { Logger } from '../log';
import { attachmentGone, currentBootId, type AttachmentRecord, type AttachmentRecords } from '../../lib/ipam/cluster/attachments';
import type { ClusterIpamStore, StoredBlock } from '../../lib/ipam/cluster/store';
import { formatCidr } from '../../lib/ip/address';
import { leaksKey, type Leak } from '../../lib/routed/leaks-record';

/** How long an attachment must look gone, and an address must have been given out, before it can be a leak. */
export const SETTLE_MS = 5_000;

export interface GoneAttachment {
  ips: string[];
  block: StoredBlock;
  /** what shows it gone */
  why: string;
}

/**
 * The allocations of `blocks` whose attachment is gone (handle → what it
 * holds and why), skipping `keep` handles and addresses given out within
 * `settleMs` of `now`.
 */
export function goneAttachments(
  blocks: StoredBlock[], records: Map<string, AttachmentRecord>, bootId: string, keep: (handle: string) => boolean, now: number, settleMs = SETTLE_MS,
): Map<string, GoneAttachment> {
  const out = new Map<string, GoneAttachment>();
  for (const b of blocks) {
    for (const [ip, handle] of Object.entries(b.allocations)) {
      const record = records.get(handle);
      if (keep(handle) || !record || now - Date.parse(record.assigned) < settleMs) continue;
      const why = attachmentGone(record, bootId);
      if (why === undefined) continue;
      const entry = out.get(handle) ?? { ips: [], block: b, why };
      entry.ips.push(ip);
      out.set(handle, entry);
    }
  }
  return out;
}

/** Records whose handle holds nothing in `blocks` any more (released by GC, or never given), older than the settle time. */
export function staleRecords(blocks: StoredBlock[], records: Map<string, AttachmentRecord>, now: number, settleMs = SETTLE_MS): string[] {
  const held = new Set(blocks.flatMap((b) => Object.values(b.allocations)));
  return [...records.values()].filter((r) => !held.has(r.handle) && now - Date.parse(r.assigned) >= settleMs).map((r) => r.handle);
}

/** Remembers since when each handle's attachment has looked gone; reports those seen so on two scans at least `settleMs` apart. */
export class LeakTracker {
  private readonly firstSeen = new Map<string, number>();
  private lastWritten = '';

  constructor(private readonly node: string, private readonly settleMs = SETTLE_MS) {}

  update(now: number, gone: Map<string, GoneAttachment>): Leak[] {
    for (const h of [...this.firstSeen.keys()]) if (!gone.has(h)) this.firstSeen.delete(h);
    const leaks: Leak[] = [];
    for (const [handle, { ips, block, why }] of gone) {
      const first = this.firstSeen.get(handle) ?? now;
      this.firstSeen.set(handle, first);
      if (now - first < this.settleMs) continue;
      leaks.push({
        handle, ips, block: formatCidr(block.cidr), pool: block.pool, since: new Date(first).toISOString(),
        evidence: `node ${this.node}: the attachment holding ${ips.join(', ')} is gone: ${why} (seen since ${new Date(first).toISOString()})`,
      });
    }
    return leaks.sort((a, b) => a.handle.localeCompare(b.handle));
  }

  /** Writes the report when it changed, so a quiet node does not churn etcd. */
  async publish(client: EtcdClient, prefix: string, leaks: Leak[]): Promise<void> {
    const text = JSON.stringify({ leaks });
    if (text === this.lastWritten) return;
    await client.put(leaksKey(prefix, this.node), text);
    this.lastWritten = text;
  }
}

/**
 * Frees the `leaks` whose attachment is still gone as they are freed (an ADD
 * that reused a handle since wrote a fresh record), and their records.
 */
export async function freeLeaks(store: ClusterIpamStore, records: AttachmentRecords, leaks: Leak[], bootId: string): Promise<{ addresses: string[]; handles: Set<string> }> {
  const now = records.all();
  const handles = new Set(leaks.map((l) => l.handle).filter((h) => {
    const r = now.get(h);
    return r !== undefined && attachmentGone(r, bootId) !== undefined;
  }));
  if (handles.size === 0) return { addresses: [], handles };
  const addresses = await store.releaseWhere((h) => handles.has(h));
  for (const h of handles) records.forget(h);
  return { addresses, handles };
}

export interface LeakScanOptions {
  store: ClusterIpamStore;
  records: AttachmentRecords;
  client: EtcdClient;
  prefix: string;
  /** the agent's own handles, never leaks */
  keep: (handle: string) => boolean;
  log: Logger;
}

/**
 * One scan of this node's blocks: drops records of what was released,
 * publishes what is gone on two scans a settle time apart, and, the first
 * time it can confirm what its first scan saw, frees those (the start-up
 * sweep: what vanished while the agent was down). A running agent only
 * reports; `tscni ipam release` frees.
 */
export class LeakScan {
  private readonly tracker: LeakTracker;
  private readonly bootId = currentBootId();
  private firstScan?: number;
  private swept = false;
  private busy = false;

  constructor(private readonly o: LeakScanOptions) {
    this.tracker = new LeakTracker(o.store.node);
  }

  async run(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const { store, records, keep } = this.o;
      const now = Date.now();
      const blocks = await store.listBlocks(store.node);
      const known = records.all();
      for (const handle of staleRecords(blocks, known, now)) records.forget(handle);
      let found = this.tracker.update(now, goneAttachments(blocks, known, this.bootId, keep, now));
      this.firstScan ??= now;
      if (!this.swept && now - this.firstScan >= SETTLE_MS) {
        this.swept = true;
        const freed = await freeLeaks(store, records, found, this.bootId);
        this.o.log.event('leak-sweep', { freed: freed.addresses.join(',') || 'none', why: 'attachments gone from this node on two scans a settle time apart' });
        found = found.filter((l) => !freed.handles.has(l.handle));
      }
      await this.tracker.publish(this.o.client, this.o.prefix, found);
    } catch (e) {
      this.o.log.once('leak-scan', 'leak-scan-failed', { error: (e as Error).message });
    } finally {
      this.busy = false;
    }
  }
}

