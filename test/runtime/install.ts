// What the runtimes get: our plugins exactly as `make install DESTDIR=…` lays
// them out (one executable and a hard link per plugin in /opt/cni/bin, the
// tscni CLI in /usr/local/bin), as a tree to copy over a node's root.
import { join } from 'node:path';
import { REPO_ROOT as REPO, run } from '../integration/harness';

/** Fills `tree` (an empty temp dir) and returns it. */
export async function installTree(tree: string): Promise<string> {
  await run('make', ['-s', '-C', REPO, 'install', `DESTDIR=${tree}`], { timeout: 120_000 });
  return tree;
}

export const BRIDGE_CONFLIST = join(REPO, 'conf-examples/10-bridge.conflist');
