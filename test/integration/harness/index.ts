// The lab (lib/lab, which the demo uses too) and the test-only cluster
// pieces: etcd, its certificates, a multi-node fabric.
export * from '../../../lib/lab/index';
export * from './certs';
export * from './cluster';
export * from './etcd';
