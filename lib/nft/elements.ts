// Set and map elements as the kernel holds them, read, added and deleted over
// nfnetlink (lib/netlink/nfnetlink): all of DEL and GC, and ADD once the
// ruleset is in place (add-elements.ts). An element is named to the kernel by its key (and, in an interval
// set, its key end); the listing keeps those bytes as the kernel gave them, so
// deleting needs no knowledge of the set's key type. What decides which
// elements go is the owner comment nft stored in the element's user data.
import { attrBe32, attrString, be32attr, nested, nlattr, parseAttrList, parseAttrs, stringAttr } from '../netlink/attr';
import { isNotFound } from '../netlink/errors';
import { NLM_F } from '../netlink/constants';
import { NFNL_SUBSYS, NFT_MSG, type NfnlChannel, type NftMessage } from '../netlink/nfnetlink';
import type { ElementKey } from './element-values';
import type { TableRef } from './json';

const NFTA_LIST_ELEM = 1;
const NFTA_SET_ELEM_LIST = { TABLE: 1, SET: 2, ELEMENTS: 3 } as const;
const NFTA_SET_ELEM = { KEY: 1, DATA: 2, FLAGS: 3, USERDATA: 6, KEY_END: 10 } as const;
const NFTA_DATA_VALUE = 1;
// libnftnl's user data TLVs on an element: { u8 type, u8 len, value }; the comment is type 0, NUL included.
const NFTNL_UDATA_SET_ELEM_COMMENT = 0;

export interface KernelElement {
  set: string;
  /** the key's bytes (a concatenation's fields each padded to 4 bytes, as the kernel stores them) */
  key: Buffer;
  /** interval sets: where the interval ends */
  keyEnd?: Buffer;
  /** NFT_SET_ELEM_* flags, e.g. INTERVAL_END for rbtree interval boundaries */
  flags: number;
  comment?: string;
}

/** The comment in an element's user data, if nft stored one. */
export function userdataComment(udata: Buffer | undefined): string | undefined {
  if (!udata) return undefined;
  for (let off = 0; off + 2 <= udata.length; off += 2 + udata[off + 1]!) {
    const type = udata[off]!;
    const len = udata[off + 1]!;
    if (off + 2 + len > udata.length) break;
    if (type === NFTNL_UDATA_SET_ELEM_COMMENT) return attrString(udata.subarray(off + 2, off + 2 + len));
  }
  return undefined;
}

/** The user data nft writes for an element's comment: one TLV, the comment NUL-terminated. */
export function commentUserdata(comment: string): Buffer {
  const text = Buffer.from(`${comment}\0`, 'utf8');
  if (text.length > 0xff) throw new RangeError(`element comment of ${text.length} bytes`);
  return Buffer.concat([Buffer.of(NFTNL_UDATA_SET_ELEM_COMMENT, text.length), text]);
}

const dataValue = (nestedData: Buffer | undefined): Buffer | undefined =>
  nestedData && parseAttrs(nestedData).get(NFTA_DATA_VALUE);

/** The elements in one NFT_MSG_NEWSETELEM answer (its attributes after nfgenmsg). */
export function decodeElements(set: string, answer: Buffer): KernelElement[] {
  const list = parseAttrs(answer).get(NFTA_SET_ELEM_LIST.ELEMENTS);
  if (!list) return [];
  return parseAttrList(list)
    .filter((a) => a.type === NFTA_LIST_ELEM)
    .flatMap(({ payload }) => {
      const e = parseAttrs(payload);
      const key = dataValue(e.get(NFTA_SET_ELEM.KEY));
      // A catch-all element has no key; tscni never writes one, so there is nothing of ours to name.
      if (!key) return [];
      return [{
        set,
        key,
        keyEnd: dataValue(e.get(NFTA_SET_ELEM.KEY_END)),
        flags: attrBe32(e.get(NFTA_SET_ELEM.FLAGS)) ?? 0,
        comment: userdataComment(e.get(NFTA_SET_ELEM.USERDATA)),
      }];
    });
}

