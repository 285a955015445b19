// A group named on a command line, as the kernel knows it: a GID. A name is
// looked up in /etc/group, the file chown(1) reads too; only a name that is
// not there and is all digits is taken as a GID, as chown takes one.
import { readFileSync } from 'node:fs';

export const GROUP_FILE = '/etc/group';

/** The largest GID: (gid_t)-1 means "no change" to chown(2). */
const MAX_GID = 0xfffffffe;

/** The GID of `group`, or a string saying why it names none. */
export function groupId(group: string, groupFile = GROUP_FILE): number | string {
  if (group === '') return 'must be a group name or GID';
  let text: string;
  try {
    text = readFileSync(groupFile, 'utf8');
  } catch (e) {
    return `cannot read ${groupFile}: ${(e as Error).message}`;
  }
  // name:password:GID:members
  for (const line of text.split('\n')) {
    const [name, , gid] = line.split(':');
    if (name === group && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  }
  if (/^\d+$/.test(group) && Number(group) <= MAX_GID) return Number(group);
  return `no group "${group}" in ${groupFile}`;
}
