// tscni-agent: the per-node daemon. The first argument names the mode; each
// mode's code is loaded only when it runs.
const USAGE = `usage: tscni-agent <mode> [flags]
  overlay   lease a subnet from etcd and carry pod traffic between nodes (flanneld's job)
            (tscni-agent overlay --help: the flags)
  routed    register the node, serve cluster IPAM, announce its blocks by BGP through BIRD (calico-node's job)
            (tscni-agent routed --help: the flags)
`;

const MODES: Record<string, () => Promise<(args: string[]) => Promise<number>>> = {
  overlay: async () => (await import('./overlay/main')).overlayMain,
  routed: async () => (await import('./routed/main')).routedMain,
};

async function main(argv: string[]): Promise<number> {
  const [mode, ...rest] = argv;
  if (mode === undefined || mode === 'help' || mode === '--help' || mode === '-h') {
    process.stdout.write(USAGE);
    return mode === undefined ? 2 : 0;
  }
  const load = MODES[mode];
  if (!load) {
    process.stderr.write(`tscni-agent: unknown mode ${JSON.stringify(mode)}\n\n${USAGE}`);
    return 2;
  }
  return (await load())(rest);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`tscni-agent: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  },
);
