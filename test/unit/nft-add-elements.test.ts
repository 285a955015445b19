// ADD's element changes as nf_tables messages. The expected bytes are what
// the kernel lists for the same elements after `nft` added them (captured
// from the dump that test/integration/nft-add-elements.test.ts compares on
// every run): key, key end, data and the owner comment, attribute by attribute.
import { describe, expect, it } from 'vitest';
import { elementTransaction, withChainMarkers } from '../../lib/nft/add-elements';
import { parseAttrList, parseAttrs } from '../../lib/netlink/attr';
import { addMasqueradeCommands, masqueradeBaseCommands } from '../../lib/nft/masquerade';
import { addPortmapCommands } from '../../plugins/portmap/nft-rules';
import { addSpoofCheckCommands } from '../../plugins/bridge/spoofcheck';
import type { NftCommand } from '../../lib/nft/json';
import type { NftMessage } from '../../lib/netlink/nfnetlink';

const owner = { network: 'net1', containerId: 'c1', ifname: 'eth0' };
// The owner comment of c1, NUL-terminated, behind its user data TLV header (type 0, length 0x3f).
const COMMENT = '003f7473636e692f366332373065663266323531643537312f34323838386564376534343564636463206e65743d6e6574312069663d657468302069643d633100';

const commands: NftCommand[] = [
  ...addMasqueradeCommands({ ...owner, addresses: ['10.244.1.1/24', 'fd00:244:1::1/64'] }),
  ...addSpoofCheckCommands({ ...owner, hostVeth: 'veth1', mac: '0A:58:0a:f4:01:01' }),
  ...addPortmapCommands({
    ...owner, addresses: ['10.244.1.1', 'fd00:244:1::1'], snat: true, masqAll: false,
    mappings: [
      { hostPort: 8081, containerPort: 80, protocol: 'tcp' },
      { hostPort: 5354, containerPort: 53, protocol: 'udp' },
      { hostPort: 9101, containerPort: 9, protocol: 'tcp', hostIP: '2001:db8::1' },
    ],
  }),
];

function plan(cmds: NftCommand[]) {
  const p = elementTransaction(withChainMarkers(cmds));
  if (typeof p === 'string') throw new Error(p);
  return p;
}

/** The elements NEWSETELEM messages add to each set (a replaced one once), as attribute type -> hex. */
function added(messages: NftMessage[]): Record<string, Record<string, string>[]> {
  const out: Record<string, Record<string, string>[]> = {};
  for (const m of messages.filter((x) => x.type === 12)) {
    const attrs = parseAttrs(Buffer.concat(m.attrs));
    const set = attrs.get(2)!.toString('utf8').replace(/\0$/, '');
    const elems = parseAttrList(attrs.get(3)!).map((e) => Object.fromEntries(parseAttrList(e.payload).map((a) => [String(a.type), a.payload.toString('hex')])));
    const seen = new Set((out[set] ?? []).map((e) => JSON.stringify(e)));
    out[set] = [...(out[set] ?? []), ...elems.filter((e) => !seen.has(JSON.stringify(e)))];
  }
  return out;
}

