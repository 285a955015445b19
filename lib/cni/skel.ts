// The dispatcher every plugin executable runs: environment + stdin in, one
// JSON document and an exit code out. `dispatch` is pure so that tests and
// in-process delegation (bridge -> host-local) get exactly the same checks
// and conversions as a runtime calling the executable.

import { fstatSync, writeSync } from 'node:fs';
import { parseResult, formatResult } from './convert';
import { commandArgs, delArgs } from './cmd-args';
import { asCniError, CniError, invalidConfig, UNKNOWN_ERROR_CODE } from './errors';
import { allowStderrLogging, DEFAULT_LOG_LEVEL, Logger, parseLogOptions } from './log';
import { attachmentSchema, netConfBaseSchema, netConfDelSchema, parseOrThrow } from './schemas';
import { LATEST_VERSION, SUPPORTED_VERSIONS, type Attachment, type Command, type Env, type Result } from './types';
import { checkVersion, isSupportedVersion, requireVersionFor, versionInfo } from './version';
import { MAX_JSON_BYTES, readBounded } from './input';
import { readRequest } from './request';

// Defined in types.ts, beside the other CNI shapes, so request.ts needs nothing from here.
export type { Command, Env };

export interface CmdArgs<C> {
  command: Command;
  containerId: string;
  /** Empty for GC and STATUS, and for DEL when the runtime lost the namespace. */
  netns: string;
  ifname: string;
  /** CNI_ARGS; only the plugin's `knownArgs` (plus IgnoreUnknown) when it declares them. */
  args: Record<string, string>;
  /** CNI_PATH split on ":". */
  path: string[];
  /** The plugin's own validated configuration. */
  config: C;
  /** stdin JSON as given. */
  raw: Record<string, unknown>;
  /** The config's prevResult, converted to 1.1.0. */
  prevResult?: Result;
  /** The config's cniVersion (already checked to be one the plugin supports). */
  cniVersion: string;
  /** Lines for the config's logFile (or stderr), already labelled with this call's identity. */
  log: Logger;
}

export type GcArgs<C> = CmdArgs<C> & { validAttachments: Attachment[] };

/**
 * A plugin. `D` is what its DEL reads, when that is less than what ADD reads:
 * DEL must clean up even when a field it does not need is malformed (a
 * runtime sends its runtimeConfig and prevResult to DEL too).
 */
export interface Plugin<C, D = C> {
  /** For the about text printed when the executable runs without CNI_COMMAND. */
  name: string;
  /** Defaults to every version this suite supports. */
  supportedVersions?: string[];
  /** CNI_ARGS keys the plugin understands; when set, other keys fail unless IgnoreUnknown=1. */
  knownArgs?: string[];
  /** Throws CniError 7 naming the field (parseOrThrow from ./schemas does that). */
  parseConfig(raw: Record<string, unknown>): C;
  /** DEL's reading of the config: only the fields DEL uses; parseConfig when absent (then D is C). */
  parseDelConfig?(raw: Record<string, unknown>): D;
  add(a: CmdArgs<C>): Promise<Result>;
  del(a: CmdArgs<D>): Promise<void>;
  check(a: CmdArgs<C>): Promise<void>;
  /** Without it GC succeeds doing nothing, as the reference skel does for a nil GC func. */
  gc?(a: GcArgs<C>): Promise<void>;
  status?(a: CmdArgs<C>): Promise<void>;
}

export interface DispatchOutput {
  /** The result JSON, the error JSON, the VERSION answer, or "" (DEL/CHECK/GC/STATUS success). */
  stdout: string;
  exitCode: number;
  /** Only the about text (no CNI_COMMAND); plugins log elsewhere. */
  stderr?: string;
  /** ADD: the result as checked, before formatting (for a caller in this process). */
  result?: Result;
}

function errorOutput(e: unknown, cniVersion: string): DispatchOutput {
  const err = asCniError(e);
  return { stdout: JSON.stringify(err.toJSON(cniVersion), null, 4), exitCode: 1 };
}

