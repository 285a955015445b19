// BIRD 2's configuration for one node, rendered from the cluster's state the
// way Calico's confd renders bird.cfg. The agent owns the node's block routes
// in the kernel (blackholes with its own route protocol number); BIRD
// announces the same blocks from its configuration (a static protocol), and
// puts what BGP learned into the kernel as `proto bird`. The blocks are in
// the configuration, not learned from the kernel, because a starting BIRD
// ends its graceful restart as soon as its peers have sent End-of-RIB, and
// then sends its own: routes the kernel protocol had not scanned by then
// (its first scan comes a second after start) would be missing from it, and
// a peer that flushes stale routes at End-of-RIB (FRR) would withdraw them. Sessions: every other node (full mesh), or only the
// reflectors once there are any; a reflector peers with every node, its
// clients marked `rr client`; and the external peers of this node.
//
// IPv6 blocks travel on the same IPv4 sessions (multiprotocol BGP, an ipv6
// channel beside the ipv4 one), announced with the node's IPv6 underlay
// address as next hop: one session per peer whatever the families, so the
// peer table and the reflector topology stay as they are, and the kernel
// gets plain IPv6 routes via an IPv6 neighbour. A node without an IPv6
// underlay address has no ipv6 channel: its peers negotiate IPv4 only.
import { familyBits, formatIp, ipFamily, parseIp, type Family } from '../../lib/ip/address';
import { SESSION_PREFIX, sessionName, type SessionKind } from '../../lib/routed/session-names';

export interface Session {
  kind: SessionKind;
  ip: string;
  asn: number;
  /** who is at the other end: a node name or a BGP peer's name */
  peer: string;
}

export interface BirdInput {
  node: string;
  routerId: string;
  asn: number;
  /** the interface the underlay address is on: next hops resolve through its prefix */
  underlayDev: string;
  /** the blocks this node holds, IPv4 and IPv6 */
  ownBlocks: string[];
  /** remote blocks the agent routes through VXLAN: BIRD must not put their BGP routes in the kernel */
  tunnelBlocks?: string[];
  /** the node's IPv6 underlay: next hop of its IPv6 blocks, and the interface peers' IPv6 next hops resolve through */
  ipv6?: { address: string; dev: string };
  /** rtm_protocol of the agent's block routes */
  routeProtocol: number;
  /** set on a route reflector */
  clusterId?: string;
  sessions: Session[];
}

export interface NodeView {
  name: string;
  ip: string;
  asn: number;
  routeReflector: boolean;
}

/** The iBGP sessions of `self` given every node: Calico's mesh and reflector rules. */
export function meshSessions(self: NodeView, nodes: NodeView[]): Session[] {
  const others = nodes.filter((n) => n.name !== self.name && n.ip !== self.ip);
  const reflectors = nodes.filter((n) => n.routeReflector);
  const session = (kind: SessionKind, n: NodeView): Session => ({ kind, ip: n.ip, asn: n.asn, peer: n.name });
  if (reflectors.length === 0) return others.map((n) => session('mesh', n));
  if (self.routeReflector) return others.map((n) => session(n.routeReflector ? 'reflector' : 'client', n));
  return others.filter((n) => n.routeReflector).map((n) => session('reflector', n));
}

/** A BIRD string: no escapes exist in one, so what could end it or the line (a quote, a backslash, a control character) becomes "_". */
const quote = (s: string) => `"${s.replace(/[^\x20-\x7e]|["\\]/g, '_')}"`;

function prefixSet(cidrs: string[]): string {
  return `[ ${cidrs.join(', ')} ]`;
}

