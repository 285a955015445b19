import { describe, expect, it } from 'vitest';
import { decodeLeaks } from '../../lib/routed/leaks-record';

describe('a node\'s stored leak report', () => {
  const leak = { handle: 'net/c1/eth0', ips: ['10.244.0.5'], block: '10.244.0.0/26', pool: 'default', since: 't', evidence: 'e' };

  it('reads back what the agent publishes', () => {
    expect(decodeLeaks(JSON.stringify({ leaks: [leak] }))).toEqual([leak]);
  });

  it('reads a garbled or foreign record as reporting nothing, so nothing is freed on its say', () => {
    expect(decodeLeaks('{not json')).toEqual([]);
    expect(decodeLeaks(JSON.stringify({ leaks: 'all' }))).toEqual([]);
    expect(decodeLeaks(JSON.stringify({ leaks: [{ handle: 7, ips: ['10.244.0.5'] }, { handle: 'h', ips: [1] }, leak] }))).toEqual([leak]);
  });
});
