// groupId: a group named on a command line, resolved as chown(1) resolves it.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { groupId } from '../../lib/unix-group';

const dir = mkdtempSync(join(tmpdir(), 'tscni-unit-group-'));
const file = join(dir, 'group');
writeFileSync(file, 'root:x:0:\ncni:x:997:alice,bob\n1000:x:1001:\nbroken:x:\n');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('groupId', () => {
  it('takes a name from the group file', () => {
    expect(groupId('cni', file)).toBe(997);
    expect(groupId('root', file)).toBe(0);
  });

  it('takes a number as a GID, unless a group has it as its name', () => {
    expect(groupId('4321', file)).toBe(4321);
    expect(groupId('1000', file)).toBe(1001);
  });

  it('says why anything else names no group', () => {
    expect(groupId('nobody-here', file)).toBe(`no group "nobody-here" in ${file}`);
    expect(groupId('broken', file)).toBe(`no group "broken" in ${file}`);
    expect(groupId('4294967295', file)).toBe(`no group "4294967295" in ${file}`);
    expect(groupId('', file)).toBe('must be a group name or GID');
    expect(groupId('cni', join(dir, 'missing'))).toMatch(/^cannot read .*missing: ENOENT/);
  });
});
