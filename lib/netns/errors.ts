// A namespace file that cannot be used, in lib/netns's own terms: which
// path, why, and the errno when the kernel gave one. What that means to a
// caller is the caller's: a CNI plugin maps it to an error code
// (lib/cni/errors), and DEL counts a namespace that is gone as done.
// No imports, so the CNI error mapping can know this class cheaply.

/**
 * missing: no file at the path; unmounted: a plain file (a runtime unmounted
 * the namespace and left its bind-mount target behind); not-netns: some other
 * file or namespace; unreadable: it exists and cannot be opened or entered.
 */
export type NetnsErrorReason = 'missing' | 'unmounted' | 'not-netns' | 'unreadable';

const WHAT: Record<NetnsErrorReason, string> = {
  missing: 'does not exist',
  unmounted: 'is a plain file, not a network namespace (its namespace was unmounted)',
  'not-netns': 'is not a network namespace',
  unreadable: 'cannot be opened or entered',
};

export class NetnsError extends Error {
  readonly reason: NetnsErrorReason;
  readonly path: string;
  /** what the system said, or which check failed */
  readonly detail?: string;
  /** errno name ("ENOENT", "EINVAL") when a system call failed */
  readonly errno?: string;

  constructor(reason: NetnsErrorReason, path: string, detail?: string, errno?: string) {
    super(`netns ${JSON.stringify(path)} ${WHAT[reason]}${detail ? `: ${detail}` : ''}`);
    this.name = 'NetnsError';
    this.reason = reason;
    this.path = path;
    if (detail) this.detail = detail;
    if (errno) this.errno = errno;
  }
}

export function isNetnsMissing(e: unknown): boolean {
  return e instanceof NetnsError && e.reason === 'missing';
}

/** DEL's test: the namespace no longer exists, whether its file went too or stayed behind unmounted. */
export function isNetnsGone(e: unknown): boolean {
  return e instanceof NetnsError && (e.reason === 'missing' || e.reason === 'unmounted');
}
