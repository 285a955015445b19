// Moved to lib/lab/exec.ts: the demo uses it too, and product code imports no test code.
export * from '../../../lib/lab/exec';
