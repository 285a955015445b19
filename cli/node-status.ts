// tscni node status: this node's routed mode at a glance, as calicoctl node
// status shows it: whether the agent and BIRD run, the BGP sessions BIRD
// has (read from its control socket), the node's blocks and how full each
// is (from the agent's status file), the records in etcd the agent left out
// and why (from the same file), and the pod routes the kernel holds; and
// what the agent's watch of BIRD saw: restarts, a refused configuration.
// Exit 0 when the agent and BIRD both answer, 1 otherwise.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { kindOfProtocol, type SessionKind } from '../lib/routed/session-names';
import { DEFAULT_RUN_DIR, runningPid, birdPaths } from '../lib/routed/run-dir';
import { readStatus, type BirdStatus } from '../lib/routed/status-file';
import { ROUTE_PROTOCOL } from '../lib/route-protocol';
import { birdc, showProtocols, type BirdProtocol } from '../lib/bird/control';
import { askAgent } from '../lib/ipam/cluster/protocol';
import { parseCidr, prefixBounds, type Cidr } from '../lib/ip/address';
import { Rtnl } from '../lib/netlink';
import { FlagError, parseFlags } from '../lib/flags';

export const NODE_USAGE = `usage:
  tscni node status [--run-dir DIR]
      the routed agent and BIRD of this node, its BGP peers, blocks and pod routes
      (run dir default ${DEFAULT_RUN_DIR}, as tscni-agent routed's)
`;

/** BIRD's kernel protocol marks its routes with RTPROT_BIRD. */
const RTPROT_BIRD = 12;

const PEER_TYPE: Record<SessionKind, string> = { mesh: 'node-to-node mesh', reflector: 'route reflector', client: 'reflector client', external: 'external' };

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}

/** "mesh_10_250_0_12" -> "10.250.0.12" */
const peerAddress = (name: string) => name.slice(name.indexOf('_') + 1).replace(/_/g, '.');

function peersTable(protocols: BirdProtocol[]): string {
  const rows = protocols.filter((p) => p.proto === 'BGP' && kindOfProtocol(p.name) !== undefined).map((p) => [
    peerAddress(p.name), PEER_TYPE[kindOfProtocol(p.name)!], p.state, p.since, p.info,
  ]);
  if (rows.length === 0) return '  (no BGP peers)\n';
  return table([['PEER ADDRESS', 'PEER TYPE', 'STATE', 'SINCE', 'INFO'], ...rows]);
}

/** A single address (or a smaller prefix) inside the block: a pod's host route. */
function insideBlock(block: Cidr, dst: string): boolean {
  const c = parseCidr(dst);
  if (typeof c === 'string' || c.ip.family !== block.ip.family) return false;
  const b = prefixBounds(block);
  return c.ip.value >= b.first && c.ip.value <= b.last && c.prefix > block.prefix;
}

async function routeLines(blocks: Cidr[]): Promise<string[]> {
  return Rtnl.use(undefined, async (nl) => {
    const names = new Map((await nl.links.list()).map((l) => [l.index, l.name]));
    const dev = (i?: number) => (i === undefined ? '' : ` dev ${names.get(i) ?? i}`);
    const lines: string[] = [];
    for (const family of [4, 6] as const) {
      for (const r of await nl.routes.list({ family })) {
        if (r.protocol === RTPROT_BIRD) lines.push(`${r.dst}${r.gw ? ` via ${r.gw}` : ''}${dev(r.dev)}  (learned by BGP)`);
        else if (r.protocol === ROUTE_PROTOCOL.routed && r.type === 'blackhole') lines.push(`blackhole ${r.dst}  (this node's block)`);
        else if (r.protocol === ROUTE_PROTOCOL.routed) lines.push(`${r.dst} via ${r.gw}${dev(r.dev)} onlink  (through VXLAN)`);
        else if (r.type === 'unicast' && !r.gw && blocks.some((b) => insideBlock(b, r.dst))) {
          lines.push(`${r.dst}${dev(r.dev)}  (pod on this node)`);
        }
      }
    }
    return lines;
  });
}