export async function dispatch<C, D = C>(p: Plugin<C, D>, env: Env, stdin: string): Promise<DispatchOutput> {
  const supported = p.supportedVersions ?? [...SUPPORTED_VERSIONS];
  const command = env.CNI_COMMAND ?? '';
  if (command === '') {
    // The reference prints its about text instead of an error when run by hand.
    const about = `CNI plugin ${p.name}\nCNI protocol versions supported: ${supported.join(', ')}\n`;
    return { stdout: '', exitCode: 0, stderr: about };
  }
  let cniVersion: string = LATEST_VERSION;
  const context = { plugin: p.name, command, containerId: env.CNI_CONTAINERID, netns: env.CNI_NETNS, ifname: env.CNI_IFNAME };
  // Until the config is read, failures go to stderr at the default level.
  let log = new Logger({ level: DEFAULT_LOG_LEVEL }, context);
  try {
    const req = readRequest(command, env, stdin);
    if (req.command === 'VERSION') return { stdout: versionInfo(req.requestVersion, supported), exitCode: 0 };
    const raw = req.raw;
    if (isSupportedVersion(raw.cniVersion)) cniVersion = raw.cniVersion;
    const version = requireString(raw, 'cniVersion');
    requireString(raw, 'type');
    checkVersion(version, supported);
    if (req.command === 'CHECK') requireVersionFor('CHECK', version, '0.4.0');
    if (req.command === 'GC' || req.command === 'STATUS') requireVersionFor(req.command, version, '1.1.0');
    parseOrThrow(req.command === 'DEL' ? netConfDelSchema() : netConfBaseSchema(), raw);
    log = new Logger(parseLogOptions(raw), context);
    log.debug(`${req.command} start`, { cniVersion: version });

    const request = { command: req.command, env, raw, cniVersion: version, log };
    if (req.command === 'DEL') {
      await p.del(delArgs(p, request));
    } else {
      const a = commandArgs(p, request);
      switch (req.command) {
        case 'ADD': {
          const result = checkedResult(await p.add(a));
          const stdout = formatResult(result, version);
          log.endStep();
          if (log.enabled('info')) log.info('ADD ok', { took: log.took(), ips: result.ips?.map((ip) => ip.address) });
          if (log.enabled('debug')) log.debug('ADD result', { result: JSON.stringify(JSON.parse(stdout)) });
          return { stdout, exitCode: 0, result };
        }
        case 'CHECK':
          await p.check(a);
          break;
        case 'GC':
          if (p.gc) await p.gc({ ...a, validAttachments: validAttachments(raw) });
          break;
        case 'STATUS':
          if (p.status) await p.status(a);
          break;
      }
    }
    log.endStep();
    log.info(`${req.command} ok`, { took: log.took() });
    return { stdout: '', exitCode: 0 };
  } catch (e) {
    const err = asCniError(e);
    log.error(`${command || 'command'} failed`, { step: log.currentStep, code: err.code, error: err.msg, details: err.details, took: log.took() });
    return errorOutput(err, cniVersion);
  } finally {
    log.finish();
  }
}

/** A result that does not validate is the plugin's bug: report it rather than print a broken result. */
function checkedResult(result: Result): Result {
  try {
    return parseResult({ ...result, cniVersion: LATEST_VERSION });
  } catch (e) {
    throw new CniError(UNKNOWN_ERROR_CODE, `plugin returned an invalid result: ${asCniError(e).msg}`);
  }
}

function requireString(raw: Record<string, unknown>, field: string): string {
  const v = raw[field];
  if (v === undefined || v === '') throw invalidConfig(field, 'is required');
  if (typeof v !== 'string') throw invalidConfig(field, 'must be a string');
  return v;
}

/** libcni also sends the list as "cni.dev/attachments" (the spec's original misspelling). */
function validAttachments(raw: Record<string, unknown>): Attachment[] {
  const list = raw['cni.dev/valid-attachments'] ?? raw['cni.dev/attachments'] ?? [];
  const key = raw['cni.dev/valid-attachments'] !== undefined ? 'cni.dev/valid-attachments' : 'cni.dev/attachments';
  if (!Array.isArray(list)) throw invalidConfig(key, 'must be an array');
  return list.map((a, i) => parseOrThrow(attachmentSchema(), a, `${key}[${i}]`));
}

/**
 * stdin, up to one byte past the size limit (the parse reports it). A
 * terminal or a closed stdin reads as empty (VERSION needs none). A character
 * device stands in for "terminal": node:tty would load node:net, milliseconds
 * of start-up for one check; /dev/null reads empty anyway.
 */
async function readStdin(): Promise<string> {
  try {
    if (fstatSync(0).isCharacterDevice()) return '';
  } catch {
    return '';
  }
  const chunks: Buffer[] = [];
  try {
    return readBounded(0, chunks).toString('utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') return '';
  }
  // A non-blocking pipe: go on with the stream, which costs a little more to set up.
  let total = chunks.reduce((n, c) => n + c.length, 0);
  for await (const chunk of process.stdin) {
    if (total > MAX_JSON_BYTES) break;
    chunks.push(chunk as Buffer);
    total += (chunk as Buffer).length;
  }
  return Buffer.concat(chunks).toString('utf8');
}

function writeAll(fd: number, text: string): void {
  const buf = Buffer.from(text);
  for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off);
}

/**
 * The executable's main: process.env + stdin -> stdout, exit code 0 on
 * success and 1 on error, as the reference skel. stdout carries nothing but
 * the JSON; anything a plugin wants to log goes to stderr.
 */
export function runPlugin<C, D = C>(p: Plugin<C, D>): void {
  allowStderrLogging();
  const run = async () => {
    const stdin = process.env.CNI_COMMAND ? await readStdin() : '';
    const out = await dispatch(p, process.env, stdin);
    if (out.stderr) writeAll(2, out.stderr);
    if (out.stdout) writeAll(1, out.stdout);
    process.exit(out.exitCode);
  };
  run().catch((e: unknown) => {
    // Only reachable if writing the output itself failed.
    process.stderr.write(`${p.name}: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  });
}
