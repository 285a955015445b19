// Test fixture: lib/nft's masquerade API as a small program, bundled by the
// test and run with `ip netns exec`, so nft runs in the node netns exactly as a
// plugin would and the test process itself never calls nft.
import {
  addMasquerade, addMasqueradeCommands, checkMasquerade, gcMasquerade, removeMasquerade,
} from '../../lib/nft/masquerade';
import type { NftCommand } from '../../lib/nft/json';
import { applyCommands } from '../../lib/nft/run';

type Request =
  | { op: 'add' | 'check'; network: string; containerId: string; ifname: string; addresses: string[] }
  | { op: 'remove'; network: string; containerId: string; ifname: string }
  | { op: 'gc'; network: string; valid: { containerId: string; ifname: string }[] }
  // many pods in one batch: larger than what fits in one nft argument
  | { op: 'bulk-add'; network: string; count: number }
  | { op: 'apply'; commands: NftCommand[] };

async function main(): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const req = JSON.parse(Buffer.concat(chunks).toString()) as Request;
  switch (req.op) {
    case 'add':
      return addMasquerade(req);
    case 'check':
      return checkMasquerade(req);
    case 'remove':
      return removeMasquerade(req);
    case 'gc':
      return gcMasquerade(req.network, req.valid);
    case 'apply':
      return applyCommands(req.commands);
    case 'bulk-add': {
      const pods = Array.from({ length: req.count }, (_, i) =>
        addMasqueradeCommands({ network: req.network, containerId: `bulk-${i}`, ifname: 'eth0',
          addresses: [`10.244.${100 + (i >> 8)}.${i & 255}/16`] }));
      return applyCommands(pods.flat());
    }
  }
}

main().then(
  (out) => process.stdout.write(JSON.stringify(out ?? null)),
  (e: Error) => {
    process.stderr.write(`${e.message}\n`);
    process.exit(1);
  },
);