/** NFT_MSG_DELSETELEM for some elements of one set. */
export function deleteElementsMessage(t: TableRef, set: string, elements: readonly KernelElement[]): NftMessage {
  const elems = elements.map((e) => nested(NFTA_LIST_ELEM, [
    nested(NFTA_SET_ELEM.KEY, [nlattr(NFTA_DATA_VALUE, e.key)]),
    ...(e.keyEnd ? [nested(NFTA_SET_ELEM.KEY_END, [nlattr(NFTA_DATA_VALUE, e.keyEnd)])] : []),
    ...(e.flags ? [be32attr(NFTA_SET_ELEM.FLAGS, e.flags)] : []),
  ]));
  return {
    type: NFT_MSG.DELSETELEM,
    family: t.family,
    attrs: [stringAttr(NFTA_SET_ELEM_LIST.TABLE, t.name), stringAttr(NFTA_SET_ELEM_LIST.SET, set), nested(NFTA_SET_ELEM_LIST.ELEMENTS, elems)],
  };
}

export interface NewElement extends ElementKey {
  /** a map element's data: the attributes inside NFTA_SET_ELEM_DATA (element-values.ts encodeData) */
  data?: Buffer;
  comment?: string;
}

/**
 * NFT_MSG_NEWSETELEM for some elements of one set, as nft sends `add element`;
 * `exclusive` is nft's `create`: the kernel refuses a key that exists already
 * (EEXIST), where `add` keeps an identical element.
 */
export function newElementsMessage(t: TableRef, set: string, elements: readonly NewElement[], exclusive: boolean): NftMessage {
  const elems = elements.map((e) => nested(NFTA_LIST_ELEM, [
    nested(NFTA_SET_ELEM.KEY, [nlattr(NFTA_DATA_VALUE, e.key)]),
    ...(e.keyEnd ? [nested(NFTA_SET_ELEM.KEY_END, [nlattr(NFTA_DATA_VALUE, e.keyEnd)])] : []),
    ...(e.data ? [nested(NFTA_SET_ELEM.DATA, [e.data])] : []),
    ...(e.comment !== undefined ? [nlattr(NFTA_SET_ELEM.USERDATA, commentUserdata(e.comment))] : []),
  ]));
  return {
    type: NFT_MSG.NEWSETELEM,
    family: t.family,
    flags: NLM_F.CREATE | (exclusive ? NLM_F.EXCL : 0),
    attrs: [stringAttr(NFTA_SET_ELEM_LIST.TABLE, t.name), stringAttr(NFTA_SET_ELEM_LIST.SET, set), nested(NFTA_SET_ELEM_LIST.ELEMENTS, elems)],
  };
}

/** Every element of `set` in table `t`; none when the table or the set does not exist. */
export async function listSetElements(ch: NfnlChannel, t: TableRef, set: string): Promise<KernelElement[]> {
  try {
    const answers = await ch.dump(`list elements of ${t.family} ${t.name} ${set}`, NFNL_SUBSYS.NFTABLES, NFT_MSG.GETSETELEM, t.family, [
      stringAttr(NFTA_SET_ELEM_LIST.TABLE, t.name), stringAttr(NFTA_SET_ELEM_LIST.SET, set),
    ]);
    return answers.flatMap((a) => decodeElements(set, a));
  } catch (e) {
    if (isNotFound(e)) return [];
    throw e;
  }
}

// One message's element list is a netlink attribute, at most 64 KiB; one
// transaction is one datagram, bounded by the socket's send buffer (~200 KiB).
const ELEMENTS_PER_MESSAGE = 256;
const ELEMENTS_PER_TRANSACTION = 2048;

function chunks<T>(list: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

/**
 * Deletes the elements in one transaction — all of them or none — up to
 * 2048 of them; a larger deletion (a GC after many pods) takes several.
 */
export async function deleteSetElements(ch: NfnlChannel, t: TableRef, elements: readonly KernelElement[]): Promise<void> {
  for (const part of chunks(elements, ELEMENTS_PER_TRANSACTION)) {
    const bySet = new Map<string, KernelElement[]>();
    for (const e of part) {
      const list = bySet.get(e.set) ?? [];
      list.push(e);
      bySet.set(e.set, list);
    }
    const messages = [...bySet].flatMap(([set, elems]) =>
      chunks(elems, ELEMENTS_PER_MESSAGE).map((c) => deleteElementsMessage(t, set, c)));
    await ch.transaction(`delete ${part.length} element(s) from ${t.family} ${t.name}`, messages);
  }
}