/** What the agent's watch of BIRD has to say: a restart under way, the restarts it made, a configuration BIRD refused. */
function birdWatchLines(bird: BirdStatus | undefined): string[] {
  if (!bird) return [];
  const lines: string[] = [];
  if (bird.state === 'restarting') lines.push('BIRD: died, the agent is restarting it from the last good configuration');
  if (bird.restarts > 0 && bird.lastRestart) {
    lines.push(`BIRD restarted by the agent ${bird.restarts} time${bird.restarts === 1 ? '' : 's'}, last at ${bird.lastRestart.at}: ${bird.lastRestart.reason}`);
  }
  if (bird.rejectedConfig) {
    lines.push(`BIRD configuration refused at ${bird.rejectedConfig.at}, the last good one runs: ${bird.rejectedConfig.error.split('\n')[0]}`);
  }
  return lines;
}

export async function runNode(args: string[]): Promise<number> {
  const [verb, ...rest] = args;
  let runDir = DEFAULT_RUN_DIR;
  try {
    if (verb !== 'status') throw new FlagError(verb === undefined ? 'node needs a command' : `unknown node command ${JSON.stringify(verb)}`);
    const { values, positional } = parseFlags(rest, { 'run-dir': 'string' });
    if (positional.length > 0) throw new FlagError(`unexpected argument ${JSON.stringify(positional[0])}`);
    if (typeof values['run-dir'] === 'string') runDir = values['run-dir'];
  } catch (e) {
    if (!(e instanceof FlagError)) throw e;
    process.stderr.write(`tscni: node: ${e.message}\n\n${NODE_USAGE}`);
    return 2;
  }
  if (!existsSync(runDir)) {
    process.stderr.write(`tscni: node status: ${runDir} does not exist: no routed agent has run on this node (--run-dir)\n`);
    return 1;
  }

  const status = readStatus(runDir);
  const out: string[] = [];
  out.push(`node ${status?.node ?? '(unknown)'}${status ? `, ${status.ip}${status.ip6 ? `, ${status.ip6}` : ''}, AS ${status.asn}${status.routeReflector ? ', route reflector' : ''}` : ''} (run dir ${runDir})`);

  let agentUp = false;
  try {
    agentUp = (await askAgent(join(runDir, 'agent.sock'), { op: 'pools' }, 3_000)).ok === true;
  } catch (e) {
    out.push(`agent: not running: ${(e as Error).message}`);
  }
  if (agentUp) out.push(`agent: running${status ? `, pid ${status.pid}, last sync ${status.updated}` : ''}`);

  const paths = birdPaths(runDir);
  let protocols: BirdProtocol[] | undefined;
  try {
    const info = await birdc(paths.socket, ['show', 'status'], 3_000);
    protocols = await showProtocols(paths.socket);
    const version = /BIRD (\S+)/.exec(info)?.[1] ?? '?';
    out.push(`BIRD: running, pid ${runningPid(paths) ?? '?'}, version ${version}${/Router ID is (\S+)/.exec(info) ? `, router id ${/Router ID is (\S+)/.exec(info)![1]}` : ''}`);
  } catch (e) {
    out.push(`BIRD: not running: ${(e as Error).message.split('\n')[0]}`);
  }
  out.push(...birdWatchLines(status?.bird));

  out.push('', 'BGP peers');
  out.push(protocols ? peersTable(protocols).trimEnd() : '  (BIRD does not answer)');

  out.push('', 'Blocks');
  const blocks = status?.blocks ?? [];
  if (blocks.length === 0) out.push('  (none)');
  else {
    out.push(table([['BLOCK', 'POOL', 'IN USE'], ...blocks.map((b) => [
      b.cidr, b.pool, `${b.allocated} of ${b.capacity} (${Math.round((100 * b.allocated) / Math.max(1, b.capacity))}%)`,
    ])]).trimEnd());
  }

  // What the agent left out of etcd's records, and why: a record that does not pass the checks never stops the others.
  const ignored = status?.ignored ?? [];
  if (ignored.length > 0) {
    out.push('', 'Ignored records');
    out.push(...ignored.map((p) => `  ${p.replace(/[^\x20-\x7e]/g, '?')}`));
  }

  out.push('', 'Pod routes');
  const cidrs = blocks.map((b) => parseCidr(b.cidr)).filter((c): c is Cidr => typeof c !== 'string');
  const routes = await routeLines(cidrs);
  out.push(...(routes.length > 0 ? routes.map((l) => `  ${l}`) : ['  (none)']));
  process.stdout.write(out.join('\n') + '\n');
  return agentUp && protocols !== undefined ? 0 : 1;
}
