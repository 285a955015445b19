// What the agent remembers of each attachment it gave an address to, so that
// it can later tell a leaked address from one in use without guessing from
// routes (a pod of bridge, ptp or macvlan has no route of ours, and a routed
// ADD holds its address before it adds one). cluster-ipam sends CNI_NETNS
// with its assign; the agent writes, before it takes the address,
// <run-dir>/attachments/<handle, URI-encoded> =
//   {handle, netns, netnsId: "<dev>:<inode>" as the agent saw it, bootId, assigned}
// and removes it on release. The attachment is gone when the node booted
// since, or when the netns path no longer names the namespace it named
// (deleted, or another namespace mounted there): a namespace's inode is its
// identity for as long as it lives. The kernel may give a freed inode to a
// later namespace; mounted at the same path, it reads as the same one, which
// only hides a leak, never frees an address in use.
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface AttachmentRecord {
  handle: string;
  /** CNI_NETNS of the ADD; absent when the plugin sent none */
  netns?: string;
  /** the namespace that path named at assign time, as this agent saw it; absent when it could not see it */
  netnsId?: string;
  bootId: string;
  /** ISO time of the assign */
  assigned: string;
}

/** The running kernel's boot ID: a record of another boot names namespaces that no longer exist. */
export function currentBootId(): string {
  return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
}

/** "<dev>:<inode>" of the namespace `path` names, or undefined when nothing is there. */
export function netnsIdentity(path: string): string | undefined {
  try {
    const s = statSync(path, { bigint: true });
    return `${s.dev}:${s.ino}`;
  } catch {
    return undefined;
  }
}

/**
 * Why the record's attachment is gone from this node, or undefined while it
 * may still be there (also when the record cannot tell: a netns the agent
 * could not see when it wrote it).
 */
export function attachmentGone(r: AttachmentRecord, bootId: string): string | undefined {
  if (r.bootId !== bootId) return `the node booted since it was attached (${r.assigned}), and its netns went with it`;
  if (r.netns === undefined || r.netnsId === undefined) return undefined;
  const now = netnsIdentity(r.netns);
  if (now === undefined) return `its netns ${r.netns} is gone`;
  if (now !== r.netnsId) return `its netns ${r.netns} is another namespace now`;
  return undefined;
}

export class AttachmentRecords {
  readonly dir: string;
  private readonly bootId = currentBootId();

  constructor(runDir: string) {
    this.dir = join(runDir, 'attachments');
  }

  private file(handle: string): string {
    return join(this.dir, encodeURIComponent(handle));
  }

  /** Written before the address is taken, so no allocation of a live ADD is ever without its record. */
  note(handle: string, netns: string | undefined, now = new Date()): void {
    const netnsId = netns === undefined ? undefined : netnsIdentity(netns);
    const record: AttachmentRecord = { handle, ...(netns !== undefined ? { netns } : {}), ...(netnsId ? { netnsId } : {}), bootId: this.bootId, assigned: now.toISOString() };
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const tmp = `${this.file(handle)}.tmp`;
    writeFileSync(tmp, JSON.stringify(record), { mode: 0o600 });
    renameSync(tmp, this.file(handle));
  }

  forget(handle: string): void {
    try {
      unlinkSync(this.file(handle));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }

  /** Every readable record by handle; a file that is not one is skipped (it proves nothing either way). */
  all(): Map<string, AttachmentRecord> {
    const out = new Map<string, AttachmentRecord>();
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return out;
    }
    for (const name of names) {
      if (name.endsWith('.tmp')) continue;
      try {
        const r = JSON.parse(readFileSync(join(this.dir, name), 'utf8')) as AttachmentRecord;
        if (typeof r.handle === 'string' && typeof r.bootId === 'string' && typeof r.assigned === 'string') out.set(r.handle, r);
      } catch {
        // being replaced, or not ours
      }
    }
    return out;
  }
}
