// Where and how a routed agent reports the addresses that leak on its node
// (agent/routed/leaks.ts finds them), for `tscni ipam check` to read back.

export const leaksDir = (prefix: string) => `${prefix}/ipam/leaks/`;
export const leaksKey = (prefix: string, node: string) => `${leaksDir(prefix)}${node}`;

export interface Leak {
  handle: string;
  ips: string[];
  block: string;
  pool: string;
  /** when this node first found its attachment gone */
  since: string;
  evidence: string;
}

/**
 * A node's stored report, as the agent's LeakTracker.publish() writes it. A record that is not one
 * reads as reporting nothing: no address is ever freed on its say.
 */
export function decodeLeaks(text: string): Leak[] {
  try {
    const leaks = (JSON.parse(text) as { leaks?: unknown }).leaks;
    if (!Array.isArray(leaks)) return [];
    return leaks.filter((l): l is Leak => typeof l?.handle === 'string' && Array.isArray(l.ips) && l.ips.every((ip: unknown) => typeof ip === 'string'));
  } catch {
    return [];
  }
}
