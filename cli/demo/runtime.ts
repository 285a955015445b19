// The demo's container runtime: runs a conflist for one attachment the way
// libcni does (lib/cni/conflist.ts builds each plugin's config: list name and
// version, prevResult, runtimeConfig from capabilities), with every plugin a
// separate process inside the node's netns, started with `env -i` and only
// PATH and CNI_* set, as containerd or CRI-O start them.
import { pluginConfig } from '../../lib/cni/conflist';
import { parseResult } from '../../lib/cni/convert';
import { CniError } from '../../lib/cni/errors';
import { failureToError, findInPath } from '../../lib/cni/exec';
import type { ConfList, Result } from '../../lib/cni/types';
import { runCniPlugin, type CniCommand, type Netns } from '../../lib/lab/index';
import type { Teardown } from './types';

export interface PodAttachment {
  containerId: string;
  pod: Netns;
  ifname: string;
  /** e.g. { portMappings: [...] }, handed to plugins that declare the capability */
  capabilityArgs?: Record<string, unknown>;
}

export interface AddOutcome {
  result: Result;
  /** wall time of the whole chain, every plugin a fresh process */
  durationMs: number;
}

export class NodeRuntime {
  constructor(
    readonly node: Netns,
    readonly list: ConfList,
    /** CNI_PATH: where plugin types resolve, first match wins */
    readonly cniPath: string[],
  ) {}

  /** The executable each plugin type resolves to; throws naming the missing one. */
  resolvePlugins(): string[] {
    return this.list.plugins.map((p, i) => findInPath(p.type, this.cniPath, `plugins[${i}].type`));
  }

  async add(a: PodAttachment): Promise<AddOutcome> {
    const started = performance.now();
    let result: Result | undefined;
    for (let i = 0; i < this.list.plugins.length; i++) {
      result = await this.invoke('ADD', a, i, result);
    }
    return { result: result!, durationMs: performance.now() - started };
  }

  /** DEL in reverse order with the ADD's result, as libcni does from its cache. */
  async del(a: PodAttachment, prevResult?: Result): Promise<void> {
    for (let i = this.list.plugins.length - 1; i >= 0; i--) await this.invoke('DEL', a, i, prevResult);
  }

  async check(a: PodAttachment, prevResult: Result): Promise<void> {
    for (let i = 0; i < this.list.plugins.length; i++) await this.invoke('CHECK', a, i, prevResult);
  }

  private async invoke(command: CniCommand, a: PodAttachment, i: number, prev?: Result): Promise<Result | undefined> {
    const type = this.list.plugins[i]!.type;
    const out = await runCniPlugin({
      node: this.node,
      pluginPath: findInPath(type, this.cniPath),
      command,
      containerId: a.containerId,
      netns: a.pod,
      ifname: a.ifname,
      config: pluginConfig(this.list, i, prev, a.capabilityArgs),
      cniPath: this.cniPath,
    });
    if (out.exitCode !== 0) {
      const err = failureToError({ ...out, signal: null });
      throw new CniError(err.code, `plugin type="${type}" failed (${command.toLowerCase()}): ${err.msg}`, err.details);
    }
    return command === 'ADD' ? parseResult(out.json, this.list.cniVersion, `result of plugin "${type}"`) : undefined;
  }
}

interface AddedPod {
  name: string;
  attachment: PodAttachment;
  result: Result;
}

/**
 * CNI DEL for every pod, the last added first, each with its ADD result as a
 * runtime keeps it. A failed DEL is reported and the others still run.
 */
export async function deletePods<P extends AddedPod>(pods: P[], runtimeOf: (pod: P) => NodeRuntime): Promise<Teardown> {
  const lines: string[] = [];
  let ok = true;
  for (const p of [...pods].reverse()) {
    const started = performance.now();
    try {
      await runtimeOf(p).del(p.attachment, p.result);
      lines.push(`CNI DEL ${p.name}: ✓ (${Math.round(performance.now() - started)} ms)`);
    } catch (e) {
      ok = false;
      lines.push(`CNI DEL ${p.name}: ✗ ${(e as Error).message}`);
    }
  }
  return { ok, lines };
}

/**
 * Stops what a cluster demo runs: its TCP servers, each node's agent
 * (SIGTERM: the kernel state stays, also with --keep) and etcd, so nothing
 * of the run keeps running; the namespaces stay.
 */
export function stopClusterProcesses(servers: { stop(): void }[], agents: { stop(): Promise<unknown> }[], etcd?: { stop(): Promise<void> }): void {
  for (const s of servers) s.stop();
  for (const a of agents) void a.stop();
  void etcd?.stop();
}
