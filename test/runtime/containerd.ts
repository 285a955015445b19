// A private containerd in a virtual node: its root in the node's /var/lib
// overlay, its state and socket in the node's private /run, its config in the
// node's /etc, so nothing it writes outlives the node. The `ctr run --cni` test
// and the CRI test each run one.
import { poll } from '../../lib/lab/poll';
import type { Background, RuntimeNode } from './node';

/** containerd's socket inside the node (ctr's default, so ctr needs no flag). */
export const CONTAINERD_SOCKET = '/run/containerd/containerd.sock';

export interface ContainerdConfig {
  /** plugin IDs to leave out, e.g. the CRI plugin when only ctr is used */
  disabledPlugins?: string[];
  /** `[plugins."…"]` tables, appended as given */
  plugins?: string;
}

/** The config file: node-private paths first, then the caller's plugin tables. */
export function containerdConfig(c: ContainerdConfig = {}): string {
  const disabled = (c.disabledPlugins ?? []).map((p) => JSON.stringify(p)).join(', ');
  return `version = 2
root = "/var/lib/containerd"
state = "/run/containerd"
disabled_plugins = [${disabled}]
[grpc]
  address = "${CONTAINERD_SOCKET}"
${c.plugins ?? ''}`;
}

/** Writes the config to the node's /etc/containerd, starts containerd and waits until ctr gets an answer. */
export async function startContainerd(node: RuntimeNode, config: string): Promise<Background> {
  await node.writeFile('/etc/containerd/config.toml', config);
  const daemon = node.spawn('containerd', []);
  await poll('containerd to answer', async () => {
    if (daemon.child.exitCode !== null) throw new Error(`containerd exited: ${daemon.output()}`);
    return (await node.exec('ctr', ['version'], { reject: false })).exitCode === 0;
  }, 30_000, { everyMs: 100, seen: () => daemon.output().slice(-2000) });
  return daemon;
}
