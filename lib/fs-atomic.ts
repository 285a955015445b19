// Files other processes read at any moment (a plugin, BIRD, flannel's CNI
// plugin): written whole or not at all, through a temp file and a rename, so
// a reader sees the old content or the new, never half of one.
import { renameSync, writeFileSync } from 'node:fs';

export function writeFileAtomic(path: string, text: string, mode = 0o644): void {
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, text, { mode });
  renameSync(temp, path);
}
