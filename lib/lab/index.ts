// lib/lab: virtual nodes, pods and hosts in network namespaces, for
// `tscni demo` and for the integration tests (test/integration/harness
// re-exports it and adds vitest's per-file cleanup). Every namespace,
// process and temp dir a run makes carries one per-run prefix, so cleanup()
// can find and remove all of it, also after a failure, and never anything
// that belongs to another run.
export * from './agent';
export * from './certs';
export * from './cluster';
export * from './etcd';
export * from './exec';
export * from './netns';
export * from './overlay';
export * from './plugin';
export * from './poll';
export * from './routed';
export * from './traffic';
export * from './harness';
