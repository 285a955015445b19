// The lab's cleanup bound to vitest; lib/lab itself never loads vitest.
import { afterAll } from 'vitest';
import { Harness } from '../../../lib/lab/index';

/** One harness per test file, cleaned up after the file's last test, pass or fail. */
export function useHarness(): Harness {
  const h = new Harness();
  afterAll(() => h.cleanup());
  return h;
}
