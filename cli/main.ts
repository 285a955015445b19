// tscni: run a network configuration by hand as a runtime would (cnitool's
// commands and environment), see which plugins are installed, or run the demo.
// Each command loads only what it needs: the demo's harness never loads for
// `tscni add`.
import { asCniError } from '../lib/cni/errors';
import type { CnitoolCommand } from './cnitool/commands';

const USAGE = `usage:
  tscni add|check|del|gc|status <network> <netns-path>
      run the conflist named <network> against the network namespace at
      <netns-path>, as cnitool does (container ID derived from the path);
      ADD prints the result. "gc" deletes every cached attachment of the
      network and then lets each plugin collect garbage, as cnitool's gc does.
  tscni version
      the plugins in CNI_PATH and the CNI versions each one supports
  tscni overlay config set|get [flags]
      flannel's network config in etcd (tscni overlay help: the flags)
  tscni pool create|list [flags]
      routed mode's IP pools in etcd (tscni pool help: the flags)
  tscni bgp peer add|list|remove [flags]
      routed mode's external BGP peers in etcd (tscni bgp help: the flags)
  tscni ipam check | release --from-report FILE [flags]
      routed mode's leaked addresses and blocks, with evidence; free exactly those
  tscni node status [--run-dir DIR]
      routed mode on this node: agent, BIRD, BGP peers, blocks, pod routes
  tscni demo [--mode bridge|overlay|routed] [--backend vxlan|host-gw|udp] [--keep]
      a virtual cluster in network namespaces, with a connectivity matrix
      (overlay: 3 nodes, etcd, tscni-agent overlay; --backend default vxlan;
      routed: 4 nodes on two segments, tscni-agent routed with BIRD;
      exit 3 when this build does not have the mode or backend yet)

environment (add/check/del/gc/status):
  NETCONFPATH    conflist directory           (default /etc/cni/net.d)
  CNI_PATH       plugin directories, ":"      (default /opt/cni/bin)
  CNI_IFNAME     interface name in the netns  (default eth0)
  CNI_ARGS       "K=V;K2=V2" passed to the plugins
  CAP_ARGS       capability arguments, JSON object, e.g. '{"portMappings":[...]}'
  CNI_CACHE_DIR  libcni result cache          (default /var/lib/cni)
`;

const CNITOOL: readonly string[] = ['add', 'check', 'del', 'gc', 'status'];

function fail(msg: string, exitCode = 1): number {
  process.stderr.write(`tscni: ${msg}\n`);
  return exitCode;
}

async function cnitool(command: CnitoolCommand, args: string[]): Promise<number> {
  if (args.length !== 2) return fail(`${command} needs <network> <netns-path>\n\n${USAGE}`, 2);
  const { runCnitool } = await import('./cnitool/commands');
  try {
    const out = await runCnitool(command, args[0]!, args[1]!, process.env);
    if (out) process.stdout.write(out + '\n');
    return 0;
  } catch (e) {
    // The CNI error as the plugin (or libcni's rules) gave it: code, message, details.
    const err = asCniError(e);
    return fail(`${command} ${args[0]}: CNI error ${err.code}: ${err.msg}${err.details ? `; ${err.details}` : ''}`);
  }
}

async function demo(args: string[]): Promise<number> {
  let mode = 'bridge';
  let backend: string | undefined;
  let keep = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--keep') keep = true;
    else if (a === '--mode' && args[i + 1] !== undefined) mode = args[++i]!;
    else if (a.startsWith('--mode=')) mode = a.slice('--mode='.length);
    else if (a === '--backend' && args[i + 1] !== undefined) backend = args[++i]!;
    else if (a.startsWith('--backend=')) backend = a.slice('--backend='.length);
    else return fail(`demo: unknown argument ${JSON.stringify(a)}\n\n${USAGE}`, 2);
  }
  if (backend !== undefined && mode !== 'overlay') return fail(`demo: --backend is for --mode overlay only\n\n${USAGE}`, 2);
  const { runDemo } = await import('./demo/index');
  return runDemo({ mode, keep, ...(backend !== undefined ? { backend } : {}) });
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command !== undefined && CNITOOL.includes(command)) return cnitool(command as CnitoolCommand, rest);
  switch (command) {
    case 'version': {
      const { versionReport } = await import('./version');
      process.stdout.write(await versionReport(process.env));
      return 0;
    }
    case 'overlay': {
      const { runOverlay, OVERLAY_USAGE } = await import('./overlay/config');
      if (rest[0] === 'help' || rest[0] === '--help') {
        process.stdout.write(OVERLAY_USAGE);
        return 0;
      }
      return runOverlay(rest, process.env);
    }
    case 'pool': {
      const { runPool, POOL_USAGE } = await import('./pool');
      if (rest[0] === 'help' || rest[0] === '--help') {
        process.stdout.write(POOL_USAGE);
        return 0;
      }
      return runPool(rest, process.env);
    }
    case 'bgp': {
      const { runBgp, BGP_USAGE } = await import('./bgp');
      if (rest[0] === 'help' || rest[0] === '--help') {
        process.stdout.write(BGP_USAGE);
        return 0;
      }
      return runBgp(rest, process.env);
    }
    case 'ipam': {
      const { runIpam, IPAM_USAGE } = await import('./ipam');
      if (rest[0] === 'help' || rest[0] === '--help') {
        process.stdout.write(IPAM_USAGE);
        return 0;
      }
      return runIpam(rest, process.env);
    }
    case 'node': {
      const { runNode, NODE_USAGE } = await import('./node-status');
      if (rest[0] === 'help' || rest[0] === '--help') {
        process.stdout.write(NODE_USAGE);
        return 0;
      }
      return runNode(rest);
    }
    case 'demo':
      return demo(rest);
    case 'help':
    case '-h':
    case '--help':
      process.stdout.write(USAGE);
      return 0;
    default:
      return fail(command === undefined ? `a command is needed\n\n${USAGE}` : `unknown command ${JSON.stringify(command)}\n\n${USAGE}`, 2);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`tscni: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  },
);
