// Just enough address arithmetic for rule building: the subnet of a pod's
// CIDR, printed the way nft prints it, so names derived from it are stable.

export interface PodCidr {
  family: 4 | 6;
  /** the address alone, canonical */
  address: string;
  /** the network the address sits in, e.g. "10.244.1.0/24" */
  subnet: string;
}

function parseV4(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) < 256)) return undefined;
  return parts.reduce((acc, p) => (acc << 8n) | BigInt(p), 0n);
}

function parseV6(text: string): bigint | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groups = (s: string): string[] | undefined => {
    if (s === '') return [];
    const out = s.split(':');
    const last = out[out.length - 1]!;
    if (last.includes('.')) {
      // an embedded IPv4 tail, e.g. ::ffff:10.0.0.1
      const v4 = parseV4(last);
      if (v4 === undefined) return undefined;
      out.splice(-1, 1, (v4 >> 16n).toString(16), (v4 & 0xffffn).toString(16));
    }
    return out.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g)) ? out : undefined;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !tail) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const all = [...head, ...Array<string>(missing).fill('0'), ...tail];
  return all.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

function formatV4(v: bigint): string {
  return [24n, 16n, 8n, 0n].map((s) => String((v >> s) & 0xffn)).join('.');
}

/** RFC 5952: lowercase, no leading zeros, the longest run of 2+ zero groups as "::". */
function formatV6(v: bigint): string {
  const g = Array.from({ length: 8 }, (_, i) => Number((v >> BigInt(112 - 16 * i)) & 0xffffn));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

export function parsePodCidr(cidr: string): PodCidr {
  const [addr = '', lenText = '', ...rest] = cidr.split('/');
  const family = addr.includes(':') ? 6 : 4;
  const bits = family === 4 ? 32 : 128;
  const value = family === 4 ? parseV4(addr) : parseV6(addr);
  const len = Number(lenText);
  if (value === undefined || rest.length > 0 || !/^\d{1,3}$/.test(lenText) || len > bits) {
    throw new Error(`"${cidr}" is not an address with a prefix length (e.g. 10.244.1.5/24)`);
  }
  const hostMask = (1n << BigInt(bits - len)) - 1n;
  const format = family === 4 ? formatV4 : formatV6;
  return { family, address: format(value), subnet: `${format(value & ~hostMask)}/${len}` };
}
