// Routed mode's object names (nodes, pools, BGP peers): they become etcd
// keys, parts of BIRD's configuration and file names, so they are
// DNS-label-like, as Kubernetes object names are. One rule for all of them,
// for what the CLI and the agent write and for what they read back.
const NAME_RE = /^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$/;

export const NAME_RULE = 'must be lower-case letters, digits, "-" and ".", starting and ending with a letter or digit, at most 63 characters';

export const isObjectName = (name: string): boolean => NAME_RE.test(name);
