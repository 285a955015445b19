// The nfnetlink encoding of set elements: what DEL sends is decoded back to
// the same key bytes, and nft's comment is found in the element's user data.
// (The kernel side is test/integration/nft-elements.test.ts.)
import { describe, expect, it } from 'vitest';
import { decodeElements, deleteElementsMessage, userdataComment, type KernelElement } from '../../lib/nft/elements';

const udata = (...items: [number, Buffer][]) => Buffer.concat(items.map(([t, v]) => Buffer.concat([Buffer.of(t, v.length), v])));

describe('set element encoding', () => {
  it('finds the comment among the user data items', () => {
    expect(userdataComment(udata([0, Buffer.from('tscni/x net=n\0')]))).toBe('tscni/x net=n');
    expect(userdataComment(udata([1, Buffer.of(0, 0, 0, 1)], [0, Buffer.from('b\0')]))).toBe('b');
    expect(userdataComment(udata([1, Buffer.of(1)]))).toBeUndefined();
    // A length running past the end is not read.
    expect(userdataComment(Buffer.of(0, 9, 0x61))).toBeUndefined();
    expect(userdataComment(undefined)).toBeUndefined();
  });

  it('names elements by key, key end and flags, decoded back to the same bytes', () => {
    const elements: KernelElement[] = [
      { set: 'pairs', key: Buffer.from('7f0000000a000001', 'hex'), keyEnd: Buffer.from('7fffffff0a000001', 'hex'), flags: 0 },
      { set: 'pairs', key: Buffer.from('0a000002', 'hex'), flags: 1 },
    ];
    const msg = deleteElementsMessage({ family: 'inet', name: 'tscni' }, 'pairs', elements);
    expect(msg).toMatchObject({ type: 14, family: 'inet' });
    const decoded = decodeElements('pairs', Buffer.concat(msg.attrs));
    expect(decoded.map((e) => [e.key.toString('hex'), e.keyEnd?.toString('hex'), e.flags])).toEqual([
      ['7f0000000a000001', '7fffffff0a000001', 0],
      ['0a000002', undefined, 1],
    ]);
  });
});
