// `tscni version`: which plugins a runtime would find in CNI_PATH, and which
// spec versions each one speaks, asked the way libcni asks (CNI_COMMAND=VERSION).
// As in libcni's FindInPath, the first directory that has a name wins.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pluginVersionInfo } from '../lib/cni/delegate';
import { asCniError } from '../lib/cni/errors';
import type { Env } from '../lib/cni/skel';
import { SUPPORTED_VERSIONS } from '../lib/cni/types';
import { DEFAULT_CNI_PATH } from './cnitool/commands';
import pkg from '../package.json';

export interface InstalledPlugin {
  name: string;
  path: string;
  /** the VERSION answer, or why there is none */
  supportedVersions?: string[];
  error?: string;
}

/** Our own programs that may sit beside the plugins (in dist/bin), but answer no CNI command. */
const NOT_PLUGINS = ['tscni', 'tscni-agent'];

function executablesIn(dir: string): string[] {
  try {
    return readdirSync(dir).filter((name) => {
      try {
        const st = statSync(join(dir, name));
        return st.isFile() && (st.mode & 0o111) !== 0;
      } catch {
        return false;
      }
    });
  } catch {
    return [];
  }
}

export async function installedPlugins(cniPath: readonly string[], env: Env): Promise<InstalledPlugin[]> {
  const found = new Map<string, string>();
  for (const dir of cniPath) {
    for (const name of executablesIn(dir)) if (!found.has(name) && !NOT_PLUGINS.includes(name)) found.set(name, join(dir, name));
  }
  const names = [...found.keys()].sort();
  return Promise.all(names.map(async (name): Promise<InstalledPlugin> => {
    const path = found.get(name)!;
    try {
      const info = await pluginVersionInfo(name, { ...env, CNI_PATH: cniPath.join(':') });
      return { name, path, supportedVersions: info.supportedVersions };
    } catch (e) {
      const firstLine = asCniError(e).msg.split(/\\n|\n/)[0]!;
      return { name, path, error: firstLine.length > 100 ? `${firstLine.slice(0, 100)}…` : firstLine };
    }
  }));
}

export async function versionReport(env: Env): Promise<string> {
  const cniPath = (env.CNI_PATH || DEFAULT_CNI_PATH).split(':').filter(Boolean);
  const plugins = await installedPlugins(cniPath, env);
  const lines = [
    `tscni ${pkg.version} (CNI spec ${SUPPORTED_VERSIONS.join(', ')})`,
    `plugins in CNI_PATH ${cniPath.join(':')}:`,
  ];
  if (plugins.length === 0) lines.push('  none');
  const width = Math.max(0, ...plugins.map((p) => p.name.length));
  for (const p of plugins) {
    const what = p.supportedVersions ? p.supportedVersions.join(', ') : `no VERSION answer: ${p.error}`;
    lines.push(`  ${p.name.padEnd(width)}  ${what}  (${p.path})`);
  }
  return lines.join('\n') + '\n';
}