/** BIRD's syntax takes addresses and prefixes literally: everything rendered is checked first. */
function checked(input: BirdInput): BirdInput {
  const address = (family: Family, text: string, what: string) => {
    const ip = parseIp(text);
    if (!ip || ip.family !== family) throw new Error(`BIRD config: ${what} "${text}" is not an IPv${family} address`);
    return formatIp(ip);
  };
  for (const b of [...input.ownBlocks, ...(input.tunnelBlocks ?? [])]) {
    const [addr, len] = b.split('/');
    const family = parseIp(addr ?? '')?.family;
    if (family === undefined) throw new Error(`BIRD config: block "${b}" is not a prefix`);
    if (!/^\d{1,3}$/.test(len ?? '') || Number(len) > familyBits(family)) throw new Error(`BIRD config: block "${b}" has no IPv${family} prefix length`);
  }
  const device = (name: string) => {
    if (!/^[A-Za-z0-9_.:-]+$/.test(name)) throw new Error(`BIRD config: interface name "${name}"`);
    return name;
  };
  const out: BirdInput = {
    ...input,
    underlayDev: device(input.underlayDev),
    routerId: address(4, input.routerId, 'router id'),
    ...(input.clusterId !== undefined ? { clusterId: address(4, input.clusterId, 'cluster id') } : {}),
    ...(input.ipv6 ? { ipv6: { address: address(6, input.ipv6.address, 'IPv6 underlay address'), dev: device(input.ipv6.dev) } } : {}),
    sessions: input.sessions.map((s) => ({ ...s, ip: address(4, s.ip, `peer ${s.peer}`) })),
  };
  // sessions.ts keeps one session per address, which makes the protocol names (from the address) unique
  const addresses = new Set<string>();
  for (const s of out.sessions) {
    if (addresses.has(s.ip)) throw new Error(`BIRD config: two sessions with ${s.ip}`);
    addresses.add(s.ip);
  }
  return out;
}

function sessionBlock(input: BirdInput, s: Session): string {
  const lines = [`protocol bgp ${sessionName(s)} from ${s.kind === 'external' ? 'tscni_external' : 'tscni_node'} {`];
  lines.push(`  description ${quote(`${s.kind} ${s.peer}`)};`);
  lines.push(`  neighbor ${s.ip} as ${s.asn};`);
  if (s.kind === 'client') lines.push('  rr client;', `  rr cluster id ${input.clusterId};`);
  lines.push('}');
  return lines.join('\n');
}

/**
 * What every session shares: short timers, so a dead peer is noticed in
 * seconds; graceful restart, so that peers keep this node's routes while
 * its BIRD restarts (up to 120 s, Calico's and BIRD's default).
 */
const sessionTimers = (input: BirdInput) => `  local ${input.routerId} as ${input.asn};
  hold time 3;
  keepalive time 1;
  connect delay time 1;
  connect retry time 1;
  error wait time 1, 5;
  graceful restart on;
  graceful restart time 120;`;

/**
 * The reloads a `birdc configure` from `before` to `after` needs: BIRD 2.0
 * sees no change in a filter whose prefix set alone changed, so the routes
 * it already took or sent stay as the old set left them. Two filters list
 * blocks: the sessions' imports (this node's blocks) and the kernel's
 * exports (the tunnelled blocks). `before` undefined: what the running
 * BIRD last read is unknown, so both.
 */
const ofFamily = (cidrs: string[], family: Family) => cidrs.filter((c) => ipFamily(c) === family);

/** A filter's test for "one of these prefixes"; BIRD's prefix sets hold one family each. */
const netIn = (cidrs: string[]) => (cidrs.length > 0 ? `net ~ ${prefixSet(cidrs)}` : 'false');

export function reloadsAfterConfigure(before: BirdInput | undefined, after: BirdInput): Array<{ direction: 'in' | 'out'; protocols: string }> {
  const same = (a: string[] | undefined, b: string[] | undefined) => [...(a ?? [])].sort().join() === [...(b ?? [])].sort().join();
  const reloads: Array<{ direction: 'in' | 'out'; protocols: string }> = [];
  if (!before || !same(before.ownBlocks, after.ownBlocks)) {
    const kinds = new Set(after.sessions.map((s) => s.kind));
    for (const kind of kinds) reloads.push({ direction: 'in', protocols: `"${SESSION_PREFIX[kind]}*"` });
  }
  for (const family of after.ipv6 ? [4, 6] as const : [4] as const) {
    const tunnelled = (input: BirdInput | undefined) => ofFamily(input?.tunnelBlocks ?? [], family);
    if (!before || !same(tunnelled(before), tunnelled(after))) reloads.push({ direction: 'out', protocols: `kernel${family}` });
  }
  return reloads;
}

