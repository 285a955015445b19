// Entry point for integration tests: the lab (lib/lab, which the demo uses
// too), with its cluster pieces, and vitest's per-file cleanup.
export * from './harness/index';
export { useHarness } from './harness/vitest';
