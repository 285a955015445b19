// host-local's on-disk store, byte for byte, so that our host-local and the
// reference one can share a dataDir: in <dataDir>/<network>/ one file per
// reserved address, named by the address ("10.1.2.3", "fd00::3") and holding
// "<containerID>\r\n<ifname>"; "last_reserved_ip.<rangeSetIndex>" holding the
// last address handed out from that range set; and an empty file "lock" that
// every process holds flock(LOCK_EX) on while it reads or changes the rest.
// File work is synchronous: it happens under the lock in a short-lived process.
import {
  closeSync, constants, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync, writeFileSync, writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { CniError, ErrorCode } from '../cni/errors';
import { native } from '../native/index';
import { formatIp, parseIp, type Ip } from '../ip/address';
import type { IpamStore, Reservation } from './store';

export const DEFAULT_DATA_DIR = '/var/lib/cni/networks';
export const LOCK_FILE = 'lock';
export const LAST_RESERVED_PREFIX = 'last_reserved_ip.';
const LINE_BREAK = '\r\n';

function errnoCode(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

function ioFailure(what: string, e: unknown): CniError {
  return new CniError(ErrorCode.IoFailure, `${what}: ${e instanceof Error ? e.message : String(e)}`);
}

export class DiskStore implements IpamStore {
  private constructor(readonly dir: string, private lockFd: number | undefined) {}

  /**
   * Opens the store of `network` under `dataDir`. With create:false a missing
   * directory yields undefined: DEL, CHECK and GC have nothing to look at and
   * should not leave an empty directory behind.
   */
  static open(dataDir: string, network: string, opts: { create: boolean }): DiskStore | undefined {
    const dir = join(dataDir, network);
    try {
      if (opts.create) mkdirSync(dir, { recursive: true, mode: 0o755 });
      // Same flags and mode as the reference's lock file, so whichever
      // implementation creates it, the other can open it.
      const fd = openSync(join(dir, LOCK_FILE), constants.O_CREAT | constants.O_RDONLY, 0o750);
      return new DiskStore(dir, fd);
    } catch (e) {
      if (!opts.create && errnoCode(e) === 'ENOENT') return undefined;
      throw ioFailure(`cannot open the IPAM store ${dir}`, e);
    }
  }

  async withLock<T>(fn: () => Promise<T>): Promise<T> {
    const fd = this.fd();
    const n = native();
    n.flock(fd, n.LOCK_EX);
    try {
      return await fn();
    } finally {
      n.flock(fd, n.LOCK_UN);
    }
  }

  async reserve(containerId: string, ifname: string, ip: Ip, rangeSetId: string): Promise<boolean> {
    const name = formatIp(ip);
    const path = join(this.dir, name);
    let fd: number;
    try {
      fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    } catch (e) {
      if (errnoCode(e) === 'EEXIST') return false;
      throw ioFailure(`cannot reserve ${name}`, e);
    }
    // A reservation whose write failed in any part is taken back, so the
    // failed ADD leaves no address held.
    const last = join(this.dir, LAST_RESERVED_PREFIX + rangeSetId);
    let failing = `cannot write reservation ${path}`;
    let open = true;
    try {
      writeSync(fd, `${containerId.trim()}${LINE_BREAK}${ifname}`);
      open = false;
      closeSync(fd);
      failing = `cannot write ${last}`;
      writeFileSync(last, name, { mode: 0o600 });
    } catch (e) {
      if (open) closeSync(fd);
      unlinkSync(path);
      throw ioFailure(failing, e);
    }
    return true;
  }

  async lastReserved(rangeSetId: string): Promise<Ip | undefined> {
    try {
      return parseIp(readFileSync(join(this.dir, LAST_RESERVED_PREFIX + rangeSetId), 'utf8').trim());
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return undefined;
      throw ioFailure(`cannot read the last reserved address of range set ${rangeSetId}`, e);
    }
  }

  async list(): Promise<Reservation[]> {
    const out: Reservation[] = [];
    for (const name of readdirSync(this.dir)) {
      if (!parseIp(name)) continue;
      let text: string;
      try {
        text = readFileSync(join(this.dir, name), 'utf8').trim();
      } catch (e) {
        if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'EISDIR') continue;
        throw ioFailure(`cannot read reservation ${name}`, e);
      }
      const br = text.indexOf(LINE_BREAK);
      out.push(br < 0 ? { ip: name, containerId: text } : { ip: name, containerId: text.slice(0, br), ifname: text.slice(br + LINE_BREAK.length) });
    }
    return out;
  }

  async releaseById(containerId: string, ifname: string): Promise<string[]> {
    const id = containerId.trim();
    const all = await this.list();
    let mine = all.filter((r) => r.containerId === id && r.ifname === ifname);
    if (mine.length === 0) mine = all.filter((r) => r.containerId === id && r.ifname === undefined);
    for (const r of mine) await this.release(r.ip);
    return mine.map((r) => r.ip);
  }

  async release(ip: string): Promise<void> {
    // The name becomes a path: only an address may, never "../x" or "lock".
    if (!parseIp(ip)) throw new Error(`not an IP address: ${JSON.stringify(ip)}`);
    try {
      unlinkSync(join(this.dir, ip));
    } catch (e) {
      if (errnoCode(e) !== 'ENOENT') throw ioFailure(`cannot release ${ip}`, e);
    }
  }

  async close(): Promise<void> {
    if (this.lockFd !== undefined) closeSync(this.lockFd);
    this.lockFd = undefined;
  }

  private fd(): number {
    if (this.lockFd === undefined) throw new Error(`IPAM store ${this.dir} is closed`);
    return this.lockFd;
  }
}
