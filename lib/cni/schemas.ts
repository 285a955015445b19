// zod schemas for what crosses the process boundary: results of every spec
// version, the fields every plugin config shares, and conflists.
//
// zod/mini, not the classic `zod` entry: bundled, classic zod adds tens of
// milliseconds to every plugin start (it builds its method-chaining API and
// locale tables at load time); mini is a few KB and adds next to nothing.
// Unknown keys are stripped from results, so a result parsed with an older
// version's schema carries only that version's fields.

import { isAbsolute } from 'node:path';
import * as z from 'zod/mini';
import { invalidConfig, type CniError } from './errors';
import { ipFamily } from '../ip/address';
import { matchKeys } from './keys';
import { isCidr, isIpAddress } from './validate';
import type { SpecVersion } from './types';

const ip = z.string().check(z.refine(isIpAddress, 'must be an IP address'));
const cidr = z.string().check(z.refine(isCidr, 'must be a CIDR such as "10.1.2.3/24" or "fd00::3/64"'));
const uint = z.int().check(z.nonnegative());
const strings = z.array(z.string());

/** Built eagerly: plugin config schemas embed it (e.g. bridge's `dns`). */
export const dnsSchema = z.object({
  nameservers: z.optional(strings),
  domain: z.optional(z.string()),
  search: z.optional(strings),
  options: z.optional(strings),
});

/**
 * Builds a schema on first use. Constructing zod schemas costs start-up time
 * (each kind compiles zod code on first use), and most calls need only one
 * result version, so nothing is built until someone asks for it.
 */
function lazy<T>(build: () => T): () => T {
  let built: T | undefined;
  return () => (built ??= build());
}

const interface10 = () => z.object({ name: z.string(), mac: z.optional(z.string()), sandbox: z.optional(z.string()) });
const interface11 = () =>
  z.object({
    name: z.string(),
    mac: z.optional(z.string()),
    mtu: z.optional(uint),
    sandbox: z.optional(z.string()),
    socketPath: z.optional(z.string()),
    pciID: z.optional(z.string()),
  });

const ipConfig10 = () => z.object({ interface: z.optional(uint), address: cidr, gateway: z.optional(ip) });
/** 0.3.x/0.4.0 carry the address family as "4"/"6"; it must agree with the address. */
const ipConfig04 = () =>
  z.object({ version: z.enum(['4', '6']), interface: z.optional(uint), address: cidr, gateway: z.optional(ip) }).check(
    z.refine((c) => !isCidr(c.address) || String(ipFamily(c.address)) === c.version, {
      message: 'version does not match the address family of address',
      path: ['version'],
    }),
  );

const route10 = () => z.object({ dst: cidr, gw: z.optional(ip) });
const route11 = () =>
  z.object({
    dst: cidr,
    gw: z.optional(ip),
    mtu: z.optional(uint),
    advmss: z.optional(uint),
    priority: z.optional(uint),
    table: z.optional(uint),
    scope: z.optional(uint),
  });

function resultOf<I extends z.ZodMiniType, P extends z.ZodMiniType, R extends z.ZodMiniType>(iface: I, ipc: P, route: R) {
  return z.object({
    cniVersion: z.string(),
    interfaces: z.optional(z.array(iface)),
    ips: z.optional(z.array(ipc)),
    routes: z.optional(z.array(route)),
    dns: z.optional(dnsSchema),
  });
}

const result04 = lazy(() => resultOf(interface10(), ipConfig04(), route10()));
const result10 = lazy(() => resultOf(interface10(), ipConfig10(), route10()));
const result11 = lazy(() => resultOf(interface11(), ipConfig10(), route11()));

export type Result04 = z.infer<ReturnType<typeof result04>>;
export type Result10 = z.infer<ReturnType<typeof result10>>;

/** The result schema of one spec version; keys that version does not define are stripped. */
export function resultSchemaFor(version: SpecVersion) {
  if (version === '1.1.0') return result11();
  if (version === '1.0.0') return result10();
  return result04();
}

