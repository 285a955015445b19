// Netlink failures that say what was attempted on which object and how the
// kernel refused ("create veth veth1234 (peer eth0): EEXIST").
import { getSystemErrorName } from 'node:util';

export class NetlinkError extends Error {
  /** positive errno from the kernel's NLMSG_ERROR, 0 when not a kernel refusal */
  readonly errno: number;
  /** errno name, e.g. "EEXIST" */
  readonly code: string;
  readonly operation: string;

  constructor(operation: string, errno: number, detail?: string) {
    const code = errno ? errnoName(errno) : 'EIO';
    super(`${operation}: ${detail ?? code}`);
    this.name = 'NetlinkError';
    this.errno = errno;
    this.code = code;
    this.operation = operation;
  }
}

export function errnoName(errno: number): string {
  // libuv calls 95 ENOTSUP; the kernel (and iproute2's messages) EOPNOTSUPP.
  if (Math.abs(errno) === 95) return 'EOPNOTSUPP';
  try {
    return getSystemErrorName(-Math.abs(errno));
  } catch {
    return `errno ${errno}`;
  }
}

export const isNetlinkErrno = (e: unknown, ...codes: string[]): e is NetlinkError =>
  e instanceof NetlinkError && codes.includes(e.code);

/** "Object is gone" answers: ENODEV for links, ESRCH for routes, ENOENT for neighbors, EADDRNOTAVAIL for addresses. */
export const isNotFound = (e: unknown): boolean => isNetlinkErrno(e, 'ENODEV', 'ENOENT', 'ESRCH', 'EADDRNOTAVAIL');

export const isExists = (e: unknown): boolean => isNetlinkErrno(e, 'EEXIST');
