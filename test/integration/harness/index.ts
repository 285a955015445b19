// The lab (lib/lab, which the demo uses too): namespaces, traffic, plugin
// runs, and the cluster pieces (fabric, router, etcd, certificates).
export * from '../../../lib/lab/index';
