// The leak evidence: an attachment record against what the node has now.
// A plain file stands in for the netns path here (a namespace's identity is
// its inode, as any file's is); the integration tests use real namespaces.
import { mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { goneAttachments, staleRecords } from '../../agent/routed/leaks';
import { attachmentGone, AttachmentRecords, currentBootId } from '../../lib/ipam/cluster/attachments';
import { parseCidr, type Cidr } from '../../lib/ip/address';
import type { StoredBlock } from '../../lib/ipam/cluster/store';

describe('attachment records and the leak evidence', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tscni-unit-attach-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const records = new AttachmentRecords(dir);
  const boot = currentBootId();
  const block: StoredBlock = { pool: 'default', cidr: parseCidr('10.244.0.0/26') as Cidr, node: 'a', modRevision: 1, allocations: {} };
  const netns = (name: string) => {
    const path = join(dir, name);
    writeFileSync(path, '');
    return path;
  };

  it('a record reads back; its attachment is there while its netns path names the same namespace', () => {
    const path = netns('p1');
    records.note('net/c1/eth0', path, new Date(0));
    const r = records.all().get('net/c1/eth0')!;
    expect(r).toMatchObject({ handle: 'net/c1/eth0', netns: path, bootId: boot, assigned: new Date(0).toISOString() });
    expect(attachmentGone(r, boot)).toBeUndefined();
    renameSync(path, `${path}.old`);
    netns('p1'); // another namespace mounted at the same path while the first lives elsewhere
    expect(attachmentGone(r, boot)).toBe(`its netns ${path} is another namespace now`);
    unlinkSync(path);
    expect(attachmentGone(r, boot)).toBe(`its netns ${path} is gone`);
    expect(attachmentGone(records.all().get('net/c1/eth0')!, 'another-boot')).toMatch(/^the node booted since it was attached/);
  });

  it('a netns the agent could not see, or none sent, proves nothing', () => {
    records.note('net/c2/eth0', join(dir, 'never-there'), new Date(0));
    records.note('net/c3/eth0', undefined, new Date(0));
    expect(attachmentGone(records.all().get('net/c2/eth0')!, boot)).toBeUndefined();
    expect(attachmentGone(records.all().get('net/c3/eth0')!, boot)).toBeUndefined();
  });

  it('a leak needs a record whose netns is gone and an address older than the settle time; the agent\'s own handles never are', () => {
    const now = Date.parse('2026-01-01T00:00:10Z');
    records.note('net/old/eth0', netns('old'), new Date(now - 6_000));
    records.note('net/new/eth0', netns('new'), new Date(now - 1_000));
    records.note('tscni:agent/a/vxlan.tscni', netns('own'), new Date(0));
    for (const name of ['old', 'new', 'own']) unlinkSync(join(dir, name));
    const b = { ...block, allocations: { '10.244.0.1': 'net/old/eth0', '10.244.0.2': 'net/new/eth0', '10.244.0.3': 'net/unrecorded/eth0', '10.244.0.4': 'tscni:agent/a/vxlan.tscni' } };
    const gone = goneAttachments([b], records.all(), boot, (h) => h.startsWith('tscni:agent/'), now);
    expect([...gone.keys()]).toEqual(['net/old/eth0']);
    expect(gone.get('net/old/eth0')).toMatchObject({ ips: ['10.244.0.1'], why: `its netns ${join(dir, 'old')} is gone` });
    // records of handles that hold nothing any more go, once older than the settle time
    expect(staleRecords([b], records.all(), now).sort()).toEqual(['net/c1/eth0', 'net/c2/eth0', 'net/c3/eth0']);
    records.forget('net/old/eth0');
    records.forget('net/old/eth0');
    expect(records.all().has('net/old/eth0')).toBe(false);
  });
});
