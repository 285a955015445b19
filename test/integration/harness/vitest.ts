// Kept apart from index.ts so the demo can use the harness without vitest.
import { afterAll } from 'vitest';
import { Harness } from './index';

/** One harness per test file, cleaned up after the file's last test, pass or fail. */
export function useHarness(): Harness {
  const h = new Harness();
  afterAll(() => h.cleanup());
  return h;
}
