// Moved to lib/lab/plugin.ts: the demo uses it too, and product code imports no test code.
export * from '../../../lib/lab/plugin';
