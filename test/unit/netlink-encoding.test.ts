// Byte-level checks of the IFLA_LINKINFO encoders. The expected bytes were
// captured from iproute2 6.1 (`strace -e trace=sendmsg -e write=3 ip link add
// ...` inside a scratch netns), i.e. messages the kernel accepted, with one
// deliberate difference: we set NLA_F_NESTED (0x8000) on IFLA_INFO_DATA and
// IFLA_INFO_SLAVE_DATA, which iproute2 leaves out; their type bytes read
// "02 80" / "05 80" below instead of "02 00" / "05 00".
import { describe, expect, it } from 'vitest';
import { AttrStream } from 'netlink/dist/structs';
import { formatLinkMessage } from 'netlink/dist/rt/structs';
import {
  encodeBridgeLinkInfo,
  encodeBridgePortHairpin,
  encodeDummyLinkInfo,
  encodeIpipLinkInfo,
  encodeMacvlanLinkInfo,
  encodeVethLinkInfo,
  encodeVxlanLinkInfo,
  decodeLinkInfo,
} from '../../lib/netlink/linkinfo';
import { nested, nlattr, parseAttrs, u8attr, u16attr, be16attr, stringAttr, bareStringAttr, NLA_F_NESTED } from '../../lib/netlink/attr';

/** "09 00 01 00 ..." -> bytes; whitespace and line breaks are ignored. */
const hex = (s: string): string => s.replace(/\s+/g, '');
const bytes = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('nlattr writer', () => {
  it('writes len (without padding), type, payload and pads to 4 bytes', () => {
    expect(bytes(u8attr(7, 0))).toBe(hex('05 00 07 00 00 000000'));
    expect(bytes(u16attr(2, 0x1234))).toBe(hex('06 00 02 00 34 12 0000'));
    expect(bytes(be16attr(15, 4789))).toBe(hex('06 00 0f 00 12 b5 0000'));
    expect(bytes(stringAttr(3, 'eth0'))).toBe(hex('09 00 03 00 65 74 68 30 00 000000'));
    expect(bytes(bareStringAttr(1, 'veth'))).toBe(hex('08 00 01 00 76 65 74 68'));
    expect(bytes(nlattr(23, Buffer.alloc(0)))).toBe(hex('04 00 17 00'));
  });

  it('sets NLA_F_NESTED on nests and counts the padded children in len', () => {
    const n = nested(2, [u8attr(7, 1), u8attr(8, 2)]);
    expect(bytes(n)).toBe(hex('14 00 02 80  05 00 07 00 01 000000  05 00 08 00 02 000000'));
    expect(n.readUInt16LE(2) & NLA_F_NESTED).toBe(NLA_F_NESTED);
  });

  it('parses attributes back, flags stripped', () => {
    const m = parseAttrs(Buffer.concat([nested(2, [u8attr(7, 1)]), stringAttr(3, 'x')]));
    expect([...m.keys()]).toEqual([2, 3]);
    expect(parseAttrs(m.get(2)!).get(7)).toEqual(Buffer.of(1));
  });

  it('rejects attributes longer than 65535 bytes', () => {
    expect(() => nlattr(1, Buffer.alloc(70000))).toThrow(/too long/);
  });
});

