import { describe, expect, it } from 'vitest';
import { overlayMasqCommands } from '../../agent/overlay/masquerade';

describe('overlay masquerade', () => {
  it('returns inside the Network and masquerades to the outside, in tscni\'s table', () => {
    const cmds = overlayMasqCommands({ network: '10.244.0.0/16', subnet: '10.244.3.0/24' });
    const rules = cmds.filter((c) => c.add?.rule).map((c) => c.add!.rule as any);
    expect(rules.every((r) => r.table === 'tscni' && r.family === 'inet' && r.chain === 'overlay_postrouting')).toBe(true);
    expect(rules.map((r) => Object.keys(r.expr.at(-1))[0])).toEqual(['return', 'masquerade', 'return', 'masquerade']);
    expect(rules[0].expr[1].match).toEqual({ op: '==', left: { payload: { protocol: 'ip', field: 'daddr' } }, right: { prefix: { addr: '10.244.0.0', len: 16 } } });
    expect(new Set(rules.map((r) => r.comment)).size).toBe(4);
  });
});