describe('ADD elements over nfnetlink', () => {
  const p = plan(commands);
  const bySet = added(p.messages);

  it('encodes keys, key ends and data as the kernel holds what nft wrote', () => {
    // ipv4_addr : verdict (jump masq_10_244_1_0_24)
    expect(bySet.masq4).toContainEqual({ 1: '080001000af40101', 2: '2400020008000100fffffffd170002006d6173715f31305f3234345f315f305f32340000', 6: COMMENT });
    expect(bySet.masq6).toContainEqual({
      1: '14000100fd000244000100000000000000000001', 2: '2800020008000100fffffffd190002006d6173715f666430305f3234345f315f5f5f363400000000', 6: COMMENT,
    });
    // inet_proto . inet_service, each field padded to 4 bytes : ipv4_addr / inet_service
    expect(bySet.pm_addr4).toEqual([
      { 1: '0c000100060000001f910000', 2: '080001000af40101', 6: COMMENT },
      { 1: '0c0001001100000014ea0000', 2: '080001000af40101', 6: COMMENT },
    ]);
    expect(bySet.pm_port4).toContainEqual({ 1: '0c000100060000001f910000', 2: '0600010000500000', 6: COMMENT });
    // ipv6_addr . inet_proto . inet_service : ipv6_addr
    expect(bySet.pm_hostip_addr6).toEqual([{
      1: '1c00010020010db800000000000000000000000106000000238d0000', 2: '14000100fd000244000100000000000000000001', 6: COMMENT,
    }]);
    // interval set of ipv4_addr . ipv4_addr: key and key end (attribute 10), also for a single address
    expect(bySet.pm_masq4).toEqual([
      { 1: '0c0001000af401010af40101', 10: '0c0001000af401010af40101', 6: COMMENT },
      { 1: '0c0001007f0000000af40101', 10: '0c0001007fffffff0af40101', 6: COMMENT },
    ]);
    // ifname (16 bytes, NUL padded), and ifname . ether_addr (the MAC padded to 8)
    expect(bySet.spoofchk_ports).toContainEqual({ 1: '1400010076657468310000000000000000000000', 6: COMMENT });
    expect(bySet.spoofchk_allowed).toContainEqual({ 1: '1c000100766574683100000000000000000000000a580af401010000', 6: COMMENT });
  });

  it('claims host ports exclusively (CREATE|EXCL) and adds the others with CREATE alone, as nft does', () => {
    const of = (set: string) => p.messages.filter((m) => parseAttrs(Buffer.concat(m.attrs)).get(2)!.equals(Buffer.from(`${set}\0`)));
    expect(of('pm_addr4').map((m) => [m.type, m.flags])).toEqual([[12, 0x600], [12, 0x600]]);
    // replace: add, delete, add
    expect(of('masq4').map((m) => [m.type, m.flags ?? 0])).toEqual([[12, 0x400], [14, 0], [12, 0x400]]);
  });

  it('checks every chain the batch defines, with one version comment per rule', () => {
    expect([...p.chains.keys()]).toEqual(['inet tscni', 'bridge tscni']);
    const inet = p.chains.get('inet tscni')!.rules;
    expect([...inet.keys()]).toEqual(['masq_postrouting', 'masq_10_244_1_0_24', 'masq_fd00_244_1___64', 'pm_dnat', 'pm_prerouting', 'pm_output', 'pm_postrouting', 'pm_input']);
    expect(inet.get('masq_postrouting')).toEqual(Array(4).fill(inet.get('masq_postrouting')![0]));
    expect(inet.get('masq_postrouting')![0]).toMatch(/^tscni ruleset [0-9a-f]{16}$/);
    expect(new Set([...inet.values()].map((r) => r[0])).size).toBe(8);
  });

  it('a chain\'s version changes with its rules and with the sets they use, not with anything else', () => {
    const marker = (cmds: NftCommand[]) => plan(cmds).chains.get('inet tscni')!.rules.get('masq_postrouting')![0];
    const base = masqueradeBaseCommands();
    expect(marker(base)).toBe(marker(masqueradeBaseCommands()));
    const otherRule = base.map((c) => ((c.add?.rule as any)?.expr?.[0]?.vmap ? { add: { rule: { ...(c.add!.rule as object), expr: [{ accept: null }] } } } : c));
    expect(marker(otherRule)).not.toBe(marker(base));
    const otherSet = base.map((c) => ((c.add?.map as any)?.name === 'masq6' ? { add: { map: { ...(c.add!.map as object), flags: ['interval'] } } } : c));
    expect(marker(otherSet)).not.toBe(marker(base));
    const unrelated = [...base, { add: { set: { family: 'inet', table: 'tscni', name: 'other', type: 'ipv4_addr' } } }];
    expect(marker(unrelated)).toBe(marker(base));
  });

  it('leaves to nft what it does not encode or cannot prove is in place', () => {
    const T = { family: 'inet', table: 'tscni' };
    const elem = (name: string, e: unknown[]): NftCommand => ({ add: { element: { ...T, name, elem: e } } });
    expect(elementTransaction([...masqueradeBaseCommands(), elem('masq4', [['10.0.0.1', { accept: null }]])])).toMatch(/verdict .* is not encoded/);
    expect(elementTransaction([...masqueradeBaseCommands(), elem('masq4', [['fd00::1', { jump: { target: 'x' } }]])])).toMatch(/is not an IPv4 address/);
    expect(elementTransaction([...masqueradeBaseCommands(), elem('nosuchset', ['10.0.0.1'])])).toBe('set inet tscni nosuchset is not declared in the batch');
    expect(elementTransaction([...masqueradeBaseCommands(), { delete: { chain: { ...T, name: 'masq_postrouting' } } }])).toBe('delete chain is not an element change');
    const setOnly: NftCommand[] = [{ add: { set: { ...T, name: 's', type: 'ipv4_addr' } } }, elem('s', ['10.0.0.1'])];
    expect(elementTransaction(setOnly)).toBe('no chain of table inet tscni shows it is this version\'s');
  });
});
