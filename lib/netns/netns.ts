// Network namespaces for the main thread: open and validate a namespace file
// (CNI_NETNS), and run synchronous code inside it with setns(2).
//
// setns(2) changes the namespace of the calling thread only. Everything that
// must belong to the target namespace — netlink sockets, /proc/sys/net files,
// child processes — has to be created synchronously on the main thread while
// it is inside. libuv's thread pool and any later tick run in the original
// namespace, which is why withNetns refuses async functions.
import { closeSync, fstatSync, openSync, readlinkSync, statfsSync } from 'node:fs';
import { getSystemErrorName } from 'node:util';
import { native } from '../native/index';
import { NetnsError } from './errors';

/** f_type of the nsfs pseudo file system (linux/magic.h). */
const NSFS_MAGIC = 0x6e736673;
const EINVAL = 22;

/** An open network namespace file; the fd can be handed to IFLA_NET_NS_FD. */
export interface NetnsHandle {
  readonly path: string;
  readonly fd: number;
  /** nsfs inode: equal inodes mean the same namespace. */
  readonly inode: number;
  close(): void;
}

/** Opens `path` and proves it is a network namespace, or throws NetnsError. */
export function openNetns(path: string): NetnsHandle {
  if (typeof path !== 'string' || path === '' || path.includes('\0')) {
    throw new NetnsError('not-netns', String(path), 'empty path or NUL byte');
  }
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new NetnsError(err.code === 'ENOENT' || err.code === 'ENOTDIR' ? 'missing' : 'unreadable', path, err.message, err.code);
  }
  try {
    // A bind-mount target whose mount is gone is an ordinary empty file; the
    // file-system magic tells it from a namespace. Which kind of namespace
    // shows only for /proc paths ("uts:[4026531838]"; a bind mount's fd
    // reads as its mount point), so setns(CLONE_NEWNET) makes the final call.
    const fsType = statfsSync(path).type;
    if (fsType !== NSFS_MAGIC) {
      throw fstatSync(fd).isFile() ? new NetnsError('unmounted', path, 'a regular file, not on nsfs') : new NetnsError('not-netns', path, 'not on nsfs');
    }
    const kind = /^(\w+):\[\d+\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`))?.[1];
    if (kind !== undefined && kind !== 'net') throw new NetnsError('not-netns', path, `it is a ${kind} namespace`);
    const inode = fstatSync(fd).ino;
    let open = true;
    return {
      path,
      fd,
      inode,
      close() {
        if (open) closeSync(fd);
        open = false;
      },
    };
  } catch (e) {
    closeSync(fd);
    if (e instanceof NetnsError) throw e;
    throw new NetnsError('unreadable', path, (e as Error).message);
  }
}

/** Path of the calling thread's current network namespace. */
export function currentNetnsPath(): string {
  // /proc/thread-self -> "<pid>/task/<tid>": the thread's own view, which is
  // what setns changed (/proc/self/ns/net shows the thread-group leader's).
  return `/proc/${readlinkSync('/proc/thread-self')}/ns/net`;
}

/** nsfs inode of the namespace at `path` (follows /proc magic links). */
export function netnsInode(path: string): number {
  const fd = openSync(path, 'r');
  try {
    return fstatSync(fd).ino;
  } finally {
    closeSync(fd);
  }
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return (typeof v === 'object' || typeof v === 'function') && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

/**
 * Runs `fn` on the main thread inside the network namespace `target`, then
 * returns to the namespace the thread was in (also when fn throws). Nested
 * calls work: each call restores what it found. `fn` must be synchronous.
 */
export function withNetns<T>(target: string | NetnsHandle, fn: () => T): T {
  const ns = typeof target === 'string' ? openNetns(target) : target;
  try {
    const { setns, CLONE_NEWNET } = native();
    const original = openSync('/proc/thread-self/ns/net', 'r');
    let result: T;
    try {
      try {
        setns(ns.fd, CLONE_NEWNET);
      } catch (e) {
        const errno = (e as { errno?: number }).errno;
        throw new NetnsError(errno === EINVAL ? 'not-netns' : 'unreadable', ns.path, (e as Error).message, errno === undefined ? undefined : getSystemErrorName(-errno));
      }
      try {
        result = fn();
      } finally {
        // Failing to return would leave every later socket in the wrong
        // namespace; nothing sensible can continue after that.
        try {
          setns(original, CLONE_NEWNET);
        } catch (e) {
          process.stderr.write(`tscni: cannot return to the original netns: ${(e as Error).message}\n`);
          process.abort();
        }
      }
    } finally {
      closeSync(original);
    }
    if (isThenable(result)) {
      // The rest of an async fn would run outside the namespace.
      Promise.resolve(result).catch(() => undefined);
      throw new TypeError('withNetns: fn returned a promise; it must be synchronous (never await inside withNetns)');
    }
    return result;
  } finally {
    if (ns !== target) ns.close();
  }
}
