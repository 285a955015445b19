// Both agents write one kind of event line (agent/log.ts): a kebab-case event
// name, then key=value fields, so a node's journal reads the same whichever
// mode runs and can be searched by name (`grep ' route-conflict '`).
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []);
}

/** The string literals an event-name argument can be: 'a', `a-${x}`, cond ? 'a' : 'b'. */
function literals(expr: string): string[] {
  return [...expr.matchAll(/'([^']*)'|`([^`]*)`/g)].map((m) => (m[1] ?? m[2]!).replace(/\$\{[^}]*\}/g, 'x'));
}

/** Every event name an agent source passes to event(), log() (routed's alias of it) or once(key, name). */
function eventNames(text: string): string[] {
  const arg = /((?:'[^']*'|`[^`]*`|[^,){'`])*)/.source;
  const first = [...text.matchAll(new RegExp(/\b(?:event|log)\(\s*/.source + arg, 'g'))].map((m) => m[1]!);
  const second = [...text.matchAll(new RegExp(/\.once\(\s*[^,]+,\s*/.source + arg, 'g'))].map((m) => m[1]!);
  return [...first, ...second].flatMap(literals);
}

describe('agent event lines', () => {
  it('every event name in both agents is kebab-case', () => {
    const files = sources('agent');
    const names = files.flatMap((f) => eventNames(readFileSync(join(ROOT, f), 'utf8')).map((n) => `${f}: ${n}`));
    expect(names.length).toBeGreaterThan(45);
    expect(names).toContain('agent/overlay/lease-manager.ts: subnet-lease-x');
    expect(names.filter((n) => !/: [a-z0-9]+(-[a-z0-9]+)*$/.test(n))).toEqual([]);
  });
});
