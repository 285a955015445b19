// lib/netns: enter network namespaces on the main thread (see netns.ts for why
// everything in here is synchronous).
export { NetnsError, isNetnsGone, isNetnsMissing } from './errors';
export type { NetnsErrorReason } from './errors';
export { openNetns, currentNetnsPath, netnsInode, withNetns } from './netns';
export type { NetnsHandle } from './netns';
export { readSysctl, writeSysctl, validateSysctlKey } from './sysctl';
