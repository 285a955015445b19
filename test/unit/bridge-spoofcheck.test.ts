import { describe, expect, it } from 'vitest';
import { addSpoofCheckCommands } from '../../plugins/bridge/spoofcheck';

describe('MAC spoof check ruleset', () => {
  const cmds = addSpoofCheckCommands({ network: 'n1', containerId: 'c1', ifname: 'eth0', hostVeth: 'veth12345678', mac: '0A:58:0A:F4:01:02' });
  const json = JSON.stringify(cmds);

  it('lives in the bridge family, before every other prerouting hook', () => {
    expect(cmds[0]).toEqual({ add: { table: { family: 'bridge', name: 'tscni' } } });
    expect(json).toContain('"hook":"prerouting","prio":-300');
  });

  it('drops frames from checked ports whose port . source MAC pair is not allowed', () => {
    const rule = cmds.find((c) => (c.add as any)?.rule)!.add!.rule as { expr: unknown[] };
    expect(rule.expr).toEqual([
      { match: { op: '==', left: { meta: { key: 'iifname' } }, right: '@spoofchk_ports' } },
      { match: { op: '!=', left: { concat: [{ meta: { key: 'iifname' } }, { payload: { protocol: 'ether', field: 'saddr' } }] }, right: '@spoofchk_allowed' } },
      { drop: null },
    ]);
  });

  it('replaces one owned element per set (add, delete, add: a repeated ADD leaves one), MAC in lower case', () => {
    const elements = cmds.flatMap((c) => Object.entries(c))
      .filter(([, o]) => (o as any).element)
      .map(([op, o]) => ({ op, set: (o as any).element.name as string, elem: (o as any).element.elem as any[] }));
    // a delete names the key alone; an add wraps it with the owner comment
    const keyOf = (x: any) => (x.elem ? x.elem.val : x);
    const portsKey = 'veth12345678';
    const allowedKey = { concat: ['veth12345678', '0a:58:0a:f4:01:02'] };
    expect(elements.map((e) => [e.op, e.set, e.elem.map(keyOf)])).toEqual([
      ['add', 'spoofchk_ports', [portsKey]], ['delete', 'spoofchk_ports', [portsKey]], ['add', 'spoofchk_ports', [portsKey]],
      ['add', 'spoofchk_allowed', [allowedKey]], ['delete', 'spoofchk_allowed', [allowedKey]], ['add', 'spoofchk_allowed', [allowedKey]],
    ]);
    for (const e of elements.filter((x) => x.op === 'add')) expect(e.elem[0].elem.comment).toMatch(/^tscni\/[0-9a-f]{16}\/[0-9a-f]{16} net=n1 if=eth0 id=c1$/);
  });
});
