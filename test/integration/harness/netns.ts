// Moved to lib/lab/netns.ts: the demo uses it too, and product code imports no test code.
export * from '../../../lib/lab/netns';