/** A directory or file a config names (dataDir, subnetFile): absolute, no ".." component, no NUL. */
export const absolutePath = () =>
  z.string().check(
    z.refine((v) => isAbsolute(v), 'must be an absolute path'),
    z.refine((v) => !v.split('/').includes('..') && !v.includes('\0'), 'must not contain a ".." component or NUL'),
  );

export const attachmentSchema = lazy(() => z.object({ containerID: z.string(), ifname: z.string() }));

/** The keys the skel itself relies on; everything else is the plugin's to validate. */
export const netConfBaseSchema = lazy(() =>
  z.looseObject({
    cniVersion: z.string().check(z.minLength(1)),
    name: z.string().check(z.minLength(1)),
    type: z.string().check(z.minLength(1)),
    capabilities: z.optional(z.record(z.string(), z.boolean())),
    runtimeConfig: z.optional(z.record(z.string(), z.unknown())),
    prevResult: z.optional(z.record(z.string(), z.unknown())),
    'cni.dev/valid-attachments': z.optional(z.array(attachmentSchema())),
    // read by lib/cni/log, named here so that their keys match as the others do
    logLevel: z.optional(z.unknown()),
    logFile: z.optional(z.unknown()),
  }),
);

/** The keys DEL relies on: what the runtime adds to the call (runtimeConfig, prevResult) cannot fail a DEL. */
export const netConfDelSchema = lazy(() => z.omit(netConfBaseSchema(), { capabilities: true, runtimeConfig: true, prevResult: true }));

/** "true"/"false" strings are accepted as libcni accepts them for disableCheck/disableGC. */
const looseBool = () => z.union([z.boolean(), z.enum(['true', 'false', 'True', 'False', 'TRUE', 'FALSE'])]);

export const confListSchema = lazy(() =>
  z.looseObject({
    cniVersion: z.optional(z.string()),
    cniVersions: z.optional(z.array(z.string())),
    name: z.string(),
    disableCheck: z.optional(looseBool()),
    disableGC: z.optional(looseBool()),
    plugins: z.array(z.looseObject({ type: z.string() })).check(z.minLength(1)),
  }),
);

type Issue = z.core.$ZodIssue;

function pathOf(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out;
}

function article(expected: string): string {
  if (expected === 'int') return 'an integer';
  return /^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`;
}

function ruleOf(issue: Issue, value: unknown): string {
  if (value === undefined && issue.code !== 'custom') return 'is required';
  switch (issue.code) {
    case 'invalid_type':
      return `must be ${article(issue.expected)}`;
    case 'too_small':
      if ((issue.origin === 'array' || issue.origin === 'string') && Number(issue.minimum) === 1) return 'must not be empty';
      return issue.origin === 'array' || issue.origin === 'string'
        ? `must have at least ${issue.minimum} ${issue.origin === 'array' ? 'entries' : 'characters'}`
        : `must be >= ${issue.minimum}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'invalid_union':
      return 'has an invalid type or value';
    default:
      return issue.message;
  }
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v: any = root;
  for (const p of path) v = v == null ? undefined : v[p as any];
  return v;
}

/** Turns the first zod issue into a code-7 error naming the field ("ips[0].address: must be ..."). */
export function issueToError(issues: readonly Issue[], input: unknown, prefix = ''): CniError {
  const issue = issues[0]!;
  const path = pathOf(issue.path);
  const field = prefix && path ? `${prefix}.${path}` : prefix || path || '(config)';
  return invalidConfig(field, ruleOf(issue, valueAt(input, issue.path)));
}

/**
 * Validates `input` against `schema`, its keys matched to the schema's fields
 * as Go's decoder matches them (./keys); throws code 7 naming the first bad field.
 */
export function parseOrThrow<S extends z.ZodMiniType>(schema: S, input: unknown, prefix = ''): z.infer<S> {
  const matched = matchKeys(schema, input);
  const r = schema.safeParse(matched);
  if (!r.success) throw issueToError(r.error.issues, matched, prefix);
  return r.data as z.infer<S>;
}
