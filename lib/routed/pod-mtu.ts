// The MTU routed pods get, from the node's agent: as Calico's node writes
// /var/lib/calico/mtu for its CNI plugin. With VXLAN on the node, every
// pod's interfaces take the tunnel's MTU (the underlay's − 50), whichever
// node its packets go to: a pod cannot know which peers are across a
// segment, and a pod MTU above the tunnel's leaves large packets to path MTU
// discovery, which fails wherever ICMP is filtered. Without VXLAN, the
// underlay's. The file sits beside the agent's socket, where the plugin
// looks for the agent anyway.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../fs-atomic';

const MIN_MTU = 68;
const MAX_MTU = 65535;

export const podMtuFile = (agentDir: string) => join(agentDir, 'mtu');

/** Written whole or not at all: a plugin reading meanwhile sees the old value. */
export function writePodMtu(agentDir: string, mtu: number): void {
  writeFileAtomic(podMtuFile(agentDir), `${mtu}\n`);
}

/** The agent's word on the pod MTU, or undefined when there is none (no agent, or a value that is no MTU). */
export function readPodMtu(agentSocket: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(podMtuFile(dirname(agentSocket)), 'utf8').trim();
  } catch {
    return undefined;
  }
  const mtu = Number(text);
  return /^\d+$/.test(text) && mtu >= MIN_MTU && mtu <= MAX_MTU ? mtu : undefined;
}
