// Set element values as the kernel holds them: nft's JSON form of a key or a
// map's data (as lib/nft/json writes it) turned into the bytes nft itself
// would send, for the types tscni's sets use. In a concatenation every field
// takes a multiple of 4 bytes (one 32-bit register each); an interval key
// carries its last value as the key end. Anything else is not encoded here:
// the caller then leaves the change to nft.
import { ipToBytes, isMac, parseCidr, parseIp, prefixBounds, toMacBytes, withValue, type Family } from '../ip/address';
import { align4, be32attr, nlattr, stringAttr } from '../netlink/attr';

/** A value nft would accept but this module does not encode. */
export class UnencodableValue extends Error {}

const IFNAMSIZ = 16;
const PROTOCOLS: Record<string, number> = { tcp: 6, udp: 17, sctp: 132 };

/** One field's first and last value (the same unless the field is a prefix). */
interface FieldBytes {
  first: Buffer;
  last: Buffer;
}

const single = (b: Buffer): FieldBytes => ({ first: b, last: b });

function address(v: unknown, family: Family): FieldBytes {
  if (typeof v === 'string') {
    const ip = parseIp(v);
    if (ip?.family === family) return single(ipToBytes(ip));
  }
  const p = (v as { prefix?: { addr?: unknown; len?: unknown } } | null)?.prefix;
  if (p && typeof p.addr === 'string' && typeof p.len === 'number') {
    const c = parseCidr(`${p.addr}/${p.len}`);
    if (typeof c !== 'string' && c.ip.family === family) {
      const { first, last } = prefixBounds(c);
      return { first: ipToBytes(withValue(c.ip, first)), last: ipToBytes(withValue(c.ip, last)) };
    }
  }
  throw new UnencodableValue(`${JSON.stringify(v)} is not an IPv${family} address or prefix`);
}

function service(v: unknown): Buffer {
  if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > 0xffff) throw new UnencodableValue(`${JSON.stringify(v)} is not a port`);
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v as number);
  return b;
}

const FIELDS: Record<string, (v: unknown) => FieldBytes> = {
  ipv4_addr: (v) => address(v, 4),
  ipv6_addr: (v) => address(v, 6),
  inet_proto: (v) => {
    const p = typeof v === 'string' ? PROTOCOLS[v] : undefined;
    if (p === undefined) throw new UnencodableValue(`${JSON.stringify(v)} is not a protocol name`);
    return single(Buffer.of(p));
  },
  inet_service: (v) => single(service(v)),
  // A fixed 16-byte field, NUL padded, as the kernel compares interface names.
  ifname: (v) => {
    if (typeof v !== 'string' || Buffer.byteLength(v) >= IFNAMSIZ) throw new UnencodableValue(`${JSON.stringify(v)} is not an interface name`);
    const b = Buffer.alloc(IFNAMSIZ);
    b.write(v);
    return single(b);
  },
  ether_addr: (v) => {
    if (typeof v !== 'string' || !isMac(v)) throw new UnencodableValue(`${JSON.stringify(v)} is not a MAC address`);
    return single(toMacBytes(v));
  },
};

function field(type: string, v: unknown): FieldBytes {
  const encode = FIELDS[type];
  if (!encode) throw new UnencodableValue(`nft type ${type} is not encoded over nfnetlink`);
  return encode(v);
}

const padded = (b: Buffer): Buffer => Buffer.concat([b, Buffer.alloc(align4(b.length) - b.length)]);

export interface ElementKey {
  key: Buffer;
  /** interval sets: the last value the element covers */
  keyEnd?: Buffer;
}

/** The key of an element of a set whose key is `types` (one type, or a concatenation). */
export function encodeKey(types: readonly string[], value: unknown, interval: boolean): ElementKey {
  if (types.length === 1) {
    // A plain interval set stores a range as two elements (start, and end with a flag); none of ours is one.
    if (interval) throw new UnencodableValue('interval sets without concatenation are not encoded over nfnetlink');
    const f = field(types[0]!, value);
    if (!f.first.equals(f.last)) throw new UnencodableValue(`${JSON.stringify(value)} is a range in a set without intervals`);
    return { key: f.first };
  }
  const parts = (value as { concat?: unknown[] } | null)?.concat;
  if (!Array.isArray(parts) || parts.length !== types.length) {
    throw new UnencodableValue(`${JSON.stringify(value)} is not a concatenation of ${types.join(' . ')}`);
  }
  const fields = types.map((t, i) => field(t, parts[i]));
  const key = Buffer.concat(fields.map((f) => padded(f.first)));
  if (interval) return { key, keyEnd: Buffer.concat(fields.map((f) => padded(f.last))) };
  if (fields.some((f) => !f.first.equals(f.last))) throw new UnencodableValue(`${JSON.stringify(value)} holds a range in a set without intervals`);
  return { key };
}

const NFTA_DATA = { VALUE: 1, VERDICT: 2 } as const;
const NFTA_VERDICT = { CODE: 1, CHAIN: 2 } as const;
const NFT_JUMP = -3;
const NFT_GOTO = -4;

/** A map element's data, as the attributes inside NFTA_SET_ELEM_DATA. */
export function encodeData(type: string, value: unknown): Buffer {
  if (type !== 'verdict') {
    const f = field(type, value);
    if (!f.first.equals(f.last)) throw new UnencodableValue(`${JSON.stringify(value)} is a range, not map data`);
    return nlattr(NFTA_DATA.VALUE, f.first);
  }
  const v = (value ?? {}) as { jump?: { target?: unknown }; goto?: { target?: unknown } };
  const [code, target] = v.jump ? [NFT_JUMP, v.jump.target] : v.goto ? [NFT_GOTO, v.goto.target] : [0, undefined];
  if (typeof target !== 'string') throw new UnencodableValue(`verdict ${JSON.stringify(value)} is not encoded over nfnetlink`);
  // Without NLA_F_NESTED, as nft sends it and the kernel lists it.
  return nlattr(NFTA_DATA.VERDICT, Buffer.concat([be32attr(NFTA_VERDICT.CODE, code), stringAttr(NFTA_VERDICT.CHAIN, target)]));
}
