// FRR (Debian's frr) as a top-of-rack router, configured by hand as an
// operator would: bgpd with its defaults (graceful restart helper, the
// "traditional" profile), one eBGP session per node, zebra putting what it
// learns into the router's kernel. Both daemons run in the router's netns
// as FRR's own user, every file of theirs (config, pidfiles, vty and zserv
// sockets, logs) in the test's temp dir; /var/tmp, where FRR keeps crash
// logs, is a tmpfs of their own mount namespace (ip netns exec makes one).
import { chownSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { Harness, Netns } from './harness';

const FRR_LIB = '/usr/lib/frr';

export interface FrrRouterOptions {
  ip: string;
  asn: number;
  /** the nodes it has a session with, and their AS */
  nodes: { ip: string }[];
  nodeAsn: number;
}

/** bgpd's configuration: the defaults, but for the eBGP policy an operator writes (FRR takes no eBGP route without one). */
export function frrConfig(o: FrrRouterOptions): string {
  return `frr defaults traditional
hostname tor
! what a failing test shows: sessions, graceful restart, updates
debug bgp neighbor-events
debug bgp graceful-restart
debug bgp updates
!
router bgp ${o.asn}
 bgp router-id ${o.ip}
 no bgp ebgp-requires-policy
${o.nodes.map((n) => ` neighbor ${n.ip} remote-as ${o.nodeAsn}\n`).join('')}exit
!
`;
}

export class FrrRouter {
  private constructor(readonly h: Harness, readonly ns: Netns, readonly dir: string) {}

  static async start(h: Harness, ns: Netns, o: FrrRouterOptions): Promise<FrrRouter> {
    const dir = await h.tempDir('frr');
    const frr = Number(execFileSync('id', ['-u', 'frr'], { encoding: 'utf8' }).trim());
    const frrGid = Number(execFileSync('id', ['-g', 'frr'], { encoding: 'utf8' }).trim());
    writeFileSync(join(dir, 'frr.conf'), frrConfig(o));
    chownSync(dir, frr, frrGid);
    chownSync(join(dir, 'frr.conf'), frr, frrGid);
    const router = new FrrRouter(h, ns, dir);
    router.daemon('zebra');
    await router.untilAnswers('zebra', 'show version');
    router.daemon('bgpd');
    await router.untilAnswers('bgpd', 'show bgp summary');
    return router;
  }

  private daemon(name: 'zebra' | 'bgpd'): void {
    const d = this.dir;
    const args = [`${FRR_LIB}/${name}`, '-P', '0', '-f', join(d, 'frr.conf'), '-i', join(d, `${name}.pid`), '-z', join(d, 'zserv.api'), '--vty_socket', d, '--log', `file:${join(d, `${name}.log`)}`];
    this.h.startDaemon(this.ns, 'sh', ['-c', 'mount -t tmpfs tscni-frr /var/tmp && exec "$@"', 'frr', ...args]);
  }

  private async untilAnswers(daemon: string, command: string): Promise<void> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const r = await this.vtysh(['-d', daemon, '-c', command]);
      if (r.exitCode === 0) return;
      if (Date.now() > deadline) throw new Error(`FRR ${daemon} does not answer: ${r.stderr}${this.log(daemon)}`);
      await new Promise((res) => setTimeout(res, 200));
    }
  }

  vtysh(args: string[]) {
    return this.h.execIn(this.ns, 'vtysh', ['--vty_socket', this.dir, ...args], { reject: false, timeout: 10_000 });
  }

  /** bgpd's view of the IPv4 table: prefix → its paths (FRR's JSON). */
  async bgpTable(): Promise<Record<string, Array<{ valid?: boolean; bestpath?: boolean; stale?: boolean; nexthops?: Array<{ ip: string }> }>>> {
    const r = await this.vtysh(['-c', 'show ip bgp json']);
    return (JSON.parse(r.stdout) as { routes?: Record<string, never> }).routes ?? {};
  }

  /** One session's state as bgpd has it ("Established", "Active", ...). */
  async sessionState(peer: string): Promise<string> {
    const r = await this.vtysh(['-c', `show bgp neighbors ${peer} json`]);
    try {
      return (JSON.parse(r.stdout) as Record<string, { bgpState?: string }>)[peer]?.bgpState ?? '?';
    } catch {
      return r.stdout.trim() || r.stderr.trim();
    }
  }

  log(daemon: string): string {
    try {
      return readFileSync(join(this.dir, `${daemon}.log`), 'utf8');
    } catch {
      return '';
    }
  }

  /** SIGTERM to both daemons by their pidfiles: they exit cleanly, and zebra takes its routes out of the router's kernel. */
  stop(): void {
    for (const name of ['bgpd', 'zebra']) {
      try {
        process.kill(Number(readFileSync(join(this.dir, `${name}.pid`), 'utf8').trim()), 'SIGTERM');
      } catch {
        // not running
      }
    }
  }
}
