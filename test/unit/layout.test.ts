// Rules about the source tree itself: what product code may import, what
// package.json must list, and which module owns address parsing.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const PRODUCT_DIRS = ['cli', 'lib', 'plugins', 'agent'];

function sources(dir: string): string[] {
  let entries;
  try {
    entries = readdirSync(join(ROOT, dir), { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'build' || e.name === 'node_modules' ? [] : sources(path);
    return /\.(ts|mts|js|mjs)$/.test(e.name) ? [path] : [];
  });
}

const product = PRODUCT_DIRS.flatMap(sources);
const text = (file: string) => readFileSync(join(ROOT, file), 'utf8');

/** Every module specifier a file imports, statically or with import(). */
function imports(file: string): string[] {
  return [...text(file).matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"]([@\w.][\w@./:+-]*)['"]/gm)].map((m) => m[1]!);
}

/** "zod/mini" -> "zod", "@noble/hashes/sha2.js" -> "@noble/hashes". */
const packageOf = (spec: string) => spec.split('/').slice(0, spec.startsWith('@') ? 2 : 1).join('/');
const builtin = (spec: string) => spec.startsWith('node:') || builtinModules.includes(spec);

describe('source layout', () => {
  it('finds the product code', () => expect(product).toEqual(expect.arrayContaining(['lib/ip/address.ts', 'plugins/bridge/add.ts', 'cli/main.ts'])));

  it('product code imports no test code', () => {
    const offending = product.flatMap((file) => imports(file)
      .filter((spec) => spec.startsWith('.'))
      .map((spec) => relative(ROOT, resolve(ROOT, dirname(file), spec)))
      .filter((target) => target === 'test' || target.startsWith('test/'))
      .map((target) => `${file} -> ${target}`));
    expect(offending).toEqual([]);
  });

  it('package.json dependencies are exactly the packages product code imports', () => {
    const imported = new Set(product.flatMap((file) => imports(file).filter((s) => !s.startsWith('.') && !builtin(s)).map(packageOf)));
    const declared = Object.keys(JSON.parse(text('package.json')).dependencies ?? {});
    expect(declared.sort()).toEqual([...imported].sort());
  });

  it('address parsing and printing live in lib/ip/address.ts alone', () => {
    const definitions = /\bfunction\s+(parseIp|parseCidr|formatIp|formatCidr|parseMac|formatMac|maskCidr|toMacBytes)\b|\[0-9a-fA-F\]\{2\}\(:/;
    const elsewhere = product.filter((file) => file !== 'lib/ip/address.ts' && definitions.test(text(file)));
    expect(elsewhere).toEqual([]);
  });

  it('lib/ip imports no other tscni module: the netlink byte forms sit in lib/netlink, on top of it', () => {
    const outside = product.filter((f) => f.startsWith('lib/ip/')).flatMap((file) => imports(file)
      .filter((spec) => spec.startsWith('.'))
      .map((spec) => relative(ROOT, resolve(ROOT, dirname(file), spec)))
      .filter((target) => !target.startsWith('lib/ip/'))
      .map((target) => `${file} -> ${target}`));
    expect(outside).toEqual([]);
  });

  it('cli/ imports nothing of agent/: what both need lives in lib/', () => {
    const offending = product.filter((f) => f.startsWith('cli/')).flatMap((file) => imports(file)
      .filter((spec) => spec.startsWith('.'))
      .map((spec) => relative(ROOT, resolve(ROOT, dirname(file), spec)))
      .filter((target) => target === 'agent' || target.startsWith('agent/'))
      .map((target) => `${file} -> ${target}`));
    expect(offending).toEqual([]);
  });

  it('lib/netns and lib/netlink know no CNI error codes: they import nothing of lib/cni', () => {
    const offending = product.filter((f) => /^lib\/(netns|netlink)\//.test(f)).flatMap((file) => imports(file)
      .filter((spec) => spec.startsWith('.'))
      .map((spec) => relative(ROOT, resolve(ROOT, dirname(file), spec)))
      .filter((target) => target.startsWith('lib/cni/'))
      .map((target) => `${file} -> ${target}`));
    expect(offending).toEqual([]);
  });

  it('lib/cni, lib/ip, lib/ipam and lib/netns export nothing that product code does not use', () => {
    const scope = product.filter((f) => /^lib\/(cni|ip|ipam|netns)\//.test(f) || f === 'lib/hash.ts');
    const unused = scope.flatMap((file) => [...text(file).matchAll(/^export (?:async )?(?:function|const|class|let)\s+(\w+)/gm)]
      .map((m) => m[1]!)
      .filter((name) => !product.some((other) => other !== file && new RegExp(`\\b${name}\\b`).test(text(other))))
      .filter((name) => text(file).match(new RegExp(`\\b${name}\\b`, 'g'))!.length === 1)
      .map((name) => `${file}: ${name}`));
    expect(unused).toEqual([]);
  });

  it('no plugin loads etcd access or an HTTP client: they stay off every CNI call\'s start-up', () => {
    // Measured here, Bun's node:http alone about doubles a bare start-up;
    // a plugin that needs cluster state reads what the agent wrote on the node.
    const file = (spec: string, from: string) => {
      const base = resolve(ROOT, dirname(from), spec);
      const found = [base, `${base}.ts`, join(base, 'index.ts')].find((f) => existsSync(f) && f.endsWith('.ts'));
      return found === undefined ? undefined : relative(ROOT, found);
    };
    const offending: string[] = [];
    for (const main of product.filter((f) => /^plugins\/[^/]+\/main\.ts$/.test(f))) {
      const seen = new Set([main]);
      for (const current of seen) {
        for (const spec of imports(current)) {
          if (['node:http', 'node:https', 'node:net', 'node:http2', 'http', 'https', 'net', 'http2'].includes(spec)) offending.push(`${main}: ${current} -> ${spec}`);
          const target = spec.startsWith('.') ? file(spec, current) : undefined;
          if (target?.startsWith('lib/datastore/')) offending.push(`${main}: ${current} -> ${target}`);
          if (target !== undefined) seen.add(target);
        }
      }
    }
    expect(product.some((f) => f.startsWith('lib/datastore/'))).toBe(true);
    expect(offending).toEqual([]);
  });
});
