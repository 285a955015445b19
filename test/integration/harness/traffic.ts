// Moved to lib/lab/traffic.ts: the demo uses it too, and product code imports no test code.
export * from '../../../lib/lab/traffic';
