// Test fixture: lib/nft's masquerade API and its nfnetlink element access as a
// small program, bundled by the test and run with `ip netns exec`, so nft and
// the netfilter socket act in the node netns exactly as in a plugin, and the
// test process itself never touches a ruleset.
import {
  addMasquerade, addMasqueradeCommands, checkMasquerade, gcMasquerade, removeMasquerade,
} from '../../lib/nft/masquerade';
import { deleteSetElements, listSetElements, type KernelElement } from '../../lib/nft/elements';
import type { NftCommand, TableRef } from '../../lib/nft/json';
import { applyCommands } from '../../lib/nft/run';
import { applyRuleset, withChainMarkers } from '../../lib/nft/add-elements';
import { addSpoofCheckCommands } from '../../plugins/bridge/spoofcheck';
import { addPortmapCommands, type PortmapTarget } from '../../plugins/portmap/nft-rules';
import { addPortmap } from '../../plugins/portmap/nft-state';
import { parseAttrList, parseAttrs, stringAttr } from '../../lib/netlink/attr';
import { NFNL_SUBSYS, NFT_MSG, NfnlChannel } from '../../lib/netlink/nfnetlink';

type Request =
  | { op: 'add' | 'check'; network: string; containerId: string; ifname: string; addresses: string[] }
  | { op: 'remove'; network: string; containerId: string; ifname: string }
  | { op: 'gc'; network: string; valid: { containerId: string; ifname: string }[] }
  // many pods in one batch: larger than what fits in one nft argument
  | { op: 'bulk-add'; network: string; count: number }
  | { op: 'apply'; commands: NftCommand[] }
  // nfnetlink: a set's elements (keys in hex), and deleting those with the given comments in one transaction
  | { op: 'elements'; table: TableRef; set: string }
  | { op: 'delete-elements'; table: TableRef; sets: string[]; comments: string[] }
  // deleting elements as an earlier 'elements' answer showed them
  | { op: 'delete-listed'; table: TableRef; elements: ReturnType<typeof shown>[] }
  // ADD's batches: the masquerade, spoof check and portmap builders' commands, applied as ADD applies
  // them (nft or nfnetlink, as the ruleset decides) or, with viaNft, always through nft
  | { op: 'add-ruleset'; viaNft?: boolean; masquerade?: Parameters<typeof addMasqueradeCommands>[0];
      spoofcheck?: Parameters<typeof addSpoofCheckCommands>[0]; portmap?: PortmapTarget }
  | { op: 'add-portmap'; target: PortmapTarget }
  // every attribute of every element of a set, as the kernel lists it: type -> hex
  | { op: 'raw-elements'; table: TableRef; set: string };

const shown = (e: KernelElement) => ({
  set: e.set, key: e.key.toString('hex'), keyEnd: e.keyEnd?.toString('hex'), flags: e.flags, comment: e.comment,
});

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
    case 'elements':
      return NfnlChannel.use(async (ch) => (await listSetElements(ch, req.table, req.set)).map(shown));
    case 'delete-elements':
      return NfnlChannel.use(async (ch) => {
        const listed = [];
        for (const set of req.sets) listed.push(...(await listSetElements(ch, req.table, set)));
        await deleteSetElements(ch, req.table, listed.filter((e) => req.comments.includes(e.comment ?? '')));
      });
    case 'bulk-add': {
      const pods = Array.from({ length: req.count }, (_, i) =>
        addMasqueradeCommands({ network: req.network, containerId: `bulk-${i}`, ifname: 'eth0',
          addresses: [`10.244.${100 + (i >> 8)}.${i & 255}/16`] }));
      return applyCommands(pods.flat());
    }
    case 'add-ruleset': {
      const commands = [
        ...(req.masquerade ? addMasqueradeCommands(req.masquerade) : []),
        ...(req.spoofcheck ? addSpoofCheckCommands(req.spoofcheck) : []),
        ...(req.portmap ? addPortmapCommands(req.portmap) : []),
      ];
      if (!req.viaNft) return applyRuleset(commands);
      await applyCommands(withChainMarkers(commands));
      return { via: 'nft' };
    }
    case 'add-portmap':
      return addPortmap(req.target);
    case 'raw-elements':
      return NfnlChannel.use(async (ch) => {
        const answers = await ch.dump('raw elements', NFNL_SUBSYS.NFTABLES, NFT_MSG.GETSETELEM, req.table.family,
          [stringAttr(1, req.table.name), stringAttr(2, req.set)]);
        return answers.flatMap((a) => parseAttrList(parseAttrs(a).get(3) ?? Buffer.alloc(0)).map((e) =>
          Object.fromEntries(parseAttrList(e.payload).map((x) => [x.type, x.payload.toString('hex')]))));
      });
    case 'delete-listed':
      return NfnlChannel.use((ch) => deleteSetElements(ch, req.table, req.elements.map((e) => ({
        ...e, key: Buffer.from(e.key, 'hex'), keyEnd: e.keyEnd === undefined ? undefined : Buffer.from(e.keyEnd, 'hex'),
      }))));
  }
}

main().then(
  (out) => process.stdout.write(JSON.stringify(out ?? null)),
  (e: Error) => {
    process.stderr.write(`${e.message}\n`);
    process.exit(1);
  },
);