describe('IFLA_LINKINFO encoders (bytes iproute2 sends)', () => {
  it('vxlan: `ip link add vx0 type vxlan id 42 local 10.250.0.1 dstport 4789 dev <ifindex 2> nolearning`', () => {
    const info = encodeVxlanLinkInfo({ vni: 42, local: '10.250.0.1', port: 4789, underlayIndex: 2, learning: false });
    expect(bytes(info)).toBe(
      hex(`09 00 01 00 76 78 6c 61 6e 00 00 00
           2c 00 02 80
             08 00 03 00 02 00 00 00
             08 00 01 00 2a 00 00 00
             08 00 04 00 0a fa 00 01
             05 00 07 00 00 00 00 00
             06 00 0f 00 12 b5 00 00`),
    );
  });

  it('vxlan with an IPv6 underlay uses IFLA_VXLAN_LOCAL6, ttl and gbp when asked', () => {
    const info = encodeVxlanLinkInfo({ vni: 1, local: 'fd00::1', ttl: 64, gbp: true });
    expect(bytes(info)).toBe(
      hex(`09 00 01 00 76 78 6c 61 6e 00 00 00
           34 00 02 80
             08 00 01 00 01 00 00 00
             14 00 11 00 fd 00 00 00 00 00 00 00 00 00 00 00 00 00 00 01
             05 00 05 00 40 00 00 00
             05 00 07 00 00 00 00 00
             04 00 17 00`),
    );
  });

  it('vxlan rejects a VNI beyond 24 bits', () => {
    expect(() => encodeVxlanLinkInfo({ vni: 1 << 24 })).toThrow(/VNI/);
  });

  it('veth: `ip link add ve0 mtu 1400 type veth peer name ve1 mtu 1400`', () => {
    const info = encodeVethLinkInfo({ name: 've1', mtu: 1400 });
    expect(bytes(info)).toBe(
      hex(`08 00 01 00 76 65 74 68
           28 00 02 80
             24 00 01 00
               00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
               08 00 04 00 78 05 00 00
               08 00 03 00 76 65 31 00`),
    );
  });

  it('veth peer in another netns and with its own MAC (IFLA_NET_NS_FD, IFLA_ADDRESS)', () => {
    const info = encodeVethLinkInfo({ name: 'eth0', netnsFd: 21, mac: '02:00:00:00:00:01' });
    expect(bytes(info)).toBe(
      hex(`08 00 01 00 76 65 74 68
           38 00 02 80
             34 00 01 00
               00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
               0a 00 01 00 02 00 00 00 00 01 00 00
               09 00 03 00 65 74 68 30 00 00 00 00
               08 00 1c 00 15 00 00 00`),
    );
  });

  it('bridge: plain, and `type bridge vlan_filtering 0` when asked explicitly', () => {
    expect(bytes(encodeBridgeLinkInfo())).toBe(hex('0a 00 01 00 62 72 69 64 67 65 00 00'));
    expect(bytes(encodeBridgeLinkInfo({ vlanFiltering: false }))).toBe(
      hex(`0a 00 01 00 62 72 69 64 67 65 00 00
           0c 00 02 80 05 00 07 00 00 00 00 00`),
    );
  });

  it('macvlan: `ip link add mv0 link <parent> type macvlan mode bridge`', () => {
    expect(bytes(encodeMacvlanLinkInfo('bridge'))).toBe(
      hex(`0b 00 01 00 6d 61 63 76 6c 61 6e 00
           0c 00 02 80 08 00 01 00 04 00 00 00`),
    );
  });

  it('bridge port hairpin: `ip link set X type bridge_slave hairpin on`', () => {
    expect(bytes(encodeBridgePortHairpin(true))).toBe(
      hex(`10 00 04 00 62 72 69 64 67 65 5f 73 6c 61 76 65
           0c 00 05 80 05 00 04 00 01 00 00 00`),
    );
  });

  it('ipip (IFLA_IPTUN_*) and dummy, hand-computed', () => {
    expect(bytes(encodeIpipLinkInfo({ local: '10.250.0.1', remote: '10.250.0.2', underlayIndex: 3, ttl: 64 }))).toBe(
      hex(`08 00 01 00 69 70 69 70
           2c 00 02 80
             08 00 01 00 03 00 00 00
             08 00 02 00 0a fa 00 01
             08 00 03 00 0a fa 00 02
             05 00 04 00 40 00 00 00
             05 00 0a 00 01 00 00 00`),
    );
    expect(bytes(encodeDummyLinkInfo())).toBe(hex('09 00 01 00 64 75 6d 6d 79 00 00 00'));
  });

  it('a whole RTM_NEWLINK payload (ifinfomsg + IFLA_IFNAME + IFLA_LINKINFO) matches iproute2', () => {
    const out = new AttrStream();
    const linkinfo = encodeVxlanLinkInfo({ vni: 42, local: '10.250.0.1', port: 4789, underlayIndex: 2, learning: false });
    formatLinkMessage({ kind: 'link', data: {}, attrs: { ifname: 'vx0', linkinfo } }, out);
    const ip = hex(`00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
                    08 00 03 00 76 78 30 00
                    3c 00 12 00 09 00 01 00 76 78 6c 61 6e 00 00 00
                    2c 00 02 00 08 00 03 00 02 00 00 00 08 00 01 00 2a 00 00 00
                    08 00 04 00 0a fa 00 01 05 00 07 00 00 00 00 00 06 00 0f 00 12 b5 00 00`);
    const ours = Buffer.concat(out.bufs);
    ours[0x2b] = (ours[0x2b] ?? 0) & 0x7f; // the one NLA_F_NESTED bit iproute2 leaves out
    expect(bytes(ours)).toBe(ip);
  });
});

describe('decodeLinkInfo', () => {
  it('reads back what the encoders wrote', () => {
    expect(decodeLinkInfo(encodeVxlanLinkInfo({ vni: 7, local: '10.250.0.9', port: 4789, underlayIndex: 5 }))).toEqual({
      kind: 'vxlan',
      vxlan: { vni: 7, local: '10.250.0.9', port: 4789, underlayIndex: 5, learning: false, ttl: undefined },
    });
    expect(decodeLinkInfo(encodeMacvlanLinkInfo('vepa'))).toEqual({ kind: 'macvlan', macvlanMode: 'vepa' });
    const port = Buffer.concat([encodeVethLinkInfo({ name: 'p' }), encodeBridgePortHairpin(true)]);
    expect(decodeLinkInfo(port)).toMatchObject({ kind: 'veth', slaveKind: 'bridge_slave' });
  });
});
