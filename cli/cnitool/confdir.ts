// Finding a network's configuration in a directory the way libcni's
// LoadConfList does (and so cnitool, containerd, CRI-O and podman):
//  1. every *.conflist file, in sorted order (byte order of the path); the
//     first whose "name" matches wins; a file that does not parse stops the
//     search with its error;
//  2. failing that, every *.conf and *.json file, sorted together; the first
//     single-plugin config with that name is wrapped as a one-plugin list.
// Subdirectories are skipped; the extension is what follows the last dot,
// also for a file named just ".conf".
//
// The bytes matter as much as the content: libcni caches them, base64, as
// the "config" of every attachment, so they are kept exactly as read (for a
// wrapped .conf, exactly as Go re-encodes it).

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfList } from '../../lib/cni/conflist';
import { CniError, ErrorCode } from '../../lib/cni/errors';
import { parseBoundedJson, readFileBounded } from '../../lib/cni/input';
import type { ConfList } from '../../lib/cni/types';
import { goMarshal } from './gojson';

export interface LoadedConfList {
  list: ConfList;
  /** what libcni keeps as the list's Bytes */
  bytes: Buffer;
  /** the file it came from */
  file: string;
}

const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

function extension(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot < 0 ? '' : name.slice(dot);
}

/** libcni's ConfFiles, sorted: files of `dir` with one of `extensions`; none when `dir` is missing. */
export function confFiles(dir: string, extensions: readonly string[]): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new CniError(ErrorCode.IoFailure, `reading ${dir}: ${(e as Error).message}`);
  }
  return entries
    .filter((e) => !e.isDirectory() && extensions.includes(extension(e.name)))
    .map((e) => join(dir, e.name))
    .sort(byteOrder);
}

function readConf(file: string): Buffer {
  try {
    return readFileBounded(file);
  } catch (e) {
    throw new CniError(ErrorCode.IoFailure, `error reading ${file}: ${(e as Error).message}`);
  }
}

function parseError(prefix: string, detail: string): CniError {
  return new CniError(ErrorCode.DecodeFailure, `${prefix}: ${detail}`);
}

function jsonObject(bytes: Buffer, prefix: string): Record<string, unknown> {
  const raw = parseBoundedJson(bytes.toString('utf8'), prefix);
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw parseError(prefix, 'not a JSON object');
  return raw as Record<string, unknown>;
}

/** The checks libcni's ConfListFromBytes makes before it looks at the name. */
function conflistName(raw: Record<string, unknown>): string {
  const prefix = 'error parsing configuration list';
  if (!('name' in raw)) throw parseError(prefix, 'no name');
  if (typeof raw.name !== 'string') throw parseError(prefix, 'invalid name type');
  if (raw.cniVersion !== undefined && typeof raw.cniVersion !== 'string') throw parseError(prefix, 'invalid cniVersion type');
  if (raw.disableCheck !== undefined && typeof raw.disableCheck !== 'boolean') throw parseError(prefix, 'invalid disableCheck type');
  if (!('plugins' in raw)) throw parseError(prefix, "no 'plugins' key");
  if (!Array.isArray(raw.plugins)) throw parseError(prefix, "invalid 'plugins' type");
  if (raw.plugins.length === 0) throw parseError(prefix, 'no plugins in list');
  raw.plugins.forEach((p, i) => {
    if (!p || typeof p !== 'object' || typeof (p as Record<string, unknown>).type !== 'string' || (p as Record<string, unknown>).type === '') {
      throw parseError(`failed to parse plugin config ${i}`, "error parsing configuration: missing 'type'");
    }
  });
  return raw.name;
}

/** libcni's LoadConfList: the network `name` from `dir`. */
export function loadConfList(dir: string, name: string): LoadedConfList {
  const lists = confFiles(dir, ['.conflist']);
  for (const file of lists) {
    const bytes = readConf(file);
    const raw = jsonObject(bytes, 'error parsing configuration list');
    if (conflistName(raw) === name) return { list: parseConfList(raw), bytes, file };
  }

  const singles = confFiles(dir, ['.conf', '.json']);
  if (singles.length === 0) {
    throw new CniError(ErrorCode.InvalidNetworkConfig, lists.length
      ? `no net configuration with name "${name}" in ${dir}`
      : `no net configurations found in ${dir}`);
  }
  for (const file of singles) {
    const raw = jsonObject(readConf(file), 'error parsing configuration');
    if (typeof raw.type !== 'string' || raw.type === '') throw parseError('error parsing configuration', "missing 'type'");
    if (raw.name !== name) continue;
    // ConfListFromConf: a map re-encoded by Go, so keys sorted, compact.
    const wrapped = { name: raw.name, cniVersion: raw.cniVersion ?? '', plugins: [raw] };
    return { list: parseConfList(wrapped), bytes: Buffer.from(goMarshal(wrapped)), file };
  }
  throw new CniError(ErrorCode.InvalidNetworkConfig, `no net configuration with name "${name}" in ${dir}`);
}