/** Per family: never take a route for an own block, announce the own blocks, keep the tunnelled blocks' BGP routes out of the kernel. */
function familyFilters(input: BirdInput, family: Family): string {
  return `
# Never take a route for a block this node holds.
filter tscni_import${family} {
  if ${netIn(ofFamily(input.ownBlocks, family))} then reject;
  accept;
}

# What BGP learned goes to the kernel, except the blocks the agent routes through VXLAN.
filter tscni_to_kernel${family} {
  if ${netIn(ofFamily(input.tunnelBlocks ?? [], family))} then reject;
  if source = RTS_BGP then accept;
  reject;
}

# This node's blocks, as the agent holds them; their blackholes in the kernel are the agent's (proto ${input.routeProtocol}).
protocol static blocks${family} {
  ipv${family};
${ofFamily(input.ownBlocks, family).map((b) => `  route ${b} blackhole;\n`).join('')}}

protocol kernel kernel${family} {
  ipv${family} {
    import none;
    export filter tscni_to_kernel${family};
  };
  persist;
  scan time 2;
  graceful restart;
  merge paths on;
}
`;
}

/**
 * A session's channels. IPv6 rides the IPv4 session, so its next hop is
 * named (`next hop address`: the session's own address is IPv4); a
 * receiving node resolves it through the IPv6 underlay's prefix.
 */
function channels(input: BirdInput, kind: 'node' | 'external'): string {
  const families: Family[] = input.ipv6 ? [4, 6] : [4];
  return families.map((family) => {
    // A reflector passes on what its clients announce; any other node announces its own blocks only.
    const reflect = kind === 'node' && input.clusterId !== undefined ? ' || source = RTS_BGP' : '';
    const lines = [
      ...(kind === 'node' ? ['gateway recursive;'] : []),
      ...(family === 6 ? [`next hop address ${input.ipv6!.address};`] : []),
      `import filter tscni_import${family};`,
      `export where proto = "blocks${family}"${reflect};`,
    ];
    return `  ipv${family} {\n${lines.map((l) => `    ${l}\n`).join('')}  };`;
  }).join('\n');
}

export function renderBirdConfig(raw: BirdInput): string {
  const input = checked(raw);
  const underlay6 = input.ipv6 ? `
protocol direct underlay6 {
  ipv6;
  interface ${quote(input.ipv6.dev)};
}
` : '';
  return `# Rendered by tscni-agent routed for node ${input.node}; rewritten on every change.
router id ${input.routerId};
log stderr { info, warning, error, fatal };
timeformat protocol "%FT%T";
# A BIRD started in recovery (-R) holds its kernel exports until every session has
# sent End-of-RIB; a peer that went away meanwhile would hold them for BIRD's 240 s.
graceful restart wait 10;

protocol device {
  scan time 2;
}

# The underlay's prefixes, through which BGP next hops resolve.
protocol direct underlay4 {
  ipv4;
  interface ${quote(input.underlayDev)};
}
${underlay6}${familyFilters(input, 4)}${input.ipv6 ? familyFilters(input, 6) : ''}
template bgp tscni_node {
${sessionTimers(input)}
  multihop;
  startup hold time 3;
${channels(input, 'node')}
}

template bgp tscni_external {
${sessionTimers(input)}
${channels(input, 'external')}
}
${input.sessions.map((s) => `\n${sessionBlock(input, s)}\n`).join('')}`;
}
