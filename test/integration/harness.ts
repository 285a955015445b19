// Entry point for integration tests (see harness/index.ts). The demo and other
// non-test code import './harness/index' instead, which does not load vitest.
export * from './harness/index';
export { useHarness } from './harness/vitest';
