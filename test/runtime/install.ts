// What the runtimes get: our plugins exactly as an installation lays them out,
// as a tree to copy over a node's root. `make install DESTDIR=…` when the
// Makefile has it; until then the layout the bundles expect beside dist/, i.e.
// /opt/cni/bin/<plugin> with its addons in /opt/cni/lib/tscni.
import { cp, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT as REPO, run } from '../integration/harness';

async function makefileHasInstall(): Promise<boolean> {
  return /^install:/m.test(await readFile(join(REPO, 'Makefile'), 'utf8'));
}

/** Fills `tree` (an empty temp dir) and returns it. */
export async function installTree(tree: string): Promise<string> {
  if (await makefileHasInstall()) {
    await run('make', ['-s', '-C', REPO, 'install', `DESTDIR=${tree}`], { timeout: 120_000 });
  } else {
    await cp(join(REPO, 'dist/bin'), join(tree, 'opt/cni/bin'), { recursive: true });
    await cp(join(REPO, 'dist/lib/tscni'), join(tree, 'opt/cni/lib/tscni'), { recursive: true });
  }
  return tree;
}

export const BRIDGE_CONFLIST = join(REPO, 'conf-examples/10-bridge.conflist');
