// Netlink attributes (struct nlattr): a 4-byte header { u16 len, u16 type }
// followed by the payload, padded to a multiple of 4. `len` counts header +
// payload but not the padding. Nested attributes carry other attributes as
// payload; NLA_F_NESTED marks them for the kernel's strict validation.

export const NLA_F_NESTED = 0x8000;
export const NLA_F_NET_BYTEORDER = 0x4000;
const NLA_TYPE_MASK = ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER) & 0xffff;
const NLA_HDRLEN = 4;

export const align4 = (n: number): number => (n + 3) & ~3;

/** One attribute, padded, ready to be concatenated with its siblings. */
export function nlattr(type: number, payload: Uint8Array): Buffer {
  const len = NLA_HDRLEN + payload.length;
  if (len > 0xffff) throw new RangeError(`netlink attribute ${type} too long (${len} bytes)`);
  const out = Buffer.alloc(align4(len));
  out.writeUInt16LE(len, 0);
  out.writeUInt16LE(type, 2);
  out.set(payload, NLA_HDRLEN);
  return out;
}

/** A nested attribute: its payload is the concatenation of `children`. */
export function nested(type: number, children: readonly Uint8Array[]): Buffer {
  return nlattr(type | NLA_F_NESTED, Buffer.concat(children));
}

export const u8attr = (type: number, v: number): Buffer => nlattr(type, Buffer.of(v & 0xff));

export function u16attr(type: number, v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(v);
  return nlattr(type, b);
}

/** Network byte order u16, e.g. UDP ports (IFLA_VXLAN_PORT, NDA_PORT). */
export function be16attr(type: number, v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v);
  return nlattr(type, b);
}

/** Network byte order u32, as nf_tables carries its numbers (NFTA_SET_ELEM_FLAGS). */
export function be32attr(type: number, v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return nlattr(type, b);
}

/** A host-order u32, as rtnetlink's fixed fields and most attributes carry it. */
export function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return b;
}

export function u32attr(type: number, v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return nlattr(type, b);
}

/** NUL-terminated string (IFLA_IFNAME and most string attributes). */
export const stringAttr = (type: number, s: string): Buffer => nlattr(type, Buffer.from(`${s}\0`, 'utf8'));

/**
 * String without the terminating NUL: IFLA_INFO_KIND as iproute2 and the Go
 * netlink library send it (the kernel accepts both forms).
 */
export const bareStringAttr = (type: number, s: string): Buffer => nlattr(type, Buffer.from(s, 'utf8'));

/** Attributes in order, flags stripped from the type, repeated types kept (lists such as NFTA_LIST_ELEM). */
export function parseAttrList(buf: Uint8Array): { type: number; payload: Buffer }[] {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: { type: number; payload: Buffer }[] = [];
  let off = 0;
  while (off + NLA_HDRLEN <= b.length) {
    const len = b.readUInt16LE(off);
    if (len < NLA_HDRLEN || off + len > b.length) break;
    out.push({ type: b.readUInt16LE(off + 2) & NLA_TYPE_MASK, payload: b.subarray(off + NLA_HDRLEN, off + len) });
    off += align4(len);
  }
  return out;
}

/** Attribute types (flags stripped) to payloads; a later duplicate wins. */
export function parseAttrs(buf: Uint8Array): Map<number, Buffer> {
  return new Map(parseAttrList(buf).map((a) => [a.type, a.payload]));
}

/** NUL-terminated or bare string payload. */
export function attrString(b: Buffer | undefined): string | undefined {
  if (!b) return undefined;
  const nul = b.indexOf(0);
  return b.toString('utf8', 0, nul === -1 ? b.length : nul);
}

export const attrU8 = (b: Buffer | undefined): number | undefined => (b && b.length >= 1 ? b.readUInt8(0) : undefined);
export const attrBe16 = (b: Buffer | undefined): number | undefined => (b && b.length >= 2 ? b.readUInt16BE(0) : undefined);
export const attrU32 = (b: Buffer | undefined): number | undefined => (b && b.length >= 4 ? b.readUInt32LE(0) : undefined);
export const attrBe32 = (b: Buffer | undefined): number | undefined => (b && b.length >= 4 ? b.readUInt32BE(0) : undefined);
